//! Scenarios over the wire (`gwsim run --wire`, `gwsim conformance --wire`).
//!
//! A [`WireCluster`] wraps the simulated cluster: changes, deletions, status reads and `advance`
//! go to the simulator's store and controller as in memory, and after each of them the state
//! (snapshot and routing table) is pushed to an in-process [`Proxy`] on ephemeral ports of
//! 127.0.0.1. Requests then go through real sockets (HTTP/1.1, h2c, TLS, WebSocket) to that
//! proxy, whose echo backends answer, and so do `connect` steps (TLS and TCP connections, UDP
//! datagrams: `crate::l4`); mirror copies are observed in the echo servers' logs,
//! by request id ([`REQUEST_ID_HEADER`]). The runner and its checks are the same code as in
//! memory: only the cluster differs.
//!
//! Time: the simulator's clock is virtual and only `advance` moves it; the proxy's clock is
//! the wall clock. Delays, timeouts and retry backoffs happen in real time on the wire, so
//! they take as long as they say. Scenarios that cannot be expressed on a real socket are
//! listed in [`NOT_ON_WIRE`] with the reason, and reported skipped, never passed.
//!
//! Requests from pods (`request.from`) go from the pod's own loopback address to the proxy's
//! socket of the Service port ([`mesh`]).

mod mesh;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gwsim_engine::controller::AddressRange;
use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::load::Document;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_engine::x509::CertificateChain;
use gwsim_sim::cluster::{
    ApplyOutcome, ClientProtocol, Cluster, ClusterError, EchoedRequest, PresentedCertificate,
    RequestId, Response, SendError, WebSocketMessage, websocket_handshake,
};
use gwsim_sim::echo::Receipt;
use gwsim_sim::grpc;
use gwsim_sim::network::is_connection_specific;
use gwsim_sim::runner::{
    Failure, Outcome, RunError, RunOptions, RunReport, ScenarioResult, run_scenario, start_cluster,
};
use gwsim_sim::scenario::{Scenario, load_paths};
use gwsim_sim::sim::SimCluster;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{Options, Proxy, REQUEST_ID_HEADER};

/// Scenarios that cannot be expressed on a real socket, and why. Matched by scenario name;
/// each is reported `skipped (wire)`, never passed.
pub const NOT_ON_WIRE: &[(&str, &str)] = &[];

/// The longest a request over the wire may take before the client gives up.
const REQUEST_LIMIT: Duration = Duration::from_secs(120);
/// How long the client waits for mirror copies to reach their backends.
const MIRROR_LIMIT: Duration = Duration::from_secs(10);
/// The largest answer the client reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Why `scenario` cannot run over the wire, if it cannot: it is listed in [`NOT_ON_WIRE`].
/// (`connect` steps are sent: TLS, TCP and UDP listeners are served, `crate::l4`.)
pub fn not_on_wire(scenario: &Scenario) -> Option<&'static str> {
    NOT_ON_WIRE
        .iter()
        .find(|(name, _)| *name == scenario.name)
        .map(|(_, reason)| *reason)
}

/// The simulated cluster with its data plane on real sockets.
pub struct WireCluster {
    sim: SimCluster,
    runtime: tokio::runtime::Runtime,
    proxy: Option<Proxy>,
    backends: Vec<crate::UserBackend>,
    /// The store's resourceVersion the proxy serves.
    pushed: Option<u64>,
    /// Why the proxy could not follow the simulator, if it could not.
    broken: Option<String>,
    tls_http1: Arc<rustls::ClientConfig>,
    tls_h2: Arc<rustls::ClientConfig>,
    /// The certificate the proxy presented in the last https request's handshake.
    last_server_certificate: Option<PresentedCertificate>,
    /// What the last request from a pod went to (its explanation).
    last_from_pod: Option<mesh::LastFromPod>,
}

impl WireCluster {
    /// Wraps `sim` and starts its data plane on ephemeral ports of 127.0.0.1.
    pub fn new(sim: SimCluster) -> std::io::Result<WireCluster> {
        WireCluster::with_options(sim, Vec::new())
    }

