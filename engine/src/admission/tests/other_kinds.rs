//! GatewayClass, GRPCRoute, ReferenceGrant and the core kinds.

use serde_json::{Value, json};

use super::{Case, accept, bad, grpc_route, has_cause, many, ok, reject, run, with, yaml};
use crate::admission::{AdmitError, admit};
use crate::object::Object;

fn gateway_class() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "gwsim"},
        "spec": {"controllerName": "gwsim.dev/controller"}
    })
}

fn reference_grant() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "grant", "namespace": "backends"},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}],
            "to": [{"group": "", "kind": "Service"}]
        }
    })
}

#[test]
fn gateway_class_schema() {
    let cases: Vec<Case> = vec![
        bad(
            "no controller",
            with(gateway_class(), &[("/spec", json!({}))]),
            "spec.controllerName",
            "Required value",
        ),
        bad(
            "controller without path",
            with(
                gateway_class(),
                &[("/spec/controllerName", json!("example.com"))],
            ),
            "spec.controllerName",
            "should match",
        ),
        bad(
            "controller too long",
            with(
                gateway_class(),
                &[(
                    "/spec/controllerName",
                    json!(format!("a.com/{}", "p".repeat(250))),
                )],
            ),
            "spec.controllerName",
            "Too long",
        ),
        ok(
            "controller",
            with(
                gateway_class(),
                &[("/spec/controllerName", json!("example.com/a/b"))],
            ),
        ),
        bad(
            "description too long",
            with(
                gateway_class(),
                &[("/spec/description", json!("d".repeat(65)))],
            ),
            "spec.description",
            "Too long: may not be more than 64 bytes",
        ),
        ok(
            "description",
            with(
                gateway_class(),
                &[("/spec/description", json!("d".repeat(64)))],
            ),
        ),
        bad(
            "parametersRef without name",
            with(
                gateway_class(),
                &[("/spec/parametersRef", json!({"group": "x.io", "kind": "P"}))],
            ),
            "spec.parametersRef.name",
            "Required value",
        ),
        bad(
            "parametersRef namespace",
            with(
                gateway_class(),
                &[(
                    "/spec/parametersRef",
                    json!({"group": "x.io", "kind": "P", "name": "p", "namespace": "A_B"}),
                )],
            ),
            "spec.parametersRef.namespace",
            "should match",
        ),
        ok(
            "parametersRef",
            with(
                gateway_class(),
                &[(
                    "/spec/parametersRef",
                    json!({"group": "x.io", "kind": "P", "name": "p", "namespace": "ns"}),
                )],
            ),
        ),
    ];
    run(cases);
}

#[test]
fn gateway_class_controller_name_is_immutable() {
    let stored = accept(&gateway_class());
    let changed = with(
        gateway_class(),
        &[("/spec/controllerName", json!("other.dev/controller"))],
    );
    match admit(&changed, Some(&stored)) {
        Err(AdmitError::Rejected(r)) => {
            assert_eq!(
                r.to_string(),
                "GatewayClass \"gwsim\" is invalid: spec.controllerName: Invalid value: \"string\": Value is immutable"
            );
        }
        other => panic!("expected rejection, got {other:?}"),
    }
    // The same change is fine as a create, and an update that keeps the name is fine.
    assert!(admit(&changed, None).is_ok());
    let described = with(gateway_class(), &[("/spec/description", json!("d"))]);
    let updated = admit(&described, Some(&stored)).expect("same controller");
    assert_eq!(updated.generation(), 2);
}

