//! Controller tests: YAML fixtures (defaults written out, as admission would leave them) in,
//! statuses and configuration out.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::config::{BackendTarget, Filter, PathMatch, Protocol};
use crate::object::Object;

// ---------------------------------------------------------------------------------------
// Fixture helpers

fn object(doc: &str) -> Object {
    let value: serde_json::Value = serde_saphyr::from_str(doc).expect("fixture is YAML");
    let kind = value["kind"]
        .as_str()
        .expect("fixture has a kind")
        .to_string();
    let typed = |v: serde_json::Value| v;
    let v = typed(value);
    match kind.as_str() {
        "Namespace" => Object::Namespace(Box::new(serde_json::from_value(v).expect("Namespace"))),
        "GatewayClass" => {
            Object::GatewayClass(Box::new(serde_json::from_value(v).expect("GatewayClass")))
        }
        "Gateway" => Object::Gateway(Box::new(serde_json::from_value(v).expect("Gateway"))),
        "HTTPRoute" => Object::HttpRoute(Box::new(serde_json::from_value(v).expect("HTTPRoute"))),
        "GRPCRoute" => Object::GrpcRoute(Box::new(serde_json::from_value(v).expect("GRPCRoute"))),
        "ReferenceGrant" => {
            Object::ReferenceGrant(Box::new(serde_json::from_value(v).expect("ReferenceGrant")))
        }
        "Service" => Object::Service(Box::new(serde_json::from_value(v).expect("Service"))),
        "Secret" => Object::Secret(Box::new(serde_json::from_value(v).expect("Secret"))),
        other => panic!("fixture kind {other} not handled"),
    }
}

/// A snapshot from `---`-separated YAML documents.
fn snapshot(yaml: &str) -> Snapshot {
    let mut s = Snapshot::new();
    for doc in yaml.split("\n---\n") {
        if doc.trim().is_empty() {
            continue;
        }
        s.insert(object(doc));
    }
    s
}

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).expect("valid time")
}

fn run(s: &Snapshot) -> Reconciliation {
    reconcile(s, &ControllerConfig::default(), now())
}

const CLASS: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim, generation: 1}
spec: {controllerName: gateway.gwsim.dev/controller}
"#;

const INFRA_NS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: infra, labels: {team: infra}}
"#;

const WEB_NS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: web, tier: front}}
"#;

/// Gateway `infra/gw`, one HTTP listener `http` on 80, routes from Same.
const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra, generation: 3}
spec:
  gatewayClassName: gwsim
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Same}}
"#;

const SERVICE_V1: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: v1, namespace: infra}
spec:
  ports:
  - {port: 8080, name: http}
  - {port: 8081, name: h2c, appProtocol: kubernetes.io/h2c}
  - {port: 8082, name: odd, appProtocol: example.com/odd}
"#;

const SERVICE_WEB: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: web}
spec:
  ports:
  - {port: 8080}
"#;

/// `infra/route` → gw, one rule to v1:8080.
const ROUTE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route, namespace: infra, generation: 2, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs:
  - {group: gateway.networking.k8s.io, kind: Gateway, name: gw}
  rules:
  - matches:
    - path: {type: PathPrefix, value: /}
    backendRefs:
    - {group: "", kind: Service, name: v1, port: 8080, weight: 1}
"#;

fn join(docs: &[&str]) -> String {
    docs.join("\n---\n")
}

fn http_status<'r>(r: &'r Reconciliation, ns: &str, name: &str) -> &'r HttpRouteStatus {
    match r.statuses.get(&ObjectKey::new(Kind::HttpRoute, ns, name)) {
        Some(StatusUpdate::HttpRoute(s)) => s,
        other => panic!("no HTTPRoute status for {ns}/{name}: {other:?}"),
    }
}

fn gateway_status<'r>(r: &'r Reconciliation, ns: &str, name: &str) -> &'r GatewayStatus {
    match r.statuses.get(&ObjectKey::new(Kind::Gateway, ns, name)) {
        Some(StatusUpdate::Gateway(s)) => s,
        other => panic!("no Gateway status for {ns}/{name}: {other:?}"),
    }
}

fn find<'c>(conditions: &'c [Condition], type_: &str) -> &'c Condition {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {conditions:?}"))
}

/// `(status, reason)` of a condition type, for compact assertions.
fn cond(conditions: &[Condition], type_: &str) -> (String, String) {
    let c = find(conditions, type_);
    (c.status.clone(), c.reason.clone())
}

fn is(status: &str, reason: &str) -> (String, String) {
    (status.to_string(), reason.to_string())
}

