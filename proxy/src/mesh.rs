//! The mesh (GAMMA) on real sockets: requests from pods to Services.
//!
//! Every Service port of the mesh gets a socket on the Service's own loopback address
//! (`127.255.b.c`), port plus the offset as for Gateway listeners; every pod gets a loopback
//! address of its own (`127.0.b.c`, never `127.0.0.x`) as its identity. A client sends "from
//! pod P" by binding its socket to P's address before it connects (Linux routes all of
//! `127.0.0.0/8` to the loopback interface), and the proxy maps each connection's peer address
//! back to the pod. Both ranges are apart from the Gateways' (`127.a.b.c`, `a` in 1..=254).
//!
//! Each request is decided by the engine's [`MeshTable`](gwsim_engine::table::MeshTable) for
//! the client's namespace (its consumer routes, else the Service's producer routes, else the
//! Service itself) and carried out by the Gateway's own code ([`handler::answer`]: filters,
//! redirects, weights, timeouts, retries, mirrors, echo backends). A connection from an address
//! that is no pod's is a client outside the mesh: no mesh route applies to it, the Service's
//! endpoints take the request, as kube-proxy would send it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use gwsim_engine::RoutingTable;
use gwsim_engine::object::{Kind, ObjectKey, Snapshot};
use gwsim_engine::table::MeshDestination;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::body::Reply;
use crate::handler::{self, Place, Refused, received_request};
use crate::plan::{ServedListener, fnv1a};
use crate::{Proxy, ProxyError, Shared};

/// Second octet of the Services' addresses, `127.255.b.c`.
const SERVICE_OCTET: u8 = 255;

/// A loopback address per Service of the mesh, from a hash of its namespace and name (stable
/// when other Services come and go): `127.255.b.c`, `c` in 1..=254. Collisions move to the
/// next free address in key order.
pub fn service_addresses<'a>(
    keys: impl Iterator<Item = &'a ObjectKey>,
) -> BTreeMap<ObjectKey, Ipv4Addr> {
    assign(keys, SLOTS, |slot| {
        let [b, c] = [(slot / 254) as u8, 1 + (slot % 254) as u8];
        Ipv4Addr::new(127, SERVICE_OCTET, b, c)
    })
}

/// A loopback address per pod, the pod's identity as a mesh client: `127.0.b.c`, `b` in
/// 1..=255 and `c` in 1..=254 (never `127.0.0.x`), as [`service_addresses`] derives them.
pub fn pod_addresses<'a>(
    keys: impl Iterator<Item = &'a ObjectKey>,
) -> BTreeMap<ObjectKey, Ipv4Addr> {
    assign(keys, SLOTS, |slot| {
        let [b, c] = [1 + (slot / 254) as u8, 1 + (slot % 254) as u8];
        Ipv4Addr::new(127, 0, b, c)
    })
}

/// Addresses in either range: 255 values of the third octet by 254 of the fourth.
const SLOTS: u32 = 255 * 254;

/// Addresses of a range of `slots` (`address` maps a slot to its address); keys past the
/// range's size get none.
fn assign<'a>(
    keys: impl Iterator<Item = &'a ObjectKey>,
    slots: u32,
    address: impl Fn(u32) -> Ipv4Addr,
) -> BTreeMap<ObjectKey, Ipv4Addr> {
    let mut keys: Vec<&ObjectKey> = keys.collect();
    keys.sort();
    keys.dedup();
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for key in keys.into_iter().take(slots as usize) {
        let mut slot = (fnv1a(key.namespaced_name().as_bytes()) % u64::from(slots)) as u32;
        while !taken.insert(slot) {
            slot = (slot + 1) % slots;
        }
        out.insert(key.clone(), address(slot));
    }
    out
}

/// The mesh's clients: every pod of the state and its address.
#[derive(Debug, Default)]
pub struct Clients {
    addresses: BTreeMap<ObjectKey, Ipv4Addr>,
    pods: HashMap<Ipv4Addr, ObjectKey>,
}

