//! Admission: what the API server does to a document before it is stored.
//!
//! Order, as kube-apiserver does it for a custom resource: strict decoding (unknown fields
//! refused, naming them), defaulting, metadata checks, schema validation (types, required,
//! enums, patterns, lengths, item counts, list-map keys), then the CEL rules of the CRDs,
//! unless a "blocking" schema error already exists. All of it is written by hand from the
//! facts of the standard and experimental CRDs; each rule cites the field it comes from, and
//! carries the CRD's `message` verbatim (the API server writes it). gwsim behaves as an
//! experimental-channel install of Gateway API v1.6.1, or v1.5.1 (docs/versions.md).
//!
//! A rejected document yields a [`Rejection`] and nothing of it is used.
//!
//! Modules, in the order the data flows:
//! - `schema`: the small schema language and its passes (decode, default, validate, list
//!   types, rules); `messages`: the API server's cause shapes;
//! - `types`: shared building blocks (named string types, references, header modifiers);
//! - `gatewayclass`, `gateway`, `listenerset`, `httproute`, `grpcroute`, `tlsroute`,
//!   `l4route` (TCPRoute and UDPRoute), `referencegrant`, `backendtlspolicy`: each kind's
//!   `spec` schema, defaults and CEL-equivalent rules; `status`: status schemas, for strict
//!   decoding only; `metadata`: object-meta schema and checks;
//! - `core`: the core kinds, decoded strictly into k8s-openapi structs; `base64`: Secret and
//!   ConfigMap bytes decoded as the API server's Go decoder does;
//! - `version`: the Gateway API release whose rules apply ([`AdmissionOptions`]) and the kinds
//!   and versions it serves;
//! - `duration`: GEP-2257 durations ([`parse_duration`]).

use std::fmt;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::Value;

use crate::object::{GATEWAY_GROUP, Kind, Object};

mod backendtlspolicy;
mod base64;
mod core;
mod gateway;
mod gatewayclass;
mod grpcroute;
mod httproute;
mod l4route;
mod listenerset;
mod messages;
mod metadata;
mod referencegrant;
mod schema;
mod status;
mod tlsroute;
pub(crate) mod types;
mod version;

#[cfg(test)]
mod tests;

pub use crate::duration::parse as parse_duration;
pub use version::{AdmissionOptions, GATEWAY_X_GROUP, GatewayApiVersion, Served, UnknownVersion};

use schema::{Node, field, object, string};

/// The machine-readable kind of a [`Cause`]: the `reason` of a `details.causes` entry of the
/// API server's `Status` (apimachinery's `field.ErrorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CauseReason {
    FieldValueInvalid,
    /// A value of the wrong JSON type; written `Invalid value` like FieldValueInvalid.
    FieldValueTypeInvalid,
    FieldValueRequired,
    FieldValueDuplicate,
    FieldValueNotSupported,
    FieldValueForbidden,
    FieldValueTooLong,
    FieldValueTooMany,
    /// Strict decoding: a field the schema does not know. The API server answers these with a
    /// `400 BadRequest` ("strict decoding error") that carries no cause type of its own.
    UnknownField,
    InternalError,
}

/// One reason an object is refused, in the API server's form: `field: detail`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Cause {
    /// Field path as the API server writes it: `spec.rules[0].matches[0].path.value`.
    /// Empty for causes that name no field.
    pub field: String,
    /// `Invalid value: "object": Listener name must be unique within the Gateway`,
    /// `Required value`, ...
    pub detail: String,
    /// What kind of problem it is, for a `Status` with `details.causes`.
    pub reason: CauseReason,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "<nil>: {}", self.detail)
        } else {
            write!(f, "{}: {}", self.field, self.detail)
        }
    }
}

/// Why a whole document is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum RejectionReason {
    /// The API server validated it and found causes (`422 Invalid`).
    Invalid,
    /// No CRD of the selected Gateway API release serves this kind at this version: kubectl
    /// refuses the document before sending it (`no matches for kind ... in version ...`).
    NoKindMatch {
        #[serde(rename = "apiVersion")]
        api_version: String,
    },
    /// The API server could not decode the body (`400 BadRequest`), before any validation:
    /// unknown fields (strict field validation, kubectl's default) or bad base64 in a Secret's
    /// `data`. The message is the server's, whole; unknown fields are also listed as causes.
    BadRequest { message: String },
}

