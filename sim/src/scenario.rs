//! The scenario file format (version 1, the contract in the project docs): parsing and the
//! loaded model.
//!
//! Parsing is strict: unknown keys are errors naming the file, line and the known keys, and
//! everything that can be checked without a cluster (durations, kinds, status codes, which
//! keys go together) is checked at load time, so a typo never passes silently. Manifests are
//! parsed into documents here too; admission happens when a step runs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gwsim_engine::connection::ConnectionProtocol;
use gwsim_engine::controller::AddressRange;
use gwsim_engine::decision::Scheme;
use gwsim_engine::load::{Document, LoadError, parse_documents};
use gwsim_engine::object::{Kind, ObjectKey};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::cluster::{ClientProtocol, WebSocketMessage};
use crate::files::{Source, read_sources};
use crate::limits::{MAX_REQUESTS_PER_SCENARIO, MAX_REQUESTS_PER_STEP};
use crate::time::{format_duration, parse_duration};

/// Default `tolerance` of a `distribution` check.
pub const DEFAULT_TOLERANCE: f64 = 0.05;

/// A scenario file that cannot be used: file, line, column and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One loaded scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The file it came from, as given.
    pub file: String,
    pub name: String,
    pub description: String,
    /// The upstream conformance test ShortName this mirrors.
    pub upstream: Option<String>,
    /// Upstream feature names the scenario needs.
    pub features: Vec<String>,
    pub base: Base,
    pub seed: u64,
    /// `network.addresses` (gwsim addition): the address ranges the data plane can serve;
    /// `None`: the cluster's own network (the simulator's is open).
    pub network: Option<Vec<AddressRange>>,
    /// Resources applied, in order, before the first step.
    pub manifests: Vec<Manifest>,
    pub steps: Vec<Step>,
}

/// What a scenario starts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    #[default]
    None,
    /// The built-in conformance base.
    Conformance,
}

/// Documents from one source (an inline string or a `{file: ...}`).
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Where the documents came from, for messages: `file.yaml:12` or a path.
    pub origin: String,
    pub documents: Vec<Document>,
}

/// One step of the script.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Position in `steps`, from 1.
    pub number: usize,
    pub name: Option<String>,
    /// Line of the step in the scenario file.
    pub line: usize,
    pub action: Action,
}

impl Step {
    /// The step's name, or a short description of its action.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.action.summary(),
        }
    }
}

/// Why a real cluster (`--target cluster`) skips scenarios with TLS `connect` steps: its
/// client opens no raw TLS connections yet (`--wire` sends them: proxy/src/l4).
pub const CONNECT_NOT_SENT: &str = "TLS connection steps are not sent to a cluster yet";

/// Why a real cluster (`--target cluster`) skips scenarios with TCP or UDP `connect` steps:
/// its client opens no raw TCP connections and sends no UDP datagrams yet. (Over the wire
/// they are sent.)
pub const L4_CONNECT_NOT_SENT: &str = "TCP and UDP connection steps are not sent to a cluster yet";
/// Why a real cluster (`--target cluster`) skips scenarios with requests from a pod
/// (`request.from`): its client sends only to Gateways. (Over the wire they are sent.)
pub const MESH_NOT_SENT: &str =
    "requests from a pod through the mesh (request.from) are not sent to a cluster yet";

impl Scenario {
    /// Whether a step sends a request from a pod through the mesh.
    pub fn sends_from_pods(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(&s.action, Action::Request { request, .. } if request.from.is_some()))
    }
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Apply {
        manifest: Manifest,
        /// `expectError`: some document must be refused with a message containing this.
        expect_error: Option<String>,
    },
    Delete {
        target: ObjectRef,
    },
    Advance {
        by: Duration,
    },
    Request {
        request: RequestSpec,
        expect: Box<Expect>,
    },
    Status {
        checks: Vec<StatusCheck>,
    },
    /// `connect` (gwsim addition): a TLS or TCP connection, or a UDP datagram, to a Gateway
    /// port, with what must come of it.
    Connect {
        connect: crate::connect::ConnectSpec,
        expect: Box<ConnectExpect>,
    },
    /// `fillEndpoints` (gwsim addition): writes into a hand-made EndpointSlice the addresses of
    /// the ready pods a label selector picks, as upstream's HTTPRouteServiceTypes test does at
    /// run time. Portable: any cluster can list pods and update a slice.
    FillEndpoints {
        namespace: String,
        endpoint_slice: String,
        pod_selector: std::collections::BTreeMap<String, String>,
    },
}

impl Action {
    /// `apply`, `delete HTTPRoute ns/name`, `advance 5s`, `request GET /path`, `status`.
    pub fn summary(&self) -> String {
        match self {
            Action::Apply { .. } => "apply".to_string(),
            Action::Delete { target } => format!("delete {target}"),
            Action::Advance { by } => format!("advance {}", format_duration(*by)),
            Action::Request { request, .. } => {
                let count = if request.count > 1 {
                    format!(" x{}", request.count)
                } else {
                    String::new()
                };
                let over = match request.protocol {
                    ClientProtocol::Http1 => String::new(),
                    other => format!(" over {other}"),
                };
                format!("request {} {}{over}{count}", request.method, request.path)
            }
            Action::Status { checks } => {
                let objects: Vec<String> = checks.iter().map(|c| c.target.to_string()).collect();
                format!("status {}", objects.join(", "))
            }
            Action::Connect { connect, .. } => {
                let c = &connect.connection;
                let count = if connect.count > 1 {
                    format!(" x{}", connect.count)
                } else {
                    String::new()
                };
                match (c.protocol, &c.sni) {
                    (ConnectionProtocol::Tls, Some(sni)) => {
                        format!("connect port {} SNI {sni}{count}", c.port)
                    }
                    (ConnectionProtocol::Tls, None) => {
                        format!("connect port {} without SNI{count}", c.port)
                    }
                    (protocol, _) => {
                        format!("connect {} port {}{count}", protocol.as_str(), c.port)
                    }
                }
            }
            Action::FillEndpoints {
                namespace,
                endpoint_slice,
                ..
            } => format!("fillEndpoints EndpointSlice {namespace}/{endpoint_slice}"),
        }
    }
}

/// The `request` of a request step, with the contract's defaults applied where they do not
/// depend on the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSpec {
    /// `NAMESPACE/NAME`; `None`: the only Gateway.
    pub gateway: Option<(String, String)>,
    pub scheme: Scheme,
    /// `None`: 80 for http, 443 for https.
    pub port: Option<u16>,
    pub method: String,
    /// `None`: the Gateway's address.
    pub host: Option<String>,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// `None`: the host without its port (https only).
    pub sni: Option<String>,
    pub count: u32,
    /// gwsim addition: how the client speaks to the Gateway.
    pub protocol: ClientProtocol,
    /// gwsim addition, websocket only: messages sent once the upgrade is accepted.
    pub messages: Vec<WebSocketMessage>,
    /// gwsim addition, https only: the `kubernetes.io/tls` Secret (namespace, name) whose
    /// certificate and key the client presents in the TLS handshake.
    pub client_certificate: Option<(String, String)>,
    /// gwsim addition: a unary gRPC call (`protocol` is then `grpc`, `method` POST, `path`
    /// `/SERVICE/METHOD`, and `headers` its metadata plus the gRPC content type and `te`).
    pub grpc: Option<Box<GrpcCall>>,
    /// gwsim addition: the pod the request is sent from, through the mesh (GAMMA); `host` is
    /// then the destination as the client names it (`NAME[.NAMESPACE][:PORT]`).
    pub from: Option<Box<MeshClient>>,
    /// gwsim addition, with `from`: the request goes to this pod's address and port instead of
    /// a Service (upstream's MeshFrontend sends to a pod's IP).
    pub to_pod: Option<Box<PodAddress>>,
}

/// `request.toPod`: a pod (as `from` names one) and the port of its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodAddress {
    pub pod: MeshClient,
    pub port: u16,
}

/// `request.from`: the client pod of a mesh request, by name or, as upstream's mesh tests
/// pick it, the first pod (in name order) of the namespace carrying every label given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshClient {
    pub namespace: String,
    pub pod: PodChoice,
}

/// Which pod of the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodChoice {
    Name(String),
    Labels(std::collections::BTreeMap<String, String>),
}

impl fmt::Display for MeshClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pod {
            PodChoice::Name(name) => write!(f, "pod {}/{name}", self.namespace),
            PodChoice::Labels(labels) => {
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(
                    f,
                    "the first pod of {} with {}",
                    self.namespace,
                    labels.join(",")
                )
            }
        }
    }
}

/// `request.grpc`: the service (fully qualified, `package.Service`) and method called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcCall {
    pub service: String,
    pub method: String,
}

impl GrpcCall {
    /// `/SERVICE/METHOD`, the call's HTTP/2 path.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }
}

/// The `expect` of a request step. Each part is checked only when given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expect {
    /// Acceptable status codes.
    pub status: Option<Vec<u16>>,
    pub backend: Option<String>,
    pub namespace: Option<String>,
    pub request: Option<ExpectedRequest>,
    /// Response headers, name to exact value.
    pub headers: Vec<(String, String)>,
    pub absent_headers: Vec<String>,
    pub redirect: Option<ExpectedRedirect>,
    pub mirrored_to: Vec<MirrorTarget>,
    /// Backend to expected share.
    pub distribution: Option<Vec<(String, f64)>>,
    pub tolerance: f64,
    /// gwsim addition, websocket only: the messages that must come back, in order (an
    /// accepted upgrade is implied).
    pub messages: Option<Vec<WebSocketMessage>>,
    /// gwsim addition: response headers whose value must be one of several, name to values.
    pub header_values: Vec<(String, Vec<String>)>,
    /// gwsim addition: `headers` and `headerValues` compare with spaces removed.
    pub ignore_whitespace: bool,
    /// gwsim addition: `true`, a backend answered (an echo report came back); `false`, the
    /// Gateway answered itself.
    pub forwarded: Option<bool>,
    /// gwsim addition (https): the TLS handshake must fail, so no HTTP answer comes back.
    pub handshake_fails: bool,
    /// gwsim addition (https): the certificate the Gateway presented in the handshake.
    pub server_certificate: Option<ExpectedServerCertificate>,
    /// gwsim addition (gRPC calls): the gRPC status the client reads.
    pub grpc_status: Option<crate::grpc::Code>,
    /// gwsim addition (gRPC calls): what the gRPC echo backend reported about the call.
    pub grpc: Option<ExpectedGrpc>,
}

/// The `expect` of a `connect` step. Each part is checked only when given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectExpect {
    /// `reset: true`: the connection must be closed or reset with nothing echoed; `false`:
    /// an echo backend must answer.
    pub reset: Option<bool>,
    /// The Service whose pod answered (its pods are `<backend>-...`).
    pub backend: Option<String>,
    pub namespace: Option<String>,
    /// What the echo backend reported: whether it completed a TLS handshake itself, and the
    /// SNI it saw (`""`: none).
    pub tls: Option<bool>,
    pub sni: Option<String>,
    /// The certificate the client was shown (the backend's under Passthrough, the listener's
    /// under Terminate).
    pub server_certificate: Option<ExpectedServerCertificate>,
    /// Backend to expected share of the step's `count` connections.
    pub distribution: Option<Vec<(String, f64)>>,
    pub tolerance: f64,
}

