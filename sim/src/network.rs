//! The network behind the Gateway: Service endpoints, delivery to echo pods, timeouts and
//! retries in virtual time, mirrors, and the response-side filters.
//!
//! A forwarded request goes to one ready endpoint of the chosen Service port, picked by a hash
//! of the request's id and attempt (not from the random source, and not from what earlier
//! requests did, so a different seed changes only the engine's weighted choices and
//! requests spread evenly over pods). Delays are measured in virtual time against `timeouts.backendRequest` (each
//! attempt) and `timeouts.request` (the whole exchange, retries and backoff included); a
//! request does not move the scenario's clock, so requests are independent of each other and
//! `count: 500` takes no simulated time. Answers made here, not by a backend:
//! - 503 when the Service has no ready endpoint, or every attempt's connection was reset;
//! - 504 when a timeout expires.
//!
//! The protocol the Gateway speaks to a backend follows the Service port's appProtocol
//! (GEP-1911, KEP-3726 names): `kubernetes.io/h2c` is HTTP/2 with prior knowledge, and the
//! connection-specific headers (`Connection`, `Upgrade`, ...) are dropped, as HTTP/2 forbids
//! them (RFC 9113 §8.2.2); anything else (`kubernetes.io/ws`, `http`, none) is HTTP/1.1, and
//! a WebSocket upgrade passes through: the Gateway forwards `Connection: Upgrade` /
//! `Upgrade: websocket`, returns the backend's 101 and then relays messages both ways. (Some
//! implementations need the `kubernetes.io/ws` opt-in before they pass an upgrade; gwsim, like
//! Envoy-based gateways, passes it to any HTTP/1.1 backend.) A backend port that does not
//! speak that protocol drops the connection: 503, retried like any connection error.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use gwsim_engine::config::BackendClientCertificate;
use gwsim_engine::decision::{Forward, Request, ServiceRef};
use gwsim_engine::filters::apply_header_modifier;
use gwsim_engine::object::{Kind, Object, Snapshot};
use gwsim_engine::runtime::{self, Attempt, AttemptOutcome, Endpoints as _, Exchange, Final, Step};

use crate::backend_tls::Upstream;
use crate::cluster::{EchoedRequest, GrpcEcho, RequestId, Response, TlsReport, WebSocketMessage};
use crate::echo::{EchoPod, EchoReply, HttpVersion, Receipt};
use crate::grpc::Code;
use crate::time::SimTime;
use crate::workloads::{SERVICE_NAME_LABEL, pod_ip, pod_ready};

/// One endpoint: an address and port, and the echo pod behind the address, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Endpoint {
    /// Index into [`Network::pods`]; `None` for an address no pod has (connection reset).
    pod: Option<usize>,
    port: u16,
}

/// The ready endpoints of one Service port.
#[derive(Clone, Debug, Default)]
struct PortEndpoints {
    endpoints: Vec<Endpoint>,
}

/// Services and pods as the data plane sees them.
#[derive(Clone, Debug, Default)]
pub struct Network {
    pods: Vec<EchoPod>,
    /// namespace → service → service port → endpoints.
    services: HashMap<String, HashMap<String, BTreeMap<u16, PortEndpoints>>>,
    /// During [`Network::forward_to_address`]: the one endpoint every attempt reaches.
    pinned: Option<Endpoint>,
}

impl Network {
    pub fn new() -> Network {
        Network::default()
    }

    /// Every echo pod, in namespace/name order.
    pub fn pods(&self) -> &[EchoPod] {
        &self.pods
    }

