//! gwsim's data plane on real sockets (`gwsim serve`).
//!
//! One task per bound socket (a Gateway port on the Gateway's own loopback address; a Service
//! port of the mesh on the Service's, [`mesh`]), hyper's automatic HTTP/1.1 and HTTP/2 (h2c
//! prior knowledge; ALPN over TLS) connections, and for each request the engine's decision on the current routing table (`decide_fast`), the engine's
//! runtime rules for retries and timeouts, and in-process echo backends that share the
//! simulator's echo logic. A new state is swapped in atomically (a `watch` of an `Arc`);
//! connections in flight keep the state they started with for the request at hand.
//!
//! Invariant: no routing logic of its own. Matching, filters, weights and listener selection
//! are the engine's; this crate moves bytes.

mod backend_tls;
mod backends;
mod body;
mod client;
mod error;
mod handler;
mod http1;
mod http1_server;
mod l4;
mod mesh;
mod plan;
pub mod podlog;
pub(crate) mod replay;
mod tls;
mod websocket;
pub mod wire;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use gwsim_engine::RoutingTable;
use gwsim_engine::decision::Scheme;
use gwsim_engine::object::{ObjectKey, Snapshot};
use gwsim_sim::RequestId;
use gwsim_sim::echo::Receipt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Notify, watch};
use tokio::task::JoinHandle;

pub use backends::{REQUEST_ID_HEADER, UserBackend};
pub use error::{ProxyError, RequestError};
pub use handler::EXPLAIN_HEADER;
pub use mesh::{ServedMesh, ServedPod, ServedService, ready_json};
pub use plan::{ServedListener, gateway_addresses};
pub use podlog::{EchoLogs, LogLine};

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
    /// Services get exactly the endpoints their EndpointSlices list, as in the simulator
    /// (`gwsim run --wire`); otherwise a Service without any EndpointSlice gets a stand-in
    /// echo endpoint per port (plain configuration files have no workloads).
    pub exact_endpoints: bool,
    /// An HTTPS listener whose Secret holds no usable certificate and key is served with a
    /// self-signed stand-in (`gwsim run --wire`: the conformance base's Secrets are
    /// placeholders); otherwise its handshakes fail.
    pub stand_in_certificates: bool,
    pub limits: Limits,
    /// Where the echo pods print their lines (shared with whoever reads them: the API's
    /// `pods/{name}/log`).
    pub echo_logs: EchoLogs,
}

/// The port offset `gwsim serve` uses by default: listener port 80 is served on 10080, so a
/// user without privileges can start it.
pub const DEFAULT_PORT_OFFSET: u16 = 10000;

/// What a request is decided and delivered with; replaced whole on every change.
pub(crate) struct State {
    table: RoutingTable,
    backends: backends::View,
    /// The handshake of each HTTPS listener (certificate, client certificate validation).
    tls: tls::ListenerTls,
    /// The pods' addresses as mesh clients.
    clients: mesh::Clients,
    /// TLS, TCP and UDP listeners: Terminate handshakes and the echo backends' sockets.
    l4: l4::L4State,
}

/// Shared by every connection.
pub(crate) struct Shared {
    state: watch::Receiver<Arc<State>>,
    client: client::Client,
    limits: Limits,
    explain_header: bool,
    sequence: AtomicU64,
    /// Mirror copies sent and not yet answered (or failed): a caller that observes mirrors
    /// waits for none to be left ([`Proxy::mirrors_settled`]).
    mirrors_in_flight: AtomicUsize,
    mirror_done: Notify,
    /// The connections the HTTP/1.1 front serves itself (hyper's are in `Proxy::graceful`).
    front: http1_server::Connections,
}

