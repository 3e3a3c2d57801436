//! The pipeline as a whole: strict decoding, the blocking-error rule, metadata, messages as
//! rendered, versions, status and generation on update, and robustness against odd input.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::{accept, gateway, has_cause, http_route, reject, with, yaml};
use crate::admission::{AdmitError, Cause, CauseReason, Rejection, admit};
use crate::object::{Kind, Object};

#[test]
fn unknown_fields_are_refused_with_full_paths() {
    let doc = with(
        http_route(),
        &[
            ("/spec/rules/0/matchs", json!([])),
            ("/spec/rules/0/backendRefs/0/prot", json!(80)),
            ("/metadata/lables", json!({})),
            ("/extra", json!(1)),
        ],
    );
    let r = reject(&doc);
    let fields: Vec<&str> = r.causes.iter().map(|c| c.field.as_str()).collect();
    // Document order; nothing but the unknown fields is reported.
    assert_eq!(
        fields,
        [
            "metadata.lables",
            "spec.rules[0].backendRefs[0].prot",
            "spec.rules[0].matchs",
            "extra"
        ]
    );
    assert_eq!(
        r.causes[2],
        Cause {
            field: "spec.rules[0].matchs".into(),
            detail: "unknown field \"spec.rules[0].matchs\"".into(),
            reason: CauseReason::UnknownField,
        }
    );
    // Status is decoded strictly too, then discarded on create.
    let with_status = with(
        http_route(),
        &[("/status", json!({"parents": [], "bogus": 1}))],
    );
    let r = reject(&with_status);
    assert_eq!(r.causes.len(), 1, "{r}");
    assert!(has_cause(&r, "status.bogus", "unknown field"), "{r}");
    let with_status = with(
        http_route(),
        &[(
            "/status",
            json!({"parents": [{"parentRef": {"name": "gw"}, "controllerName": 5}]}),
        )],
    );
    assert!(accept(&with_status).to_value().get("status").is_none());
}

#[test]
fn nulls_are_pruned_before_defaulting() {
    let doc = with(
        http_route(),
        &[
            ("/spec/hostnames", Value::Null),
            (
                "/spec/rules/0/matches",
                json!([{"path": null, "method": null}]),
            ),
        ],
    );
    let spec = accept(&doc).to_value()["spec"].clone();
    assert!(spec.get("hostnames").is_none());
    assert_eq!(
        spec["rules"][0]["matches"],
        json!([{"path": {"type": "PathPrefix", "value": "/"}}])
    );
    let r = reject(&with(
        http_route(),
        &[("/spec/parentRefs/0/name", Value::Null)],
    ));
    assert!(
        has_cause(&r, "spec.parentRefs[0].name", "Required value"),
        "{r}"
    );
}

#[test]
fn blocking_errors_skip_the_cel_rules() {
    // Required (blocking) plus a CEL violation: only the schema error and the extra cause.
    let doc = with(
        http_route(),
        &[
            ("/spec/parentRefs/0", json!({"kind": "Gateway"})),
            ("/spec/rules/0/backendRefs", json!([{"name": "svc"}])),
        ],
    );
    let r = reject(&doc);
    assert_eq!(
        r.causes,
        vec![
            Cause {
                field: "spec.parentRefs[0].name".into(),
                detail: "Required value".into(),
                reason: CauseReason::FieldValueRequired,
            },
            Cause {
                field: String::new(),
                detail: "Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation".into(),
                reason: CauseReason::FieldValueInvalid,
            },
        ]
    );
    for blocking in [
        with(
            http_route(),
            &[("/spec/rules/0/matches", json!([{"method": "FETCH"}]))],
        ),
        with(
            http_route(),
            &[("/spec/hostnames", json!(["a".repeat(254)]))],
        ),
        with(http_route(), &[("/spec/hostnames", json!([1]))]),
        with(
            http_route(),
            &[("/spec/hostnames", Value::Array(vec![json!("a.b"); 17]))],
        ),
    ] {
        let r = reject(&blocking);
        assert_eq!(r.causes.last().map(|c| c.field.as_str()), Some(""), "{r}");
    }

    // A pattern error does not block: the CEL rule runs and reports too.
    let doc = with(
        http_route(),
        &[
            ("/spec/hostnames", json!(["Bad.example"])),
            ("/spec/rules/0/backendRefs", json!([{"name": "svc"}])),
        ],
    );
    let r = reject(&doc);
    let fields: Vec<&str> = r.causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["spec.hostnames[0]", "spec.rules[0].backendRefs[0]"]
    );
    // Nor do bounds, minimum lengths and duplicates.
    let doc = with(
        http_route(),
        &[
            (
                "/spec/rules/0/backendRefs",
                json!([{"name": "svc", "weight": -1}]),
            ),
            (
                "/spec/rules/0/matches",
                json!([{"headers": [{"name": "a", "value": ""}, {"name": "a", "value": "b"}]}]),
            ),
        ],
    );
    let r = reject(&doc);
    assert!(r.causes.iter().all(|c| !c.field.is_empty()), "{r}");
    assert!(
        has_cause(
            &r,
            "spec.rules[0].backendRefs[0]",
            "Must have port for Service reference"
        ),
        "{r}"
    );
    assert!(
        has_cause(&r, "spec.rules[0].matches[0].headers[1]", "Duplicate value"),
        "{r}"
    );
}