    /// As [`WireCluster::new`], with some Services sent to the user's own servers instead
    /// of echo backends (`--backend`): a data plane that may answer otherwise than the model.
    pub fn with_options(
        sim: SimCluster,
        backends: Vec<crate::UserBackend>,
    ) -> std::io::Result<WireCluster> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut cluster = WireCluster {
            sim,
            runtime,
            proxy: None,
            backends,
            pushed: None,
            broken: None,
            tls_http1: Arc::new(tls_client(b"http/1.1")),
            tls_h2: Arc::new(tls_client(b"h2")),
            last_server_certificate: None,
            last_from_pod: None,
        };
        cluster.sync();
        Ok(cluster)
    }

    /// The simulated cluster underneath.
    pub fn sim(&self) -> &SimCluster {
        &self.sim
    }

    /// Pushes the simulator's state to the proxy when it changed since the last push.
    fn sync(&mut self) {
        let version = self.sim.store().resource_version();
        if self.pushed == Some(version) {
            return;
        }
        let snapshot = self.sim.snapshot();
        let table = self.sim.table().clone();
        let result = match &self.proxy {
            None => self
                .runtime
                .block_on(Proxy::start(snapshot, table, wire_options(&self.backends)))
                .map(|proxy| {
                    self.proxy = Some(proxy);
                    Vec::new()
                }),
            Some(proxy) => self.runtime.block_on(proxy.update(snapshot, table)),
        };
        match result {
            Ok(notes) => {
                for note in notes {
                    tracing::debug!(target: "gwsim::wire", "{note}");
                }
                self.pushed = Some(version);
            }
            Err(e) => self.broken = Some(format!("the data plane did not take the change: {e}")),
        }
    }

    async fn send_async(
        &self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
        identity: Option<&ClientIdentity>,
    ) -> Result<(Response, Option<PresentedCertificate>), SendError> {
        if let Some(why) = &self.broken {
            return Err(SendError::Transport(why.clone()));
        }
        let gateway = request
            .gateway
            .clone()
            .ok_or_else(|| SendError::Transport("the request names no Gateway".into()))?;
        let refused = || SendError::ConnectionRefused {
            gateway: gateway.namespaced_name(),
            port: request.port,
        };
        let proxy = self
            .proxy
            .as_ref()
            .ok_or_else(|| SendError::Transport("the data plane is not running".into()))?;
        let Some((addr, scheme)) = proxy.socket(&gateway, request.port).await else {
            return Err(refused());
        };
        if scheme != request.scheme {
            // The port speaks the other scheme: a TLS client to a cleartext socket, or the
            // reverse, gets no HTTP answer.
            return Err(SendError::Transport(format!(
                "port {} of Gateway {} speaks {}, the request {}",
                request.port,
                gateway.namespaced_name(),
                scheme.as_str(),
                request.scheme.as_str()
            )));
        }
        let presenting;
        let tls = match identity {
            None => [&self.tls_http1, &self.tls_h2],
            Some(identity) => {
                presenting = [
                    Arc::new(tls_client_presenting(b"http/1.1", Some(identity))?),
                    Arc::new(tls_client_presenting(b"h2", Some(identity))?),
                ];
                [&presenting[0], &presenting[1]]
            }
        };
        let exchange = connect_and_exchange(addr, request, protocol, messages, id, tls, &refused);
        answered(proxy, exchange).await
    }
}

/// The answer of one exchange within [`REQUEST_LIMIT`], once its mirror copies have landed:
/// they are part of the request's effects.
pub(crate) async fn answered<T>(
    proxy: &Proxy,
    exchange: impl std::future::Future<Output = Result<T, SendError>>,
) -> Result<T, SendError> {
    let answer = tokio::time::timeout(REQUEST_LIMIT, exchange)
        .await
        .map_err(|_| {
            SendError::Transport(format!(
                "no answer within {} s over the wire",
                REQUEST_LIMIT.as_secs()
            ))
        })??;
    if !proxy.mirrors_settled(MIRROR_LIMIT).await {
        return Err(SendError::Transport(format!(
            "mirror copies still in flight after {} s",
            MIRROR_LIMIT.as_secs()
        )));
    }
    Ok(answer)
}

