//! The objects gwsim understands, keyed the way the API server keys them.
//!
//! Gateway API kinds are held as the typed structs of the `gateway-api` crate (experimental
//! module, a superset of the standard channel); core kinds as `k8s-openapi` structs. Only
//! [`crate::admission`] builds an [`Object`] from user input, so every `Object` in a
//! [`Snapshot`] has been validated and defaulted.

use std::collections::BTreeMap;
use std::fmt;

use gateway_api::apis::experimental::{
    gatewayclasses::GatewayClass, gateways::Gateway, grpcroutes::GrpcRoute, httproutes::HttpRoute,
    listenersets::ListenerSet, referencegrants::ReferenceGrant, tcproutes::TcpRoute,
    tlsroutes::TlsRoute, udproutes::UdpRoute,
};
use gateway_api::apis::standard::backendtlspolicies::BackendTlsPolicy;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// The Gateway API group.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// Every kind gwsim loads. The order of the variants is the order objects are listed in output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Namespace,
    GatewayClass,
    Gateway,
    ListenerSet,
    HttpRoute,
    GrpcRoute,
    TlsRoute,
    TcpRoute,
    UdpRoute,
    ReferenceGrant,
    BackendTlsPolicy,
    Service,
    EndpointSlice,
    Deployment,
    Pod,
    Secret,
    ConfigMap,
}

impl Kind {
    /// All kinds, in output order.
    pub const ALL: [Kind; 17] = [
        Kind::Namespace,
        Kind::GatewayClass,
        Kind::Gateway,
        Kind::ListenerSet,
        Kind::HttpRoute,
        Kind::GrpcRoute,
        Kind::TlsRoute,
        Kind::TcpRoute,
        Kind::UdpRoute,
        Kind::ReferenceGrant,
        Kind::BackendTlsPolicy,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Deployment,
        Kind::Pod,
        Kind::Secret,
        Kind::ConfigMap,
    ];