#[test]
fn causes_come_in_a_fixed_order() {
    // Object-meta first, then schema errors in document order, then list types, then CEL.
    let doc = with(
        http_route(),
        &[
            ("/metadata/name", json!("Shop")),
            (
                "/spec/rules/0/matches",
                json!([{"queryParams": [{"name": "q", "value": "1"}, {"name": "q", "value": "2"}]}]),
            ),
            ("/spec/hostnames", json!(["Bad"])),
            (
                "/spec/rules/0/backendRefs",
                json!([{"name": "svc", "weight": -5}]),
            ),
        ],
    );
    let first = reject(&doc);
    let fields: Vec<&str> = first.causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "metadata.name",
            "spec.rules[0].backendRefs[0].weight",
            "spec.hostnames[0]",
            "spec.rules[0].matches[0].queryParams[1]",
            "spec.rules[0].backendRefs[0]",
        ]
    );
    assert_eq!(reject(&doc), first);
}

#[test]
fn rejections_render_as_the_api_server_does() {
    let doc = with(
        http_route(),
        &[(
            "/spec/rules/0/matches",
            json!([{"path": {"type": "Exact", "value": "api"}}]),
        )],
    );
    assert_eq!(
        reject(&doc).to_string(),
        "HTTPRoute \"shop\" is invalid: spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"
    );
    let doc = with(
        gateway(),
        &[
            ("/spec/listeners/0/port", json!(123_456_789)),
            ("/spec/listeners/0/protocol", json!("")),
        ],
    );
    let r = reject(&doc);
    assert_eq!(
        r.to_string(),
        "Gateway \"gw\" is invalid: [spec.listeners[0].port: Invalid value: 123456789: spec.listeners[0].port in body should be less than or equal to 65535, spec.listeners[0].protocol: Invalid value: \"\": spec.listeners[0].protocol in body should be at least 1 chars long, spec.listeners[0].protocol: Invalid value: \"\": spec.listeners[0].protocol in body should match '^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9]+$']"
    );
    let r = reject(&with(
        http_route(),
        &[("/spec/rules/0/backendRefs/0/port", json!("80"))],
    ));
    assert_eq!(
        r.to_string(),
        "HTTPRoute \"shop\" is invalid: [spec.rules[0].backendRefs[0].port: Invalid value: \"string\": spec.rules[0].backendRefs[0].port in body must be of type integer: \"string\", <nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"
    );
    let r = reject(&with(
        http_route(),
        &[("/spec/rules", Value::Array(vec![json!({}); 17]))],
    ));
    assert!(
        r.to_string()
            .contains("spec.rules: Too many: 17: must have at most 16 items"),
        "{r}"
    );
}

