//! Admission tests shared by every kind: the pipeline, the API server's message shapes,
//! defaulting, strict decoding, metadata, status and generation. Per-resource rule tables live
//! in `tests/`.

use serde_json::{Value, json};

use super::*;

mod backendtlspolicy;
mod crd_messages;
mod gateway;
mod httproute;
mod l4route;
mod listenerset;
mod other_kinds;
mod pipeline;
mod versions;

/// One table row: a document and what admission must say about it.
pub(super) struct Case {
    pub name: String,
    pub doc: Value,
    /// `None`: accepted. `Some((field, needle))`: rejected with a cause at `field` whose
    /// detail contains `needle`.
    pub expect: Option<(String, String)>,
}

/// An accepted row.
pub(super) fn ok(name: &str, doc: Value) -> Case {
    Case {
        name: name.to_string(),
        doc,
        expect: None,
    }
}

/// A rejected row.
pub(super) fn bad(name: &str, doc: Value, field: &str, needle: &str) -> Case {
    Case {
        name: name.to_string(),
        doc,
        expect: Some((field.to_string(), needle.to_string())),
    }
}

/// `base` with each `(pointer, value)` set.
pub(super) fn with(base: Value, edits: &[(&str, Value)]) -> Value {
    let mut doc = base;
    for (pointer, value) in edits {
        set(&mut doc, pointer, value.clone());
    }
    doc
}

/// Runs every row and reports every failing row at once.
pub(super) fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in &cases {
        match (admit(&case.doc, None), &case.expect) {
            (Ok(_), None) => {}
            (Err(e), None) => failures.push(format!("{}: expected acceptance, got {e}", case.name)),
            (Ok(_), Some((field, needle))) => failures.push(format!(
                "{}: expected rejection at {field} ({needle}), got acceptance",
                case.name
            )),
            (Err(AdmitError::Rejected(r)), Some((field, needle))) => {
                if !has_cause(&r, field, needle) {
                    failures.push(format!(
                        "{}: expected a cause at {field} containing {needle:?}, got {r}",
                        case.name
                    ));
                }
            }
            (Err(e), Some(_)) => failures.push(format!("{}: unexpected error {e}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// `n` distinct values made by `make`.
pub(super) fn many(n: usize, make: impl Fn(usize) -> Value) -> Value {
    Value::Array((0..n).map(make).collect())
}

/// Parses a YAML fixture into a document.
pub(super) fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("fixture is valid YAML")
}

/// Admits as a create; panics with the rejection when refused.
pub(super) fn accept(doc: &Value) -> Object {
    match admit(doc, None) {
        Ok(object) => object,
        Err(e) => panic!("expected acceptance, got: {e}"),
    }
}

/// Admits as a create and expects a rejection.
pub(super) fn reject(doc: &Value) -> Rejection {
    match admit(doc, None) {
        Ok(object) => panic!("expected rejection, got: {:?}", object.to_value()),
        Err(AdmitError::Rejected(r)) => r,
        Err(other) => panic!("expected rejection, got {other}"),
    }
}

/// A rejection has a cause at `field` whose detail contains `needle`.
pub(super) fn has_cause(r: &Rejection, field: &str, needle: &str) -> bool {
    r.causes
        .iter()
        .any(|c| c.field == field && c.detail.contains(needle))
}

/// A minimal valid HTTPRoute, as JSON, for tests to modify.
pub(super) fn http_route() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "shop", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}
    })
}

/// A minimal valid Gateway.
pub(super) fn gateway() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "default"},
        "spec": {"gatewayClassName": "gwsim", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}
    })
}

/// A minimal valid GRPCRoute.
pub(super) fn grpc_route() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GRPCRoute",
        "metadata": {"name": "rpc", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 50051}]}]}
    })
}

/// Sets `value` at a JSON pointer, creating objects on the way.
pub(super) fn set(doc: &mut Value, pointer: &str, value: Value) {
    let mut at = doc;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Ok(index) = part.parse::<usize>()
            && at.is_array()
        {
            if last {
                at[index] = value;
                return;
            }
            at = &mut at[index];
        } else {
            if last {
                at[*part] = value;
                return;
            }
            if at.get(*part).is_none() {
                at[*part] = json!({});
            }
            at = &mut at[*part];
        }
    }
}

#[test]
fn unknown_kind_is_reported_as_such() {
    let doc = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "x"}});
    assert_eq!(
        admit(&doc, None),
        Err(AdmitError::UnknownKind {
            api_version: "v1".into(),
            kind: "LimitRange".into()
        })
    );
    for doc in [json!(null), json!(3), json!("x"), json!([]), json!({})] {
        assert!(matches!(
            admit(&doc, None),
            Err(AdmitError::UnknownKind { .. })
        ));
    }
}

