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
        "ConfigMap" => Object::ConfigMap(Box::new(serde_json::from_value(v).expect("ConfigMap"))),
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
    let mut s =
        "{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra, name: gw".to_string();
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
            app_protocol: None,
            tls: None,
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
    let s = snapshot(&join(&[
        with_params,
        other,
        INFRA_NS,
        GATEWAY,
        SERVICE_V1,
        ROUTE,
    ]));
    let r = run(&s);
    let class = match r
        .statuses
        .get(&ObjectKey::new(Kind::GatewayClass, "", "gwsim"))
    {
        Some(StatusUpdate::GatewayClass(c)) => c,
        other => panic!("class status: {other:?}"),
    };
    let conditions = class.conditions.as_deref().unwrap_or_default();
    assert_eq!(
        cond(conditions, "Accepted"),
        is("False", "InvalidParameters")
    );
    assert_eq!(find(conditions, "Accepted").observed_generation, Some(4));
    assert!(
        !r.statuses
            .contains_key(&ObjectKey::new(Kind::GatewayClass, "", "other"))
    );
    assert!(
        !r.statuses
            .contains_key(&ObjectKey::new(Kind::Gateway, "infra", "gw"))
    );
    assert!(
        !r.statuses
            .contains_key(&ObjectKey::new(Kind::HttpRoute, "infra", "route"))
    );
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
    assert!(
        !r.statuses
            .contains_key(&ObjectKey::new(Kind::Gateway, "infra", "gw"))
    );
    // The route names no Gateway of ours: no status from us.
    assert!(
        !r.statuses
            .contains_key(&ObjectKey::new(Kind::HttpRoute, "infra", "route"))
    );
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
            name: "TCP is served",
            listeners: "[{name: http, port: 80, protocol: HTTP}, {name: tcp, port: 9000, protocol: TCP}]",
            extra_spec: "",
            accepted: ("True", "Accepted"),
            programmed: ("True", "Programmed"),
            listener: Some(("tcp", "Accepted", 1)),
        },
        Case {
            name: "TLS Passthrough is served",
            listeners: "[{name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}}]",
            extra_spec: "",
            accepted: ("True", "Accepted"),
            programmed: ("True", "Programmed"),
            listener: Some(("tls", "Accepted", 1)),
        },
        Case {
            name: "UDP is served",
            listeners: "[{name: udp, port: 53, protocol: UDP}]",
            extra_spec: "",
            accepted: ("True", "Accepted"),
            programmed: ("True", "Programmed"),
            listener: Some(("udp", "Accepted", 1)),
        },
        Case {
            name: "port gwsim cannot use",
            listeners: "[{name: http, port: 80, protocol: HTTP}, {name: zero, port: 0, protocol: HTTP}]",
            extra_spec: "",
            accepted: ("True", "ListenersNotValid"),
            programmed: ("True", "Programmed"),
            listener: Some(("zero", "PortUnavailable", 2)),
        },
        Case {
            name: "HTTPS with Passthrough",
            listeners: "[{name: http, port: 80, protocol: HTTP}, {name: https, port: 443, protocol: HTTPS, tls: {mode: Passthrough}}]",
            extra_spec: "",
            accepted: ("True", "ListenersNotValid"),
            programmed: ("True", "Programmed"),
            listener: Some(("https", "UnsupportedValue", 2)),
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
            name: "unsupported address type without a value",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "  addresses: [{type: NamedAddress}]\n",
            accepted: ("False", "UnsupportedAddress"),
            programmed: ("False", "Invalid"),
            listener: None,
        },
        Case {
            name: "static hostname address",
            listeners: "[{name: http, port: 80, protocol: HTTP}]",
            extra_spec: "  addresses: [{type: Hostname, value: gw.example.com}]\n",
            accepted: ("True", "Accepted"),
            programmed: ("True", "Programmed"),
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
            let expected_type = if case.name.contains("hostname") {
                "Hostname"
            } else {
                "IPAddress"
            };
            assert_eq!(
                addresses[0].r#type.as_deref(),
                Some(expected_type),
                "{}",
                case.name
            );
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
    assert_eq!(r.gateways[1].addresses, std::slice::from_ref(&addr_a));
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

/// A declared network (GEP-1651's usable addresses): static addresses outside it and
/// Hostnames are not usable; status.addresses are exactly the usable requested ones;
/// assigned addresses come from its ranges.
#[test]
fn a_declared_network_decides_which_static_addresses_are_usable() {
    let config = ControllerConfig {
        network: Network::Declared(vec!["198.51.100.0/24".parse().expect("a range")]),
        ..ControllerConfig::default()
    };
    let with = |name: &str, addresses: &str| {
        gw("infra", name, "[{name: http, port: 80, protocol: HTTP}]")
            + &format!("  addresses: {addresses}\n")
    };
    let both = with("both", "[{value: 203.0.113.10}, {value: 198.51.100.10}]");
    let usable = with("usable", "[{type: IPAddress, value: 198.51.100.11}]");
    let host = with("host", "[{type: Hostname, value: gw.example.com}]");
    let assigned = gw(
        "infra",
        "assigned",
        "[{name: http, port: 80, protocol: HTTP}]",
    );
    let s = snapshot(&join(&[CLASS, INFRA_NS, &both, &usable, &host, &assigned]));
    let r = reconcile(&s, &config, now());
    let check = |name: &str| {
        let status = gateway_status(&r, "infra", name);
        let conditions = status.conditions.as_deref().unwrap_or_default();
        let programmed = find(conditions, "Programmed");
        let addresses: Vec<(String, String)> = status
            .addresses
            .iter()
            .flatten()
            .map(|a| (a.r#type.clone().unwrap_or_default(), a.value.clone()))
            .collect();
        (
            cond(conditions, "Accepted"),
            cond(conditions, "Programmed"),
            programmed.message.clone(),
            addresses,
        )
    };
    let (accepted, programmed, message, addresses) = check("both");
    assert_eq!(accepted, is("True", "Accepted"));
    assert_eq!(programmed, is("False", "AddressNotUsable"));
    assert_eq!(
        message,
        "address 203.0.113.10 is outside the network's addresses (198.51.100.0/24)"
    );
    assert_eq!(addresses, [("IPAddress".into(), "198.51.100.10".into())]);
    let (_, programmed, _, addresses) = check("usable");
    assert_eq!(programmed, is("True", "Programmed"));
    assert_eq!(addresses, [("IPAddress".into(), "198.51.100.11".into())]);
    let (_, programmed, message, _) = check("host");
    assert_eq!(programmed, is("False", "AddressNotUsable"));
    assert!(
        message.contains("declares address ranges, not names"),
        "{message}"
    );
    let (_, programmed, _, addresses) = check("assigned");
    assert_eq!(programmed, is("True", "Programmed"));
    let ip: std::net::IpAddr = addresses[0].1.parse().expect("an IP");
    assert!(
        config.network.refuses_ip(ip).is_none(),
        "{ip} from the pool"
    );
    assert!(
        !["198.51.100.10", "198.51.100.11"].contains(&addresses[0].1.as_str()),
        "static claims come first"
    );
    // The open network (the default) serves 203.0.113.10 as written.
    let open = run(&s);
    let status = gateway_status(&open, "infra", "both");
    let conditions = status.conditions.as_deref().unwrap_or_default();
    assert_eq!(cond(conditions, "Programmed"), is("True", "Programmed"));
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
            expected: &[
                ("a", "False", "NoConflicts"),
                ("b", "False", "NoConflicts"),
                ("c", "False", "NoConflicts"),
            ],
        },
        Case {
            name: "same port, protocol and hostname",
            listeners: "[{name: a, port: 80, protocol: HTTP, hostname: a.com}, {name: b, port: 80, protocol: HTTP, hostname: a.com}, {name: c, port: 80, protocol: HTTP, hostname: c.com}]",
            expected: &[
                ("a", "True", "HostnameConflict"),
                ("b", "True", "HostnameConflict"),
                ("c", "False", "NoConflicts"),
            ],
        },
        Case {
            name: "two hostless listeners on one port",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: HTTP}]",
            expected: &[
                ("a", "True", "HostnameConflict"),
                ("b", "True", "HostnameConflict"),
            ],
        },
        Case {
            name: "HTTP and HTTPS on one port",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: HTTPS, hostname: b.com, tls: {mode: Terminate, certificateRefs: [{group: \"\", kind: Secret, name: cert}]}}]",
            expected: &[
                ("a", "True", "ProtocolConflict"),
                ("b", "True", "ProtocolConflict"),
            ],
        },
        Case {
            name: "HTTP and TCP on one port",
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: TCP}]",
            expected: &[
                ("a", "True", "ProtocolConflict"),
                ("b", "True", "ProtocolConflict"),
            ],
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
                assert_eq!(
                    find(&l.conditions, "Accepted").status,
                    "False",
                    "{}",
                    case.name
                );
                assert_eq!(
                    find(&l.conditions, "Programmed").status,
                    "False",
                    "{}",
                    case.name
                );
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
    // A self-signed test certificate for a.example.com and its key (engine/src/x509.rs tests).
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ2RENDQVdHZ0F3SUJBZ0lVT1ZMM0EyWnpKWUdGdEo3M2p5TVFlQjRPWUY0d0NnWUlLb1pJemowRUF3SXcKTkRFYU1CZ0dBMVVFQ2d3UlozZHphVzBnWTI5dVptOXliV0Z1WTJVeEZqQVVCZ05WQkFNTURXRXVaWGhoYlhCcwpaUzVqYjIwd0lCY05NalV3TVRBeE1EQXdNREF3V2hnUE1qRXlOVEF4TURFd01EQXdNREJhTURReEdqQVlCZ05WCkJBb01FV2QzYzJsdElHTnZibVp2Y20xaGJtTmxNUll3RkFZRFZRUUREQTFoTG1WNFlXMXdiR1V1WTI5dE1Ga3cKRXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUVqbm9hUkV1OFFHRE5Yb3duTzJxc2kwZkNoN3VxNVg2RAoxYnlTRG9PM1JjUExlUFA2bXNraEtacGlNaVZvbXdvQlVjc0NQejZONWRtQmpORTY2Z05KcWFOUE1FMHdEQVlEClZSMFRBUUgvQkFJd0FEQU9CZ05WSFE4QkFmOEVCQU1DQmFBd0V3WURWUjBsQkF3d0NnWUlLd1lCQlFVSEF3RXcKR0FZRFZSMFJCQkV3RDRJTllTNWxlR0Z0Y0d4bExtTnZiVEFLQmdncWhrak9QUVFEQWdOSkFEQkdBaUVBOVZPSQpGZFc3U1dxZ2toRnFBaGFING9lcE9JYWN6Yk5DK1Jib250NUtpTzhDSVFDT0o2RkhYZmNISnhiTUc3RUMvWitsCjZZWStmemhmRHJheHFDeUNjZFZ5dXc9PQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==\n  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ3RoUnR3RjNJeEk2Tk1oVnMKY2huaXZlS0hEK3crUCt5QnlVZkJ2MWY2MVZlaFJBTkNBQVNPZWhwRVM3eEFZTTFlakNjN2FxeUxSOEtIdTZybApmb1BWdkpJT2c3ZEZ3OHQ0OC9xYXlTRXBtbUl5SldpYkNnRlJ5d0kvUG8zbDJZR00wVHJxQTBtcAotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==\n"
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
    let opaque = "apiVersion: v1\nkind: Secret\nmetadata: {name: opaque, namespace: infra}\ntype: Opaque\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ2RENDQVdHZ0F3SUJBZ0lVT1ZMM0EyWnpKWUdGdEo3M2p5TVFlQjRPWUY0d0NnWUlLb1pJemowRUF3SXcKTkRFYU1CZ0dBMVVFQ2d3UlozZHphVzBnWTI5dVptOXliV0Z1WTJVeEZqQVVCZ05WQkFNTURXRXVaWGhoYlhCcwpaUzVqYjIwd0lCY05NalV3TVRBeE1EQXdNREF3V2hnUE1qRXlOVEF4TURFd01EQXdNREJhTURReEdqQVlCZ05WCkJBb01FV2QzYzJsdElHTnZibVp2Y20xaGJtTmxNUll3RkFZRFZRUUREQTFoTG1WNFlXMXdiR1V1WTI5dE1Ga3cKRXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUVqbm9hUkV1OFFHRE5Yb3duTzJxc2kwZkNoN3VxNVg2RAoxYnlTRG9PM1JjUExlUFA2bXNraEtacGlNaVZvbXdvQlVjc0NQejZONWRtQmpORTY2Z05KcWFOUE1FMHdEQVlEClZSMFRBUUgvQkFJd0FEQU9CZ05WSFE4QkFmOEVCQU1DQmFBd0V3WURWUjBsQkF3d0NnWUlLd1lCQlFVSEF3RXcKR0FZRFZSMFJCQkV3RDRJTllTNWxlR0Z0Y0d4bExtTnZiVEFLQmdncWhrak9QUVFEQWdOSkFEQkdBaUVBOVZPSQpGZFc3U1dxZ2toRnFBaGFING9lcE9JYWN6Yk5DK1Jib250NUtpTzhDSVFDT0o2RkhYZmNISnhiTUc3RUMvWitsCjZZWStmemhmRHJheHFDeUNjZFZ5dXc9PQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==\n  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ3RoUnR3RjNJeEk2Tk1oVnMKY2huaXZlS0hEK3crUCt5QnlVZkJ2MWY2MVZlaFJBTkNBQVNPZWhwRVM3eEFZTTFlakNjN2FxeUxSOEtIdTZybApmb1BWdkpJT2c3ZEZ3OHQ0OC9xYXlTRXBtbUl5SldpYkNnRlJ5d0kvUG8zbDJZR00wVHJxQTBtcAotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==\n";
    // "Hello world" as both certificate and key.
    let not_pem = "apiVersion: v1\nkind: Secret\nmetadata: {name: not-pem, namespace: infra}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: SGVsbG8gd29ybGQK\n  tls.key: SGVsbG8gd29ybGQK\n";
    // PEM blocks around bytes that are not DER: PEM-looking, not X.509.
    let not_x509 = "apiVersion: v1\nkind: Secret\nmetadata: {name: not-x509, namespace: infra}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmFHVnNiRzg9Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K\n  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ3RoUnR3RjNJeEk2Tk1oVnMKY2huaXZlS0hEK3crUCt5QnlVZkJ2MWY2MVZlaFJBTkNBQVNPZWhwRVM3eEFZTTFlakNjN2FxeUxSOEtIdTZybApmb1BWdkpJT2c3ZEZ3OHQ0OC9xYXlTRXBtbUl5SldpYkNnRlJ5d0kvUG8zbDJZR00wVHJxQTBtcAotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==\n";
    let no_key = "apiVersion: v1\nkind: Secret\nmetadata: {name: no-key, namespace: infra}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ2RENDQVdHZ0F3SUJBZ0lVT1ZMM0EyWnpKWUdGdEo3M2p5TVFlQjRPWUY0d0NnWUlLb1pJemowRUF3SXcKTkRFYU1CZ0dBMVVFQ2d3UlozZHphVzBnWTI5dVptOXliV0Z1WTJVeEZqQVVCZ05WQkFNTURXRXVaWGhoYlhCcwpaUzVqYjIwd0lCY05NalV3TVRBeE1EQXdNREF3V2hnUE1qRXlOVEF4TURFd01EQXdNREJhTURReEdqQVlCZ05WCkJBb01FV2QzYzJsdElHTnZibVp2Y20xaGJtTmxNUll3RkFZRFZRUUREQTFoTG1WNFlXMXdiR1V1WTI5dE1Ga3cKRXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUVqbm9hUkV1OFFHRE5Yb3duTzJxc2kwZkNoN3VxNVg2RAoxYnlTRG9PM1JjUExlUFA2bXNraEtacGlNaVZvbXdvQlVjc0NQejZONWRtQmpORTY2Z05KcWFOUE1FMHdEQVlEClZSMFRBUUgvQkFJd0FEQU9CZ05WSFE4QkFmOEVCQU1DQmFBd0V3WURWUjBsQkF3d0NnWUlLd1lCQlFVSEF3RXcKR0FZRFZSMFJCQkV3RDRJTllTNWxlR0Z0Y0d4bExtTnZiVEFLQmdncWhrak9QUVFEQWdOSkFEQkdBaUVBOVZPSQpGZFc3U1dxZ2toRnFBaGFING9lcE9JYWN6Yk5DK1Jib250NUtpTzhDSVFDT0o2RkhYZmNISnhiTUc3RUMvWitsCjZZWStmemhmRHJheHFDeUNjZFZ5dXc9PQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==\n";
    let gateway_grant = grant(
        "web",
        "{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}",
        "{group: \"\", kind: Secret}",
    );
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "valid",
            "{group: \"\", kind: Secret, name: cert}",
            "True",
            "ResolvedRefs",
        ),
        (
            "missing Secret",
            "{group: \"\", kind: Secret, name: nope}",
            "False",
            "InvalidCertificateRef",
        ),
        (
            "wrong group",
            "{group: wrong.group.example, kind: Secret, name: cert}",
            "False",
            "InvalidCertificateRef",
        ),
        (
            "wrong kind",
            "{group: \"\", kind: WrongKind, name: cert}",
            "False",
            "InvalidCertificateRef",
        ),
        (
            "not a TLS Secret",
            "{group: \"\", kind: Secret, name: opaque}",
            "False",
            "InvalidCertificateRef",
        ),
        (
            "not PEM",
            "{group: \"\", kind: Secret, name: not-pem}",
            "False",
            "InvalidCertificateRef",
        ),
        (
            "PEM that is not X.509",
            "{group: \"\", kind: Secret, name: not-x509}",
            "False",
            "InvalidCertificateRef",
        ),
        (
            "no tls.key",
            "{group: \"\", kind: Secret, name: no-key}",
            "False",
            "InvalidCertificateRef",
        ),
        (
            "cross namespace without grant",
            "{group: \"\", kind: Secret, name: cert, namespace: other}",
            "False",
            "RefNotPermitted",
        ),
        (
            "cross namespace with grant to all Secrets",
            "{group: \"\", kind: Secret, name: cert, namespace: web}",
            "True",
            "ResolvedRefs",
        ),
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
            not_x509,
            no_key,
            SERVICE_V1,
            ROUTE,
        ]));
        let r = run(&s);
        let gws = gateway_status(&r, "infra", "gw");
        let l = listener(gws, "https");
        assert_eq!(
            cond(&l.conditions, "ResolvedRefs"),
            is(status, reason),
            "{name}"
        );
        let lc = &r.gateways[0].listeners[0];
        assert_eq!(lc.usable, *status == "True", "{name}");
        if *status == "True" {
            assert_eq!(
                cond(&l.conditions, "Programmed"),
                is("True", "Programmed"),
                "{name}"
            );
        } else {
            assert_eq!(
                cond(&l.conditions, "Programmed"),
                is("False", "Invalid"),
                "{name}"
            );
            assert_eq!(lc.unusable_reason.as_deref(), Some(*reason), "{name}");
            // Still accepted, and routes still count (GatewayWithAttachedRoutes).
            assert_eq!(
                cond(&l.conditions, "Accepted"),
                is("True", "Accepted"),
                "{name}"
            );
        }
        assert_eq!(l.attached_routes, 1, "{name}");
        let kinds: Vec<_> = l
            .supported_kinds
            .iter()
            .flatten()
            .map(|k| k.kind.as_str())
            .collect();
        assert_eq!(kinds, ["HTTPRoute", "GRPCRoute"], "{name}");
    }
}

