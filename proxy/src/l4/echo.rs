//! The backends of TLS, TCP and UDP connections: what each pod runs, as the simulator reads it
//! from its containers (`gwsim_sim::connect::server_of`), on real sockets.
//!
//! - upstream's echo in TCP mode (`TCP_ECHO_SERVER`): a welcome line, then answers to `PING`,
//!   `IS_TLS` and `TEST` (the pod's report as JSON), one per line; on the pod's TLS port
//!   (`TLS_SERVER_CERT`) after completing the handshake with the pod's certificate;
//! - upstream's echo in UDP mode (`UDP_ECHO_SERVER`): a JSON report of the pod per datagram;
//! - a CoreDNS image: a DNS server that answers every A query with the pod's address
//!   ([`super::dns`]), and drops what is not a query;
//! - anything else runs the HTTP echo ([`crate::backends`]): TCP connections go to it (it
//!   never greets a TCP client), and nothing listens for UDP.
//!
//! A Service without any EndpointSlice (plain configuration files, `gwsim serve`) gets a
//! stand-in pod running both the TCP and the UDP echo, as the HTTP side gets a stand-in echo.
//! Only Service ports a route of a TLS, TCP or UDP listener sends to get servers: a large
//! HTTP-only configuration opens no socket more.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use gwsim_engine::RoutingTable;
use gwsim_engine::config::{BackendTarget, Protocol};
use gwsim_engine::decision::ServiceRef;
use gwsim_engine::object::{Kind, Object, ObjectKey, Snapshot};
use gwsim_sim::connect::{Server, server_of};
use gwsim_sim::echo::EchoPod;
use gwsim_sim::network::Network;
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::ProxyError;
use crate::backends::{Endpoint, View as HttpView};

/// The TCP echo's first line (upstream's `tcpserver.WelcomeMessage`).
pub(crate) const WELCOME: &str = "Gateway API Test TCP Server\n";
/// The longest line the TCP echo reads.
const MAX_LINE: u64 = 4096;
/// How long the TCP echo waits for a TLS client's handshake.
const HANDSHAKE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One endpoint of a Service port, as connections see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct L4Endpoint {
    /// `namespace/name` of the pod, for the log.
    pub pod: String,
    /// Where a TCP (or TLS) connection goes; `None`: nothing listens.
    pub tcp: Option<SocketAddr>,
    /// Where a datagram goes; `None`: nothing listens.
    pub udp: Option<SocketAddr>,
}

/// Endpoints by Service port.
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    endpoints: Arc<HashMap<(String, String, u16), Vec<L4Endpoint>>>,
}

impl View {
    pub(crate) fn endpoints(&self, namespace: &str, name: &str, port: u16) -> &[L4Endpoint] {
        self.endpoints
            .get(&(namespace.to_string(), name.to_string(), port))
            .map_or(&[], Vec::as_slice)
    }
}

/// A running server; stopped when dropped.
struct Running {
    tcp: Option<SocketAddr>,
    udp: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Identity of a server: Service, pod namespace and name, the port it listens on, and what
/// it runs.
type ServerKey = (String, String, String, u16, Server);

/// The connection backends, rebuilt on each state.
pub(crate) struct L4Backends {
    servers: HashMap<ServerKey, Running>,
    view: View,
    exact: bool,
}

/// What a server reports of its pod.
#[derive(Clone, Debug)]
struct PodContext {
    namespace: String,
    pod: String,
    service: String,
    ip: String,
    tcp_port: String,
    tls_port: String,
}

impl L4Backends {
    pub(crate) fn new(exact: bool) -> L4Backends {
        L4Backends {
            servers: HashMap::new(),
            view: View::default(),
            exact,
        }
    }

    pub(crate) fn view(&self) -> View {
        self.view.clone()
    }

