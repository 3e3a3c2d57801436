//! The `Cluster` trait: what the scenario runner needs from a cluster, whether simulated or
//! real. Nothing here refers to simulator internals; a real-cluster backend (a kube client and
//! an HTTP client against a kind cluster) implements the same trait.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use gwsim_engine::controller::AddressRange;
use gwsim_engine::decision::Request;
use gwsim_engine::load::{Document, Origin};
use gwsim_engine::object::{Kind, ObjectKey};
use serde::{Deserialize, Serialize, Serializer};

use crate::echo::Receipt;
use crate::store::ApplyAction;

/// Identifies one request sent by the runner, so that backends' request logs can be searched
/// for it (mirroring checks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req-{:06}", self.0)
    }
}

/// How the client speaks to the Gateway (`request.protocol`, a gwsim addition).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClientProtocol {
    /// HTTP/1.1 (over TLS for https).
    #[default]
    #[serde(rename = "http/1.1")]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (RFC 9113 §3.3): no upgrade, no TLS.
    #[serde(rename = "h2c")]
    H2c,
    /// HTTP/2 over TLS, negotiated by ALPN `h2` (RFC 9113 §3.2): https only. The SNI and the
    /// `:authority` are chosen independently, as a client reusing a connection for another
    /// name would send them (what misdirected-request detection answers).
    #[serde(rename = "h2")]
    H2,
    /// An HTTP/1.1 WebSocket opening handshake (RFC 6455 §4.1), then messages.
    #[serde(rename = "websocket")]
    WebSocket,
    /// A unary gRPC call over h2c (`request.grpc`): one framed message each way, the status
    /// in the trailers.
    #[serde(rename = "grpc")]
    Grpc,
}

impl ClientProtocol {
    /// As written in a scenario: `http/1.1`, `h2c`, `h2`, `websocket`, `grpc`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientProtocol::Http1 => "http/1.1",
            ClientProtocol::H2c => "h2c",
            ClientProtocol::H2 => "h2",
            ClientProtocol::WebSocket => "websocket",
            ClientProtocol::Grpc => "grpc",
        }
    }
}

impl fmt::Display for ClientProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The opening handshake a WebSocket client sends for `request` (RFC 6455 §4.1): the request
/// with `Connection: Upgrade`, `Upgrade: websocket` and `Sec-WebSocket-Version: 13` added.
/// (The `Sec-WebSocket-Key` nonce and its digest are not modelled: the Gateway relays them
/// unchanged, so they decide nothing here.)
pub fn websocket_handshake(request: &Request) -> Request {
    let mut handshake = request.clone();
    handshake.headers.extend([
        ("Connection".to_string(), "Upgrade".to_string()),
        ("Upgrade".to_string(), "websocket".to_string()),
        ("Sec-WebSocket-Version".to_string(), "13".to_string()),
    ]);
    handshake
}

/// One WebSocket message, written `{text: ...}` or `{binary: BASE64}` in scenarios and reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebSocketMessage {
    Text(String),
    Binary(#[serde(serialize_with = "to_base64")] Vec<u8>),
}

impl WebSocketMessage {
    /// A binary message from its base64 form (standard alphabet, padded).
    pub fn from_base64(text: &str) -> Result<WebSocketMessage, String> {
        BASE64
            .decode(text.trim())
            .map(WebSocketMessage::Binary)
            .map_err(|e| format!("binary {text:?} is not base64: {e}"))
    }
}

impl fmt::Display for WebSocketMessage {
    /// `text "hello"` or `binary AQID (3 bytes)`: the base64 form matches what scenarios write.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebSocketMessage::Text(text) => write!(f, "text {text:?}"),
            WebSocketMessage::Binary(bytes) => {
                let unit = if bytes.len() == 1 { "byte" } else { "bytes" };
                write!(
                    f,
                    "binary {} ({} {unit})",
                    BASE64.encode(bytes),
                    bytes.len()
                )
            }
        }
    }
}

fn to_base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&BASE64.encode(bytes))
}