/// One request to a Gateway's socket `addr` over a fresh connection (TLS when the request's
/// scheme is https, with its SNI; any certificate is accepted, as upstream's suite does), as
/// [`WireCluster`] sends it; for https, also the certificate the Gateway presented. For data
/// planes outside this process (`live/`, a real cluster's Gateway): no mirror bookkeeping, the
/// same time limit.
pub async fn send_to(
    addr: std::net::SocketAddr,
    gateway: &str,
    request: &Request,
    protocol: ClientProtocol,
    messages: &[WebSocketMessage],
    id: RequestId,
) -> Result<(Response, Option<PresentedCertificate>), SendError> {
    send_presenting(addr, gateway, request, protocol, messages, id, None).await
}

/// As [`send_to`], the client presenting `identity` in the TLS handshake (https).
pub async fn send_presenting(
    addr: std::net::SocketAddr,
    gateway: &str,
    request: &Request,
    protocol: ClientProtocol,
    messages: &[WebSocketMessage],
    id: RequestId,
    identity: Option<&ClientIdentity>,
) -> Result<(Response, Option<PresentedCertificate>), SendError> {
    let refused = || SendError::ConnectionRefused {
        gateway: gateway.to_string(),
        port: request.port,
    };
    let tls = [
        &Arc::new(tls_client_presenting(b"http/1.1", identity)?),
        &Arc::new(tls_client_presenting(b"h2", identity)?),
    ];
    let exchange = connect_and_exchange(addr, request, protocol, messages, id, tls, &refused);
    tokio::time::timeout(REQUEST_LIMIT, exchange)
        .await
        .map_err(|_| {
            SendError::Transport(format!(
                "no answer within {} s over the wire",
                REQUEST_LIMIT.as_secs()
            ))
        })?
}

/// Connects to `addr` (with TLS for https, `tls` = [HTTP/1.1, h2] client configurations) and
/// makes one exchange; for https, also the certificate the server presented.
async fn connect_and_exchange(
    addr: std::net::SocketAddr,
    request: &Request,
    protocol: ClientProtocol,
    messages: &[WebSocketMessage],
    id: RequestId,
    tls: [&Arc<rustls::ClientConfig>; 2],
    refused: &dyn Fn() -> SendError,
) -> Result<(Response, Option<PresentedCertificate>), SendError> {
    let stream = TcpStream::connect(addr).await.map_err(|_| refused())?;
    let _ = stream.set_nodelay(true);
    match request.scheme {
        Scheme::Http => Ok((
            exchange(stream, request, protocol, messages, id, refused).await?,
            None,
        )),
        Scheme::Https => {
            let config = match protocol {
                ClientProtocol::H2c | ClientProtocol::H2 | ClientProtocol::Grpc => tls[1].clone(),
                _ => tls[0].clone(),
            };
            let sni = request.sni.clone().unwrap_or_else(|| request.host.clone());
            let name = rustls::pki_types::ServerName::try_from(sni.clone())
                .map_err(|_| SendError::Transport(format!("SNI {sni:?} is not a name")))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                // No listener takes that name: the Gateway closes the connection (refused);
                // no listener of the port can serve TLS, or the client's certificate is
                // refused: the Gateway's alert fails the handshake.
                .map_err(|e| lost(&e, refused))?;
            let presented = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| CertificateChain::from_der(chain.to_vec()).ok())
                .map(|chain| PresentedCertificate {
                    dns_names: chain.dns_names(),
                });
            Ok((
                exchange(tls, request, protocol, messages, id, refused).await?,
                presented,
            ))
        }
    }
}

fn wire_options(backends: &[crate::UserBackend]) -> Options {
    Options {
        backends: backends.to_vec(),
        bind: Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        ephemeral_ports: true,
        exact_endpoints: true,
        stand_in_certificates: true,
        ..Options::default()
    }
}