#[test]
fn metadata_rules() {
    let cases = [
        (
            with(http_route(), &[("/metadata/name", json!("Shop_1"))]),
            "metadata.name",
            "RFC 1123 subdomain",
        ),
        (
            with(http_route(), &[("/metadata/name", json!("a".repeat(254)))]),
            "metadata.name",
            "must be no more than 253 characters",
        ),
        (
            with(http_route(), &[("/metadata/name", json!(""))]),
            "metadata.name",
            "Required value",
        ),
        (
            with(http_route(), &[("/metadata/namespace", json!("Bad"))]),
            "metadata.namespace",
            "Invalid value: \"Bad\": a lowercase RFC 1123 label must consist of",
        ),
        (
            with(http_route(), &[("/metadata/labels", json!({"a": ["b"]}))]),
            "metadata.labels[a]",
            "must be of type string: \"array\"",
        ),
        (
            with(http_route(), &[("/metadata/annotations", json!("x"))]),
            "metadata.annotations",
            "must be of type object: \"string\"",
        ),
        (
            with(http_route(), &[("/metadata/labels", json!({"a": "b c"}))]),
            "metadata.labels",
            "Invalid value: \"b c\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ];
    for (doc, field, needle) in cases {
        let r = reject(&doc);
        assert!(has_cause(&r, field, needle), "{field} {needle}: {r}");
    }
    // A 253-character Gateway name is fine (GatewayNameMaximumLength).
    let long = "g".repeat(253);
    let object = accept(&with(gateway(), &[("/metadata/name", json!(long))]));
    assert_eq!(object.key().name.len(), 253);
    // No metadata at all: no name.
    let mut doc = http_route();
    doc.as_object_mut().expect("object").remove("metadata");
    let r = reject(&doc);
    assert!(has_cause(&r, "metadata.name", "Required value"), "{r}");
    assert_eq!(r.name, "");
    // Namespaced kinds get `default`; cluster-scoped kinds lose a namespace.
    let mut doc = http_route();
    doc["metadata"]
        .as_object_mut()
        .expect("meta")
        .remove("namespace");
    assert_eq!(accept(&doc).key().namespace, "default");
    let class = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "c", "namespace": "x"}, "spec": {"controllerName": "a.b/c"}});
    let object = accept(&class);
    assert_eq!(object.meta().namespace, None);
    assert_eq!(object.key().namespace, "");
}

#[test]
fn v1beta1_is_read_as_v1() {
    for kind in ["HTTPRoute", "Gateway", "GatewayClass", "ReferenceGrant"] {
        let doc = match kind {
            "HTTPRoute" => http_route(),
            "Gateway" => gateway(),
            "GatewayClass" => {
                json!({"apiVersion": "x", "kind": "GatewayClass", "metadata": {"name": "c"}, "spec": {"controllerName": "a.b/c"}})
            }
            _ => {
                json!({"apiVersion": "x", "kind": "ReferenceGrant", "metadata": {"name": "r"}, "spec": {"from": [{"group": "", "kind": "K", "namespace": "n"}], "to": [{"group": "", "kind": "Service"}]}})
            }
        };
        let doc = with(
            doc,
            &[("/apiVersion", json!("gateway.networking.k8s.io/v1beta1"))],
        );
        let object = accept(&doc);
        assert_eq!(object.kind().as_str(), kind);
        assert_eq!(
            object.to_value()["apiVersion"],
            "gateway.networking.k8s.io/v1"
        );
    }
}

#[test]
fn experimental_retry_parses_into_the_typed_struct() {
    let doc = yaml(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: retry}
spec:
  rules:
  - backendRefs: [{name: svc, port: 80}]
    retry:
      attempts: 3
      backoff: 100ms
      codes: [500, 503]
    timeouts: {request: 10s, backendRequest: 2s}
"#,
    );
    let Object::HttpRoute(route) = accept(&doc) else {
        panic!("expected an HTTPRoute");
    };
    let rules = route.spec.rules.expect("rules");
    let retry = rules[0].retry.clone().expect("retry");
    assert_eq!(retry.attempts, Some(3));
    assert_eq!(retry.backoff.as_deref(), Some("100ms"));
    assert_eq!(retry.codes, Some(vec![500, 503]));
    assert_eq!(
        rules[0].timeouts.clone().and_then(|t| t.backend_request),
        Some("2s".to_string())
    );
}

