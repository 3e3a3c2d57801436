//! TLS, TCP and UDP listeners on real sockets: whole connections and datagrams routed by the
//! engine's connection routing (`gwsim_engine::connection::decide`, the simulator's own
//! decision; sim/src/connect.rs is the model this follows).
//!
//! Per accepted connection (per datagram for UDP) the engine's `Connection` is built from the
//! socket's Gateway and port, and for TLS from the ClientHello's SNI; the decision picks the
//! Service port, and one of its endpoints is picked at random, as the simulator does.
//! Passthrough forwards the client's bytes untouched, ClientHello included (the backend
//! completes the handshake); Terminate completes the handshake with the listener's
//! certificate and forwards the plain stream; TCP forwards the stream; UDP relays the
//! datagram and the backend's reply (one reply, within [`UDP_REPLY_LIMIT`]). A Reset decision
//! closes the connection or drops the datagram, logged with the engine's reason on
//! `gwsim::access` (as the HTTP access log).

pub(crate) mod client;
pub(crate) mod dns;
pub(crate) mod echo;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gwsim_engine::RoutingTable;
use gwsim_engine::config::{BackendClientCertificate, BackendTls, Protocol, TlsMode};
use gwsim_engine::connection::{self, Connection, ConnectionOutcome, ConnectionProtocol};
use gwsim_engine::object::ObjectKey;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, watch};

use crate::plan::{Certificates, Socket};
use crate::replay::Replay;
use crate::{BoundSocket, Shared};

/// How long a client has to send its ClientHello.
const HELLO_LIMIT: Duration = Duration::from_secs(10);
/// The largest ClientHello read (the bytes are kept to be passed through).
const MAX_HELLO: usize = 64 * 1024;
/// How long the Gateway waits for a backend to accept a connection.
const BACKEND_CONNECT_LIMIT: Duration = Duration::from_secs(5);
/// How long a relayed datagram waits for the backend's reply.
pub(crate) const UDP_REPLY_LIMIT: Duration = Duration::from_secs(5);
/// Datagrams waiting for a reply at once, per socket; more are dropped.
const MAX_UDP_RELAYS: usize = 1024;
/// The largest datagram relayed.
const MAX_DATAGRAM: usize = 65_535;

/// A bound socket: HTTP(S) requests, or connections.
pub(crate) enum Bound {
    Http(TcpListener),
    Connections(ConnectionSocket),
}

/// A socket of TLS or TCP connections, or of UDP datagrams.
pub(crate) enum ConnectionSocket {
    Stream(TcpListener, ConnectionProtocol),
    Datagram(Arc<UdpSocket>),
}

impl Bound {
    pub(crate) async fn bind(socket: &Socket) -> std::io::Result<Bound> {
        Ok(match socket.connection {
            None => Bound::Http(TcpListener::bind(socket.addr).await?),
            Some(ConnectionProtocol::Udp) => Bound::Connections(ConnectionSocket::Datagram(
                Arc::new(UdpSocket::bind(socket.addr).await?),
            )),
            Some(protocol) => Bound::Connections(ConnectionSocket::Stream(
                TcpListener::bind(socket.addr).await?,
                protocol,
            )),
        })
    }

    pub(crate) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Bound::Http(l) | Bound::Connections(ConnectionSocket::Stream(l, _)) => l.local_addr(),
            Bound::Connections(ConnectionSocket::Datagram(s)) => s.local_addr(),
        }
    }
}

/// The URL scheme a listener of a served socket is announced with: `http`, `https`, `tls`,
/// `tcp`, `udp` (a TLS listener beside HTTPS ones is `tls`).
pub(crate) fn url_scheme(socket: &Socket, listener: &Protocol) -> &'static str {
    match socket.connection {
        None if *listener == Protocol::Tls => "tls",
        None => socket.scheme.as_str(),
        Some(ConnectionProtocol::Tls) => "tls",
        Some(ConnectionProtocol::Tcp) => "tcp",
        Some(ConnectionProtocol::Udp) => "udp",
    }
}

