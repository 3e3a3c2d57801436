//! The Gateway controller: a pure function from a [`Snapshot`] to statuses and the data
//! plane's configuration.
//!
//! Data flow of one [`reconcile`]: GatewayClasses of our controller name (`gatewayclass`);
//! their Gateways, listeners and addresses (`gateway`); the ListenerSets those Gateways take,
//! their listeners appended in precedence order (`listenerset`); every HTTPRoute, GRPCRoute,
//! TLSRoute, TCPRoute and UDPRoute that names one of those Gateways, converted once (`convert`, `backends`, `refgrant`) and
//! attached per parentRef (`routes`); BackendTLSPolicies (`backendtls`) resolved into the
//! backends they apply to, and their ancestors read from the finished configs; then the statuses (conditions merged by
//! [`conditions`]) and one [`GatewayConfig`] per Gateway. Indexes (grants, services,
//! namespaces, Gateways by name) are built once per call; routes are visited once each.
//!
//! Implementation-specific choices (the spec leaves them open):
//! - gwsim has no parameter kinds: a GatewayClass `parametersRef` makes the class Accepted
//!   False InvalidParameters (its Gateways are then not ours); a Gateway
//!   `infrastructure.parametersRef` makes the Gateway Accepted False InvalidParameters.
//! - HTTP, HTTPS, TLS, TCP and UDP listeners are served; unknown protocols are Accepted
//!   False UnsupportedProtocol with no supportedKinds. They still take part in conflict
//!   detection. HTTPS with Passthrough is Accepted False UnsupportedValue. TLS listeners take
//!   TLSRoutes, in Passthrough and Terminate mode, both on one port too (TLSRouteModeMixed):
//!   the listeners stay distinct by hostname. TCP listeners take TCPRoutes and UDP listeners
//!   UDPRoutes; several routes may attach to one (all Accepted), and the oldest takes the
//!   traffic (the route conflict rules).
//! - HTTPS without `tls.certificateRefs` is ResolvedRefs False InvalidCertificateRef. A
//!   certificate Secret must be `kubernetes.io/tls` whose `tls.crt` is a PEM chain of X.509
//!   certificates and whose `tls.key` a PEM private key, each parsed (`crate::x509`); whether
//!   the key matches the certificate is not checked. A listener with a bad certificate stays
//!   Accepted but is not Programmed and serves nothing; routes attached to it still count.
//! - Frontend client certificate validation (GEP-91): see `frontend`.
//! - A listener that is Accepted False is "not valid" for the Gateway's ListenersNotValid.
//! - ListenerSets: see `listenerset`; a set is "not valid" unless some listener of it is
//!   usable (Accepted, certificates resolved), so a set whose only listener has an unresolved
//!   certificate is Accepted False ListenersNotValid (ListenerSetReferenceGrant).
//! - Gateway addresses ([`Network`]): a requested IPAddress the network serves is used as
//!   written; a Hostname likewise in the open network; an entry without a value, or no entry,
//!   gets an address hashed from `namespace/name` into the network's pool (198.18.0.0/15 when
//!   open). A requested address that is not an IP, is outside a declared network, or is
//!   claimed by an earlier Gateway (key order) gives Programmed False AddressNotUsable; a type
//!   other than IPAddress and Hostname (NamedAddress: gwsim has no named pools) Accepted False
//!   UnsupportedAddress.
//! - A route none of whose rules can be implemented (unsupported filter, bad regex) is
//!   Accepted False UnsupportedValue and attaches nowhere; with some good rules it is Accepted
//!   with PartiallyInvalid True ("Dropped Rule ..."), the bad rules kept and marked.
//! - Routes are evaluated against every listener, usable or not; only the listener's
//!   supportedKinds, allowedRoutes namespaces and hostname decide.