/// The request an echo backend received, as it reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EchoedRequest {
    /// Path with query, as received.
    pub path: String,
    pub host: String,
    pub method: String,
    pub proto: String,
    /// Headers in the order received; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name: `<deployment>-<hash>-<hash>`.
    pub pod: String,
    /// The Service the request was sent to.
    pub service: String,
    /// The port the pod received the request on.
    pub http_port: u16,
    /// The TLS session the request came over, when the Gateway spoke TLS to the pod
    /// (BackendTLSPolicy); upstream's echo reports it as `tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsReport>,
}

/// What an echo backend saw of the TLS session a request came over (upstream's echo `tls`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsReport {
    /// The SNI the client sent.
    pub server_name: String,
    /// The certificates the client presented, PEM, leaf first.
    pub peer_certificates: Vec<String>,
}

impl EchoedRequest {
    /// The values of a header (name compared case-insensitively), joined with `,`.
    pub fn header(&self, name: &str) -> Option<String> {
        join_header(&self.headers, name)
    }

    /// The JSON body the echo server answers with (headers as name to list of values).
    pub fn to_json(&self) -> serde_json::Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            let entry = headers
                .entry(name.clone())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(values) = entry {
                values.push(value.clone().into());
            }
        }
        let mut body = serde_json::json!({
            "path": self.path,
            "host": self.host,
            "method": self.method,
            "proto": self.proto,
            "headers": headers,
            "namespace": self.namespace,
            "pod": self.pod,
            "service": self.service,
            "httpPort": self.http_port.to_string(),
        });
        if let Some(tls) = &self.tls {
            body["tls"] = serde_json::json!({
                "serverName": tls.server_name,
                "peerCertificates": tls.peer_certificates,
            });
        }
        body
    }
}

/// What a gRPC echo backend reported about a call (upstream's `EchoResponse.assertions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GrpcEcho {
    /// `/SERVICE/METHOD` of the call the server received.
    pub fully_qualified_method: String,
    /// The metadata received, `:authority` first; a key may repeat.
    pub headers: Vec<(String, String)>,
    /// The `:authority` of the call.
    pub authority: String,
    /// The pod's namespace, the Service it serves (gwsim fills it; upstream's image leaves it
    /// empty unless its Pod sets SERVICE_NAME), the pod's name.
    pub namespace: String,
    pub service_name: String,
    pub pod: String,
}

impl GrpcEcho {
    /// The values of a metadata key (case-insensitive), joined with `,`.
    pub fn header(&self, name: &str) -> Option<String> {
        join_header(&self.headers, name)
    }
}

/// What came back for one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Response {
    pub status: u16,
    /// Headers in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The echo backend's report, when a backend answered with one.
    pub echo: Option<EchoedRequest>,
    /// WebSocket messages that came back over the connection once the upgrade was accepted
    /// (status 101), in order; empty otherwise.
    pub messages: Vec<WebSocketMessage>,
    /// Trailers, in order (a gRPC answer's status is there).
    pub trailers: Vec<(String, String)>,
    /// The gRPC echo backend's report, when a gRPC echo answered a call with one.
    pub grpc_echo: Option<GrpcEcho>,
}

impl Response {
    /// A response made by the gateway itself.
    pub fn local(status: u16, headers: Vec<(String, String)>) -> Response {
        Response {
            status,
            headers,
            echo: None,
            messages: Vec::new(),
            trailers: Vec::new(),
            grpc_echo: None,
        }
    }

    /// The namespace and name of the pod whose echo report came back (HTTP or gRPC).
    pub fn answered_by(&self) -> Option<(&str, &str)> {
        match (&self.echo, &self.grpc_echo) {
            (Some(e), _) => Some((e.namespace.as_str(), e.pod.as_str())),
            (None, Some(g)) => Some((g.namespace.as_str(), g.pod.as_str())),
            (None, None) => None,
        }
    }

    /// The gRPC status a client reads from this answer (see [`crate::grpc::client_status`]).
    pub fn grpc_status(&self) -> (crate::grpc::Code, String) {
        crate::grpc::client_status(self.status, &self.headers, &self.trailers)
    }

    /// The values of a header (name compared case-insensitively), joined with `,`.
    pub fn header(&self, name: &str) -> Option<String> {
        join_header(&self.headers, name)
    }
}