/// Listener groups by (port, socket kind): one stream socket per port. HTTP and HTTPS keep a
/// port they share with TLS or TCP listeners (such a mix is a protocol conflict), except that
/// TLS listeners beside HTTPS ones join the HTTPS socket, which hands their connections here
/// ([`tls_listener_takes`]); TLS keeps a port before TCP. UDP has its own socket.
pub(crate) fn one_stream_socket_per_port(
    groups: &mut BTreeMap<(u16, Option<ConnectionProtocol>), Vec<crate::plan::PlannedListener>>,
) {
    let https_ports: Vec<u16> = groups
        .iter()
        .filter(|((_, kind), listeners)| {
            kind.is_none() && listeners.iter().any(|(_, p, _)| *p == Protocol::Https)
        })
        .map(|((port, _), _)| *port)
        .collect();
    for port in https_ports {
        if let Some(tls) = groups.remove(&(port, Some(ConnectionProtocol::Tls)))
            && let Some(https) = groups.get_mut(&(port, None))
        {
            https.extend(tls);
        }
    }
    let mut taken = std::collections::BTreeSet::new();
    groups.retain(|(port, kind), _| match kind {
        Some(ConnectionProtocol::Udp) => true,
        // Keys come in (port, kind) order: None (HTTP), then TLS, then TCP.
        _ => taken.insert(*port),
    });
}

/// What TLS, TCP and UDP connections are decided and delivered with.
#[derive(Default)]
pub(crate) struct L4State {
    /// The handshake of each TLS Terminate listener with a certificate, by (Gateway, name).
    terminate: HashMap<(ObjectKey, String), Arc<ServerConfig>>,
    backends: echo::View,
}

impl L4State {
    pub(crate) fn new(
        table: &RoutingTable,
        certificates: &Certificates,
        backends: echo::View,
    ) -> L4State {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut terminate = HashMap::new();
        for gateway in table.gateways() {
            for listener in &gateway.listeners {
                if listener.protocol != Protocol::Tls
                    || listener.tls_mode != Some(TlsMode::Terminate)
                {
                    continue;
                }
                let key = (gateway.key.clone(), listener.name.clone());
                let Some(certified) = certificates.get(&key) else {
                    continue;
                };
                let config = ServerConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map(|b| {
                        b.with_no_client_auth()
                            .with_cert_resolver(Arc::new(Fixed(certified.clone())))
                    });
                if let Ok(config) = config {
                    terminate.insert(key, Arc::new(config));
                }
            }
        }
        L4State {
            terminate,
            backends,
        }
    }
}

/// One listener's certificate, whatever the name.
#[derive(Debug)]
struct Fixed(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Starts the accept (or receive) loop of a TLS, TCP or UDP socket.
pub(crate) fn serve_socket(
    socket: Socket,
    bound_socket: ConnectionSocket,
    bound: SocketAddr,
    shared: &Arc<Shared>,
) -> BoundSocket {
    let (stop, stop_rx) = watch::channel(false);
    let arrival = Arrival {
        gateway: socket.gateway.clone(),
        port: socket.port,
    };
    let shared = shared.clone();
    let task = match bound_socket {
        ConnectionSocket::Datagram(udp) => {
            tokio::spawn(serve_datagrams(udp, arrival, shared, stop_rx))
        }
        ConnectionSocket::Stream(listener, protocol) => {
            tokio::spawn(accept_loop(listener, protocol, arrival, shared, stop_rx))
        }
    };
    BoundSocket {
        socket,
        bound,
        stop,
        task,
    }
}

/// Where a connection arrived: a Gateway port.
#[derive(Clone, Debug)]
struct Arrival {
    gateway: ObjectKey,
    port: u16,
}

impl Arrival {
    fn connection(&self, protocol: ConnectionProtocol, sni: Option<String>) -> Connection {
        Connection {
            gateway: Some(self.gateway.clone()),
            port: self.port,
            protocol,
            sni,
        }
    }
}

/// Where the engine sends a connection: an endpoint of the chosen Service port, and what the
/// Gateway does with TLS.
struct Route {
    endpoint: SocketAddr,
    tls: Option<TlsMode>,
    /// The listener that took it, for its Terminate handshake.
    listener: Option<(ObjectKey, String)>,
    /// Terminate only: the Gateway's own TLS to the backend (BackendTLSPolicy), with the
    /// client certificate the Gateway presents to backends.
    backend_tls: Option<(Arc<BackendTls>, Option<BackendClientCertificate>)>,
    /// `namespace/name:port` of the Service, for the log.
    service: String,
}

/// The engine's decision for `connection` and the endpoint picked, or why it is refused
/// (logged here).
fn route(
    state: &crate::State,
    connection: &Connection,
    client: SocketAddr,
    rng: &mut SmallRng,
) -> Option<Route> {
    let decision = connection::decide(state.table.gateways(), connection, rng);
    let what = &decision.explanation.request;
    let forward = match decision.outcome {
        ConnectionOutcome::Reset => {
            tracing::info!(target: "gwsim::access", %client, "{what}: {}", decision.explanation.outcome);
            return None;
        }
        ConnectionOutcome::Forward(f) => f,
    };
    let b = &forward.backend;
    let service = format!("{}/{}:{}", b.namespace, b.name, b.port);
    let endpoints = state.l4.backends.endpoints(&b.namespace, &b.name, b.port);
    if endpoints.is_empty() {
        tracing::info!(target: "gwsim::access", %client, "{what}: Service {service} has no ready endpoint: closed");
        return None;
    }
    let picked = &endpoints[rng.random_range(0..endpoints.len())];
    let endpoint = match connection.protocol {
        ConnectionProtocol::Udp => picked.udp,
        _ => picked.tcp,
    };
    let Some(endpoint) = endpoint else {
        tracing::info!(target: "gwsim::access", %client,
            "{what}: pod {} of Service {service} listens on no {} port: closed",
            picked.pod, connection.protocol.as_str());
        return None;
    };
    tracing::info!(target: "gwsim::access", %client, "{what}: {} (pod {})", decision.explanation.outcome, picked.pod);
    let backend_tls = forward.backend_tls.map(|policy| {
        let client = decision.provenance.as_ref().and_then(|p| {
            let gateway = state.table.gateways().iter().find(|g| g.key == p.gateway)?;
            gateway.backend_client_certificate.clone()
        });
        (policy, client)
    });
    Some(Route {
        endpoint,
        tls: forward.tls,
        listener: decision.provenance.map(|p| (p.gateway, p.listener)),
        backend_tls,
        service,
    })
}

fn rng_for(shared: &Shared) -> SmallRng {
    SmallRng::seed_from_u64(shared.sequence.fetch_add(1, Ordering::Relaxed))
}

async fn accept_loop(
    listener: TcpListener,
    protocol: ConnectionProtocol,
    arrival: Arrival,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, client)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let arrival = arrival.clone();
        tokio::spawn(async move {
            match protocol {
                ConnectionProtocol::Tls => tls_connection(stream, client, &arrival, &shared).await,
                _ => tcp_connection(stream, client, &arrival, &shared).await,
            }
        });
    }
}