/// One request on a fresh connection: HTTP/1.1 (or a WebSocket handshake and its messages),
/// or HTTP/2 with prior knowledge (over TLS: negotiated by ALPN).
async fn exchange<IO>(
    io: IO,
    request: &Request,
    protocol: ClientProtocol,
    messages: &[WebSocketMessage],
    id: RequestId,
    refused: &dyn Fn() -> SendError,
) -> Result<Response, SendError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match protocol {
        ClientProtocol::H2c | ClientProtocol::H2 => {
            if let Some((name, _)) = request
                .headers
                .iter()
                .find(|(n, v)| is_connection_specific(n, v))
            {
                // HTTP/2 client libraries refuse to write such a request, so the Gateway's
                // stream reset cannot be provoked from here.
                return Err(SendError::Transport(format!(
                    "the HTTP/2 client cannot send the connection-specific header {name} (RFC 9113 §8.2.2)"
                )));
            }
            let (mut sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
                .await
                .map_err(|e| lost(&e, refused))?;
            tokio::spawn(conn);
            let req = build(request, id, true, Bytes::new())?;
            let response = sender
                .send_request(req)
                .await
                .map_err(|e| h2_failure(&e, refused))?;
            read_response(response).await
        }
        ClientProtocol::Grpc => {
            let (mut sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
                .await
                .map_err(|_| refused())?;
            tokio::spawn(conn);
            // One message: the echo service's EchoRequest, which has no fields.
            let req = build(request, id, true, Bytes::from(grpc::frame(&[])))?;
            let response = sender
                .send_request(req)
                .await
                .map_err(|e| h2_failure(&e, refused))?;
            read_grpc_response(response).await
        }
        ClientProtocol::Http1 => {
            let (mut sender, conn) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| lost(&e, refused))?;
            tokio::spawn(conn);
            let req = build(request, id, false, Bytes::new())?;
            // The Gateway closes the connection without an answer when the engine refuses it
            // (or, TLS 1.3, sends an alert when it refuses the client's certificate).
            let response = sender
                .send_request(req)
                .await
                .map_err(|e| lost(&e, refused))?;
            read_response(response).await
        }
        ClientProtocol::WebSocket => {
            let (mut sender, conn) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| lost(&e, refused))?;
            tokio::spawn(conn.with_upgrades());
            let mut handshake = websocket_handshake(request);
            handshake
                .headers
                .push(("Sec-WebSocket-Key".into(), websocket_key(id)));
            let req = build(&handshake, id, false, Bytes::new())?;
            let mut response = sender
                .send_request(req)
                .await
                .map_err(|e| lost(&e, refused))?;
            if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
                return read_response(response).await;
            }
            let status = response.status().as_u16();
            let headers = header_list(response.headers());
            let upgraded = hyper::upgrade::on(&mut response)
                .await
                .map_err(|e| SendError::Transport(format!("upgrade failed: {e}")))?;
            let messages = websocket_session(TokioIo::new(upgraded), messages).await?;
            Ok(Response {
                messages,
                ..Response::local(status, headers)
            })
        }
    }
}

/// A stream the Gateway reset for a protocol error is the model's `ProtocolError`; any other
/// failure before an answer is a refused connection.
fn h2_failure(e: &hyper::Error, refused: &dyn Fn() -> SendError) -> SendError {
    let source = std::error::Error::source(e).and_then(|s| s.downcast_ref::<h2::Error>());
    match source.and_then(h2::Error::reason) {
        Some(h2::Reason::PROTOCOL_ERROR) => {
            SendError::ProtocolError(format!("the Gateway reset the stream: {e}"))
        }
        _ => lost(e, refused),
    }
}

/// A connection that ended before an answer: a failed TLS handshake when the Gateway sent a
/// TLS alert (during the handshake, or, in TLS 1.3, right after it when it refuses the client's
/// certificate), otherwise a refused connection.
fn lost(e: &(dyn std::error::Error + 'static), refused: &dyn Fn() -> SendError) -> SendError {
    match tls_alert(e) {
        Some(alert) => {
            SendError::HandshakeFailed(format!("the Gateway sent the TLS alert {alert}"))
        }
        None => refused(),
    }
}

/// The alert a TLS peer sent, found in an error's chain of causes.
fn tls_alert(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(e);
    while let Some(e) = current {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::AlertReceived(alert)) = tls {
            return Some(format!("{alert:?}"));
        }
        current = e.source();
    }
    None
}