/// `expect.grpc`: what the gRPC echo backend reported; each part compared when given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedGrpc {
    /// The fully qualified method (`/SERVICE/METHOD`) the backend received.
    pub method: Option<String>,
    /// The `:authority` the backend received.
    pub authority: Option<String>,
    /// Metadata, key to exact value (keys case-insensitive; repeated values joined with `,`).
    pub headers: Vec<(String, String)>,
    /// Metadata keys that must be missing.
    pub absent_headers: Vec<String>,
}

/// `expect.serverCertificate`: what the certificate the Gateway presents must carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedServerCertificate {
    /// The DNS names of its subjectAltName, in any order, exactly, as written.
    pub dns_names: Vec<String>,
}

/// What the backend must have received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedRequest {
    pub method: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub headers: Vec<(String, String)>,
    pub absent_headers: Vec<String>,
    /// gwsim addition: the protocol the backend saw (`HTTP/1.1`, `HTTP/2.0`).
    pub proto: Option<String>,
    /// gwsim addition: the TLS server name (SNI) the backend saw; the request must have come
    /// over TLS (BackendTLSPolicy). Upstream's `ExpectedRequest.SNI`.
    pub sni: Option<String>,
    /// gwsim addition: (namespace, name) of a `kubernetes.io/tls` Secret whose `tls.crt` the
    /// backend must list among the client certificates it received over TLS (upstream's
    /// `ExpectedRequest.ClientCert`).
    pub peer_certificate: Option<(String, String)>,
    /// gwsim addition: a request header the backend received exactly once, whose value names
    /// the Service whose pod answered.
    pub backend_header: Option<String>,
}

/// Parts of the `Location` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedRedirect {
    pub scheme: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub path: Option<String>,
}

/// A backend that must receive a mirrored copy.
#[derive(Clone, Debug, PartialEq)]
pub struct MirrorTarget {
    pub backend: String,
    /// `None`: any namespace.
    pub namespace: Option<String>,
    /// gwsim addition, for percentage mirrors: instead of every request, this share of the
    /// `count` requests must be mirrored, within `tolerance`.
    pub share: Option<f64>,
    pub tolerance: f64,
}

/// An object a step names: kind as written, namespace (empty for cluster-scoped kinds) and
/// name. The kind may be one gwsim does not model (a `ListenerSet`, a `TLSRoute`): such a
/// scenario still loads, and is skipped by its features or fails on a target without the kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    /// The store key, when gwsim models the kind.
    pub fn key(&self) -> Option<ObjectKey> {
        Kind::from_name(&self.kind).map(|k| ObjectKey::new(k, &self.namespace, &self.name))
    }

    /// A reference to a modelled object.
    pub fn from_key(key: &ObjectKey) -> ObjectRef {
        ObjectRef {
            kind: key.kind.as_str().to_string(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    /// Resolves the namespace rules: a known namespaced kind defaults to `default`; a known
    /// cluster-scoped kind takes none; an unknown kind keeps what is written.
    fn new(kind: &str, namespace: Option<String>, name: String) -> Result<ObjectRef, String> {
        let namespace = match (Kind::from_name(kind), namespace) {
            (Some(k), ns) if k.namespaced() => ns.unwrap_or_else(|| "default".to_string()),
            (Some(k), Some(_)) => {
                return Err(format!("{k} is cluster-scoped; leave out namespace"));
            }
            (Some(_), None) | (None, None) => String::new(),
            (None, Some(ns)) => ns,
        };
        let kind = Kind::from_name(kind).map_or(kind.to_string(), |k| k.as_str().to_string());
        Ok(ObjectRef {
            kind,
            namespace,
            name,
        })
    }
}

impl fmt::Display for ObjectRef {
    /// `HTTPRoute ns/name`, `GatewayClass name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Expectations about one object's status.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusCheck {
    pub target: ObjectRef,
    pub conditions: Vec<ExpectedCondition>,
    pub parents: Vec<ExpectedParent>,
    pub accepted_parents: Option<usize>,
    /// gwsim addition, policies (BackendTLSPolicy): `status.ancestors` entries that must be
    /// present, matched by `ancestorRef` as parents are by `parentRef`.
    pub ancestors: Vec<ExpectedParent>,
    pub addresses: Option<bool>,
    /// gwsim addition, Gateways only: `status.addresses` must be exactly these (type, value),
    /// in order; a value of `None` takes any value of that type.
    pub address_list: Option<Vec<(String, Option<String>)>>,
    pub listeners: Vec<ExpectedListener>,
    pub listener_count: Option<usize>,
    /// gwsim addition, Gateways only: `status.attachedListenerSets` must be this.
    pub attached_listener_sets: Option<i64>,
    /// gwsim addition, routes only: `status.parents` must hold exactly this many entries,
    /// whatever their conditions and controllers.
    pub parent_count: Option<usize>,
    /// gwsim addition, Gateways only: labels and annotations the objects generated for the
    /// Gateway must carry.
    pub infrastructure: Option<ExpectedInfrastructure>,
}

/// `infrastructure` of a Gateway status check: what its generated objects carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedInfrastructure {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

/// A condition that must be present; `status` and `reason` compared when given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedCondition {
    pub type_: String,
    pub status: Option<String>,
    pub reason: Option<String>,
}

/// A route parent entry that must be present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedParent {
    pub parent_ref: ExpectedParentRef,
    pub controller_name: Option<String>,
    pub conditions: Vec<ExpectedCondition>,
}

/// `parentRef` of an expected parent: `name` required, the rest compared when given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedParentRef {
    pub name: String,
    pub namespace: Option<String>,
    pub section_name: Option<String>,
    pub port: Option<u16>,
    pub group: Option<String>,
    pub kind: Option<String>,
}

/// A Gateway listener status entry that must be present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedListener {
    pub name: String,
    pub attached_routes: Option<i64>,
    /// `Some([])`: the list must be empty.
    pub supported_kinds: Option<Vec<String>>,
    pub conditions: Vec<ExpectedCondition>,
}

// ---------------------------------------------------------------------------------------
// Raw forms, as written in the file.

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    upstream: Option<String>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    base: Base,
    #[serde(default)]
    seed: u64,
    network: Option<Spanned<RawNetwork>>,
    #[serde(default)]
    manifests: Vec<Spanned<RawSource>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    addresses: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStep {
    name: Option<String>,
    apply: Option<Spanned<RawSource>>,
    expect_error: Option<String>,
    delete: Option<RawDelete>,
    advance: Option<String>,
    request: Option<RawRequest>,
    connect: Option<RawConnect>,
    expect: Option<RawExpect>,
    status: Option<Vec<Spanned<RawStatus>>>,
    fill_endpoints: Option<RawFillEndpoints>,
}

/// `connect`: a TLS or TCP connection, or a UDP datagram, to a Gateway port (gwsim addition).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConnect {
    gateway: Option<String>,
    port: u16,
    /// `TLS` (the default), `TCP` or `UDP`.
    protocol: Option<String>,
    sni: Option<String>,
    /// A ConfigMap whose `ca.crt` the client checks the presented certificate against.
    trust: Option<RawSecretRef>,
    /// UDP: send a DNS query for this name instead of the UDP echo's probe.
    dns_query: Option<String>,
    /// How many connections to open.
    count: Option<u32>,
}

/// `expect.connection`: what the TCP echo backend reported (gwsim addition).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExpectedConnection {
    tls: Option<bool>,
    sni: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFillEndpoints {
    namespace: Option<String>,
    endpoint_slice: String,
    pod_selector: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelete {
    kind: String,
    name: String,
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRequest {
    gateway: Option<String>,
    scheme: Option<String>,
    port: Option<u16>,
    method: Option<String>,
    host: Option<String>,
    path: Option<String>,
    headers: Option<HeaderList>,
    sni: Option<String>,
    count: Option<u32>,
    protocol: Option<ClientProtocol>,
    messages: Option<Vec<RawMessage>>,
    client_certificate: Option<RawSecretRef>,
    grpc: Option<RawGrpcCall>,
    from: Option<RawFrom>,
    to_pod: Option<RawToPod>,
}

/// `request.toPod`: `{namespace, name | labels, port}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToPod {
    namespace: String,
    name: Option<String>,
    labels: Option<std::collections::BTreeMap<String, String>>,
    port: u16,
}

/// `request.from`: `{namespace, name}` or `{namespace, labels}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrom {
    namespace: String,
    name: Option<String>,
    labels: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrpcCall {
    service: String,
    method: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExpectedGrpc {
    method: Option<String>,
    authority: Option<String>,
    headers: Option<HeaderList>,
    absent_headers: Option<Vec<String>>,
}

/// A Secret: `{name, namespace}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecretRef {
    name: String,
    namespace: Option<String>,
}

/// A WebSocket message: `{text: ...}` or `{binary: BASE64}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    text: Option<String>,
    binary: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExpect {
    status: Option<StatusCodes>,
    backend: Option<String>,
    namespace: Option<String>,
    request: Option<RawExpectedRequest>,
    headers: Option<HeaderList>,
    absent_headers: Option<Vec<String>>,
    redirect: Option<RawRedirect>,
    mirrored_to: Option<Vec<RawMirror>>,
    distribution: Option<ShareList>,
    tolerance: Option<f64>,
    messages: Option<Vec<RawMessage>>,
    header_values: Option<std::collections::BTreeMap<String, Vec<String>>>,
    ignore_whitespace: Option<bool>,
    forwarded: Option<bool>,
    handshake_fails: Option<bool>,
    server_certificate: Option<RawServerCertificate>,
    grpc_status: Option<ScalarString>,
    grpc: Option<RawExpectedGrpc>,
    reset: Option<bool>,
    connection: Option<RawExpectedConnection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawServerCertificate {
    dns_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExpectedRequest {
    method: Option<String>,
    host: Option<String>,
    path: Option<String>,
    headers: Option<HeaderList>,
    absent_headers: Option<Vec<String>>,
    proto: Option<String>,
    sni: Option<String>,
    peer_certificate: Option<RawSecretRef>,
    backend_header: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedirect {
    scheme: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMirror {
    backend: String,
    namespace: Option<String>,
    share: Option<f64>,
    tolerance: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStatus {
    kind: String,
    name: String,
    namespace: Option<String>,
    conditions: Option<Vec<RawCondition>>,
    parents: Option<Vec<RawParent>>,
    accepted_parents: Option<usize>,
    ancestors: Option<Vec<RawAncestor>>,
    addresses: Option<bool>,
    address_list: Option<Vec<RawAddress>>,
    listeners: Option<Vec<RawListener>>,
    listener_count: Option<usize>,
    attached_listener_sets: Option<i64>,
    parent_count: Option<usize>,
    infrastructure: Option<RawInfrastructure>,
}

/// One `addressList` entry: `type` defaults to IPAddress, as a Gateway's spec.addresses do.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAddress {
    #[serde(rename = "type")]
    type_: Option<String>,
    /// Absent: any value (the implementation chose it).
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInfrastructure {
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(rename = "type")]
    type_: String,
    status: Option<ConditionStatus>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawParent {
    parent_ref: RawParentRef,
    controller_name: Option<String>,
    #[serde(default)]
    conditions: Vec<RawCondition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAncestor {
    ancestor_ref: RawParentRef,
    controller_name: Option<String>,
    #[serde(default)]
    conditions: Vec<RawCondition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawParentRef {
    name: String,
    namespace: Option<String>,
    section_name: Option<String>,
    port: Option<u16>,
    group: Option<String>,
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawListener {
    name: String,
    attached_routes: Option<i64>,
    supported_kinds: Option<Vec<String>>,
    #[serde(default)]
    conditions: Vec<RawCondition>,
}

/// A source: a string of YAML documents, or `{file: PATH}`.
enum RawSource {
    Text(String),
    File(String),
}

impl<'de> Deserialize<'de> for RawSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = RawSource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string of YAML documents, or {file: PATH}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSource, E> {
                Ok(RawSource::Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSource, A::Error> {
                let mut file = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "file" => file = Some(map.next_value::<String>()?),
                        other => return Err(de::Error::unknown_field(other, &["file"])),
                    }
                }
                file.map(RawSource::File)
                    .ok_or_else(|| de::Error::missing_field("file"))
            }
        }
        d.deserialize_any(SourceVisitor)
    }
}

/// A scalar read as text: `5` and `true` are the strings `5` and `true`.
struct ScalarString(String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = ScalarString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

/// A condition status: `"True"`, `"False"`, `"Unknown"`; an unquoted YAML `True` reads as the
/// same.
struct ConditionStatus(String);

impl<'de> Deserialize<'de> for ConditionStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ScalarString(text) = ScalarString::deserialize(d)?;
        Ok(ConditionStatus(match text.as_str() {
            "true" => "True".to_string(),
            "false" => "False".to_string(),
            _ => text,
        }))
    }
}

/// Headers: a map of name to value, or a list of `[name, value]` pairs (names may repeat).
struct HeaderList(Vec<(String, String)>);

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = HeaderList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header name to value, or a list of [name, value] pairs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, ScalarString>()? {
                    out.push((k, v.0));
                }
                Ok(HeaderList(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderList, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = seq.next_element::<Vec<ScalarString>>()? {
                    match <[ScalarString; 2]>::try_from(pair) {
                        Ok([name, value]) => out.push((name.0, value.0)),
                        Err(_) => {
                            return Err(de::Error::custom(
                                "each header must be a [name, value] pair",
                            ));
                        }
                    }
                }
                Ok(HeaderList(out))
            }
        }
        d.deserialize_any(HeadersVisitor)
    }
}

/// Backend to share, in the order written.
struct ShareList(Vec<(String, f64)>);

impl<'de> Deserialize<'de> for ShareList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SharesVisitor;
        impl<'de> Visitor<'de> for SharesVisitor {
            type Value = ShareList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of backend name to share (0 to 1)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ShareList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, f64>()? {
                    out.push((k, v));
                }
                Ok(ShareList(out))
            }
        }
        d.deserialize_map(SharesVisitor)
    }
}