    /// Re-reads Services and pods; starts the servers that are new, stops those that are gone.
    /// Only Service ports a TLS, TCP or UDP listener's route sends to in `table` get them.
    /// `http` gives the HTTP echo of pods that run it.
    pub(crate) async fn rebuild(
        &mut self,
        snapshot: &Snapshot,
        table: &RoutingTable,
        http: &HttpView,
    ) -> Result<(), ProxyError> {
        let routed = connection_backends(table);
        let mut network = Network::new();
        network.rebuild(snapshot);
        let with_slices = crate::backends::services_with_slices(snapshot);
        let mut old = std::mem::take(&mut self.servers);
        let mut endpoints: HashMap<(String, String, u16), Vec<L4Endpoint>> = HashMap::new();
        for (service, list) in network.service_endpoints() {
            let key = (
                service.namespace.clone(),
                service.name.clone(),
                service.port,
            );
            if !routed.contains(&key) {
                continue;
            }
            let stand_in = list.is_empty()
                && !self.exact
                && !with_slices.contains(&(key.0.clone(), key.1.clone()));
            let mut out = Vec::new();
            if stand_in {
                let pod = EchoPod::new(&key.0, &format!("{}-echo", key.1), "127.0.0.1");
                let tcp = self
                    .server(
                        &mut old,
                        &service,
                        &pod,
                        service.port,
                        Server::TcpEcho,
                        snapshot,
                    )
                    .await?;
                let udp = self
                    .server(
                        &mut old,
                        &service,
                        &pod,
                        service.port,
                        Server::UdpEcho,
                        snapshot,
                    )
                    .await?;
                out.push(L4Endpoint {
                    pod: format!("{}/{}", pod.namespace, pod.name),
                    tcp,
                    udp,
                });
            }
            let http_endpoints = http.endpoints(&service);
            for (i, (pod, port)) in list.into_iter().enumerate() {
                let Some(pod) = pod else {
                    out.push(L4Endpoint {
                        pod: "(no pod)".into(),
                        tcp: None,
                        udp: None,
                    });
                    continue;
                };
                let kind = server_of(snapshot, &pod.namespace, &pod.name);
                let (tcp, udp) = match kind {
                    Server::TcpEcho => (
                        self.server(&mut old, &service, pod, port, kind, snapshot)
                            .await?,
                        None,
                    ),
                    Server::UdpEcho | Server::Dns => (
                        None,
                        self.server(&mut old, &service, pod, port, kind, snapshot)
                            .await?,
                    ),
                    Server::RequestEcho => match http_endpoints.get(i) {
                        Some(Endpoint::Addr(addr)) => (Some(*addr), None),
                        _ => (None, None),
                    },
                };
                out.push(L4Endpoint {
                    pod: format!("{}/{}", pod.namespace, pod.name),
                    tcp,
                    udp,
                });
            }
            endpoints.insert(key, out);
        }
        // What is left in `old` is no longer wanted: dropped, it stops.
        drop(old);
        self.view = View {
            endpoints: Arc::new(endpoints),
        };
        Ok(())
    }

    /// The server of `pod` on `port` running `kind`: kept from before, or started; its TCP or
    /// UDP address.
    async fn server(
        &mut self,
        old: &mut HashMap<ServerKey, Running>,
        service: &ServiceRef,
        pod: &EchoPod,
        port: u16,
        kind: Server,
        snapshot: &Snapshot,
    ) -> Result<Option<SocketAddr>, ProxyError> {
        let key = (
            service.name.clone(),
            pod.namespace.clone(),
            pod.name.clone(),
            port,
            kind,
        );
        if let Some(running) = old.remove(&key) {
            self.servers.insert(key.clone(), running);
        }
        if !self.servers.contains_key(&key) {
            let context = PodContext {
                namespace: pod.namespace.clone(),
                pod: pod.name.clone(),
                service: pod_env(snapshot, &pod.namespace, &pod.name, "SERVICE_NAME")
                    .unwrap_or_else(|| service.name.clone()),
                ip: pod.ip.clone(),
                tcp_port: pod_env(snapshot, &pod.namespace, &pod.name, "TCP_PORT")
                    .unwrap_or_else(|| "3000".into()),
                tls_port: pod.tls.as_ref().map_or_else(
                    || {
                        pod_env(snapshot, &pod.namespace, &pod.name, "TLS_PORT")
                            .unwrap_or_else(|| "8443".into())
                    },
                    |t| t.port.to_string(),
                ),
            };
            let tls = pod.tls.as_ref().filter(|t| t.port == port).map(|t| {
                crate::backend_tls::echo_server_config(t, false).map(|c| {
                    let mut c = (*c).clone();
                    c.alpn_protocols.clear();
                    Arc::new(c)
                })
            });
            let running = start(kind, context, tls)
                .await
                .map_err(|source| ProxyError::Echo {
                    service: format!("{}/{}", service.namespace, service.name),
                    pod: pod.name.clone(),
                    source,
                })?;
            self.servers.insert(key.clone(), running);
        }
        let running = &self.servers[&key];
        Ok(running.tcp.or(running.udp))
    }
}

/// The Service ports (namespace, name, port) the routes of TLS, TCP and UDP listeners send to.
fn connection_backends(table: &RoutingTable) -> HashSet<(String, String, u16)> {
    let listeners = table.gateways().iter().flat_map(|g| &g.listeners);
    listeners
        .filter(|l| matches!(l.protocol, Protocol::Tls | Protocol::Tcp | Protocol::Udp))
        .flat_map(|l| &l.routes)
        .flat_map(|a| &a.route.rules)
        .flat_map(|r| &r.backends)
        .filter_map(|b| match &b.target {
            BackendTarget::Service {
                namespace,
                name,
                port,
                ..
            } => Some((namespace.clone(), name.clone(), *port)),
            BackendTarget::Invalid { .. } => None,
        })
        .collect()
}

/// An environment variable of a pod's containers.
fn pod_env(snapshot: &Snapshot, namespace: &str, name: &str, var: &str) -> Option<String> {
    let Some(Object::Pod(pod)) = snapshot.get(&ObjectKey::new(Kind::Pod, namespace, name)) else {
        return None;
    };
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == var)
        .and_then(|e| e.value.clone())
}

