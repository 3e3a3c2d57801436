//! Route attachment: parentRefs against listeners (sectionName, port, allowedRoutes, hostname
//! intersection) and the per-parent route status. HTTPRoute, GRPCRoute and TLSRoute share
//! this code through [`RouteView`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gateway_api::apis::experimental::gateways::GatewayListenersAllowedRoutesNamespacesSelector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

use super::conditions::{ConditionType, Desired, Reason, materialize};
use super::convert::Converted;
use super::gateway::{AllowedNamespaces, GatewayState, ListenerState};
use crate::config::{RouteAttachment, RouteConfig, RouteKind};
use crate::object::{GATEWAY_GROUP, ObjectKey, Snapshot};

/// A parentRef with API defaults applied (group, kind; namespace = the route's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentRefView<'r> {
    pub group: &'r str,
    pub kind: &'r str,
    pub namespace: &'r str,
    pub name: &'r str,
    pub section_name: Option<&'r str>,
    pub port: Option<i32>,
}

/// `status.parents[].parentRef`, fields as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusParentRef {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub section_name: Option<String>,
    pub port: Option<i32>,
}

impl StatusParentRef {
    fn refers_to(&self, route_namespace: &str, p: &ParentRefView<'_>) -> bool {
        self.group.as_deref().unwrap_or(GATEWAY_GROUP) == p.group
            && self.kind.as_deref().unwrap_or("Gateway") == p.kind
            && self.namespace.as_deref().unwrap_or(route_namespace) == p.namespace
            && self.name == p.name
            && self.section_name.as_deref() == p.section_name
            && self.port == p.port
    }
}

/// One `status.parents[]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusParent {
    pub controller_name: String,
    pub parent_ref: StatusParentRef,
    pub conditions: Vec<Condition>,
}

/// What the attachment code needs of a route, whatever its kind.
pub struct RouteView<'r> {
    pub key: ObjectKey,
    pub kind: RouteKind,
    pub namespace: &'r str,
    pub generation: i64,
    pub hostnames: &'r [String],
    pub parent_refs: Vec<ParentRefView<'r>>,
    pub stored: Vec<StatusParent>,
}

/// Builds a [`RouteView`] from an HTTPRoute, GRPCRoute or TLSRoute: their spec and status
/// share field names, so one macro reads them all (`$hostnames` takes the route and gives
/// `spec.hostnames`, optional in some kinds and required in TLSRoute).
macro_rules! route_view {
    ($route:expr, $kind:expr, $object_kind:expr, $hostnames:expr) => {{
        let route = $route;
        let namespace = route.metadata.namespace.as_deref().unwrap_or_default();
        $crate::controller::routes::RouteView {
            key: $crate::object::ObjectKey::new(
                $object_kind,
                namespace,
                route.metadata.name.clone().unwrap_or_default(),
            ),
            kind: $kind,
            namespace,
            generation: route.metadata.generation.unwrap_or(0),
            hostnames: $hostnames(route),
            parent_refs: route
                .spec
                .parent_refs
                .iter()
                .flatten()
                .map(|p| $crate::controller::routes::ParentRefView {
                    group: p.group.as_deref().unwrap_or($crate::object::GATEWAY_GROUP),
                    kind: p.kind.as_deref().unwrap_or("Gateway"),
                    namespace: p.namespace.as_deref().unwrap_or(namespace),
                    name: &p.name,
                    section_name: p.section_name.as_deref(),
                    port: p.port,
                })
                .collect(),
            stored: route
                .status
                .iter()
                .flat_map(|s| s.parents.iter())
                .map(|s| $crate::controller::routes::StatusParent {
                    controller_name: s.controller_name.clone(),
                    parent_ref: $crate::controller::routes::StatusParentRef {
                        group: s.parent_ref.group.clone(),
                        kind: s.parent_ref.kind.clone(),
                        name: s.parent_ref.name.clone(),
                        namespace: s.parent_ref.namespace.clone(),
                        section_name: s.parent_ref.section_name.clone(),
                        port: s.parent_ref.port,
                    },
                    conditions: s.conditions.clone(),
                })
                .collect(),
        }
    }};
}
pub(crate) use route_view;