#[test]
fn accepts_a_plain_http_route_and_defaults_it() {
    let object = accept(&http_route());
    let out = object.to_value();
    assert_eq!(
        out["spec"],
        json!({
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}],
            "rules": [{
                "backendRefs": [{"group": "", "kind": "Service", "name": "svc", "port": 80, "weight": 1}],
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]
            }]
        })
    );
    assert_eq!(out["metadata"]["generation"], 1);
    assert!(out.get("status").is_none());
}

#[test]
fn gateway_gets_defaults_and_pending_status_on_create() {
    let out = accept(&gateway()).to_value();
    assert_eq!(
        out["spec"]["listeners"][0]["allowedRoutes"],
        json!({"namespaces": {"from": "Same"}})
    );
    let conditions = out["status"]["conditions"].as_array().expect("conditions");
    let types: Vec<&str> = conditions
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, ["Accepted", "Programmed"]);
    for c in conditions {
        assert_eq!(c["status"], "Unknown");
        assert_eq!(c["reason"], "Pending");
        assert_eq!(c["message"], "Waiting for controller");
        assert_eq!(c["lastTransitionTime"], "1970-01-01T00:00:00Z");
    }
}

#[test]
fn core_kinds_decode_strictly() {
    let svc = yaml(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports:\n  - port: 80\n    targetPort: 8080\n",
    );
    let object = accept(&svc);
    assert_eq!(object.key().namespace, "default");
    let bad = yaml(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - port: 80\n    prot: 8080\n",
    );
    let r = reject(&bad);
    assert!(has_cause(&r, "spec.ports[0].prot", "unknown field"), "{r}");
    let ns = yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, namespace: b}\n");
    assert_eq!(accept(&ns).key().namespace, "");
}

#[test]
fn gateway_class_gets_pending_status_on_create() {
    let class = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "gwsim"},
        "spec": {"controllerName": "gwsim.dev/controller"},
        "status": {"conditions": []}
    });
    let status = accept(&class).to_value()["status"].clone();
    assert_eq!(
        status,
        json!({"conditions": [{
            "lastTransitionTime": "1970-01-01T00:00:00Z",
            "message": "Waiting for controller",
            "reason": "Pending",
            "status": "Unknown",
            "type": "Accepted"
        }]})
    );
}

#[test]
fn every_pattern_compiles() {
    use super::schema::Pattern;
    let patterns: [&Pattern; 22] = [
        &crate::admission::types::HOSTNAME,
        &crate::admission::types::SUBDOMAIN,
        &crate::admission::types::NAMESPACE,
        &crate::admission::types::GROUP,
        &crate::admission::types::KIND,
        &crate::admission::types::HEADER_NAME,
        &crate::admission::types::HEADER_VALUE,
        &crate::admission::types::CONTROLLER_NAME,
        &crate::admission::types::DURATION,
        &crate::admission::types::PATH_CHARS,
        &crate::admission::gateway::PROTOCOL,
        &crate::admission::gateway::ADDRESS_TYPE,
        &crate::admission::gateway::LABEL_VALUE,
        &crate::admission::gateway::QUALIFIED_KEY,
        &crate::admission::httproute::CORS_ORIGIN,
        &crate::admission::grpcroute::GRPC_SERVICE,
        &crate::admission::grpcroute::GRPC_METHOD,
        &crate::admission::metadata::DNS_SUBDOMAIN,
        &crate::admission::metadata::DNS_LABEL,
        &crate::admission::metadata::DNS_1035_LABEL,
        &crate::admission::metadata::QUALIFIED_NAME,
        &crate::admission::metadata::LABEL_VALUE,
    ];
    for p in patterns {
        // Forces compilation; a bad constant would panic here rather than on user input.
        let _ = p.is_match("");
        assert!(!p.source.is_empty());
    }
}

/// A value with every field the schema knows set, enums at their first value.
fn sample(node: &schema::Node) -> Value {
    use schema::Shape;
    match &node.shape {
        Shape::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|f| (f.name.to_string(), sample(&f.node)))
                .collect(),
        ),
        Shape::Str(spec) => json!(spec.one_of.map_or("x", |o| o[0])),
        Shape::Int(spec) => json!(spec.one_of.map_or(spec.min.unwrap_or(1).max(1), |o| o[0])),
        Shape::Bool => json!(true),
        Shape::List(spec) => json!([sample(&spec.items)]),
        Shape::Map(spec) => json!({"k": sample(&spec.values)}),
        Shape::Any => json!({}),
    }
}