/// The request as a client writes it: the scenario's headers in order, Host (the authority
/// on HTTP/2), and the request id for the echo servers' logs.
fn build(
    request: &Request,
    id: RequestId,
    h2: bool,
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, SendError> {
    let mut builder = hyper::Request::builder().method(request.method.as_str());
    builder = if h2 {
        let scheme = request.scheme.as_str();
        builder
            .version(hyper::Version::HTTP_2)
            .uri(format!("{scheme}://{}{}", request.host, request.path))
    } else {
        builder
            .uri(request.path.as_str())
            .header(hyper::header::HOST, request.host.as_str())
    };
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("host") {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .header(REQUEST_ID_HEADER, id.0.to_string())
        .body(Full::new(body))
        .map_err(|e| SendError::Transport(format!("the request cannot be written: {e}")))
}

async fn read_response(
    response: hyper::Response<hyper::body::Incoming>,
) -> Result<Response, SendError> {
    let status = response.status().as_u16();
    let headers = header_list(response.headers());
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| SendError::Transport(format!("the answer's body: {e}")))?
        .to_bytes();
    Ok(Response {
        echo: echo_report(&body),
        ..Response::local(status, headers)
    })
}

/// A gRPC call's answer: headers, the framed message (the echo's report, when the call
/// succeeded) and the trailers. A message that cannot be read fails the request, as it fails
/// a gRPC client's call.
async fn read_grpc_response(
    response: hyper::Response<hyper::body::Incoming>,
) -> Result<Response, SendError> {
    let status = response.status().as_u16();
    let headers = header_list(response.headers());
    let collected = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| SendError::Transport(format!("the gRPC answer's body: {e}")))?;
    let trailers = collected.trailers().map(header_list).unwrap_or_default();
    let body = collected.to_bytes();
    let mut out = Response {
        trailers,
        ..Response::local(status, headers)
    };
    if out.grpc_status().0 == grpc::Code::OK {
        let cannot = |why: String| {
            SendError::Transport(format!("the gRPC answer's message cannot be read: {why}"))
        };
        let messages = grpc::unframe(&body).map_err(cannot)?;
        let [message] = messages.as_slice() else {
            return Err(cannot(format!(
                "a unary call answers one message, not {}",
                messages.len()
            )));
        };
        out.grpc_echo = Some(grpc::decode_echo_response(message).map_err(cannot)?);
    }
    Ok(out)
}

fn header_list(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The echo server's JSON report, when the body is one.
fn echo_report(body: &[u8]) -> Option<EchoedRequest> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |key: &str| value.get(key)?.as_str().map(str::to_string);
    let mut headers = Vec::new();
    for (name, values) in value.get("headers")?.as_object()? {
        for v in values.as_array()? {
            headers.push((name.clone(), v.as_str()?.to_string()));
        }
    }
    Some(EchoedRequest {
        path: text("path")?,
        host: text("host")?,
        method: text("method")?,
        proto: text("proto")?,
        headers,
        namespace: text("namespace")?,
        pod: text("pod")?,
        service: text("service")?,
        http_port: text("httpPort")?.parse().ok()?,
        tls: value.get("tls").map(|t| gwsim_sim::cluster::TlsReport {
            server_name: t
                .get("serverName")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
            peer_certificates: t
                .get("peerCertificates")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect(),
        }),
    })
}

/// A `Sec-WebSocket-Key`: 16 bytes, base64, different per request (RFC 6455 §4.1).
fn websocket_key(id: RequestId) -> String {
    use base64::Engine as _;
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&id.0.to_be_bytes());
    nonce[8..].copy_from_slice(b"gwsimkey");
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

/// Sends each message (masked, as a client must) and reads the answer to it; then closes.
async fn websocket_session<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    messages: &[WebSocketMessage],
) -> Result<Vec<WebSocketMessage>, SendError> {
    let failed = |e: std::io::Error| SendError::Transport(format!("WebSocket: {e}"));
    let mut back = Vec::new();
    for (n, message) in messages.iter().enumerate() {
        let (opcode, payload) = match message {
            WebSocketMessage::Text(t) => (0x1, t.as_bytes().to_vec()),
            WebSocketMessage::Binary(b) => (0x2, b.clone()),
        };
        let mask = (n as u32).wrapping_mul(0x9e37_79b9).to_be_bytes();
        crate::websocket::write_frame_masked(&mut stream, opcode, &payload, Some(mask))
            .await
            .map_err(failed)?;
        match crate::websocket::read_frame(&mut stream)
            .await
            .map_err(failed)?
        {
            Some((0x1, payload)) => back.push(WebSocketMessage::Text(
                String::from_utf8_lossy(&payload).into_owned(),
            )),
            Some((0x2, payload)) => back.push(WebSocketMessage::Binary(payload)),
            _ => break,
        }
    }
    let _ = crate::websocket::write_frame_masked(&mut stream, 0x8, &[], Some([1, 2, 3, 4])).await;
    Ok(back)
}