#[test]
fn https_listener_without_tls_is_an_invalid_certificate_ref() {
    let gateway = gw("infra", "gw", "[{name: https, port: 443, protocol: HTTPS}]");
    let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &gateway])));
    let l = listener(gateway_status(&r, "infra", "gw"), "https");
    assert_eq!(
        cond(&l.conditions, "ResolvedRefs"),
        is("False", "InvalidCertificateRef")
    );
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
        (
            "grant in the wrong namespace",
            "infra",
            right_from,
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong from.group",
            "web",
            "{group: wrong.example.com, kind: Gateway, namespace: infra}",
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong from.kind",
            "web",
            "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}",
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong from.namespace",
            "web",
            "{group: gateway.networking.k8s.io, kind: Gateway, namespace: elsewhere}",
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong to.group",
            "web",
            right_from,
            "{group: wrong.example.com, kind: Secret, name: certificate}",
            "RefNotPermitted",
        ),
        (
            "wrong to.kind",
            "web",
            right_from,
            "{group: \"\", kind: Service, name: certificate}",
            "RefNotPermitted",
        ),
        (
            "wrong to.name",
            "web",
            right_from,
            "{group: \"\", kind: Secret, name: other}",
            "RefNotPermitted",
        ),
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
        let expected = if *reason == "ResolvedRefs" {
            "True"
        } else {
            "False"
        };
        assert_eq!(
            cond(&l.conditions, "ResolvedRefs"),
            is(expected, reason),
            "{name}"
        );
    }
    // Without any grant.
    let s = snapshot(&join(&[
        CLASS,
        INFRA_NS,
        &https_gateway("{group: \"\", kind: Secret, name: certificate, namespace: web}"),
        &valid_secret("web", "certificate"),
    ]));
    let l = listener(gateway_status(&run(&s), "infra", "gw"), "https").clone();
    assert_eq!(
        cond(&l.conditions, "ResolvedRefs"),
        is("False", "RefNotPermitted")
    );
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
        let r = run(&snapshot(&join(&[
            CLASS, INFRA_NS, &gateway, SERVICE_V1, ROUTE,
        ])));
        let l = listener(gateway_status(&r, "infra", "gw"), "http");
        assert_eq!(
            cond(&l.conditions, "ResolvedRefs"),
            is(case.resolved.0, case.resolved.1),
            "{}",
            case.name
        );
        let kinds: Vec<_> = l
            .supported_kinds
            .iter()
            .flatten()
            .map(|k| k.kind.as_str())
            .collect();
        assert_eq!(kinds, case.supported, "{}", case.name);
        // InvalidRouteKinds does not stop the listener serving its valid kinds.
        assert!(r.gateways[0].listeners[0].usable, "{}", case.name);
        let pc = parent_conditions(&r, "infra", "route");
        assert_eq!(find(&pc, "Accepted").reason, case.route, "{}", case.name);
    }
}

