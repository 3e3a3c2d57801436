//! The Services behind the Gateways: in-process echo servers (one per ready endpoint,
//! speaking the echo contract through the simulator's own echo logic) and the user's own
//! backends named with `--backend`.
//!
//! A Service of the input without any EndpointSlice (plain configuration files have no
//! workloads) gets one echo endpoint per port, so that `gwsim serve -f config.yaml` answers;
//! a Service whose EndpointSlices list no ready endpoint answers 503.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use gwsim_engine::decision::{Request, ServiceRef};
use gwsim_engine::object::{Kind, Object, Snapshot};
use gwsim_sim::RequestId;
use gwsim_sim::cluster::{EchoedRequest, TlsReport};
use gwsim_sim::echo::{EchoPod, EchoReply, HttpVersion, Receipt};
use gwsim_sim::grpc::{self, Code};
use gwsim_sim::network::{Network, grpc_answer, grpc_echoed};
use gwsim_sim::time::SimTime;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::ProxyError;
use crate::body::Reply;
use crate::podlog::{EchoLogs, echo_line, logged_by_echo_handler};

/// A request header that names the request for the echo backends' logs: an echo server
/// logs the request under that id (how mirror copies are observed over the wire) and drops
/// the header before it answers or reports, so it changes nothing else.
pub const REQUEST_ID_HEADER: &str = "x-gwsim-request-id";

/// Where one attempt goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A socket to connect to.
    Addr(SocketAddr),
    /// An endpoint address no pod has: the connection fails.
    Unreachable,
}

/// A `--backend NS/SERVICE=URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserBackend {
    pub namespace: String,
    pub service: String,
    pub addr: SocketAddr,
}

impl UserBackend {
    /// Parses `NS/SERVICE=http://HOST:PORT` (a trailing `/` allowed); HOST resolved now.
    pub fn parse(spec: &str) -> Result<UserBackend, ProxyError> {
        let bad = || ProxyError::BackendSpec(spec.to_string());
        let (service, url) = spec.split_once('=').ok_or_else(bad)?;
        let (namespace, service) = service.split_once('/').ok_or_else(bad)?;
        let authority = url
            .strip_prefix("http://")
            .ok_or_else(bad)?
            .trim_end_matches('/');
        if namespace.is_empty() || service.is_empty() || authority.contains('/') {
            return Err(bad());
        }
        let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
            .map_err(|e| ProxyError::BackendAddress {
                spec: spec.to_string(),
                authority: authority.to_string(),
                reason: e.kind().to_string(),
            })?
            .next()
            .ok_or_else(|| ProxyError::BackendAddress {
                spec: spec.to_string(),
                authority: authority.to_string(),
                reason: "no address".into(),
            })?;
        Ok(UserBackend {
            namespace: namespace.into(),
            service: service.into(),
            addr,
        })
    }
}

/// The backends as requests see them: endpoints by Service port, and the user's backends.
#[derive(Clone, Debug, Default)]
pub struct View {
    user: Vec<UserBackend>,
    endpoints: HashMap<(String, String, u16), Vec<Endpoint>>,
}

impl View {
    /// The endpoints of a Service port; a `--backend` Service has its URL on every port.
    pub fn endpoints(&self, backend: &ServiceRef) -> &[Endpoint] {
        static NONE: [Endpoint; 0] = [];
        self.endpoints
            .get(&(
                backend.namespace.clone(),
                backend.name.clone(),
                backend.port,
            ))
            .map_or(&NONE[..], |v| v.as_slice())
    }

    /// The user's backend for a Service, if any.
    pub fn user(&self, backend: &ServiceRef) -> Option<SocketAddr> {
        self.user
            .iter()
            .find(|u| u.namespace == backend.namespace && u.service == backend.name)
            .map(|u| u.addr)
    }
}

/// One echo server: an endpoint of a Service port.
struct EchoServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Identity of an echo server: Service, pod and the port the pod listens on.
type EchoKey = (String, String, String, u16);

/// Every backend, rebuilt on each state; echo pods keep their state (retry counters) across
/// rebuilds.
#[derive(Default)]
pub struct Backends {
    user: Vec<UserBackend>,
    pods: HashMap<(String, String), Arc<Mutex<EchoPod>>>,
    servers: HashMap<EchoKey, EchoServer>,
    /// Service port → endpoints.
    endpoints: HashMap<(String, String, u16), Vec<Endpoint>>,
    started: Option<Instant>,
    ids: Arc<AtomicU64>,
    /// No stand-in echo for a Service without EndpointSlices.
    exact: bool,
    /// Where the echo servers print their lines.
    logs: EchoLogs,
}

