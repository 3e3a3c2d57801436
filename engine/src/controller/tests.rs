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

/// A Gateway of class gwsim with listeners in YAML flow style.
fn gw(ns: &str, name: &str, listeners: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {ns}, generation: 1}}\nspec:\n  gatewayClassName: gwsim\n  listeners: {listeners}\n"
    )
}

/// An HTTPRoute; `parents`, `hostnames` and `rules` in YAML flow style.
fn route(ns: &str, name: &str, parents: &str, hostnames: &str, rules: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {ns}, generation: 1}}\nspec:\n  parentRefs: {parents}\n  hostnames: {hostnames}\n  rules: {rules}\n"
    )
}

/// parentRef to `infra/gw` with optional sectionName and port.
fn parent(section: Option<&str>, port: Option<u16>) -> String {
    let mut s = "{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra, name: gw".to_string();
    if let Some(section) = section {
        s += &format!(", sectionName: {section}");
    }
    if let Some(port) = port {
        s += &format!(", port: {port}");
    }
    s + "}"
}

/// One catch-all rule to `backend` (flow-style backendRef).
fn rule_to(backend: &str) -> String {
    format!("[{{matches: [{{path: {{type: PathPrefix, value: /}}}}], backendRefs: [{backend}]}}]")
}

const TO_V1: &str = "{group: \"\", kind: Service, name: v1, port: 8080, weight: 1}";

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
}

// ---------------------------------------------------------------------------------------
// GatewayClass

#[test]
fn gateway_class_acceptance() {
    let with_params = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim, generation: 4}
spec:
  controllerName: gateway.gwsim.dev/controller
  parametersRef: {group: example.com, kind: Config, name: cfg}
"#;
    let other = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other, generation: 1}
spec: {controllerName: example.com/other}
"#;
    // The class with parameters is not accepted, so its Gateway is not ours.
    let s = snapshot(&join(&[with_params, other, INFRA_NS, GATEWAY, SERVICE_V1, ROUTE]));
    let r = run(&s);
    let class = match r.statuses.get(&ObjectKey::new(Kind::GatewayClass, "", "gwsim")) {
        Some(StatusUpdate::GatewayClass(c)) => c,
        other => panic!("class status: {other:?}"),
    };
    let conditions = class.conditions.as_deref().unwrap_or_default();
    assert_eq!(cond(conditions, "Accepted"), is("False", "InvalidParameters"));
    assert_eq!(find(conditions, "Accepted").observed_generation, Some(4));
    assert!(!r.statuses.contains_key(&ObjectKey::new(Kind::GatewayClass, "", "other")));
    assert!(!r.statuses.contains_key(&ObjectKey::new(Kind::Gateway, "infra", "gw")));
    assert!(!r.statuses.contains_key(&ObjectKey::new(Kind::HttpRoute, "infra", "route")));
    assert!(r.gateways.is_empty());
}

#[test]
fn supported_features_are_sorted_and_unique() {
    let mut sorted = SUPPORTED_FEATURES.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, SUPPORTED_FEATURES);
}

#[test]
fn gateway_of_another_class_is_ignored() {
    let other_gw = gw("infra", "gw", "[{name: http, port: 80, protocol: HTTP}]")
        .replace("gatewayClassName: gwsim", "gatewayClassName: other");
    let s = snapshot(&join(&[CLASS, INFRA_NS, &other_gw, SERVICE_V1, ROUTE]));
    let r = run(&s);
    assert!(r.gateways.is_empty());
    assert!(!r.statuses.contains_key(&ObjectKey::new(Kind::Gateway, "infra", "gw")));
    // The route names no Gateway of ours: no status from us.
    assert!(!r.statuses.contains_key(&ObjectKey::new(Kind::HttpRoute, "infra", "route")));
}

// ---------------------------------------------------------------------------------------
// Gateway Accepted / Programmed, listeners

