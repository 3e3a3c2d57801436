//! ListenerSet: required fields, the parentRef defaults, the shared listener schema and its
//! CEL rules (reject and valid neighbour), defaults, strict decoding and the Pending status.

use serde_json::{Value, json};

use super::{Case, accept, bad, has_cause, ok, reject, run, with};

/// A minimal valid ListenerSet.
fn listener_set() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ListenerSet",
        "metadata": {"name": "set", "namespace": "default"},
        "spec": {
            "parentRef": {"name": "gw"},
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]
        }
    })
}

fn listeners(ls: Value) -> Value {
    with(listener_set(), &[("/spec/listeners", ls)])
}

fn listener(l: Value) -> Value {
    listeners(json!([l]))
}

#[test]
fn schema_and_cel_rules() {
    let ls = "spec.listeners";
    let certs = json!({"certificateRefs": [{"name": "c"}]});
    let tls = |protocol: &str, tls: Value| {
        listener(json!({"name": "a", "port": 443, "protocol": protocol, "tls": tls}))
    };
    let cases: Vec<Case> = vec![
        ok("minimal", listener_set()),
        bad(
            "no parentRef",
            with(
                listener_set(),
                &[(
                    "/spec",
                    json!({"listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}]}),
                )],
            ),
            "spec.parentRef",
            "Required value",
        ),
        bad(
            "parentRef without name",
            with(
                listener_set(),
                &[("/spec/parentRef", json!({"kind": "Gateway"}))],
            ),
            "spec.parentRef.name",
            "Required value",
        ),
        bad(
            "parentRef namespace not a label",
            with(
                listener_set(),
                &[("/spec/parentRef/namespace", json!("Not_A_Label"))],
            ),
            "spec.parentRef.namespace",
            "should match",
        ),
        ok(
            "parentRef in another namespace",
            with(
                listener_set(),
                &[("/spec/parentRef/namespace", json!("infra"))],
            ),
        ),
        bad("no listeners", listeners(json!([])), ls, "at least 1 items"),
        bad(
            "65 listeners",
            listeners(Value::Array(
                (0..65)
                    .map(|i| json!({"name": format!("l{i}"), "port": 1000 + i, "protocol": "HTTP"}))
                    .collect(),
            )),
            ls,
            "Too many",
        ),
        ok(
            "64 listeners",
            listeners(Value::Array(
                (0..64)
                    .map(|i| json!({"name": format!("l{i}"), "port": 1000 + i, "protocol": "HTTP"}))
                    .collect(),
            )),
        ),
        bad(
            "listener without port",
            listener(json!({"name": "a", "protocol": "HTTP"})),
            "spec.listeners[0].port",
            "Required value",
        ),
        bad(
            "port out of range",
            listener(json!({"name": "a", "port": 70000, "protocol": "HTTP"})),
            "spec.listeners[0].port",
            "less than or equal to 65535",
        ),
        bad(
            "tls on HTTP",
            tls("HTTP", certs.clone()),
            ls,
            "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
        ),
        ok("HTTPS terminate", tls("HTTPS", certs.clone())),
        bad(
            "HTTPS passthrough",
            tls("HTTPS", json!({"mode": "Passthrough"})),
            ls,
            "tls mode must be Terminate for protocol HTTPS",
        ),
        bad(
            "TLS without tls",
            listener(json!({"name": "a", "port": 443, "protocol": "TLS"})),
            ls,
            "tls mode must be set for protocol TLS",
        ),
        ok(
            "TLS passthrough",
            tls("TLS", json!({"mode": "Passthrough"})),
        ),
        bad(
            "TCP with hostname",
            listener(
                json!({"name": "a", "port": 9000, "protocol": "TCP", "hostname": "a.example"}),
            ),
            ls,
            "hostname must not be specified for protocols ['TCP', 'UDP']",
        ),
        ok(
            "TCP without hostname",
            listener(json!({"name": "a", "port": 9000, "protocol": "TCP"})),
        ),
        bad(
            "duplicate names",
            listeners(json!([
                {"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example"},
                {"name": "a", "port": 81, "protocol": "HTTP"}
            ])),
            ls,
            "Listener name must be unique within the Gateway",
        ),
        bad(
            "same port, protocol and hostname",
            listeners(json!([
                {"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example"},
                {"name": "b", "port": 80, "protocol": "HTTP", "hostname": "a.example"}
            ])),
            ls,
            "Combination of port, protocol and hostname must be unique for each listener",
        ),
        ok(
            "same port and protocol, different hostnames",
            listeners(json!([
                {"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example"},
                {"name": "b", "port": 80, "protocol": "HTTP", "hostname": "b.example"}
            ])),
        ),
        bad(
            "terminate without certificates or options",
            tls("HTTPS", json!({})),
            "spec.listeners[0].tls",
            "certificateRefs or options must be specified when mode is Terminate",
        ),
        ok(
            "terminate with options only",
            tls("HTTPS", json!({"options": {"example.com/cert": "x"}})),
        ),
    ];
    run(cases);
}

#[test]
fn defaults_strict_decoding_and_pending_status() {
    let object = accept(&with(
        listener_set(),
        &[(
            "/spec/listeners",
            json!([{"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "c"}]}}]),
        )],
    ));
    let out = object.to_value();
    assert_eq!(out["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(
        out["spec"],
        json!({
            "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"},
            "listeners": [{
                "allowedRoutes": {"namespaces": {"from": "Same"}},
                "name": "https", "port": 443, "protocol": "HTTPS",
                "tls": {"certificateRefs": [{"group": "", "kind": "Secret", "name": "c"}], "mode": "Terminate"}
            }]
        })
    );
    // Created with the schema's status, whatever the document says.
    let conditions = out["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pending: Vec<(&str, &str, &str)> = conditions
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        pending,
        [
            ("Accepted", "Unknown", "Pending"),
            ("Programmed", "Unknown", "Pending")
        ]
    );

    let r = reject(&with(
        listener_set(),
        &[("/spec/parentRef/sectionName", json!("x"))],
    ));
    assert!(
        has_cause(&r, "spec.parentRef.sectionName", "unknown field"),
        "{r}"
    );
    let r = reject(&with(
        listener_set(),
        &[("/status/attachedRoutes", json!(1))],
    ));
    assert!(
        has_cause(&r, "status.attachedRoutes", "unknown field"),
        "{r}"
    );
}