    /// Re-reads pods, Services and EndpointSlices. Pods keep their state (request log, retry
    /// counts) by namespace and name.
    pub fn rebuild(&mut self, snapshot: &Snapshot) {
        let mut old: HashMap<(String, String), EchoPod> = std::mem::take(&mut self.pods)
            .into_iter()
            .map(|p| ((p.namespace.clone(), p.name.clone()), p))
            .collect();
        let mut by_ip: HashMap<(String, String), usize> = HashMap::new();
        for object in snapshot.of_kind(Kind::Pod) {
            let Object::Pod(pod) = object else { continue };
            // A Gateway's own pod is the data plane, not an echo backend.
            if crate::provision::is_data_plane(&pod.metadata) {
                continue;
            }
            let Some(ip) = pod_ip(pod).filter(|_| pod_ready(pod)) else {
                continue;
            };
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let grpc = serves_grpc(pod);
            let grpc_port = grpc_container_port(pod);
            let tls = crate::backend_tls::serving_tls(pod, snapshot);
            let echo = match old.remove(&(ns.clone(), name.clone())) {
                Some(p) if p.ip == ip && p.grpc == grpc && p.tls == tls => p,
                Some(p) if p.ip == ip && p.grpc == grpc => p.serving_tls(tls),
                _ if grpc => EchoPod::new(&ns, &name, ip).serving_grpc().serving_tls(tls),
                _ => EchoPod::new(&ns, &name, ip).serving_tls(tls),
            }
            .serving_grpc_on(grpc_port);
            // Every address of the pod (IPv4 and IPv6) reaches the same echo backend.
            let all_ips = pod.status.iter().flat_map(|s| s.pod_ips.iter().flatten());
            for extra in all_ips.filter(|p| p.ip != ip) {
                by_ip.insert((ns.clone(), extra.ip.clone()), self.pods.len());
            }
            by_ip.insert((ns, ip.to_string()), self.pods.len());
            self.pods.push(echo);
        }

        // EndpointSlices by the Service they belong to.
        let mut slices: BTreeMap<
            (&str, &str),
            Vec<&k8s_openapi::api::discovery::v1::EndpointSlice>,
        > = BTreeMap::new();
        for object in snapshot.of_kind(Kind::EndpointSlice) {
            let Object::EndpointSlice(slice) = object else {
                continue;
            };
            let Some(service) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
            else {
                continue;
            };
            let ns = slice.metadata.namespace.as_deref().unwrap_or_default();
            slices
                .entry((ns, service.as_str()))
                .or_default()
                .push(slice);
        }

        self.services.clear();
        for object in snapshot.of_kind(Kind::Service) {
            let Object::Service(service) = object else {
                continue;
            };
            let ns = service.metadata.namespace.as_deref().unwrap_or_default();
            let name = service.metadata.name.as_deref().unwrap_or_default();
            let spec = service.spec.as_ref();
            let external = spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName");
            let mut ports: BTreeMap<u16, PortEndpoints> = BTreeMap::new();
            for port in spec.and_then(|s| s.ports.as_deref()).unwrap_or_default() {
                let Ok(number) = u16::try_from(port.port) else {
                    continue;
                };
                let port_name = port.name.as_deref().unwrap_or("");
                let mut endpoints = Vec::new();
                if !external {
                    for slice in slices.get(&(ns, name)).into_iter().flatten() {
                        let Some(target) = slice
                            .ports
                            .iter()
                            .flatten()
                            .find(|p| p.name.as_deref().unwrap_or("") == port_name)
                            .and_then(|p| p.port)
                            .and_then(|p| u16::try_from(p).ok())
                        else {
                            continue;
                        };
                        for endpoint in &slice.endpoints {
                            // Ready unless said otherwise (EndpointConditions.ready).
                            let ready = endpoint
                                .conditions
                                .as_ref()
                                .and_then(|c| c.ready)
                                .unwrap_or(true);
                            let Some(address) = endpoint.addresses.first() else {
                                continue;
                            };
                            if !ready {
                                continue;
                            }
                            let pod = by_ip.get(&(ns.to_string(), address.clone())).copied();
                            endpoints.push(Endpoint { pod, port: target });
                        }
                    }
                }
                ports.insert(number, PortEndpoints { endpoints });
            }
            self.services
                .entry(ns.to_string())
                .or_default()
                .insert(name.to_string(), ports);
        }
    }

    /// Number of ready endpoints of a Service port (0 when the Service or port is unknown).
    pub fn endpoint_count(&self, backend: &ServiceRef) -> usize {
        self.services
            .get(&backend.namespace)
            .and_then(|s| s.get(&backend.name))
            .and_then(|ports| ports.get(&backend.port))
            .map_or(0, |p| p.endpoints.len())
    }

    /// Every Service port with its ready endpoints: the pod behind each (`None` for an
    /// address no pod has) and the port it listens on. In namespace, name, port order.
    pub fn service_endpoints(&self) -> Vec<(ServiceRef, Vec<ServedBy<'_>>)> {
        let mut out = Vec::new();
        let mut namespaces: Vec<_> = self.services.iter().collect();
        namespaces.sort_by_key(|(ns, _)| ns.as_str());
        for (ns, services) in namespaces {
            let mut services: Vec<_> = services.iter().collect();
            services.sort_by_key(|(name, _)| name.as_str());
            for (name, ports) in services {
                for (port, set) in ports {
                    let backend = ServiceRef {
                        namespace: ns.clone(),
                        name: name.clone(),
                        port: *port,
                        app_protocol: None,
                        tls: None,
                    };
                    let endpoints = set
                        .endpoints
                        .iter()
                        .map(|e| (e.pod.map(|i| &self.pods[i]), e.port))
                        .collect();
                    out.push((backend, endpoints));
                }
            }
        }
        out
    }