impl Clients {
    /// Every pod of `snapshot`, when the mesh has a Service (otherwise nobody sends through
    /// it, and a large input's pods need no addresses).
    pub fn new(snapshot: &Snapshot, table: &RoutingTable) -> Clients {
        if table.mesh().service_ports().next().is_none() {
            return Clients::default();
        }
        let addresses = pod_addresses(snapshot.objects.keys().filter(|k| k.kind == Kind::Pod));
        let pods = addresses.iter().map(|(k, a)| (*a, k.clone())).collect();
        Clients { addresses, pods }
    }

    /// The pod that connected from `addr`, if it is a pod's address.
    pub fn pod_at(&self, addr: IpAddr) -> Option<&ObjectKey> {
        match addr {
            IpAddr::V4(v4) => self.pods.get(&v4),
            IpAddr::V6(v6) => self.pods.get(&v6.to_ipv4_mapped()?),
        }
    }

    pub fn address(&self, pod: &ObjectKey) -> Option<Ipv4Addr> {
        self.addresses.get(pod).copied()
    }
}

/// One socket of the mesh: a Service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub to: MeshDestination,
    pub addr: SocketAddr,
}

/// The sockets of a state's mesh, in Service and port order. A port that cannot be served
/// (past 65535 with the offset) is named in `problems` and left out: the mesh comes in
/// addition to the Gateways, whose serving it never stops.
pub fn sockets(
    table: &RoutingTable,
    offset: u16,
    ephemeral: bool,
    problems: &mut Vec<String>,
) -> Vec<Socket> {
    let mesh = table.mesh();
    let addresses = service_addresses(mesh.service_ports().map(|(key, _, _)| key));
    let mut out = Vec::new();
    for (service, port, _) in mesh.service_ports() {
        let bound = if ephemeral {
            0
        } else {
            match port.checked_add(offset) {
                Some(bound) => bound,
                None => {
                    let error = ProxyError::MeshPortRange {
                        service: service.namespaced_name(),
                        port,
                        offset,
                    };
                    problems.push(error.to_string());
                    continue;
                }
            }
        };
        out.push(Socket {
            to: MeshDestination {
                service: service.clone(),
                port,
            },
            addr: SocketAddr::new(IpAddr::V4(addresses[service]), bound),
        });
    }
    out
}