// ---------------------------------------------------------------------------------------
// Route attachment

/// Listeners of HTTPRouteListenerPortMatching, plus one HTTPS listener on 443 (hostless).
fn port_matching_gateway() -> String {
    gw(
        "infra",
        "gw",
        "[{name: listener-1, port: 80, protocol: HTTP, hostname: foo.com}, {name: listener-2, port: 8080, protocol: HTTP, hostname: foo.com}, {name: listener-3, port: 8080, protocol: HTTP, hostname: bar.com}, {name: listener-4, port: 8090, protocol: HTTP, hostname: foo.com}, {name: listener-5, port: 8090, protocol: HTTP, hostname: bar.com}]",
    )
}

#[test]
fn section_name_and_port_select_listeners() {
    struct Case {
        section: Option<&'static str>,
        port: Option<u16>,
        reason: &'static str,
        listeners: &'static [&'static str],
    }
    let cases = [
        Case {
            section: None,
            port: None,
            reason: "Accepted",
            listeners: &[
                "listener-1",
                "listener-2",
                "listener-3",
                "listener-4",
                "listener-5",
            ],
        },
        Case {
            section: None,
            port: Some(80),
            reason: "Accepted",
            listeners: &["listener-1"],
        },
        Case {
            section: None,
            port: Some(8080),
            reason: "Accepted",
            listeners: &["listener-2", "listener-3"],
        },
        Case {
            section: Some("listener-4"),
            port: Some(8090),
            reason: "Accepted",
            listeners: &["listener-4"],
        },
        Case {
            section: Some("listener-4"),
            port: None,
            reason: "Accepted",
            listeners: &["listener-4"],
        },
        Case {
            section: None,
            port: Some(81),
            reason: "NoMatchingParent",
            listeners: &[],
        },
        Case {
            section: Some("listener-9"),
            port: None,
            reason: "NoMatchingParent",
            listeners: &[],
        },
        // Both given: both must match.
        Case {
            section: Some("listener-1"),
            port: Some(8080),
            reason: "NoMatchingParent",
            listeners: &[],
        },
    ];
    for case in cases {
        let rt = route(
            "infra",
            "route",
            &format!("[{}]", parent(case.section, case.port)),
            "[]",
            &rule_to(TO_V1),
        );
        let r = run(&snapshot(&join(&[
            CLASS,
            INFRA_NS,
            &port_matching_gateway(),
            SERVICE_V1,
            &rt,
        ])));
        let label = format!("{:?}/{:?}", case.section, case.port);
        let pc = parent_conditions(&r, "infra", "route");
        let expected = if case.reason == "Accepted" {
            "True"
        } else {
            "False"
        };
        assert_eq!(cond(&pc, "Accepted"), is(expected, case.reason), "{label}");
        assert_eq!(
            cond(&pc, "ResolvedRefs"),
            is("True", "ResolvedRefs"),
            "{label}"
        );
        let status = gateway_status(&r, "infra", "gw");
        for l in &r.gateways[0].listeners {
            let attached = case.listeners.contains(&l.name.as_str());
            assert_eq!(l.routes.len(), usize::from(attached), "{label} {}", l.name);
            assert_eq!(
                listener(status, &l.name).attached_routes,
                i32::from(attached),
                "{label}"
            );
        }
        // The status parentRef carries sectionName and port as written.
        let p = &http_status(&r, "infra", "route").parents[0].parent_ref;
        assert_eq!(p.section_name.as_deref(), case.section, "{label}");
        assert_eq!(p.port, case.port.map(i32::from), "{label}");
    }
}

#[test]
fn allowed_namespaces() {
    struct Case {
        name: &'static str,
        namespaces: &'static str,
        allowed: bool,
    }
    let cases = [
        Case {
            name: "Same, other namespace",
            namespaces: "{from: Same}",
            allowed: false,
        },
        Case {
            name: "All",
            namespaces: "{from: All}",
            allowed: true,
        },
        Case {
            name: "Selector matchLabels",
            namespaces: "{from: Selector, selector: {matchLabels: {team: web}}}",
            allowed: true,
        },
        Case {
            name: "Selector matchLabels mismatch",
            namespaces: "{from: Selector, selector: {matchLabels: {team: infra}}}",
            allowed: false,
        },
        Case {
            name: "Selector on the name label",
            namespaces: "{from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: web}}}",
            allowed: true,
        },
        Case {
            name: "Selector In",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: tier, operator: In, values: [back, front]}]}}",
            allowed: true,
        },
        Case {
            name: "Selector In mismatch",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: tier, operator: In, values: [back]}]}}",
            allowed: false,
        },
        Case {
            name: "Selector NotIn",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: tier, operator: NotIn, values: [back]}]}}",
            allowed: true,
        },
        Case {
            name: "Selector NotIn mismatch",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: tier, operator: NotIn, values: [front]}]}}",
            allowed: false,
        },
        Case {
            name: "Selector NotIn on a missing label",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: absent, operator: NotIn, values: [x]}]}}",
            allowed: true,
        },
        Case {
            name: "Selector Exists",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: tier, operator: Exists}]}}",
            allowed: true,
        },
        Case {
            name: "Selector Exists mismatch",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: absent, operator: Exists}]}}",
            allowed: false,
        },
        Case {
            name: "Selector DoesNotExist",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: absent, operator: DoesNotExist}]}}",
            allowed: true,
        },
        Case {
            name: "Selector DoesNotExist mismatch",
            namespaces: "{from: Selector, selector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}}",
            allowed: false,
        },
        Case {
            name: "Selector labels and expressions both hold",
            namespaces: "{from: Selector, selector: {matchLabels: {team: web}, matchExpressions: [{key: tier, operator: Exists}]}}",
            allowed: true,
        },
        Case {
            name: "Selector labels hold, expression does not",
            namespaces: "{from: Selector, selector: {matchLabels: {team: web}, matchExpressions: [{key: tier, operator: In, values: [x]}]}}",
            allowed: false,
        },
        Case {
            name: "Selector empty selects all",
            namespaces: "{from: Selector, selector: {}}",
            allowed: true,
        },
        Case {
            name: "Selector missing selects none",
            namespaces: "{from: Selector}",
            allowed: false,
        },
    ];
    for case in cases {
        let gateway = gw(
            "infra",
            "gw",
            &format!(
                "[{{name: http, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {}}}}}]",
                case.namespaces
            ),
        );
        let rt = route(
            "web",
            "route",
            &format!("[{}]", parent(None, None)),
            "[]",
            &rule_to("{group: \"\", kind: Service, name: web, port: 8080, weight: 1}"),
        );
        let r = run(&snapshot(&join(&[
            CLASS,
            INFRA_NS,
            WEB_NS,
            &gateway,
            SERVICE_WEB,
            &rt,
        ])));
        let pc = parent_conditions(&r, "web", "route");
        let expected = if case.allowed {
            is("True", "Accepted")
        } else {
            is("False", "NotAllowedByListeners")
        };
        assert_eq!(cond(&pc, "Accepted"), expected, "{}", case.name);
        // Attachment across namespaces needs no ReferenceGrant; backends are the route's own.
        assert_eq!(
            cond(&pc, "ResolvedRefs"),
            is("True", "ResolvedRefs"),
            "{}",
            case.name
        );
        let attached = listener(gateway_status(&r, "infra", "gw"), "http").attached_routes;
        assert_eq!(attached, i32::from(case.allowed), "{}", case.name);
    }
}

#[test]
fn effective_hostnames_table() {
    use super::routes::effective_hostnames;
    /// (listener hostname, route hostnames, expected effective hostnames)
    type Case<'c> = (Option<&'c str>, &'c [&'c str], Option<&'c [&'c str]>);
    let cases: &[Case<'_>] = &[
        // Neither side names a hostname.
        (None, &[], Some(&[])),
        // Only the listener.
        (Some("foo.com"), &[], Some(&["foo.com"])),
        (Some("*.foo.com"), &[], Some(&["*.foo.com"])),
        // Only the route.
        (None, &["a.com", "*.b.com"], Some(&["a.com", "*.b.com"])),
        // Exact vs exact.
        (
            Some("very.specific.com"),
            &["very.specific.com"],
            Some(&["very.specific.com"]),
        ),
        (Some("very.specific.com"), &["other.com"], None),
        // Route wildcard on exact listener: the listener's name.
        (
            Some("very.specific.com"),
            &["*.specific.com"],
            Some(&["very.specific.com"]),
        ),
        (
            Some("abc.example.com"),
            &["*.example.com"],
            Some(&["abc.example.com"]),
        ),
        // Exact route on wildcard listener: the route's name, any depth, not the bare suffix.
        (
            Some("*.wildcard.io"),
            &["foo.wildcard.io", "bar.foo.wildcard.io", "wildcard.io"],
            Some(&["foo.wildcard.io", "bar.foo.wildcard.io"]),
        ),
        (Some("*.wildcard.io"), &["wildcard.io"], None),
        (Some("*.wildcard.io"), &["xwildcard.io"], None),
        // Wildcard vs wildcard: the more specific.
        (Some("*.example.com"), &["*.com"], Some(&["*.example.com"])),
        (Some("*.com"), &["*.example.com"], Some(&["*.example.com"])),
        (
            Some("*.anotherwildcard.io"),
            &["*.anotherwildcard.io"],
            Some(&["*.anotherwildcard.io"]),
        ),
        (Some("*.a.io"), &["*.b.io"], None),
        // Mixed lists keep only intersecting names, once.
        (
            Some("very.specific.com"),
            &["non.matching.com", "*.specific.com", "very.specific.com"],
            Some(&["very.specific.com"]),
        ),
        (
            Some("*.anotherwildcard.io"),
            &[
                "*.anotherwildcard.io",
                "anotherwildcard.io",
                "a.anotherwildcard.io",
            ],
            Some(&["*.anotherwildcard.io", "a.anotherwildcard.io"]),
        ),
    ];
    for (listener, route, expected) in cases {
        let route: Vec<String> = route.iter().map(|s| s.to_string()).collect();
        let got = effective_hostnames(*listener, &route);
        let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, expected, "{listener:?} x {route:?}");
    }
}