/// Every field the schemas accept survives the typed structs: nothing gwsim admits is lost
/// on the way to the controller.
#[test]
fn typed_structs_keep_every_schema_field() {
    let kinds = GatewayApiVersion::ALL.into_iter().flat_map(|v| {
        [
            (Kind::GatewayClass, gatewayclass::spec()),
            (Kind::Gateway, crate::admission::gateway::spec(v)),
            (Kind::HttpRoute, crate::admission::httproute::spec(v)),
            (Kind::GrpcRoute, grpcroute::spec(v)),
            (Kind::ReferenceGrant, referencegrant::spec()),
            (
                Kind::BackendTlsPolicy,
                crate::admission::backendtlspolicy::spec(),
            ),
        ]
    });
    for (kind, spec) in kinds {
        let doc = json!({"metadata": {"name": "x"}, "spec": sample(&spec)});
        let object = typed(kind, &doc).unwrap_or_else(|c| panic!("{kind}: {c}"));
        assert_eq!(object.to_value()["spec"], doc["spec"], "{kind}");
    }
}

/// Follows `$ref` into `$defs` and unwraps the `Option` encodings schemars uses.
fn resolve<'a>(defs: &'a Value, mut s: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            match defs.get(name) {
                Some(def) => s = def,
                None => return s,
            }
        } else if let Some(alts) = s
            .get("anyOf")
            .or_else(|| s.get("oneOf"))
            .and_then(Value::as_array)
        {
            match alts.iter().find(|a| a.get("type") != Some(&json!("null"))) {
                Some(a) => s = a,
                None => return s,
            }
        } else {
            return s;
        }
    }
}

/// Every property of the generated struct's JSON schema is a field of ours, recursively.
fn missing_fields(
    defs: &Value,
    generated: &Value,
    ours: &schema::Node,
    path: &str,
    out: &mut Vec<String>,
) {
    use schema::Shape;
    let generated = resolve(defs, generated);
    match &ours.shape {
        Shape::Object(fields) => {
            let Some(props) = generated.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (name, sub) in props {
                match fields.iter().find(|f| f.name == name) {
                    Some(f) => missing_fields(defs, sub, &f.node, &format!("{path}.{name}"), out),
                    None => out.push(format!("{path}.{name}")),
                }
            }
        }
        Shape::List(spec) => {
            if let Some(items) = generated.get("items") {
                missing_fields(defs, items, &spec.items, &format!("{path}[]"), out);
            }
        }
        Shape::Map(spec) => {
            if let Some(values) = generated.get("additionalProperties") {
                missing_fields(defs, values, &spec.values, &format!("{path}{{}}"), out);
            }
        }
        _ => {}
    }
}

/// The reverse of [`typed_structs_keep_every_schema_field`]: every field of the generated
/// experimental structs is in our schemas, so strict decoding never refuses a field gwsim
/// parses. The structs are v1.5.1's, so they are compared with the v1.5 rule set (v1.6 dropped
/// `sessionPersistence.idleTimeout`, which its strict decoding refuses, as the API server does).
#[test]
fn schemas_know_every_generated_field() {
    let v = GatewayApiVersion::V1_5;
    use gateway_api::apis::experimental::{
        gatewayclasses::GatewayClassSpec, gateways::GatewaySpec, grpcroutes::GrpcRouteSpec,
        httproutes::HttpRouteSpec, referencegrants::ReferenceGrantSpec,
    };
    let generated = [
        (
            "GatewayClass",
            serde_json::to_value(schemars::schema_for!(GatewayClassSpec)),
            gatewayclass::spec(),
        ),
        (
            "Gateway",
            serde_json::to_value(schemars::schema_for!(GatewaySpec)),
            crate::admission::gateway::spec(v),
        ),
        (
            "HTTPRoute",
            serde_json::to_value(schemars::schema_for!(HttpRouteSpec)),
            crate::admission::httproute::spec(v),
        ),
        (
            "GRPCRoute",
            serde_json::to_value(schemars::schema_for!(GrpcRouteSpec)),
            grpcroute::spec(v),
        ),
        (
            "ReferenceGrant",
            serde_json::to_value(schemars::schema_for!(ReferenceGrantSpec)),
            referencegrant::spec(),
        ),
        (
            "BackendTLSPolicy",
            serde_json::to_value(schemars::schema_for!(
                gateway_api::apis::standard::backendtlspolicies::BackendTlsPolicySpec
            )),
            crate::admission::backendtlspolicy::spec(),
        ),
    ];
    let mut missing = Vec::new();
    for (kind, schema, ours) in generated {
        let schema = schema.expect("schema serializes");
        let defs = schema.get("$defs").cloned().unwrap_or(json!({}));
        missing_fields(&defs, &schema, &ours, &format!("{kind}.spec"), &mut missing);
    }
    assert!(
        missing.is_empty(),
        "fields gwsim parses but admission refuses: {missing:?}"
    );
}