impl Backends {
    pub fn new(user: Vec<UserBackend>, exact: bool, logs: EchoLogs) -> Backends {
        Backends {
            user,
            started: Some(Instant::now()),
            exact,
            logs,
            ..Backends::default()
        }
    }

    /// Whether a pod of `backend` (`<backend>-...`) in `namespace` (any, when `None`)
    /// logged the request `id`, as [`gwsim_sim::network::Network::receipt`] tells it.
    pub fn receipt(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> Receipt {
        self.pods
            .iter()
            .filter(|((ns, name), _)| {
                namespace.is_none_or(|n| n == ns)
                    && name.len() > backend.len()
                    && name.starts_with(backend)
                    && name.as_bytes()[backend.len()] == b'-'
            })
            .fold(Receipt::NotReceived, |got, (_, pod)| {
                got.or(pod.lock().map_or(Receipt::NotReceived, |p| p.receipt(id)))
            })
    }

    /// The echo server of pod `namespace/pod` on `port` (the first, in Service order, when
    /// several Services select the pod on that port): where a request to the pod's own
    /// address goes. `None`: no endpoint of any Service is that pod on that port.
    pub fn pod_endpoint(&self, namespace: &str, pod: &str, port: u16) -> Option<SocketAddr> {
        self.servers
            .iter()
            .filter(|((_, ns, name, p), _)| ns == namespace && name == pod && *p == port)
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, server)| server.addr)
    }

    /// What requests need, for the state in service.
    pub fn view(&self) -> View {
        View {
            user: self.user.clone(),
            endpoints: self.endpoints.clone(),
        }
    }

    /// Re-reads Services, pods and EndpointSlices; starts the echo servers that are new and
    /// stops those that are gone.
    pub async fn rebuild(&mut self, snapshot: &Snapshot) -> Result<(), ProxyError> {
        let mut network = Network::new();
        network.rebuild(snapshot);
        let with_slices = services_with_slices(snapshot);
        let mut wanted: BTreeMap<EchoKey, (Arc<Mutex<EchoPod>>, String)> = BTreeMap::new();
        let mut endpoints: HashMap<(String, String, u16), Vec<Option<EchoKey>>> = HashMap::new();
        for (service, list) in network.service_endpoints() {
            let key = (
                service.namespace.clone(),
                service.name.clone(),
                service.port,
            );
            let mut out = Vec::new();
            let synthetic;
            let list = if list.is_empty()
                && !self.exact
                && !with_slices.contains(&(key.0.clone(), key.1.clone()))
            {
                synthetic = EchoPod::new(&key.0, &format!("{}-echo", key.1), "127.0.0.1");
                vec![(Some(&synthetic), service.port)]
            } else {
                list
            };
            for (pod, port) in list {
                let Some(pod) = pod else {
                    out.push(None);
                    continue;
                };
                let id = (pod.namespace.clone(), pod.name.clone());
                let state = self
                    .pods
                    .entry(id.clone())
                    .or_insert_with(|| Arc::new(Mutex::new(pod.clone())))
                    .clone();
                let echo_key = (service.name.clone(), id.0, id.1, port);
                wanted.insert(echo_key.clone(), (state, service.name.clone()));
                out.push(Some(echo_key));
            }
            endpoints.insert(key, out);
        }
        self.servers.retain(|k, _| wanted.contains_key(k));
        for (key, (pod, service)) in wanted {
            if self.servers.contains_key(&key) {
                continue;
            }
            let server = self
                .start_echo(pod, service, key.3)
                .await
                .map_err(|source| ProxyError::Echo {
                    service: format!("{}/{}", key.1, key.0),
                    pod: key.2.clone(),
                    source,
                })?;
            self.servers.insert(key, server);
        }
        self.endpoints = endpoints
            .into_iter()
            .map(|(k, list)| {
                let list = list
                    .into_iter()
                    .map(|e| match e.and_then(|e| self.servers.get(&e)) {
                        Some(s) => Endpoint::Addr(s.addr),
                        None => Endpoint::Unreachable,
                    })
                    .collect();
                (k, list)
            })
            .collect();
        let live: std::collections::HashSet<(String, String)> = self
            .servers
            .keys()
            .map(|(_, ns, pod, _)| (ns.clone(), pod.clone()))
            .collect();
        self.pods.retain(|k, _| live.contains(k));
        Ok(())
    }

    async fn start_echo(
        &self,
        pod: Arc<Mutex<EchoPod>>,
        service: String,
        port: u16,
    ) -> std::io::Result<EchoServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (version, namespace, name, tls) = match pod.lock() {
            Ok(p) => {
                let version = p.speaks_on(port);
                // HTTPS on the pod's TLS port (TLS_SERVER_CERT); a certificate that cannot be
                // used fails every handshake there.
                let tls = p.tls.as_ref().filter(|t| t.port == port).map(|t| {
                    crate::backend_tls::echo_server_config(t, version == HttpVersion::H2c)
                });
                (version, p.namespace.clone(), p.name.clone(), tls)
            }
            Err(_) => return Err(std::io::Error::other("the echo pod's state is lost")),
        };
        self.logs.start(&namespace, &name);
        let context = Arc::new(EchoContext {
            pod,
            namespace,
            name,
            service,
            port,
            version,
            started: self.started.unwrap_or_else(Instant::now),
            ids: self.ids.clone(),
            logs: self.logs.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, client)) = listener.accept().await else {
                    continue;
                };
                // A gRPC answer is written as several frames (headers, message, trailers):
                // without this, Nagle holds the last ones for the peer's delayed ACK.
                let _ = stream.set_nodelay(true);
                let context = context.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => {
                            serve_echo(TokioIo::new(stream), context, client, None, version).await
                        }
                        Some(None) => {}
                        Some(Some(config)) => {
                            let Ok(stream) =
                                tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                            else {
                                return;
                            };
                            let report = Arc::new(crate::backend_tls::report(stream.get_ref().1));
                            serve_echo(
                                TokioIo::new(stream),
                                context,
                                client,
                                Some(report),
                                version,
                            )
                            .await;
                        }
                    }
                });
            }
        });
        Ok(EchoServer { addr, task })
    }
}