mod backends;
mod backendtls;
pub mod conditions;
mod convert;
mod frontend;
mod gateway;
mod gatewayclass;
mod listenerset;
pub mod mesh;
pub mod network;
mod refgrant;
pub(crate) mod routes;
pub mod standin;

use std::collections::{BTreeMap, HashMap};

use gateway_api::apis::experimental::{
    gatewayclasses::GatewayClassStatus,
    gateways::GatewayStatus,
    grpcroutes::{GrpcRouteStatus, GrpcRouteStatusParents, GrpcRouteStatusParentsParentRef},
    httproutes::{HttpRouteStatus, HttpRouteStatusParents, HttpRouteStatusParentsParentRef},
    listenersets::ListenerSetStatus,
    tcproutes::{TcpRouteStatus, TcpRouteStatusParents, TcpRouteStatusParentsParentRef},
    tlsroutes::{TlsRouteStatus, TlsRouteStatusParents, TlsRouteStatusParentsParentRef},
    udproutes::{UdpRouteStatus, UdpRouteStatusParents, UdpRouteStatusParentsParentRef},
};
use gateway_api::apis::standard::backendtlspolicies::BackendTlsPolicyStatus;
use k8s_openapi::jiff::Timestamp;

use crate::config::{GatewayConfig, MeshService, RouteKind};
use crate::object::{GATEWAY_GROUP, Kind, ObjectKey, Snapshot};
use backends::ServiceIndex;
use convert::{Converted, Converter};
use gateway::GatewayState;
use listenerset::SetIndex;
pub use network::{AddressRange, Network};
use refgrant::GrantIndex;
use routes::{NamespaceIndex, RouteView, StatusParent, route_view};
pub use standin::StandIn;

/// The controller name gwsim's GatewayClasses must name.
pub const CONTROLLER_NAME: &str = "gateway.gwsim.dev/controller";

/// Upstream feature names gwsim implements, sorted by name; written to GatewayClass
/// `status.supportedFeatures`.
pub const SUPPORTED_FEATURES: &[&str] = &[
    "BackendTLSPolicy",
    "BackendTLSPolicySANValidation",
    "GRPCRoute",
    "GRPCRouteNamedRouteRule",
    "GRPCRouteRequestHeaderModifier",
    "Gateway",
    "GatewayAddressEmpty",
    "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
    "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayInfrastructurePropagation",
    "GatewayPort8080",
    "GatewayStaticAddresses",
    "HTTPRoute",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendRequestRedirect",
    "HTTPRouteBackendTimeout",
    "HTTPRouteBackendURLRewrite",
    "HTTPRouteCORS",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout",
    "HTTPRouteRetryConnectionError",
    "HTTPRouteSchemeRedirect",
    "ListenerSet",
    "ReferenceGrant",
    "TCPRoute",
    "TLSRoute",
    "TLSRouteModeMixed",
    "TLSRouteModeTerminate",
    "UDPRoute",
];

/// Settings of one controller run.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// `spec.controllerName` this controller owns (without a stand-in).
    pub controller_name: String,
    /// When set, gwsim acts as the controller of these classes instead (each with its own
    /// controllerName), and `controller_name` is not used.
    pub stand_in: Option<StandIn>,
    /// The addresses the data plane can serve (static addresses, assigned addresses).
    pub network: Network,
    /// The mesh's controllerName when gwsim also acts as the mesh (GAMMA: routes with
    /// Service parentRefs, [`mesh`]); `None`: such parentRefs are none of gwsim's business.
    pub mesh: Option<String>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            controller_name: CONTROLLER_NAME.to_string(),
            stand_in: None,
            network: Network::default(),
            mesh: Some(mesh::MESH_CONTROLLER_NAME.to_string()),
        }
    }
}

impl ControllerConfig {
    /// A stand-in for the classes of `stand_in`. A stand-in does not act as the mesh: the
    /// installed mesh writes the status of Service parents, which gwsim must not contradict.
    pub fn stand_in(stand_in: StandIn) -> Self {
        ControllerConfig {
            stand_in: Some(stand_in),
            mesh: None,
            ..ControllerConfig::default()
        }
    }
}