#[test]
fn gateway_accepted_reasons() {
    struct Case {
        name: &'static str,
        listeners: &'static str,
        extra_spec: &'static str,
        accepted: (&'static str, &'static str),
        programmed: (&'static str, &'static str),
        /// (listener, Accepted reason, supportedKinds count)
        listener: Option<(&'static str, &'static str, usize)>,
    }
    let cases = [
        Case {
            name: "all listeners valid",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "",
            accepted: ("True", "Accepted"),
            programmed: ("True", "Programmed"),
            listener: Some(("http", "Accepted", 2)),
        },
        Case {
            name: "one of two listeners has an unknown protocol",
            listeners: "[{name: http, port: 80, protocol: HTTP}, {name: bad, port: 81, protocol: INVALID}]",
            extra_spec: "",
            accepted: ("True", "ListenersNotValid"),
            programmed: ("True", "Programmed"),
            listener: Some(("bad", "UnsupportedProtocol", 0)),
        },
        Case {
            name: "the only listener has an unknown protocol",
            listeners: "[{name: bad, port: 80, protocol: INVALID}]",
            extra_spec: "",
            accepted: ("False", "ListenersNotValid"),
            programmed: ("False", "Invalid"),
            listener: Some(("bad", "UnsupportedProtocol", 0)),
        },
        Case {
            name: "TCP is not modelled",
            listeners: "[{name: http, port: 80, protocol: HTTP}, {name: tcp, port: 9000, protocol: TCP}]",
            extra_spec: "",
            accepted: ("True", "ListenersNotValid"),
            programmed: ("True", "Programmed"),
            listener: Some(("tcp", "UnsupportedProtocol", 0)),
        },
        Case {
            name: "TLS is not modelled",
            listeners: "[{name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}}]",
            extra_spec: "",
            accepted: ("False", "ListenersNotValid"),
            programmed: ("False", "Invalid"),
            listener: Some(("tls", "UnsupportedProtocol", 0)),
        },
        Case {
            name: "UDP is not modelled",
            listeners: "[{name: udp, port: 53, protocol: UDP}]",
            extra_spec: "",
            accepted: ("False", "ListenersNotValid"),
            programmed: ("False", "Invalid"),
            listener: Some(("udp", "UnsupportedProtocol", 0)),
        },
        Case {
            name: "infrastructure parametersRef",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "  infrastructure: {parametersRef: {group: example.com, kind: Params, name: p}}\n",
            accepted: ("False", "InvalidParameters"),
            programmed: ("False", "Invalid"),
            listener: Some(("http", "Accepted", 2)),
        },
        Case {
            name: "unsupported address type",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "  addresses: [{type: test/fake-invalid-type, value: abc}]\n",
            accepted: ("False", "UnsupportedAddress"),
            programmed: ("False", "Invalid"),
            listener: None,
        },
        Case {
            name: "static IP address",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "  addresses: [{type: IPAddress, value: 10.1.2.3}]\n",
            accepted: ("True", "Accepted"),
            programmed: ("True", "Programmed"),
            listener: None,
        },
        Case {
            name: "static address that is not an IP",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "  addresses: [{type: IPAddress, value: not-an-ip}]\n",
            accepted: ("True", "Accepted"),
            programmed: ("False", "AddressNotUsable"),
            listener: None,
        },
        Case {
            name: "IPAddress without value gets one assigned",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "  addresses: [{type: IPAddress}]\n",
            accepted: ("True", "Accepted"),
            programmed: ("True", "Programmed"),
            listener: None,
        },
    ];
    for case in cases {
        let gateway = gw("infra", "gw", case.listeners) + case.extra_spec;
        let s = snapshot(&join(&[CLASS, INFRA_NS, &gateway]));
        let r = run(&s);
        let status = gateway_status(&r, "infra", "gw");
        let conditions = status.conditions.as_deref().unwrap_or_default();
        assert_eq!(
            cond(conditions, "Accepted"),
            is(case.accepted.0, case.accepted.1),
            "{}",
            case.name
        );
        assert_eq!(
            cond(conditions, "Programmed"),
            is(case.programmed.0, case.programmed.1),
            "{}",
            case.name
        );
        if let Some((name, reason, kinds)) = case.listener {
            let l = listener(status, name);
            let accepted = find(&l.conditions, "Accepted");
            assert_eq!(accepted.reason, reason, "{}", case.name);
            assert_eq!(
                l.supported_kinds.as_ref().map_or(0, Vec::len),
                kinds,
                "{}",
                case.name
            );
        }
        // An accepted Gateway has an address with a type.
        let addresses = status.addresses.as_deref().unwrap_or_default();
        if case.accepted.0 == "True" && case.programmed.0 == "True" {
            assert_eq!(addresses.len(), 1, "{}", case.name);
            assert_eq!(addresses[0].r#type.as_deref(), Some("IPAddress"), "{}", case.name);
        }
        if case.name == "static IP address" {
            assert_eq!(addresses[0].value, "10.1.2.3");
            assert_eq!(r.gateways[0].addresses, ["10.1.2.3"]);
        }
    }
}

#[test]
fn listeners_of_an_unaccepted_gateway_are_unusable() {
    let gateway = gw("infra", "gw", "[{name: http, port: 80, protocol: HTTP}]")
        + "  infrastructure: {parametersRef: {group: example.com, kind: Params, name: p}}\n";
    let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &gateway])));
    let l = &r.gateways[0].listeners[0];
    assert!(!l.usable);
    assert_eq!(
        l.unusable_reason.as_deref(),
        Some("Gateway not accepted: InvalidParameters")
    );
    let status = gateway_status(&r, "infra", "gw");
    assert_eq!(
        cond(&listener(status, "http").conditions, "Programmed"),
        is("False", "Invalid")
    );
}