/// HTTPRouteHostnameIntersection's first Gateway: attachedRoutes 2/1/1 and one route with no
/// intersection.
#[test]
fn hostname_intersection_attachment() {
    let gateway = gw(
        "infra",
        "gw",
        "[{name: listener-1, port: 80, protocol: HTTP, hostname: very.specific.com}, {name: listener-2, port: 80, protocol: HTTP, hostname: \"*.wildcard.io\"}, {name: listener-3, port: 80, protocol: HTTP, hostname: \"*.anotherwildcard.io\"}]",
    );
    let p = format!("[{}]", parent(None, None));
    let r1 = route(
        "infra",
        "specific-host-matches-listener-specific-host",
        &p,
        "[non.matching.com, \"*.nonmatchingwildcard.io\", very.specific.com]",
        &rule_to(TO_V1),
    );
    let r2 = route(
        "infra",
        "specific-host-matches-listener-wildcard-host",
        &p,
        "[non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io]",
        &rule_to(TO_V1),
    );
    let r3 = route(
        "infra",
        "wildcard-host-matches-listener-specific-host",
        &p,
        "[non.matching.com, \"*.specific.com\"]",
        &rule_to(TO_V1),
    );
    let r4 = route(
        "infra",
        "wildcard-host-matches-listener-wildcard-host",
        &p,
        "[\"*.anotherwildcard.io\"]",
        &rule_to(TO_V1),
    );
    let r5 = route(
        "infra",
        "no-intersecting-hosts",
        &p,
        "[specific.but.wrong.com, wildcard.io]",
        &rule_to(TO_V1),
    );
    let r = run(&snapshot(&join(&[
        CLASS, INFRA_NS, &gateway, SERVICE_V1, &r1, &r2, &r3, &r4, &r5,
    ])));
    let status = gateway_status(&r, "infra", "gw");
    assert_eq!(listener(status, "listener-1").attached_routes, 2);
    assert_eq!(listener(status, "listener-2").attached_routes, 1);
    assert_eq!(listener(status, "listener-3").attached_routes, 1);
    let pc = parent_conditions(&r, "infra", "no-intersecting-hosts");
    assert_eq!(
        cond(&pc, "Accepted"),
        is("False", "NoMatchingListenerHostname")
    );
    let l2 = &r.gateways[0].listeners[1];
    assert_eq!(
        l2.routes[0].hostnames,
        ["foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io"]
    );
    let l1 = &r.gateways[0].listeners[0];
    let names: Vec<_> = l1
        .routes
        .iter()
        .map(|a| (a.route.key.name.as_str(), a.hostnames.clone()))
        .collect();
    assert_eq!(
        names,
        [
            (
                "specific-host-matches-listener-specific-host",
                vec!["very.specific.com".to_string()]
            ),
            (
                "wildcard-host-matches-listener-specific-host",
                vec!["very.specific.com".to_string()]
            ),
        ]
    );
}

#[test]
fn route_accepted_on_several_listeners_counts_on_each_and_shares_its_config() {
    let gateway = gw(
        "infra",
        "gw",
        "[{name: a, port: 80, protocol: HTTP, hostname: a.com}, {name: b, port: 80, protocol: HTTP, hostname: b.com}, {name: c, port: 8080, protocol: HTTP}]",
    );
    // Two parentRefs that both select listener a: it is attached once there.
    let parents = format!("[{}, {}]", parent(None, None), parent(Some("a"), None));
    let rt = route("infra", "route", &parents, "[]", &rule_to(TO_V1));
    let r = run(&snapshot(&join(&[
        CLASS, INFRA_NS, &gateway, SERVICE_V1, &rt,
    ])));
    let status = gateway_status(&r, "infra", "gw");
    for name in ["a", "b", "c"] {
        assert_eq!(listener(status, name).attached_routes, 1, "{name}");
    }
    let ls = &r.gateways[0].listeners;
    assert!(std::sync::Arc::ptr_eq(
        &ls[0].routes[0].route,
        &ls[2].routes[0].route
    ));
    assert_eq!(http_status(&r, "infra", "route").parents.len(), 2);
}

#[test]
fn route_to_two_gateways_gets_a_parent_entry_for_each() {
    let g1 = gw("infra", "gw", "[{name: http, port: 80, protocol: HTTP}]");
    let g2 = gw(
        "infra",
        "gw2",
        "[{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]",
    );
    let parents = "[{name: gw}, {name: gw2, sectionName: http}]";
    let rt = route("infra", "route", parents, "[]", &rule_to(TO_V1));
    let r = run(&snapshot(&join(&[
        CLASS, INFRA_NS, &g1, &g2, SERVICE_V1, &rt,
    ])));
    let status = http_status(&r, "infra", "route");
    let names: Vec<_> = status
        .parents
        .iter()
        .map(|p| p.parent_ref.name.as_str())
        .collect();
    assert_eq!(names, ["gw", "gw2"]);
    for p in &status.parents {
        // Defaults are written out in status even when omitted in spec.
        assert_eq!(p.parent_ref.group.as_deref(), Some(GATEWAY_GROUP));
        assert_eq!(p.parent_ref.kind.as_deref(), Some("Gateway"));
        assert_eq!(p.parent_ref.namespace.as_deref(), Some("infra"));
        assert_eq!(cond(&p.conditions, "Accepted"), is("True", "Accepted"));
    }
    assert_eq!(
        status.parents[1].parent_ref.section_name.as_deref(),
        Some("http")
    );
    assert_eq!(r.gateways[0].listeners[0].routes.len(), 1);
    assert_eq!(r.gateways[1].listeners[0].routes.len(), 1);
}

#[test]
fn parent_refs_to_unknown_gateways_or_other_kinds_get_no_entry() {
    let parents = "[{name: missing}, {group: \"\", kind: Service, name: gw}, {name: gw}]";
    let rt = route("infra", "route", parents, "[]", &rule_to(TO_V1));
    let s = snapshot(&join(&[CLASS, INFRA_NS, GATEWAY, SERVICE_V1, &rt]));
    // Without the mesh, a Service parent is nobody's here.
    let without_mesh = ControllerConfig {
        mesh: None,
        ..ControllerConfig::default()
    };
    let r = reconcile(&s, &without_mesh, now());
    let status = http_status(&r, "infra", "route");
    assert_eq!(status.parents.len(), 1);
    assert_eq!(status.parents[0].parent_ref.name, "gw");
    assert_eq!(
        status.parents[0].parent_ref.kind.as_deref(),
        Some("Gateway")
    );
    // With it (the default), the mesh writes its own entry: Service infra/gw does not exist.
    let r = run(&s);
    let status = http_status(&r, "infra", "route");
    let entries: Vec<(&str, Option<&str>)> = status
        .parents
        .iter()
        .map(|p| (p.controller_name.as_str(), p.parent_ref.kind.as_deref()))
        .collect();
    assert_eq!(
        entries,
        [
            ("gateway.gwsim.dev/mesh", Some("Service")),
            ("gateway.gwsim.dev/controller", Some("Gateway"))
        ]
    );
    assert_eq!(
        cond(&status.parents[0].conditions, "Accepted"),
        is("False", "NoMatchingParent")
    );
}

#[test]
fn hostname_mismatch_on_some_listeners_only() {
    // GatewayWithAttachedRoutes (b): listener foo.example.com; hostless routes attach, a route
    // with another hostname does not.
    let gateway = gw(
        "infra",
        "gw",
        "[{name: http, port: 80, protocol: HTTP, hostname: foo.example.com}]",
    );
    let p = format!("[{}]", parent(None, None));
    let a = route("infra", "a", &p, "[]", &rule_to(TO_V1));
    let b = route("infra", "b", &p, "[]", &rule_to(TO_V1));
    let c = route("infra", "c", &p, "[bar.example.com]", &rule_to(TO_V1));
    let r = run(&snapshot(&join(&[
        CLASS, INFRA_NS, &gateway, SERVICE_V1, &a, &b, &c,
    ])));
    assert_eq!(
        listener(gateway_status(&r, "infra", "gw"), "http").attached_routes,
        2
    );
    assert_eq!(
        cond(&parent_conditions(&r, "infra", "c"), "Accepted"),
        is("False", "NoMatchingListenerHostname")
    );
    assert_eq!(
        cond(&parent_conditions(&r, "infra", "a"), "Accepted"),
        is("True", "Accepted")
    );
    // Listener hostname only: the route serves the listener's hostname.
    assert_eq!(
        r.gateways[0].listeners[0].routes[0].hostnames,
        ["foo.example.com"]
    );
}

// ---------------------------------------------------------------------------------------
// Backend references

fn backend_case(backend: &str, extra: &[&str]) -> Reconciliation {
    let rt = route(
        "infra",
        "route",
        &format!("[{}]", parent(None, None)),
        "[]",
        &rule_to(backend),
    );
    let mut docs = vec![
        CLASS,
        INFRA_NS,
        WEB_NS,
        GATEWAY,
        SERVICE_V1,
        SERVICE_WEB,
        rt.as_str(),
    ];
    docs.extend_from_slice(extra);
    run(&snapshot(&join(&docs)))
}