async fn tcp_connection(stream: TcpStream, client: SocketAddr, arrival: &Arrival, shared: &Shared) {
    let state = shared.state.borrow().clone();
    let mut rng = rng_for(shared);
    let connection = arrival.connection(ConnectionProtocol::Tcp, None);
    let Some(route) = route(&state, &connection, client, &mut rng) else {
        return;
    };
    if let Some(backend) = connect_backend(&route).await {
        splice(stream, backend).await;
    }
}

async fn tls_connection(
    mut stream: TcpStream,
    client: SocketAddr,
    arrival: &Arrival,
    shared: &Shared,
) {
    let Ok(Ok((hello, sni))) =
        tokio::time::timeout(HELLO_LIMIT, read_client_hello(&mut stream)).await
    else {
        return;
    };
    tls_decided(hello, stream, sni, client, arrival, shared).await;
}

/// A TLS connection whose ClientHello (`hello`, naming `sni`) has been read: decided, then
/// passed through or terminated.
async fn tls_decided(
    hello: Vec<u8>,
    stream: TcpStream,
    sni: Option<String>,
    client: SocketAddr,
    arrival: &Arrival,
    shared: &Shared,
) {
    let state = shared.state.borrow().clone();
    let mut rng = rng_for(shared);
    let connection = arrival.connection(ConnectionProtocol::Tls, sni);
    let Some(route) = route(&state, &connection, client, &mut rng) else {
        return;
    };
    let replay = Replay::new(hello, stream);
    match route.tls {
        Some(TlsMode::Terminate) => {
            let Some(config) = route
                .listener
                .as_ref()
                .and_then(|l| state.l4.terminate.get(l))
                .cloned()
            else {
                tracing::info!(target: "gwsim::access", %client,
                    "the Terminate listener has no certificate to complete the handshake with: closed");
                return;
            };
            let acceptor =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), replay);
            let handshake = async { acceptor.await?.into_stream(config).await };
            let Ok(Ok(tls)) = tokio::time::timeout(HELLO_LIMIT, handshake).await else {
                return;
            };
            let Some(backend) = connect_backend(&route).await else {
                return;
            };
            match &route.backend_tls {
                None => splice(tls, backend).await,
                Some((policy, client)) => {
                    if let Some(encrypted) =
                        reencrypt(backend, policy, client.as_ref(), &route).await
                    {
                        splice(tls, encrypted).await;
                    }
                }
            }
        }
        // Passthrough: the ClientHello and everything after it, untouched.
        _ => {
            if let Some(backend) = connect_backend(&route).await {
                splice(replay, backend).await;
            }
        }
    }
}