#[test]
fn addresses_are_deterministic_unique_and_in_the_benchmark_range() {
    let a = gw("infra", "a", "[{name: http, port: 80, protocol: HTTP}]");
    let b = gw("infra", "b", "[{name: http, port: 80, protocol: HTTP}]");
    let r1 = run(&snapshot(&join(&[CLASS, INFRA_NS, &a, &b])));
    let r2 = run(&snapshot(&join(&[CLASS, INFRA_NS, &b, &a])));
    assert_eq!(r1, r2);
    let addr_a = r1.gateways[0].addresses[0].clone();
    let addr_b = r1.gateways[1].addresses[0].clone();
    assert_ne!(addr_a, addr_b);
    for addr in [&addr_a, &addr_b] {
        let ip: std::net::Ipv4Addr = addr.parse().expect("IPv4");
        let o = ip.octets();
        assert!(o[0] == 198 && (o[1] == 18 || o[1] == 19), "{addr}");
        assert!(o[3] != 0 && o[3] != 255, "{addr}");
    }
    // The address depends on the Gateway alone, not on what else exists.
    let alone = run(&snapshot(&join(&[CLASS, INFRA_NS, &a])));
    assert_eq!(alone.gateways[0].addresses[0], addr_a);

    // A static claim on a's hashed address wins; a probes to the next free one.
    let claim = gw("infra", "c", "[{name: http, port: 80, protocol: HTTP}]")
        + &format!("  addresses: [{{type: IPAddress, value: {addr_a}}}]\n");
    let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &a, &claim])));
    assert_eq!(r.gateways[1].addresses, [addr_a.clone()]);
    assert_ne!(r.gateways[0].addresses[0], addr_a);

    // Two Gateways asking for one static address: the first in key order gets it.
    let d = gw("infra", "d", "[{name: http, port: 80, protocol: HTTP}]")
        + "  addresses: [{type: IPAddress, value: 10.0.0.9}]\n";
    let e = gw("infra", "e", "[{name: http, port: 80, protocol: HTTP}]")
        + "  addresses: [{type: IPAddress, value: 10.0.0.9}]\n";
    let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &d, &e])));
    let programmed = |name: &str| {
        let s = gateway_status(&r, "infra", name);
        cond(s.conditions.as_deref().unwrap_or_default(), "Programmed")
    };
    assert_eq!(programmed("d"), is("True", "Programmed"));
    assert_eq!(programmed("e"), is("False", "AddressNotUsable"));
}