    /// Whether a pod of `backend` in `namespace` (any, when `None`) logged request `id`.
    pub fn received(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> bool {
        self.receipt(namespace, backend, id) == Receipt::Received
    }

    /// [`Network::received`], or whether the pods' logs no longer tell.
    pub fn receipt(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> Receipt {
        self.pods
            .iter()
            .filter(|p| {
                namespace.is_none_or(|ns| p.namespace == ns)
                    && p.name.len() > backend.len()
                    && p.name.starts_with(backend)
                    && p.name.as_bytes()[backend.len()] == b'-'
            })
            .fold(Receipt::NotReceived, |got, p| got.or(p.receipt(id)))
    }

    /// Picks an endpoint of a Service port for delivery `salt` of request `id`.
    fn pick(&self, backend: &ServiceRef, id: RequestId, salt: u64) -> Option<Endpoint> {
        if let Some(pinned) = &self.pinned {
            return Some(pinned.clone());
        }
        let set = self
            .services
            .get(&backend.namespace)?
            .get(&backend.name)?
            .get(&backend.port)?;
        if set.endpoints.is_empty() {
            return None;
        }
        let index = mix(id.0, salt) % set.endpoints.len() as u64;
        set.endpoints.get(index as usize).cloned()
    }

    /// The pod and port a forwarded connection reaches: an endpoint of the Service port
    /// chosen by `rng` (connections carry no request id). `None` when the port has no ready
    /// endpoint, or the endpoint is an address no pod has.
    pub fn connection_endpoint(
        &self,
        backend: &ServiceRef,
        rng: &mut dyn rand::RngCore,
    ) -> Option<(&EchoPod, u16)> {
        let set = self
            .services
            .get(&backend.namespace)?
            .get(&backend.name)?
            .get(&backend.port)?;
        if set.endpoints.is_empty() {
            return None;
        }
        let index = rng.next_u64() % set.endpoints.len() as u64;
        let endpoint = set.endpoints.get(index as usize)?;
        Some((self.pods.get(endpoint.pod?)?, endpoint.port))
    }

    /// Delivers a forwarded request: mirrors first, then the request itself with retries and
    /// timeouts, then the response filters.
    pub fn forward(&mut self, forward: Forward, id: RequestId, now: SimTime) -> Response {
        self.forward_session(forward, &[], None, id, now)
    }

    /// The pod with address `ip`, if a ready echo pod has it.
    pub fn pod_at(&self, ip: &str) -> Option<&EchoPod> {
        self.pods.iter().find(|p| p.ip == ip)
    }

    /// Delivers `forward` to the pod with address `ip` on `port` itself, as a client that
    /// connects to a pod's address does (no Service, no endpoint choice); a pod that does not
    /// exist resets the connection (503). `forward.backend` only names the destination.
    pub fn forward_to_address(
        &mut self,
        forward: Forward,
        ip: &str,
        port: u16,
        id: RequestId,
        now: SimTime,
    ) -> Response {
        let pod = self.pods.iter().position(|p| p.ip == ip);
        self.pinned = Some(Endpoint { pod, port });
        let response = self.forward_session(forward, &[], None, id, now);
        self.pinned = None;
        response
    }

    /// Delivers a forwarded request as [`Network::forward`] does; when the backend accepts an
    /// upgrade (101), the Gateway then relays `messages` to it, in order, and the response
    /// carries the backend's answers. `client` is the certificate the Gateway presents to
    /// backends that ask for one (`Gateway.spec.tls.backend.clientCertificateRef`).
    pub fn forward_session(
        &mut self,
        forward: Forward,
        messages: &[WebSocketMessage],
        client: Option<&BackendClientCertificate>,
        id: RequestId,
        now: SimTime,
    ) -> Response {
        let Forward {
            backend,
            request,
            response_modifiers,
            response_headers,
            mirror_requests,
            timeouts,
            retry,
            ..
        } = forward;
        let mut request = request;
        // Over TLS the protocol is negotiated (ALPN): the Gateway offers h2 for a gRPC call,
        // which needs HTTP/2, and what the appProtocol says otherwise.
        let version = if backend.tls.is_some() && is_grpc_call(&request) {
            HttpVersion::H2c
        } else {
            backend_version(&backend)
        };
        if version == HttpVersion::H2c {
            drop_connection_headers(&mut request.headers);
        }

        // Each mirror gets the request as the filters before its RequestMirror left it; its
        // answer is dropped. A mirror port in another protocol drops the connection unlogged.
        for (n, mirror) in mirror_requests.iter().enumerate() {
            if let Some(Endpoint { pod: Some(i), port }) =
                self.pick(&mirror.backend, id, MIRROR_SALT + n as u64)
                && self.pods[i].speaks_on(port) == backend_version(&mirror.backend)
                && matches!(
                    self.upstream(&mirror.backend, i, port, client, now),
                    Upstream::Plain | Upstream::Tls(_)
                )
            {
                self.pods[i].record(&mirror.request, id, now);
            }
        }

        let mut exchange = Exchange::new(&timeouts, retry.as_ref());
        let mut answer: Option<BackendAnswer> = None;
        // The TLS session of the last answered attempt, as the backend saw it.
        let mut session: Option<TlsReport> = None;
        // A gRPC echo's last answer: its status and trailers.
        let mut grpc: Option<(Code, Vec<(String, String)>)> = None;
        let outcome = loop {
            let endpoint =
                RequestEndpoints { network: self, id }.pick(&backend, exchange.attempt_number());
            let (outcome, took) = match endpoint {
                None => (AttemptOutcome::NoEndpoints, Duration::ZERO),
                Some(endpoint) => {
                    let now = now.after(exchange.elapsed());
                    let reply = match endpoint.pod {
                        Some(i) => match self.upstream(&backend, i, endpoint.port, client, now) {
                            Upstream::Plain => {
                                session = None;
                                self.pods[i].serve(&request, version, endpoint.port, id, now)
                            }
                            Upstream::Tls(report) => {
                                session = Some(report);
                                self.pods[i].serve(&request, version, endpoint.port, id, now)
                            }
                            // Go's HTTP server answers plain HTTP on its TLS port with 400.
                            Upstream::PlainToTls => EchoReply::Answer {
                                status: 400,
                                headers: Vec::new(),
                                echo: false,
                                delay: Duration::ZERO,
                            },
                            // A failed handshake is a failed connection.
                            Upstream::Failed(_) => EchoReply::Reset {
                                delay: Duration::ZERO,
                            },
                        },
                        None => EchoReply::Reset {
                            delay: Duration::ZERO,
                        },
                    };
                    match reply {
                        EchoReply::Answer {
                            status,
                            headers,
                            echo,
                            delay,
                        } => {
                            grpc = None;
                            answer = Some((headers, endpoint, echo));
                            (AttemptOutcome::Answered { status }, delay)
                        }
                        EchoReply::Reset { delay } => (AttemptOutcome::Reset, delay),
                        EchoReply::Grpc { code, message } => {
                            let (headers, trailers) = grpc_answer(code, &message);
                            grpc = Some((code, trailers));
                            answer = Some((headers, endpoint, code == Code::OK));
                            (AttemptOutcome::Answered { status: 200 }, Duration::ZERO)
                        }
                    }
                }
            };
            if let Step::Finish(end) = exchange.record(Attempt { outcome, took }) {
                break end;
            }
        };

        let mut response = match (outcome, answer) {
            (Final::Answered { status }, Some((headers, endpoint, echo))) if grpc.is_some() => {
                let trailers = grpc.map(|(_, t)| t).unwrap_or_default();
                let grpc_echo = endpoint
                    .pod
                    .filter(|_| echo)
                    .map(|i| grpc_echoed(&request, &self.pods[i], &backend.name));
                Response {
                    status,
                    headers,
                    echo: None,
                    messages: Vec::new(),
                    trailers,
                    grpc_echo,
                }
            }
            (Final::Answered { status }, Some((headers, endpoint, echo))) => {
                let echo = endpoint
                    .pod
                    .filter(|_| echo)
                    .map(|i| echoed(request, &self.pods[i], &backend, endpoint.port, version))
                    .map(|mut e| {
                        e.tls = session;
                        e
                    });
                // Switching Protocols: the connection now carries WebSocket messages, which
                // the Gateway relays to the backend and back.
                let messages = match endpoint.pod {
                    Some(i) if status == 101 => messages
                        .iter()
                        .map(|m| self.pods[i].echo_message(m))
                        .collect(),
                    _ => Vec::new(),
                };
                Response {
                    status,
                    headers,
                    echo,
                    messages,
                    trailers: Vec::new(),
                    grpc_echo: None,
                }
            }
            (end, _) => Response::local(end.local_status().unwrap_or(502), Vec::new()),
        };
        for modifier in &response_modifiers {
            apply_header_modifier(&mut response.headers, modifier);
        }
        response.headers.extend(response_headers);
        response
    }
}

impl Network {
    /// Why the Gateway's TLS handshake with the first ready endpoint of `backend` fails, if it
    /// does (for explanations; delivery itself goes through [`Network::forward_session`]).
    pub fn handshake_failure(
        &self,
        backend: &ServiceRef,
        client: Option<&BackendClientCertificate>,
        now: SimTime,
    ) -> Option<String> {
        backend.tls.as_ref()?;
        let set = self
            .services
            .get(&backend.namespace)?
            .get(&backend.name)?
            .get(&backend.port)?;
        let endpoint = set.endpoints.iter().find(|e| e.pod.is_some())?;
        match self.upstream(backend, endpoint.pod?, endpoint.port, client, now) {
            Upstream::Failed(why) => Some(why),
            _ => None,
        }
    }

    /// The Gateway's connection to port `port` of pod `pod` for `backend` (TLS when a
    /// BackendTLSPolicy applies to it; see `backend_tls`).
    fn upstream(
        &self,
        backend: &ServiceRef,
        pod: usize,
        port: u16,
        client: Option<&BackendClientCertificate>,
        now: SimTime,
    ) -> Upstream {
        crate::backend_tls::connect(
            backend.tls.as_deref(),
            self.pods[pod].tls.as_deref(),
            port,
            client,
            crate::tls::unix_seconds(now),
        )
    }
}

/// Salt of mirror deliveries, apart from the attempts' (0, 1, ...).
const MIRROR_SALT: u64 = 1 << 32;

/// SplitMix64 of a request id and a salt: a well-spread, stable endpoint index.
fn mix(id: u64, salt: u64) -> u64 {
    let mut z = id
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(salt.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An endpoint as [`Network::service_endpoints`] lists it: the pod behind the address
/// (`None`: no pod has it) and the port the pod listens on.
pub type ServedBy<'a> = (Option<&'a EchoPod>, u16);

/// The last answer's headers, the endpoint that gave it, and whether its body is an echo.
type BackendAnswer = (Vec<(String, String)>, Endpoint, bool);

/// Endpoint lookup for the attempts of one request.
struct RequestEndpoints<'a> {
    network: &'a Network,
    id: RequestId,
}

impl runtime::Endpoints for RequestEndpoints<'_> {
    type Endpoint = Endpoint;

    fn pick(&mut self, backend: &ServiceRef, attempt: u32) -> Option<Endpoint> {
        self.network.pick(backend, self.id, u64::from(attempt))
    }
}

/// The HTTP version the Gateway speaks to a Service port, from its appProtocol (GEP-1911).
fn backend_version(backend: &ServiceRef) -> HttpVersion {
    match backend.app_protocol.as_deref() {
        Some("kubernetes.io/h2c") => HttpVersion::H2c,
        _ => HttpVersion::Http11,
    }
}

/// Whether a header is connection-specific, which an HTTP/2 message must not carry (RFC 9113
/// §8.2.2): `TE` is allowed only as `trailers`.
pub fn is_connection_specific(name: &str, value: &str) -> bool {
    const NAMES: [&str; 5] = [
        "connection",
        "proxy-connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
    ];
    NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
        || (name.eq_ignore_ascii_case("te") && !value.trim().eq_ignore_ascii_case("trailers"))
}

/// Whether a request is a gRPC call (`content-type: application/grpc`, with or without a
/// `+codec` suffix).
fn is_grpc_call(request: &Request) -> bool {
    request.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("content-type")
            && v.to_ascii_lowercase().starts_with("application/grpc")
    })
}

