//! The wire client of `connect` steps: what upstream's TCP, TLS and UDP clients do, on real
//! sockets, giving the `ConnectionResult` the simulator gives (sim/src/connect.rs).
//!
//! TLS and TCP: connect, complete the handshake (TLS: with the SNI; the certificate shown is
//! checked after the handshake as the simulator checks it, against the `trust` CA at the
//! virtual clock), read the TCP echo's welcome line, ask `IS_TLS` and `TEST`. UDP: one probe
//! datagram (upstream's), or a DNS query of type A; the reply names the pod (the UDP echo's
//! report, or the address in the DNS answer). Anything that does not come, within its limit,
//! is a reset: the client sees nothing more of it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gwsim_engine::connection::ConnectionProtocol;
use gwsim_engine::x509::CertificateChain;
use gwsim_sim::cluster::PresentedCertificate;
use gwsim_sim::connect::{ConnectSpec, ConnectionEcho, ConnectionResult};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};

use super::echo::WELCOME;

/// How long the client waits for the connection, the handshake, and each line.
const STEP_LIMIT: Duration = Duration::from_secs(5);
/// How long the client waits for the welcome line once connected: a backend that never
/// greets (the HTTP echo, a TLS port spoken to in plain text) is given up on after it.
const WELCOME_LIMIT: Duration = Duration::from_secs(2);
/// How long the client waits for a datagram's reply.
const REPLY_LIMIT: Duration = Duration::from_secs(2);
/// upstream's UDP echo probe.
pub(crate) const UDP_PROBE: &str = "gateway-api-conformance-udp-echo";

/// What the client checks and looks up, given by whoever knows the cluster.
pub(crate) struct ClientChecks<'a> {
    /// The client's checks of the certificate it is shown (`trust`), if any.
    pub check_server: &'a dyn Fn(&CertificateChain) -> Result<(), String>,
    /// The pod (namespace, name) with an address, for a DNS answer.
    pub pod_at: &'a dyn Fn(Ipv4Addr) -> Option<(String, String)>,
}

/// One connection (or datagram) to the Gateway socket `addr` (`None`: nothing is bound
/// there), as `spec` describes it.
pub(crate) async fn connect(
    addr: Option<SocketAddr>,
    spec: &ConnectSpec,
    checks: &ClientChecks<'_>,
) -> ConnectionResult {
    let port = spec.connection.port;
    let Some(addr) = addr else {
        return ConnectionResult::Reset(match spec.connection.protocol {
            ConnectionProtocol::Udp => {
                format!("the datagram got no reply: nothing listens for UDP on port {port}")
            }
            _ => format!("connection refused: nothing listens on port {port}"),
        });
    };
    let outcome = match spec.connection.protocol {
        ConnectionProtocol::Udp => datagram(addr, spec, checks).await,
        protocol => stream(addr, protocol, spec, checks).await,
    };
    match outcome {
        Ok(echo) => ConnectionResult::Echoed(echo),
        Err(why) => ConnectionResult::Reset(why),
    }
}

async fn stream(
    addr: SocketAddr,
    protocol: ConnectionProtocol,
    spec: &ConnectSpec,
    checks: &ClientChecks<'_>,
) -> Result<ConnectionEcho, String> {
    let tcp = within(STEP_LIMIT, "the connection", TcpStream::connect(addr))
        .await?
        .map_err(|e| format!("connection failed: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if protocol != ConnectionProtocol::Tls {
        return session(tcp, None).await;
    }
    let config = Arc::new(client_config()?);
    let name = match &spec.connection.sni {
        Some(sni) => rustls::pki_types::ServerName::try_from(sni.clone())
            .map_err(|e| format!("SNI {sni}: {e}"))?,
        // An address as the name: rustls sends no SNI for it.
        None => rustls::pki_types::ServerName::IpAddress(addr.ip().into()),
    };
    let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
    let tls = within(STEP_LIMIT, "the TLS handshake", handshake)
        .await?
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let shown = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| {
            let (leaf, rest) = chain.split_first()?;
            crate::tls::presented_chain(leaf, rest).ok()
        })
        .ok_or("the server showed no certificate that can be read")?;
    (checks.check_server)(&shown)
        .map_err(|why| format!("the client refused the handshake: {why}"))?;
    session(tls, Some(&shown)).await
}