/// The status the controller writes for one object.
#[derive(Clone, Debug, PartialEq)]
pub enum StatusUpdate {
    GatewayClass(GatewayClassStatus),
    Gateway(GatewayStatus),
    ListenerSet(ListenerSetStatus),
    HttpRoute(HttpRouteStatus),
    GrpcRoute(GrpcRouteStatus),
    TlsRoute(TlsRouteStatus),
    TcpRoute(TcpRouteStatus),
    UdpRoute(UdpRouteStatus),
    BackendTlsPolicy(BackendTlsPolicyStatus),
}

/// What one reconcile produces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciliation {
    /// The full status of every object this controller owns, by key. Objects the controller
    /// does not own (another class's Gateway) are absent. A status equal to the stored one
    /// still appears; callers compare.
    pub statuses: BTreeMap<ObjectKey, StatusUpdate>,
    /// Every Gateway of this controller, in key order, as the data plane sees it.
    pub gateways: Vec<GatewayConfig>,
    /// Every Service with the mesh routes attached to its ports, in key order; empty when
    /// gwsim is not the mesh.
    pub mesh: Vec<MeshService>,
}

/// Reconciles the whole snapshot. `now` stamps `lastTransitionTime` of conditions that change;
/// unchanged conditions keep the time stored in the snapshot's current status.
pub fn reconcile(snapshot: &Snapshot, config: &ControllerConfig, now: Timestamp) -> Reconciliation {
    let mut statuses = BTreeMap::new();

    // Accepted class name -> the controllerName its statuses carry.
    let mut our_classes: HashMap<&str, &str> = HashMap::new();
    for class in snapshot.gateway_classes() {
        let name = class.metadata.name.as_deref().unwrap_or_default();
        let assume_parameters = match &config.stand_in {
            None if class.spec.controller_name == config.controller_name => false,
            Some(s) if s.classes.contains_key(name) => true,
            _ => continue,
        };
        let outcome = gatewayclass::evaluate(class, assume_parameters, now);
        if outcome.accepted {
            our_classes.insert(name, class.spec.controller_name.as_str());
        }
        statuses.insert(
            ObjectKey::new(Kind::GatewayClass, "", name),
            StatusUpdate::GatewayClass(outcome.status),
        );
    }
    let mut owned: Vec<&str> = Vec::new();
    match &config.stand_in {
        None => owned.push(config.controller_name.as_str()),
        Some(stand_in) => {
            for (name, class) in &stand_in.classes {
                if class.implicit.is_some() {
                    our_classes.insert(name.as_str(), class.controller_name.as_str());
                }
                if !owned.contains(&class.controller_name.as_str()) {
                    owned.push(class.controller_name.as_str());
                }
            }
        }
    }
    if let Some(mesh) = &config.mesh {
        owned.push(mesh.as_str());
    }
    let assume_parameters = config.stand_in.is_some();

    let grants = GrantIndex::build(snapshot);
    let namespaces = NamespaceIndex::build(snapshot);
    // Read before the Gateways: their states borrow the sets' converted listeners.
    let set_inputs = listenerset::inputs(snapshot);
    let mut gateways: Vec<GatewayState<'_>> = snapshot
        .gateways()
        .filter_map(|g| {
            let controller = our_classes.get(g.spec.gateway_class_name.as_str())?;
            Some(gateway::evaluate(
                g,
                controller,
                assume_parameters,
                snapshot,
                &grants,
            ))
        })
        .collect();
    gateway::assign_addresses(&mut gateways, &config.network);
    let gateway_index: HashMap<(&str, &str), usize> = gateways
        .iter()
        .enumerate()
        .map(|(i, g)| {
            (
                (
                    g.namespace,
                    g.gateway.metadata.name.as_deref().unwrap_or_default(),
                ),
                i,
            )
        })
        .collect();

    let set_index = listenerset::attach(
        &mut gateways,
        &gateway_index,
        &set_inputs,
        snapshot,
        &grants,
        &namespaces,
    );
    let mut converter = Converter::new(ServiceIndex::build(snapshot), &grants);
    let mut mesh = config
        .mesh
        .as_deref()
        .map(|name| mesh::MeshState::build(snapshot, name));
    let mut pass = RoutePass {
        gateways: &mut gateways,
        mesh: mesh.as_mut(),
        gateway_index: &gateway_index,
        set_index: &set_index,
        namespaces: &namespaces,
        owned: &owned,
        now,
    };
    // GRPCRoutes take precedence over HTTPRoutes on a Service port (GEP-1294): their ports
    // are known before HTTPRoutes attach.
    if let Some(mesh) = pass.mesh.as_deref_mut() {
        for route in snapshot.grpc_routes() {
            let view = route_view!(route, RouteKind::Grpc, Kind::GrpcRoute, optional_hostnames);
            for parent in view.parent_refs.iter().filter(|p| mesh::names_service(p)) {
                mesh.bind_grpc(view.namespace, parent);
            }
        }
    }
    for route in snapshot.http_routes() {
        let view = route_view!(route, RouteKind::Http, Kind::HttpRoute, optional_hostnames);
        if let Some((key, parents)) = pass.route(view, |waive| {
            converter.waive_grants = waive;
            converter.http_route(route)
        }) {
            statuses.insert(key, StatusUpdate::HttpRoute(http_status(parents)));
        }
    }
    for route in snapshot.grpc_routes() {
        let view = route_view!(route, RouteKind::Grpc, Kind::GrpcRoute, optional_hostnames);
        if let Some((key, parents)) = pass.route(view, |waive| {
            converter.waive_grants = waive;
            converter.grpc_route(route)
        }) {
            statuses.insert(key, StatusUpdate::GrpcRoute(grpc_status(parents)));
        }
    }
    for route in snapshot.tls_routes() {
        let view = route_view!(route, RouteKind::Tls, Kind::TlsRoute, required_hostnames);
        if let Some((key, parents)) = pass.route(view, |waive| {
            converter.waive_grants = waive;
            converter.tls_route(route)
        }) {
            statuses.insert(key, StatusUpdate::TlsRoute(tls_status(parents)));
        }
    }
    for route in snapshot.tcp_routes() {
        let view = route_view!(route, RouteKind::Tcp, Kind::TcpRoute, no_hostnames);
        if let Some((key, parents)) = pass.route(view, |waive| {
            converter.waive_grants = waive;
            converter.tcp_route(route)
        }) {
            statuses.insert(key, StatusUpdate::TcpRoute(tcp_status(parents)));
        }
    }
    for route in snapshot.udp_routes() {
        let view = route_view!(route, RouteKind::Udp, Kind::UdpRoute, no_hostnames);
        if let Some((key, parents)) = pass.route(view, |waive| {
            converter.waive_grants = waive;
            converter.udp_route(route)
        }) {
            statuses.insert(key, StatusUpdate::UdpRoute(udp_status(parents)));
        }
    }

    let mut configs = Vec::with_capacity(gateways.len());
    let mut controllers = Vec::with_capacity(gateways.len());
    for state in gateways {
        for i in 0..state.sets.len() {
            if let Some((key, status)) = listenerset::status(&state, i, now) {
                statuses.insert(key, StatusUpdate::ListenerSet(status));
            }
        }
        statuses.insert(
            state.key.clone(),
            StatusUpdate::Gateway(gateway::status(&state, now)),
        );
        controllers.push(state.controller_name.to_string());
        configs.push(gateway::into_config(state));
    }
    let with_controllers: Vec<(GatewayConfig, String)> =
        configs.into_iter().zip(controllers).collect();
    for (key, status) in converter
        .services
        .tls
        .statuses(snapshot, &with_controllers, &owned, now)
    {
        statuses.insert(key, StatusUpdate::BackendTlsPolicy(status));
    }
    let configs = with_controllers.into_iter().map(|(g, _)| g).collect();
    Reconciliation {
        statuses,
        gateways: configs,
        mesh: mesh.map(mesh::MeshState::into_services).unwrap_or_default(),
    }
}