/// Drops the headers an HTTP/2 hop cannot carry.
fn drop_connection_headers(headers: &mut Vec<(String, String)>) {
    headers.retain(|(name, value)| !is_connection_specific(name, value));
}

/// Header names and values, in order.
pub type Headers = Vec<(String, String)>;

/// Whether a Pod runs upstream's echo image as its gRPC echo: a container sets the
/// `GRPC_ECHO_SERVER` environment variable (to anything but empty), as upstream's gRPC
/// backends do.
pub fn serves_grpc(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.env.iter().flatten())
        .any(|e| {
            e.name == crate::grpc::ECHO_SERVER_ENV
                && e.value.as_deref().is_some_and(|v| !v.is_empty())
        })
}

/// The container port named `grpc`, where an HTTP echo serves the gRPC echo too (upstream's
/// mesh echo, `--grpc=PORT`).
pub fn grpc_container_port(pod: &k8s_openapi::api::core::v1::Pod) -> Option<u16> {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some("grpc"))
        .and_then(|p| u16::try_from(p.container_port).ok())
}

/// The headers and trailers of a gRPC echo's answer, as grpc-go writes them: an OK call has
/// its status in the trailers; a failed one is trailers-only (the status in the headers).
pub fn grpc_answer(code: Code, message: &str) -> (Headers, Headers) {
    let mut headers = vec![(
        "content-type".to_string(),
        crate::grpc::CONTENT_TYPE.to_string(),
    )];
    let mut status = vec![("grpc-status".to_string(), code.0.to_string())];
    if !message.is_empty() {
        status.push(("grpc-message".to_string(), message.to_string()));
    }
    if code == Code::OK {
        (headers, status)
    } else {
        headers.extend(status);
        (headers, Vec::new())
    }
}