/// A TLS client that accepts the Gateway's certificate whatever it is: the scenarios'
/// Secrets are test certificates, and what is checked over the wire is the routing (which
/// listener's certificate the SNI selects is checked by the proxy's own tests).
fn tls_client(alpn: &[u8]) -> rustls::ClientConfig {
    tls_client_presenting(alpn, None)
        .unwrap_or_else(|_| panic!("the ring provider supports TLS 1.2 and 1.3"))
}

/// As [`tls_client`], presenting `identity` when the Gateway asks for a certificate.
fn tls_client_presenting(
    alpn: &[u8],
    identity: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig, SendError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate {
        provider: provider.clone(),
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SendError::Transport(format!("TLS client: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| {
                SendError::Transport(format!(
                    "request.clientCertificate {}: {e}",
                    identity.secret
                ))
            })?,
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// A client's certificate chain and private key, from a `kubernetes.io/tls` Secret.
#[derive(Debug)]
pub struct ClientIdentity {
    /// `namespace/name` of the Secret, for messages.
    secret: String,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// From the Secret `secret`'s `tls.crt` and `tls.key` (PEM); a Secret without a usable
    /// certificate and key is the scenario's mistake, said in its terms.
    pub fn from_pem(
        secret: &str,
        tls_crt: Option<&[u8]>,
        tls_key: Option<&[u8]>,
    ) -> Result<ClientIdentity, SendError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let bad =
            |why: &str| SendError::Transport(format!("request.clientCertificate {secret}: {why}"));
        let crt = tls_crt.ok_or_else(|| bad("the Secret has no tls.crt"))?;
        let key = tls_key.ok_or_else(|| bad("the Secret has no tls.key"))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(crt)
            .collect::<Result<_, _>>()
            .map_err(|_| bad("tls.crt is not a PEM certificate"))?;
        if chain.is_empty() {
            return Err(bad("tls.crt holds no certificate"));
        }
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|_| bad("tls.key is not a PEM private key"))?;
        Ok(ClientIdentity {
            secret: secret.to_string(),
            chain,
            key,
        })
    }
}

/// Takes any certificate in the handshake: the wire clients check what they were shown
/// afterwards, as the simulator checks it, so a refusal has the simulator's reason.
#[derive(Debug)]
pub(crate) struct AnyCertificate {
    pub(crate) provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    crate::tls::provider_signature_checks!();
}

impl Cluster for WireCluster {
    fn apply(&mut self, documents: &[Document]) -> Vec<ApplyOutcome> {
        let out = self.sim.apply_documents(documents);
        self.sync();
        out
    }

    /// The simulator's controller serves the declared network (status addresses); the proxy
    /// still binds each Gateway on its own loopback address, as `gwsim serve` does.
    fn declare_network(&mut self, ranges: &[AddressRange]) -> Result<(), ClusterError> {
        let out = Cluster::declare_network(&mut self.sim, ranges);
        self.sync();
        out
    }

    fn delete(&mut self, key: &ObjectKey) -> Result<(), ClusterError> {
        let out = Cluster::delete(&mut self.sim, key);
        self.sync();
        out
    }

    fn get(&self, key: &ObjectKey) -> Option<serde_json::Value> {
        Cluster::get(&self.sim, key)
    }

    fn list(&self, kind: Kind) -> Vec<ObjectKey> {
        Cluster::list(&self.sim, kind)
    }

    fn send(&mut self, request: &Request, id: RequestId) -> Result<Response, SendError> {
        self.send_over(request, ClientProtocol::Http1, &[], id)
    }

    fn send_over(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.send_with_certificate(request, protocol, messages, id, None)
    }

    fn send_with_certificate(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
        client_certificate: Option<&ObjectKey>,
    ) -> Result<Response, SendError> {
        self.last_server_certificate = None;
        self.last_from_pod = None;
        // The client reads its certificate before it connects.
        let identity = match client_certificate {
            None => None,
            Some(key) => {
                let secret = self.sim.snapshot().secret(&key.namespace, &key.name);
                let value = |k: &str| {
                    secret
                        .and_then(|s| s.data.as_ref())
                        .and_then(|d| d.get(k))
                        .map(|b| b.0.as_slice())
                };
                let name = key.namespaced_name();
                if secret.is_none() {
                    return Err(SendError::Transport(format!(
                        "request.clientCertificate {name}: Secret not found"
                    )));
                }
                Some(ClientIdentity::from_pem(
                    &name,
                    value("tls.crt"),
                    value("tls.key"),
                )?)
            }
        };
        let (response, presented) = self.runtime.block_on(self.send_async(
            request,
            protocol,
            messages,
            id,
            identity.as_ref(),
        ))?;
        self.last_server_certificate = presented;
        Ok(response)
    }