    /// The kind as written in `kind:` fields (`HTTPRoute`, not `HttpRoute`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::ListenerSet => "ListenerSet",
            Kind::HttpRoute => "HTTPRoute",
            Kind::GrpcRoute => "GRPCRoute",
            Kind::TlsRoute => "TLSRoute",
            Kind::TcpRoute => "TCPRoute",
            Kind::UdpRoute => "UDPRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::BackendTlsPolicy => "BackendTLSPolicy",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Deployment => "Deployment",
            Kind::Pod => "Pod",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::GatewayClass
            | Kind::Gateway
            | Kind::ListenerSet
            | Kind::HttpRoute
            | Kind::GrpcRoute
            | Kind::TlsRoute
            | Kind::TcpRoute
            | Kind::UdpRoute
            | Kind::ReferenceGrant
            | Kind::BackendTlsPolicy => GATEWAY_GROUP,
            Kind::Deployment => "apps",
            Kind::EndpointSlice => "discovery.k8s.io",
            Kind::Namespace | Kind::Service | Kind::Pod | Kind::Secret | Kind::ConfigMap => "",
        }
    }

    /// The `apiVersion` gwsim writes for this kind.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::GatewayClass
            | Kind::Gateway
            | Kind::ListenerSet
            | Kind::HttpRoute
            | Kind::GrpcRoute
            | Kind::TlsRoute
            | Kind::TcpRoute
            | Kind::UdpRoute
            | Kind::ReferenceGrant
            | Kind::BackendTlsPolicy => "gateway.networking.k8s.io/v1",
            Kind::Deployment => "apps/v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
            Kind::Namespace | Kind::Service | Kind::Pod | Kind::Secret | Kind::ConfigMap => "v1",
        }
    }

    /// The API server's resource name, as used in "`HTTPRoute.gateway.networking.k8s.io` ...".
    pub fn qualified(self) -> String {
        match self.group() {
            "" => self.as_str().to_string(),
            group => format!("{}.{}", self.as_str(), group),
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::GatewayClass)
    }

    /// Whether the kind has a status written by the Gateway controller.
    pub fn has_gateway_status(self) -> bool {
        matches!(
            self,
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

    /// Looks a kind up by `apiVersion` and `kind`. `gateway.networking.k8s.io/v1beta1` is read
    /// as v1: the two versions share one schema (conversion strategy `None`).
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        let found = match (api_version, kind) {
            // GRPCRoute is served as v1 only; so is ListenerSet (standard v1 at HEAD, GEP-1713;
            // the gateway-api crate's struct is v1 too).
            ("gateway.networking.k8s.io/v1", "GRPCRoute") => Kind::GrpcRoute,
            ("gateway.networking.k8s.io/v1", "ListenerSet") => Kind::ListenerSet,
            // TLSRoute: v1 (standard since v1.5), and the deprecated v1alpha2 and v1alpha3 the
            // experimental channel still serves (conversion strategy None: stored as v1).
            (
                "gateway.networking.k8s.io/v1"
                | "gateway.networking.k8s.io/v1alpha2"
                | "gateway.networking.k8s.io/v1alpha3",
                "TLSRoute",
            ) => Kind::TlsRoute,
            // TCPRoute and UDPRoute: v1 (standard since v1.6) and the deprecated v1alpha2 the
            // experimental channel still serves, with the same fields (stored as v1).
            ("gateway.networking.k8s.io/v1" | "gateway.networking.k8s.io/v1alpha2", "TCPRoute") => {
                Kind::TcpRoute
            }
            ("gateway.networking.k8s.io/v1" | "gateway.networking.k8s.io/v1alpha2", "UDPRoute") => {
                Kind::UdpRoute
            }
            // BackendTLSPolicy: v1, and the deprecated v1alpha3 that both releases still serve
            // with the same schema (conversion strategy None: stored as v1).
            (
                "gateway.networking.k8s.io/v1" | "gateway.networking.k8s.io/v1alpha3",
                "BackendTLSPolicy",
            ) => Kind::BackendTlsPolicy,
            ("gateway.networking.k8s.io/v1" | "gateway.networking.k8s.io/v1beta1", k) => match k {
                "GatewayClass" => Kind::GatewayClass,
                "Gateway" => Kind::Gateway,
                "HTTPRoute" => Kind::HttpRoute,
                "ReferenceGrant" => Kind::ReferenceGrant,
                _ => return None,
            },
            ("v1", "Namespace") => Kind::Namespace,
            ("v1", "Service") => Kind::Service,
            ("v1", "Pod") => Kind::Pod,
            ("v1", "Secret") => Kind::Secret,
            ("v1", "ConfigMap") => Kind::ConfigMap,
            ("apps/v1", "Deployment") => Kind::Deployment,
            ("discovery.k8s.io/v1", "EndpointSlice") => Kind::EndpointSlice,
            _ => return None,
        };
        Some(found)
    }

    /// Looks a kind up by its `kind:` spelling alone (for `delete` steps and command flags).
    /// Case-insensitive, so `httproute` works on the command line.
    pub fn from_name(kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(kind))
    }
}

impl Serialize for Kind {
    /// As written in `kind:` fields.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of an object: kind, namespace (empty for cluster-scoped kinds) and name.
/// Ordered by kind, then namespace, then name, which is the order of every listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        let namespace = if kind.namespaced() {
            namespace.into()
        } else {
            String::new()
        };
        ObjectKey {
            kind,
            namespace,
            name: name.into(),
        }
    }

    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub fn namespaced_name(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

impl fmt::Display for ObjectKey {
    /// `HTTPRoute gateway-conformance-infra/exact-matching`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.namespaced_name())
    }
}

/// One admitted object.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Namespace(Box<Namespace>),
    GatewayClass(Box<GatewayClass>),
    Gateway(Box<Gateway>),
    ListenerSet(Box<ListenerSet>),
    HttpRoute(Box<HttpRoute>),
    GrpcRoute(Box<GrpcRoute>),
    TlsRoute(Box<TlsRoute>),
    TcpRoute(Box<TcpRoute>),
    UdpRoute(Box<UdpRoute>),
    ReferenceGrant(Box<ReferenceGrant>),
    BackendTlsPolicy(Box<BackendTlsPolicy>),
    Service(Box<Service>),
    EndpointSlice(Box<EndpointSlice>),
    Deployment(Box<Deployment>),
    Pod(Box<Pod>),
    Secret(Box<Secret>),
    ConfigMap(Box<ConfigMap>),
}