/// A status code or a list of them.
struct StatusCodes(Vec<u16>);

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CodesVisitor;
        impl<'de> Visitor<'de> for CodesVisitor {
            type Value = StatusCodes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code or a list of status codes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusCodes, E> {
                u16::try_from(v)
                    .map(|c| StatusCodes(vec![c]))
                    .map_err(|_| E::custom(format!("status code {v} is out of range")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusCodes, E> {
                u16::try_from(v)
                    .map(|c| StatusCodes(vec![c]))
                    .map_err(|_| E::custom(format!("status code {v} is out of range")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusCodes, A::Error> {
                let mut out = Vec::new();
                while let Some(code) = seq.next_element::<u16>()? {
                    out.push(code);
                }
                Ok(StatusCodes(out))
            }
        }
        d.deserialize_any(CodesVisitor)
    }
}

// ---------------------------------------------------------------------------------------
// Loading.

/// Reads and loads every scenario under `paths` (files, or folders of `.yaml`/`.yml` files in
/// name order). Names must be unique.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let sources = read_sources(paths).map_err(|e| ScenarioError {
        file: e.path.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read: {}", e.source),
    })?;
    let mut scenarios: Vec<Scenario> = Vec::with_capacity(sources.len());
    for source in &sources {
        scenarios.push(load_scenario(source)?);
    }
    check_unique_names(&scenarios)?;
    Ok(scenarios)
}

/// Fails on the second of two scenarios with the same name.
pub fn check_unique_names(scenarios: &[Scenario]) -> Result<(), ScenarioError> {
    let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
    for s in scenarios {
        if let Some(first) = seen.insert(&s.name, &s.file) {
            return Err(ScenarioError {
                file: s.file.clone(),
                line: 1,
                column: 1,
                message: format!(
                    "scenario name {:?} is already used by {first}; names must be unique",
                    s.name
                ),
            });
        }
    }
    Ok(())
}

/// Loads one scenario from its text. `{file: ...}` sources are read relative to
/// `source.path`.
pub fn load_scenario(source: &Source) -> Result<Scenario, ScenarioError> {
    let file = source.name.as_str();
    let at = |line: usize, column: usize, message: String| ScenarioError {
        file: file.to_string(),
        line,
        column,
        message,
    };
    let raw: RawScenario = serde_saphyr::from_str(&source.text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((1, 1));
        at(line, column, first_line(&e.to_string()))
    })?;
    let dir = source
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let loader = Loader { file, dir: &dir };

    let name_loc = &raw.name.referenced;
    let name = raw.name.value.clone();
    if !is_kebab_case(&name) {
        return Err(at(
            name_loc.line() as usize,
            name_loc.column() as usize,
            format!("name {name:?} must be kebab-case (lower-case letters, digits and '-')"),
        ));
    }

    let network = match &raw.network {
        None => None,
        Some(spanned) => {
            let loc = &spanned.referenced;
            let ranges = spanned
                .value
                .addresses
                .iter()
                .map(|a| a.parse::<AddressRange>())
                .collect::<Result<Vec<_>, _>>()
                .and_then(|r| {
                    if r.is_empty() {
                        Err(
                            "lists no address range; leave network out for the cluster's own"
                                .into(),
                        )
                    } else {
                        Ok(r)
                    }
                })
                .map_err(|why| {
                    at(
                        loc.line() as usize,
                        loc.column() as usize,
                        format!("network.addresses: {why}"),
                    )
                })?;
            Some(ranges)
        }
    };
    let mut manifests = Vec::with_capacity(raw.manifests.len());
    for spanned in &raw.manifests {
        manifests.push(loader.source(spanned)?);
    }
    let mut steps = Vec::with_capacity(raw.steps.len());
    let mut requests: u64 = 0;
    for (i, spanned) in raw.steps.into_iter().enumerate() {
        let step = loader.step(i + 1, spanned)?;
        let sent = match &step.action {
            Action::Request { request, .. } => Some(request.count),
            Action::Connect { connect, .. } => Some(connect.count),
            _ => None,
        };
        if let Some(sent) = sent {
            requests += u64::from(sent);
            if requests > MAX_REQUESTS_PER_SCENARIO {
                return Err(at(
                    step.line,
                    1,
                    format!(
                        "step {}: {}.count: the scenario's requests add up to {requests}, more than {MAX_REQUESTS_PER_SCENARIO}, gwsim's limit of requests per scenario (docs/limits.md)",
                        step.number,
                        if matches!(step.action, Action::Connect { .. }) {
                            "connect"
                        } else {
                            "request"
                        }
                    ),
                ));
            }
        }
        steps.push(step);
    }
    Ok(Scenario {
        file: file.to_string(),
        name,
        description: raw.description,
        upstream: raw.upstream,
        features: raw.features,
        base: raw.base,
        seed: raw.seed,
        network,
        manifests,
        steps,
    })
}

fn first_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest.to_string(),
        _ => first.to_string(),
    }
}

fn is_kebab_case(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

struct Loader<'a> {
    file: &'a str,
    dir: &'a Path,
}