/// A bound mesh socket and its accept loop.
pub struct BoundSocket {
    socket: Socket,
    bound: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

pub async fn bind(socket: &Socket) -> Result<TcpListener, ProxyError> {
    TcpListener::bind(socket.addr)
        .await
        .map_err(|source| ProxyError::MeshBind {
            service: socket.to.service.namespaced_name(),
            port: socket.to.port,
            addr: socket.addr,
            source,
        })
}

/// Binds every socket and serves them; one that cannot be bound is named in `problems`.
pub async fn start(
    sockets: Vec<Socket>,
    shared: &Arc<Shared>,
    graceful: &Arc<GracefulShutdown>,
    problems: &mut Vec<String>,
) -> Vec<BoundSocket> {
    let mut out = Vec::with_capacity(sockets.len());
    for socket in sockets {
        match bind(&socket).await {
            Ok(listener) => out.push(serve(socket, listener, shared, graceful)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    out
}

/// The sockets of a new state: those already bound are kept (with their connections), new
/// ones bound (one that cannot be is named in `notes`); returns the kept and new ones, and
/// those to close once the new state is in service ([`close`]).
pub async fn rebind(
    mut old: Vec<BoundSocket>,
    wanted: Vec<Socket>,
    shared: &Arc<Shared>,
    graceful: &Arc<GracefulShutdown>,
    notes: &mut Vec<String>,
) -> (Vec<BoundSocket>, Vec<BoundSocket>) {
    let mut kept = Vec::with_capacity(wanted.len());
    for socket in wanted {
        if let Some(i) = old.iter().position(|b| b.socket == socket) {
            kept.push(old.swap_remove(i));
            continue;
        }
        match bind(&socket).await {
            Ok(listener) => {
                notes.push(format!(
                    "port {} of Service {} is new in the mesh: listening on {}",
                    socket.to.port,
                    socket.to.service,
                    listener.local_addr().map_or(socket.addr, |a| a)
                ));
                kept.push(serve(socket, listener, shared, graceful));
            }
            Err(e) => notes.push(e.to_string()),
        }
    }
    kept.sort_by(|a, b| {
        (&a.socket.to.service, a.socket.to.port).cmp(&(&b.socket.to.service, b.socket.to.port))
    });
    (kept, old)
}

/// Stops accepting on `gone` (connections in flight finish).
pub async fn close(gone: Vec<BoundSocket>, notes: &mut Vec<String>) {
    for socket in gone {
        notes.push(format!(
            "port {} of Service {} left the mesh: closed {}",
            socket.socket.to.port, socket.socket.to.service, socket.bound
        ));
        let _ = socket.stop.send(true);
        let _ = socket.task.await;
    }
}

fn serve(
    socket: Socket,
    listener: TcpListener,
    shared: &Arc<Shared>,
    graceful: &Arc<GracefulShutdown>,
) -> BoundSocket {
    let bound = listener.local_addr().unwrap_or(socket.addr);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(
        listener,
        Arc::new(socket.to.clone()),
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

async fn accept_loop(
    listener: TcpListener,
    to: Arc<MeshDestination>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    graceful: Arc<GracefulShutdown>,
) {
    // As the Gateways' sockets: HTTP/1.1 and h2c (prior knowledge), the same limits.
    let builder = crate::http_server(&shared.limits);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The client is who connected, as of the state in service when it connected.
        let client = shared.state.borrow().clients.pod_at(peer.ip()).cloned();
        let client = Arc::new(client);
        let shared = shared.clone();
        let to = to.clone();
        let service =
            service_fn(move |req| handle(shared.clone(), to.clone(), client.clone(), req));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _ = watcher.watch(conn).await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    to: Arc<MeshDestination>,
    client: Arc<Option<ObjectKey>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Reply>, Refused> {
    let state = shared.state.borrow().clone();
    let sequence = shared.sequence.fetch_add(1, Ordering::Relaxed);
    let mut rng = SmallRng::seed_from_u64(sequence);
    let request = match received_request(&req, to.port) {
        Ok(r) => r,
        Err(e) => return Ok(e.into_response()),
    };
    let client: Option<&ObjectKey> = Option::<ObjectKey>::as_ref(&client);
    let mesh = state.table.mesh();
    let decision = match client {
        Some(pod) => mesh.decide_fast(&pod.namespace, &to, &request, &mut rng),
        None => mesh.decide_outside(&to, &request),
    };
    let place = Place::Mesh {
        service: &to.service,
        port: to.port,
        client,
    };
    let (body, client_upgrade) = handler::hyper_body(req);
    handler::answer(
        &shared,
        &state,
        place,
        &request,
        decision.outcome,
        decision.provenance.as_ref(),
        body,
        client_upgrade,
        None,
        &mut rng,
    )
    .await
}

/// One Service port of the mesh as served: the line printed at start and an entry of the
/// ready file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServedService {
    /// `namespace/name`.
    pub service: String,
    pub port: u16,
    /// Where pods send requests: `http://127.255.b.c:PORT`.
    pub url: String,
}

impl ServedService {
    /// `mesh service ns/echo port 80 at http://127.255.1.2:10080`
    pub fn line(&self) -> String {
        format!(
            "mesh service {} port {} at {}",
            self.service, self.port, self.url
        )
    }
}

/// A pod's address as a mesh client: an entry of the ready file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServedPod {
    /// `namespace/name`.
    pub pod: String,
    /// Bind a client's socket to it to send from the pod (`curl --interface ADDRESS`).
    pub address: Ipv4Addr,
}

/// What the mesh serves: its Service ports and its clients' addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServedMesh {
    pub services: Vec<ServedService>,
    pub pods: Vec<ServedPod>,
}

/// The ready file's JSON: one list, the Gateway listeners (`gateway`, `listener`,
/// `protocol`, `url`), then the mesh's Service ports (`service`, `port`, `url`), then the
/// pods' client addresses (`pod`, `address`).
pub fn ready_json(listeners: &[ServedListener], mesh: &ServedMesh) -> String {
    let mut entries: Vec<serde_json::Value> = Vec::new();
    entries.extend(
        listeners
            .iter()
            .filter_map(|l| serde_json::to_value(l).ok()),
    );
    entries.extend(
        mesh.services
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok()),
    );
    entries.extend(
        mesh.pods
            .iter()
            .filter_map(|p| serde_json::to_value(p).ok()),
    );
    let mut text = serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

impl Proxy {
    /// Where the mesh's socket of a Service port is bound (`None`: the Service has no such
    /// port in the mesh).
    pub async fn mesh_socket(&self, service: &ObjectKey, port: u16) -> Option<SocketAddr> {
        let inner = self.inner.lock().await;
        inner
            .mesh
            .iter()
            .find(|s| s.socket.to.service == *service && s.socket.to.port == port)
            .map(|s| s.bound)
    }

    /// The address a client binds to send from `pod` (`None`: no such pod, or no mesh).
    pub fn pod_address(&self, pod: &ObjectKey) -> Option<Ipv4Addr> {
        self.shared.state.borrow().clients.address(pod)
    }

    /// Where a request to `pod`'s own address on `port` goes: its echo server on that port
    /// (`None`: the pod serves no endpoint there).
    pub async fn pod_endpoint(&self, pod: &ObjectKey, port: u16) -> Option<SocketAddr> {
        let inner = self.inner.lock().await;
        inner.backends.pod_endpoint(&pod.namespace, &pod.name, port)
    }

    /// The mesh's Service ports as bound, and the pods' addresses.
    pub async fn served_mesh(&self) -> ServedMesh {
        let services = {
            let inner = self.inner.lock().await;
            inner
                .mesh
                .iter()
                .map(|s| ServedService {
                    service: s.socket.to.service.namespaced_name(),
                    port: s.socket.to.port,
                    url: format!("http://{}", s.bound),
                })
                .collect()
        };
        let state = self.shared.state.borrow().clone();
        let pods = state
            .clients
            .addresses
            .iter()
            .map(|(key, address)| ServedPod {
                pod: key.namespaced_name(),
                address: *address,
            })
            .collect();
        ServedMesh { services, pods }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_addresses_are_stable_distinct_and_apart_from_the_gateways() {
        let keys: Vec<ObjectKey> = (0..2000)
            .map(|i| ObjectKey::new(Kind::Service, "ns", format!("svc-{i}")))
            .collect();
        let services = service_addresses(keys.iter());
        let pods = pod_addresses(keys.iter());
        let gateways = crate::gateway_addresses(keys.iter());
        let mut all = BTreeSet::new();
        for map in [&services, &pods, &gateways] {
            assert_eq!(map.len(), 2000);
            all.extend(map.values().copied());
        }
        assert_eq!(all.len(), 6000, "every address is of one key only");
        assert!(services.values().all(|a| a.octets()[..2] == [127, 255]));
        assert!(pods.values().all(|a| {
            let [x, y, z, w] = a.octets();
            x == 127 && y == 0 && z != 0 && w != 0 && w != 255
        }));
        // One key's address does not depend on the others.
        assert_eq!(
            service_addresses(keys[7..8].iter())[&keys[7]],
            services[&keys[7]]
        );
        assert_eq!(pod_addresses(keys[9..10].iter())[&keys[9]], pods[&keys[9]]);
    }

    #[test]
    fn a_full_range_assigns_what_fits_and_stops() {
        let keys: Vec<ObjectKey> = (0..13)
            .map(|i| ObjectKey::new(Kind::Pod, "ns", format!("p{i}")))
            .collect();
        let assigned = assign(keys.iter(), 10, |slot| Ipv4Addr::new(127, 0, 1, slot as u8));
        assert_eq!(assigned.len(), 10);
        let distinct: BTreeSet<_> = assigned.values().collect();
        assert_eq!(distinct.len(), 10);
    }
}