/// Calls `$body` with `$inner` bound to the typed object, whatever the variant.
macro_rules! each_object {
    ($obj:expr, $inner:ident => $body:expr) => {
        match $obj {
            Object::Namespace($inner) => $body,
            Object::GatewayClass($inner) => $body,
            Object::Gateway($inner) => $body,
            Object::ListenerSet($inner) => $body,
            Object::HttpRoute($inner) => $body,
            Object::GrpcRoute($inner) => $body,
            Object::TlsRoute($inner) => $body,
            Object::TcpRoute($inner) => $body,
            Object::UdpRoute($inner) => $body,
            Object::ReferenceGrant($inner) => $body,
            Object::BackendTlsPolicy($inner) => $body,
            Object::Service($inner) => $body,
            Object::EndpointSlice($inner) => $body,
            Object::Deployment($inner) => $body,
            Object::Pod($inner) => $body,
            Object::Secret($inner) => $body,
            Object::ConfigMap($inner) => $body,
        }
    };
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Namespace(_) => Kind::Namespace,
            Object::GatewayClass(_) => Kind::GatewayClass,
            Object::Gateway(_) => Kind::Gateway,
            Object::ListenerSet(_) => Kind::ListenerSet,
            Object::HttpRoute(_) => Kind::HttpRoute,
            Object::GrpcRoute(_) => Kind::GrpcRoute,
            Object::TlsRoute(_) => Kind::TlsRoute,
            Object::TcpRoute(_) => Kind::TcpRoute,
            Object::UdpRoute(_) => Kind::UdpRoute,
            Object::ReferenceGrant(_) => Kind::ReferenceGrant,
            Object::BackendTlsPolicy(_) => Kind::BackendTlsPolicy,
            Object::Service(_) => Kind::Service,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Deployment(_) => Kind::Deployment,
            Object::Pod(_) => Kind::Pod,
            Object::Secret(_) => Kind::Secret,
            Object::ConfigMap(_) => Kind::ConfigMap,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        each_object!(self, o => &o.metadata)
    }

    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each_object!(self, o => &mut o.metadata)
    }

    pub fn key(&self) -> ObjectKey {
        let meta = self.meta();
        ObjectKey::new(
            self.kind(),
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    }

    /// `metadata.generation`, 0 when unset.
    pub fn generation(&self) -> i64 {
        self.meta().generation.unwrap_or(0)
    }

    /// The object as JSON, with `apiVersion` and `kind` first (the form `-o yaml|json` prints).
    pub fn to_value(&self) -> serde_json::Value {
        let body = each_object!(self, o => serde_json::to_value(o.as_ref()));
        let mut out = serde_json::Map::new();
        out.insert("apiVersion".into(), self.kind().api_version().into());
        out.insert("kind".into(), self.kind().as_str().into());
        if let Ok(serde_json::Value::Object(fields)) = body {
            for (k, v) in fields {
                if k != "apiVersion" && k != "kind" {
                    out.insert(k, v);
                }
            }
        }
        serde_json::Value::Object(out)
    }

    /// The `spec` (or, for kinds without one, everything but metadata and status) as JSON:
    /// what `metadata.generation` tracks.
    pub fn spec_value(&self) -> serde_json::Value {
        let mut v = self.to_value();
        if let Some(map) = v.as_object_mut() {
            if let Some(spec) = map.get("spec") {
                return spec.clone();
            }
            map.remove("metadata");
            map.remove("status");
        }
        v
    }
}

/// A consistent view of the cluster: every object, ordered by key. The controller reads only this.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub objects: BTreeMap<ObjectKey, Object>,
}