/// The gRPC echo's report of a call.
pub fn grpc_echoed(request: &Request, pod: &EchoPod, service: &str) -> GrpcEcho {
    GrpcEcho {
        fully_qualified_method: request.path.clone(),
        headers: crate::grpc::reported_metadata(&request.host, &request.headers),
        authority: request.host.clone(),
        namespace: pod.namespace.clone(),
        service_name: service.to_string(),
        pod: pod.name.clone(),
    }
}

fn echoed(
    request: Request,
    pod: &EchoPod,
    backend: &ServiceRef,
    port: u16,
    version: HttpVersion,
) -> EchoedRequest {
    EchoedRequest {
        path: request.path,
        host: request.host,
        method: request.method,
        proto: version.proto().to_string(),
        headers: request.headers,
        namespace: pod.namespace.clone(),
        pod: pod.name.clone(),
        service: backend.name.clone(),
        http_port: port,
        tls: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::workloads::Workloads;
    use crate::workloads::tests::{deployment, service};
    use gwsim_engine::config::{HeaderModifier, Retry, Timeouts};
    use gwsim_engine::decision::MirroredRequest;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::discovery::v1::{Endpoint as SliceEndpoint, EndpointPort, EndpointSlice};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn cluster() -> (Store, Network) {
        let mut store = Store::new(SimTime::START);
        store.put(
            Object::Namespace(Box::new(Namespace {
                metadata: ObjectMeta {
                    name: Some("apps".into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            })),
            SimTime::START,
        );
        store.put(deployment("apps", "web", 2, "echo"), SimTime::START);
        store.put(service("apps", "web", Some("web"), false), SimTime::START);
        store.put(
            service("apps", "headless", Some("web"), true),
            SimTime::START,
        );
        store.put(service("apps", "manual", None, false), SimTime::START);
        store.put(service("apps", "empty", None, false), SimTime::START);
        Workloads::new().sync(&mut store, SimTime::START);
        let ips: Vec<String> = store
            .list(Kind::Pod)
            .filter_map(|o| match o {
                Object::Pod(p) => pod_ip(p).map(String::from),
                _ => None,
            })
            .collect();
        let mut endpoints: Vec<SliceEndpoint> = ips
            .iter()
            .map(|ip| SliceEndpoint {
                addresses: vec![ip.clone()],
                ..SliceEndpoint::default()
            })
            .collect();
        endpoints.push(SliceEndpoint {
            addresses: vec!["192.0.2.1".into()],
            conditions: Some(k8s_openapi::api::discovery::v1::EndpointConditions {
                ready: Some(false),
                ..Default::default()
            }),
            ..SliceEndpoint::default()
        });
        store.put(
            Object::EndpointSlice(Box::new(EndpointSlice {
                metadata: ObjectMeta {
                    name: Some("manual-1".into()),
                    namespace: Some("apps".into()),
                    labels: Some([(SERVICE_NAME_LABEL.to_string(), "manual".to_string())].into()),
                    ..ObjectMeta::default()
                },
                address_type: "IPv4".into(),
                endpoints,
                ports: Some(vec![EndpointPort {
                    name: Some("first".into()),
                    port: Some(3000),
                    ..EndpointPort::default()
                }]),
            })),
            SimTime::START,
        );
        let mut network = Network::new();
        network.rebuild(store.snapshot());
        (store, network)
    }

    fn target(name: &str, port: u16) -> ServiceRef {
        ServiceRef {
            namespace: "apps".into(),
            name: name.into(),
            port,
            app_protocol: None,
            tls: None,
        }
    }

    fn forward(backend: ServiceRef, path: &str) -> Forward {
        Forward {
            backend,
            request: Request::get("example.com", path),
            response_modifiers: Vec::new(),
            response_headers: Vec::new(),
            mirrors: Vec::new(),
            mirror_requests: Vec::new(),
            timeouts: Timeouts::default(),
            retry: None,
        }
    }

    #[test]
    fn endpoints_from_selectors_and_manual_slices() {
        let (_, network) = cluster();
        assert_eq!(network.pods().len(), 2);
        assert_eq!(network.endpoint_count(&target("web", 8080)), 2);
        assert_eq!(network.endpoint_count(&target("web", 8081)), 2);
        assert_eq!(network.endpoint_count(&target("headless", 8080)), 2);
        // The not-ready manual endpoint is left out; the port without a slice port has none.
        assert_eq!(network.endpoint_count(&target("manual", 8080)), 2);
        assert_eq!(network.endpoint_count(&target("manual", 8081)), 0);
        assert_eq!(network.endpoint_count(&target("empty", 8080)), 0);
        assert_eq!(network.endpoint_count(&target("nope", 8080)), 0);
    }

    #[test]
    fn delivers_to_every_pod_and_echoes() {
        let (_, mut network) = cluster();
        let mut pods = Vec::new();
        for i in 0..16 {
            let r = network.forward(
                forward(target("manual", 8080), "/x"),
                RequestId(i),
                SimTime::START,
            );
            assert_eq!(r.status, 200);
            let echo = r.echo.expect("echo");
            assert_eq!(
                (echo.path.as_str(), echo.service.as_str(), echo.http_port),
                ("/x", "manual", 3000)
            );
            assert!(echo.pod.starts_with("web-"));
            pods.push(echo.pod);
        }
        let distinct: std::collections::BTreeSet<&String> = pods.iter().collect();
        assert_eq!(distinct.len(), 2, "both pods get requests");
        // The same request id goes to the same pod.
        let again = network.forward(
            forward(target("manual", 8080), "/x"),
            RequestId(3),
            SimTime::START,
        );
        assert_eq!(again.echo.expect("echo").pod, pods[3]);
        assert!(network.received(Some("apps"), "web", RequestId(3)));
        assert!(!network.received(Some("other"), "web", RequestId(3)));
        assert!(!network.received(None, "we", RequestId(3)));
    }

    #[test]
    fn no_endpoints_answers_503() {
        let (_, mut network) = cluster();
        let r = network.forward(
            forward(target("empty", 8080), "/"),
            RequestId(0),
            SimTime::START,
        );
        assert_eq!((r.status, r.echo.is_none()), (503, true));
    }

    #[test]
    fn timeouts_in_virtual_time() {
        let (_, mut network) = cluster();
        let cases = [
            (Some(500), None, "/?delay=1s", 504),
            (None, Some(500), "/?delay=1s", 504),
            (Some(500), None, "/?delay=400ms", 200),
            (None, None, "/?delay=1h", 200),
        ];
        for (request, backend_request, path, want) in cases {
            let mut f = forward(target("web", 8080), path);
            f.timeouts = Timeouts {
                request: request.map(Duration::from_millis),
                backend_request: backend_request.map(Duration::from_millis),
            };
            let r = network.forward(f, RequestId(0), SimTime::START);
            assert_eq!(r.status, want, "{path} {request:?} {backend_request:?}");
        }
    }

    #[test]
    fn retries_follow_codes_attempts_and_timeouts() {
        let (_, mut network) = cluster();
        let retry = |codes: Vec<u16>, attempts: u32| Retry {
            codes,
            attempts,
            backoff: None,
        };
        // infra-backend-v3 style: one pod behind the Service so the uuid state is in one place.
        let cases: Vec<(&str, Option<Retry>, Timeouts, u16)> = vec![
            (
                "/retry/?uuid=1&succeedAfter=2&responseCode=500",
                Some(retry(vec![500], 2)),
                Timeouts::default(),
                200,
            ),
            (
                "/retry/?uuid=2&succeedAfter=3&responseCode=500",
                Some(retry(vec![500], 1)),
                Timeouts::default(),
                500,
            ),
            (
                "/retry/?uuid=3&succeedAfter=1&responseCode=502",
                Some(retry(vec![500], 3)),
                Timeouts::default(),
                502,
            ),
            (
                "/retry/?uuid=4&succeedAfter=1",
                Some(retry(vec![], 1)),
                Timeouts::default(),
                200,
            ),
            (
                "/retry/?uuid=5&succeedAfter=1",
                None,
                Timeouts::default(),
                503,
            ),
            (
                "/retry/?uuid=6&succeedAfter=2&responseCode=500&delayRetry=300ms",
                Some(retry(vec![500], 2)),
                Timeouts {
                    request: Some(Duration::from_millis(400)),
                    backend_request: None,
                },
                504,
            ),
            (
                // Four failures of 100ms reach the 400ms deadline: no fifth attempt.
                "/retry/?uuid=9&succeedAfter=4&responseCode=500&delayRetry=100ms",
                Some(retry(vec![500], 5)),
                Timeouts {
                    request: Some(Duration::from_millis(400)),
                    backend_request: Some(Duration::from_millis(200)),
                },
                504,
            ),
            (
                "/retry/?uuid=8&succeedAfter=2&responseCode=500&delayRetry=300ms",
                Some(retry(vec![], 2)),
                Timeouts {
                    request: None,
                    backend_request: Some(Duration::from_millis(200)),
                },
                200,
            ),
            (
                "/retry/?uuid=7&succeedAfter=1&responseCode=500&delayRetry=300ms",
                Some(retry(vec![500, 504], 2)),
                Timeouts {
                    request: Some(Duration::from_millis(1000)),
                    backend_request: Some(Duration::from_millis(200)),
                },
                200,
            ),
        ];
        for (path, retry, timeouts, want) in cases {
            // A fresh network each time, so uuids start at attempt 0.
            let (_, mut fresh) = cluster();
            let mut single = forward(target("web", 8080), path);
            single.retry = retry;
            single.timeouts = timeouts;
            // Make every attempt hit the same pod by routing through a one-endpoint set.
            if let Some(set) = fresh
                .services
                .get_mut("apps")
                .and_then(|s| s.get_mut("web"))
                .and_then(|p| p.get_mut(&8080))
            {
                set.endpoints.truncate(1);
            }
            let r = fresh.forward(single, RequestId(0), SimTime::START);
            assert_eq!(r.status, want, "{path}");
        }
        let _ = network.forward(
            forward(target("web", 8080), "/"),
            RequestId(0),
            SimTime::START,
        );
    }

    /// Issue 10, finding 1: a retried request whose delay is near `Duration::MAX` overflowed
    /// the retry loop's elapsed time (a panic). A delay past Go's duration limit is refused by
    /// the echo (400, not retried); the largest one it accepts saturates and times out.
    #[test]
    fn retried_huge_delays_do_not_overflow() {
        let (_, mut network) = cluster();
        let mut refused = forward(target("web", 8080), "/?delay=4000000000000000h");
        refused.retry = Some(Retry {
            codes: vec![400],
            attempts: 3,
            backoff: Some(Duration::from_secs(1)),
        });
        let answer = network.forward(refused, RequestId(2), SimTime::START);
        assert_eq!(answer.status, 400);
        let mut f = forward(target("web", 8080), "/?delay=2562047h");
        f.retry = Some(Retry {
            codes: Vec::new(),
            attempts: 3,
            backoff: Some(Duration::from_secs(1)),
        });
        f.timeouts.backend_request = Some(Duration::from_secs(1));
        assert_eq!(
            network
                .forward(f.clone(), RequestId(0), SimTime::START)
                .status,
            504
        );
        f.timeouts = Timeouts::default();
        f.retry = Some(Retry {
            codes: vec![200],
            attempts: 3,
            backoff: Some(Duration::from_secs(1)),
        });
        assert_eq!(network.forward(f, RequestId(1), SimTime::START).status, 200);
    }

    #[test]
    fn mirrors_are_logged_and_response_filters_applied() {
        let (_, mut network) = cluster();
        let mut f = forward(target("web", 8080), "/m");
        f.request.headers.push((
            "X-Echo-Set-Header".into(),
            "X-From-Backend: b, X-Drop: d".into(),
        ));
        f.mirror_requests = [target("manual", 8080), target("empty", 8080)]
            .into_iter()
            .map(|backend| MirroredRequest {
                backend,
                request: Request::get("example.com", "/m"),
            })
            .collect();
        f.response_modifiers = vec![HeaderModifier {
            set: vec![("x-from-backend".into(), "set".into())],
            add: vec![("X-Added".into(), "a".into())],
            remove: vec!["X-DROP".into()],
        }];
        f.response_headers = vec![("Access-Control-Allow-Origin".into(), "*".into())];
        let r = network.forward(f, RequestId(9), SimTime::START);
        assert_eq!(r.header("x-from-backend").as_deref(), Some("set"));
        assert_eq!(r.header("X-Added").as_deref(), Some("a"));
        assert_eq!(r.header("X-Drop"), None);
        assert_eq!(
            r.header("access-control-allow-origin").as_deref(),
            Some("*")
        );
        // Two deliveries of id 9: the mirror copy and the request itself.
        let copies: usize = network
            .pods()
            .iter()
            .map(|p| p.log().iter().filter(|e| e.id == RequestId(9)).count())
            .sum();
        assert_eq!(copies, 2);
    }

    #[test]
    fn pod_state_survives_rebuilds() {
        let (store, mut network) = cluster();
        network.forward(
            forward(target("web", 8080), "/"),
            RequestId(5),
            SimTime::START,
        );
        network.rebuild(store.snapshot());
        assert!(network.received(None, "web", RequestId(5)));
    }

    /// `proto`: the conformance base's infra-backend-v1 ports, over the `web` pods.
    fn with_protocol_ports() -> Network {
        use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
        use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
        let (mut store, _) = cluster();
        let port = |name: &str, port: i32, target: i32, app: Option<&str>| ServicePort {
            name: Some(name.into()),
            port,
            target_port: Some(IntOrString::Int(target)),
            app_protocol: app.map(String::from),
            ..ServicePort::default()
        };
        store.put(
            Object::Service(Box::new(Service {
                metadata: ObjectMeta {
                    name: Some("proto".into()),
                    namespace: Some("apps".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(ServiceSpec {
                    selector: Some([("app".to_string(), "web".to_string())].into()),
                    ports: Some(vec![
                        port("first-port", 8080, 3000, None),
                        port("second-port", 8081, 3001, Some("kubernetes.io/h2c")),
                        port("third-port", 8082, 3000, Some("kubernetes.io/ws")),
                    ]),
                    ..ServiceSpec::default()
                }),
                status: None,
            })),
            SimTime::START,
        );
        Workloads::new().sync(&mut store, SimTime::START);
        let mut network = Network::new();
        network.rebuild(store.snapshot());
        network
    }

    fn proto(port: u16, app_protocol: Option<&str>) -> ServiceRef {
        ServiceRef {
            app_protocol: app_protocol.map(String::from),
            ..target("proto", port)
        }
    }

    const H2C: Option<&str> = Some("kubernetes.io/h2c");
    const WS: Option<&str> = Some("kubernetes.io/ws");

    #[test]
    fn the_gateway_speaks_what_the_app_protocol_says() {
        // (Service port, appProtocol the Gateway honours, status, proto the backend saw)
        let cases = [
            (8080, None, 200, Some("HTTP/1.1")),
            (8082, WS, 200, Some("HTTP/1.1")),
            (8081, H2C, 200, Some("HTTP/2.0")),
            // A Gateway that ignored appProtocol would speak HTTP/1.1 to the h2c-only port:
            // the connection fails, and no pod logs the request.
            (8081, None, 503, None),
            (8081, WS, 503, None),
            // HTTP/2 prior knowledge to the HTTP/1.1 port fails the same way.
            (8080, H2C, 503, None),
        ];
        for (n, (port, app, status, seen)) in cases.into_iter().enumerate() {
            let mut network = with_protocol_ports();
            let id = RequestId(n as u64);
            let r = network.forward(forward(proto(port, app), "/"), id, SimTime::START);
            assert_eq!(r.status, status, "{port} {app:?}");
            assert_eq!(
                r.echo.as_ref().map(|e| e.proto.as_str()),
                seen,
                "{port} {app:?}"
            );
            assert_eq!(network.received(None, "web", id), seen.is_some());
        }
        // Retries do not help: every pod's h2c port refuses HTTP/1.1.
        let mut network = with_protocol_ports();
        let mut f = forward(proto(8081, None), "/");
        f.retry = Some(Retry {
            codes: Vec::new(),
            attempts: 3,
            backoff: None,
        });
        assert_eq!(network.forward(f, RequestId(0), SimTime::START).status, 503);
        let r = network.forward(forward(proto(8081, H2C), "/"), RequestId(1), SimTime::START);
        assert_eq!(r.echo.map(|e| e.http_port), Some(3001));
    }

    #[test]
    fn http2_hops_drop_connection_specific_headers() {
        let mut network = with_protocol_ports();
        let headers = [
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("X-Kept", "1"),
        ];
        for (app, want) in [
            (H2C, vec!["TE", "X-Kept"]),
            (None, vec!["Connection", "Keep-Alive", "TE", "X-Kept"]),
        ] {
            let port = if app.is_some() { 8081 } else { 8080 };
            let mut f = forward(proto(port, app), "/");
            f.request.headers = headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            let echo = network
                .forward(f, RequestId(0), SimTime::START)
                .echo
                .expect("echo");
            let names: Vec<&str> = echo.headers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, want, "{app:?}");
        }
        assert!(is_connection_specific("te", "gzip"));
        assert!(!is_connection_specific("te", " Trailers"));
        assert!(is_connection_specific("UPGRADE", "websocket"));
    }

    #[test]
    fn websocket_sessions_relay_messages() {
        use crate::cluster::websocket_handshake;
        let messages = [
            WebSocketMessage::Text("Websocket Support!".into()),
            WebSocketMessage::Binary(vec![1, 2, 3, 4, 5, 6, 7]),
        ];
        let session = |network: &mut Network, backend: ServiceRef, path: &str| {
            let mut f = forward(backend, path);
            f.request = websocket_handshake(&f.request);
            network.forward_session(f, &messages, None, RequestId(0), SimTime::START)
        };
        let mut network = with_protocol_ports();
        // kubernetes.io/ws, and (gwsim's choice, documented) a plain HTTP/1.1 port too.
        for backend in [proto(8082, WS), proto(8080, None)] {
            let r = session(&mut network, backend, "/ws");
            assert_eq!(r.status, 101);
            assert_eq!(r.header("upgrade").as_deref(), Some("websocket"));
            assert_eq!(r.messages, messages);
            assert_eq!(r.echo, None);
        }
        // Refused upgrades carry no messages: the h2c hop drops the upgrade headers (400 at
        // /ws), another path answers with an echo, a backend without endpoints is 503.
        let refused = [
            (proto(8081, H2C), "/ws", 400),
            (proto(8082, WS), "/", 200),
            (target("empty", 8080), "/ws", 503),
        ];
        for (backend, path, status) in refused {
            let r = session(&mut network, backend, path);
            assert_eq!((r.status, r.messages.len()), (status, 0), "{path}");
        }
        // A plain forward never relays messages, even if the backend switches protocols.
        let mut f = forward(proto(8082, WS), "/ws");
        f.request = websocket_handshake(&f.request);
        let r = network.forward(f, RequestId(0), SimTime::START);
        assert_eq!((r.status, r.messages.len()), (101, 0));
    }

    #[test]
    fn mirrors_to_a_port_in_another_protocol_are_lost() {
        let mut network = with_protocol_ports();
        let mut f = forward(target("web", 8080), "/m");
        f.mirror_requests = [proto(8081, None), proto(8081, H2C)]
            .into_iter()
            .map(|backend| MirroredRequest {
                backend,
                request: Request::get("example.com", "/m"),
            })
            .collect();
        network.forward(f, RequestId(4), SimTime::START);
        let copies: usize = network
            .pods()
            .iter()
            .map(|p| p.log().iter().filter(|e| e.id == RequestId(4)).count())
            .sum();
        // The request itself and the h2c mirror; the HTTP/1.1 copy to 3001 was dropped.
        assert_eq!(copies, 2);
    }
}
