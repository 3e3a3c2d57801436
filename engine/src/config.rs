//! The data plane's view of the cluster: what the controller hands to the routing table.
//!
//! The controller ([`crate::controller`]) turns admitted objects into these types once per
//! reconcile; the routing table ([`crate::table`]) indexes them; decisions
//! ([`crate::decision`]) read them. Nothing here refers to the generated Gateway API structs:
//! every default has been applied, every reference resolved, and bad configuration has become
//! data (an [`BackendTarget::Invalid`] that answers 500, a rule marked [`RuleConfig::invalid`]),
//! never a dropped route.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::object::ObjectKey;
use crate::x509::{CertificateChain, TrustAnchors};

/// One Gateway as the data plane sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GatewayConfig {
    /// The Gateway object.
    pub key: ObjectKey,
    /// `status.addresses` values, in order; requests addressed to any of them reach this Gateway.
    pub addresses: Vec<String>,
    /// Listeners in `spec.listeners` order, then those of accepted ListenerSets in listener
    /// precedence order (including ones that are not usable, so that explanations can say
    /// why they were passed over).
    pub listeners: Vec<ListenerConfig>,
    /// `spec.tls.backend.clientCertificateRef`, resolved: the certificate the Gateway presents
    /// to backends that ask for one during a TLS handshake (BackendTLSPolicy connections).
    #[serde(skip)]
    pub backend_client_certificate: Option<BackendClientCertificate>,
}

/// A client certificate the Gateway presents to backends.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendClientCertificate {
    pub chain: CertificateChain,
    /// `tls.crt` as written (PEM): what a backend reports as the peer certificate.
    pub pem: String,
    /// `tls.key` (PEM), for a data plane that makes real handshakes.
    pub key: Vec<u8>,
}

/// Listener protocols. Anything else is kept verbatim as `Other` (the API admits any token;
/// the controller reports it `UnsupportedProtocol`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Protocol {
    Http,
    Https,
    Tls,
    Tcp,
    Udp,
    Other(String),
}

impl Protocol {
    pub fn parse(s: &str) -> Protocol {
        match s {
            "HTTP" => Protocol::Http,
            "HTTPS" => Protocol::Https,
            "TLS" => Protocol::Tls,
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            other => Protocol::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
            Protocol::Tls => "TLS",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Other(s) => s,
        }
    }
}

/// One listener with the routes attached to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenerConfig {
    /// `spec.listeners[].name`.
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
    /// `spec.listeners[].hostname`; `None` matches every host.
    pub hostname: Option<String>,
    /// Whether the listener serves traffic: Accepted and Programmed (not conflicted, supported
    /// protocol, certificates resolved). An unusable listener is kept so explanations can
    /// name it; it never takes a request.
    pub usable: bool,
    /// Why the listener is not usable (the reason of its failing condition), for explanations.
    pub unusable_reason: Option<String>,
    /// Routes accepted on this listener, in no particular order (the table sorts them).
    pub routes: Vec<RouteAttachment>,
    /// The ListenerSet that added this listener to the Gateway (GEP-1713); `None` for the
    /// Gateway's own listeners.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_set: Option<ObjectKey>,
    /// HTTPS: the certificate chain of the listener's first `certificateRef`, parsed; what a
    /// TLS handshake that selects this listener presents. `None` when it does not resolve, or
    /// when it is a stand-in whose bytes were never read.
    #[serde(skip)]
    pub certificate: Option<CertificateChain>,
    /// HTTPS: frontend client certificate validation (GEP-91), when configured for the port.
    #[serde(skip)]
    pub client_validation: Option<Arc<ClientValidation>>,
    /// TLS listeners: whether the Gateway terminates the client's TLS (`tls.mode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_mode: Option<TlsMode>,
}

/// `spec.listeners[].tls.mode` of a TLS listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TlsMode {
    /// The Gateway completes the handshake with the listener's certificate and forwards the
    /// decrypted stream.
    Terminate,
    /// The Gateway reads only the ClientHello's SNI and forwards the encrypted stream.
    Passthrough,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Terminate => "Terminate",
            TlsMode::Passthrough => "Passthrough",
        }
    }
}