/// One echo connection: the echo server speaks one protocol per port, as the simulator's
/// does (a client in the other one fails); `tls` is what it saw of the TLS session.
async fn serve_echo<I>(
    io: TokioIo<I>,
    context: Arc<EchoContext>,
    client: SocketAddr,
    tls: Option<Arc<TlsReport>>,
    version: HttpVersion,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| echo(context.clone(), client, tls.clone(), req));
    let _ = match version {
        HttpVersion::H2c => {
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(io, service)
                .await
        }
        HttpVersion::Http11 => {
            hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .with_upgrades()
                .await
        }
    };
}

/// Service namespace and name of every EndpointSlice.
pub(crate) fn services_with_slices(
    snapshot: &Snapshot,
) -> std::collections::HashSet<(String, String)> {
    snapshot
        .of_kind(Kind::EndpointSlice)
        .filter_map(|o| match o {
            Object::EndpointSlice(s) => Some((
                s.metadata.namespace.clone().unwrap_or_default(),
                s.metadata
                    .labels
                    .as_ref()?
                    .get(gwsim_sim::workloads::SERVICE_NAME_LABEL)?
                    .clone(),
            )),
            _ => None,
        })
        .collect()
}

struct EchoContext {
    pod: Arc<Mutex<EchoPod>>,
    /// The pod's namespace and name (for its log).
    namespace: String,
    name: String,
    service: String,
    port: u16,
    version: HttpVersion,
    started: Instant,
    ids: Arc<AtomicU64>,
    logs: EchoLogs,
}

/// Why an echo server drops a connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by the echo contract")]
struct EchoReset;