#[test]
fn status_and_generation_on_update() {
    // Create: generation 1, Gateway status defaulted, route status dropped.
    let stored = accept(&gateway());
    assert_eq!(stored.generation(), 1);

    // The controller writes a status; an update of the spec keeps it and bumps generation.
    let mut with_status = stored.clone();
    if let Object::Gateway(g) = &mut with_status {
        let status = g.status.as_mut().expect("status");
        if let Some(conditions) = status.conditions.as_mut() {
            conditions[0].status = "True".into();
            conditions[0].reason = "Accepted".into();
        }
        g.metadata.uid = Some("uid-1".into());
    }
    let changed = with(gateway(), &[("/spec/listeners/0/port", json!(8080))]);
    let updated = admit(&changed, Some(&with_status)).expect("valid update");
    assert_eq!(updated.generation(), 2);
    assert_eq!(updated.meta().uid.as_deref(), Some("uid-1"));
    let Object::Gateway(g) = &updated else {
        panic!("gateway");
    };
    let conditions = g.status.clone().and_then(|s| s.conditions).expect("kept");
    assert_eq!(conditions[0].reason, "Accepted");

    // Same spec, new labels: generation unchanged.
    let relabelled = with(changed, &[("/metadata/labels", json!({"a": "b"}))]);
    let same = admit(&relabelled, Some(&updated)).expect("valid update");
    assert_eq!(same.generation(), 2);

    // Routes: status dropped on create, kept from the stored object on update.
    let route = accept(&http_route());
    let mut stored_route = route.clone();
    if let Object::HttpRoute(r) = &mut stored_route {
        r.status = Some(
            serde_json::from_value(json!({"parents": [{
                "parentRef": {"name": "gw"},
                "controllerName": "gwsim.dev/controller",
                "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]
            }]}))
            .expect("route status"),
        );
    }
    let user_status = with(http_route(), &[("/status", json!({"parents": []}))]);
    let updated = admit(&user_status, Some(&stored_route)).expect("valid");
    assert_eq!(
        updated.to_value()["status"]["parents"][0]["controllerName"],
        "gwsim.dev/controller"
    );
    assert_eq!(updated.generation(), 1);
    // An `existing` of another kind is not this object's old version.
    let unrelated = admit(&http_route(), Some(&stored)).expect("create");
    assert_eq!(unrelated.generation(), 1);
    assert_eq!(unrelated.kind(), Kind::HttpRoute);
}