#[test]
fn grpc_route_rules() {
    let rule = |r: Value| with(grpc_route(), &[("/spec/rules", json!([r]))]);
    let method = |m: Value| {
        rule(json!({"matches": [{"method": m}], "backendRefs": [{"name": "s", "port": 1}]}))
    };
    let filters = |f: Value| rule(json!({"filters": f, "backendRefs": [{"name": "s", "port": 1}]}));
    let mp = "spec.rules[0].matches[0].method";
    let cases: Vec<Case> = vec![
        ok(
            "no rules",
            with(grpc_route(), &[("/spec/rules", json!([]))]),
        ),
        bad(
            "17 rules",
            with(grpc_route(), &[("/spec/rules", many(17, |_| json!({})))]),
            "spec.rules",
            "Too many: 17",
        ),
        bad(
            "65 matches",
            rule(json!({"matches": many(65, |i| json!({"method": {"service": format!("s{i}")}}))})),
            "spec.rules[0].matches",
            "Too many: 65",
        ),
        bad(
            "129 matches in all",
            with(
                grpc_route(),
                &[(
                    "/spec/rules",
                    many(
                        3,
                        |_| json!({"matches": many(43, |i| json!({"method": {"service": format!("s{i}")}}))}),
                    ),
                )],
            ),
            "spec.rules",
            "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128",
        ),
        ok(
            "128 matches and a rule without matches",
            with(
                grpc_route(),
                &[(
                    "/spec/rules",
                    json!([{"matches": many(64, |i| json!({"method": {"service": format!("s{i}")}}))}, {"matches": many(64, |i| json!({"method": {"service": format!("t{i}")}}))}, {}]),
                )],
            ),
        ),
        bad(
            "duplicate rule names (experimental)",
            with(
                grpc_route(),
                &[("/spec/rules", json!([{"name": "a"}, {"name": "a"}]))],
            ),
            "spec.rules",
            "Invalid value: \"array\": Rule name must be unique within the route",
        ),
        bad(
            "method type enum",
            method(json!({"type": "Prefix", "service": "a"})),
            "spec.rules[0].matches[0].method.type",
            "Unsupported value: \"Prefix\": supported values: \"Exact\", \"RegularExpression\"",
        ),
        bad(
            "service too long",
            method(json!({"service": "s".repeat(1025)})),
            "spec.rules[0].matches[0].method.service",
            "Too long: may not be more than 1024 bytes",
        ),
        bad(
            "method too long",
            method(json!({"method": "m".repeat(1025)})),
            "spec.rules[0].matches[0].method.method",
            "Too long",
        ),
        bad(
            "neither service nor method",
            method(json!({})),
            mp,
            "Invalid value: \"object\": One or both of 'service' or 'method' must be specified",
        ),
        bad(
            "bad service",
            method(json!({"service": "foo/bar"})),
            mp,
            "service must only contain valid characters",
        ),
        bad(
            "bad method",
            method(json!({"method": "Get.Thing"})),
            mp,
            "method must only contain valid characters",
        ),
        ok(
            "exact service and method",
            method(json!({"service": ".Foo.bar_v1", "method": "Get_2"})),
        ),
        ok(
            "regex service",
            method(json!({"type": "RegularExpression", "service": "foo/.*"})),
        ),
        bad(
            "duplicate header match",
            rule(
                json!({"matches": [{"headers": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}]}),
            ),
            "spec.rules[0].matches[0].headers[1]",
            "Duplicate value",
        ),
        bad(
            "header value too long",
            rule(json!({"matches": [{"headers": [{"name": "a", "value": "v".repeat(4097)}]}]})),
            "spec.rules[0].matches[0].headers[0].value",
            "Too long",
        ),
        bad(
            "filter type enum",
            filters(json!([{"type": "URLRewrite"}])),
            "spec.rules[0].filters[0].type",
            "Unsupported value: \"URLRewrite\": supported values: \"ResponseHeaderModifier\", \"RequestHeaderModifier\", \"RequestMirror\", \"ExtensionRef\"",
        ),
        bad(
            "17 filters",
            filters(many(
                17,
                |i| json!({"type": "ExtensionRef", "extensionRef": {"group": "x.io", "kind": "F", "name": format!("f{i}")}}),
            )),
            "spec.rules[0].filters",
            "Too many: 17",
        ),
        bad(
            "repeated request header modifier",
            filters(
                json!([{"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["a"]}}, {"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["b"]}}]),
            ),
            "spec.rules[0].filters",
            "RequestHeaderModifier filter cannot be repeated",
        ),
        bad(
            "repeated response header modifier",
            filters(
                json!([{"type": "ResponseHeaderModifier", "responseHeaderModifier": {}}, {"type": "ResponseHeaderModifier", "responseHeaderModifier": {}}]),
            ),
            "spec.rules[0].filters",
            "ResponseHeaderModifier filter cannot be repeated",
        ),
        ok(
            "two mirrors",
            filters(
                json!([{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 1}}}, {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "n", "port": 1}}}]),
            ),
        ),
        bad(
            "mirror type without member",
            filters(json!([{"type": "RequestMirror"}])),
            "spec.rules[0].filters[0]",
            "filter.requestMirror must be specified for RequestMirror filter.type",
        ),
        bad(
            "member with other type",
            filters(
                json!([{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "extensionRef": {"group": "x.io", "kind": "F", "name": "f"}}]),
            ),
            "spec.rules[0].filters[0]",
            "filter.extensionRef must be nil if the filter.type is not ExtensionRef",
        ),
        bad(
            "response modifier type without member",
            filters(json!([{"type": "ResponseHeaderModifier"}])),
            "spec.rules[0].filters[0]",
            "filter.responseHeaderModifier must be specified for ResponseHeaderModifier filter.type",
        ),
        bad(
            "request modifier with other type",
            filters(
                json!([{"type": "ExtensionRef", "extensionRef": {"group": "x.io", "kind": "F", "name": "f"}, "requestHeaderModifier": {}}]),
            ),
            "spec.rules[0].filters[0]",
            "filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier",
        ),
        bad(
            "mirror percent and fraction",
            filters(
                json!([{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 1}, "percent": 1, "fraction": {"numerator": 1}}}]),
            ),
            "spec.rules[0].filters[0].requestMirror",
            "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
        ),
        bad(
            "mirror fraction above one",
            filters(
                json!([{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 1}, "fraction": {"numerator": 3, "denominator": 2}}}]),
            ),
            "spec.rules[0].filters[0].requestMirror.fraction",
            "numerator must be less than or equal to denominator",
        ),
        bad(
            "mirror service without port",
            filters(
                json!([{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m"}}}]),
            ),
            "spec.rules[0].filters[0].requestMirror.backendRef",
            "Must have port for Service reference",
        ),
        bad(
            "service backend without port",
            rule(json!({"backendRefs": [{"name": "s"}]})),
            "spec.rules[0].backendRefs[0]",
            "Must have port for Service reference",
        ),
        bad(
            "backend filters repeated",
            rule(
                json!({"backendRefs": [{"name": "s", "port": 1, "filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {}}, {"type": "ResponseHeaderModifier", "responseHeaderModifier": {}}]}]}),
            ),
            "spec.rules[0].backendRefs[0].filters",
            "ResponseHeaderModifier filter cannot be repeated",
        ),
        bad(
            "parentRefs same parent",
            with(
                grpc_route(),
                &[("/spec/parentRefs", json!([{"name": "gw"}, {"name": "gw"}]))],
            ),
            "spec.parentRefs",
            "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent",
        ),
    ];
    run(cases);
}

#[test]
fn grpc_route_defaults() {
    let doc = with(
        grpc_route(),
        &[(
            "/spec/rules",
            json!([{
                "matches": [{"method": {"service": "a.B"}, "headers": [{"name": "x", "value": "1"}]}],
                "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 1}, "fraction": {"numerator": 1}}}],
                "backendRefs": [{"name": "s", "port": 1}]
            }]),
        )],
    );
    let spec = accept(&doc).to_value()["spec"].clone();
    assert_eq!(
        spec["rules"][0],
        json!({
            "backendRefs": [{"group": "", "kind": "Service", "name": "s", "port": 1, "weight": 1}],
            "filters": [{"requestMirror": {"backendRef": {"group": "", "kind": "Service", "name": "m", "port": 1}, "fraction": {"denominator": 100, "numerator": 1}}, "type": "RequestMirror"}],
            "matches": [{"headers": [{"name": "x", "type": "Exact", "value": "1"}], "method": {"service": "a.B", "type": "Exact"}}]
        })
    );
    // No default rules for GRPCRoute.
    let mut doc = grpc_route();
    doc["spec"].as_object_mut().expect("spec").remove("rules");
    assert!(accept(&doc).to_value()["spec"].get("rules").is_none());
}

#[test]
fn reference_grant_schema() {
    let cases: Vec<Case> = vec![
        ok("v1beta1 grant", reference_grant()),
        bad(
            "no from",
            with(
                reference_grant(),
                &[("/spec", json!({"to": [{"group": "", "kind": "Service"}]}))],
            ),
            "spec.from",
            "Required value",
        ),
        bad(
            "no to",
            with(
                reference_grant(),
                &[(
                    "/spec",
                    json!({"from": [{"group": "", "kind": "Service", "namespace": "a"}]}),
                )],
            ),
            "spec.to",
            "Required value",
        ),
        bad(
            "empty from",
            with(reference_grant(), &[("/spec/from", json!([]))]),
            "spec.from",
            "should have at least 1 items",
        ),
        bad(
            "17 to",
            with(
                reference_grant(),
                &[(
                    "/spec/to",
                    many(
                        17,
                        |i| json!({"group": "", "kind": "Service", "name": format!("s{i}")}),
                    ),
                )],
            ),
            "spec.to",
            "Too many: 17",
        ),
        bad(
            "from without namespace",
            with(
                reference_grant(),
                &[("/spec/from/0", json!({"group": "", "kind": "Service"}))],
            ),
            "spec.from[0].namespace",
            "Required value",
        ),
        bad(
            "from without group",
            with(
                reference_grant(),
                &[(
                    "/spec/from/0",
                    json!({"kind": "HTTPRoute", "namespace": "a"}),
                )],
            ),
            "spec.from[0].group",
            "Required value",
        ),
        bad(
            "to without kind",
            with(reference_grant(), &[("/spec/to/0", json!({"group": ""}))]),
            "spec.to[0].kind",
            "Required value",
        ),
        bad(
            "to name too long",
            with(
                reference_grant(),
                &[("/spec/to/0/name", json!("n".repeat(254)))],
            ),
            "spec.to[0].name",
            "Too long",
        ),
        ok(
            "to name",
            with(reference_grant(), &[("/spec/to/0/name", json!("svc"))]),
        ),
        bad(
            "status is not a field",
            with(reference_grant(), &[("/status", json!({}))]),
            "status",
            "unknown field \"status\"",
        ),
    ];
    run(cases);
    // ReferenceGrant has no CEL rules, so a blocking error adds no "rules not checked" cause.
    let r = reject(&with(reference_grant(), &[("/spec/from", json!([]))]));
    let r2 = reject(&with(
        reference_grant(),
        &[("/spec/from/0", json!({"group": "", "kind": "Service"}))],
    ));
    assert_eq!(r.causes.len(), 1, "{r}");
    assert!(r2.causes.iter().all(|c| !c.field.is_empty()), "{r2}");
}

#[test]
fn core_kinds() {
    let cases: Vec<Case> = vec![
        ok(
            "service",
            yaml(
                "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: kubernetes.io/h2c}]\n",
            ),
        ),
        bad(
            "service name must be a DNS-1035 label",
            yaml("apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {}\n"),
            "metadata.name",
            "Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ),
        bad(
            "unknown service field",
            yaml("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {portz: []}\n"),
            "spec.portz",
            "unknown field \"spec.portz\"",
        ),
        bad(
            "service port as word",
            yaml(
                "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: eighty}]\n",
            ),
            "spec.ports[0].port",
            "invalid type",
        ),
        bad(
            "unknown metadata field",
            yaml(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, lables: {a: b}}\ndata: {k: v}\n",
            ),
            "metadata.lables",
            "unknown field",
        ),
        bad(
            "label value as number",
            yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: 1}}\n"),
            "metadata.labels[a]",
            "must be of type string: \"integer\"",
        ),
        bad(
            "bad label key",
            yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {'-a': b}}\n"),
            "metadata.labels",
            "Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        bad(
            "namespace name must be a label",
            yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n"),
            "metadata.name",
            "Invalid value: \"a.b\": must not contain dots",
        ),
        bad(
            "namespace name must be a lowercase label",
            yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: A_b}\n"),
            "metadata.name",
            "Invalid value: \"A_b\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
        ok(
            "secret",
            yaml(
                "apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\nstringData: {tls.crt: cert, tls.key: key}\n",
            ),
        ),
        ok(
            "deployment",
            yaml(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: echo}]}\n",
            ),
        ),
        bad(
            "pod without name",
            yaml("apiVersion: v1\nkind: Pod\nmetadata: {namespace: a}\nspec: {containers: []}\n"),
            "metadata.name",
            "Required value",
        ),
    ];
    run(cases);
    // Status is kept as given for core kinds.
    let pod = yaml(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\nstatus: {phase: Running, podIP: 10.0.0.9}\n",
    );
    match accept(&pod) {
        Object::Pod(p) => {
            let status = p.status.expect("status kept");
            assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.9"));
            assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
        }
        other => panic!("expected a Pod, got {other:?}"),
    }
    let slice = yaml(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]\nports: [{name: http, port: 8080}]\n",
    );
    assert!(matches!(accept(&slice), Object::EndpointSlice(_)));
    let r = reject(&yaml(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1}\naddressType: IPv4\nendpoints: [{adresses: [10.0.0.1]}]\n",
    ));
    assert!(
        has_cause(&r, "endpoints[0].adresses", "unknown field"),
        "{r}"
    );
}

/// Base64 wrapped over several lines (as `base64` prints it) decodes, as the API server's Go
/// decoder skips newlines; a bad byte fails the document with the server's decoding error.
#[test]
fn secret_data_base64_as_the_api_server_decodes_it() {
    let wrapped = yaml(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: |\n    aGVs\n    bG8=\n  tls.key: aGk=\n",
    );
    let object = accept(&wrapped);
    assert_eq!(object.to_value()["data"]["tls.crt"], json!("aGVsbG8="));
    let binary = yaml(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca}\nbinaryData:\n  ca.der: \"aGVs\\r\\nbG8=\"\n",
    );
    assert_eq!(
        accept(&binary).to_value()["binaryData"]["ca.der"],
        json!("aGVsbG8=")
    );
    for (doc, message) in [
        (
            yaml("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: 'aGVs bG8='}\n"),
            "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 4",
        ),
        (
            yaml(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbinaryData: {k: aGVsbG8}\n",
            ),
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: illegal base64 data at input byte 4",
        ),
    ] {
        let r = reject(&doc);
        assert_eq!(r.to_string(), message);
        assert!(r.causes.is_empty());
    }
}