impl Loader<'_> {
    fn error(&self, line: usize, column: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Parses a source's documents. Inline text keeps the scenario file's line numbers.
    fn source(&self, spanned: &Spanned<RawSource>) -> Result<Manifest, ScenarioError> {
        let line = spanned.referenced.line() as usize;
        let column = spanned.referenced.column() as usize;
        match &spanned.value {
            RawSource::Text(text) => {
                let docs = parse_documents(self.file, text)
                    .map_err(|e| self.shift_load_error(e, line, column))?;
                let docs = docs
                    .into_iter()
                    .map(|mut d| {
                        d.origin.line += line.saturating_sub(1);
                        d
                    })
                    .collect();
                Ok(Manifest {
                    origin: format!("{}:{line}", self.file),
                    documents: docs,
                })
            }
            RawSource::File(rel) => {
                let path = self.dir.join(rel);
                let sources = read_sources(std::slice::from_ref(&path)).map_err(|e| {
                    self.error(
                        line,
                        column,
                        format!("cannot read {}: {}", e.path, e.source),
                    )
                })?;
                let mut documents = Vec::new();
                for source in sources {
                    documents.extend(parse_documents(&source.name, &source.text).map_err(|e| {
                        let (file, line, column, message) = match e {
                            LoadError::Yaml {
                                source_name,
                                line,
                                column,
                                document,
                                message,
                            } => (
                                source_name,
                                line,
                                column,
                                format!("document {document}: {message}"),
                            ),
                            LoadError::NotAnObject { origin, message } => (
                                origin.source.clone(),
                                origin.line,
                                1,
                                format!("document {}: {message}", origin.document),
                            ),
                        };
                        ScenarioError {
                            file,
                            line,
                            column,
                            message,
                        }
                    })?);
                }
                Ok(Manifest {
                    origin: path.display().to_string(),
                    documents,
                })
            }
        }
    }

    /// A YAML error inside inline text, moved to the scenario file's lines and columns.
    fn shift_load_error(&self, e: LoadError, line: usize, column: usize) -> ScenarioError {
        match e {
            LoadError::Yaml {
                line: l,
                column: c,
                document,
                message,
                ..
            } => self.error(
                (line + l).saturating_sub(1),
                (c + column).saturating_sub(1),
                format!("document {document}: {message}"),
            ),
            LoadError::NotAnObject { origin, message } => self.error(
                (line + origin.line).saturating_sub(1),
                column,
                format!("document {}: {message}", origin.document),
            ),
        }
    }

    fn step(&self, number: usize, spanned: Spanned<RawStep>) -> Result<Step, ScenarioError> {
        let line = spanned.referenced.line() as usize;
        let column = spanned.referenced.column() as usize;
        let fail = |message: String| self.error(line, column, message);
        let raw = spanned.value;
        let mut actions: Vec<&str> = Vec::new();
        for (key, present) in [
            ("apply", raw.apply.is_some()),
            ("delete", raw.delete.is_some()),
            ("advance", raw.advance.is_some()),
            ("request", raw.request.is_some()),
            ("connect", raw.connect.is_some()),
            ("status", raw.status.is_some()),
            ("fillEndpoints", raw.fill_endpoints.is_some()),
        ] {
            if present {
                actions.push(key);
            }
        }
        match actions.as_slice() {
            [_] => {}
            [] => {
                return Err(fail(format!(
                    "step {number} has no action; give exactly one of apply, delete, advance, request, connect, status, fillEndpoints"
                )));
            }
            many => {
                return Err(fail(format!(
                    "step {number} has several actions ({}); give exactly one",
                    many.join(", ")
                )));
            }
        }
        if raw.expect_error.is_some() && raw.apply.is_none() {
            return Err(fail(format!(
                "step {number}: expectError goes only with apply"
            )));
        }
        if raw.expect.is_some() && raw.request.is_none() && raw.connect.is_none() {
            return Err(fail(format!(
                "step {number}: expect goes only with request and connect"
            )));
        }
        let action = if let Some(source) = raw.apply {
            Action::Apply {
                manifest: self.source(&source)?,
                expect_error: raw.expect_error,
            }
        } else if let Some(delete) = raw.delete {
            let target = ObjectRef::new(&delete.kind, delete.namespace, delete.name)
                .map_err(|m| fail(format!("step {number}: {m}")))?;
            Action::Delete { target }
        } else if let Some(text) = raw.advance {
            let by = parse_duration(&text).map_err(|e| fail(format!("step {number}: {e}")))?;
            Action::Advance { by }
        } else if let Some(request) = raw.request {
            let request = self
                .request(request)
                .map_err(|m| fail(format!("step {number}: {m}")))?;
            let expect = self
                .expect(raw.expect)
                .map_err(|m| fail(format!("step {number}: {m}")))?;
            if let Some(m) = grpc_mismatch(&request, &expect) {
                return Err(fail(format!("step {number}: {m}")));
            }
            if expect.messages.is_some() && request.protocol != ClientProtocol::WebSocket {
                return Err(fail(format!(
                    "step {number}: expect.messages goes only with request.protocol websocket"
                )));
            }
            if (expect.handshake_fails || expect.server_certificate.is_some())
                && request.scheme != Scheme::Https
            {
                return Err(fail(format!(
                    "step {number}: expect.handshakeFails and expect.serverCertificate go only with request.scheme https"
                )));
            }
            if expect.distribution.is_some() && request.count < 2 {
                tracing::debug!(step = number, "distribution over a single request");
            }
            Action::Request {
                request,
                expect: Box::new(expect),
            }
        } else if let Some(connect) = raw.connect {
            let connect = connect_spec(connect).map_err(|m| fail(format!("step {number}: {m}")))?;
            let expect =
                connect_expect(raw.expect).map_err(|m| fail(format!("step {number}: {m}")))?;
            if connect.connection.protocol != ConnectionProtocol::Tls
                && (expect.server_certificate.is_some()
                    || expect.tls == Some(true)
                    || expect.sni.as_deref().is_some_and(|s| !s.is_empty()))
            {
                return Err(fail(format!(
                    "step {number}: expect.serverCertificate, connection.tls: true and connection.sni go only with TLS connections"
                )));
            }
            Action::Connect {
                connect,
                expect: Box::new(expect),
            }
        } else if let Some(fill) = raw.fill_endpoints {
            if fill.pod_selector.is_empty() {
                return Err(fail(format!(
                    "step {number}: fillEndpoints needs a non-empty podSelector"
                )));
            }
            Action::FillEndpoints {
                namespace: fill.namespace.unwrap_or_else(|| "default".to_string()),
                endpoint_slice: fill.endpoint_slice,
                pod_selector: fill.pod_selector,
            }
        } else if let Some(checks) = raw.status {
            let mut out = Vec::with_capacity(checks.len());
            for check in checks {
                let l = check.referenced.line() as usize;
                let c = check.referenced.column() as usize;
                out.push(
                    self.status(check.value)
                        .map_err(|m| self.error(l, c, format!("step {number}: {m}")))?,
                );
            }
            Action::Status { checks: out }
        } else {
            return Err(fail(format!("step {number} has no action")));
        };
        Ok(Step {
            number,
            name: raw.name,
            line,
            action,
        })
    }

    fn request(&self, raw: RawRequest) -> Result<RequestSpec, String> {
        let gateway = match raw.gateway {
            None => None,
            Some(g) => match g.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                    Some((ns.to_string(), name.to_string()))
                }
                _ => return Err(format!("request.gateway {g:?} must be NAMESPACE/NAME")),
            },
        };
        let scheme = match raw.scheme.as_deref() {
            None | Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(other) => return Err(format!("request.scheme {other:?} must be http or https")),
        };
        if raw.port == Some(0) {
            return Err("request.port must be between 1 and 65535".to_string());
        }
        let grpc = match raw.grpc {
            None => None,
            Some(call) => Some(Box::new(grpc_call(
                call,
                &raw.method,
                &raw.path,
                raw.protocol,
            )?)),
        };
        if raw.protocol == Some(ClientProtocol::Grpc) && grpc.is_none() {
            return Err(
                "request.protocol grpc needs request.grpc: {service, method}, the call to make"
                    .to_string(),
            );
        }
        let method = match &grpc {
            Some(_) => "POST".to_string(),
            None => raw.method.unwrap_or_else(|| "GET".to_string()),
        };
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("request.method {method:?} is not an HTTP method"));
        }
        let path = match &grpc {
            Some(call) => call.path(),
            None => raw.path.unwrap_or_else(|| "/".to_string()),
        };
        if !path.starts_with('/') {
            return Err(format!("request.path {path:?} must start with /"));
        }
        let count = raw.count.unwrap_or(1);
        if count == 0 {
            return Err("request.count must be at least 1".to_string());
        }
        if count > MAX_REQUESTS_PER_STEP {
            return Err(format!(
                "request.count {count} is more than {MAX_REQUESTS_PER_STEP}, gwsim's limit of requests per step (docs/limits.md)"
            ));
        }
        if raw.sni.is_some() && scheme == Scheme::Http {
            return Err("request.sni needs scheme https".to_string());
        }
        let protocol = match &grpc {
            Some(_) => ClientProtocol::Grpc,
            None => raw.protocol.unwrap_or_default(),
        };
        let mut headers = raw.headers.map(|h| h.0).unwrap_or_default();
        if grpc.is_some() {
            headers = grpc_metadata(headers)?;
        }
        check_protocol(protocol, scheme, &method, &headers)?;
        if raw.messages.is_some() && protocol != ClientProtocol::WebSocket {
            return Err("request.messages goes only with protocol websocket".to_string());
        }
        if raw.client_certificate.is_some() && scheme == Scheme::Http {
            return Err("request.clientCertificate needs scheme https".to_string());
        }
        let client_certificate = raw
            .client_certificate
            .map(|r| (r.namespace.unwrap_or_else(|| "default".to_string()), r.name));
        let to_pod = match raw.to_pod {
            None => None,
            Some(_) if raw.from.is_none() => {
                return Err("request.toPod goes only with request.from".to_string());
            }
            Some(_) if raw.host.is_some() => {
                return Err(
                    "request.toPod cannot go with request.host: the pod's address is the destination (give a Host header in request.headers)"
                        .to_string(),
                );
            }
            Some(to) => Some(Box::new(PodAddress {
                pod: pod_choice("request.toPod", to.namespace, to.name, to.labels)?,
                port: match to.port {
                    0 => return Err("request.toPod.port must be between 1 and 65535".to_string()),
                    p => p,
                },
            })),
        };
        let from = match raw.from {
            None => None,
            Some(from) => Some(Box::new(mesh_client(
                from,
                gateway.is_some(),
                raw.host.is_some() || to_pod.is_some(),
                raw.port,
                scheme,
                protocol,
                &client_certificate,
            )?)),
        };
        Ok(RequestSpec {
            gateway,
            scheme,
            port: raw.port,
            method: method.to_ascii_uppercase(),
            host: raw.host,
            path,
            headers,
            sni: raw.sni,
            count,
            protocol,
            messages: messages("request", raw.messages.unwrap_or_default())?,
            client_certificate,
            grpc,
            from,
            to_pod,
        })
    }

    fn expect(&self, raw: Option<RawExpect>) -> Result<Expect, String> {
        let Some(raw) = raw else {
            return Ok(Expect {
                tolerance: DEFAULT_TOLERANCE,
                ..Expect::default()
            });
        };
        if raw.reset.is_some() || raw.connection.is_some() {
            return Err("expect.reset and expect.connection go only with connect steps".into());
        }
        let handshake_fails = raw.handshake_fails.unwrap_or(false);
        if handshake_fails
            && (raw.status.is_some()
                || raw.backend.is_some()
                || raw.namespace.is_some()
                || raw.request.is_some()
                || raw.headers.is_some()
                || raw.absent_headers.is_some()
                || raw.redirect.is_some()
                || raw.mirrored_to.is_some()
                || raw.distribution.is_some()
                || raw.messages.is_some()
                || raw.header_values.is_some()
                || raw.forwarded.is_some()
                || raw.server_certificate.is_some()
                || raw.grpc_status.is_some()
                || raw.grpc.is_some())
        {
            return Err(
                "expect.handshakeFails: true (no HTTP answer comes back) cannot go with another expectation"
                    .to_string(),
            );
        }
        let status = match raw.status {
            None => None,
            Some(StatusCodes(codes)) => {
                if codes.is_empty() {
                    return Err("expect.status must name at least one code".to_string());
                }
                if let Some(bad) = codes.iter().find(|c| !(100..=599).contains(*c)) {
                    return Err(format!("expect.status {bad} is not an HTTP status code"));
                }
                Some(codes)
            }
        };
        let distribution = match raw.distribution {
            None => None,
            Some(ShareList(shares)) => {
                if shares.is_empty() {
                    return Err("expect.distribution must name at least one backend".to_string());
                }
                for (backend, share) in &shares {
                    if !(0.0..=1.0).contains(share) {
                        return Err(format!(
                            "expect.distribution share of {backend} is {share}; shares are between 0 and 1"
                        ));
                    }
                }
                Some(shares)
            }
        };
        let tolerance = raw.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(0.0..=1.0).contains(&tolerance) {
            return Err(format!(
                "expect.tolerance {tolerance} must be between 0 and 1"
            ));
        }
        if raw.tolerance.is_some() && distribution.is_none() {
            return Err("expect.tolerance goes only with distribution".to_string());
        }
        let redirect = match raw.redirect {
            None => None,
            Some(r) => {
                if let Some(s) = &r.scheme
                    && s != "http"
                    && s != "https"
                {
                    return Err(format!(
                        "expect.redirect.scheme {s:?} must be http or https"
                    ));
                }
                Some(ExpectedRedirect {
                    scheme: r.scheme,
                    host: r.host,
                    port: r.port,
                    path: r.path,
                })
            }
        };
        let header_values: Vec<(String, Vec<String>)> =
            raw.header_values.unwrap_or_default().into_iter().collect();
        if let Some((name, _)) = header_values.iter().find(|(_, v)| v.is_empty()) {
            return Err(format!(
                "expect.headerValues.{name} must list at least one value"
            ));
        }
        if raw.ignore_whitespace.is_some() && raw.headers.is_none() && header_values.is_empty() {
            return Err(
                "expect.ignoreWhitespace goes only with headers or headerValues".to_string(),
            );
        }
        if raw.forwarded == Some(false)
            && (raw.backend.is_some() || raw.namespace.is_some() || raw.request.is_some())
        {
            return Err(
                "expect.forwarded: false (the Gateway answered itself) cannot go with backend, namespace or request"
                    .to_string(),
            );
        }
        if let Some(proto) = raw.request.as_ref().and_then(|r| r.proto.as_deref())
            && !KNOWN_PROTOS.contains(&proto)
        {
            return Err(format!(
                "expect.request.proto {proto:?} must be one of {}",
                KNOWN_PROTOS.join(", ")
            ));
        }
        let grpc_status = raw
            .grpc_status
            .map(|ScalarString(text)| {
                crate::grpc::Code::parse(&text).map_err(|e| format!("expect.grpcStatus: {e}"))
            })
            .transpose()?;
        Ok(Expect {
            grpc_status,
            grpc: raw.grpc.map(|g| ExpectedGrpc {
                method: g.method,
                authority: g.authority,
                headers: g.headers.map(|h| h.0).unwrap_or_default(),
                absent_headers: g.absent_headers.unwrap_or_default(),
            }),
            handshake_fails,
            server_certificate: raw.server_certificate.map(|c| ExpectedServerCertificate {
                dns_names: c.dns_names,
            }),
            status,
            backend: raw.backend,
            namespace: raw.namespace,
            request: raw.request.map(|r| ExpectedRequest {
                method: r.method,
                host: r.host,
                path: r.path,
                headers: r.headers.map(|h| h.0).unwrap_or_default(),
                absent_headers: r.absent_headers.unwrap_or_default(),
                proto: r.proto,
                sni: r.sni,
                peer_certificate: r
                    .peer_certificate
                    .map(|p| (p.namespace.unwrap_or_else(|| "default".to_string()), p.name)),
                backend_header: r.backend_header,
            }),
            headers: raw.headers.map(|h| h.0).unwrap_or_default(),
            absent_headers: raw.absent_headers.unwrap_or_default(),
            redirect,
            mirrored_to: raw
                .mirrored_to
                .unwrap_or_default()
                .into_iter()
                .map(mirror_target)
                .collect::<Result<_, _>>()?,
            distribution,
            tolerance,
            messages: raw.messages.map(|m| messages("expect", m)).transpose()?,
            header_values,
            ignore_whitespace: raw.ignore_whitespace.unwrap_or(false),
            forwarded: raw.forwarded,
        })
    }

    fn status(&self, raw: RawStatus) -> Result<StatusCheck, String> {
        let target = ObjectRef::new(&raw.kind, raw.namespace, raw.name)?;
        // Kinds gwsim models are checked for the fields their status has; other kinds (a
        // ListenerSet) take any of the checks, applied to the status fields of those names.
        let kind = Kind::from_name(&target.kind);
        if let Some(k) = kind
            && !matches!(
                k,
                Kind::GatewayClass
                    | Kind::Gateway
                    | Kind::ListenerSet
                    | Kind::HttpRoute
                    | Kind::GrpcRoute
                    | Kind::TlsRoute
                    | Kind::TcpRoute
                    | Kind::UdpRoute
                    | Kind::BackendTlsPolicy
            )
        {
            return Err(format!(
                "status checks apply to GatewayClass, Gateway, ListenerSet, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute, BackendTLSPolicy and kinds gwsim does not model, not {k}"
            ));
        }
        let kind_name = target.kind.clone();
        let not_for = |field: &str, present: bool| -> Result<(), String> {
            if present {
                Err(format!("{field} does not apply to a {kind_name}"))
            } else {
                Ok(())
            }
        };
        let is_route = kind.is_none_or(|k| {
            matches!(
                k,
                Kind::HttpRoute
                    | Kind::GrpcRoute
                    | Kind::TlsRoute
                    | Kind::TcpRoute
                    | Kind::UdpRoute
            )
        });
        let is_policy = kind.is_none_or(|k| k == Kind::BackendTlsPolicy);
        let is_gateway = kind.is_none_or(|k| k == Kind::Gateway);
        // A ListenerSet's status has conditions and listeners like a Gateway's, no addresses.
        let has_listeners = kind.is_none_or(|k| matches!(k, Kind::Gateway | Kind::ListenerSet));
        let has_conditions = kind
            .is_none_or(|k| matches!(k, Kind::GatewayClass | Kind::Gateway | Kind::ListenerSet));
        not_for("conditions", !has_conditions && raw.conditions.is_some())?;
        not_for("parents", !is_route && raw.parents.is_some())?;
        not_for(
            "acceptedParents",
            !is_route && raw.accepted_parents.is_some(),
        )?;
        not_for("ancestors", !is_policy && raw.ancestors.is_some())?;
        not_for("addresses", !is_gateway && raw.addresses.is_some())?;
        not_for("addressList", !is_gateway && raw.address_list.is_some())?;
        not_for("listeners", !has_listeners && raw.listeners.is_some())?;
        not_for(
            "listenerCount",
            !has_listeners && raw.listener_count.is_some(),
        )?;
        not_for(
            "infrastructure",
            !is_gateway && raw.infrastructure.is_some(),
        )?;
        not_for(
            "attachedListenerSets",
            !is_gateway && raw.attached_listener_sets.is_some(),
        )?;
        not_for("parentCount", !is_route && raw.parent_count.is_some())?;
        Ok(StatusCheck {
            target,
            conditions: conditions(raw.conditions.unwrap_or_default()),
            parents: raw
                .parents
                .unwrap_or_default()
                .into_iter()
                .map(|p| expected_parent(p.parent_ref, p.controller_name, p.conditions))
                .collect(),
            accepted_parents: raw.accepted_parents,
            ancestors: raw
                .ancestors
                .unwrap_or_default()
                .into_iter()
                .map(|a| expected_parent(a.ancestor_ref, a.controller_name, a.conditions))
                .collect(),
            addresses: raw.addresses,
            address_list: raw.address_list.map(|list| {
                list.into_iter()
                    .map(|a| (a.type_.unwrap_or_else(|| "IPAddress".into()), a.value))
                    .collect()
            }),
            listeners: raw
                .listeners
                .unwrap_or_default()
                .into_iter()
                .map(|l| ExpectedListener {
                    name: l.name,
                    attached_routes: l.attached_routes,
                    supported_kinds: l.supported_kinds,
                    conditions: conditions(l.conditions),
                })
                .collect(),
            listener_count: raw.listener_count,
            attached_listener_sets: raw.attached_listener_sets,
            parent_count: raw.parent_count,
            infrastructure: raw.infrastructure.map(|i| ExpectedInfrastructure {
                labels: i.labels.into_iter().collect(),
                annotations: i.annotations.into_iter().collect(),
            }),
        })
    }
}