/// On an HTTPS socket: whether the engine gives the connection to a TLS listener of the port
/// (one beside the HTTPS listeners), in which case it is served here and `None` returned;
/// otherwise the stream for the HTTPS handshake, the ClientHello read by then replayed. A
/// port without TLS listener is not looked at.
pub(crate) async fn tls_listener_takes(
    mut stream: TcpStream,
    gateway: &ObjectKey,
    port: u16,
    shared: &Shared,
) -> Option<Replay<TcpStream>> {
    let state = shared.state.borrow().clone();
    let listeners = state
        .table
        .gateways()
        .iter()
        .find(|g| g.key == *gateway)
        .map_or(&[][..], |g| g.listeners.as_slice());
    if !listeners
        .iter()
        .any(|l| l.port == port && l.protocol == Protocol::Tls)
    {
        return Some(Replay::new(Vec::new(), stream));
    }
    let read = tokio::time::timeout(HELLO_LIMIT, read_client_hello(&mut stream)).await;
    let Ok(Ok((hello, sni))) = read else {
        return None;
    };
    let arrival = Arrival {
        gateway: gateway.clone(),
        port,
    };
    let connection = arrival.connection(ConnectionProtocol::Tls, sni.clone());
    // Only the listener is read from this decision: no weighted choice is made with it.
    let mut unused = SmallRng::seed_from_u64(0);
    let chosen = connection::decide(state.table.gateways(), &connection, &mut unused)
        .explanation
        .listener;
    let tls_listener = chosen.is_some_and(|name| {
        listeners
            .iter()
            .any(|l| l.name == name && l.protocol == Protocol::Tls)
    });
    if !tls_listener {
        return Some(Replay::new(hello, stream));
    }
    let client = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    tls_decided(hello, stream, sni, client, &arrival, shared).await;
    None
}

/// Reads the ClientHello; the bytes read (to be passed through or replayed) and its SNI.
async fn read_client_hello(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Option<String>)> {
    let mut acceptor = rustls::server::Acceptor::default();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&chunk[..n]);
        let mut rest = &chunk[..n];
        while !rest.is_empty() {
            if acceptor.read_tls(&mut rest)? == 0 {
                return Err(std::io::Error::other("ClientHello too large"));
            }
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let sni = accepted.client_hello().server_name().map(str::to_string);
                return Ok((seen, sni));
            }
            Ok(None) if seen.len() < MAX_HELLO => {}
            Ok(None) => return Err(std::io::Error::other("ClientHello too large")),
            Err((e, _)) => return Err(std::io::Error::other(e)),
        }
    }
}

async fn connect_backend(route: &Route) -> Option<TcpStream> {
    match tokio::time::timeout(BACKEND_CONNECT_LIMIT, TcpStream::connect(route.endpoint)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Some(stream)
        }
        _ => {
            tracing::info!(target: "gwsim::access", "the backend {} ({}) did not accept the connection: closed",
                route.service, route.endpoint);
            None
        }
    }
}

/// The Gateway's TLS to the backend of a terminated connection, as its BackendTLSPolicy says
/// (SNI `validation.hostname`, the certificate checked as the simulator checks it); `None`,
/// logged, when the handshake fails.
async fn reencrypt(
    backend: TcpStream,
    policy: &Arc<BackendTls>,
    client: Option<&BackendClientCertificate>,
    route: &Route,
) -> Option<tokio_rustls::client::TlsStream<TcpStream>> {
    let refused = |why: String| {
        tracing::info!(target: "gwsim::access",
            "the Gateway's TLS to the backend {} ({}) failed: {why}: closed", route.service, route.endpoint);
        None
    };
    let (config, name) = match crate::backend_tls::client_config(policy, client, false) {
        Ok(made) => made,
        Err(why) => return refused(why),
    };
    // A raw stream: no application protocol is offered.
    let mut config = (*config).clone();
    config.alpn_protocols.clear();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(HELLO_LIMIT, connector.connect(name, backend)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => refused(e.to_string()),
        Err(_) => refused("the handshake timed out".into()),
    }
}

/// Copies both ways until both sides are done.
async fn splice<A, B>(mut client: A, mut backend: B)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
}