    fn last_server_certificate(&self) -> Option<PresentedCertificate> {
        self.last_server_certificate.clone()
    }

    fn send_from_pod(
        &mut self,
        client: &ObjectKey,
        authority: &str,
        request: &Request,
        protocol: ClientProtocol,
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.send_from_pod_wire(client, authority, request, protocol, id)
    }

    fn connect(
        &mut self,
        spec: &gwsim_sim::connect::ConnectSpec,
    ) -> Result<gwsim_sim::connect::ConnectionResult, SendError> {
        // TLS, TCP and UDP: crate::l4::client, with the simulator's certificate checks.
        self.sync();
        if let Some(why) = &self.broken {
            return Err(SendError::Transport(why.clone()));
        }
        let proxy = self
            .proxy
            .as_ref()
            .ok_or_else(|| SendError::Transport("the data plane is not running".into()))?;
        let gateway = crate::l4::client::gateway_of(spec, self.sim.table())?;
        let c = &spec.connection;
        let addr = self
            .runtime
            .block_on(proxy.connection_socket(&gateway, c.port, c.protocol));
        let (snapshot, now) = (self.sim.snapshot(), self.sim.now());
        let check_server = |chain: &CertificateChain| match &spec.trust {
            Some(trust) => {
                gwsim_sim::connect::check_server(chain, trust, c.sni.as_deref(), snapshot, now)
            }
            None => Ok(()),
        };
        let pod_at = |ip| crate::l4::client::pod_at(snapshot, ip);
        let checks = crate::l4::client::ClientChecks {
            check_server: &check_server,
            pod_at: &pod_at,
        };
        Ok(self
            .runtime
            .block_on(crate::l4::client::connect(addr, spec, &checks)))
    }

    fn received(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> bool {
        self.receipt(namespace, backend, id) == Receipt::Received
    }

    fn receipt(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> Receipt {
        match &self.proxy {
            Some(proxy) => self.runtime.block_on(proxy.receipt(namespace, backend, id)),
            None => Receipt::NotReceived,
        }
    }

    fn advance(&mut self, by: Duration) {
        self.sim.advance_by(by);
        self.sync();
    }

    fn controller_name(&self) -> &str {
        self.sim.controller_name()
    }

    fn explain_last(&self, request: &Request) -> Option<String> {
        if let Some(explained) = self.explain_from_pod(request) {
            return Some(explained);
        }
        // The engine's explanation of the request; over the wire the proxy drew its own
        // random numbers, so a weighted choice may differ from the one explained.
        Some(self.sim.decide(request).explanation.render_text())
    }

    fn supported_features(&self) -> BTreeSet<String> {
        self.sim.supported_features()
    }
}

/// Runs one scenario over the wire on a fresh cluster (its base applied in the simulator).
pub fn run_scenario_wire(
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<ScenarioResult, RunError> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let sim = start_cluster(scenario.base, seed)?;
    match WireCluster::new(sim) {
        Ok(mut cluster) => Ok(run_scenario(scenario, &mut cluster, None, seed)),
        Err(e) => Ok(ScenarioResult {
            name: scenario.name.clone(),
            file: scenario.file.clone(),
            upstream: scenario.upstream.clone(),
            features: scenario.features.clone(),
            seed,
            outcome: Outcome::Failed(Failure {
                step: None,
                label: "wire".into(),
                line: None,
                message: format!("cannot start the data plane's runtime: {e}"),
                diff: None,
                explanation: None,
            }),
            steps: Vec::new(),
        }),
    }
}

/// The conformance suite over the wire.
#[derive(Clone, Copy, Debug, Default)]
pub struct WireTarget;

impl gwsim_conformance::Target for WireTarget {
    fn cannot_run(&self, scenario: &Scenario) -> Option<String> {
        not_on_wire(scenario).map(|why| format!("(wire) {why}"))
    }

    fn run(&self, scenario: &Scenario, options: &RunOptions) -> Result<ScenarioResult, RunError> {
        run_scenario_wire(scenario, options)
    }
}

/// A scenario not run over the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotOnWire {
    pub name: String,
    pub file: String,
    pub reason: String,
}

/// A `gwsim run --wire`: what ran, and what was skipped because the wire cannot express it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WireReport {
    /// Scenarios run, in the order given.
    pub ran: RunReport,
    #[serde(rename = "notOnWire")]
    pub not_on_wire: Vec<NotOnWire>,
    /// Every scenario, in the order given: `Ok(index into ran)` or `Err(index into
    /// not_on_wire)`.
    #[serde(skip)]
    order: Vec<Result<usize, usize>>,
}