/// `name (why)` for each listener, comma-separated: what messages say when none of them serves.
pub fn unusable_listeners(listeners: &[&ListenerConfig]) -> String {
    let named: Vec<String> = listeners
        .iter()
        .map(|l| {
            let why = l.unusable_reason.as_deref().unwrap_or("not usable");
            format!("{} ({why})", l.name)
        })
        .collect();
    named.join(", ")
}

/// Client certificate validation of an HTTPS listener (`Gateway.spec.tls.frontend`, GEP-91):
/// the CAs a client's certificate must chain to.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientValidation {
    pub anchors: TrustAnchors,
    /// `AllowInsecureFallback`: a client without a valid certificate is let in anyway.
    pub insecure_fallback: bool,
}

/// A route accepted on a listener, with the hostnames it serves there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteAttachment {
    pub route: Arc<RouteConfig>,
    /// The intersection of the route's and the listener's hostnames (Gateway API
    /// `HTTPRouteSpec.hostnames`): each entry is the more specific of an intersecting pair.
    /// Empty when neither side names a hostname: the route then serves every host the
    /// listener takes.
    pub hostnames: Vec<String>,
}

/// Which route kind a [`RouteConfig`] came from. HTTPRoutes and GRPCRoutes are never merged.
/// TLSRoutes attach only to TLS listeners, TCPRoutes to TCP and UDPRoutes to UDP ones; they
/// route connections (or datagrams), not requests ([`crate::connection`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RouteKind {
    Http,
    Grpc,
    Tls,
    Tcp,
    Udp,
}

impl RouteKind {
    /// Whether routes of this kind route whole connections (by SNI or port) rather than
    /// requests.
    pub fn is_connection(self) -> bool {
        matches!(self, RouteKind::Tls | RouteKind::Tcp | RouteKind::Udp)
    }
}

/// One route, converted and resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteConfig {
    pub key: ObjectKey,
    pub kind: RouteKind,
    /// `metadata.creationTimestamp` in whole seconds since the epoch (the API server's
    /// resolution); the "oldest route" precedence step compares these.
    pub created: i64,
    pub generation: i64,
    pub rules: Vec<RuleConfig>,
}

/// One rule of a route.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleConfig {
    /// Index in `spec.rules`.
    pub index: usize,
    /// `spec.rules[].name` (GEP-995).
    pub name: Option<String>,
    /// Matches, OR-ed. Never empty for HTTPRoute and GRPCRoute rules: a rule without matches
    /// got the default PathPrefix `/`. Always empty for connection routes (TLSRoute), which
    /// the request table never reads.
    pub matches: Vec<RouteMatch>,
    /// Rule-level filters, in listed order.
    pub filters: Vec<Filter>,
    /// Weighted backends. Empty means no backendRefs: a request that reaches the rule and
    /// is not redirected is answered 500 (HTTPRouteNoBackendRefs).
    pub backends: Vec<WeightedBackend>,
    pub timeouts: Timeouts,
    pub retry: Option<Retry>,
    /// Set when the rule cannot be implemented (for example a filter gwsim does not
    /// support): matching requests get 500 and the route reports PartiallyInvalid.
    pub invalid: Option<String>,
}

/// One entry of `matches`: all parts must hold (AND).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteMatch {
    /// Index in the rule's `matches`.
    pub index: usize,
    pub path: PathMatch,
    /// HTTP method, upper case.
    pub method: Option<String>,
    /// Header matches; names are lower-cased, only the first entry of a name is kept.
    pub headers: Vec<HeaderMatch>,
    /// Query parameter matches; names are exact, only the first entry of a name is kept.
    pub query_params: Vec<QueryParamMatch>,
}

#[derive(Clone, Debug, Serialize)]
pub enum PathMatch {
    /// The whole path, case-sensitive.
    Exact(String),
    /// Segment-wise prefix; stored without a trailing `/` (except the root `/`).
    Prefix(String),
    /// Implementation-specific: gwsim anchors the expression to the whole path (RE2 syntax).
    RegularExpression(#[serde(serialize_with = "ser_regex")] Arc<regex::Regex>),
}

impl PartialEq for PathMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PathMatch::Exact(a), PathMatch::Exact(b)) => a == b,
            (PathMatch::Prefix(a), PathMatch::Prefix(b)) => a == b,
            (PathMatch::RegularExpression(a), PathMatch::RegularExpression(b)) => {
                a.as_str() == b.as_str()
            }
            _ => false,
        }
    }
}