#[test]
fn backend_ref_reasons() {
    let route_grant = grant(
        "web",
        "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}",
        "{group: \"\", kind: Service, name: web}",
    );
    let external = "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: infra}\nspec: {type: ExternalName, externalName: example.com, ports: [{port: 80}]}\n";
    struct Case {
        name: &'static str,
        backend: &'static str,
        grant: bool,
        reason: &'static str,
    }
    let cases = [
        Case {
            name: "Service port",
            backend: TO_V1,
            grant: false,
            reason: "ResolvedRefs",
        },
        Case {
            name: "h2c port",
            backend: "{group: \"\", kind: Service, name: v1, port: 8081, weight: 1}",
            grant: false,
            reason: "ResolvedRefs",
        },
        Case {
            name: "unknown appProtocol",
            backend: "{group: \"\", kind: Service, name: v1, port: 8082, weight: 1}",
            grant: false,
            reason: "UnsupportedProtocol",
        },
        Case {
            name: "missing Service",
            backend: "{group: \"\", kind: Service, name: nonexistent, port: 8080, weight: 1}",
            grant: false,
            reason: "BackendNotFound",
        },
        Case {
            name: "port not on the Service",
            backend: "{group: \"\", kind: Service, name: v1, port: 9999, weight: 1}",
            grant: false,
            reason: "BackendNotFound",
        },
        Case {
            name: "no port",
            backend: "{group: \"\", kind: Service, name: v1, weight: 1}",
            grant: false,
            reason: "BackendNotFound",
        },
        Case {
            name: "ExternalName Service",
            backend: "{group: \"\", kind: Service, name: ext, port: 80, weight: 1}",
            grant: false,
            reason: "BackendNotFound",
        },
        Case {
            name: "unknown kind",
            backend: "{group: unknownkind.example.com, kind: NonExistent, name: v1, port: 8080, weight: 1}",
            grant: false,
            reason: "InvalidKind",
        },
        Case {
            name: "cross namespace without grant",
            backend: "{group: \"\", kind: Service, name: web, namespace: web, port: 8080, weight: 1}",
            grant: false,
            reason: "RefNotPermitted",
        },
        Case {
            name: "cross namespace with grant",
            backend: "{group: \"\", kind: Service, name: web, namespace: web, port: 8080, weight: 1}",
            grant: true,
            reason: "ResolvedRefs",
        },
    ];
    for case in cases {
        let extra: Vec<&str> = if case.grant {
            vec![route_grant.as_str(), external]
        } else {
            vec![external]
        };
        let r = backend_case(case.backend, &extra);
        let pc = parent_conditions(&r, "infra", "route");
        let expected = if case.reason == "ResolvedRefs" {
            "True"
        } else {
            "False"
        };
        assert_eq!(
            cond(&pc, "ResolvedRefs"),
            is(expected, case.reason),
            "{}",
            case.name
        );
        // Bad backends never stop attachment.
        assert_eq!(
            cond(&pc, "Accepted"),
            is("True", "Accepted"),
            "{}",
            case.name
        );
        let target = &r.gateways[0].listeners[0].routes[0].route.rules[0].backends[0].target;
        match target {
            BackendTarget::Service { app_protocol, .. } => {
                assert_eq!(case.reason, "ResolvedRefs", "{}", case.name);
                if case.name == "h2c port" {
                    assert_eq!(app_protocol.as_deref(), Some("kubernetes.io/h2c"));
                }
            }
            BackendTarget::Invalid { reason, .. } => {
                assert_eq!(reason, case.reason, "{}", case.name)
            }
        }
    }
}

/// HTTPRouteInvalidReferenceGrant: seven grants, each wrong in one field.
#[test]
fn route_reference_grant_field_by_field() {
    let right_from = "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}";
    let right_to = "{group: \"\", kind: Service, name: web}";
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("right grant", "web", right_from, right_to, "ResolvedRefs"),
        (
            "grant without to.name",
            "web",
            right_from,
            "{group: \"\", kind: Service}",
            "ResolvedRefs",
        ),
        (
            "grant in the wrong namespace",
            "infra",
            right_from,
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong from.group",
            "web",
            "{group: wrong.example.com, kind: HTTPRoute, namespace: infra}",
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong from.kind",
            "web",
            "{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}",
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong from.namespace",
            "web",
            "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: elsewhere}",
            right_to,
            "RefNotPermitted",
        ),
        (
            "wrong to.group",
            "web",
            right_from,
            "{group: wrong.example.com, kind: Service, name: web}",
            "RefNotPermitted",
        ),
        (
            "wrong to.kind",
            "web",
            right_from,
            "{group: \"\", kind: Secret, name: web}",
            "RefNotPermitted",
        ),
        (
            "wrong to.name",
            "web",
            right_from,
            "{group: \"\", kind: Service, name: not-web}",
            "RefNotPermitted",
        ),
    ];
    let backend = "{group: \"\", kind: Service, name: web, namespace: web, port: 8080, weight: 1}";
    for (name, ns, from, to, reason) in cases {
        let g = grant(ns, from, to);
        let r = backend_case(backend, &[&g]);
        let pc = parent_conditions(&r, "infra", "route");
        let expected = if *reason == "ResolvedRefs" {
            "True"
        } else {
            "False"
        };
        assert_eq!(cond(&pc, "ResolvedRefs"), is(expected, reason), "{name}");
    }
    // Deleting the grant revokes access: the same snapshot without it.
    let r = backend_case(backend, &[]);
    assert_eq!(
        cond(&parent_conditions(&r, "infra", "route"), "ResolvedRefs"),
        is("False", "RefNotPermitted")
    );
}

/// HTTPRoutePartiallyInvalidViaInvalidReferenceGrant: one rule's backend not granted.
#[test]
fn partially_unresolved_route_stays_accepted() {
    let granted = "apiVersion: v1\nkind: Service\nmetadata: {name: granted, namespace: web}\nspec: {ports: [{port: 8080}]}\n";
    let g = grant(
        "web",
        "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}",
        "{group: \"\", kind: Service, name: granted}",
    );
    let rules = "[{matches: [{path: {type: PathPrefix, value: /v2}}], backendRefs: [{group: \"\", kind: Service, name: web, namespace: web, port: 8080, weight: 1}]}, {matches: [{path: {type: PathPrefix, value: /}}], backendRefs: [{group: \"\", kind: Service, name: granted, namespace: web, port: 8080, weight: 1}]}]";
    let rt = route(
        "infra",
        "route",
        &format!("[{}]", parent(None, None)),
        "[]",
        rules,
    );
    let r = run(&snapshot(&join(&[
        CLASS,
        INFRA_NS,
        WEB_NS,
        GATEWAY,
        SERVICE_WEB,
        granted,
        &g,
        &rt,
    ])));
    let pc = parent_conditions(&r, "infra", "route");
    assert_eq!(cond(&pc, "Accepted"), is("True", "Accepted"));
    assert_eq!(cond(&pc, "ResolvedRefs"), is("False", "RefNotPermitted"));
    let rules = &r.gateways[0].listeners[0].routes[0].route.rules;
    assert!(
        matches!(&rules[0].backends[0].target, BackendTarget::Invalid { reason, .. } if reason == "RefNotPermitted")
    );
    assert!(
        matches!(&rules[1].backends[0].target, BackendTarget::Service { name, .. } if name == "granted")
    );
}