/// The route half of a reconcile.
struct RoutePass<'p, 'a> {
    gateways: &'p mut [GatewayState<'a>],
    /// `None` when gwsim is not the mesh.
    mesh: Option<&'p mut mesh::MeshState<'a>>,
    gateway_index: &'p HashMap<(&'a str, &'a str), usize>,
    set_index: &'p SetIndex<'a>,
    namespaces: &'p NamespaceIndex<'a>,
    /// The controllerNames this run writes for: status entries of others are kept.
    owned: &'p [&'p str],
    now: Timestamp,
}

impl RoutePass<'_, '_> {
    /// Attaches one route and returns its `status.parents`, or `None` when the route is none
    /// of our business (no parentRef to our Gateways and no entry of ours to remove).
    fn route(
        &mut self,
        view: RouteView<'_>,
        mut convert: impl FnMut(bool) -> Converted,
    ) -> Option<(ObjectKey, Vec<StatusParent>)> {
        // What each parentRef names of ours: a Gateway (with the ListenerSet, for a parentRef
        // to one of its sets), or a Service of the mesh.
        let mesh_kind = matches!(view.kind, RouteKind::Http | RouteKind::Grpc);
        let targets: Vec<Option<Target>> = view
            .parent_refs
            .iter()
            .map(|p| match (p.group, p.kind) {
                (GATEWAY_GROUP, "Gateway") => self
                    .gateway_index
                    .get(&(p.namespace, p.name))
                    .map(|g| Target::Gateway(*g, None)),
                (GATEWAY_GROUP, "ListenerSet") => self
                    .set_index
                    .get(&(p.namespace, p.name))
                    .map(|(g, s)| Target::Gateway(*g, Some(*s))),
                _ if mesh_kind && self.mesh.is_some() && mesh::names_service(p) => {
                    Some(Target::Service)
                }
                _ => None,
            })
            .collect();
        let has_stored = view
            .stored
            .iter()
            .any(|s| self.owned.contains(&s.controller_name.as_str()));
        if targets.iter().all(Option::is_none) {
            if !has_stored {
                return None;
            }
            let parents = routes::status_parents(
                &view,
                vec![None; view.parent_refs.len()],
                self.owned,
                self.now,
            );
            return Some((view.key, parents));
        }

        let for_gateways = targets
            .iter()
            .any(|t| matches!(t, Some(Target::Gateway(..))))
            .then(|| convert(false));
        let for_mesh = targets
            .iter()
            .any(|t| matches!(t, Some(Target::Service)))
            .then(|| convert(true));
        let mut ours = Vec::with_capacity(targets.len());
        for (parent, target) in view.parent_refs.iter().zip(&targets) {
            match (*target, &for_gateways, &for_mesh, self.mesh.as_deref_mut()) {
                (Some(Target::Gateway(i, set)), Some(converted), _, _) => {
                    let mut outcome = routes::evaluate_parent(
                        &view,
                        parent,
                        &self.gateways[i],
                        set,
                        self.namespaces,
                    );
                    let desired = routes::parent_conditions(&mut outcome, converted);
                    routes::attach(
                        &mut self.gateways[i],
                        &converted.config,
                        outcome.attachments,
                    );
                    ours.push(Some((self.gateways[i].controller_name, desired)));
                }
                (Some(Target::Service), _, Some(converted), Some(mesh)) => {
                    let outcome = mesh.evaluate_for(view.kind, view.namespace, parent);
                    let mut gateway_shaped = routes::ParentOutcome {
                        accepted: outcome.accepted,
                        attachments: Vec::new(),
                    };
                    let desired = routes::parent_conditions(&mut gateway_shaped, converted);
                    if gateway_shaped.accepted.status {
                        mesh.attach(&view, parent, &converted.config, &outcome.ports);
                    }
                    ours.push(Some((mesh.controller_name, desired)));
                }
                _ => ours.push(None),
            }
        }
        let parents = routes::status_parents(&view, ours, self.owned, self.now);
        Some((view.key, parents))
    }
}

