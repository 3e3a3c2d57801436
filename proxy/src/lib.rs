//! gwsim's data plane on real sockets (`gwsim serve`).
//!
//! One task per bound socket (a Gateway port on the Gateway's own loopback address), hyper's
//! automatic HTTP/1.1 and HTTP/2 (h2c prior knowledge; ALPN over TLS) connections, and for each
//! request the engine's decision on the current routing table (`decide_fast`), the engine's
//! runtime rules for retries and timeouts, and in-process echo backends that share the
//! simulator's echo logic. A new state is swapped in atomically (a `watch` of an `Arc`);
//! connections in flight keep the state they started with for the request at hand.
//!
//! Invariant: no routing logic of its own. Matching, filters, weights and listener selection
//! are the engine's; this crate moves bytes.

mod backends;
mod client;
mod error;
mod handler;
mod plan;
mod websocket;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use gwsim_engine::RoutingTable;
use gwsim_engine::decision::Scheme;
use gwsim_engine::object::{ObjectKey, Snapshot};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

pub use backends::UserBackend;
pub use error::{ProxyError, RequestError};
pub use handler::EXPLAIN_HEADER;
pub use plan::{ServedListener, gateway_addresses};

/// Bounds on what clients and backends may send.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Request line and headers (HTTP/1.1 read buffer; HTTP/2 header list): beyond, 431.
    pub max_header_bytes: usize,
    /// Request and backend response bodies: a bigger request is answered 413, a bigger
    /// answer is a failed attempt.
    pub max_body_bytes: usize,
    /// Time a client has to send its request headers (slow clients are disconnected).
    pub header_read_timeout: Duration,
    /// The longest wait for a backend when the route sets no timeout: 504 after it.
    pub backend_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_header_bytes: 64 * 1024,
            max_body_bytes: 16 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            backend_timeout: Duration::from_secs(300),
        }
    }
}

/// How to serve.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The address every socket binds; `None`: each Gateway's own loopback address.
    pub bind: Option<IpAddr>,
    /// Listener port P is served on P + offset.
    pub port_offset: u16,
    /// Every socket on a port the system chooses (tests, `gwsim run --wire`).
    pub ephemeral_ports: bool,
    pub backends: Vec<UserBackend>,
    /// Add [`EXPLAIN_HEADER`] to every response.
    pub explain_header: bool,
    pub limits: Limits,
}

/// The port offset `gwsim serve` uses by default: listener port 80 is served on 10080, so a
/// user without privileges can start it.
pub const DEFAULT_PORT_OFFSET: u16 = 10000;

/// What a request is decided and delivered with; replaced whole on every change.
pub(crate) struct State {
    table: RoutingTable,
    backends: backends::View,
    certificates: plan::Certificates,
}

/// Shared by every connection.
pub(crate) struct Shared {
    state: watch::Receiver<Arc<State>>,
    client: client::Client,
    limits: Limits,
    explain_header: bool,
    sequence: AtomicU64,
}

/// A running data plane.
pub struct Proxy {
    served: Vec<ServedListener>,
    sockets: Vec<plan::Socket>,
    options: Options,
    state: watch::Sender<Arc<State>>,
    backends: Mutex<backends::Backends>,
    stop: watch::Sender<bool>,
    accept_loops: JoinSet<()>,
    graceful: Arc<GracefulShutdown>,
}

impl Proxy {
    /// Binds every socket, starts the echo backends, and serves. Every socket accepts
    /// connections when this returns.
    pub async fn start(
        snapshot: &Snapshot,
        table: RoutingTable,
        options: Options,
    ) -> Result<Proxy, ProxyError> {
        let sockets = plan::sockets(
            &table,
            options.bind,
            options.port_offset,
            options.ephemeral_ports,
        )?;
        let mut backends = backends::Backends::new(options.backends.clone());
        backends.rebuild(snapshot).await?;
        let (certificates, problems) = plan::certificates(snapshot, &table);
        for problem in problems {
            tracing::warn!(target: "gwsim::serve", "{problem}");
        }
        let state = Arc::new(State {
            table,
            backends: backends.view(),
            certificates,
        });
        let (state_tx, state_rx) = watch::channel(state);
        let shared = Arc::new(Shared {
            state: state_rx,
            client: client::Client::new(options.limits.max_body_bytes),
            limits: options.limits.clone(),
            explain_header: options.explain_header,
            sequence: AtomicU64::new(0),
        });
        let mut listeners = Vec::new();
        for socket in &sockets {
            let listener =
                TcpListener::bind(socket.addr)
                    .await
                    .map_err(|source| ProxyError::Bind {
                        gateway: socket.gateway.namespaced_name(),
                        listener: socket
                            .listeners
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        port: socket.port,
                        addr: socket.addr,
                        source,
                    })?;
            listeners.push(listener);
        }
        let bound: Vec<SocketAddr> = listeners
            .iter()
            .zip(&sockets)
            .map(|(l, s)| l.local_addr().unwrap_or(s.addr))
            .collect();
        let served = plan::served(&sockets, &bound);
        let (stop, stop_rx) = watch::channel(false);
        let graceful = Arc::new(GracefulShutdown::new());
        let mut accept_loops = JoinSet::new();
        for (listener, socket) in listeners.into_iter().zip(&sockets) {
            let arrival = handler::Arrival {
                gateway: socket.gateway.clone(),
                port: socket.port,
                scheme: socket.scheme,
                sni: None,
            };
            let tls = (socket.scheme == Scheme::Https)
                .then(|| tls_acceptor(socket.gateway.clone(), socket.port, shared.state.clone()));
            accept_loops.spawn(accept_loop(
                listener,
                arrival,
                tls,
                shared.clone(),
                stop_rx.clone(),
                graceful.clone(),
            ));
        }
        Ok(Proxy {
            served,
            sockets,
            options,
            state: state_tx,
            backends: Mutex::new(backends),
            stop,
            accept_loops,
            graceful,
        })
    }