#[test]
fn listener_conflicts() {
    struct Case {
        name: &'static str,
        listeners: &'static str,
        /// (listener, Conflicted status, reason)
        expected: &'static [(&'static str, &'static str, &'static str)],
    }
    let cases = [
        Case {
            name: "same port and protocol, distinct hostnames",
            listeners: "[{name: a, port: 80, protocol: HTTP, hostname: a.com}, {name: b, port: 80, protocol: HTTP, hostname: b.com}, {name: c, port: 80, protocol: HTTP}]",
            expected: &[("a", "False", "NoConflicts"), ("b", "False", "NoConflicts"), ("c", "False", "NoConflicts")],
        },
        Case {
            name: "same port, protocol and hostname",
            listeners: "[{name: a, port: 80, protocol: HTTP, hostname: a.com}, {name: b, port: 80, protocol: HTTP, hostname: a.com}, {name: c, port: 80, protocol: HTTP, hostname: c.com}]",
            expected: &[("a", "True", "HostnameConflict"), ("b", "True", "HostnameConflict"), ("c", "False", "NoConflicts")],
        },
        Case {
            name: "two hostless listeners on one port",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: HTTP}]",
            expected: &[("a", "True", "HostnameConflict"), ("b", "True", "HostnameConflict")],
        },
        Case {
            name: "HTTP and HTTPS on one port",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: HTTPS, hostname: b.com, tls: {mode: Terminate, certificateRefs: [{group: \"\", kind: Secret, name: cert}]}}]",
            expected: &[("a", "True", "ProtocolConflict"), ("b", "True", "ProtocolConflict")],
        },
        Case {
            name: "HTTP and TCP on one port",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: TCP}]",
            expected: &[("a", "True", "ProtocolConflict"), ("b", "True", "ProtocolConflict")],
        },
        Case {
            name: "HTTP and UDP on one port number do not collide",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: UDP}]",
            expected: &[("a", "False", "NoConflicts"), ("b", "False", "NoConflicts")],
        },
        Case {
            name: "different ports",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 8080, protocol: HTTP}]",
            expected: &[("a", "False", "NoConflicts"), ("b", "False", "NoConflicts")],
        },
    ];
    let cert = valid_secret("infra", "cert");
    for case in cases {
        let gateway = gw("infra", "gw", case.listeners);
        let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &gateway, &cert])));
        let status = gateway_status(&r, "infra", "gw");
        for (name, conflicted, reason) in case.expected {
            let l = listener(status, name);
            assert_eq!(
                cond(&l.conditions, "Conflicted"),
                is(conflicted, reason),
                "{} / {name}",
                case.name
            );
            let lc = r.gateways[0]
                .listeners
                .iter()
                .find(|x| x.name == *name)
                .expect("listener config");
            if *conflicted == "True" {
                // Conflicted listeners are never accepted; no winner is picked.
                assert_eq!(find(&l.conditions, "Accepted").status, "False", "{}", case.name);
                assert_eq!(find(&l.conditions, "Programmed").status, "False", "{}", case.name);
                assert!(!lc.usable, "{}", case.name);
                if *name == "a" {
                    assert_eq!(cond(&l.conditions, "Accepted"), is("False", reason));
                }
            } else if lc.protocol == Protocol::Http {
                assert!(lc.usable, "{} / {name}", case.name);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Certificates and ReferenceGrants from Gateways

fn valid_secret(ns: &str, name: &str) -> String {
    // "-----BEGIN CERTIFICATE-----\n" and "-----BEGIN PRIVATE KEY-----\n", base64.
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==\n"
    )
}

fn https_gateway(cert_ref: &str) -> String {
    gw(
        "infra",
        "gw",
        &format!(
            "[{{name: https, port: 443, protocol: HTTPS, allowedRoutes: {{namespaces: {{from: Same}}}}, tls: {{mode: Terminate, certificateRefs: [{cert_ref}]}}}}]"
        ),
    )
}

fn grant(ns: &str, from: &str, to: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: {ns}}}\nspec:\n  from: [{from}]\n  to: [{to}]\n"
    )
}

