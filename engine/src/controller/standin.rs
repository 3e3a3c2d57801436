//! The stand-in controller: for files read from the command line, gwsim reconciles every
//! GatewayClass of the input, and every `gatewayClassName` that no GatewayClass object names,
//! as if it were that class's controller. Statuses carry the class's `controllerName`, so they
//! compare with what the installed controller wrote.
//!
//! A class without an object (the implementation's chart usually installs it) gets an
//! implicit one: its controllerName is the well-known one of the implementation when the class
//! name is a default class name of a known implementation ([`KNOWN_CLASSES`]), otherwise
//! gwsim's own ([`super::CONTROLLER_NAME`]). Parameters (`parametersRef`) name the
//! implementation's own kinds, which gwsim does not model: the stand-in assumes they resolve.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::CONTROLLER_NAME;
use crate::object::Snapshot;

/// Default GatewayClass names of implementations, with the implementation's name and the
/// controllerName its controller watches (from each project's install manifests and docs).
pub const KNOWN_CLASSES: &[(&str, &str, &str)] = &[
    ("cilium", "Cilium", "io.cilium/gateway-controller"),
    ("contour", "Contour", "projectcontour.io/gateway-controller"),
    (
        "eg",
        "Envoy Gateway",
        "gateway.envoyproxy.io/gatewayclass-controller",
    ),
    (
        "envoy-gateway",
        "Envoy Gateway",
        "gateway.envoyproxy.io/gatewayclass-controller",
    ),
    (
        "gke-l7-global-external-managed",
        "GKE",
        "networking.gke.io/gateway",
    ),
    ("gke-l7-gxlb", "GKE", "networking.gke.io/gateway"),
    (
        "gke-l7-regional-external-managed",
        "GKE",
        "networking.gke.io/gateway",
    ),
    ("gke-l7-rilb", "GKE", "networking.gke.io/gateway"),
    ("istio", "Istio", "istio.io/gateway-controller"),
    ("kgateway", "kgateway", "kgateway.dev/kgateway"),
    ("kong", "Kong", "konghq.com/kic-gateway-controller"),
    (
        "nginx",
        "NGINX Gateway Fabric",
        "gateway.nginx.org/nginx-gateway-controller",
    ),
    ("traefik", "Traefik", "traefik.io/gateway-controller"),
];

/// How gwsim stands in for one class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StandInClass {
    /// The controllerName written into statuses: the class object's `spec.controllerName`,
    /// or for an implicit class the one chosen for it.
    pub controller_name: String,
    /// For a class no GatewayClass object names: why this controllerName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implicit: Option<Implicit>,
}

/// Where an implicit class's controllerName comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Implicit {
    /// The default class name of a known implementation.
    Known { implementation: String },
    /// A name gwsim does not know: its own controllerName.
    Unknown,
}

/// Which classes gwsim stands in for, and which it leaves alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StandIn {
    /// By class name.
    pub classes: BTreeMap<String, StandInClass>,
    /// Classes of the input that `--gateway-class` left out: their objects stay as a cluster
    /// without their controller shows them.
    pub excluded: BTreeSet<String>,
    /// `--gateway-class` names that no class of the input has.
    pub unmatched: Vec<String>,
}

/// The class names of the input: GatewayClass objects and every Gateway's
/// `gatewayClassName`, with the object's controllerName when there is one.
fn input_classes(snapshot: &Snapshot) -> BTreeMap<String, Option<String>> {
    let mut out: BTreeMap<String, Option<String>> = BTreeMap::new();
    for class in snapshot.gateway_classes() {
        let name = class.metadata.name.clone().unwrap_or_default();
        out.insert(name, Some(class.spec.controller_name.clone()));
    }
    for gateway in snapshot.gateways() {
        out.entry(gateway.spec.gateway_class_name.clone())
            .or_insert(None);
    }
    out
}

/// Plans the stand-in for a snapshot. `only` (from `--gateway-class`) limits it to those
/// classes; empty means every class.
pub fn plan(snapshot: &Snapshot, only: &[String]) -> StandIn {
    let mut out = StandIn::default();
    let classes = input_classes(snapshot);
    for (name, controller) in classes.iter() {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            out.excluded.insert(name.clone());
            continue;
        }
        let class = match controller {
            Some(controller_name) => StandInClass {
                controller_name: controller_name.clone(),
                implicit: None,
            },
            None => implicit_class(name),
        };
        out.classes.insert(name.clone(), class);
    }
    let mut unmatched: Vec<String> = only
        .iter()
        .filter(|o| !classes.contains_key(o.as_str()))
        .cloned()
        .collect();
    unmatched.sort();
    unmatched.dedup();
    out.unmatched = unmatched;
    out
}

/// The class gwsim assumes for a `gatewayClassName` with no GatewayClass object.
pub fn implicit_class(name: &str) -> StandInClass {
    match KNOWN_CLASSES.iter().find(|(class, _, _)| *class == name) {
        Some((_, implementation, controller_name)) => StandInClass {
            controller_name: (*controller_name).to_string(),
            implicit: Some(Implicit::Known {
                implementation: (*implementation).to_string(),
            }),
        },
        None => StandInClass {
            controller_name: CONTROLLER_NAME.to_string(),
            implicit: Some(Implicit::Unknown),
        },
    }
}

