//! TCPRoute and UDPRoute: v1 and v1alpha2 schemas (one rule at v1, up to 16 uniquely named
//! at v1alpha2; 1 to 16 backendRefs; the Service port rule; no hostnames), and defaults.

use serde_json::{Value, json};

use super::{Case, accept, bad, many, ok, run, with};
use crate::admission::admit;

fn route(kind: &str, version: &str) -> Value {
    json!({
        "apiVersion": format!("gateway.networking.k8s.io/{version}"),
        "kind": kind,
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": "gw", "sectionName": "tcp"}],
            "rules": [{"backendRefs": [{"name": "echo", "port": 3000}]}]
        }
    })
}

fn backend(i: usize) -> Value {
    json!({"name": format!("b{i}"), "port": 3000})
}

#[test]
fn tcp_and_udp_route_schemas() {
    let mut cases: Vec<Case> = Vec::new();
    for kind in ["TCPRoute", "UDPRoute"] {
        for version in ["v1", "v1alpha2"] {
            let base = route(kind, version);
            let name = |what: &str| format!("{kind} {version}: {what}");
            cases.push(ok(&name("minimal"), base.clone()));
            cases.push(bad(
                &name("no rules"),
                with(base.clone(), &[("/spec/rules", json!([]))]),
                "spec.rules",
                "should have at least 1 items",
            ));
            cases.push(bad(
                &name("a rule without backendRefs"),
                with(base.clone(), &[("/spec/rules", json!([{}]))]),
                "spec.rules[0].backendRefs",
                "Required value",
            ));
            cases.push(bad(
                &name("17 backendRefs"),
                with(
                    base.clone(),
                    &[("/spec/rules/0/backendRefs", many(17, backend))],
                ),
                "spec.rules[0].backendRefs",
                "Too many: 17",
            ));
            cases.push(ok(
                &name("16 weighted backendRefs"),
                with(
                    base.clone(),
                    &[("/spec/rules/0/backendRefs", many(16, backend))],
                ),
            ));
            cases.push(bad(
                &name("a Service without a port"),
                with(
                    base.clone(),
                    &[("/spec/rules/0/backendRefs", json!([{"name": "echo"}]))],
                ),
                "spec.rules[0].backendRefs[0]",
                "Must have port for Service reference",
            ));
            cases.push(bad(
                &name("a negative weight"),
                with(
                    base.clone(),
                    &[("/spec/rules/0/backendRefs/0/weight", json!(-1))],
                ),
                "spec.rules[0].backendRefs[0].weight",
                "should be greater than or equal to 0",
            ));
            cases.push(bad(
                &name("two parentRefs to one Gateway without sectionName or port"),
                with(
                    base.clone(),
                    &[("/spec/parentRefs", json!([{"name": "gw"}, {"name": "gw"}]))],
                ),
                "spec.parentRefs",
                "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent",
            ));
        }
        let two_rules = json!([
            {"name": "a", "backendRefs": [backend(0)]},
            {"name": "b", "backendRefs": [backend(1)]}
        ]);
        cases.push(bad(
            &format!("{kind} v1: two rules"),
            with(route(kind, "v1"), &[("/spec/rules", two_rules.clone())]),
            "spec.rules",
            "Too many: 2",
        ));
        cases.push(ok(
            &format!("{kind} v1alpha2: two named rules"),
            with(route(kind, "v1alpha2"), &[("/spec/rules", two_rules)]),
        ));
        cases.push(bad(
            &format!("{kind} v1alpha2: two rules of one name"),
            with(
                route(kind, "v1alpha2"),
                &[(
                    "/spec/rules",
                    json!([
                        {"name": "a", "backendRefs": [backend(0)]},
                        {"name": "a", "backendRefs": [backend(1)]}
                    ]),
                )],
            ),
            "spec.rules",
            "Rule name must be unique within the route",
        ));
    }
    run(cases);
}

#[test]
fn tcp_and_udp_route_defaults_and_kinds() {
    for (kind, version) in [
        ("TCPRoute", "v1"),
        ("TCPRoute", "v1alpha2"),
        ("UDPRoute", "v1"),
        ("UDPRoute", "v1alpha2"),
    ] {
        // No hostnames: a strict-decoding error, as for any unknown field.
        let with_hostnames = with(
            route(kind, version),
            &[("/spec/hostnames", json!(["a.example.com"]))],
        );
        let refused = admit(&with_hostnames, None).expect_err("hostnames are unknown");
        assert!(
            refused
                .to_string()
                .contains("strict decoding error: unknown field \"spec.hostnames\""),
            "{kind} {version}: {refused}"
        );
        let object = accept(&route(kind, version));
        assert_eq!(object.kind().as_str(), kind);
        let spec = object.to_value()["spec"].clone();
        assert_eq!(
            spec["rules"][0]["backendRefs"][0],
            json!({"group": "", "kind": "Service", "name": "echo", "port": 3000, "weight": 1}),
            "{kind} {version}"
        );
        assert_eq!(
            spec["parentRefs"][0],
            json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "sectionName": "tcp"}),
            "{kind} {version}"
        );
    }
}