/// A bound socket and its accept loop.
struct BoundSocket {
    socket: plan::Socket,
    bound: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What changes under the proxy's lock: backends and sockets.
struct Inner {
    backends: backends::Backends,
    /// The echo backends of TLS, TCP and UDP connections.
    l4: l4::echo::L4Backends,
    sockets: Vec<BoundSocket>,
    /// The mesh's Service ports.
    mesh: Vec<mesh::BoundSocket>,
}

/// A running data plane.
pub struct Proxy {
    options: Options,
    shared: Arc<Shared>,
    state: watch::Sender<Arc<State>>,
    inner: Mutex<Inner>,
    served: std::sync::Mutex<Vec<ServedListener>>,
    graceful: Arc<GracefulShutdown>,
    stand_in: Option<Arc<CertifiedKey>>,
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
        let mut mesh_problems = Vec::new();
        let mesh_sockets = mesh::sockets(
            &table,
            options.port_offset,
            options.ephemeral_ports,
            &mut mesh_problems,
        );
        let mut backends = backends::Backends::new(
            options.backends.clone(),
            options.exact_endpoints,
            options.echo_logs.clone(),
        );
        backends.rebuild(snapshot).await?;
        let mut l4_backends = l4::echo::L4Backends::new(options.exact_endpoints);
        l4_backends
            .rebuild(snapshot, &table, &backends.view())
            .await?;
        let stand_in = match options.stand_in_certificates {
            true => Some(Arc::new(
                plan::stand_in_certificate().map_err(ProxyError::Refused)?,
            )),
            false => None,
        };
        let (certificates, problems) = plan::certificates(snapshot, &table, stand_in.as_ref());
        for problem in problems {
            tracing::warn!(target: "gwsim::serve", "{problem}");
        }
        let state = Arc::new(State {
            tls: tls::ListenerTls::new(&table, &certificates),
            clients: mesh::Clients::new(snapshot, &table),
            l4: l4::L4State::new(&table, &certificates, l4_backends.view()),
            table,
            backends: backends.view(),
        });
        let (state_tx, state_rx) = watch::channel(state);
        let shared = Arc::new(Shared {
            state: state_rx,
            client: client::Client::new(options.limits.max_body_bytes),
            limits: options.limits.clone(),
            explain_header: options.explain_header,
            sequence: AtomicU64::new(0),
            mirrors_in_flight: AtomicUsize::new(0),
            mirror_done: Notify::new(),
            front: http1_server::Connections::default(),
        });
        let graceful = Arc::new(GracefulShutdown::new());
        let mut listeners = Vec::new();
        for socket in sockets {
            let listener = bind(&socket).await?;
            listeners.push((socket, listener));
        }
        let bound: Vec<BoundSocket> = listeners
            .into_iter()
            .map(|(socket, listener)| serve_socket(socket, listener, &shared, &graceful))
            .collect();
        let mesh = mesh::start(mesh_sockets, &shared, &graceful, &mut mesh_problems).await;
        for problem in mesh_problems {
            tracing::warn!(target: "gwsim::serve", "{problem}");
        }
        let proxy = Proxy {
            options,
            shared,
            state: state_tx,
            inner: Mutex::new(Inner {
                backends,
                l4: l4_backends,
                sockets: bound,
                mesh,
            }),
            served: std::sync::Mutex::new(Vec::new()),
            graceful,
            stand_in,
        };
        proxy.refresh_served(&proxy.inner.lock().await.sockets);
        Ok(proxy)
    }