/// An object the API server would refuse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The kind as written in the document (`HTTPRoute`).
    pub kind: String,
    /// `metadata.name`, possibly empty.
    pub name: String,
    pub reason: RejectionReason,
    /// Every cause, in a fixed order (document order of the fields). Empty for
    /// [`RejectionReason::NoKindMatch`].
    pub causes: Vec<Cause>,
}

impl fmt::Display for Rejection {
    /// `HTTPRoute "shop" is invalid: spec.rules[0]...: Invalid value: ...`; several causes are
    /// written as a bracketed, comma-separated list, as the API server does. A kind the
    /// release does not serve reads as kubectl's RESTMapper error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            RejectionReason::Invalid => {}
            RejectionReason::NoKindMatch { api_version } => {
                return write!(
                    f,
                    "no matches for kind {} in version {}",
                    messages::quote(&self.kind),
                    messages::quote(api_version)
                );
            }
            RejectionReason::BadRequest { message } => return f.write_str(message),
        }
        write!(f, "{} \"{}\" is invalid: ", self.kind, self.name)?;
        match self.causes.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                f.write_str("[")?;
                for (i, c) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Why a document was not admitted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// A kind gwsim does not model; callers list it as ignored.
    #[error("{api_version} {kind} is not a kind gwsim models")]
    UnknownKind { api_version: String, kind: String },
    /// The API server would refuse the object.
    #[error("{0}")]
    Rejected(Rejection),
}

/// Admits one document as a cluster with the default Gateway API release
/// ([`GatewayApiVersion::V1_6`]) installed. See [`admit_with`].
pub fn admit(doc: &serde_json::Value, existing: Option<&Object>) -> Result<Object, AdmitError> {
    admit_with(doc, existing, &AdmissionOptions::default())
}

/// Admits one document: decodes it strictly, defaults it and validates it, with the rules of
/// the Gateway API release `options` names.
///
/// `existing` is the stored object with the same key, when this is an update: transition
/// rules (GatewayClass `spec.controllerName` is immutable) compare against it, the status of
/// kinds with a status subresource is kept from it, and `metadata.generation` moves on from
/// it when the spec changed.
///
/// A Gateway API kind or version the release does not serve (`GRPCRoute` in `v1alpha2`,
/// `HTTPRoutee`, `gateway.networking.k8s.io/v2`) is refused as kubectl refuses it; kinds the
/// release serves but gwsim does not model (XBackendTrafficPolicy, ...) and kinds of
/// other groups are [`AdmitError::UnknownKind`].
pub fn admit_with(
    doc: &serde_json::Value,
    existing: Option<&Object>,
    options: &AdmissionOptions,
) -> Result<Object, AdmitError> {
    admit_owned(doc.clone(), existing, options)
}