/// A string compared exactly or by a regular expression.
#[derive(Clone, Debug, Serialize)]
pub enum ValueMatch {
    Exact(String),
    RegularExpression(#[serde(serialize_with = "ser_regex")] Arc<regex::Regex>),
}

impl PartialEq for ValueMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ValueMatch::Exact(a), ValueMatch::Exact(b)) => a == b,
            (ValueMatch::RegularExpression(a), ValueMatch::RegularExpression(b)) => {
                a.as_str() == b.as_str()
            }
            _ => false,
        }
    }
}

fn ser_regex<S: serde::Serializer>(re: &Arc<regex::Regex>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(crate::table::regex_as_written(re))
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeaderMatch {
    /// Lower case.
    pub name: String,
    pub value: ValueMatch,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryParamMatch {
    pub name: String,
    pub value: ValueMatch,
}

/// A filter, rule-level or backend-level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Filter {
    RequestHeaderModifier(HeaderModifier),
    ResponseHeaderModifier(HeaderModifier),
    RequestRedirect(Redirect),
    UrlRewrite(UrlRewrite),
    RequestMirror(Mirror),
    Cors(Cors),
    /// An ExtensionRef gwsim cannot resolve: "the filter must not be skipped", so requests
    /// it would handle are answered 500.
    Unsupported {
        kind: String,
        detail: String,
    },
}

/// `set`, `add`, `remove` of a header modifier, names as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HeaderModifier {
    pub set: Vec<(String, String)>,
    pub add: Vec<(String, String)>,
    pub remove: Vec<String>,
}

/// A path modifier of a redirect or rewrite.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum PathModifier {
    ReplaceFullPath(String),
    ReplacePrefixMatch(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Redirect {
    /// `http` or `https`.
    pub scheme: Option<String>,
    pub hostname: Option<String>,
    pub path: Option<PathModifier>,
    pub port: Option<u16>,
    /// Defaulted to 302.
    pub status_code: u16,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UrlRewrite {
    pub hostname: Option<String>,
    pub path: Option<PathModifier>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mirror {
    pub backend: BackendTarget,
    /// Share of requests mirrored, as numerator/denominator (percent p is p/100). 1/1 when
    /// neither `percent` nor `fraction` is given.
    pub numerator: u32,
    pub denominator: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: u32,
    pub allow_credentials: bool,
}

/// A backendRef with its weight and its own filters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeightedBackend {
    /// Index in the rule's `backendRefs`.
    pub index: usize,
    pub weight: u32,
    pub target: BackendTarget,
    pub filters: Vec<Filter>,
}

/// Where a backendRef points, once resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum BackendTarget {
    /// A Service port. Endpoints are the simulator's business.
    Service {
        namespace: String,
        name: String,
        port: u16,
        /// The Service port's appProtocol, when set (`kubernetes.io/h2c`, `kubernetes.io/ws`).
        app_protocol: Option<String>,
        /// TLS to the backend, when a BackendTLSPolicy applies to this Service port.
        #[serde(skip_serializing_if = "Option::is_none")]
        tls: Option<Arc<BackendTls>>,
    },
    /// A reference that cannot be used; its share of traffic is answered 500.
    Invalid {
        /// The ResolvedRefs reason: `BackendNotFound`, `InvalidKind`, `RefNotPermitted`,
        /// `UnsupportedProtocol`.
        reason: String,
        /// What the reference named, for explanations (`Service web-backend/web-backend`).
        reference: String,
        message: String,
    },
}

/// `spec.rules[].timeouts` (GEP-1742). `None` means no timeout; `"0s"` also becomes `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub request: Option<Duration>,
    pub backend_request: Option<Duration>,
}

/// `spec.rules[].retry` (GEP-1731, experimental).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retry {
    /// Status codes that trigger a retry; empty means only connection errors do.
    pub codes: Vec<u16>,
    /// Maximum number of retries (not counting the first attempt).
    pub attempts: u32,
    pub backoff: Option<Duration>,
}

