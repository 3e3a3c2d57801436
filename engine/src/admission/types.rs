//! Shared building blocks of the Gateway API schemas: the named string types with their
//! lengths and patterns, and the reference shapes every route reuses (validation.md section 2).
//!
//! Rule messages are the CRD's `message` texts, verbatim: they are what the API server writes.

use serde_json::{Value, json};

use super::GatewayApiVersion;
use super::schema::{
    Node, Verdict, field, has, int32, list, map_of, object, pattern, str_at, string,
};

pattern! {
    /// Hostname: optional leading `*.`, then lowercase RFC 1123 labels.
    HOSTNAME = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
}
pattern! {
    /// PreciseHostname and SectionName: an RFC 1123 subdomain, no wildcard.
    SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
}
pattern! {
    /// Namespace: an RFC 1123 label.
    NAMESPACE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
}
pattern! {
    /// Group: empty (the core group) or an RFC 1123 subdomain.
    GROUP = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
}
pattern! {
    /// Kind: a letter, then letters, digits and dashes, not ending in a dash.
    KIND = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"
}
pattern! {
    /// HTTP header names (RFC 7230 token characters), also used for query parameter names.
    HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$"
}
pattern! {
    /// Header values, experimental channel only: printable ASCII words separated by single
    /// spaces or tabs, so CR and LF are refused.
    HEADER_VALUE = r"^[!-~]+([\t ]?[!-~]+)*$"
}
pattern! {
    /// GatewayController: `domain/path`.
    CONTROLLER_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$"
}
pattern! {
    /// GEP-2257 Duration: one to four `<1-5 digits><h|m|s|ms>` parts.
    DURATION = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"
}
pattern! {
    /// Path characters of RFC 3986 or `%XX` escapes (ExternalAuth http.path; the same class
    /// the HTTP path-match rule uses).
    PATH_CHARS = r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$"
}

/// Gateway API group.
pub(crate) const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// The HTTP methods of `HTTPMethod`.
pub(crate) const HTTP_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

pub(crate) fn hostname() -> Node {
    string().min_len(1).max_len(253).pattern(&HOSTNAME)
}

pub(crate) fn precise_hostname() -> Node {
    string().min_len(1).max_len(253).pattern(&SUBDOMAIN)
}

pub(crate) fn section_name() -> Node {
    string().min_len(1).max_len(253).pattern(&SUBDOMAIN)
}

pub(crate) fn object_name() -> Node {
    string().min_len(1).max_len(253)
}

pub(crate) fn namespace() -> Node {
    string().min_len(1).max_len(63).pattern(&NAMESPACE)
}

pub(crate) fn group() -> Node {
    string().max_len(253).pattern(&GROUP)
}

pub(crate) fn kind() -> Node {
    string().min_len(1).max_len(63).pattern(&KIND)
}

pub(crate) fn port_number() -> Node {
    int32().min(1).max(65535)
}

pub(crate) fn header_name() -> Node {
    string().min_len(1).max_len(256).pattern(&HEADER_NAME)
}

pub(crate) fn duration() -> Node {
    string().pattern(&DURATION)
}

pub(crate) fn controller_name() -> Node {
    string().min_len(1).max_len(253).pattern(&CONTROLLER_NAME)
}

/// `ParentReference` with its group/kind defaults.
pub(crate) fn parent_ref() -> Node {
    object(vec![
        field("group", group()).default(json!(GATEWAY_GROUP)),
        field("kind", kind()).default(json!("Gateway")),
        field("name", object_name()).required(),
        field("namespace", namespace()),
        field("port", port_number()),
        field("sectionName", section_name()),
    ])
}

/// Whether two parentRefs name the same parent: same group, kind and name, and the same
/// namespace where an absent and an empty namespace are equal.
fn same_parent(a: &Value, b: &Value) -> bool {
    let ns = |v: &Value| str_at(v, "namespace").unwrap_or("").to_string();
    a.get("group") == b.get("group")
        && a.get("kind") == b.get("kind")
        && a.get("name") == b.get("name")
        && ns(a) == ns(b)
}

/// The optional part that tells apart parentRefs to one parent: sectionName (empty = unset)
/// and, in the experimental channel, port (0 = unset).
fn parent_section(v: &Value) -> (Option<&str>, Option<i64>) {
    let section = str_at(v, "sectionName").filter(|s| !s.is_empty());
    let port = v.get("port").and_then(Value::as_i64).filter(|p| *p != 0);
    (section, port)
}

/// `spec.parentRefs` with its two CEL rules. gwsim follows the experimental channel, whose
/// rules also take `port` into account (the standard rules look at sectionName only).
pub(crate) fn parent_refs() -> Node {
    list(parent_ref())
        .max_items(32)
        // CEL (CommonRouteSpec.parentRefs, experimental): refs to one parent either all set
        // sectionName/port or none do.
        .rule(
            "sectionName or port must be specified when parentRefs includes 2 or more references to the same parent",
            |refs| {
                let refs = super::schema::items(refs);
                Verdict::from(refs.iter().all(|p1| {
                    refs.iter().all(|p2| {
                        if !same_parent(p1, p2) {
                            return true;
                        }
                        let (s1, o1) = parent_section(p1);
                        let (s2, o2) = parent_section(p2);
                        s1.is_some() == s2.is_some() && o1.is_some() == o2.is_some()
                    })
                }))
            },
        )
        // CEL (CommonRouteSpec.parentRefs, experimental): and the sectionName/port pairs differ.
        .rule(
            "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent",
            |refs| {
                let refs = super::schema::items(refs);
                Verdict::from(refs.iter().all(|p1| {
                    refs.iter()
                        .filter(|p2| same_parent(p1, p2) && parent_section(p1) == parent_section(p2))
                        .count()
                        == 1
                }))
            },
        )
}