/// [`admit_with`] on a document the caller no longer needs: admission works on it in place
/// instead of on a copy.
pub fn admit_owned(
    doc: serde_json::Value,
    existing: Option<&Object>,
    options: &AdmissionOptions,
) -> Result<Object, AdmitError> {
    let text_of = |field: &str| {
        doc.get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let api_version = text_of("apiVersion");
    let kind_name = text_of("kind");
    let (api_version, kind_name) = (api_version.as_str(), kind_name.as_str());
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let version = options.gateway_api_version;
    let (group, group_version) = version::split_api_version(api_version);
    // `apiVersion: gateway.networking.k8s.io` (no version) parses as the core group with that
    // version, which nothing serves either.
    let gateway_group = matches!(group, GATEWAY_GROUP | version::GATEWAY_X_GROUP)
        || (group.is_empty() && matches!(group_version, GATEWAY_GROUP | version::GATEWAY_X_GROUP));
    if gateway_group
        && version.serves(group, group_version, kind_name) != Some(version::Served::Yes)
    {
        return Err(AdmitError::Rejected(Rejection {
            kind: kind_name.to_string(),
            name,
            reason: RejectionReason::NoKindMatch {
                api_version: api_version.to_string(),
            },
            causes: Vec::new(),
        }));
    }
    let Some(kind) = Kind::from_type(api_version, kind_name) else {
        return Err(AdmitError::UnknownKind {
            api_version: api_version.to_string(),
            kind: kind_name.to_string(),
        });
    };
    let existing = existing.filter(|e| e.kind() == kind);
    let result = match kind {
        Kind::GatewayClass
        | Kind::Gateway
        | Kind::ListenerSet
        | Kind::HttpRoute
        | Kind::GrpcRoute
        | Kind::TlsRoute
        | Kind::TcpRoute
        | Kind::UdpRoute
        | Kind::ReferenceGrant
        | Kind::BackendTlsPolicy => admit_gateway_api(kind, version, group_version, doc, existing),
        Kind::Namespace
        | Kind::Service
        | Kind::EndpointSlice
        | Kind::Deployment
        | Kind::Pod
        | Kind::Secret
        | Kind::ConfigMap => {
            let mut doc = doc;
            if let Err(message) = normalize_base64(kind, &mut doc) {
                return Err(AdmitError::Rejected(Rejection {
                    kind: kind_name.to_string(),
                    name,
                    reason: RejectionReason::BadRequest { message },
                    causes: Vec::new(),
                }));
            }
            core::admit(kind, doc, &METADATA)
        }
    };
    result.map_err(|causes| {
        // Unknown fields are reported alone, by the decoder, before validation: a 400 with
        // the strict-decoding error, not a 422 with causes.
        let reason = if !causes.is_empty()
            && causes.iter().all(|c| c.reason == CauseReason::UnknownField)
        {
            let details: Vec<&str> = causes.iter().map(|c| c.detail.as_str()).collect();
            RejectionReason::BadRequest {
                message: format!(
                    "{kind_name} in version {} cannot be handled as a {kind_name}: strict decoding error: {}",
                    messages::quote(group_version),
                    details.join(", ")
                ),
            }
        } else {
            RejectionReason::Invalid
        };
        AdmitError::Rejected(Rejection {
            kind: kind_name.to_string(),
            name,
            reason,
            causes,
        })
    })
}

/// Decodes Secret `data` and ConfigMap `binaryData` values as the API server does (newlines
/// skipped, see `base64`) and rewrites them on one line, so a value wrapped by `base64` is
/// stored as the API server stores it. A value the API server cannot decode fails the whole
/// document with its decoding error, which names no field.
fn normalize_base64(kind: Kind, doc: &mut Value) -> Result<(), String> {
    let member = match kind {
        Kind::Secret => "data",
        Kind::ConfigMap => "binaryData",
        _ => return Ok(()),
    };
    let Some(map) = doc.get_mut(member).and_then(Value::as_object_mut) else {
        return Ok(());
    };
    for value in map.values_mut() {
        let Value::String(text) = value else {
            continue;
        };
        match base64::decode(text.as_bytes()) {
            Ok(bytes) => *text = base64::encode(&bytes),
            Err(offset) => {
                return Err(format!(
                    "{kind} in version \"v1\" cannot be handled as a {kind}: illegal base64 data at input byte {offset}"
                ));
            }
        }
    }
    Ok(())
}

static METADATA: LazyLock<Node> = LazyLock::new(metadata::schema);

/// The whole document: `apiVersion`, `kind`, `metadata`, `spec` (required by every CRD but
/// v1.5's ReferenceGrant) and, for kinds with a status subresource, `status` (decoded strictly,
/// then discarded before defaulting).
fn root(spec: Node, spec_required: bool, status: Option<Node>) -> Node {
    let spec = field("spec", spec);
    let mut fields = vec![
        field("apiVersion", string()),
        field("kind", string()),
        field("metadata", metadata::schema()),
        if spec_required { spec.required() } else { spec },
    ];
    if let Some(status) = status {
        fields.push(field("status", status));
    }
    object(fields)
}

/// The ten modelled Gateway API kinds' schemas of one release (the deprecated v1alpha2 of
/// TLSRoute has a schema of its own; TCPRoute and UDPRoute share theirs).
struct Schemas {
    gateway_class: Node,
    gateway: Node,
    listener_set: Node,
    http_route: Node,
    grpc_route: Node,
    tls_route: Node,
    tls_route_v1alpha2: Node,
    l4_route: Node,
    l4_route_v1alpha2: Node,
    reference_grant: Node,
    backend_tls_policy: Node,
}

impl Schemas {
    fn build(v: GatewayApiVersion) -> Schemas {
        Schemas {
            gateway_class: root(gatewayclass::spec(), true, Some(status::gateway_class())),
            gateway: root(gateway::spec(v), true, Some(status::gateway())),
            listener_set: root(listenerset::spec(), true, Some(status::listener_set())),
            http_route: root(httproute::spec(v), true, Some(status::route())),
            grpc_route: root(grpcroute::spec(v), true, Some(status::route())),
            tls_route: root(tlsroute::spec(), true, Some(status::route())),
            tls_route_v1alpha2: root(tlsroute::spec_v1alpha2(), true, Some(status::route())),
            l4_route: root(l4route::spec(), true, Some(status::route())),
            l4_route_v1alpha2: root(l4route::spec_v1alpha2(), true, Some(status::route())),
            // v1.6.0 made ReferenceGrant's spec required.
            reference_grant: root(referencegrant::spec(), v >= GatewayApiVersion::V1_6, None),
            backend_tls_policy: root(backendtlspolicy::spec(), true, Some(status::policy())),
        }
    }
}

static SCHEMAS_V1_5: LazyLock<Schemas> = LazyLock::new(|| Schemas::build(GatewayApiVersion::V1_5));
static SCHEMAS_V1_6: LazyLock<Schemas> = LazyLock::new(|| Schemas::build(GatewayApiVersion::V1_6));

/// The schema of a Gateway API kind in a release at one API version (`v1`, `v1alpha2`), and
/// whether it has CEL rules at all (without any, the API server has no CEL validator and adds
/// no "rules were not checked" cause).
fn gateway_api_schema(
    kind: Kind,
    version: GatewayApiVersion,
    api_version: &str,
) -> Option<(&'static Node, bool)> {
    let schemas: &'static Schemas = match version {
        GatewayApiVersion::V1_5 => &SCHEMAS_V1_5,
        GatewayApiVersion::V1_6 => &SCHEMAS_V1_6,
    };
    match kind {
        Kind::GatewayClass => Some((&schemas.gateway_class, true)),
        Kind::Gateway => Some((&schemas.gateway, true)),
        Kind::ListenerSet => Some((&schemas.listener_set, true)),
        Kind::HttpRoute => Some((&schemas.http_route, true)),
        Kind::GrpcRoute => Some((&schemas.grpc_route, true)),
        Kind::TlsRoute if api_version == "v1alpha2" => Some((&schemas.tls_route_v1alpha2, true)),
        Kind::TlsRoute => Some((&schemas.tls_route, true)),
        Kind::TcpRoute | Kind::UdpRoute if api_version == "v1alpha2" => {
            Some((&schemas.l4_route_v1alpha2, true))
        }
        Kind::TcpRoute | Kind::UdpRoute => Some((&schemas.l4_route, true)),
        Kind::ReferenceGrant => Some((&schemas.reference_grant, false)),
        Kind::BackendTlsPolicy => Some((&schemas.backend_tls_policy, true)),
        _ => None,
    }
}