/// A route parent or policy ancestor entry as checked.
fn expected_parent(
    reference: RawParentRef,
    controller_name: Option<String>,
    raw_conditions: Vec<RawCondition>,
) -> ExpectedParent {
    ExpectedParent {
        parent_ref: ExpectedParentRef {
            name: reference.name,
            namespace: reference.namespace,
            section_name: reference.section_name,
            port: reference.port,
            group: reference.group,
            kind: reference.kind,
        },
        controller_name,
        conditions: conditions(raw_conditions),
    }
}

/// `{text: ...}` / `{binary: BASE64}` entries of `<side>.messages`.
fn messages(side: &str, raw: Vec<RawMessage>) -> Result<Vec<WebSocketMessage>, String> {
    raw.into_iter()
        .enumerate()
        .map(|(i, m)| match (m.text, m.binary) {
            (Some(text), None) => Ok(WebSocketMessage::Text(text)),
            (None, Some(binary)) => WebSocketMessage::from_base64(&binary)
                .map_err(|e| format!("{side}.messages[{i}]: {e}")),
            _ => Err(format!(
                "{side}.messages[{i}] must have exactly one of text or binary"
            )),
        })
        .collect()
}

/// The protocols a backend can report (`proto`, as Go's net/http spells them).
const KNOWN_PROTOS: [&str; 3] = ["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"];

/// What each client protocol allows: h2c is cleartext and carries no connection-specific
/// header (RFC 9113 §8.2.2); a WebSocket handshake is a GET whose upgrade headers the client
/// writes itself (RFC 6455 §4.1).
fn check_protocol(
    protocol: ClientProtocol,
    scheme: Scheme,
    method: &str,
    headers: &[(String, String)],
) -> Result<(), String> {
    match protocol {
        // A call's metadata was checked by `grpc_metadata`.
        ClientProtocol::Http1 | ClientProtocol::Grpc => Ok(()),
        ClientProtocol::H2c | ClientProtocol::H2 => {
            match (protocol, scheme) {
                (ClientProtocol::H2c, Scheme::Https) => {
                    return Err(
                        "request.protocol h2c is cleartext HTTP/2; it needs scheme http"
                            .to_string(),
                    );
                }
                (ClientProtocol::H2, Scheme::Http) => {
                    return Err(
                        "request.protocol h2 is HTTP/2 over TLS; it needs scheme https (h2c is cleartext HTTP/2)"
                            .to_string(),
                    );
                }
                _ => {}
            }
            match headers
                .iter()
                .find(|(n, v)| crate::network::is_connection_specific(n, v))
            {
                Some((name, _)) => Err(format!(
                    "request.headers {name} is connection-specific; an HTTP/2 request cannot carry it"
                )),
                None => Ok(()),
            }
        }
        ClientProtocol::WebSocket => {
            if !method.eq_ignore_ascii_case("GET") {
                return Err(format!(
                    "request.method {method} cannot open a WebSocket; the handshake is a GET"
                ));
            }
            const CLIENT_SET: [&str; 3] = ["connection", "upgrade", "sec-websocket-version"];
            match headers
                .iter()
                .find(|(n, _)| CLIENT_SET.iter().any(|c| n.eq_ignore_ascii_case(c)))
            {
                Some((name, _)) => Err(format!(
                    "request.headers {name} is written by the WebSocket client; leave it out"
                )),
                None => Ok(()),
            }
        }
    }
}

/// `request.grpc`: a service and method as a gRPC path segment each; `method`, `path` and a
/// protocol other than `grpc` cannot go with it.
fn grpc_call(
    call: RawGrpcCall,
    method: &Option<String>,
    path: &Option<String>,
    protocol: Option<ClientProtocol>,
) -> Result<GrpcCall, String> {
    if method.is_some() || path.is_some() {
        return Err(
            "request.method and request.path come from request.grpc (POST /SERVICE/METHOD); leave them out"
                .to_string(),
        );
    }
    if let Some(other) = protocol.filter(|p| *p != ClientProtocol::Grpc) {
        return Err(format!(
            "request.grpc is a gRPC call over h2c; request.protocol must be grpc or left out, not {other}"
        ));
    }
    let segment = |what: &str, value: &str| -> Result<(), String> {
        if value.is_empty() || value.contains(['/', '?', '#', ' ']) {
            Err(format!(
                "request.grpc.{what} {value:?} must be non-empty, without '/', '?', '#' or spaces"
            ))
        } else {
            Ok(())
        }
    };
    segment("service", &call.service)?;
    segment("method", &call.method)?;
    Ok(GrpcCall {
        service: call.service,
        method: call.method,
    })
}