    /// The listeners served, one entry per listener, in Gateway and port order.
    pub fn served(&self) -> &[ServedListener] {
        &self.served
    }

    /// Swaps in a new state: backends first, then the table, in one step for requests.
    /// Listeners that appeared or went away since the start are named in the result (they
    /// are bound only at start).
    pub async fn update(
        &self,
        snapshot: &Snapshot,
        table: RoutingTable,
    ) -> Result<Vec<String>, ProxyError> {
        let sockets = plan::sockets(
            &table,
            self.options.bind,
            self.options.port_offset,
            self.options.ephemeral_ports,
        )?;
        let mut notes = Vec::new();
        for socket in &sockets {
            let known = self.sockets.iter().any(|s| {
                s.gateway == socket.gateway && s.port == socket.port && s.scheme == socket.scheme
            });
            if !known {
                notes.push(format!(
                    "port {} of Gateway {} is new: restart gwsim serve to bind it",
                    socket.port, socket.gateway
                ));
            }
        }
        let mut backends = self.backends.lock().await;
        backends.rebuild(snapshot).await?;
        let (certificates, problems) = plan::certificates(snapshot, &table);
        notes.extend(problems);
        self.state.send_replace(Arc::new(State {
            table,
            backends: backends.view(),
            certificates,
        }));
        Ok(notes)
    }

    /// Stops accepting, lets connections in flight finish (up to `grace`), and returns.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        while self.accept_loops.join_next().await.is_some() {}
        if let Ok(graceful) = Arc::try_unwrap(self.graceful) {
            let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    arrival: handler::Arrival,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    graceful: Arc<GracefulShutdown>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_read_timeout)
        .max_buf_size(shared.limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(shared.limits.max_header_bytes).unwrap_or(u32::MAX));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let builder = builder.clone();
        let graceful = graceful.clone();
        let tls = tls.clone();
        let mut arrival = arrival.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let arrival = Arc::new(arrival);
                    let service = service_fn(move |req| {
                        handler::handle(shared.clone(), arrival.clone(), req)
                    });
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let _ = graceful.watch(conn).await;
                }
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    let timeout = shared.limits.header_read_timeout;
                    let Ok(Ok(stream)) = tokio::time::timeout(timeout, handshake).await else {
                        return;
                    };
                    arrival.sni = stream.get_ref().1.server_name().map(str::to_string);
                    let arrival = Arc::new(arrival);
                    let service = service_fn(move |req| {
                        handler::handle(shared.clone(), arrival.clone(), req)
                    });
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let _ = graceful.watch(conn).await;
                }
            }
        });
    }
}

/// Certificates chosen by SNI as the engine chooses the listener.
#[derive(Debug)]
struct SniResolver {
    gateway: ObjectKey,
    port: u16,
    state: watch::Receiver<Arc<State>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name()?;
        let state = self.state.borrow().clone();
        let listener = state.table.tls_listener(&self.gateway, self.port, sni)?;
        state
            .certificates
            .get(&(self.gateway.clone(), listener.to_string()))
            .cloned()
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

fn tls_acceptor(
    gateway: ObjectKey,
    port: u16,
    state: watch::Receiver<Arc<State>>,
) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_no_client_auth()
                .with_cert_resolver(Arc::new(SniResolver {
                    gateway,
                    port,
                    state,
                }))
        })
        .unwrap_or_else(|_| unreachable_config());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// The ring provider supports the default protocol versions; this is never reached.
fn unreachable_config() -> rustls::ServerConfig {
    panic!("the ring provider supports TLS 1.2 and 1.3")
}

/// The files given with `-f` and what they were when last read: modification time and size
/// of every file (folders: their entries).
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    let mut out = Vec::new();
    for path in paths {
        let mut entries = vec![path.clone()];
        if path.is_dir()
            && let Ok(dir) = std::fs::read_dir(path)
        {
            entries.extend(dir.flatten().map(|e| e.path()));
        }
        entries.sort();
        for entry in entries {
            let meta = std::fs::metadata(&entry).ok();
            let stamp = meta.and_then(|m| Some((m.modified().ok()?, m.len())));
            out.push((entry, stamp));
        }
    }
    out
}

/// Watches `paths` (polling every `every`) and swaps in each change the API server would
/// admit; a change with a refused document, or one that cannot be read, keeps the table in
/// service and is logged. Runs until the proxy is dropped by the caller's task.
pub async fn watch_files(proxy: Arc<Proxy>, paths: Vec<PathBuf>, every: Duration) {
    let mut last = fingerprint(&paths);
    loop {
        tokio::time::sleep(every).await;
        let now = fingerprint(&paths);
        if now == last {
            continue;
        }
        last = now;
        let inputs = match gwsim_sim::inputs::load(&paths) {
            Ok(inputs) => inputs,
            Err(e) => {
                tracing::error!(target: "gwsim::serve", "change not applied, the table in service stays: {e}");
                continue;
            }
        };
        if !inputs.rejected.is_empty() {
            for (origin, rejection) in &inputs.rejected {
                tracing::error!(target: "gwsim::serve", "change not applied, the table in service stays: {origin}: {rejection}");
            }
            continue;
        }
        match proxy.update(&inputs.snapshot, inputs.table).await {
            Ok(notes) => {
                tracing::info!(target: "gwsim::serve", "change applied: new routing table in service");
                for note in notes {
                    tracing::warn!(target: "gwsim::serve", "{note}");
                }
            }
            Err(e) => tracing::error!(target: "gwsim::serve", "change not applied: {e}"),
        }
    }
}