#[test]
fn listener_certificate_refs() {
    let opaque = "apiVersion: v1\nkind: Secret\nmetadata: {name: opaque, namespace: infra}\ntype: Opaque\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==\n";
    // "Hello world" as both certificate and key.
    let not_pem = "apiVersion: v1\nkind: Secret\nmetadata: {name: not-pem, namespace: infra}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: SGVsbG8gd29ybGQK\n  tls.key: SGVsbG8gd29ybGQK\n";
    let no_key = "apiVersion: v1\nkind: Secret\nmetadata: {name: no-key, namespace: infra}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n";
    let gateway_grant = grant(
        "web",
        "{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}",
        "{group: \"\", kind: Secret}",
    );
    let cases: &[(&str, &str, &str, &str)] = &[
        ("valid", "{group: \"\", kind: Secret, name: cert}", "True", "ResolvedRefs"),
        ("missing Secret", "{group: \"\", kind: Secret, name: nope}", "False", "InvalidCertificateRef"),
        ("wrong group", "{group: wrong.group.example, kind: Secret, name: cert}", "False", "InvalidCertificateRef"),
        ("wrong kind", "{group: \"\", kind: WrongKind, name: cert}", "False", "InvalidCertificateRef"),
        ("not a TLS Secret", "{group: \"\", kind: Secret, name: opaque}", "False", "InvalidCertificateRef"),
        ("not PEM", "{group: \"\", kind: Secret, name: not-pem}", "False", "InvalidCertificateRef"),
        ("no tls.key", "{group: \"\", kind: Secret, name: no-key}", "False", "InvalidCertificateRef"),
        ("cross namespace without grant", "{group: \"\", kind: Secret, name: cert, namespace: other}", "False", "RefNotPermitted"),
        ("cross namespace with grant to all Secrets", "{group: \"\", kind: Secret, name: cert, namespace: web}", "True", "ResolvedRefs"),
    ];
    for (name, cert_ref, status, reason) in cases {
        let s = snapshot(&join(&[
            CLASS,
            INFRA_NS,
            &https_gateway(cert_ref),
            &valid_secret("infra", "cert"),
            &valid_secret("other", "cert"),
            &valid_secret("web", "cert"),
            &gateway_grant,
            opaque,
            not_pem,
            no_key,
            SERVICE_V1,
            ROUTE,
        ]));
        let r = run(&s);
        let gws = gateway_status(&r, "infra", "gw");
        let l = listener(gws, "https");
        assert_eq!(cond(&l.conditions, "ResolvedRefs"), is(status, reason), "{name}");
        let lc = &r.gateways[0].listeners[0];
        assert_eq!(lc.usable, *status == "True", "{name}");
        if *status == "True" {
            assert_eq!(cond(&l.conditions, "Programmed"), is("True", "Programmed"), "{name}");
        } else {
            assert_eq!(cond(&l.conditions, "Programmed"), is("False", "Invalid"), "{name}");
            assert_eq!(lc.unusable_reason.as_deref(), Some(*reason), "{name}");
            // Still accepted, and routes still count (GatewayWithAttachedRoutes).
            assert_eq!(cond(&l.conditions, "Accepted"), is("True", "Accepted"), "{name}");
        }
        assert_eq!(l.attached_routes, 1, "{name}");
        let kinds: Vec<_> = l.supported_kinds.iter().flatten().map(|k| k.kind.as_str()).collect();
        assert_eq!(kinds, ["HTTPRoute", "GRPCRoute"], "{name}");
    }
}

#[test]
fn https_listener_without_tls_is_an_invalid_certificate_ref() {
    let gateway = gw("infra", "gw", "[{name: https, port: 443, protocol: HTTPS}]");
    let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &gateway])));
    let l = listener(gateway_status(&r, "infra", "gw"), "https");
    assert_eq!(cond(&l.conditions, "ResolvedRefs"), is("False", "InvalidCertificateRef"));
    assert!(!r.gateways[0].listeners[0].usable);
}