#[test]
fn unimplementable_rules() {
    let ext = "{type: ExtensionRef, extensionRef: {group: example.com, kind: Magic, name: m}}";
    let good = format!(
        "{{matches: [{{path: {{type: PathPrefix, value: /good}}}}], backendRefs: [{TO_V1}]}}"
    );
    let bad = format!(
        "{{matches: [{{path: {{type: PathPrefix, value: /bad}}}}], filters: [{ext}], backendRefs: [{TO_V1}]}}"
    );
    let bad_backend_filter = format!(
        "{{matches: [{{path: {{type: PathPrefix, value: /bb}}}}], backendRefs: [{{group: \"\", kind: Service, name: v1, port: 8080, weight: 1, filters: [{ext}]}}]}}"
    );
    let bad_regex =
        "{matches: [{path: {type: RegularExpression, value: \"/(\"}}], backendRefs: []}"
            .to_string();
    let anchored_only =
        "{matches: [{path: {type: RegularExpression, value: \"/x)|(?:.*\"}}], backendRefs: []}";
    let header_anchored_only = "{matches: [{headers: [{type: RegularExpression, name: x, value: \"a)|(?:.*\"}]}], backendRefs: []}";
    let query_anchored_only = "{matches: [{queryParams: [{type: RegularExpression, name: q, value: \"a)|(?:.*\"}]}], backendRefs: []}";
    let huge_regex = "{matches: [{path: {type: RegularExpression, value: \"/\\\\w{1000}\\\\w{1000}\"}}], backendRefs: []}";
    struct Case {
        name: &'static str,
        rules: String,
        accepted: (&'static str, &'static str),
        partially_invalid: bool,
        attached: bool,
    }
    let cases = [
        Case {
            name: "all good",
            rules: format!("[{good}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: false,
            attached: true,
        },
        Case {
            name: "one rule with an ExtensionRef",
            rules: format!("[{good}, {bad}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: true,
            attached: true,
        },
        Case {
            name: "ExtensionRef on a backendRef",
            rules: format!("[{good}, {bad_backend_filter}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: true,
            attached: true,
        },
        Case {
            name: "regex that does not compile",
            rules: format!("[{good}, {bad_regex}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: true,
            attached: true,
        },
        // Issue 10, finding 9: invalid as written, valid (and matching everything) only once
        // wrapped in `^(?:...)$`. Header and query regexes are checked the same way.
        Case {
            name: "regex that is valid only when anchored",
            rules: format!("[{good}, {anchored_only}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: true,
            attached: true,
        },
        Case {
            name: "header regex that is valid only when anchored",
            rules: format!("[{good}, {header_anchored_only}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: true,
            attached: true,
        },
        Case {
            name: "query regex that is valid only when anchored",
            rules: format!("[{good}, {query_anchored_only}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: true,
            attached: true,
        },
        Case {
            name: "regex past gwsim's size limit",
            rules: format!("[{good}, {huge_regex}]"),
            accepted: ("True", "Accepted"),
            partially_invalid: true,
            attached: true,
        },
        Case {
            name: "every rule unimplementable",
            rules: format!("[{bad}]"),
            accepted: ("False", "UnsupportedValue"),
            partially_invalid: false,
            attached: false,
        },
    ];
    for case in cases {
        let rt = route(
            "infra",
            "route",
            &format!("[{}]", parent(None, None)),
            "[]",
            &case.rules,
        );
        let r = run(&snapshot(&join(&[
            CLASS, INFRA_NS, GATEWAY, SERVICE_V1, &rt,
        ])));
        let pc = parent_conditions(&r, "infra", "route");
        assert_eq!(
            cond(&pc, "Accepted"),
            is(case.accepted.0, case.accepted.1),
            "{}",
            case.name
        );
        let pi = pc.iter().find(|c| c.type_ == "PartiallyInvalid");
        assert_eq!(pi.is_some(), case.partially_invalid, "{}", case.name);
        if let Some(pi) = pi {
            assert_eq!(
                (pi.status.as_str(), pi.reason.as_str()),
                ("True", "UnsupportedValue")
            );
            assert!(pi.message.starts_with("Dropped Rule 1"), "{}", pi.message);
            if case.name.contains("anchored") {
                assert!(
                    pi.message.contains("unopened group"),
                    "{}: {}",
                    case.name,
                    pi.message
                );
            }
            if case.name.contains("size limit") {
                assert!(
                    pi.message.contains("gwsim's limit"),
                    "{}: {}",
                    case.name,
                    pi.message
                );
            }
        }
        let routes = &r.gateways[0].listeners[0].routes;
        assert_eq!(routes.len(), usize::from(case.attached), "{}", case.name);
        if case.partially_invalid {
            let rule = &routes[0].route.rules[1];
            assert!(rule.invalid.is_some(), "{}", case.name);
            assert!(routes[0].route.rules[0].invalid.is_none(), "{}", case.name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Status bookkeeping

const OLD: &str = "2020-01-01T00:00:00Z";

#[test]
fn route_status_keeps_foreign_parents_drops_stale_ones_and_keeps_times() {
    let rt = format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: route, namespace: infra, generation: 5}}
spec:
  parentRefs:
  - {{name: other-gw}}
  - {{name: gw}}
  rules: {rules}
status:
  parents:
  - controllerName: gateway.gwsim.dev/controller
    parentRef: {{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra, name: gone}}
    conditions:
    - {{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "{OLD}", observedGeneration: 4}}
  - controllerName: example.com/unrelated
    parentRef: {{name: elsewhere}}
    conditions:
    - {{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "{OLD}", observedGeneration: 1}}
  - controllerName: gateway.gwsim.dev/controller
    parentRef: {{name: gw}}
    conditions:
    - {{type: Accepted, status: "True", reason: Accepted, message: "old", lastTransitionTime: "{OLD}", observedGeneration: 4}}
    - {{type: ResolvedRefs, status: "False", reason: BackendNotFound, message: "old", lastTransitionTime: "{OLD}", observedGeneration: 4}}
  - controllerName: example.com/other
    parentRef: {{name: other-gw}}
    conditions:
    - {{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "{OLD}", observedGeneration: 1}}
"#,
        rules = rule_to(TO_V1)
    );
    let r = run(&snapshot(&join(&[
        CLASS, INFRA_NS, GATEWAY, SERVICE_V1, &rt,
    ])));
    let status = http_status(&r, "infra", "route");
    let entries: Vec<_> = status
        .parents
        .iter()
        .map(|p| (p.controller_name.as_str(), p.parent_ref.name.as_str()))
        .collect();
    // parentRefs order first (other-gw, gw), then foreign entries naming no parentRef.
    assert_eq!(
        entries,
        [
            ("example.com/other", "other-gw"),
            (CONTROLLER_NAME, "gw"),
            ("example.com/unrelated", "elsewhere"),
        ]
    );
    // Foreign entries are untouched.
    assert_eq!(status.parents[0].conditions[0].observed_generation, Some(1));
    assert_eq!(status.parents[0].parent_ref.group, None);
    let ours = &status.parents[1].conditions;
    let accepted = find(ours, "Accepted");
    let resolved = find(ours, "ResolvedRefs");
    assert_eq!(
        accepted.last_transition_time.0.to_string(),
        OLD,
        "status unchanged: time kept"
    );
    assert_eq!(
        resolved.last_transition_time.0,
        now(),
        "status changed: time is now"
    );
    assert!(ours.iter().all(|c| c.observed_generation == Some(5)));
    let types: Vec<_> = ours.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Accepted", "ResolvedRefs"]);
}

#[test]
fn our_entries_are_removed_when_the_route_no_longer_names_our_gateways() {
    let rt = format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: route, namespace: infra, generation: 2}}
spec:
  parentRefs: [{{name: not-ours}}]
status:
  parents:
  - controllerName: gateway.gwsim.dev/controller
    parentRef: {{name: gw}}
    conditions:
    - {{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "{OLD}", observedGeneration: 1}}
  - controllerName: example.com/other
    parentRef: {{name: not-ours}}
    conditions:
    - {{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "{OLD}", observedGeneration: 1}}
"#
    );
    let r = run(&snapshot(&join(&[CLASS, INFRA_NS, GATEWAY, &rt])));
    let status = http_status(&r, "infra", "route");
    assert_eq!(status.parents.len(), 1);
    assert_eq!(status.parents[0].controller_name, "example.com/other");
    assert_eq!(
        listener(gateway_status(&r, "infra", "gw"), "http").attached_routes,
        0
    );
}

#[test]
fn gateway_conditions_keep_times_and_carry_generation() {
    let gateway = format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra, generation: 7}}
spec:
  gatewayClassName: gwsim
  listeners:
  - {{name: http, port: 80, protocol: HTTP}}
status:
  conditions:
  - {{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "{OLD}", observedGeneration: 6}}
  - {{type: Programmed, status: Unknown, reason: Pending, message: "Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z", observedGeneration: 6}}
  listeners:
  - name: http
    attachedRoutes: 0
    conditions:
    - {{type: Accepted, status: "True", reason: Accepted, message: "", lastTransitionTime: "{OLD}", observedGeneration: 6}}
    - {{type: Programmed, status: "False", reason: Invalid, message: "", lastTransitionTime: "{OLD}", observedGeneration: 6}}
"#
    );
    let r = run(&snapshot(&join(&[CLASS, INFRA_NS, &gateway])));
    let status = gateway_status(&r, "infra", "gw");
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Accepted", "Programmed"]);
    assert_eq!(
        find(conditions, "Accepted")
            .last_transition_time
            .0
            .to_string(),
        OLD
    );
    assert_eq!(find(conditions, "Programmed").last_transition_time.0, now());
    assert!(conditions.iter().all(|c| c.observed_generation == Some(7)));
    let l = listener(status, "http");
    let types: Vec<_> = l.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        types,
        ["Accepted", "Programmed", "ResolvedRefs", "Conflicted"]
    );
    assert_eq!(
        find(&l.conditions, "Accepted")
            .last_transition_time
            .0
            .to_string(),
        OLD
    );
    assert_eq!(
        find(&l.conditions, "Programmed").last_transition_time.0,
        now()
    );
    assert!(
        l.conditions
            .iter()
            .all(|c| c.observed_generation == Some(7))
    );
}

#[test]
fn reconcile_is_deterministic_whatever_the_insertion_order() {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;

    let mut docs: Vec<String> = vec![
        CLASS.into(),
        INFRA_NS.into(),
        WEB_NS.into(),
        SERVICE_V1.into(),
        SERVICE_WEB.into(),
        gw(
            "infra",
            "gw",
            "[{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}, {name: foo, port: 80, protocol: HTTP, hostname: \"*.foo.com\", allowedRoutes: {namespaces: {from: All}}}]",
        ),
        gw(
            "infra",
            "gw2",
            "[{name: http, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]",
        ),
        gw("web", "gw3", "[{name: http, port: 80, protocol: HTTP}]"),
        grant(
            "web",
            "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}",
            "{group: \"\", kind: Service}",
        ),
    ];
    for i in 0..40 {
        let ns = if i % 3 == 0 { "web" } else { "infra" };
        let parents = match i % 4 {
            0 => "[{name: gw, namespace: infra}]",
            1 => "[{name: gw2, namespace: infra}, {name: gw, namespace: infra, sectionName: foo}]",
            2 => "[{name: gw3, namespace: web}]",
            _ => "[{name: gw, namespace: infra, port: 80}]",
        };
        let backend = if i % 2 == 0 {
            TO_V1.to_string()
        } else {
            "{group: \"\", kind: Service, name: web, namespace: web, port: 8080, weight: 1}".into()
        };
        docs.push(route(
            ns,
            &format!("r{i}"),
            parents,
            &format!("[h{i}.foo.com]"),
            &rule_to(&backend),
        ));
    }
    let build = |order: &[String]| {
        let mut s = Snapshot::new();
        for d in order {
            s.insert(object(d));
        }
        s
    };
    let expected = run(&build(&docs));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for _ in 0..5 {
        docs.shuffle(&mut rng);
        let got = run(&build(&docs));
        assert_eq!(got, expected);
        assert_eq!(
            serde_json::to_string(&got.gateways).expect("config serializes"),
            serde_json::to_string(&expected.gateways).expect("config serializes")
        );
    }
    assert_eq!(expected.gateways.len(), 3);
}

// ---------------------------------------------------------------------------------------
// Conversion

/// The converted config of `infra/route` with the given rules (attached to `infra/gw`).
fn converted(rules: &str) -> crate::config::RouteConfig {
    let rt = route(
        "infra",
        "route",
        &format!("[{}]", parent(None, None)),
        "[]",
        rules,
    );
    let v2 = SERVICE_V1.replace("name: v1", "name: v2");
    let r = run(&snapshot(&join(&[
        CLASS, INFRA_NS, GATEWAY, SERVICE_V1, &v2, &rt,
    ])));
    let routes = &r.gateways[0].listeners[0].routes;
    assert_eq!(routes.len(), 1, "route attached");
    routes[0].route.as_ref().clone()
}

fn service(name: &str, port: u16) -> BackendTarget {
    BackendTarget::Service {
        namespace: "infra".into(),
        name: name.into(),
        port,
        app_protocol: None,
        tls: None,
    }
}

#[test]
fn matches_are_normalized() {
    use crate::config::ValueMatch;
    let rules = "[{matches: [
        {path: {type: PathPrefix, value: /foo/}},
        {path: {type: PathPrefix, value: /}},
        {path: {type: Exact, value: /exact/}},
        {path: {type: RegularExpression, value: \"/re/[0-9]+\"}, method: PATCH},
        {path: {type: PathPrefix, value: /}, headers: [{type: Exact, name: Version, value: one}, {type: Exact, name: version, value: two}, {type: RegularExpression, name: X-Re, value: \"a.*\"}], queryParams: [{type: Exact, name: animal, value: whale}, {type: Exact, name: animal, value: dolphin}, {type: Exact, name: Animal, value: Whale}]}
      ], backendRefs: []}, {backendRefs: []}]";
    let config = converted(rules);
    let m = &config.rules[0].matches;
    assert_eq!(m[0].path, PathMatch::Prefix("/foo".into()));
    assert_eq!(m[1].path, PathMatch::Prefix("/".into()));
    assert_eq!(m[2].path, PathMatch::Exact("/exact/".into()));
    match &m[3].path {
        PathMatch::RegularExpression(re) => {
            assert!(re.is_match("/re/12"));
            assert!(!re.is_match("/re/12/x"), "anchored at the end");
            assert!(!re.is_match("/x/re/12"), "anchored at the start");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m[3].method.as_deref(), Some("PATCH"));
    let headers: Vec<_> = m[4].headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(headers, ["version", "x-re"]);
    assert_eq!(m[4].headers[0].value, ValueMatch::Exact("one".into()));
    let queries: Vec<_> = m[4]
        .query_params
        .iter()
        .map(|q| (q.name.as_str(), q.value.clone()))
        .collect();
    assert_eq!(
        queries,
        [
            ("animal", ValueMatch::Exact("whale".into())),
            ("Animal", ValueMatch::Exact("Whale".into()))
        ]
    );
    assert!(m.iter().enumerate().all(|(i, x)| x.index == i));
    // A rule without matches gets PathPrefix `/`.
    assert_eq!(config.rules[1].matches.len(), 1);
    assert_eq!(
        config.rules[1].matches[0].path,
        PathMatch::Prefix("/".into())
    );
    assert_eq!(config.rules[1].index, 1);
    assert_eq!(config.kind, crate::config::RouteKind::Http);
    assert_eq!(config.created, 0, "no creationTimestamp");
    assert_eq!(config.generation, 1);
}

#[test]
fn filters_backends_timeouts_and_retry() {
    use crate::config::{HeaderModifier, Mirror, PathModifier, Redirect, Retry, UrlRewrite};
    use std::time::Duration;
    let rules = r#"[
      {name: first, matches: [{path: {type: PathPrefix, value: /a}}],
       filters: [
         {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Set, value: s}], add: [{name: X-Add, value: a}], remove: [X-Gone]}},
         {type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Resp, value: r}]}},
         {type: RequestMirror, requestMirror: {backendRef: {group: "", kind: Service, name: v2, port: 8080}, percent: 20}},
         {type: RequestMirror, requestMirror: {backendRef: {group: "", kind: Service, name: v2, port: 8080}, fraction: {numerator: 25, denominator: 50}}},
         {type: RequestMirror, requestMirror: {backendRef: {group: "", kind: Service, name: v2, port: 8080}}},
         {type: URLRewrite, urlRewrite: {hostname: rewritten.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}
       ],
       backendRefs: [
         {group: "", kind: Service, name: v1, port: 8080, weight: 7, filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: v1}]}}]},
         {group: "", kind: Service, name: v2, port: 8080, weight: 0}
       ],
       timeouts: {request: 500ms, backendRequest: "0s"},
       retry: {codes: [500, 502], attempts: 3, backoff: 100ms}},
      {matches: [{path: {type: PathPrefix, value: /r}}],
       filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org, port: 8443, path: {type: ReplaceFullPath, replaceFullPath: /full}}}]},
      {matches: [{path: {type: PathPrefix, value: /s}}],
       filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}, {type: CORS, cors: {allowOrigins: ["https://a.com"]}}]}
    ]"#;
    let config = converted(rules);
    let rule = &config.rules[0];
    assert_eq!(rule.name.as_deref(), Some("first"));
    assert_eq!(
        rule.filters[0],
        Filter::RequestHeaderModifier(HeaderModifier {
            set: vec![("X-Set".into(), "s".into())],
            add: vec![("X-Add".into(), "a".into())],
            remove: vec!["X-Gone".into()],
        })
    );
    assert_eq!(
        rule.filters[1],
        Filter::ResponseHeaderModifier(HeaderModifier {
            set: vec![("X-Resp".into(), "r".into())],
            ..HeaderModifier::default()
        })
    );
    let mirror = |numerator, denominator| {
        Filter::RequestMirror(Mirror {
            backend: service("v2", 8080),
            numerator,
            denominator,
        })
    };
    assert_eq!(rule.filters[2], mirror(20, 100));
    assert_eq!(rule.filters[3], mirror(25, 50));
    assert_eq!(rule.filters[4], mirror(1, 1));
    assert_eq!(
        rule.filters[5],
        Filter::UrlRewrite(UrlRewrite {
            hostname: Some("rewritten.example".into()),
            path: Some(PathModifier::ReplacePrefixMatch("/b".into())),
        })
    );
    assert_eq!(rule.backends.len(), 2);
    assert_eq!(rule.backends[0].weight, 7);
    assert_eq!(rule.backends[0].target, service("v1", 8080));
    assert_eq!(
        rule.backends[0].filters,
        [Filter::RequestHeaderModifier(HeaderModifier {
            set: vec![("Backend".into(), "v1".into())],
            ..HeaderModifier::default()
        })]
    );
    assert_eq!((rule.backends[1].index, rule.backends[1].weight), (1, 0));
    assert_eq!(rule.timeouts.request, Some(Duration::from_millis(500)));
    assert_eq!(rule.timeouts.backend_request, None, "\"0s\" disables");
    assert_eq!(
        rule.retry,
        Some(Retry {
            codes: vec![500, 502],
            attempts: 3,
            backoff: Some(Duration::from_millis(100)),
        })
    );
    assert!(rule.invalid.is_none());

    assert_eq!(
        config.rules[1].filters,
        [Filter::RequestRedirect(Redirect {
            scheme: Some("https".into()),
            hostname: Some("example.org".into()),
            path: Some(PathModifier::ReplaceFullPath("/full".into())),
            port: Some(8443),
            status_code: 302,
        })]
    );
    assert!(config.rules[1].backends.is_empty());
    match &config.rules[2].filters[..] {
        [Filter::RequestRedirect(r), Filter::Cors(c)] => {
            assert_eq!(r.status_code, 301);
            assert_eq!(c.allow_origins, ["https://a.com"]);
            assert_eq!(c.max_age, 5);
            assert!(!c.allow_credentials);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_mirror_backend_is_unresolved() {
    let rules = "[{filters: [{type: RequestMirror, requestMirror: {backendRef: {group: \"\", kind: Service, name: missing, port: 8080}}}], backendRefs: [{group: \"\", kind: Service, name: v1, port: 8080, weight: 1}]}]";
    let rt = route(
        "infra",
        "route",
        &format!("[{}]", parent(None, None)),
        "[]",
        rules,
    );
    let r = run(&snapshot(&join(&[
        CLASS, INFRA_NS, GATEWAY, SERVICE_V1, &rt,
    ])));
    assert_eq!(
        cond(&parent_conditions(&r, "infra", "route"), "ResolvedRefs"),
        is("False", "BackendNotFound")
    );
}

fn grpc_route(rules: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {{name: grpc, namespace: infra, generation: 3, creationTimestamp: \"2024-01-01T00:00:10Z\"}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules: {rules}\n"
    )
}

#[test]
fn grpc_routes_share_the_route_path() {
    use crate::config::ValueMatch;
    let rules = r#"[
      {matches: [
        {method: {type: Exact, service: pkg.Echo, method: Echo}},
        {method: {type: Exact, service: pkg.Echo}},
        {method: {type: Exact, method: EchoTwo}},
        {method: {type: RegularExpression, service: "pkg\\..*", method: "Echo.*"}},
        {headers: [{type: Exact, name: Version, value: one}, {type: Exact, name: VERSION, value: two}]}
       ],
       filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: X-G, value: g}]}}],
       backendRefs: [{group: "", kind: Service, name: v1, port: 8081, weight: 1, filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {remove: [X-R]}}]}]},
      {backendRefs: [{group: "", kind: Service, name: missing, port: 8081, weight: 1}]}
    ]"#;
    let r = run(&snapshot(&join(&[
        CLASS,
        INFRA_NS,
        GATEWAY,
        SERVICE_V1,
        &grpc_route(rules),
    ])));
    let status = match r
        .statuses
        .get(&ObjectKey::new(Kind::GrpcRoute, "infra", "grpc"))
    {
        Some(StatusUpdate::GrpcRoute(s)) => s,
        other => panic!("{other:?}"),
    };
    let p = &status.parents[0];
    assert_eq!(p.parent_ref.kind.as_deref(), Some("Gateway"));
    assert_eq!(cond(&p.conditions, "Accepted"), is("True", "Accepted"));
    assert_eq!(
        cond(&p.conditions, "ResolvedRefs"),
        is("False", "BackendNotFound")
    );
    assert!(
        p.conditions
            .iter()
            .all(|c| c.observed_generation == Some(3))
    );

    let config = &r.gateways[0].listeners[0].routes[0].route;
    assert_eq!(config.kind, crate::config::RouteKind::Grpc);
    assert_eq!(config.created, 1_704_067_210);
    let m = &config.rules[0].matches;
    assert_eq!(m[0].path, PathMatch::Exact("/pkg.Echo/Echo".into()));
    assert_eq!(m[1].path, PathMatch::Prefix("/pkg.Echo".into()));
    match (&m[2].path, &m[3].path) {
        (PathMatch::RegularExpression(method_only), PathMatch::RegularExpression(both)) => {
            assert!(method_only.is_match("/any.Service/EchoTwo"));
            assert!(!method_only.is_match("/any.Service/EchoTwoMore"));
            assert!(!method_only.is_match("/a/b/EchoTwo"));
            assert!(both.is_match("/pkg.Echo/EchoThree"));
            assert!(!both.is_match("/other.Echo/Echo"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m[4].path, PathMatch::Prefix("/".into()));
    assert_eq!(m[4].headers.len(), 1);
    assert_eq!(m[4].headers[0].value, ValueMatch::Exact("one".into()));
    assert!(
        matches!(&config.rules[0].filters[..], [Filter::RequestHeaderModifier(h)] if h.add == [("X-G".to_string(), "g".to_string())])
    );
    assert!(
        matches!(&config.rules[0].backends[0].filters[..], [Filter::ResponseHeaderModifier(h)] if h.remove == ["X-R"])
    );
    assert!(
        matches!(&config.rules[0].backends[0].target, BackendTarget::Service { app_protocol: Some(p), .. } if p == "kubernetes.io/h2c")
    );
    assert_eq!(
        listener(gateway_status(&r, "infra", "gw"), "http").attached_routes,
        1
    );
}

// ---------------------------------------------------------------------------------------
// Scale

/// 10,000 HTTPRoutes with 5 rules each over 2,000 hostnames and 3 Gateways.
fn large_snapshot() -> Snapshot {
    use serde_json::json;
    let mut s = Snapshot::new();
    s.insert(object(CLASS));
    s.insert(object(INFRA_NS));
    for g in 0..3 {
        let gateway = json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": format!("gw{g}"), "namespace": "infra", "generation": 1},
            "spec": {"gatewayClassName": "gwsim", "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP",
                 "allowedRoutes": {"namespaces": {"from": "All"}}},
                {"name": "wild", "port": 8080, "protocol": "HTTP", "hostname": "*.example.com",
                 "allowedRoutes": {"namespaces": {"from": "All"}}}
            ]}
        });
        s.insert(Object::Gateway(Box::new(
            serde_json::from_value(gateway).expect("gateway"),
        )));
    }
    for b in 0..50 {
        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc{b}"), "namespace": "infra"},
            "spec": {"ports": [{"port": 8080}]}
        });
        s.insert(Object::Service(Box::new(
            serde_json::from_value(svc).expect("service"),
        )));
    }
    for i in 0..10_000 {
        let rules: Vec<_> = (0..5)
            .map(|k| {
                json!({
                    "matches": [{"path": {"type": "PathPrefix", "value": format!("/r{i}/p{k}")},
                                 "headers": [{"type": "Exact", "name": "X-Version", "value": "v1"}]}],
                    "backendRefs": [{"group": "", "kind": "Service", "name": format!("svc{}", (i + k) % 50),
                                     "port": 8080, "weight": 1}]
                })
            })
            .collect();
        let route = json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": format!("route{i}"), "namespace": "infra", "generation": 1,
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {
                "parentRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "name": format!("gw{}", i % 3)}],
                "hostnames": [format!("host{}.example.com", i % 2000)],
                "rules": rules
            }
        });
        s.insert(Object::HttpRoute(Box::new(
            serde_json::from_value(route).expect("route"),
        )));
    }
    s
}