/// A call's metadata as a gRPC client sends it: keys lower-cased (HTTP/2 header names are),
/// then the gRPC content type and `te: trailers`. Keys the client or the transport own are
/// refused.
/// `request.from` (a mesh request), checked against the keys it cannot go with.
fn mesh_client(
    raw: RawFrom,
    gateway: bool,
    has_destination: bool,
    port: Option<u16>,
    scheme: Scheme,
    protocol: ClientProtocol,
    client_certificate: &Option<(String, String)>,
) -> Result<MeshClient, String> {
    let refuse = |key: &str| {
        Err(format!(
            "request.from (a request from a pod through the mesh) cannot go with request.{key}"
        ))
    };
    if gateway {
        return refuse("gateway");
    }
    if port.is_some() {
        return refuse("port (give the port in request.host: NAME:PORT)");
    }
    if scheme != Scheme::Http {
        return refuse("scheme https");
    }
    if client_certificate.is_some() {
        return refuse("clientCertificate");
    }
    if protocol == ClientProtocol::WebSocket {
        return refuse("protocol websocket");
    }
    if !has_destination {
        return Err(
            "request.from needs request.host: the destination as the pod names it (NAME, NAME.NAMESPACE, with an optional :PORT), or request.toPod"
                .to_string(),
        );
    }
    pod_choice("request.from", raw.namespace, raw.name, raw.labels)
}

/// A pod by name or by labels in a namespace (`from`, `toPod`).
fn pod_choice(
    key: &str,
    namespace: String,
    name: Option<String>,
    labels: Option<std::collections::BTreeMap<String, String>>,
) -> Result<MeshClient, String> {
    if namespace.is_empty() {
        return Err(format!("{key}.namespace must not be empty"));
    }
    let pod = match (name, labels) {
        (Some(name), None) if !name.is_empty() => PodChoice::Name(name),
        (None, Some(labels)) if !labels.is_empty() => PodChoice::Labels(labels),
        _ => {
            return Err(format!(
                "{key} needs exactly one of name (a pod) and labels (the first pod carrying them)"
            ));
        }
    };
    Ok(MeshClient { namespace, pod })
}

fn grpc_metadata(headers: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::with_capacity(headers.len() + 2);
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(':')
            || lower.starts_with("grpc-")
            || lower == "content-type"
            || lower == "te"
            || lower == "host"
            || crate::network::is_connection_specific(&lower, &value)
        {
            return Err(format!(
                "request.headers {name} is written by the gRPC client or its transport; leave it out of a gRPC call's metadata"
            ));
        }
        out.push((lower, value));
    }
    out.push((
        "content-type".to_string(),
        crate::grpc::CONTENT_TYPE.to_string(),
    ));
    out.push(("te".to_string(), "trailers".to_string()));
    Ok(out)
}

/// What a gRPC call's expectations and an HTTP request's cannot share, if anything.
fn grpc_mismatch(request: &RequestSpec, expect: &Expect) -> Option<&'static str> {
    match request.grpc {
        Some(_) if expect.request.is_some() => {
            Some("expect.request is what an HTTP echo received; for a gRPC call use expect.grpc")
        }
        None if expect.grpc_status.is_some() || expect.grpc.is_some() => {
            Some("expect.grpcStatus and expect.grpc go only with request.grpc")
        }
        _ => None,
    }
}

fn mirror_target(m: RawMirror) -> Result<MirrorTarget, String> {
    if let Some(share) = m.share
        && !(0.0..=1.0).contains(&share)
    {
        return Err(format!(
            "expect.mirroredTo share of {} is {share}; shares are between 0 and 1",
            m.backend
        ));
    }
    let tolerance = m.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    if m.tolerance.is_some() && m.share.is_none() {
        return Err("expect.mirroredTo tolerance goes only with share".to_string());
    }
    if !(0.0..=1.0).contains(&tolerance) {
        return Err(format!(
            "expect.mirroredTo tolerance {tolerance} must be between 0 and 1"
        ));
    }
    Ok(MirrorTarget {
        backend: m.backend,
        namespace: m.namespace,
        share: m.share,
        tolerance,
    })
}

fn conditions(raw: Vec<RawCondition>) -> Vec<ExpectedCondition> {
    raw.into_iter()
        .map(|c| ExpectedCondition {
            type_: c.type_,
            status: c.status.map(|s| s.0),
            reason: c.reason,
        })
        .collect()
}

/// A `connect` block into a connection.
fn connect_spec(raw: RawConnect) -> Result<crate::connect::ConnectSpec, String> {
    let gateway = match raw.gateway {
        None => None,
        Some(g) => match g.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => Some(
                gwsim_engine::object::ObjectKey::new(gwsim_engine::object::Kind::Gateway, ns, name),
            ),
            _ => return Err(format!("connect.gateway {g:?} must be NAMESPACE/NAME")),
        },
    };
    if raw.port == 0 {
        return Err("connect.port must be between 1 and 65535".to_string());
    }
    let protocol = match raw.protocol.as_deref() {
        None | Some("TLS") => ConnectionProtocol::Tls,
        Some("TCP") => ConnectionProtocol::Tcp,
        Some("UDP") => ConnectionProtocol::Udp,
        Some(other) => {
            return Err(format!(
                "connect.protocol {other:?} is not one of TLS, TCP, UDP"
            ));
        }
    };
    if raw.sni.as_deref() == Some("") {
        return Err("connect.sni must not be empty; leave it out to send no SNI".to_string());
    }
    if protocol != ConnectionProtocol::Tls && (raw.sni.is_some() || raw.trust.is_some()) {
        return Err(format!(
            "connect.sni and connect.trust go only with TLS; a {} client sends no ClientHello",
            protocol.as_str()
        ));
    }
    match raw.dns_query.as_deref() {
        Some(_) if protocol != ConnectionProtocol::Udp => {
            return Err("connect.dnsQuery goes only with protocol: UDP".to_string());
        }
        Some("") => return Err("connect.dnsQuery must name a domain".to_string()),
        _ => {}
    }
    let count = raw.count.unwrap_or(1);
    if count == 0 {
        return Err("connect.count must be at least 1".to_string());
    }
    if count > MAX_REQUESTS_PER_STEP {
        return Err(format!(
            "connect.count {count} is more than {MAX_REQUESTS_PER_STEP}, gwsim's limit of requests per step (docs/limits.md)"
        ));
    }
    Ok(crate::connect::ConnectSpec {
        connection: gwsim_engine::connection::Connection {
            gateway,
            port: raw.port,
            protocol,
            sni: raw.sni,
        },
        trust: raw.trust.map(|t| {
            crate::connect::trust_key(t.namespace.as_deref().unwrap_or("default"), &t.name)
        }),
        dns_query: raw.dns_query,
        count,
    })
}