/// Every value of `name` (case-insensitive), joined with `,` and no space; `None` if absent.
pub fn join_header(headers: &[(String, String)], name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            match &mut out {
                None => out = Some(v.clone()),
                Some(joined) => {
                    joined.push(',');
                    joined.push_str(v);
                }
            }
        }
    }
    out
}

/// Why a request got no HTTP response at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum SendError {
    /// Nothing listens on that port of the Gateway.
    #[error("connection refused: Gateway {gateway} has no listener on port {port}")]
    ConnectionRefused { gateway: String, port: u16 },
    /// The request breaks the rules of the protocol it was sent in; the Gateway resets the
    /// stream.
    #[error("stream reset by the Gateway (protocol error): {0}")]
    ProtocolError(String),
    /// The cluster cannot send requests in this protocol.
    #[error("this cluster cannot send {0} requests")]
    UnsupportedProtocol(ClientProtocol),
    /// The request could not go over the network (a real socket's failure that is not the
    /// Gateway's answer).
    #[error("{0}")]
    Transport(String),
    /// The TLS handshake failed (no listener can serve the name, or the client's certificate
    /// was refused): no HTTP request was sent.
    #[error("TLS handshake failed: {0}")]
    HandshakeFailed(String),
}

/// The certificate a Gateway presented in a TLS handshake, as a client reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PresentedCertificate {
    /// The DNS names of its subjectAltName, in certificate order.
    pub dns_names: Vec<String>,
}

/// The result of applying one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApplyOutcome {
    pub origin: Origin,
    /// What was done to which object, or the API server's refusal.
    pub result: Result<(ObjectKey, ApplyAction), String>,
}

/// A cluster operation that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    NotFound(String),
    /// A real cluster's API server refused the call or could not be reached.
    #[error("{0}")]
    Api(String),
}

/// How patient the runner is with a cluster whose controller and data plane follow changes
/// asynchronously (a real cluster). The simulator reconciles before `apply` returns, so its
/// patience is [`Patience::ONCE`]: every check is made once, nothing waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patience {
    /// How long a failing status or request step is tried again before it fails, counted as
    /// the pauses between tries. Zero: once.
    pub timeout: Duration,
    /// How many consecutive tries a request step must pass (upstream's suite asks for 3).
    pub request_streak: u32,
    /// The first pause between tries; each next pause doubles, up to `max_pause`.
    pub first_pause: Duration,
    pub max_pause: Duration,
}

impl Patience {
    /// Check once and never wait: the simulator.
    pub const ONCE: Patience = Patience {
        timeout: Duration::ZERO,
        request_streak: 1,
        first_pause: Duration::ZERO,
        max_pause: Duration::ZERO,
    };
}

/// A cluster the runner can drive.
pub trait Cluster {
    /// Applies documents one by one, in order, as `kubectl apply` would; a refused document
    /// changes nothing and the others still apply. Changes are reconciled before returning.
    fn apply(&mut self, documents: &[Document]) -> Vec<ApplyOutcome>;

    /// Deletes an object (and, for a namespace, what it holds).
    fn delete(&mut self, key: &ObjectKey) -> Result<(), ClusterError>;

    /// The object as JSON (`apiVersion`, `kind`, `metadata`, `spec`, `status`), if it exists.
    fn get(&self, key: &ObjectKey) -> Option<serde_json::Value>;

    /// The object's `status`, if the object exists (`null` when it has none yet).
    fn status(&self, key: &ObjectKey) -> Option<serde_json::Value> {
        self.get(key)
            .map(|o| o.get("status").cloned().unwrap_or(serde_json::Value::Null))
    }

    /// Keys of every object of a kind, in key order.
    fn list(&self, kind: Kind) -> Vec<ObjectKey>;

    /// Sends one HTTP/1.1 request to the Gateway it names.
    fn send(&mut self, request: &Request, id: RequestId) -> Result<Response, SendError>;