impl Snapshot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces an object.
    pub fn insert(&mut self, object: Object) {
        self.objects.insert(object.key(), object);
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Object> {
        self.objects.get(key)
    }

    pub fn remove(&mut self, key: &ObjectKey) -> Option<Object> {
        self.objects.remove(key)
    }

    /// Objects of one kind, in key order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        let start = ObjectKey {
            kind,
            namespace: String::new(),
            name: String::new(),
        };
        self.objects
            .range(start..)
            .take_while(move |(k, _)| k.kind == kind)
            .map(|(_, o)| o)
    }

    pub fn gateway_classes(&self) -> impl Iterator<Item = &GatewayClass> {
        self.of_kind(Kind::GatewayClass).filter_map(|o| match o {
            Object::GatewayClass(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn gateways(&self) -> impl Iterator<Item = &Gateway> {
        self.of_kind(Kind::Gateway).filter_map(|o| match o {
            Object::Gateway(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn listener_sets(&self) -> impl Iterator<Item = &ListenerSet> {
        self.of_kind(Kind::ListenerSet).filter_map(|o| match o {
            Object::ListenerSet(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn http_routes(&self) -> impl Iterator<Item = &HttpRoute> {
        self.of_kind(Kind::HttpRoute).filter_map(|o| match o {
            Object::HttpRoute(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn grpc_routes(&self) -> impl Iterator<Item = &GrpcRoute> {
        self.of_kind(Kind::GrpcRoute).filter_map(|o| match o {
            Object::GrpcRoute(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn tls_routes(&self) -> impl Iterator<Item = &TlsRoute> {
        self.of_kind(Kind::TlsRoute).filter_map(|o| match o {
            Object::TlsRoute(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn tcp_routes(&self) -> impl Iterator<Item = &TcpRoute> {
        self.of_kind(Kind::TcpRoute).filter_map(|o| match o {
            Object::TcpRoute(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn udp_routes(&self) -> impl Iterator<Item = &UdpRoute> {
        self.of_kind(Kind::UdpRoute).filter_map(|o| match o {
            Object::UdpRoute(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn reference_grants(&self) -> impl Iterator<Item = &ReferenceGrant> {
        self.of_kind(Kind::ReferenceGrant).filter_map(|o| match o {
            Object::ReferenceGrant(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    pub fn backend_tls_policies(&self) -> impl Iterator<Item = &BackendTlsPolicy> {
        self.of_kind(Kind::BackendTlsPolicy)
            .filter_map(|o| match o {
                Object::BackendTlsPolicy(x) => Some(x.as_ref()),
                _ => None,
            })
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        match self.get(&ObjectKey::new(Kind::Namespace, "", name)) {
            Some(Object::Namespace(ns)) => Some(ns),
            _ => None,
        }
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        match self.get(&ObjectKey::new(Kind::Service, namespace, name)) {
            Some(Object::Service(s)) => Some(s),
            _ => None,
        }
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        match self.get(&ObjectKey::new(Kind::Secret, namespace, name)) {
            Some(Object::Secret(s)) => Some(s),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl Object {
    /// Replaces the object's status with the controller's. Returns whether anything changed
    /// (callers bump `resourceVersion` only then). An update for another kind changes nothing.
    pub fn set_status(&mut self, update: &crate::controller::StatusUpdate) -> bool {
        use crate::controller::StatusUpdate;
        fn put<T: Clone + PartialEq>(slot: &mut Option<T>, new: &T) -> bool {
            if slot.as_ref() == Some(new) {
                return false;
            }
            *slot = Some(new.clone());
            true
        }
        match (self, update) {
            (Object::GatewayClass(o), StatusUpdate::GatewayClass(s)) => put(&mut o.status, s),
            (Object::Gateway(o), StatusUpdate::Gateway(s)) => put(&mut o.status, s),
            (Object::ListenerSet(o), StatusUpdate::ListenerSet(s)) => put(&mut o.status, s),
            (Object::HttpRoute(o), StatusUpdate::HttpRoute(s)) => put(&mut o.status, s),
            (Object::GrpcRoute(o), StatusUpdate::GrpcRoute(s)) => put(&mut o.status, s),
            (Object::TlsRoute(o), StatusUpdate::TlsRoute(s)) => put(&mut o.status, s),
            (Object::TcpRoute(o), StatusUpdate::TcpRoute(s)) => put(&mut o.status, s),
            (Object::UdpRoute(o), StatusUpdate::UdpRoute(s)) => put(&mut o.status, s),
            (Object::BackendTlsPolicy(o), StatusUpdate::BackendTlsPolicy(s)) => {
                put(&mut o.status, s)
            }
            _ => false,
        }
    }
}