/// Whether the kind has a `status` subresource (every Gateway API kind gwsim models but
/// ReferenceGrant).
fn has_status_subresource(kind: Kind) -> bool {
    matches!(
        kind,
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
}

/// The custom-resource path, in the API server's order.
fn admit_gateway_api(
    kind: Kind,
    version: GatewayApiVersion,
    api_version: &str,
    mut doc: Value,
    existing: Option<&Object>,
) -> Result<Object, Vec<Cause>> {
    let Some((node, has_rules)) = gateway_api_schema(kind, version, api_version) else {
        return Err(vec![messages::internal(&format!(
            "{kind} is not a Gateway API kind"
        ))]);
    };
    if !doc.is_object() {
        return Err(vec![messages::wrong_type("", "object", &doc).cause]);
    }

    // 1. Strict decoding: unknown fields are refused, all of them, before anything else.
    let mut unknown = Vec::new();
    schema::decode(node, &mut doc, "", &mut unknown);
    if !unknown.is_empty() {
        return Err(unknown);
    }
    // Status changes are discarded on create and on updates of the main resource.
    if has_status_subresource(kind)
        && let Some(root) = doc.as_object_mut()
    {
        root.remove("status");
    }

    // 2. Namespace and defaults.
    metadata::normalize_namespace(kind, &mut doc);
    schema::apply_defaults(node, &mut doc);

    // 3. Object-meta checks, schema checks, then list types.
    let mut findings = Vec::new();
    metadata::validate(kind, &doc, &mut findings);
    schema::validate(node, &doc, "", &mut findings);
    schema::check_list_types(node, &doc, "", &mut findings);
    let blocking = findings.iter().any(|f| f.blocking);
    let mut causes: Vec<Cause> = findings.into_iter().map(|f| f.cause).collect();

    // 4. CEL-equivalent rules, unless a blocking error exists.
    if has_rules {
        if blocking {
            causes.push(messages::rules_not_checked());
        } else {
            let old = existing.map(Object::to_value);
            schema::evaluate_rules(node, &doc, old.as_ref(), "", &mut causes);
        }
    }
    if !causes.is_empty() {
        return Err(causes);
    }

    // 5. The stored form: v1, the schema's default status on create, generation.
    if let Some(root) = doc.as_object_mut() {
        root.remove("apiVersion");
        root.remove("kind");
        if existing.is_none() {
            match kind {
                Kind::GatewayClass => {
                    root.insert("status".into(), gatewayclass::default_status());
                }
                Kind::Gateway => {
                    root.insert("status".into(), gateway::default_status());
                }
                Kind::ListenerSet => {
                    root.insert("status".into(), listenerset::default_status());
                }
                _ => {}
            }
        }
    }
    // v1.5's ReferenceGrant may lack `spec`; the typed struct needs one, and an empty grant
    // grants what a missing spec grants: nothing.
    if kind == Kind::ReferenceGrant
        && let Some(root) = doc.as_object_mut()
    {
        root.entry("spec")
            .or_insert_with(|| serde_json::json!({"from": [], "to": []}));
    }
    if kind == Kind::TlsRoute {
        tlsroute::fill_stored(&mut doc);
    }
    let mut object = typed(kind, &doc).map_err(|c| vec![c])?;
    if let Some(existing) = existing {
        keep_status(&mut object, existing);
    }
    set_generation(&mut object, existing);
    Ok(object)
}

/// Converts a validated, defaulted document into its typed struct.
fn typed(kind: Kind, doc: &Value) -> Result<Object, Cause> {
    Ok(match kind {
        Kind::GatewayClass => Object::GatewayClass(Box::new(core::convert(doc)?)),
        Kind::Gateway => Object::Gateway(Box::new(core::convert(doc)?)),
        Kind::ListenerSet => Object::ListenerSet(Box::new(core::convert(doc)?)),
        Kind::HttpRoute => Object::HttpRoute(Box::new(core::convert(doc)?)),
        Kind::GrpcRoute => Object::GrpcRoute(Box::new(core::convert(doc)?)),
        Kind::TlsRoute => Object::TlsRoute(Box::new(core::convert(doc)?)),
        Kind::TcpRoute => Object::TcpRoute(Box::new(core::convert(doc)?)),
        Kind::UdpRoute => Object::UdpRoute(Box::new(core::convert(doc)?)),
        Kind::ReferenceGrant => Object::ReferenceGrant(Box::new(core::convert(doc)?)),
        Kind::BackendTlsPolicy => Object::BackendTlsPolicy(Box::new(core::convert(doc)?)),
        other => {
            return Err(messages::internal(&format!(
                "{other} is not a Gateway API kind"
            )));
        }
    })
}

/// On update, the status of a kind with a status subresource is the stored one.
fn keep_status(object: &mut Object, existing: &Object) {
    match (object, existing) {
        (Object::GatewayClass(new), Object::GatewayClass(old)) => new.status = old.status.clone(),
        (Object::Gateway(new), Object::Gateway(old)) => new.status = old.status.clone(),
        (Object::ListenerSet(new), Object::ListenerSet(old)) => new.status = old.status.clone(),
        (Object::HttpRoute(new), Object::HttpRoute(old)) => new.status = old.status.clone(),
        (Object::GrpcRoute(new), Object::GrpcRoute(old)) => new.status = old.status.clone(),
        (Object::TlsRoute(new), Object::TlsRoute(old)) => new.status = old.status.clone(),
        (Object::TcpRoute(new), Object::TcpRoute(old)) => new.status = old.status.clone(),
        (Object::UdpRoute(new), Object::UdpRoute(old)) => new.status = old.status.clone(),
        (Object::BackendTlsPolicy(new), Object::BackendTlsPolicy(old)) => {
            new.status = old.status.clone()
        }
        _ => {}
    }
}

/// `metadata.generation` as the API server keeps it for custom resources: 1 on create; on
/// update, the stored generation, plus one when the spec changed. The identity fields the
/// server owns (`uid`, `creationTimestamp`) are taken from the stored object when it has them.
fn set_generation(object: &mut Object, existing: Option<&Object>) {
    let generation = match existing {
        None => 1,
        Some(old) => {
            let changed = old.spec_value() != object.spec_value();
            old.generation().max(1) + i64::from(changed)
        }
    };
    if let Some(old) = existing {
        let old_meta = old.meta().clone();
        let meta = object.meta_mut();
        if old_meta.uid.is_some() {
            meta.uid = old_meta.uid;
        }
        if old_meta.creation_timestamp.is_some() {
            meta.creation_timestamp = old_meta.creation_timestamp;
        }
    }
    object.meta_mut().generation = Some(generation);
}
