//! The mesh (GAMMA: GEP-1324, GEP-1294, GEP-1686): HTTPRoutes and GRPCRoutes whose parentRefs
//! name a Service (group `""` or `core`, kind `Service`) configure the traffic sent to that
//! Service from pods, instead of a Gateway's.
//!
//! - A parentRef attaches to every port of the Service, or only to the port its `port` names
//!   (and, with `sectionName`, only to the port of that name; both must match when both are
//!   given). A Service that does not exist, or that has no such port, gives Accepted False
//!   NoMatchingParent. The route's status entry for the Service carries the mesh's
//!   controllerName ([`MESH_CONTROLLER_NAME`]).
//! - A route in the Service's namespace is a producer route; one in another namespace is a
//!   consumer route, which applies only to requests from its own namespace and there takes
//!   the place of the producer routes (GEP-1294 "Namespace boundaries").
//! - backendRefs of mesh routes need no ReferenceGrant (GEP-1294: mesh routes augment
//!   Services, they expose nothing new), so a route is converted a second time for its
//!   Service parents with grants waived.
//! - `hostnames` is ignored (GEP-1294: implementations SHOULD NOT infer anything from it).
//! - Route types (GEP-1294 "Route types"): when GRPCRoutes and HTTPRoutes of one group
//!   (the producer routes, or one namespace's consumer routes) bind the same Service port, the
//!   GRPCRoutes win: the HTTPRoutes do not attach there, and an HTTPRoute left with no port is
//!   Accepted False Conflicted. TCPRoute and TLSRoute Service parents are not modelled (not
//!   attached: no entry).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::conditions::{ConditionType, Desired, Reason};
use super::routes::{ParentRefView, RouteView};
use crate::config::{MeshPort, MeshService, RouteAttachment, RouteConfig, RouteKind};
use crate::object::{Kind, Object, ObjectKey, Snapshot};

/// The controllerName of gwsim's mesh, in route status entries for Service parents.
pub const MESH_CONTROLLER_NAME: &str = "gateway.gwsim.dev/mesh";

/// Upstream mesh feature names gwsim's mesh implements, sorted by name (upstream reads a
/// mesh's features from its XMesh's status; gwsim has no XMesh object and reports these).
pub const MESH_SUPPORTED_FEATURES: &[&str] = &[
    "Mesh",
    "MeshClusterIPMatching",
    "MeshConsumerRoute",
    "MeshHTTPRouteBackendRequestHeaderModification",
    "MeshHTTPRouteNamedRouteRule",
    "MeshHTTPRouteQueryParamMatching",
    "MeshHTTPRouteRedirectPath",
    "MeshHTTPRouteRedirectPort",
    "MeshHTTPRouteRewritePath",
    "MeshHTTPRouteSchemeRedirect",
];

/// Whether a parentRef names a Service (the core group spelt `""` or `core`).
pub fn names_service(parent: &ParentRefView<'_>) -> bool {
    matches!(parent.group, "" | "core") && parent.kind == "Service"
}

/// The group a route belongs to on a Service: `None` for producer routes (in the Service's
/// namespace), the route's namespace for consumer routes.
fn group_of(route_namespace: &str, parent: &ParentRefView<'_>) -> Option<String> {
    (route_namespace != parent.namespace).then(|| route_namespace.to_string())
}

/// Every Service of the snapshot with the routes attached so far, built once per reconcile.
pub struct MeshState<'a> {
    pub controller_name: &'a str,
    /// Positions in `services` by (namespace, name).
    index: HashMap<(&'a str, &'a str), usize>,
    services: Vec<MeshService>,
    /// (service, port, group) bound by a GRPCRoute: HTTPRoutes of that group yield there. The
    /// group is `None` for producer routes, the namespace for consumer routes.
    grpc_bound: HashSet<(usize, usize, Option<String>)>,
}

/// The result of one Service parentRef: the condition and the ports attached to.
pub struct MeshOutcome {
    pub accepted: Desired,
    /// Positions in the Service's ports.
    pub ports: Vec<usize>,
}

impl<'a> MeshState<'a> {
    pub fn build(snapshot: &'a Snapshot, controller_name: &'a str) -> Self {
        let mut index = HashMap::new();
        let mut services = Vec::new();
        for object in snapshot.of_kind(Kind::Service) {
            let Object::Service(service) = object else {
                continue;
            };
            let (Some(namespace), Some(name)) = (
                service.metadata.namespace.as_deref(),
                service.metadata.name.as_deref(),
            ) else {
                continue;
            };
            let ports = service
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .filter_map(|p| {
                    Some(MeshPort {
                        port: u16::try_from(p.port).ok()?,
                        name: p.name.clone(),
                        app_protocol: p.app_protocol.clone(),
                        producer: Vec::new(),
                        consumers: BTreeMap::new(),
                    })
                })
                .collect();
            index.insert((namespace, name), services.len());
            services.push(MeshService {
                key: ObjectKey::new(Kind::Service, namespace, name),
                ports,
            });
        }
        MeshState {
            controller_name,
            index,
            services,
            grpc_bound: HashSet::new(),
        }
    }