/// Each datagram decided on its own and relayed; the backend's reply sent back to the client
/// from the Gateway's socket.
async fn serve_datagrams(
    socket: Arc<UdpSocket>,
    arrival: Arrival,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let relays = Arc::new(Semaphore::new(MAX_UDP_RELAYS));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut buf) => received,
            _ = stop.changed() => return,
        };
        let Ok((n, client)) = received else {
            continue;
        };
        let state = shared.state.borrow().clone();
        let mut rng = rng_for(&shared);
        let connection = arrival.connection(ConnectionProtocol::Udp, None);
        let Some(route) = route(&state, &connection, client, &mut rng) else {
            continue;
        };
        let Ok(permit) = relays.clone().try_acquire_owned() else {
            tracing::info!(target: "gwsim::access", %client,
                "datagram dropped: {MAX_UDP_RELAYS} datagrams already wait for a reply");
            continue;
        };
        let datagram = buf[..n].to_vec();
        let socket = socket.clone();
        tokio::spawn(async move {
            let _permit = permit;
            relay(&socket, client, &route, &datagram).await;
        });
    }
}

async fn relay(socket: &UdpSocket, client: SocketAddr, route: &Route, datagram: &[u8]) {
    let local: SocketAddr = match route.endpoint {
        SocketAddr::V4(_) => ([127, 0, 0, 1], 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
    };
    let exchange = async {
        let upstream = UdpSocket::bind(local).await?;
        upstream.connect(route.endpoint).await?;
        upstream.send(datagram).await?;
        let mut reply = vec![0u8; MAX_DATAGRAM];
        let n = upstream.recv(&mut reply).await?;
        reply.truncate(n);
        Ok::<_, std::io::Error>(reply)
    };
    match tokio::time::timeout(UDP_REPLY_LIMIT, exchange).await {
        Ok(Ok(reply)) => {
            let _ = socket.send_to(&reply, client).await;
        }
        Ok(Err(e)) => {
            tracing::info!(target: "gwsim::access", %client, "the backend {} did not reply: {e}", route.service);
        }
        Err(_) => {
            tracing::info!(target: "gwsim::access", %client,
                "the backend {} did not reply within {} s", route.service, UDP_REPLY_LIMIT.as_secs());
        }
    }
}

impl crate::Proxy {
    /// Where a connection (`Tls`, `Tcp`: any stream socket, as a client that connects to the
    /// port finds it) or a datagram (`Udp`) to a Gateway port goes; `None`: nothing is bound.
    pub async fn connection_socket(
        &self,
        gateway: &ObjectKey,
        port: u16,
        protocol: ConnectionProtocol,
    ) -> Option<SocketAddr> {
        let udp = protocol == ConnectionProtocol::Udp;
        let inner = self.inner.lock().await;
        inner
            .sockets
            .iter()
            .find(|s| {
                s.socket.gateway.namespace == gateway.namespace
                    && s.socket.gateway.name == gateway.name
                    && s.socket.port == port
                    && (s.socket.connection == Some(ConnectionProtocol::Udp)) == udp
            })
            .map(|s| s.bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stream_socket_per_port_and_udp_beside_it() {
        let one = |name: &str, p: Protocol| vec![(name.to_string(), p, true)];
        let mut groups = BTreeMap::new();
        groups.insert((443, None), one("https", Protocol::Https));
        let tls = Some(ConnectionProtocol::Tls);
        groups.insert((443, tls), one("tls beside https", Protocol::Tls));
        let udp = Some(ConnectionProtocol::Udp);
        groups.insert((443, udp), one("udp on 443", Protocol::Udp));
        groups.insert((80, None), one("http", Protocol::Http));
        groups.insert((80, tls), one("tls beside http", Protocol::Tls));
        groups.insert((9000, tls), one("tls", Protocol::Tls));
        let tcp = Some(ConnectionProtocol::Tcp);
        groups.insert((9000, tcp), one("tcp beside tls", Protocol::Tcp));
        groups.insert((9001, tcp), one("tcp", Protocol::Tcp));
        one_stream_socket_per_port(&mut groups);
        let kept: Vec<Vec<&str>> = groups
            .values()
            .map(|g| g.iter().map(|(n, _, _)| n.as_str()).collect())
            .collect();
        assert_eq!(
            kept,
            [
                vec!["http"],
                vec!["https", "tls beside https"],
                vec!["udp on 443"],
                vec!["tls"],
                vec!["tcp"]
            ]
        );
    }
}
