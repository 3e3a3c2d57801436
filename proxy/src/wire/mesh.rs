//! Requests from pods over the wire ([`Cluster::send_from_pod`](gwsim_sim::cluster::Cluster)):
//! the client resolves the Service's DNS name in the pod's namespace (as a pod's resolver
//! would, with the mesh's table), binds its socket to the pod's loopback address, and connects
//! to the proxy's socket of that Service port; a request to a pod's own address
//! (`request.toPod`) connects to that pod's echo server itself, past every Service. The
//! exchange is the Gateway client's (HTTP/1.1, h2c, gRPC).

use std::net::{IpAddr, SocketAddr};

use gwsim_engine::decision::Request;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_engine::table::{MeshDestination, split_authority};
use gwsim_sim::cluster::{ClientProtocol, Cluster, RequestId, Response, SendError};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::net::TcpSocket;

use super::{WireCluster, exchange};

/// What the last request from a pod went to, for its explanation.
#[derive(Clone, Debug)]
pub(super) enum LastFromPod {
    /// A Service port, decided for a client in this namespace.
    Service(String, MeshDestination),
    /// A pod's own address: no Service, no route.
    Pod(String),
}

/// Where a request from a pod connects.
enum Target {
    Service(MeshDestination),
    /// A pod, and the port of its address.
    Pod(ObjectKey, u16),
}

impl WireCluster {
    /// [`Cluster::send_from_pod`] over real sockets.
    pub(super) fn send_from_pod_wire(
        &mut self,
        client: &ObjectKey,
        authority: &str,
        request: &Request,
        protocol: ClientProtocol,
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.last_from_pod = None;
        if client.kind != Kind::Pod || Cluster::get(&self.sim, client).is_none() {
            return Err(SendError::Transport(format!(
                "no pod {} to send the request from",
                client.namespaced_name()
            )));
        }
        if protocol == ClientProtocol::WebSocket {
            // As the simulator: the mesh client sends HTTP/1.1, h2c and gRPC only.
            return Err(SendError::UnsupportedProtocol(protocol));
        }
        let (host, port) = split_authority(authority).map_err(SendError::Transport)?;
        let ip = host.trim_start_matches('[').trim_end_matches(']');
        let target = match ip.parse::<IpAddr>() {
            Ok(_) => {
                let pod = self.pod_with_address(ip).ok_or_else(|| {
                    SendError::Transport(format!(
                        "connection refused: no ready pod has address {ip}"
                    ))
                })?;
                self.last_from_pod = Some(LastFromPod::Pod(format!(
                    "{} http://{}{} (port {port}) from pod {}: sent to pod {}'s address {ip} itself: no Service, so no mesh route applies (GEP-1294)",
                    request.method,
                    request.host,
                    request.path,
                    client.namespaced_name(),
                    pod.namespaced_name()
                )));
                Target::Pod(pod, port)
            }
            Err(_) => {
                let to = self
                    .sim
                    .table()
                    .mesh()
                    .resolve(authority, &client.namespace)
                    .map_err(SendError::Transport)?;
                self.last_from_pod =
                    Some(LastFromPod::Service(client.namespace.clone(), to.clone()));
                Target::Service(to)
            }
        };
        self.runtime
            .block_on(self.send_from_async(client, authority, target, request, protocol, id))
    }

    /// The ready pod whose `status.podIP` is `ip`, as the simulator finds it.
    fn pod_with_address(&self, ip: &str) -> Option<ObjectKey> {
        Cluster::list(&self.sim, Kind::Pod).into_iter().find(|key| {
            Cluster::get(&self.sim, key).is_some_and(|pod| {
                pod.pointer("/status/podIP").and_then(|v| v.as_str()) == Some(ip)
            })
        })
    }

    async fn send_from_async(
        &self,
        client: &ObjectKey,
        authority: &str,
        target: Target,
        request: &Request,
        protocol: ClientProtocol,
        id: RequestId,
    ) -> Result<Response, SendError> {
        if let Some(why) = &self.broken {
            return Err(SendError::Transport(why.clone()));
        }
        let proxy = self
            .proxy
            .as_ref()
            .ok_or_else(|| SendError::Transport("the data plane is not running".into()))?;
        let source = proxy.pod_address(client).ok_or_else(|| {
            SendError::Transport(format!(
                "pod {} has no address on the wire",
                client.namespaced_name()
            ))
        })?;
        let refused = || {
            SendError::Transport(format!(
                "connection refused: {authority} from pod {}",
                client.namespaced_name()
            ))
        };
        let addr = match &target {
            Target::Service(to) => proxy.mesh_socket(&to.service, to.port).await,
            Target::Pod(pod, port) => proxy.pod_endpoint(pod, *port).await,
        }
        .ok_or_else(refused)?;
        let send = async {
            let stream = connect_from(SocketAddr::new(IpAddr::V4(source), 0), addr)
                .await
                .map_err(|_| refused())?;
            exchange(stream, request, protocol, &[], id, &refused).await
        };
        super::answered(proxy, send).await
    }

    /// The engine's explanation of the last request from a pod (`None`: the last request was
    /// not from a pod). Over the wire the proxy drew its own random numbers, so a weighted
    /// choice may differ from the one explained.
    pub(super) fn explain_from_pod(&self, request: &Request) -> Option<String> {
        match self.last_from_pod.as_ref()? {
            LastFromPod::Service(namespace, to) => {
                let mut rng = SmallRng::seed_from_u64(0);
                let mesh = self.sim.table().mesh();
                Some(
                    mesh.decide(namespace, to, request, &mut rng)
                        .explanation
                        .render_text(),
                )
            }
            LastFromPod::Pod(text) => Some(format!("{text}\n")),
        }
    }
}

/// A TCP connection to `to` from the address `from` (a pod's: its identity in the mesh).
pub async fn connect_from(
    from: SocketAddr,
    to: SocketAddr,
) -> std::io::Result<tokio::net::TcpStream> {
    let socket = match from {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(from)?;
    let stream = socket.connect(to).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