/// At scale every route attaches and gets a status. (Speed is measured by
/// `engine/examples/scale.rs` and the benches, never by a test.)
#[test]
fn reconcile_at_scale_attaches_every_route() {
    let s = large_snapshot();
    let r = run(&s);
    let attached: usize = r
        .gateways
        .iter()
        .flat_map(|g| g.listeners.iter())
        .map(|l| l.routes.len())
        .sum();
    assert_eq!(attached, 20_000);
    assert_eq!(r.statuses.len(), 1 + 3 + 10_000);
}

/// Issue 10, finding 3: a `retry.attempts` beyond gwsim's limit makes the rule invalid with a
/// message naming the field and the limit (the API sets no maximum); the other rules stay.
#[test]
fn retry_attempts_beyond_the_gwsim_limit_invalidate_the_rule() {
    let rules = |attempts: u32| {
        format!(
            r#"[{{backendRefs: [{{group: "", kind: Service, name: v1, port: 8080}}], retry: {{codes: [500], attempts: {attempts}}}}}, {{matches: [{{path: {{type: PathPrefix, value: /ok}}}}], backendRefs: [{{group: "", kind: Service, name: v1, port: 8080}}]}}]"#
        )
    };
    let limit = crate::runtime::MAX_RETRIES_PER_REQUEST;
    assert!(converted(&rules(limit)).rules[0].invalid.is_none());
    let config = converted(&rules(2147483647));
    assert_eq!(
        config.rules[0].invalid.as_deref(),
        Some("retry.attempts: 2147483647 is above gwsim's limit of 100 retries per request")
    );
}