    /// The listeners served, one entry per listener, in Gateway and port order.
    pub fn served(&self) -> Vec<ServedListener> {
        self.served.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Where the socket of a Gateway port is bound, and its scheme (`None`: nothing listens
    /// on that port of that Gateway).
    pub async fn socket(&self, gateway: &ObjectKey, port: u16) -> Option<(SocketAddr, Scheme)> {
        let inner = self.inner.lock().await;
        inner
            .sockets
            .iter()
            .find(|s| {
                s.socket.gateway == *gateway
                    && s.socket.port == port
                    && s.socket.connection.is_none()
            })
            .map(|s| (s.bound, s.socket.scheme))
    }

    fn refresh_served(&self, sockets: &[BoundSocket]) {
        let plan: Vec<plan::Socket> = sockets.iter().map(|s| s.socket.clone()).collect();
        let bound: Vec<SocketAddr> = sockets.iter().map(|s| s.bound).collect();
        if let Ok(mut served) = self.served.lock() {
            *served = plan::served(&plan, &bound);
        }
    }

    /// Swaps in a new state: backends first, then the table, in one step for requests.
    /// Sockets for listeners that appeared are bound before the swap (one that cannot be
    /// bound is named in the result and the rest goes ahead); sockets whose listeners went
    /// away stop accepting after it (connections in flight finish).
    pub async fn update(
        &self,
        snapshot: &Snapshot,
        table: RoutingTable,
    ) -> Result<Vec<String>, ProxyError> {
        let wanted = plan::sockets(
            &table,
            self.options.bind,
            self.options.port_offset,
            self.options.ephemeral_ports,
        )?;
        let mut notes = Vec::new();
        let wanted_mesh = mesh::sockets(
            &table,
            self.options.port_offset,
            self.options.ephemeral_ports,
            &mut notes,
        );
        let mut inner = self.inner.lock().await;
        let mut kept = Vec::new();
        let mut old = std::mem::take(&mut inner.sockets);
        for socket in wanted {
            if let Some(i) = old.iter().position(|b| b.socket.same_socket(&socket)) {
                let mut existing = old.swap_remove(i);
                existing.socket.listeners = socket.listeners;
                kept.push(existing);
                continue;
            }
            match bind(&socket).await {
                Ok(listener) => {
                    notes.push(format!(
                        "port {} of Gateway {} is new: listening on {}",
                        socket.port,
                        socket.gateway,
                        listener.local_addr().map_or(socket.addr, |a| a)
                    ));
                    kept.push(serve_socket(socket, listener, &self.shared, &self.graceful));
                }
                Err(e) => notes.push(e.to_string()),
            }
        }
        kept.sort_by(|a, b| {
            (&a.socket.gateway, a.socket.port).cmp(&(&b.socket.gateway, b.socket.port))
        });
        inner.backends.rebuild(snapshot).await?;
        let http = inner.backends.view();
        inner.l4.rebuild(snapshot, &table, &http).await?;
        let (certificates, problems) = plan::certificates(snapshot, &table, self.stand_in.as_ref());
        notes.extend(problems);
        let old_mesh = std::mem::take(&mut inner.mesh);
        let (kept_mesh, gone_mesh) = mesh::rebind(
            old_mesh,
            wanted_mesh,
            &self.shared,
            &self.graceful,
            &mut notes,
        )
        .await;
        self.state.send_replace(Arc::new(State {
            tls: tls::ListenerTls::new(&table, &certificates),
            clients: mesh::Clients::new(snapshot, &table),
            l4: l4::L4State::new(&table, &certificates, inner.l4.view()),
            table,
            backends: inner.backends.view(),
        }));
        for gone in old {
            notes.push(format!(
                "port {} of Gateway {} has no listener any more: closed {}",
                gone.socket.port, gone.socket.gateway, gone.bound
            ));
            let _ = gone.stop.send(true);
            let _ = gone.task.await;
        }
        mesh::close(gone_mesh, &mut notes).await;
        self.refresh_served(&kept);
        inner.sockets = kept;
        inner.mesh = kept_mesh;
        Ok(notes)
    }

    /// Whether a pod of `backend` (`<backend>-...`) in `namespace` (any, when `None`) logged
    /// the request `id` (sent with the [`REQUEST_ID_HEADER`]).
    pub async fn receipt(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> Receipt {
        self.inner
            .lock()
            .await
            .backends
            .receipt(namespace, backend, id)
    }

    /// Waits until every mirror copy sent so far has been answered or has failed, for at
    /// most `limit`; whether none is left.
    pub async fn mirrors_settled(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.mirror_done.notified();
                if self.shared.mirrors_in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// Stops accepting, lets connections in flight finish (up to `grace`), and returns.
    pub async fn shutdown(self, grace: Duration) {
        let (sockets, mesh) = {
            let mut inner = self.inner.lock().await;
            (
                std::mem::take(&mut inner.sockets),
                std::mem::take(&mut inner.mesh),
            )
        };
        for socket in &sockets {
            let _ = socket.stop.send(true);
        }
        for socket in sockets {
            let _ = socket.task.await;
        }
        mesh::close(mesh, &mut Vec::new()).await;
        drop(self.state);
        self.shared.front.drain();
        let front = self.shared.front.closed();
        let drained = async {
            match Arc::try_unwrap(self.graceful) {
                Ok(graceful) => tokio::join!(graceful.shutdown(), front).1,
                Err(_) => front.await,
            }
        };
        let _ = tokio::time::timeout(grace, drained).await;
    }
}

async fn bind(socket: &plan::Socket) -> Result<l4::Bound, ProxyError> {
    l4::Bound::bind(socket)
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
        })
}

fn serve_socket(
    socket: plan::Socket,
    listener: l4::Bound,
    shared: &Arc<Shared>,
    graceful: &Arc<GracefulShutdown>,
) -> BoundSocket {
    let bound = listener.local_addr().unwrap_or(socket.addr);
    let listener = match listener {
        l4::Bound::Http(listener) => listener,
        l4::Bound::Connections(c) => return l4::serve_socket(socket, c, bound, shared),
    };
    let arrival = handler::Arrival {
        gateway: socket.gateway.clone(),
        port: socket.port,
        scheme: socket.scheme,
        sni: None,
    };
    let tls = socket.scheme == Scheme::Https;
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(
        listener,
        arrival,
        tls,
        shared.clone(),
        stop_rx,
        graceful.clone(),
    ));
    BoundSocket {
        socket,
        bound,
        stop,
        task,
    }
}

/// The HTTP server of every plain socket (Gateway listeners and the mesh's Service ports):
/// HTTP/1.1 and h2c (prior knowledge), with the limits on headers and their read time.
pub(crate) fn http_server(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

async fn accept_loop(
    listener: TcpListener,
    arrival: handler::Arrival,
    tls: bool,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    graceful: Arc<GracefulShutdown>,
) {
    let builder = http_server(&shared.limits);
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
        // A watcher, not the shutdown itself: the drain must be able to take it back.
        let watcher = graceful.watcher();
        let mut arrival = arrival.clone();
        tokio::spawn(async move {
            match tls {
                false => {
                    let arrival = Arc::new(arrival);
                    http1_server::serve(stream, arrival, shared, builder, watcher).await;
                }
                true => {
                    let state = shared.state.borrow().clone();
                    let choose = |sni: Option<&str>| {
                        state
                            .tls
                            .choose(&state.table, &arrival.gateway, arrival.port, sni)
                    };
                    let limit = shared.limits.header_read_timeout;
                    // A TLS listener beside the HTTPS ones takes its connections (l4).
                    let (gateway, port) = (&arrival.gateway, arrival.port);
                    let Some(stream) = l4::tls_listener_takes(stream, gateway, port, &shared).await
                    else {
                        return;
                    };
                    let Some(stream) = tls::accept(stream, choose, limit).await else {
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
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
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
/// service and is logged. Runs until the proxy is dropped by the caller's task. The files
/// are fingerprinted when this is called, not when the future first runs, so a change made
/// right after the call is seen.
pub fn watch_files(
    proxy: Arc<Proxy>,
    paths: Vec<PathBuf>,
    every: Duration,
) -> impl std::future::Future<Output = ()> + Send {
    let last = fingerprint(&paths);
    watch_from(proxy, paths, every, last)
}

async fn watch_from(
    proxy: Arc<Proxy>,
    paths: Vec<PathBuf>,
    every: Duration,
    mut last: Vec<(PathBuf, Option<(SystemTime, u64)>)>,
) {
    loop {
        tokio::time::sleep(every).await;
        let now = fingerprint(&paths);
        if now == last {
            continue;
        }
        last = now;
        // Loading and reconciling a large change takes long: off the runtime's threads, so
        // requests keep being answered on the table in service meanwhile.
        let to_load = paths.clone();
        let loaded =
            tokio::task::spawn_blocking(move || gwsim_sim::inputs::load_served(&to_load)).await;
        let Ok(loaded) = loaded else {
            tracing::error!(target: "gwsim::serve", "change not applied, the table in service stays: loading stopped");
            continue;
        };
        let inputs = match loaded {
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