    /// Records the Service ports a GRPCRoute in `route_namespace` binds through `parent`, before
    /// any HTTPRoute is evaluated (GRPCRoute takes precedence, GEP-1294).
    pub fn bind_grpc(&mut self, route_namespace: &str, parent: &ParentRefView<'_>) {
        let Some(&at) = self.index.get(&(parent.namespace, parent.name)) else {
            return;
        };
        let group = group_of(route_namespace, parent);
        for port in self.evaluate(parent).ports {
            self.grpc_bound.insert((at, port, group.clone()));
        }
    }

    /// Evaluates a parentRef of a route of `kind` in `route_namespace`: [`MeshState::evaluate`],
    /// then, for an HTTPRoute, without the ports a GRPCRoute of its group binds.
    pub fn evaluate_for(
        &self,
        kind: RouteKind,
        route_namespace: &str,
        parent: &ParentRefView<'_>,
    ) -> MeshOutcome {
        let mut outcome = self.evaluate(parent);
        if kind != RouteKind::Http || outcome.ports.is_empty() {
            return outcome;
        }
        let Some(&at) = self.index.get(&(parent.namespace, parent.name)) else {
            return outcome;
        };
        let group = group_of(route_namespace, parent);
        outcome
            .ports
            .retain(|&port| !self.grpc_bound.contains(&(at, port, group.clone())));
        if outcome.ports.is_empty() {
            outcome.accepted = Desired::fail(
                ConditionType::Accepted,
                Reason::Conflicted,
                format!(
                    "GRPCRoutes bind every selected port of Service {}/{}, and take precedence over HTTPRoutes (GEP-1294)",
                    parent.namespace, parent.name
                ),
            );
        }
        outcome
    }

    /// Evaluates one parentRef that [`names_service`]: the ports it selects.
    pub fn evaluate(&self, parent: &ParentRefView<'_>) -> MeshOutcome {
        let fail = |message: String| MeshOutcome {
            accepted: Desired::fail(ConditionType::Accepted, Reason::NoMatchingParent, message),
            ports: Vec::new(),
        };
        let Some(service) = self
            .index
            .get(&(parent.namespace, parent.name))
            .map(|&i| &self.services[i])
        else {
            return fail(format!(
                "Service {}/{} does not exist",
                parent.namespace, parent.name
            ));
        };
        let ports: Vec<usize> = service
            .ports
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                parent.port.is_none_or(|want| i32::from(p.port) == want)
                    && parent
                        .section_name
                        .is_none_or(|want| p.name.as_deref() == Some(want))
            })
            .map(|(i, _)| i)
            .collect();
        if ports.is_empty() {
            return fail(format!(
                "Service {}/{} has no port matching the parentRef's port and sectionName",
                parent.namespace, parent.name
            ));
        }
        MeshOutcome {
            accepted: Desired::ok(ConditionType::Accepted, "Route accepted"),
            ports,
        }
    }

    /// Puts `route` (of `view`) on the selected ports of the parent Service: as a producer
    /// route in the Service's namespace, else as a consumer route of the route's namespace.
    pub fn attach(
        &mut self,
        view: &RouteView<'_>,
        parent: &ParentRefView<'_>,
        route: &Arc<RouteConfig>,
        ports: &[usize],
    ) {
        debug_assert!(matches!(view.kind, RouteKind::Http | RouteKind::Grpc));
        let Some(&at) = self.index.get(&(parent.namespace, parent.name)) else {
            return;
        };
        let service = &mut self.services[at];
        for &i in ports {
            let Some(port) = service.ports.get_mut(i) else {
                continue;
            };
            let list = if view.namespace == parent.namespace {
                &mut port.producer
            } else {
                port.consumers
                    .entry(view.namespace.to_string())
                    .or_default()
            };
            // Two parentRefs selecting the same port: one attachment.
            if !list.iter().any(|a| Arc::ptr_eq(&a.route, route)) {
                list.push(RouteAttachment {
                    route: Arc::clone(route),
                    // Hostnames are ignored in the mesh (GEP-1294).
                    hostnames: Vec::new(),
                });
            }
        }
    }

    /// Every Service, in key order.
    pub fn into_services(self) -> Vec<MeshService> {
        let mut out = self.services;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}