impl StandIn {
    /// Whether gwsim stands in for no class at all.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The stand-in in a few lines for people: which classes, which controllerName, which
    /// are implicit, which were left out.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.classes.is_empty() && self.excluded.is_empty() {
            lines.push("gwsim stands in for no GatewayClass (the input names none)".to_string());
        } else if self.classes.is_empty() {
            lines.push("gwsim stands in for no GatewayClass".to_string());
        }
        for (name, class) in &self.classes {
            let line = match &class.implicit {
                None => format!(
                    "gwsim stands in for GatewayClass {name} (controllerName {})",
                    class.controller_name
                ),
                Some(Implicit::Known { implementation }) => format!(
                    "gwsim stands in for GatewayClass {name} (implicit: no GatewayClass object in the input; controllerName {} of {implementation})",
                    class.controller_name
                ),
                Some(Implicit::Unknown) => format!(
                    "gwsim stands in for GatewayClass {name} (implicit: no GatewayClass object in the input and not a class name gwsim knows; controllerName {})",
                    class.controller_name
                ),
            };
            lines.push(line);
        }
        if !self.excluded.is_empty() {
            lines.push(format!(
                "not reconciled (--gateway-class): {}; their objects are shown as without a controller",
                self.excluded.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        for name in &self.unmatched {
            lines.push(format!(
                "--gateway-class {name}: no GatewayClass or Gateway of the input names this class"
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::admission::admit;
    use crate::controller::{ControllerConfig, Reconciliation, StatusUpdate, reconcile};
    use crate::object::{Kind, ObjectKey};

    /// A snapshot of admitted `---`-separated documents.
    pub(crate) fn admitted(yaml: &str) -> Snapshot {
        let mut s = Snapshot::new();
        for doc in yaml.split("\n---\n").filter(|d| !d.trim().is_empty()) {
            let value: serde_json::Value = serde_saphyr::from_str(doc).expect("fixture is YAML");
            s.insert(admit(&value, None).expect("fixture is admitted"));
        }
        s
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).expect("valid time")
    }

    const TWO_CLASSES: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
  parametersRef: {group: gateway.envoyproxy.io, kind: EnvoyProxy, name: proxy, namespace: infra}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: a, namespace: infra}
spec:
  gatewayClassName: eg
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: b, namespace: infra}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: a, namespace: infra}, {name: b, namespace: infra}]
  rules: [{backendRefs: []}]
"#;

    fn route_controllers(r: &Reconciliation) -> Vec<String> {
        match r
            .statuses
            .get(&ObjectKey::new(Kind::HttpRoute, "shop", "web"))
        {
            Some(StatusUpdate::HttpRoute(s)) => s
                .parents
                .iter()
                .map(|p| format!("{} {}", p.parent_ref.name, p.controller_name))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn accepted(r: &Reconciliation, key: &ObjectKey) -> Option<String> {
        let conditions = match r.statuses.get(key)? {
            StatusUpdate::GatewayClass(s) => s.conditions.clone()?,
            StatusUpdate::Gateway(s) => s.conditions.clone()?,
            _ => return None,
        };
        conditions
            .iter()
            .find(|c| c.type_ == "Accepted")
            .map(|c| format!("{} {}", c.status, c.reason))
    }

    #[test]
    fn plans_explicit_and_implicit_classes() {
        let s = admitted(TWO_CLASSES);
        let plan = plan(&s, &[]);
        assert_eq!(
            plan.classes["eg"].controller_name,
            "gateway.envoyproxy.io/gatewayclass-controller"
        );
        assert_eq!(plan.classes["eg"].implicit, None);
        assert_eq!(
            plan.classes["istio"].controller_name,
            "istio.io/gateway-controller"
        );
        assert!(matches!(
            plan.classes["istio"].implicit,
            Some(Implicit::Known { .. })
        ));
        assert_eq!(
            implicit_class("my-own-class").controller_name,
            CONTROLLER_NAME
        );
    }

    #[test]
    fn route_entries_carry_each_class_controller() {
        let s = admitted(TWO_CLASSES);
        let r = reconcile(&s, &ControllerConfig::stand_in(plan(&s, &[])), now());
        assert_eq!(
            route_controllers(&r),
            vec![
                "a gateway.envoyproxy.io/gatewayclass-controller",
                "b istio.io/gateway-controller"
            ]
        );
        // The EnvoyProxy parametersRef is the implementation's: assumed to resolve.
        let class = ObjectKey::new(Kind::GatewayClass, "", "eg");
        assert_eq!(accepted(&r, &class).as_deref(), Some("True Accepted"));
        assert_eq!(r.gateways.len(), 2);
    }

    #[test]
    fn gateway_class_flag_leaves_other_classes_alone() {
        let s = admitted(TWO_CLASSES);
        let plan = plan(&s, &["istio".to_string(), "nope".to_string()]);
        assert_eq!(plan.excluded.iter().collect::<Vec<_>>(), vec!["eg"]);
        assert_eq!(plan.unmatched, vec!["nope".to_string()]);
        let r = reconcile(&s, &ControllerConfig::stand_in(plan), now());
        assert_eq!(route_controllers(&r), vec!["b istio.io/gateway-controller"]);
        assert!(
            !r.statuses
                .contains_key(&ObjectKey::new(Kind::Gateway, "infra", "a"))
        );
        assert!(
            !r.statuses
                .contains_key(&ObjectKey::new(Kind::GatewayClass, "", "eg"))
        );
    }

    #[test]
    fn own_controller_reconciles_only_its_classes() {
        let s = admitted(TWO_CLASSES);
        let r = reconcile(&s, &ControllerConfig::default(), now());
        assert!(r.statuses.is_empty(), "{:?}", r.statuses.keys());
        assert!(r.gateways.is_empty());
    }
}