/// What a parentRef names of ours.
#[derive(Clone, Copy)]
enum Target {
    /// A Gateway (index), through one of its ListenerSets (index) or directly.
    Gateway(usize, Option<usize>),
    /// A Service: the mesh's.
    Service,
}

/// Converts neutral parent entries into one route kind's status types (same field names).
macro_rules! route_status {
    ($parents:expr, $status:ident, $entry:ident, $parent_ref:ident) => {
        $status {
            parents: $parents
                .into_iter()
                .map(|p| $entry {
                    conditions: p.conditions,
                    controller_name: p.controller_name,
                    parent_ref: $parent_ref {
                        group: p.parent_ref.group,
                        kind: p.parent_ref.kind,
                        name: p.parent_ref.name,
                        namespace: p.parent_ref.namespace,
                        port: p.parent_ref.port,
                        section_name: p.parent_ref.section_name,
                    },
                })
                .collect(),
        }
    };
}

fn http_status(parents: Vec<StatusParent>) -> HttpRouteStatus {
    route_status!(
        parents,
        HttpRouteStatus,
        HttpRouteStatusParents,
        HttpRouteStatusParentsParentRef
    )
}

fn grpc_status(parents: Vec<StatusParent>) -> GrpcRouteStatus {
    route_status!(
        parents,
        GrpcRouteStatus,
        GrpcRouteStatusParents,
        GrpcRouteStatusParentsParentRef
    )
}