/// The seven wrong grants of GatewaySecretInvalidReferenceGrant, each wrong in one field, and
/// the right one.
#[test]
fn gateway_secret_reference_grant_field_by_field() {
    let right_from = "{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}";
    let right_to = "{group: \"\", kind: Secret, name: certificate}";
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("right grant", "web", right_from, right_to, "ResolvedRefs"),
        ("grant in the wrong namespace", "infra", right_from, right_to, "RefNotPermitted"),
        ("wrong from.group", "web", "{group: wrong.example.com, kind: Gateway, namespace: infra}", right_to, "RefNotPermitted"),
        ("wrong from.kind", "web", "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}", right_to, "RefNotPermitted"),
        ("wrong from.namespace", "web", "{group: gateway.networking.k8s.io, kind: Gateway, namespace: elsewhere}", right_to, "RefNotPermitted"),
        ("wrong to.group", "web", right_from, "{group: wrong.example.com, kind: Secret, name: certificate}", "RefNotPermitted"),
        ("wrong to.kind", "web", right_from, "{group: \"\", kind: Service, name: certificate}", "RefNotPermitted"),
        ("wrong to.name", "web", right_from, "{group: \"\", kind: Secret, name: other}", "RefNotPermitted"),
    ];
    for (name, grant_ns, from, to, reason) in cases {
        let s = snapshot(&join(&[
            CLASS,
            INFRA_NS,
            &https_gateway("{group: \"\", kind: Secret, name: certificate, namespace: web}"),
            &valid_secret("web", "certificate"),
            &grant(grant_ns, from, to),
        ]));
        let r = run(&s);
        let l = listener(gateway_status(&r, "infra", "gw"), "https");
        let expected = if *reason == "ResolvedRefs" { "True" } else { "False" };
        assert_eq!(cond(&l.conditions, "ResolvedRefs"), is(expected, reason), "{name}");
    }
    // Without any grant.
    let s = snapshot(&join(&[
        CLASS,
        INFRA_NS,
        &https_gateway("{group: \"\", kind: Secret, name: certificate, namespace: web}"),
        &valid_secret("web", "certificate"),
    ]));
    let l = listener(gateway_status(&run(&s), "infra", "gw"), "https").clone();
    assert_eq!(cond(&l.conditions, "ResolvedRefs"), is("False", "RefNotPermitted"));
}

#[test]
fn allowed_route_kinds() {
    struct Case {
        name: &'static str,
        kinds: &'static str,
        resolved: (&'static str, &'static str),
        supported: &'static [&'static str],
        /// Route parent Accepted reason for the HTTPRoute.
        route: &'static str,
    }
    let cases = [
        Case {
            name: "unrestricted",
            kinds: "[]",
            resolved: ("True", "ResolvedRefs"),
            supported: &["HTTPRoute", "GRPCRoute"],
            route: "Accepted",
        },
        Case {
            name: "only an invalid kind",
            kinds: "[{group: gateway.networking.k8s.io, kind: InvalidRoute}]",
            resolved: ("False", "InvalidRouteKinds"),
            supported: &[],
            route: "NotAllowedByListeners",
        },
        Case {
            name: "an invalid and a valid kind",
            kinds: "[{group: gateway.networking.k8s.io, kind: InvalidRoute}, {group: gateway.networking.k8s.io, kind: HTTPRoute}]",
            resolved: ("False", "InvalidRouteKinds"),
            supported: &["HTTPRoute"],
            route: "Accepted",
        },
        Case {
            name: "right kind, wrong group",
            kinds: "[{group: example.com, kind: HTTPRoute}]",
            resolved: ("False", "InvalidRouteKinds"),
            supported: &[],
            route: "NotAllowedByListeners",
        },
        Case {
            name: "GRPCRoute only",
            kinds: "[{group: gateway.networking.k8s.io, kind: GRPCRoute}]",
            resolved: ("True", "ResolvedRefs"),
            supported: &["GRPCRoute"],
            route: "NotAllowedByListeners",
        },
    ];
    for case in cases {
        let gateway = gw(
            "infra",
            "gw",
            &format!(
                "[{{name: http, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: Same}}, kinds: {}}}}}]",
                case.kinds
            ),
        );
        let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &gateway, SERVICE_V1, ROUTE])));
        let l = listener(gateway_status(&r, "infra", "gw"), "http");
        assert_eq!(
            cond(&l.conditions, "ResolvedRefs"),
            is(case.resolved.0, case.resolved.1),
            "{}",
            case.name
        );
        let kinds: Vec<_> = l.supported_kinds.iter().flatten().map(|k| k.kind.as_str()).collect();
        assert_eq!(kinds, case.supported, "{}", case.name);
        // InvalidRouteKinds does not stop the listener serving its valid kinds.
        assert!(r.gateways[0].listeners[0].usable, "{}", case.name);
        let pc = parent_conditions(&r, "infra", "route");
        assert_eq!(find(&pc, "Accepted").reason, case.route, "{}", case.name);
    }
}