/// Namespace labels, for `allowedRoutes.namespaces.from: Selector`.
pub struct NamespaceIndex<'a> {
    labels: HashMap<&'a str, &'a BTreeMap<String, String>>,
}

/// The label the API server puts on every namespace (immutable, equal to the name).
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl<'a> NamespaceIndex<'a> {
    pub fn build(snapshot: &'a Snapshot) -> Self {
        let labels = snapshot
            .of_kind(crate::object::Kind::Namespace)
            .filter_map(|o| {
                let meta = o.meta();
                Some((meta.name.as_deref()?, meta.labels.as_ref()?))
            })
            .collect();
        NamespaceIndex { labels }
    }

    fn label<'s>(&'s self, namespace: &'s str, key: &str) -> Option<&'s str> {
        if key == NAME_LABEL {
            return Some(namespace);
        }
        self.labels
            .get(namespace)
            .and_then(|l| l.get(key))
            .map(String::as_str)
    }

    /// Whether a namespace's labels satisfy a label selector (matchLabels AND
    /// matchExpressions; an empty selector selects everything). An unknown operator selects
    /// nothing. A namespace missing from the snapshot has only its name label.
    pub fn selects(
        &self,
        selector: &GatewayListenersAllowedRoutesNamespacesSelector,
        namespace: &str,
    ) -> bool {
        let labels_ok = selector
            .match_labels
            .iter()
            .flatten()
            .all(|(k, v)| self.label(namespace, k) == Some(v.as_str()));
        labels_ok
            && selector.match_expressions.iter().flatten().all(|e| {
                let value = self.label(namespace, &e.key);
                let values = e.values.as_deref().unwrap_or_default();
                match e.operator.as_str() {
                    "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
                    "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

/// Whether wildcard `*.suffix` covers `host` (at least one more label, GEP: `*.example.com`
/// does not match `example.com`).
fn wildcard_covers(suffix: &str, host: &str) -> bool {
    host.len() > suffix.len() + 1
        && host.ends_with(suffix)
        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
}

/// The intersection of a listener hostname and a route hostname: the more specific of the two
/// when one covers the other.
fn intersect_one<'h>(listener: &'h str, route: &'h str) -> Option<&'h str> {
    if listener.eq_ignore_ascii_case(route) {
        return Some(route);
    }
    match (listener.strip_prefix("*."), route.strip_prefix("*.")) {
        (None, None) => None,
        (Some(l), None) => wildcard_covers(l, route).then_some(route),
        (None, Some(r)) => wildcard_covers(r, listener).then_some(listener),
        (Some(l), Some(r)) => {
            if wildcard_covers(r, l) {
                Some(listener)
            } else if wildcard_covers(l, r) {
                Some(route)
            } else {
                None
            }
        }
    }
}

/// The hostnames a route serves on a listener (HTTPRouteSpec.hostnames), or `None` when they
/// do not intersect. Empty when neither names a hostname (the route takes every host the
/// listener takes); the listener's when only it names one; the route's when only it does.
pub fn effective_hostnames(listener: Option<&str>, route: &[String]) -> Option<Vec<String>> {
    match listener {
        None => Some(route.to_vec()),
        Some(l) if route.is_empty() => Some(vec![l.to_string()]),
        Some(l) => {
            let mut out: Vec<String> = Vec::new();
            for r in route {
                if let Some(h) = intersect_one(l, r)
                    && !out.iter().any(|x| x == h)
                {
                    out.push(h.to_string());
                }
            }
            (!out.is_empty()).then_some(out)
        }
    }
}

/// Whether a listener's `allowedRoutes.namespaces` admits a route's namespace. `Same` is the
/// namespace of the listener's owner: the Gateway, or the ListenerSet (GEP-1713).
fn listener_allows_namespace(
    listener: &ListenerState<'_>,
    route_namespace: &str,
    namespaces: &NamespaceIndex<'_>,
) -> bool {
    match listener.allowed_namespaces {
        AllowedNamespaces::Same => listener.namespace == route_namespace,
        AllowedNamespaces::All => true,
        AllowedNamespaces::Selector(None) => false,
        AllowedNamespaces::Selector(Some(selector)) => {
            namespaces.selects(selector, route_namespace)
        }
    }
}

/// The result of one parentRef that names a Gateway of ours.
pub struct ParentOutcome {
    pub accepted: Desired,
    /// (listener index, effective hostnames) for each listener the route attaches to.
    pub attachments: Vec<(usize, Vec<String>)>,
}

/// Evaluates one parentRef against a Gateway's listeners (GEP-1364 / RouteParentStatus):
/// listeners selected by sectionName and port (both must match when both are given); of
/// those, the ones whose allowedRoutes admit the route's namespace and kind; of those, the
/// ones whose hostname intersects the route's. The first empty step gives the reason.
///
/// `set` is `None` for a parentRef to the Gateway, which sees only the Gateway's own
/// listeners, and the ListenerSet's index for a parentRef to a ListenerSet, which sees only
/// that set's listeners (GEP-1713).
pub fn evaluate_parent(
    route: &RouteView<'_>,
    parent: &ParentRefView<'_>,
    gateway: &GatewayState<'_>,
    set: Option<usize>,
    namespaces: &NamespaceIndex<'_>,
) -> ParentOutcome {
    let fail = |reason: Reason, message: &str| ParentOutcome {
        accepted: Desired::fail(ConditionType::Accepted, reason, message),
        attachments: Vec::new(),
    };
    if let Some(state) = set.and_then(|i| gateway.sets.get(i))
        && !gateway.listeners.iter().any(|l| l.owner == set)
    {
        // The Gateway did not take the set (NotAllowed, ParentNotAccepted): it has no
        // listener a route could attach to.
        return fail(
            Reason::NoMatchingParent,
            &format!(
                "ListenerSet is not attached to its Gateway ({})",
                state.accepted.reason.as_str()
            ),
        );
    }
    // One pass over the listeners; the flags say how far the best listener got.
    let mut any_selected = false;
    let mut any_allowed = false;
    let mut attachments: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, l) in gateway.listeners.iter().enumerate() {
        if l.owner != set {
            continue;
        }
        if parent.section_name.is_some_and(|s| s != l.name)
            || parent.port.is_some_and(|p| p != l.port)
        {
            continue;
        }
        any_selected = true;
        if !l.kinds.contains(&route.kind)
            || !listener_allows_namespace(l, route.namespace, namespaces)
        {
            continue;
        }
        any_allowed = true;
        if let Some(hostnames) = effective_hostnames(l.hostname, route.hostnames) {
            attachments.push((i, hostnames));
        }
    }
    if !any_selected {
        return fail(
            Reason::NoMatchingParent,
            "no listener matches the parentRef's sectionName and port",
        );
    }
    if !any_allowed {
        return fail(
            Reason::NotAllowedByListeners,
            "no selected listener allows this route's kind and namespace",
        );
    }
    if attachments.is_empty() {
        return fail(
            Reason::NoMatchingListenerHostname,
            "no selected listener's hostname intersects the route's hostnames",
        );
    }
    ParentOutcome {
        accepted: Desired::ok(ConditionType::Accepted, "Route accepted"),
        attachments,
    }
}

/// Our conditions for one parent: Accepted, ResolvedRefs, and PartiallyInvalid when some (not
/// all) rules cannot be implemented. A route none of whose rules can be implemented is not
/// accepted (RouteConditionAccepted: accepted if at least one rule is implemented).
pub fn parent_conditions(outcome: &mut ParentOutcome, converted: &Converted) -> Vec<Desired> {
    let rules = converted.rule_count;
    let invalid = &converted.invalid_rules;
    if outcome.accepted.status && !invalid.is_empty() && invalid.len() == rules {
        outcome.accepted = Desired::fail(
            ConditionType::Accepted,
            Reason::UnsupportedValue,
            format!("no rule can be implemented: {}", describe_rules(invalid)),
        );
        outcome.attachments.clear();
    }
    let resolved = match &converted.unresolved {
        None => Desired::ok(ConditionType::ResolvedRefs, "All references resolved"),
        Some(u) => Desired::fail(ConditionType::ResolvedRefs, u.reason, u.message.clone()),
    };
    let mut out = vec![outcome.accepted.clone(), resolved];
    if !invalid.is_empty() && invalid.len() < rules {
        // "Dropped Rule" prefix required by RouteConditionPartiallyInvalid.
        out.push(Desired::new(
            ConditionType::PartiallyInvalid,
            true,
            Reason::UnsupportedValue,
            format!("Dropped Rule {}", describe_rules(invalid)),
        ));
    }
    out
}

fn describe_rules(invalid: &[(usize, String)]) -> String {
    invalid
        .iter()
        .map(|(i, why)| format!("{i} ({why})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Puts a route on the listeners it attached to, once per listener.
pub fn attach(
    gateway: &mut GatewayState<'_>,
    route: &Arc<RouteConfig>,
    attachments: Vec<(usize, Vec<String>)>,
) {
    for (i, hostnames) in attachments {
        let Some(listener) = gateway.listeners.get_mut(i) else {
            continue;
        };
        match listener.routes.last_mut() {
            // Two parentRefs selecting the same listener: one attachment, hostnames merged.
            Some(last) if Arc::ptr_eq(&last.route, route) => {
                for h in hostnames {
                    if !last.hostnames.contains(&h) {
                        last.hostnames.push(h);
                    }
                }
            }
            _ => listener.routes.push(RouteAttachment {
                route: Arc::clone(route),
                hostnames,
            }),
        }
    }
}

/// Builds `status.parents`: our entries in parentRefs order with explicit group, kind and
/// namespace; other controllers' entries kept (placed at their parentRef's position when they
/// name one, else after ours, in stored order); our entries for parents no longer referenced
/// dropped.
///
/// `ours` holds, per parentRef, the controllerName of the parent's class and our conditions;
/// `owned` every controllerName this run writes for.
pub fn status_parents(
    route: &RouteView<'_>,
    ours: Vec<Option<(&str, Vec<Desired>)>>,
    owned: &[&str],
    now: Timestamp,
) -> Vec<StatusParent> {
    let mut used = vec![false; route.stored.len()];
    let mut out = Vec::new();
    for (parent, desired) in route.parent_refs.iter().zip(ours) {
        match desired {
            Some((controller_name, desired)) => {
                let stored = route
                    .stored
                    .iter()
                    .find(|s| {
                        s.controller_name == controller_name
                            && s.parent_ref.refers_to(route.namespace, parent)
                    })
                    .map(|s| s.conditions.as_slice())
                    .unwrap_or_default();
                out.push(StatusParent {
                    controller_name: controller_name.to_string(),
                    parent_ref: StatusParentRef {
                        group: Some(parent.group.to_string()),
                        kind: Some(parent.kind.to_string()),
                        name: parent.name.to_string(),
                        namespace: Some(parent.namespace.to_string()),
                        section_name: parent.section_name.map(str::to_string),
                        port: parent.port,
                    },
                    conditions: materialize(stored, desired, route.generation, now),
                });
            }
            None => {
                for (j, s) in route.stored.iter().enumerate() {
                    if !used[j]
                        && !owned.contains(&s.controller_name.as_str())
                        && s.parent_ref.refers_to(route.namespace, parent)
                    {
                        used[j] = true;
                        out.push(s.clone());
                    }
                }
            }
        }
    }
    for (j, s) in route.stored.iter().enumerate() {
        if !used[j] && !owned.contains(&s.controller_name.as_str()) {
            out.push(s.clone());
        }
    }
    out
}