    /// Sends one request speaking `protocol` to the Gateway. `request` is what the scenario
    /// gives; the client adds what its protocol needs (a WebSocket client adds the upgrade
    /// headers). For a WebSocket whose upgrade is accepted, `messages` are sent in order and
    /// the response carries what came back; a refused upgrade reports the Gateway's answer.
    fn send_over(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
    ) -> Result<Response, SendError> {
        let _ = messages;
        match protocol {
            ClientProtocol::Http1 => self.send(request, id),
            other => Err(SendError::UnsupportedProtocol(other)),
        }
    }

    /// Sends as [`Cluster::send_over`], the client presenting in its TLS handshake (https) the
    /// certificate and key of the `kubernetes.io/tls` Secret `client_certificate`. A cluster
    /// that cannot present one fails the request, saying so: a scenario that needs a client
    /// certificate never passes without one.
    fn send_with_certificate(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
        client_certificate: Option<&ObjectKey>,
    ) -> Result<Response, SendError> {
        match client_certificate {
            None => self.send_over(request, protocol, messages, id),
            Some(key) => Err(SendError::Transport(format!(
                "request.clientCertificate {}: this cluster cannot present a client certificate",
                key.namespaced_name()
            ))),
        }
    }

    /// Sends one request from the pod `client` to what `authority` names as a client in the
    /// pod's namespace would (a Service's DNS name with an optional `:port`), through the
    /// mesh (GAMMA): the routes attached to that Service port decide it. `request.port` is
    /// the port `authority` names. A cluster that cannot send from a pod says so: a mesh
    /// request never passes without one.
    fn send_from_pod(
        &mut self,
        client: &ObjectKey,
        authority: &str,
        request: &Request,
        protocol: ClientProtocol,
        id: RequestId,
    ) -> Result<Response, SendError> {
        let _ = (request, protocol, id);
        Err(SendError::Transport(format!(
            "request from pod {} to {authority}: this cluster cannot send requests from a pod",
            client.namespaced_name()
        )))
    }

    /// The certificate the Gateway presented in the last request's TLS handshake, when the
    /// cluster can tell (`None` also for plain http).
    fn last_server_certificate(&self) -> Option<PresentedCertificate> {
        None
    }

