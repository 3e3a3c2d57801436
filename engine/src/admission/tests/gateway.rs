//! Gateway: limits, patterns, enums, required fields, list types, CEL rules and defaults.

use serde_json::{Value, json};

use super::{Case, accept, bad, gateway, many, ok, run, with};

/// The Gateway with these listeners.
fn listeners(ls: Value) -> Value {
    with(gateway(), &[("/spec/listeners", ls)])
}

/// The Gateway with one listener `l`.
fn listener(l: Value) -> Value {
    listeners(json!([l]))
}

fn https(tls: Value) -> Value {
    listener(json!({"name": "https", "port": 443, "protocol": "HTTPS", "tls": tls}))
}

fn addresses(a: Value) -> Value {
    with(gateway(), &[("/spec/addresses", a)])
}

fn infra(i: Value) -> Value {
    with(gateway(), &[("/spec/infrastructure", i)])
}

fn frontend(f: Value) -> Value {
    with(gateway(), &[("/spec/tls", json!({"frontend": f}))])
}

fn ca_refs() -> Value {
    json!([{"group": "", "kind": "ConfigMap", "name": "ca"}])
}

#[test]
fn schema_limits_patterns_and_enums() {
    let l0 = "spec.listeners[0]";
    let cases: Vec<Case> = vec![
        bad(
            "no class",
            with(
                gateway(),
                &[(
                    "/spec",
                    json!({"listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}]}),
                )],
            ),
            "spec.gatewayClassName",
            "Required value",
        ),
        bad(
            "class too long",
            with(
                gateway(),
                &[("/spec/gatewayClassName", json!("c".repeat(254)))],
            ),
            "spec.gatewayClassName",
            "Too long",
        ),
        bad(
            "no listeners",
            with(gateway(), &[("/spec", json!({"gatewayClassName": "c"}))]),
            "spec.listeners",
            "Required value",
        ),
        bad(
            "empty listeners",
            listeners(json!([])),
            "spec.listeners",
            "should have at least 1 items",
        ),
        bad(
            "65 listeners",
            listeners(many(
                65,
                |i| json!({"name": format!("l{i}"), "port": 1000 + i, "protocol": "HTTP"}),
            )),
            "spec.listeners",
            "Too many: 65: must have at most 64 items",
        ),
        ok(
            "64 listeners",
            listeners(many(
                64,
                |i| json!({"name": format!("l{i}"), "port": 1000 + i, "protocol": "HTTP"}),
            )),
        ),
        bad(
            "listener without name",
            listener(json!({"port": 80, "protocol": "HTTP"})),
            "spec.listeners[0].name",
            "Required value",
        ),
        bad(
            "listener bad name",
            listener(json!({"name": "bad>", "port": 80, "protocol": "HTTP"})),
            "spec.listeners[0].name",
            "should match",
        ),
        bad(
            "listener without port",
            listener(json!({"name": "a", "protocol": "HTTP"})),
            "spec.listeners[0].port",
            "Required value",
        ),
        bad(
            "listener port too big",
            listener(json!({"name": "a", "port": 65536, "protocol": "HTTP"})),
            "spec.listeners[0].port",
            "Invalid value: 65536: spec.listeners[0].port in body should be less than or equal to 65535",
        ),
        bad(
            "listener without protocol",
            listener(json!({"name": "a", "port": 80})),
            "spec.listeners[0].protocol",
            "Required value",
        ),
        bad(
            "protocol domain without path",
            listener(json!({"name": "a", "port": 80, "protocol": "example.com"})),
            "spec.listeners[0].protocol",
            "should match",
        ),
        ok(
            "protocol domain/path",
            listener(json!({"name": "a", "port": 80, "protocol": "example.com/custom"})),
        ),
        ok(
            "unknown bare protocol",
            listener(json!({"name": "a", "port": 80, "protocol": "SCTP"})),
        ),
        bad(
            "listener bad hostname",
            listener(json!({"name": "a", "port": 80, "protocol": "HTTP", "hostname": "http://a<"})),
            "spec.listeners[0].hostname",
            "should match",
        ),
        ok(
            "listener wildcard hostname",
            listener(
                json!({"name": "a", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"}),
            ),
        ),
        bad(
            "duplicate listener names",
            listeners(
                json!([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "a", "port": 81, "protocol": "HTTP"}]),
            ),
            "spec.listeners[1]",
            "Duplicate value: {\"name\":\"a\"}",
        ),
        bad(
            "allowedRoutes from enum",
            listener(
                json!({"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "None"}}}),
            ),
            "spec.listeners[0].allowedRoutes.namespaces.from",
            "Unsupported value: \"None\": supported values: \"All\", \"Selector\", \"Same\"",
        ),
        ok(
            "allowedRoutes selector",
            listener(
                json!({"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}}}}),
            ),
        ),
        bad(
            "9 route kinds",
            listener(
                json!({"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"kinds": many(9, |i| json!({"kind": format!("K{i}")}))}}),
            ),
            "spec.listeners[0].allowedRoutes.kinds",
            "Too many: 9: must have at most 8 items",
        ),
        bad(
            "route kind without kind",
            listener(
                json!({"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"kinds": [{"group": "x.io"}]}}),
            ),
            "spec.listeners[0].allowedRoutes.kinds[0].kind",
            "Required value",
        ),
        bad(
            "tls mode enum",
            https(json!({"mode": "Terminated", "certificateRefs": [{"name": "c"}]})),
            "spec.listeners[0].tls.mode",
            "Unsupported value: \"Terminated\"",
        ),
        bad(
            "65 certificates",
            https(json!({"certificateRefs": many(65, |i| json!({"name": format!("c{i}")}))})),
            "spec.listeners[0].tls.certificateRefs",
            "Too many: 65",
        ),
        bad(
            "certificate without name",
            https(json!({"certificateRefs": [{"kind": "Secret"}]})),
            "spec.listeners[0].tls.certificateRefs[0].name",
            "Required value",
        ),
        bad(
            "certificate namespace",
            https(json!({"certificateRefs": [{"name": "c", "namespace": "A"}]})),
            "spec.listeners[0].tls.certificateRefs[0].namespace",
            "should match",
        ),
        bad(
            "17 tls options",
            https(
                json!({"options": Value::Object((0..17).map(|i| (format!("example.com/o{i}"), json!("v"))).collect())}),
            ),
            "spec.listeners[0].tls.options",
            "Too many: 17: must have at most 16 items",
        ),
        bad(
            "tls option too long",
            https(json!({"options": {"example.com/o": "v".repeat(4097)}})),
            "spec.listeners[0].tls.options[example.com/o]",
            "Too long: may not be more than 4096 bytes",
        ),
        ok(
            "tls options",
            https(json!({"options": {"example.com/o": "v"}})),
        ),
        bad(
            "17 addresses",
            addresses(many(17, |i| json!({"value": format!("10.0.0.{i}")}))),
            "spec.addresses",
            "Too many: 17",
        ),
        ok(
            "16 addresses",
            addresses(many(16, |i| json!({"value": format!("10.0.0.{i}")}))),
        ),
        bad(
            "address type pattern",
            addresses(json!([{"type": "foo", "value": "x"}])),
            "spec.addresses[0].type",
            "should match",
        ),
        ok(
            "address domain type",
            addresses(json!([{"type": "example.com/custom", "value": "x"}])),
        ),
        ok(
            "named address",
            addresses(json!([{"type": "NamedAddress", "value": "my-ip"}])),
        ),
        bad(
            "IPv4 typed hostname",
            addresses(json!([{"type": "IPAddress", "value": "example.com"}])),
            "spec.addresses[0].value",
            "spec.addresses[0].value in body must be of type ipv4: \"example.com\"",
        ),
        bad(
            "bad IPv4",
            addresses(json!([{"value": "1.2.3"}])),
            "spec.addresses[0].value",
            "must be of type ipv4",
        ),
        bad(
            "host:port",
            addresses(json!([{"value": "10.0.0.1:80"}])),
            "spec.addresses[0].value",
            "must be of type ipv6",
        ),
        ok("IPv6", addresses(json!([{"value": "2001:db8::1"}]))),
        ok(
            "address without value",
            addresses(json!([{"type": "IPAddress"}])),
        ),
        bad(
            "address value too long",
            addresses(json!([{"type": "NamedAddress", "value": "v".repeat(254)}])),
            "spec.addresses[0].value",
            "Too long",
        ),
        bad(
            "9 infrastructure labels",
            infra(
                json!({"labels": Value::Object((0..9).map(|i| (format!("l{i}"), json!("v"))).collect())}),
            ),
            "spec.infrastructure.labels",
            "Too many: 9: must have at most 8 items",
        ),
        bad(
            "label value pattern",
            infra(json!({"labels": {"a": "-v"}})),
            "spec.infrastructure.labels[a]",
            "should match",
        ),
        bad(
            "label value too long",
            infra(json!({"labels": {"a": "v".repeat(64)}})),
            "spec.infrastructure.labels[a]",
            "Too long: may not be more than 63 bytes",
        ),
        ok(
            "labels",
            infra(
                json!({"labels": {"example.com/a": "v", "b": ""}, "annotations": {"x": "anything at all"}}),
            ),
        ),
        bad(
            "17 infrastructure annotations",
            infra(
                json!({"annotations": Value::Object((0..17).map(|i| (format!("a{i}"), json!("v"))).collect())}),
            ),
            "spec.infrastructure.annotations",
            "Too many: 17",
        ),
        bad(
            "parametersRef without kind",
            infra(json!({"parametersRef": {"group": "x.io", "name": "p"}})),
            "spec.infrastructure.parametersRef.kind",
            "Required value",
        ),
        ok(
            "parametersRef",
            infra(json!({"parametersRef": {"group": "x.io", "kind": "P", "name": "p"}})),
        ),
        bad(
            "allowedListeners enum",
            with(
                gateway(),
                &[(
                    "/spec/allowedListeners",
                    json!({"namespaces": {"from": "Any"}}),
                )],
            ),
            "spec.allowedListeners.namespaces.from",
            "Unsupported value: \"Any\": supported values: \"All\", \"Selector\", \"Same\", \"None\"",
        ),
        bad(
            "defaultScope enum",
            with(gateway(), &[("/spec/defaultScope", json!("Some"))]),
            "spec.defaultScope",
            "Unsupported value",
        ),
        ok(
            "defaultScope",
            with(gateway(), &[("/spec/defaultScope", json!("All"))]),
        ),
        bad(
            "frontend without default",
            frontend(json!({})),
            "spec.tls.frontend.default",
            "Required value",
        ),
        bad(
            "validation without CA refs",
            frontend(json!({"default": {"validation": {}}})),
            "spec.tls.frontend.default.validation.caCertificateRefs",
            "Required value",
        ),
        bad(
            "no CA refs",
            frontend(json!({"default": {"validation": {"caCertificateRefs": []}}})),
            "spec.tls.frontend.default.validation.caCertificateRefs",
            "should have at least 1 items",
        ),
        bad(
            "17 CA refs (v1.6; 9 in v1.5)",
            frontend(
                json!({"default": {"validation": {"caCertificateRefs": many(17, |i| json!({"group": "", "kind": "ConfigMap", "name": format!("c{i}")}))}}}),
            ),
            "spec.tls.frontend.default.validation.caCertificateRefs",
            "Too many: 17: must have at most 16 items",
        ),
        bad(
            "validation mode enum",
            frontend(
                json!({"default": {"validation": {"caCertificateRefs": ca_refs(), "mode": "Never"}}}),
            ),
            "spec.tls.frontend.default.validation.mode",
            "Unsupported value",
        ),
        bad(
            "duplicate perPort",
            frontend(
                json!({"default": {}, "perPort": [{"port": 443, "tls": {}}, {"port": 443, "tls": {}}]}),
            ),
            "spec.tls.frontend.perPort[1]",
            "Duplicate value: {\"port\":443}",
        ),
        bad(
            "perPort without tls",
            frontend(json!({"default": {}, "perPort": [{"port": 443}]})),
            "spec.tls.frontend.perPort[0].tls",
            "Required value",
        ),
        ok(
            "frontend",
            frontend(
                json!({"default": {"validation": {"caCertificateRefs": ca_refs()}}, "perPort": [{"port": 443, "tls": {}}, {"port": 8443, "tls": {}}]}),
            ),
        ),
        bad(
            "backend client certificate without name",
            with(
                gateway(),
                &[(
                    "/spec/tls",
                    json!({"backend": {"clientCertificateRef": {}}}),
                )],
            ),
            "spec.tls.backend.clientCertificateRef.name",
            "Required value",
        ),
        bad(
            "listener name as number",
            listener(json!({"name": 7, "port": 80, "protocol": "HTTP"})),
            &format!("{l0}.name"),
            "must be of type string: \"integer\"",
        ),
    ];
    run(cases);
}

#[test]
fn cel_rules() {
    let ls = "spec.listeners";
    let tls = |protocol: &str, tls: Value| {
        listener(json!({"name": "a", "port": 443, "protocol": protocol, "tls": tls}))
    };
    let certs = json!({"certificateRefs": [{"name": "c"}]});
    let cases: Vec<Case> = vec![
        bad(
            "tls on HTTP",
            tls("HTTP", certs.clone()),
            ls,
            "Invalid value: \"array\": tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
        ),
        // CEL `l.protocol in ['HTTP', 'TCP', 'UDP']` compares exactly: lowercase passes.
        ok("tls on lowercase tcp", tls("tcp", certs.clone())),
        bad(
            "HTTPS passthrough",
            tls("HTTPS", json!({"mode": "Passthrough"})),
            ls,
            "tls mode must be Terminate for protocol HTTPS",
        ),
        ok("HTTPS terminate", tls("HTTPS", certs.clone())),
        ok(
            "HTTPS without tls (accepted by the API)",
            listener(json!({"name": "a", "port": 443, "protocol": "HTTPS"})),
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
            "UDP without hostname",
            listener(json!({"name": "a", "port": 9000, "protocol": "UDP"})),
        ),
        bad(
            "duplicate names",
            listeners(
                json!([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "a", "port": 81, "protocol": "HTTP"}]),
            ),
            ls,
            "Invalid value: \"array\": Listener name must be unique within the Gateway",
        ),
        bad(
            "same port, protocol, no hostname",
            listeners(
                json!([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 80, "protocol": "HTTP"}]),
            ),
            ls,
            "Combination of port, protocol and hostname must be unique for each listener",
        ),
        bad(
            "same port, protocol, hostname",
            listeners(
                json!([{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example"}, {"name": "b", "port": 80, "protocol": "HTTP", "hostname": "a.example"}]),
            ),
            ls,
            "Combination of port, protocol and hostname must be unique for each listener",
        ),
        ok(
            "same port and protocol, different hostnames",
            listeners(
                json!([{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example"}, {"name": "b", "port": 80, "protocol": "HTTP"}]),
            ),
        ),
        ok(
            "same port, different protocols",
            listeners(
                json!([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 80, "protocol": "HTTPS"}]),
            ),
        ),
        bad(
            "terminate without certificates or options",
            tls("HTTPS", json!({})),
            "spec.listeners[0].tls",
            "Invalid value: \"object\": no such key: certificateRefs evaluating rule: certificateRefs or options must be specified when mode is Terminate",
        ),
        bad(
            "terminate with empty certificates",
            tls("HTTPS", json!({"certificateRefs": []})),
            "spec.listeners[0].tls",
            "no such key: options evaluating rule",
        ),
        bad(
            "terminate with empty certificates and options",
            tls("HTTPS", json!({"certificateRefs": [], "options": {}})),
            "spec.listeners[0].tls",
            "Invalid value: \"object\": certificateRefs or options must be specified when mode is Terminate",
        ),
        ok(
            "terminate with options only",
            tls(
                "HTTPS",
                json!({"options": {"example.com/cert-source": "vault"}}),
            ),
        ),
        bad(
            "duplicate IP addresses",
            addresses(json!([{"value": "10.0.0.1"}, {"type": "IPAddress", "value": "10.0.0.1"}])),
            "spec.addresses",
            "IPAddress values must be unique",
        ),
        bad(
            "duplicate hostnames",
            addresses(
                json!([{"type": "Hostname", "value": "a.example"}, {"type": "Hostname", "value": "a.example"}]),
            ),
            "spec.addresses",
            "Hostname values must be unique",
        ),
        ok(
            "same value, different types",
            addresses(
                json!([{"type": "NamedAddress", "value": "a"}, {"type": "example.com/t", "value": "a"}]),
            ),
        ),
        bad(
            "invalid hostname address",
            addresses(json!([{"type": "Hostname", "value": "a.example:80"}])),
            "spec.addresses[0]",
            "Hostname value must be empty or contain only valid characters",
        ),
        ok(
            "hostname address",
            addresses(json!([{"type": "Hostname", "value": "*.a.example"}, {"type": "Hostname"}])),
        ),
        bad(
            "label key format",
            infra(json!({"labels": {"bad key": "v"}})),
            "spec.infrastructure.labels",
            "Invalid value: \"object\": Label keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.",
        ),
        bad(
            "label key prefix too long",
            infra(json!({"labels": {(format!("{}.com/a", "p".repeat(250))): "v"}})),
            "spec.infrastructure.labels",
            "If specified, the label key's prefix must be a DNS subdomain not longer than 253 characters in total.",
        ),
        bad(
            "annotation key format",
            infra(json!({"annotations": {"-a": "v"}})),
            "spec.infrastructure.annotations",
            "Annotation keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.",
        ),
        bad(
            "annotation key prefix too long",
            infra(json!({"annotations": {("a".repeat(253)): "v"}})),
            "spec.infrastructure.annotations",
            "If specified, the annotation key's prefix must be a DNS subdomain not longer than 253 characters in total.",
        ),
        ok(
            "qualified keys",
            infra(json!({"labels": {"example.com/app": "v"}, "annotations": {"a.b/c_d.e": "v"}})),
        ),
        bad(
            "perPort ports unique",
            frontend(
                json!({"default": {}, "perPort": [{"port": 443, "tls": {}}, {"port": 443, "tls": {}}]}),
            ),
            "spec.tls.frontend.perPort",
            "Port for TLS configuration must be unique within the Gateway",
        ),
    ];
    run(cases);
}

#[test]
fn defaults_are_applied_exactly() {
    let doc = with(
        gateway(),
        &[
            (
                "/spec/listeners",
                json!([
                    {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"kinds": [{"kind": "HTTPRoute"}]}},
                    {"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "c"}]}, "allowedRoutes": {"namespaces": {}}},
                ]),
            ),
            ("/spec/addresses", json!([{"value": "10.0.0.1"}])),
            ("/spec/allowedListeners", json!({})),
            (
                "/spec/tls",
                json!({
                    "backend": {"clientCertificateRef": {"name": "client"}},
                    "frontend": {
                        "default": {"validation": {"caCertificateRefs": ca_refs()}},
                        "perPort": [{"port": 443, "tls": {"validation": {"caCertificateRefs": ca_refs()}}}]
                    }
                }),
            ),
        ],
    );
    let spec = accept(&doc).to_value()["spec"].clone();
    let ca = json!([{"group": "", "kind": "ConfigMap", "name": "ca"}]);
    let expected = json!({
        "addresses": [{"type": "IPAddress", "value": "10.0.0.1"}],
        "allowedListeners": {"namespaces": {"from": "None"}},
        "gatewayClassName": "gwsim",
        "listeners": [
            {"allowedRoutes": {"kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}], "namespaces": {"from": "Same"}},
             "name": "http", "port": 80, "protocol": "HTTP"},
            {"allowedRoutes": {"namespaces": {"from": "Same"}},
             "name": "https", "port": 443, "protocol": "HTTPS",
             "tls": {"certificateRefs": [{"group": "", "kind": "Secret", "name": "c"}], "mode": "Terminate"}}
        ],
        "tls": {
            "backend": {"clientCertificateRef": {"group": "", "kind": "Secret", "name": "client"}},
            "frontend": {
                "default": {"validation": {"caCertificateRefs": ca, "mode": "AllowValidOnly"}},
                "perPort": [{"port": 443, "tls": {"validation": {"caCertificateRefs": ca, "mode": "AllowValidOnly"}}}]
            }
        }
    });
    assert_eq!(spec, expected);
}