/// The TCP echo's exchange: welcome line, `IS_TLS`, `TEST`.
async fn session<S>(stream: S, shown: Option<&CertificateChain>) -> Result<ConnectionEcho, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read);
    let welcome = line(&mut lines, WELCOME_LIMIT, "the welcome line").await?;
    if welcome != WELCOME {
        return Err(format!("no welcome line: the backend sent {welcome:?}"));
    }
    let mut ask = async |command: &str| {
        write
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|e| format!("sending {command}: {e}"))?;
        line(&mut lines, STEP_LIMIT, command).await
    };
    let is_tls = ask("IS_TLS").await?;
    let report = ask("TEST").await?;
    let value: serde_json::Value = serde_json::from_str(&report)
        .map_err(|e| format!("TEST: the echo's report is not JSON: {e}"))?;
    let text = |v: &serde_json::Value, key: &str| v.get(key)?.as_str().map(str::to_string);
    let tls = match is_tls.trim_end() {
        "true" => true,
        "false" => false,
        other => return Err(format!("IS_TLS: expected true or false, got {other:?}")),
    };
    Ok(ConnectionEcho {
        namespace: text(&value, "namespace").ok_or("TEST: the report has no namespace")?,
        pod: text(&value, "pod").ok_or("TEST: the report has no pod")?,
        tls,
        sni: value
            .get("tls")
            .and_then(|t| text(t, "serverName"))
            .filter(|s| tls && !s.is_empty()),
        server_certificate: shown.map(|c| PresentedCertificate {
            dns_names: c.dns_names(),
        }),
    })
}

/// One line (with its newline), within `limit`; the end of the stream is a reset.
async fn line<R: AsyncRead + Unpin>(
    lines: &mut BufReader<R>,
    limit: Duration,
    what: &str,
) -> Result<String, String> {
    let mut out = String::new();
    let read = within(limit, what, lines.read_line(&mut out)).await?;
    match read {
        Ok(0) => Err(format!("the connection was closed before {what}")),
        Ok(_) => Ok(out),
        Err(e) => Err(format!("reading {what}: {e}")),
    }
}

async fn within<T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> Result<T, String> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| format!("no {what} within {} ms", limit.as_millis()))
}

/// The UDP echo's probe or a DNS query, and its reply.
async fn datagram(
    addr: SocketAddr,
    spec: &ConnectSpec,
    checks: &ClientChecks<'_>,
) -> Result<ConnectionEcho, String> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| format!("UDP socket: {e}"))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| format!("UDP socket: {e}"))?;
    // A query id from the client's port: different for each query in flight.
    let id = socket.local_addr().map_or(1, |a| a.port());
    let message = match &spec.dns_query {
        Some(name) => super::dns::query(id, name)?,
        None => UDP_PROBE.as_bytes().to_vec(),
    };
    socket
        .send(&message)
        .await
        .map_err(|e| format!("sending the datagram: {e}"))?;
    let mut reply = vec![0u8; 65_535];
    let n = within(
        REPLY_LIMIT,
        "reply to the datagram",
        socket.recv(&mut reply),
    )
    .await?
    .map_err(|e| format!("the datagram got no reply: {e}"))?;
    let reply = &reply[..n];
    let (namespace, pod) = match &spec.dns_query {
        Some(name) => {
            let addresses = super::dns::addresses(reply, id)
                .map_err(|why| format!("the DNS query for {name} got no DNS answer: {why}"))?;
            let first = addresses
                .first()
                .ok_or_else(|| format!("the DNS answer for {name} has no A record"))?;
            (checks.pod_at)(*first)
                .ok_or_else(|| format!("the DNS answer's address {first} is no pod's"))?
        }
        None => {
            let value: serde_json::Value = serde_json::from_slice(reply).map_err(|_| {
                "the UDP echo probe got a reply that is not the echo's report".to_string()
            })?;
            let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
            match (text("namespace"), text("pod")) {
                (Some(ns), Some(pod)) => (ns, pod),
                _ => return Err("the UDP echo's report names no pod".into()),
            }
        }
    };
    Ok(ConnectionEcho {
        namespace,
        pod,
        tls: false,
        sni: None,
        server_certificate: None,
    })
}

/// A TLS client that takes any certificate in the handshake: the certificate is checked after
/// it, as the simulator checks it (at the virtual clock), so the reasons are the same.
fn client_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(crate::wire::AnyCertificate {
        provider: provider.clone(),
    });
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The Gateway a connection goes to: the one it names, or the table's only one.
pub(crate) fn gateway_of(
    spec: &ConnectSpec,
    table: &gwsim_engine::RoutingTable,
) -> Result<gwsim_engine::object::ObjectKey, gwsim_sim::cluster::SendError> {
    match (&spec.connection.gateway, table.gateways()) {
        (Some(named), _) => Ok(named.clone()),
        (None, [only]) => Ok(only.key.clone()),
        (None, all) => Err(gwsim_sim::cluster::SendError::Transport(format!(
            "the connection names no Gateway and the table has {}",
            all.len()
        ))),
    }
}

/// The pod (namespace, name) whose address is `ip`.
pub(crate) fn pod_at(
    snapshot: &gwsim_engine::object::Snapshot,
    ip: Ipv4Addr,
) -> Option<(String, String)> {
    let ip = ip.to_string();
    snapshot
        .of_kind(gwsim_engine::object::Kind::Pod)
        .find_map(|o| match o {
            gwsim_engine::object::Object::Pod(pod)
                if gwsim_sim::workloads::pod_ip(pod) == Some(ip.as_str()) =>
            {
                Some((
                    pod.metadata.namespace.clone().unwrap_or_default(),
                    pod.metadata.name.clone().unwrap_or_default(),
                ))
            }
            _ => None,
        })
}