    /// Whether a pod of `backend` (a Deployment's pods, `<backend>-...`) in `namespace` (any,
    /// when `None`) logged the request `id`.
    fn received(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> bool;

    /// As [`Cluster::received`], telling apart "not received" and "no longer known" (the
    /// request's entry left a bounded request log).
    fn receipt(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> Receipt {
        if self.received(namespace, backend, id) {
            Receipt::Received
        } else {
            Receipt::NotReceived
        }
    }

    /// Opens a TLS or TCP connection, or sends a UDP datagram, to a Gateway port (`connect`
    /// steps). A cluster that cannot open one says so: a connection step never passes without
    /// a connection.
    fn connect(
        &mut self,
        spec: &crate::connect::ConnectSpec,
    ) -> Result<crate::connect::ConnectionResult, SendError> {
        Err(SendError::Transport(format!(
            "connect to port {}: this cluster cannot open TLS or TCP connections or send UDP datagrams",
            spec.connection.port
        )))
    }

    /// Lets time pass.
    fn advance(&mut self, by: Duration);

    /// Declares the addresses the data plane can serve (a scenario's `network.addresses`),
    /// before anything is applied. A cluster whose network is not gwsim's to declare refuses,
    /// saying why: a scenario that needs one never runs on the wrong network.
    fn declare_network(&mut self, ranges: &[AddressRange]) -> Result<(), ClusterError> {
        let ranges: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        Err(ClusterError::Api(format!(
            "network.addresses ({}): this cluster's network cannot be declared",
            ranges.join(", ")
        )))
    }

    /// How patient the runner must be with this cluster (see [`Patience`]).
    fn patience(&self) -> Patience {
        Patience::ONCE
    }

    /// Waits `by` of real time between two tries of a step. Only called when
    /// [`Cluster::patience`] allows a second try; the simulator never waits.
    fn pause(&mut self, by: Duration) {
        let _ = by;
    }

    /// The `spec.controllerName` of the Gateway controller under test.
    fn controller_name(&self) -> &str;

    /// Why `request`, the last request sent, went where it went, when the cluster can tell.
    fn explain_last(&self, request: &Request) -> Option<String> {
        let _ = request;
        None
    }

    /// The Services whose EndpointSlices list the pod `pod` of `namespace` (which Service a
    /// pod that answered belongs to). A cluster may remember non-empty answers until its
    /// next write; the simulator reads its store each time.
    fn services_of_pod(&self, namespace: &str, pod: &str) -> Vec<String> {
        crate::checks::services_of_pod(self, namespace, pod)
    }

    /// The features the controller supports: the `status.supportedFeatures` of its
    /// GatewayClasses.
    fn supported_features(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for key in self.list(Kind::GatewayClass) {
            let Some(class) = self.get(&key) else {
                continue;
            };
            if class_controller(&class) == Some(self.controller_name()) {
                out.extend(listed_features(&class));
            }
        }
        out
    }
}

/// A GatewayClass's `spec.controllerName`.
pub fn class_controller(class: &serde_json::Value) -> Option<&str> {
    class
        .pointer("/spec/controllerName")
        .and_then(|v| v.as_str())
}

/// The features a GatewayClass's `status.supportedFeatures` lists.
pub fn listed_features(class: &serde_json::Value) -> impl Iterator<Item = String> + '_ {
    let listed = class
        .pointer("/status/supportedFeatures")
        .and_then(|f| f.as_array());
    listed.into_iter().flatten().filter_map(|feature| {
        // v1.3+ writes `{name: X}`; older controllers wrote bare strings.
        feature
            .get("name")
            .and_then(|n| n.as_str())
            .or_else(|| feature.as_str())
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_join_with_a_comma() {
        let headers = vec![
            ("X-A".to_string(), "1".to_string()),
            ("x-b".to_string(), "2".to_string()),
            ("x-a".to_string(), "3".to_string()),
        ];
        assert_eq!(join_header(&headers, "x-A").as_deref(), Some("1,3"));
        assert_eq!(join_header(&headers, "X-B").as_deref(), Some("2"));
        assert_eq!(join_header(&headers, "X-C"), None);
    }

    #[test]
    fn echo_json_has_the_upstream_shape() {
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
        let json = echo.to_json();
        assert_eq!(json["headers"]["X-A"], serde_json::json!(["1", "2"]));
        assert_eq!(json["httpPort"], "3000");
        assert_eq!(json["pod"], "web-abc-def");
        assert_eq!(RequestId(42).to_string(), "req-000042");
    }

    #[test]
    fn websocket_messages_read_and_print_as_scenarios_write_them() {
        let binary = WebSocketMessage::from_base64("AQIDBAUGBw==").expect("base64");
        assert_eq!(binary, WebSocketMessage::Binary(vec![1, 2, 3, 4, 5, 6, 7]));
        assert_eq!(binary.to_string(), "binary AQIDBAUGBw== (7 bytes)");
        assert_eq!(
            serde_json::to_value(&binary).expect("json"),
            serde_json::json!({"binary": "AQIDBAUGBw=="})
        );
        let text = WebSocketMessage::Text("a \"b\"".into());
        assert_eq!(text.to_string(), r#"text "a \"b\"""#);
        assert_eq!(
            serde_json::to_value(&text).expect("json"),
            serde_json::json!({"text": "a \"b\""})
        );
        assert!(WebSocketMessage::from_base64("AQ=").is_err());
        assert_eq!(
            WebSocketMessage::Binary(vec![0]).to_string(),
            "binary AA== (1 byte)"
        );
    }

    #[test]
    fn a_websocket_client_adds_the_upgrade_headers() {
        let mut request = Request::get("example.com", "/ws");
        request.headers.push(("X-A".into(), "1".into()));
        let handshake = websocket_handshake(&request);
        assert_eq!(handshake.header("x-a"), Some("1"));
        assert_eq!(handshake.header("connection"), Some("Upgrade"));
        assert_eq!(handshake.header("upgrade"), Some("websocket"));
        assert_eq!(handshake.header("sec-websocket-version"), Some("13"));
        assert_eq!(ClientProtocol::default().to_string(), "http/1.1");
    }
}