/// CEL on BackendObjectReference uses: a core Service reference needs a port. Relies on the
/// group/kind defaults.
pub(crate) fn service_needs_port(r: &Value) -> Verdict {
    let core_group = str_at(r, "group").is_some_and(str::is_empty);
    let service = str_at(r, "kind") == Some("Service");
    Verdict::from(!(core_group && service) || has(r, "port"))
}

pub(crate) const SERVICE_PORT_MESSAGE: &str = "Must have port for Service reference";

/// The fields of `BackendObjectReference` (group "" and kind Service by default).
fn backend_object_fields() -> Vec<super::schema::Field> {
    vec![
        field("group", group()).default(json!("")),
        field("kind", kind()).default(json!("Service")),
        field("name", object_name()).required(),
        field("namespace", namespace()),
        field("port", port_number()),
    ]
}

/// `BackendObjectReference` with the Service-port rule (mirror and external-auth targets).
pub(crate) fn backend_object_ref() -> Node {
    object(backend_object_fields()).rule(SERVICE_PORT_MESSAGE, service_needs_port)
}

/// `BackendRef` fields: the object reference plus `weight` (default 1, 0 to 1,000,000).
pub(crate) fn backend_ref_fields() -> Vec<super::schema::Field> {
    let mut fields = backend_object_fields();
    fields.push(field("weight", int32().min(0).max(1_000_000)).default(json!(1)));
    fields
}

/// `LocalObjectReference` (ExtensionRef filters): group, kind and name all required.
pub(crate) fn local_object_ref() -> Node {
    object(vec![
        field("group", group()).required(),
        field("kind", kind()).required(),
        field("name", object_name()).required(),
    ])
}

/// `HTTPHeader` list (header modifier `set`/`add`): map list keyed by name, at most 16.
fn header_list() -> Node {
    list(object(vec![
        field("name", header_name()).required(),
        // Experimental channel: the printable-ASCII pattern on header values.
        field(
            "value",
            string().min_len(1).max_len(4096).pattern(&HEADER_VALUE),
        )
        .required(),
    ]))
    .max_items(16)
    .map_keys(&["name"])
}

/// `HTTPHeaderFilter` (request and response header modifiers).
pub(crate) fn header_modifier() -> Node {
    object(vec![
        field("add", header_list()),
        field("remove", list(string()).max_items(16).set()),
        field("set", header_list()),
    ])
}

/// `Fraction`, with its numerator <= denominator rule.
fn fraction() -> Node {
    object(vec![
        field("denominator", int32().min(1)).default(json!(100)),
        field("numerator", int32().min(0)).required(),
    ])
    // CEL (Fraction): numerator <= denominator.
    .rule(
        "numerator must be less than or equal to denominator",
        |f| match (
            f.get("numerator").and_then(Value::as_i64),
            f.get("denominator").and_then(Value::as_i64),
        ) {
            (Some(n), Some(d)) => Verdict::from(n <= d),
            _ => Verdict::Pass,
        },
    )
}

/// `HTTPRequestMirrorFilter`: backendRef required, percent 0-100 or a fraction, not both.
pub(crate) fn request_mirror() -> Node {
    object(vec![
        field("backendRef", backend_object_ref()).required(),
        field("fraction", fraction()),
        field("percent", int32().min(0).max(100)),
    ])
    // CEL (HTTPRouteFilter.requestMirror): percent and fraction are mutually exclusive.
    .rule(
        "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
        |m| Verdict::from(!(has(m, "percent") && has(m, "fraction"))),
    )
}

/// `SessionPersistence` (experimental): cookie or header based, a permanent cookie needs an
/// absolute timeout. v1.6.0 removed `idleTimeout`.
pub(crate) fn session_persistence(v: GatewayApiVersion) -> Node {
    let mut fields = vec![
        field("absoluteTimeout", duration()),
        field(
            "cookieConfig",
            object(vec![
                field("lifetimeType", string().one_of(&["Permanent", "Session"]))
                    .default(json!("Session")),
            ]),
        ),
        field("sessionName", string().max_len(128)),
        field("type", string().one_of(&["Cookie", "Header"])).default(json!("Cookie")),
    ];
    if v == GatewayApiVersion::V1_5 {
        fields.insert(2, field("idleTimeout", duration()));
    }
    object(fields)
        // CEL (SessionPersistence): a Permanent cookie needs absoluteTimeout.
        .rule(
            "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent",
            |s| {
                let permanent = s
                    .get("cookieConfig")
                    .and_then(|c| str_at(c, "lifetimeType"))
                    == Some("Permanent");
                Verdict::from(!permanent || has(s, "absoluteTimeout"))
            },
        )
        // CEL (SessionPersistence): cookieConfig only with cookie persistence (`type` is
        // defaulted, so always present).
        .rule("cookieConfig can only be set with type Cookie", |s| {
            Verdict::from(!has(s, "cookieConfig") || str_at(s, "type") == Some("Cookie"))
        })
}

/// `metav1.LabelSelector` (allowedRoutes / allowedListeners namespace selectors).
pub(crate) fn label_selector() -> Node {
    object(vec![
        field(
            "matchExpressions",
            list(object(vec![
                field("key", string()).required(),
                field("operator", string()).required(),
                field("values", list(string())),
            ])),
        ),
        field("matchLabels", map_of(string())),
    ])
}