/// A random JSON value of bounded depth, biased towards the shapes admission looks at.
fn random_value(rng: &mut ChaCha8Rng, depth: u32) -> Value {
    let pick = if depth == 0 {
        rng.random_range(0..5)
    } else {
        rng.random_range(0..8)
    };
    match pick {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(rng.random_range(-70_000i64..70_000)),
        3 => json!(rng.random::<f64>() * 1e12),
        4 => json!(
            [
                "",
                "/",
                "a",
                "Exact",
                "PathPrefix",
                "RequestRedirect",
                "*",
                "Service",
                "1s",
                "10.0.0.1",
                "x\ny"
            ][rng.random_range(0..11)]
        ),
        5 | 6 => {
            let keys = [
                "name",
                "type",
                "value",
                "path",
                "port",
                "rules",
                "matches",
                "filters",
                "backendRefs",
                "requestRedirect",
                "urlRewrite",
                "headers",
                "group",
                "kind",
                "timeouts",
                "request",
                "listeners",
                "tls",
                "mode",
                "addresses",
                "zzz",
            ];
            let mut map = serde_json::Map::new();
            for _ in 0..rng.random_range(0..5) {
                let key = keys[rng.random_range(0..keys.len())];
                map.insert(key.to_string(), random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
        _ => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
    }
}

#[test]
fn odd_input_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let bases = [http_route(), gateway(), super::grpc_route()];
    for round in 0..600 {
        let mut doc = bases[round % bases.len()].clone();
        doc["spec"] = random_value(&mut rng, 5);
        let _ = admit(&doc, None);
        doc["metadata"] = random_value(&mut rng, 3);
        let _ = admit(&doc, None);
    }
    // Numbers where strings go, strings where objects go, and very long lists.
    let odd = [
        with(http_route(), &[("/spec/rules", json!("everything"))]),
        with(
            http_route(),
            &[("/spec/parentRefs", json!([1, "a", null, [], {}]))],
        ),
        with(http_route(), &[("/metadata", json!(42))]),
        with(http_route(), &[("/spec", json!(null))]),
        with(
            gateway(),
            &[(
                "/spec/listeners",
                Value::Array(vec![
                    json!({"name": "a", "port": 80, "protocol": "HTTP"});
                    10_000
                ]),
            )],
        ),
        with(
            http_route(),
            &[(
                "/spec/hostnames",
                Value::Array((0..10_000).map(|i| json!(format!("h{i}.a"))).collect()),
            )],
        ),
        with(
            http_route(),
            &[("/spec/rules/0/backendRefs/0/port", json!(u64::MAX))],
        ),
        with(
            http_route(),
            &[("/spec/rules/0/backendRefs/0/weight", json!(-1e300))],
        ),
        with(
            http_route(),
            &[(
                "/spec/rules/0/filters",
                json!([{"type": "RequestRedirect"}, {"type": 5}]),
            )],
        ),
    ];
    for doc in odd {
        let result = admit(&doc, None);
        assert!(
            matches!(result, Err(AdmitError::Rejected(Rejection { .. }))),
            "{result:?}"
        );
    }
}

#[test]
fn integers_outside_int32_are_refused() {
    let r = reject(&with(
        http_route(),
        &[(
            "/spec/rules/0/filters",
            json!([{"type": "CORS", "cors": {"maxAge": 3_000_000_000u64}}]),
        )],
    ));
    assert!(
        has_cause(
            &r,
            "spec.rules[0].filters[0].cors.maxAge",
            "must be of type int32"
        ),
        "{r}"
    );
    // Where a bound already refuses the value, that is the only cause for it.
    let r = reject(&with(
        http_route(),
        &[("/spec/rules/0/backendRefs/0/port", json!(3_000_000_000u64))],
    ));
    assert_eq!(r.causes.len(), 1, "{r}");
    assert!(
        r.causes[0].detail.contains("less than or equal to 65535"),
        "{r}"
    );
}

/// apimachinery's object-meta messages, verbatim, with their paths and reasons.
#[test]
fn object_meta_messages_are_the_api_servers() {
    let owner = |uid: &str| json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": uid}]);
    let r = reject(&with(
        http_route(),
        &[("/metadata/ownerReferences", owner(""))],
    ));
    assert_eq!(
        r.to_string(),
        "HTTPRoute \"shop\" is invalid: metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"
    );
    assert_eq!(r.causes[0].reason, CauseReason::FieldValueInvalid);
    accept(&with(
        http_route(),
        &[("/metadata/ownerReferences", owner("0b4e"))],
    ));
    // An owner reference without apiVersion version, kind or name: one cause each.
    let r = reject(&with(
        http_route(),
        &[(
            "/metadata/ownerReferences",
            json!([{"apiVersion": "apps/", "uid": "u"}]),
        )],
    ));
    let fields: Vec<&str> = r.causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "metadata.ownerReferences.apiVersion",
            "metadata.ownerReferences.kind",
            "metadata.ownerReferences.name"
        ]
    );
    assert_eq!(
        r.causes[0].detail,
        "Invalid value: \"apps/\": version must not be empty"
    );

    // Names: the DNS-1123 subdomain message, and the length message.
    let r = reject(&with(http_route(), &[("/metadata/name", json!("Shop"))]));
    assert_eq!(
        r.causes[0].to_string(),
        "metadata.name: Invalid value: \"Shop\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    let r = reject(&with(
        gateway(),
        &[("/metadata/name", json!("g".repeat(254)))],
    ));
    assert!(
        has_cause(&r, "metadata.name", "must be no more than 253 characters"),
        "{r}"
    );
    // Label keys: prefix and name parts, and a key with two slashes.
    let r = reject(&with(
        http_route(),
        &[("/metadata/labels", json!({"Ex.com/a": "b"}))],
    ));
    assert!(
        has_cause(
            &r,
            "metadata.labels",
            "Invalid value: \"Ex.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of"
        ),
        "{r}"
    );
    let r = reject(&with(
        http_route(),
        &[("/metadata/labels", json!({"a/b/c": "d"}))],
    ));
    assert!(
        has_cause(
            &r,
            "metadata.labels",
            "a qualified name must consist of alphanumeric characters"
        ),
        "{r}"
    );
    let r = reject(&with(
        http_route(),
        &[("/metadata/labels", json!({"a": "x".repeat(64)}))],
    ));
    assert!(
        has_cause(&r, "metadata.labels", "must be no more than 63 characters"),
        "{r}"
    );
    // Annotation keys are checked lower-cased, so capitals are fine there (not in labels).
    accept(&with(
        http_route(),
        &[("/metadata/annotations", json!({"Example.COM/Key": "v"}))],
    ));
    let r = reject(&with(
        http_route(),
        &[("/metadata/annotations", json!({"a b": "v"}))],
    ));
    assert!(
        has_cause(
            &r,
            "metadata.annotations",
            "Invalid value: \"a b\": name part must consist"
        ),
        "{r}"
    );
    // A generateName prefix may end in '-'.
    let mut doc = http_route();
    doc["metadata"] = json!({"generateName": "shop-", "name": "shop-x1"});
    accept(&doc);
    doc["metadata"]["generateName"] = json!("Shop-");
    assert!(has_cause(
        &reject(&doc),
        "metadata.generateName",
        "a lowercase RFC 1123 subdomain"
    ));
}