async fn echo(
    context: Arc<EchoContext>,
    client: SocketAddr,
    tls: Option<Arc<TlsReport>>,
    mut req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Reply>, EchoReset> {
    let mut request = engine_request(&req);
    if logged_by_echo_handler(&request.path) {
        context.logs.write(
            &context.namespace,
            &context.name,
            echo_line(&request.path, client),
        );
    }
    let named = take_request_id(&mut request.headers);
    let id = named.unwrap_or_else(|| RequestId(context.ids.fetch_add(1, Ordering::Relaxed)));
    let now = SimTime::START.after(context.started.elapsed());
    let reply = match context.pod.lock() {
        Ok(mut pod) => pod.serve(&request, context.version, context.port, id, now),
        Err(_) => return Err(EchoReset),
    };
    match reply {
        EchoReply::Reset { delay } => {
            tokio::time::sleep(delay).await;
            Err(EchoReset)
        }
        EchoReply::Grpc { code, message } => {
            let body = req.into_body().collect().await.map_err(|_| EchoReset)?;
            grpc_reply(&context, &request, code, message, &body.to_bytes())
        }
        EchoReply::Answer {
            status,
            headers,
            echo,
            delay,
        } => {
            tokio::time::sleep(delay).await;
            let body = if echo {
                let echoed = EchoedRequest {
                    path: request.path,
                    host: request.host,
                    method: request.method,
                    proto: context.version.proto().to_string(),
                    headers: request.headers,
                    namespace: context.namespace.clone(),
                    pod: context.name.clone(),
                    service: context.service.clone(),
                    http_port: context.port,
                    tls: tls.as_deref().cloned(),
                };
                Bytes::from(echoed.to_json().to_string())
            } else {
                Bytes::new()
            };
            if status == 101 {
                let upgrade = hyper::upgrade::on(&mut req);
                tokio::spawn(async move {
                    if let Ok(upgraded) = upgrade.await {
                        crate::websocket::echo(TokioIo::new(upgraded)).await;
                    }
                });
                let key = request_key(&req);
                let mut response = hyper::Response::builder().status(101);
                for (name, value) in &headers {
                    response = response.header(name.as_str(), value.as_str());
                }
                if let Some(key) = key {
                    response =
                        response.header("Sec-WebSocket-Accept", crate::websocket::accept(&key));
                }
                return response.body(Reply::default()).map_err(|_| EchoReset);
            }
            let mut response = hyper::Response::builder().status(status);
            for (name, value) in &headers {
                response = response.header(name.as_str(), value.as_str());
            }
            // Drain the request body so the connection can be reused.
            let _ = req.into_body().collect().await;
            response.body(Reply::new(body)).map_err(|_| EchoReset)
        }
    }
}

/// The gRPC echo's answer on the wire: grpc-go's framing, the echo report as an EchoResponse,
/// the status in the trailers (or, for a failed call, in the headers of a trailers-only
/// answer). A request body that is not one well-framed message is INTERNAL, as grpc-go says.
fn grpc_reply(
    context: &EchoContext,
    request: &Request,
    code: Code,
    message: String,
    body: &[u8],
) -> Result<hyper::Response<Reply>, EchoReset> {
    let (code, message) = match grpc::unframe(body) {
        Ok(messages) if messages.len() == 1 => (code, message),
        Ok(messages) => (
            Code::INTERNAL,
            format!("a unary call carries one message, not {}", messages.len()),
        ),
        Err(why) => (Code::INTERNAL, why),
    };
    let (headers, trailers) = grpc_answer(code, &message);
    let data = if code == Code::OK {
        let pod = context.pod.lock().map_err(|_| EchoReset)?;
        let report = grpc_echoed(request, &pod, &context.service);
        Bytes::from(grpc::frame(&grpc::encode_echo_response(&report)))
    } else {
        Bytes::new()
    };
    let mut response = hyper::Response::builder().status(200);
    for (name, value) in &headers {
        response = response.header(name.as_str(), value.as_str());
    }
    let mut map = hyper::HeaderMap::new();
    for (name, value) in &trailers {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| EchoReset)?;
        let value = hyper::header::HeaderValue::from_str(value).map_err(|_| EchoReset)?;
        map.append(name, value);
    }
    response
        .body(Reply::with_trailers(data, Some(map)))
        .map_err(|_| EchoReset)
}

/// Removes the [`REQUEST_ID_HEADER`] and returns the id it carried.
fn take_request_id(headers: &mut Vec<(String, String)>) -> Option<RequestId> {
    let mut id = None;
    headers.retain(|(name, value)| {
        if name.eq_ignore_ascii_case(REQUEST_ID_HEADER) {
            id = value.trim().parse().ok().map(RequestId);
            false
        } else {
            true
        }
    });
    id
}

fn request_key(req: &hyper::Request<Incoming>) -> Option<String> {
    req.headers()
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The engine's view of a request that reached a backend: Host from the header (HTTP/1.1) or
/// the authority (HTTP/2), headers other than Host in order.
fn engine_request<B>(req: &hyper::Request<B>) -> Request {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let mut request = Request::get(&host, &path);
    request.method = req.method().as_str().to_string();
    request.headers = req
        .headers()
        .iter()
        .filter(|(n, _)| *n != hyper::header::HOST)
        .map(|(n, v)| {
            (
                canonical_name(n.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    request
}

/// `x-echo-set-header` → `X-Echo-Set-Header`: HTTP/1.1 servers report names in canonical
/// form, as the conformance echo server (Go's net/http) does.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}