/// Starts a server on an ephemeral port of 127.0.0.1. `tls`: on the pod's TLS port, its
/// configuration (`None` inside: a certificate that cannot be used, every handshake fails).
async fn start(
    kind: Server,
    context: PodContext,
    tls: Option<Option<Arc<ServerConfig>>>,
) -> std::io::Result<Running> {
    let context = Arc::new(context);
    match kind {
        Server::TcpEcho | Server::RequestEcho => {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let addr = listener.local_addr()?;
            let task = tokio::spawn(tcp_echo(listener, context, tls));
            Ok(Running {
                tcp: Some(addr),
                udp: None,
                tasks: vec![task],
            })
        }
        Server::UdpEcho | Server::Dns => {
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let addr = socket.local_addr()?;
            let task = tokio::spawn(datagram_server(socket, context, kind == Server::Dns));
            Ok(Running {
                tcp: None,
                udp: Some(addr),
                tasks: vec![task],
            })
        }
    }
}

async fn tcp_echo(
    listener: TcpListener,
    context: Arc<PodContext>,
    tls: Option<Option<Arc<ServerConfig>>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let context = context.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => tcp_session(stream, &context, None).await,
                // A certificate that cannot be used: no handshake completes.
                Some(None) => {}
                Some(Some(config)) => {
                    let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
                    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_LIMIT, accept).await else {
                        return;
                    };
                    let session = tls_report(stream.get_ref().1);
                    tcp_session(stream, &context, Some(session)).await;
                }
            }
        });
    }
}

/// What the TCP echo reports of a TLS session (upstream's `tls` object).
fn tls_report(connection: &rustls::ServerConnection) -> serde_json::Value {
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "",
    };
    let suite = connection
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .map(|s| s.replacen("TLS13_", "TLS_", 1))
        .unwrap_or_default();
    let mut report = serde_json::json!({
        "version": version,
        "serverName": connection.server_name().unwrap_or_default(),
    });
    if let Some(alpn) = connection.alpn_protocol() {
        report["negotiatedProtocol"] = String::from_utf8_lossy(alpn).into_owned().into();
    }
    if let Some(group) = connection.negotiated_key_exchange_group() {
        report["curves"] = format!("{:?}", group.name()).into();
    }
    report["cipherSuite"] = suite.into();
    report
}

/// The TCP echo's report (upstream's `TCPAssertions`), fields in its order.
fn tcp_report(context: &PodContext, tls: Option<serde_json::Value>) -> String {
    let mut report = serde_json::json!({
        "namespace": context.namespace,
        "ingress": "",
        "service": context.service,
        "pod": context.pod,
        "tcpport": context.tcp_port,
        "tlsport": context.tls_port,
        "isTLS": tls.is_some(),
    });
    if let Some(tls) = tls {
        report["tls"] = tls;
    }
    report.to_string()
}

/// The welcome line, then an answer per known command line, until the client closes.
async fn tcp_session<S>(stream: S, context: &PodContext, tls: Option<serde_json::Value>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let is_tls = tls.is_some();
    let report = tcp_report(context, tls);
    let (read, mut write) = tokio::io::split(stream);
    if write.write_all(WELCOME.as_bytes()).await.is_err() {
        return;
    }
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let mut limited = (&mut lines).take(MAX_LINE);
        match limited.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let answer = match line.trim_end_matches(['\n', '\r']) {
            "TEST" => format!("{report}\n"),
            "IS_TLS" => format!("{is_tls}\n"),
            "PING" => "PONG\n".to_string(),
            _ => continue,
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The UDP echo (a JSON report per datagram) or the DNS server (an answer per query).
async fn datagram_server(socket: UdpSocket, context: Arc<PodContext>, dns: bool) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let reply = if dns {
            let address = context.ip.parse::<Ipv4Addr>().ok();
            super::dns::answer(&buf[..n], address)
        } else {
            Some(udp_report(&context, &buf[..n]).into_bytes())
        };
        if let Some(reply) = reply {
            let _ = socket.send_to(&reply, client).await;
        }
    }
}

/// The UDP echo's report (upstream's `EchoResponse`), fields in its order.
fn udp_report(context: &PodContext, request: &[u8]) -> String {
    serde_json::json!({
        "request": String::from_utf8_lossy(request),
        "namespace": context.namespace,
        "ingress": "",
        "service": context.service,
        "pod": context.pod,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> PodContext {
        PodContext {
            namespace: "infra".into(),
            pod: "tcp-backend-0".into(),
            service: "tcp-backend".into(),
            ip: "10.0.0.7".into(),
            tcp_port: "3000".into(),
            tls_port: "8443".into(),
        }
    }

    #[test]
    fn reports_keep_upstreams_field_order() {
        let tcp = tcp_report(&context(), None);
        assert_eq!(
            tcp,
            r#"{"namespace":"infra","ingress":"","service":"tcp-backend","pod":"tcp-backend-0","tcpport":"3000","tlsport":"8443","isTLS":false}"#
        );
        let udp = udp_report(&context(), b"probe");
        assert_eq!(
            udp,
            r#"{"request":"probe","namespace":"infra","ingress":"","service":"tcp-backend","pod":"tcp-backend-0"}"#
        );
    }
}