/// The `expect` of a `connect` step: only the parts a connection has.
fn connect_expect(raw: Option<RawExpect>) -> Result<ConnectExpect, String> {
    let Some(raw) = raw else {
        return Ok(ConnectExpect::default());
    };
    let request_only = [
        ("status", raw.status.is_some()),
        ("request", raw.request.is_some()),
        ("headers", raw.headers.is_some()),
        ("absentHeaders", raw.absent_headers.is_some()),
        ("redirect", raw.redirect.is_some()),
        ("mirroredTo", raw.mirrored_to.is_some()),
        ("messages", raw.messages.is_some()),
        ("headerValues", raw.header_values.is_some()),
        ("ignoreWhitespace", raw.ignore_whitespace.is_some()),
        ("forwarded", raw.forwarded.is_some()),
        ("handshakeFails", raw.handshake_fails.is_some()),
        ("grpcStatus", raw.grpc_status.is_some()),
        ("grpc", raw.grpc.is_some()),
    ];
    let used: Vec<&str> = request_only
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| *name)
        .collect();
    if !used.is_empty() {
        return Err(format!(
            "expect.{} goes only with request steps; a connect step expects reset, backend, namespace, connection, serverCertificate and distribution",
            used.join(", expect.")
        ));
    }
    let reset = raw.reset;
    let answered = raw.backend.is_some()
        || raw.namespace.is_some()
        || raw.connection.is_some()
        || raw.server_certificate.is_some();
    if reset == Some(true) && answered {
        return Err(
            "expect.reset: true means nothing answers; drop backend, namespace, connection and serverCertificate"
                .to_string(),
        );
    }
    let (tls, sni) = match raw.connection {
        Some(c) => (c.tls, c.sni),
        None => (None, None),
    };
    if tls == Some(false) && sni.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(
            "expect.connection.sni needs connection.tls: true (no TLS, no SNI)".to_string(),
        );
    }
    let distribution = match raw.distribution {
        None => None,
        Some(ShareList(shares)) if shares.is_empty() => {
            return Err("expect.distribution must name at least one backend".to_string());
        }
        Some(ShareList(shares)) => {
            if let Some((backend, share)) = shares.iter().find(|(_, s)| !(0.0..=1.0).contains(s)) {
                return Err(format!(
                    "expect.distribution share of {backend} is {share}; shares are between 0 and 1"
                ));
            }
            Some(shares)
        }
    };
    if reset == Some(true) && distribution.is_some() {
        return Err("expect.reset: true means nothing answers; drop distribution".to_string());
    }
    let tolerance = raw.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    if !(0.0..=1.0).contains(&tolerance) {
        return Err(format!(
            "expect.tolerance {tolerance} must be between 0 and 1"
        ));
    }
    if raw.tolerance.is_some() && distribution.is_none() {
        return Err("expect.tolerance goes only with distribution".to_string());
    }
    Ok(ConnectExpect {
        reset,
        backend: raw.backend,
        namespace: raw.namespace,
        tls,
        sni,
        server_certificate: raw.server_certificate.map(|c| ExpectedServerCertificate {
            dns_names: c.dns_names,
        }),
        distribution,
        tolerance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Scenario, ScenarioError> {
        load_scenario(&Source {
            name: "s.yaml".into(),
            path: PathBuf::from("s.yaml"),
            text: text.into(),
        })
    }

    fn load_err(text: &str) -> ScenarioError {
        load(text).expect_err("should fail")
    }

    #[test]
    fn minimal_scenario_gets_the_defaults() {
        let s = load("name: tiny\n").expect("loads");
        assert_eq!(s.name, "tiny");
        assert_eq!(s.description, "");
        assert_eq!(s.base, Base::None);
        assert_eq!(s.seed, 0);
        assert!(s.features.is_empty() && s.manifests.is_empty() && s.steps.is_empty());
    }

    #[test]
    fn every_step_kind_parses() {
        let text = r#"name: all-steps
description: every step
upstream: HTTPRouteExactPathMatching
features: [Gateway, HTTPRoute]
base: conformance
seed: 7
manifests:
- |
  apiVersion: v1
  kind: Namespace
  metadata: {name: a}
steps:
- name: first
  apply: |
    apiVersion: v1
    kind: Namespace
    metadata: {name: b}
  expectError: "is invalid"
- delete: {kind: httproute, name: r, namespace: a}
- delete: {kind: Namespace, name: a}
- advance: 1m30s
- request:
    gateway: infra/gw
    scheme: https
    port: 8443
    method: post
    host: example.com:8443
    path: /x?y=1
    headers: [[X-A, "1"], [X-A, 2]]
    sni: example.com
    count: 10
  expect:
    status: [200, 204]
    backend: web
    namespace: apps
    request:
      method: POST
      host: example.com
      path: /x?y=1
      headers: {X-A: "1,2"}
      absentHeaders: [X-B]
    headers: {X-Resp: v}
    absentHeaders: [Server]
    redirect: {scheme: https, host: h, port: 443, path: /p}
    mirroredTo: [{backend: m, namespace: apps}, {backend: n, share: 0.2, tolerance: 0.1}]
    distribution: {web: 0.7, web2: 0.3}
    tolerance: 0.1
- status:
  - kind: HTTPRoute
    name: r
    namespace: a
    parents:
    - parentRef: {name: gw, namespace: infra, sectionName: http, port: 80}
      controllerName: gateway.gwsim.dev/controller
      conditions:
      - {type: Accepted, status: True, reason: Accepted}
    acceptedParents: 1
  - kind: Gateway
    name: gw
    namespace: infra
    conditions: [{type: Programmed, status: "True"}]
    addresses: true
    listeners:
    - name: http
      attachedRoutes: 1
      supportedKinds: []
      conditions: [{type: Accepted}]
    listenerCount: 1
  - kind: GatewayClass
    name: c
    conditions: [{type: Accepted, status: "False"}]
"#;
        let s = load(text).expect("loads");
        assert_eq!(s.upstream.as_deref(), Some("HTTPRouteExactPathMatching"));
        assert_eq!(s.base, Base::Conformance);
        assert_eq!(s.seed, 7);
        assert_eq!(s.manifests[0].documents.len(), 1);
        assert_eq!(s.manifests[0].documents[0].origin.line, 9);
        assert_eq!(s.steps.len(), 6);
        assert_eq!(s.steps[0].label(), "first");
        assert_eq!(s.steps[0].line, 13);
        match &s.steps[0].action {
            Action::Apply {
                manifest,
                expect_error,
            } => {
                assert_eq!(expect_error.as_deref(), Some("is invalid"));
                assert_eq!(manifest.documents[0].origin.line, 15);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.steps[1].label(), "delete HTTPRoute a/r");
        assert_eq!(s.steps[2].label(), "delete Namespace a");
        assert_eq!(s.steps[3].label(), "advance 1m30s");
        match &s.steps[4].action {
            Action::Request { request, expect } => {
                assert_eq!(request.gateway, Some(("infra".into(), "gw".into())));
                assert_eq!(request.scheme, Scheme::Https);
                assert_eq!(request.method, "POST");
                assert_eq!(
                    request.headers,
                    vec![("X-A".into(), "1".into()), ("X-A".into(), "2".into())]
                );
                assert_eq!(request.count, 10);
                assert_eq!(expect.status, Some(vec![200, 204]));
                assert_eq!(expect.mirrored_to[1].namespace, None);
                assert_eq!(expect.mirrored_to[1].share, Some(0.2));
                assert_eq!(expect.mirrored_to[1].tolerance, 0.1);
                assert_eq!(expect.mirrored_to[0].share, None);
                assert_eq!(
                    expect.distribution,
                    Some(vec![("web".into(), 0.7), ("web2".into(), 0.3)])
                );
                assert_eq!(expect.tolerance, 0.1);
                assert_eq!(expect.redirect.as_ref().and_then(|r| r.port), Some(443));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.steps[4].label(), "request POST /x?y=1 x10");
        match &s.steps[5].action {
            Action::Status { checks } => {
                assert_eq!(checks.len(), 3);
                assert_eq!(
                    checks[0].parents[0].conditions[0].status.as_deref(),
                    Some("True")
                );
                assert_eq!(checks[1].listeners[0].supported_kinds, Some(vec![]));
                assert_eq!(
                    checks[2].target.key(),
                    Some(ObjectKey::new(Kind::GatewayClass, "", "c"))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_name_the_line_and_the_known_keys() {
        let cases = [
            (
                "name: a\nnmae: b\n",
                2,
                "unknown field `nmae`, expected one of name, description",
            ),
            (
                "name: a\nsteps:\n- advance: 1s\n  bogus: 1\n",
                4,
                "unknown field `bogus`, expected one of name, apply, expectError, delete",
            ),
            (
                "name: a\nsteps:\n- request: {path: /}\n  expect: {stauts: 200}\n",
                4,
                "unknown field `stauts`, expected one of status, backend",
            ),
            (
                "name: a\nsteps:\n- status:\n  - kind: Gateway\n    name: g\n    listeners: [{name: x, attached: 1}]\n",
                6,
                "unknown field `attached`",
            ),
            (
                "name: a\nmanifests:\n- {fiel: x}\n",
                3,
                "unknown field `fiel`, expected one of file",
            ),
        ];
        for (text, line, message) in cases {
            let e = load_err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
            assert_eq!(e.file, "s.yaml");
        }
    }

    #[test]
    fn requests_per_scenario_are_bounded() {
        let step = "- request: {count: 100000}\n";
        let at_limit = format!("name: a\nsteps:\n{}", step.repeat(10));
        let s = load(&at_limit).expect("exactly the limit loads");
        assert_eq!(s.steps.len(), 10);
        let over = format!("{at_limit}- advance: 1s\n- request: {{count: 1}}\n");
        let e = load_err(&over);
        assert_eq!(e.line, 14, "{e}");
        assert_eq!(
            e.message,
            "step 12: request.count: the scenario's requests add up to 1000001, more than \
             1000000, gwsim's limit of requests per scenario (docs/limits.md)"
        );
    }

    #[test]
    fn requests_from_pods_parse() {
        let s = load(
            "name: a\nsteps:\n- request: {from: {namespace: m, labels: {app: echo, version: v1}}, host: \"echo.m:8080\", headers: {Host: other}}\n- request: {from: {namespace: m, name: echo-v1-abc}, host: echo}\n",
        )
        .expect("loads");
        let from = |i: usize| match &s.steps[i].action {
            Action::Request { request, .. } => request.from.as_deref().cloned(),
            other => panic!("not a request: {other:?}"),
        };
        let labels = [("app", "echo"), ("version", "v1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            from(0),
            Some(MeshClient {
                namespace: "m".into(),
                pod: PodChoice::Labels(labels),
            })
        );
        assert_eq!(
            from(1).map(|f| f.to_string()),
            Some("pod m/echo-v1-abc".to_string())
        );
        assert!(!Scenario::sends_from_pods(
            &load("name: b\n").expect("loads")
        ));
        assert!(s.sends_from_pods());
    }

    #[test]
    fn invalid_values_are_load_errors_at_their_step() {
        let cases = [
            ("name: Not-Kebab\n", 1, "kebab-case"),
            ("name: a\nbase: full\n", 2, "unknown variant `full`"),
            // request.from (a request from a pod through the mesh)
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, labels: {app: echo}}}\n",
                3,
                "request.from needs request.host",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, labels: {app: echo}}, host: echo, gateway: a/b}\n",
                3,
                "cannot go with request.gateway",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, labels: {app: echo}}, host: echo, port: 8080}\n",
                3,
                "cannot go with request.port (give the port in request.host: NAME:PORT)",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, labels: {app: echo}}, host: echo, scheme: https}\n",
                3,
                "cannot go with request.scheme https",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, labels: {app: echo}}, host: echo, protocol: websocket}\n",
                3,
                "cannot go with request.protocol websocket",
            ),
            (
                "name: a\nsteps:\n- request: {toPod: {namespace: m, name: p, port: 80}}\n",
                3,
                "request.toPod goes only with request.from",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, name: c}, host: echo, toPod: {namespace: m, name: p, port: 80}}\n",
                3,
                "request.toPod cannot go with request.host",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, name: c}, toPod: {namespace: m, port: 80}}\n",
                3,
                "request.toPod needs exactly one of name",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, name: c}, toPod: {namespace: m, name: p, port: 0}}\n",
                3,
                "request.toPod.port must be between 1 and 65535",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m}, host: echo}\n",
                3,
                "exactly one of name (a pod) and labels",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: m, name: p, labels: {a: b}}, host: echo}\n",
                3,
                "exactly one of name (a pod) and labels",
            ),
            (
                "name: a\nsteps:\n- request: {from: {namespace: \"\", name: p}, host: echo}\n",
                3,
                "request.from.namespace must not be empty",
            ),
            ("name: a\nsteps:\n- {}\n", 3, "has no action"),
            (
                "name: a\nsteps:\n- {advance: 1s, delete: {kind: Gateway, name: g}}\n",
                3,
                "several actions",
            ),
            (
                "name: a\nsteps:\n- {advance: 1s, expectError: x}\n",
                3,
                "expectError goes only with apply",
            ),
            (
                "name: a\nsteps:\n- {advance: 1s, expect: {status: 200}}\n",
                3,
                "expect goes only with request and connect",
            ),
            (
                "name: a\nsteps:\n- advance: 5 seconds\n",
                3,
                "invalid duration",
            ),
            (
                "name: a\nsteps:\n- delete: {kind: GatewayClass, name: w, namespace: x}\n",
                3,
                "cluster-scoped",
            ),
            (
                "name: a\nsteps:\n- request: {gateway: gw}\n",
                3,
                "NAMESPACE/NAME",
            ),
            (
                "name: a\nsteps:\n- request: {scheme: ftp}\n",
                3,
                "http or https",
            ),
            (
                "name: a\nsteps:\n- request: {path: x}\n",
                3,
                "must start with /",
            ),
            ("name: a\nsteps:\n- request: {count: 0}\n", 3, "at least 1"),
            (
                "name: a\nsteps:\n- request: {clientCertificate: {name: c}}\n",
                3,
                "request.clientCertificate needs scheme https",
            ),
            (
                "name: a\nsteps:\n- request: {}\n  expect: {forwarded: false, backend: b}\n",
                3,
                "cannot go with backend, namespace or request",
            ),
            (
                "name: a\nsteps:\n- request: {}\n  expect: {headerValues: {a: []}}\n",
                3,
                "expect.headerValues.a must list at least one value",
            ),
            (
                "name: a\nsteps:\n- request: {}\n  expect: {ignoreWhitespace: true}\n",
                3,
                "goes only with headers or headerValues",
            ),
            (
                "name: a\nsteps:\n- status: [{kind: HTTPRoute, name: r, infrastructure: {}}]\n",
                3,
                "infrastructure does not apply to a HTTPRoute",
            ),
            // Issue 10, finding 4: a count that would hang the run is refused up front.
            (
                "name: a\nsteps:\n- request: {count: 4294967295}\n",
                3,
                "step 1: request.count 4294967295 is more than 100000, gwsim's limit of requests per step (docs/limits.md)",
            ),
            (
                "name: a\nsteps:\n- request: {count: 100001}\n",
                3,
                "gwsim's limit of requests per step",
            ),
            (
                "name: a\nsteps:\n- request: {}\n  expect: {status: 999}\n",
                3,
                "not an HTTP status code",
            ),
            (
                "name: a\nsteps:\n- request: {}\n  expect: {distribution: {a: 1.5}}\n",
                3,
                "between 0 and 1",
            ),
            (
                "name: a\nsteps:\n- request: {}\n  expect: {tolerance: 0.1}\n",
                3,
                "only with distribution",
            ),
            (
                "name: a\nsteps:\n- status:\n  - {kind: Service, name: s}\n",
                4,
                "status checks apply to",
            ),
            (
                "name: a\nsteps:\n- status:\n  - {kind: HTTPRoute, name: r, listeners: []}\n",
                4,
                "listeners does not apply",
            ),
            (
                "name: a\nsteps:\n- status:\n  - {kind: GatewayClass, name: c, parents: []}\n",
                4,
                "parents does not apply",
            ),
            (
                "name: a\nsteps:\n- request: {headers: [[a]]}\n",
                3,
                "[name, value] pair",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: h3}\n",
                3,
                "unknown variant `h3`, expected one of http/1.1, h2c, h2, websocket",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: h2}\n",
                3,
                "request.protocol h2 is HTTP/2 over TLS; it needs scheme https",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: h2c, scheme: https}\n",
                3,
                "needs scheme http",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: h2c, headers: {Upgrade: h2c}}\n",
                3,
                "Upgrade is connection-specific",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: websocket, method: POST}\n",
                3,
                "the handshake is a GET",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: websocket, headers: {sec-websocket-version: 8}}\n",
                3,
                "written by the WebSocket client",
            ),
            (
                "name: a\nsteps:\n- request: {messages: [{text: hi}]}\n",
                3,
                "request.messages goes only with protocol websocket",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: h2c}\n  expect: {messages: []}\n",
                3,
                "expect.messages goes only with request.protocol websocket",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: websocket, messages: [{binary: \"not base64!\"}]}\n",
                3,
                "request.messages[0]: binary \"not base64!\" is not base64",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: websocket, messages: [{text: a, binary: AQ==}]}\n",
                3,
                "request.messages[0] must have exactly one of text or binary",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: websocket}\n  expect: {messages: [{}]}\n",
                3,
                "expect.messages[0] must have exactly one of text or binary",
            ),
            (
                "name: a\nsteps:\n- request: {protocol: websocket, messages: [{txt: hi}]}\n",
                3,
                "unknown field `txt`, expected one of text, binary",
            ),
            (
                "name: a\nsteps:\n- request: {}\n  expect: {request: {proto: HTTP/2}}\n",
                3,
                "must be one of HTTP/1.0, HTTP/1.1, HTTP/2.0",
            ),
        ];
        for (text, line, message) in cases {
            let e = load_err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
        }
    }

    #[test]
    fn protocol_additions_parse() {
        let text = r#"name: protocols
steps:
- request: {path: /, protocol: h2c}
  expect: {request: {proto: HTTP/2.0}}
- request:
    path: /ws
    protocol: websocket
    messages: [{text: "Websocket Support!"}, {binary: AQIDBAUGBw==}]
  expect:
    status: 101
    messages: [{text: "Websocket Support!"}, {binary: AQIDBAUGBw==}]
- request: {path: /}
"#;
        let s = load(text).expect("loads");
        let request = |i: usize| match &s.steps[i].action {
            Action::Request { request, expect } => (request.clone(), expect.clone()),
            other => panic!("{other:?}"),
        };
        let (h2c, expect) = request(0);
        assert_eq!(h2c.protocol, ClientProtocol::H2c);
        assert_eq!(
            expect.request.and_then(|r| r.proto).as_deref(),
            Some("HTTP/2.0")
        );
        assert_eq!(s.steps[0].label(), "request GET / over h2c");
        let (ws, expect) = request(1);
        let sent = vec![
            WebSocketMessage::Text("Websocket Support!".into()),
            WebSocketMessage::Binary(vec![1, 2, 3, 4, 5, 6, 7]),
        ];
        assert_eq!(ws.protocol, ClientProtocol::WebSocket);
        assert_eq!(ws.messages, sent);
        assert_eq!(expect.messages, Some(sent));
        let (plain, expect) = request(2);
        assert_eq!(plain.protocol, ClientProtocol::Http1);
        assert!(plain.messages.is_empty() && expect.messages.is_none());
        assert_eq!(s.steps[2].label(), "request GET /");
    }

    #[test]
    fn grpc_calls_parse_and_misuse_is_refused() {
        let text = r#"name: grpc
steps:
- request:
    grpc: {service: pkg.Svc, method: Echo}
    host: a.example
    headers: {Version: one}
  expect:
    grpcStatus: Unimplemented
    grpc: {method: /pkg.Svc/Echo, authority: a.example, headers: {version: one}, absentHeaders: [x]}
"#;
        let s = load(text).expect("loads");
        let Action::Request { request, expect } = &s.steps[0].action else {
            panic!("{:?}", s.steps[0].action);
        };
        assert_eq!(request.protocol, ClientProtocol::Grpc);
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/pkg.Svc/Echo")
        );
        assert_eq!(
            request.headers,
            [
                ("version".to_string(), "one".to_string()),
                ("content-type".to_string(), "application/grpc".to_string()),
                ("te".to_string(), "trailers".to_string()),
            ]
        );
        assert_eq!(expect.grpc_status, Some(crate::grpc::Code::UNIMPLEMENTED));
        let grpc = expect.grpc.clone().expect("expect.grpc");
        assert_eq!(grpc.method.as_deref(), Some("/pkg.Svc/Echo"));
        assert_eq!(grpc.absent_headers, ["x"]);
        assert_eq!(s.steps[0].label(), "request POST /pkg.Svc/Echo over grpc");
        let call = "grpc: {service: s.S, method: M}";
        let cases = [
            (
                format!("request: {{{call}, path: /x}}"),
                "come from request.grpc",
            ),
            (
                format!("request: {{{call}, method: GET}}"),
                "come from request.grpc",
            ),
            (
                format!("request: {{{call}, protocol: h2c}}"),
                "must be grpc or left out, not h2c",
            ),
            (
                "request: {protocol: grpc}".to_string(),
                "request.protocol grpc needs request.grpc",
            ),
            (
                "request: {grpc: {service: a/b, method: M}}".to_string(),
                "request.grpc.service \"a/b\"",
            ),
            (
                "request: {grpc: {service: s, method: \"\"}}".to_string(),
                "request.grpc.method \"\" must be non-empty",
            ),
            (
                format!("request: {{{call}, headers: {{grpc-timeout: 1S}}}}"),
                "request.headers grpc-timeout is written by the gRPC client",
            ),
            (
                format!("request: {{{call}, headers: {{Content-Type: text/plain}}}}"),
                "request.headers Content-Type is written by the gRPC client",
            ),
            (
                "request: {}\n  expect: {grpcStatus: OK}".to_string(),
                "expect.grpcStatus and expect.grpc go only with request.grpc",
            ),
            (
                "request: {}\n  expect: {grpc: {authority: a}}".to_string(),
                "expect.grpcStatus and expect.grpc go only with request.grpc",
            ),
            (
                format!("request: {{{call}}}\n  expect: {{request: {{path: /}}}}"),
                "for a gRPC call use expect.grpc",
            ),
            (
                format!("request: {{{call}}}\n  expect: {{grpcStatus: 17}}"),
                "gRPC status code 17 is not one of 0 to 16",
            ),
            (
                format!("request: {{{call}}}\n  expect: {{grpcStatus: Fine}}"),
                "\"Fine\" is not a gRPC status code",
            ),
        ];
        for (step, want) in cases {
            let e = load_err(&format!("name: a\nsteps:\n- {step}\n"));
            assert!(e.message.contains(want), "{step}: {e}");
        }
    }

    #[test]
    fn kinds_gwsim_does_not_model_still_load() {
        let text = "name: a\nsteps:\n- delete: {kind: TLSRoute, name: t, namespace: ns}\n- status:\n  - kind: XListenerSet\n    name: ls\n    namespace: ns\n    conditions: [{type: Accepted}]\n    listeners: [{name: l, attachedRoutes: 0}]\n    parents: []\n";
        let s = load(text).expect("loads");
        assert_eq!(s.steps[0].label(), "delete TLSRoute ns/t");
        match &s.steps[1].action {
            Action::Status { checks } => {
                assert_eq!(checks[0].target.key(), None);
                assert_eq!(checks[0].target.to_string(), "XListenerSet ns/ls");
                assert_eq!(checks[0].listeners.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        // Known kinds keep their canonical spelling and scope.
        let s = load("name: a\nsteps:\n- delete: {kind: httproute, name: r}\n").expect("loads");
        assert_eq!(s.steps[0].label(), "delete HTTPRoute default/r");
    }

    #[test]
    fn yaml_errors_in_inline_manifests_point_into_the_scenario_file() {
        let text = "name: a\nmanifests:\n- |\n  apiVersion: v1\n  kind: [Namespace\n";
        let e = load_err(text);
        assert_eq!(e.file, "s.yaml");
        assert!(e.line >= 5, "{e}");
        let text = "name: a\nmanifests:\n- |\n  apiVersion: v1\n  metadata: {}\n";
        let e = load_err(text);
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("kind is missing"), "{e}");
    }

    #[test]
    fn file_sources_are_read_relative_to_the_scenario() {
        let dir = std::env::temp_dir().join(format!("gwsim-scenario-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("m")).expect("mkdir");
        std::fs::write(
            dir.join("m/1.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: one}\n",
        )
        .expect("write");
        std::fs::write(
            dir.join("m/2.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: two}\n",
        )
        .expect("write");
        let scenario_path = dir.join("s.yaml");
        std::fs::write(
            &scenario_path,
            "name: files\nmanifests:\n- file: m\n- file: missing.yaml\n",
        )
        .expect("write");
        let source = Source {
            name: scenario_path.display().to_string(),
            path: scenario_path.clone(),
            text: std::fs::read_to_string(&scenario_path).expect("read"),
        };
        let e = load_scenario(&source).expect_err("missing file");
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("cannot read"), "{e}");

        std::fs::write(&scenario_path, "name: files\nmanifests:\n- file: m\n").expect("write");
        let loaded = load_paths(std::slice::from_ref(&scenario_path)).expect("loads");
        let names: Vec<&str> = loaded[0].manifests[0]
            .documents
            .iter()
            .map(|d| d.value["metadata"]["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(names, vec!["one", "two"]);

        let dup = load_paths(&[scenario_path.clone(), scenario_path.clone()]).expect_err("dup");
        assert!(dup.message.contains("already used"), "{dup}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