// ---------------------------------------------------------------------------------------
// Frontend client certificate validation (GEP-91)

/// A test CA certificate (ca-default of sim/tests/data/tls-fixtures.yaml), YAML-escaped.
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\\nMIIB2TCCAX6gAwIBAgIUVkdTVV3Ptlr+B8JZA5HqHhH6NjowCgYIKoZIzj0EAwIw\\nSTEaMBgGA1UECgwRZ3dzaW0gY29uZm9ybWFuY2UxKzApBgNVBAMMImd3c2ltIGZy\\nb250ZW5kIGNsaWVudCBDQSAoZGVmYXVsdCkwIBcNMjUwMTAxMDAwMDAwWhgPMjEy\\nNTAxMDEwMDAwMDBaMEkxGjAYBgNVBAoMEWd3c2ltIGNvbmZvcm1hbmNlMSswKQYD\\nVQQDDCJnd3NpbSBmcm9udGVuZCBjbGllbnQgQ0EgKGRlZmF1bHQpMFkwEwYHKoZI\\nzj0CAQYIKoZIzj0DAQcDQgAEN1JGXWdVZxIukVLRFQpZZC3bKuT6bX+GbUwHDpP0\\nTXSuDsyBwQ8kUERDAbOnX/SQCAc0xW+BHTi+UighVNkMEaNCMEAwDwYDVR0TAQH/\\nBAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFLgCcJ2gdwh9ZDNLDPN3\\n4FEnwyXXMAoGCCqGSM49BAMCA0kAMEYCIQCa0vrcnxSLnnZFF5Q5eyRSALgOyheA\\nkALNIczfBSlW3gIhAKsijzYyj6G1zN14IdMfSSPx2oE3ZJaRpE4g+mQosfZP\\n-----END CERTIFICATE-----";

fn ca_config_map(ns: &str, name: &str, pem: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{ca.crt: \"{pem}\"}}\n"
    )
}

/// Gateway infra/gw: HTTPS on 443 and HTTP on 80, frontend validation `default` with `refs`.
fn validating_gateway(refs: &str, mode: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra, generation: 1}}\nspec:\n  gatewayClassName: gwsim\n  tls:\n    frontend:\n      default:\n        validation: {{mode: {mode}, caCertificateRefs: {refs}}}\n      perPort: [{{port: 80, tls: {{validation: {{caCertificateRefs: [{{group: \"\", kind: ConfigMap, name: missing}}]}}}}}}]\n  listeners:\n  - {{name: https, port: 443, protocol: HTTPS, tls: {{certificateRefs: [{{name: cert}}]}}}}\n  - {{name: http, port: 80, protocol: HTTP}}\n"
    )
}

#[test]
fn frontend_validation_resolves_ca_references() {
    let good = "{group: \"\", kind: ConfigMap, name: ca}";
    let grant_to_config_maps = grant(
        "other",
        "{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}",
        "{group: \"\", kind: ConfigMap}",
    );
    // (name, refs, ResolvedRefs, Accepted)
    type Case<'a> = (&'a str, String, (&'a str, &'a str), (&'a str, &'a str));
    let cases: &[Case<'_>] = &[
        (
            "valid ConfigMap",
            format!("[{good}]"),
            ("True", "ResolvedRefs"),
            ("True", "Accepted"),
        ),
        (
            "valid Secret",
            "[{group: \"\", kind: Secret, name: ca-secret}]".into(),
            ("True", "ResolvedRefs"),
            ("True", "Accepted"),
        ),
        (
            "missing ConfigMap",
            "[{group: \"\", kind: ConfigMap, name: nope}]".into(),
            ("False", "InvalidCACertificateRef"),
            ("False", "NoValidCACertificate"),
        ),
        (
            "not a CA bundle",
            "[{group: \"\", kind: ConfigMap, name: garbage}]".into(),
            ("False", "InvalidCACertificateRef"),
            ("False", "NoValidCACertificate"),
        ),
        (
            "wrong kind",
            "[{group: \"\", kind: Service, name: ca}]".into(),
            ("False", "InvalidCACertificateKind"),
            ("False", "NoValidCACertificate"),
        ),
        (
            "other namespace without a grant",
            "[{group: \"\", kind: ConfigMap, name: ca, namespace: web}]".into(),
            ("False", "RefNotPermitted"),
            ("False", "NoValidCACertificate"),
        ),
        (
            "other namespace with a grant",
            "[{group: \"\", kind: ConfigMap, name: ca, namespace: other}]".into(),
            ("True", "ResolvedRefs"),
            ("True", "Accepted"),
        ),
        (
            "one good reference of two keeps the listener",
            format!("[{{group: \"\", kind: ConfigMap, name: nope}}, {good}]"),
            ("False", "InvalidCACertificateRef"),
            ("True", "Accepted"),
        ),
    ];
    let ca_secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: ca-secret, namespace: infra}}\nstringData: {{ca.crt: \"{CA_PEM}\"}}\n"
    );
    for (name, refs, resolved, accepted) in cases {
        let s = snapshot(&join(&[
            CLASS,
            INFRA_NS,
            &validating_gateway(refs, "AllowValidOnly"),
            &valid_secret("infra", "cert"),
            &ca_config_map("infra", "ca", CA_PEM),
            &ca_config_map(
                "infra",
                "garbage",
                "-----BEGIN CERTIFICATE-----\\naGk=\\n-----END CERTIFICATE-----",
            ),
            &ca_config_map("web", "ca", CA_PEM),
            &ca_config_map("other", "ca", CA_PEM),
            &grant_to_config_maps,
            &ca_secret,
        ]));
        let r = run(&s);
        let gws = gateway_status(&r, "infra", "gw");
        let l = listener(gws, "https");
        assert_eq!(
            cond(&l.conditions, "ResolvedRefs"),
            is(resolved.0, resolved.1),
            "{name}"
        );
        assert_eq!(
            cond(&l.conditions, "Accepted"),
            is(accepted.0, accepted.1),
            "{name}"
        );
        let config = &r.gateways[0].listeners[0];
        assert_eq!(config.usable, accepted.0 == "True", "{name}");
        assert_eq!(
            config.client_validation.is_some(),
            accepted.0 == "True",
            "{name}"
        );
        if accepted.0 == "False" {
            assert_eq!(cond(&l.conditions, "Programmed").0, "False", "{name}");
        }
        // The HTTP listener is never validated, whatever its port's setting says.
        let http = listener(gws, "http");
        assert_eq!(
            cond(&http.conditions, "ResolvedRefs"),
            is("True", "ResolvedRefs"),
            "{name}"
        );
        assert!(
            r.gateways[0].listeners[1].client_validation.is_none(),
            "{name}"
        );
        assert!(
            !gws.conditions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "InsecureFrontendValidationMode"),
            "{name}"
        );
    }
}

#[test]
fn insecure_fallback_is_reported_on_the_gateway() {
    let s = snapshot(&join(&[
        CLASS,
        INFRA_NS,
        &validating_gateway(
            "[{group: \"\", kind: ConfigMap, name: ca}]",
            "AllowInsecureFallback",
        ),
        &valid_secret("infra", "cert"),
        &ca_config_map("infra", "ca", CA_PEM),
    ]));
    let r = run(&s);
    let gws = gateway_status(&r, "infra", "gw");
    assert_eq!(
        cond(
            gws.conditions.as_deref().unwrap_or_default(),
            "InsecureFrontendValidationMode"
        ),
        is("True", "ConfigurationChanged")
    );
    let validation = r.gateways[0].listeners[0]
        .client_validation
        .as_ref()
        .expect("validated");
    assert!(validation.insecure_fallback);
}