fn tls_status(parents: Vec<StatusParent>) -> TlsRouteStatus {
    route_status!(
        parents,
        TlsRouteStatus,
        TlsRouteStatusParents,
        TlsRouteStatusParentsParentRef
    )
}

fn tcp_status(parents: Vec<StatusParent>) -> TcpRouteStatus {
    route_status!(
        parents,
        TcpRouteStatus,
        TcpRouteStatusParents,
        TcpRouteStatusParentsParentRef
    )
}

fn udp_status(parents: Vec<StatusParent>) -> UdpRouteStatus {
    route_status!(
        parents,
        UdpRouteStatus,
        UdpRouteStatusParents,
        UdpRouteStatusParentsParentRef
    )
}

/// TCPRoute and UDPRoute have no `spec.hostnames`: they take whatever reaches the listener.
fn no_hostnames<R>(_route: &R) -> &'static [String] {
    &[]
}

/// `spec.hostnames` of a kind where it is optional (HTTPRoute, GRPCRoute).
fn optional_hostnames<R: HasOptionalHostnames>(route: &R) -> &[String] {
    route.hostnames()
}

/// `spec.hostnames` of TLSRoute, where it is required.
fn required_hostnames(route: &gateway_api::apis::experimental::tlsroutes::TlsRoute) -> &[String] {
    &route.spec.hostnames
}

/// Route kinds whose `spec.hostnames` is an `Option<Vec<String>>`.
trait HasOptionalHostnames {
    fn hostnames(&self) -> &[String];
}

impl HasOptionalHostnames for gateway_api::apis::experimental::httproutes::HttpRoute {
    fn hostnames(&self) -> &[String] {
        self.spec.hostnames.as_deref().unwrap_or_default()
    }
}

impl HasOptionalHostnames for gateway_api::apis::experimental::grpcroutes::GrpcRoute {
    fn hostnames(&self) -> &[String] {
        self.spec.hostnames.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