/// Each cause says what kind of problem it is, as `Status.details.causes[].reason` would.
#[test]
fn causes_carry_their_reason() {
    let cases = [
        (
            with(
                http_route(),
                &[("/spec/rules/0/matches", json!([{"method": "FETCH"}]))],
            ),
            CauseReason::FieldValueNotSupported,
        ),
        (
            with(
                http_route(),
                &[("/spec/hostnames", json!(["x".repeat(254)]))],
            ),
            CauseReason::FieldValueTooLong,
        ),
        (
            with(
                http_route(),
                &[("/spec/hostnames", json!(vec!["a.example"; 17]))],
            ),
            CauseReason::FieldValueTooMany,
        ),
        (
            with(http_route(), &[("/spec/parentRefs/0/name", json!(3))]),
            CauseReason::FieldValueTypeInvalid,
        ),
        (
            with(
                http_route(),
                &[(
                    "/spec/rules/0/matches",
                    json!([{"path": {"type": "Exact", "value": "x"}}]),
                )],
            ),
            CauseReason::FieldValueInvalid,
        ),
        (
            with(
                gateway(),
                &[(
                    "/spec/listeners",
                    json!([{"name": "http", "port": 80, "protocol": "HTTP"}, {"name": "http", "port": 81, "protocol": "HTTP"}]),
                )],
            ),
            CauseReason::FieldValueDuplicate,
        ),
        (
            with(http_route(), &[("/spec/bogus", json!(1))]),
            CauseReason::UnknownField,
        ),
    ];
    for (doc, reason) in cases {
        let r = reject(&doc);
        assert_eq!(r.causes[0].reason, reason, "{r}");
    }
    let r = reject(&with(http_route(), &[("/spec/parentRefs/0", json!({}))]));
    assert_eq!(r.causes[0].reason, CauseReason::FieldValueRequired, "{r}");
}

/// Unknown fields fail decoding (`400 BadRequest`), all of them in one message (document order), before any
/// validation, as kube-apiserver's strict field validation (kubectl's default) reports them.
#[test]
fn unknown_fields_are_a_strict_decoding_error() {
    let doc = with(
        http_route(),
        &[
            ("/spec/rules/0/matchs", json!([])),
            ("/spec/extra", json!(1)),
        ],
    );
    let r = reject(&doc);
    assert_eq!(
        r.to_string(),
        "HTTPRoute in version \"v1\" cannot be handled as a HTTPRoute: strict decoding error: unknown field \"spec.rules[0].matchs\", unknown field \"spec.extra\""
    );
    assert!(
        r.causes
            .iter()
            .all(|c| c.reason == CauseReason::UnknownField)
    );
    let service = yaml("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {portz: []}\n");
    assert_eq!(
        reject(&service).to_string(),
        "Service in version \"v1\" cannot be handled as a Service: strict decoding error: unknown field \"spec.portz\""
    );
    // A known field with a bad value is validation's (422), not decoding's.
    let r = reject(&with(http_route(), &[("/spec/hostnames", json!(["Bad"]))]));
    assert!(
        r.to_string().starts_with("HTTPRoute \"shop\" is invalid: "),
        "{r}"
    );
}