impl WireReport {
    /// 0 when nothing failed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        self.ran.exit_code()
    }

    /// As the in-memory report, with `skipped (wire) NAME: reason` lines, and the closing
    /// line counting them among the skipped.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for entry in &self.order {
            match entry {
                Ok(i) => {
                    let one = RunReport::new(vec![self.ran.scenarios[*i].clone()]);
                    out.push_str(&one.render_scenarios());
                }
                Err(i) => {
                    let skipped = &self.not_on_wire[*i];
                    let _ = writeln!(out, "skipped (wire) {}: {}", skipped.name, skipped.reason);
                }
            }
        }
        out.push_str(
            &self
                .ran
                .summary
                .closing_line(self.not_on_wire.len(), "the wire"),
        );
        out
    }

    /// The report as JSON.
    pub fn render_json(&self) -> String {
        gwsim_sim::runner::json_report(self)
    }
}

/// `gwsim run --wire PATH...`: every scenario under `paths` over the wire, one after another.
pub fn run_paths_wire(paths: &[PathBuf], options: &RunOptions) -> Result<WireReport, RunError> {
    run_paths_wire_listing(paths, options, NOT_ON_WIRE)
}

/// [`run_paths_wire`] with another list of scenarios not to run over the wire.
pub fn run_paths_wire_listing(
    paths: &[PathBuf],
    options: &RunOptions,
    listed: &[(&str, &str)],
) -> Result<WireReport, RunError> {
    let scenarios = load_paths(paths)?;
    let mut ran = Vec::new();
    let mut report = WireReport::default();
    for scenario in &scenarios {
        if let Some(filter) = &options.filter
            && !scenario.name.contains(filter.as_str())
        {
            continue;
        }
        let why_not = listed
            .iter()
            .find(|(name, _)| *name == scenario.name)
            .map(|(_, reason)| *reason);
        match why_not {
            Some(reason) => {
                report.order.push(Err(report.not_on_wire.len()));
                report.not_on_wire.push(NotOnWire {
                    name: scenario.name.clone(),
                    file: scenario.file.clone(),
                    reason: reason.to_string(),
                });
            }
            None => {
                report.order.push(Ok(ran.len()));
                ran.push(run_scenario_wire(scenario, options)?);
            }
        }
    }
    report.ran = RunReport::new(ran);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_reports_read_back_as_the_simulator_writes_them() {
        let echo = EchoedRequest {
            path: "/a?b=1".into(),
            host: "example.com".into(),
            method: "GET".into(),
            proto: "HTTP/1.1".into(),
            headers: vec![("X-A".into(), "1".into()), ("X-A".into(), "2".into())],
            namespace: "ns".into(),
            pod: "web-abc-def".into(),
            service: "web".into(),
            http_port: 3000,
            tls: None,
        };
        let body = echo.to_json().to_string();
        assert_eq!(echo_report(body.as_bytes()), Some(echo));
        assert_eq!(echo_report(b"not json"), None);
        assert_eq!(echo_report(br#"{"path": "/"}"#), None);
    }

    #[test]
    fn websocket_keys_are_16_bytes_and_differ() {
        use base64::Engine as _;
        let a = websocket_key(RequestId(1));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&a)
            .expect("base64");
        assert_eq!(decoded.len(), 16);
        assert_ne!(a, websocket_key(RequestId(2)));
    }

    #[test]
    fn every_listed_case_has_a_reason() {
        for (name, reason) in NOT_ON_WIRE {
            assert!(!name.is_empty() && reason.len() > 20, "{name}: {reason}");
        }
    }
}