/// TLS from the Gateway to a Service port, as the BackendTLSPolicy that applies to it says
/// (GEP-1897; `BackendTLSPolicySpec.validation`).
#[derive(Clone, Debug, Serialize)]
pub struct BackendTls {
    /// The policy that applies (the winner of any conflict for this port).
    pub policy: ObjectKey,
    /// `validation.hostname`: the SNI sent, and the name the backend's certificate must carry
    /// unless `subject_alt_names` is given.
    pub hostname: String,
    /// `validation.subjectAltNames`: when not empty, the certificate must carry one of them,
    /// and `hostname` is not used to authenticate.
    pub subject_alt_names: Vec<SubjectAltName>,
    /// What the backend's certificate chain must lead to.
    pub trust: BackendTrust,
    /// FNV-1a of the CA bytes, so two configurations with different CAs never compare equal.
    #[serde(skip)]
    pub ca_digest: u64,
}

/// One entry of `validation.subjectAltNames`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum SubjectAltName {
    /// A DNS name (a leading `*.` allowed), matched as a certificate's dNSName is.
    Hostname(String),
    /// A URI (a SPIFFE ID), compared exactly with the certificate's uniformResourceIdentifier.
    Uri(String),
}

/// The CAs a backend certificate is validated against.
#[derive(Clone, Debug, Serialize)]
pub enum BackendTrust {
    /// The `ca.crt` bundles of the policy's ConfigMaps.
    Certificates(#[serde(skip)] TrustAnchors),
    /// `wellKnownCACertificates: System`: the platform's trust store. gwsim's data planes carry
    /// no public CA (the simulator has no platform), so no backend certificate chains to it.
    System,
    /// No usable CA: the policy is Accepted False (NoValidCACertificate) and the Gateway
    /// refuses to connect; the text says why.
    None(String),
}

impl BackendTls {
    /// The fields equality, order and hashing look at (the anchors through `ca_digest`).
    fn identity(&self) -> (&ObjectKey, &str, &[SubjectAltName], u8, u64) {
        let trust = match &self.trust {
            BackendTrust::Certificates(_) => 0,
            BackendTrust::System => 1,
            BackendTrust::None(_) => 2,
        };
        (
            &self.policy,
            &self.hostname,
            &self.subject_alt_names,
            trust,
            self.ca_digest,
        )
    }
}

impl PartialEq for BackendTls {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for BackendTls {}

impl PartialOrd for BackendTls {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BackendTls {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

impl std::hash::Hash for BackendTls {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl std::fmt::Display for BackendTls {
    /// `TLS (BackendTLSPolicy ns/name): SNI abc.example.com, CA from ConfigMaps`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TLS (BackendTLSPolicy {}): SNI {}",
            self.policy.namespaced_name(),
            self.hostname
        )?;
        if !self.subject_alt_names.is_empty() {
            let names: Vec<String> = self
                .subject_alt_names
                .iter()
                .map(|n| match n {
                    SubjectAltName::Hostname(h) => format!("Hostname {h}"),
                    SubjectAltName::Uri(u) => format!("URI {u}"),
                })
                .collect();
            write!(f, ", subjectAltNames {}", names.join(", "))?;
        }
        match &self.trust {
            BackendTrust::Certificates(_) => f.write_str(", CA from caCertificateRefs"),
            BackendTrust::System => f.write_str(", CA: System"),
            BackendTrust::None(why) => write!(f, ", no valid CA ({why})"),
        }
    }
}

// --- mesh (GAMMA) ---

/// A Service as the mesh sees it (GAMMA: GEP-1324, GEP-1294, GEP-1686): its ports, each with
/// the routes whose parentRefs name the Service (and that port, or no port).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeshService {
    /// Kind Service.
    pub key: ObjectKey,
    /// In `spec.ports` order.
    pub ports: Vec<MeshPort>,
}

/// One Service port and the routes attached to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeshPort {
    pub port: u16,
    pub name: Option<String>,
    pub app_protocol: Option<String>,
    /// Producer routes (in the Service's namespace): they apply to requests from every
    /// namespace without consumer routes for this port.
    pub producer: Vec<RouteAttachment>,
    /// Consumer routes (in another namespace), by that namespace: they apply only to requests
    /// from it, and there replace the producer routes (GEP-1294 "Namespace boundaries").
    pub consumers: std::collections::BTreeMap<String, Vec<RouteAttachment>>,
}