/// The conditions of the single parent entry of a route that names `gw`.
fn parent_conditions(r: &Reconciliation, ns: &str, name: &str) -> Vec<Condition> {
    let status = http_status(r, ns, name);
    let ours: Vec<_> = status
        .parents
        .iter()
        .filter(|p| p.controller_name == CONTROLLER_NAME)
        .collect();
    assert_eq!(ours.len(), 1, "expected one parent of ours: {status:?}");
    ours[0].conditions.clone()
}

fn listener<'s>(
    s: &'s GatewayStatus,
    name: &str,
) -> &'s gateway_api::apis::experimental::gateways::GatewayStatusListeners {
    s.listeners
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no listener {name}"))
}

// ---------------------------------------------------------------------------------------
// Smoke

#[test]
fn basic_route_attaches_and_resolves() {
    let s = snapshot(&join(&[CLASS, INFRA_NS, GATEWAY, SERVICE_V1, ROUTE]));
    let r = run(&s);

    let class = match r
        .statuses
        .get(&ObjectKey::new(Kind::GatewayClass, "", "gwsim"))
    {
        Some(StatusUpdate::GatewayClass(c)) => c,
        other => panic!("class status: {other:?}"),
    };
    let class_conditions = class.conditions.as_deref().unwrap_or_default();
    assert_eq!(cond(class_conditions, "Accepted"), is("True", "Accepted"));
    assert_eq!(
        class.supported_features.as_ref().map(Vec::len),
        Some(SUPPORTED_FEATURES.len())
    );

    let gw = gateway_status(&r, "infra", "gw");
    let conditions = gw.conditions.as_deref().unwrap_or_default();
    assert_eq!(cond(conditions, "Accepted"), is("True", "Accepted"));
    assert_eq!(cond(conditions, "Programmed"), is("True", "Programmed"));
    let addresses = gw.addresses.as_deref().unwrap_or_default();
    assert_eq!(addresses.len(), 1);
    assert_eq!(addresses[0].r#type.as_deref(), Some("IPAddress"));
    assert!(addresses[0].value.starts_with("198.1"), "{addresses:?}");
    let l = listener(gw, "http");
    assert_eq!(l.attached_routes, 1);
    assert_eq!(cond(&l.conditions, "Accepted"), is("True", "Accepted"));
    assert_eq!(cond(&l.conditions, "Programmed"), is("True", "Programmed"));
    assert_eq!(
        cond(&l.conditions, "ResolvedRefs"),
        is("True", "ResolvedRefs")
    );
    assert_eq!(
        cond(&l.conditions, "Conflicted"),
        is("False", "NoConflicts")
    );
    let kinds: Vec<_> = l
        .supported_kinds
        .iter()
        .flatten()
        .map(|k| k.kind.as_str())
        .collect();
    assert_eq!(kinds, ["HTTPRoute", "GRPCRoute"]);

    let status = http_status(&r, "infra", "route");
    assert_eq!(status.parents.len(), 1);
    let p = &status.parents[0];
    assert_eq!(p.controller_name, CONTROLLER_NAME);
    assert_eq!(p.parent_ref.group.as_deref(), Some(GATEWAY_GROUP));
    assert_eq!(p.parent_ref.kind.as_deref(), Some("Gateway"));
    assert_eq!(p.parent_ref.namespace.as_deref(), Some("infra"));
    assert_eq!(p.parent_ref.name, "gw");
    assert_eq!(cond(&p.conditions, "Accepted"), is("True", "Accepted"));
    assert_eq!(
        cond(&p.conditions, "ResolvedRefs"),
        is("True", "ResolvedRefs")
    );
    assert!(
        p.conditions
            .iter()
            .all(|c| c.observed_generation == Some(2))
    );

    assert_eq!(r.gateways.len(), 1);
    let g = &r.gateways[0];
    assert_eq!(g.addresses, vec![addresses[0].value.clone()]);
    assert_eq!(g.listeners.len(), 1);
    let lc = &g.listeners[0];
    assert!(lc.usable);
    assert_eq!(lc.protocol, Protocol::Http);
    assert_eq!(lc.routes.len(), 1);
    let attachment = &lc.routes[0];
    assert!(attachment.hostnames.is_empty());
    let route = &attachment.route;
    assert_eq!(route.created, 1_704_067_200);
    assert_eq!(route.rules.len(), 1);
    assert_eq!(
        route.rules[0].matches[0].path,
        PathMatch::Prefix("/".into())
    );
    assert_eq!(
        route.rules[0].backends[0].target,
        BackendTarget::Service {
            namespace: "infra".into(),
            name: "v1".into(),
            port: 8080,
            app_protocol: None
        }
    );
    let _ = Filter::Unsupported {
        kind: String::new(),
        detail: String::new(),
    };
}
