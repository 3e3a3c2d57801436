//! The two rule sets: what differs between Gateway API v1.5.1 and v1.6.1 (each difference with
//! a case for each version), which kinds and versions each release serves, and a flat listing
//! of every schema, to compare against the CRDs (docs/versions.md says how).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{gateway, grpc_route, has_cause, http_route, set};
use crate::admission::schema::{ListType, Node, Shape};
use crate::admission::{
    AdmissionOptions, AdmitError, GatewayApiVersion, Rejection, RejectionReason, admit_with,
    gateway_api_schema,
};
use crate::object::Kind;

const V1_5: GatewayApiVersion = GatewayApiVersion::V1_5;
const V1_6: GatewayApiVersion = GatewayApiVersion::V1_6;

fn admit_as(doc: &Value, version: GatewayApiVersion) -> Result<(), Rejection> {
    match admit_with(doc, None, &AdmissionOptions::new(version)) {
        Ok(_) => Ok(()),
        Err(AdmitError::Rejected(r)) => Err(r),
        Err(other) => panic!("unexpected {other}"),
    }
}

/// One line per schema fact, `path<TAB>keyword<TAB>value`, in the shape of a flattened CRD
/// schema: `type`, `required`, `default`, bounds, `pattern`, `enum`, list types and the
/// `message` of every CEL rule.
pub(crate) fn flatten(node: &Node, path: &str, out: &mut Vec<String>) {
    let mut line = |key: &str, value: Value| out.push(format!("{path}\t{key}\t{value}"));
    match &node.shape {
        Shape::Object(fields) => {
            line("type", json!("object"));
            let mut required: Vec<&str> = fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name)
                .collect();
            required.sort_unstable();
            if !required.is_empty() {
                line("required", json!(required));
            }
        }
        Shape::Str(s) => {
            line("type", json!("string"));
            if let Some(v) = s.max_len {
                line("maxLength", json!(v));
            }
            if let Some(v) = s.min_len {
                line("minLength", json!(v));
            }
            if let Some(p) = s.pattern {
                line("pattern", json!(p.source));
            }
            if let Some(e) = s.one_of {
                line("enum", json!(e));
            }
        }
        Shape::Int(i) => {
            line("type", json!("integer"));
            if i.int32 {
                line("format", json!("int32"));
            }
            if let Some(v) = i.max {
                line("maximum", json!(v));
            }
            if let Some(v) = i.min {
                line("minimum", json!(v));
            }
            if let Some(e) = i.one_of {
                line("enum", json!(e));
            }
        }
        Shape::Bool => line("type", json!("boolean")),
        Shape::List(l) => {
            line("type", json!("array"));
            if let Some(v) = l.max_items {
                line("maxItems", json!(v));
            }
            if let Some(v) = l.min_items {
                line("minItems", json!(v));
            }
            match l.list_type {
                ListType::Atomic => {}
                ListType::Set => line("x-kubernetes-list-type", json!("set")),
                ListType::Map(keys) => {
                    line("x-kubernetes-list-type", json!("map"));
                    line("x-kubernetes-list-map-keys", json!(keys));
                }
            }
        }
        Shape::Map(m) => {
            line("type", json!("object"));
            if let Some(v) = m.max_properties {
                line("maxProperties", json!(v));
            }
        }
        Shape::Any => {}
    }
    for rule in &node.rules {
        out.push(format!("{path}\tCEL\t{}", json!(rule.message)));
    }
    match &node.shape {
        Shape::Object(fields) => {
            for f in fields {
                let child = format!("{path}.{}", f.name);
                if let Some(d) = &f.default {
                    out.push(format!("{child}\tdefault\t{d}"));
                }
                flatten(&f.node, &child, out);
            }
        }
        Shape::List(l) => flatten(&l.items, &format!("{path}[]"), out),
        Shape::Map(m) => flatten(&m.values, &format!("{path}{{}}"), out),
        _ => {}
    }
}

const MODELLED: [Kind; 7] = [
    Kind::GatewayClass,
    Kind::Gateway,
    Kind::ListenerSet,
    Kind::HttpRoute,
    Kind::GrpcRoute,
    Kind::ReferenceGrant,
    Kind::BackendTlsPolicy,
];

fn flat(kind: Kind, version: GatewayApiVersion) -> BTreeSet<String> {
    let (node, _) = gateway_api_schema(kind, version, "v1").expect("a Gateway API kind");
    let mut out = Vec::new();
    flatten(node, "", &mut out);
    out.into_iter().collect()
}

/// `GWSIM_SCHEMA_DUMP=DIR cargo test -p gwsim-engine schema_listing` writes
/// `DIR/<kind>.<version>.txt` for each kind and release, to diff against the CRDs. Without the
/// variable the listing is still built (every node walked) and checked for its basics.
#[test]
fn schema_listing() {
    let dump = std::env::var_os("GWSIM_SCHEMA_DUMP");
    for version in GatewayApiVersion::ALL {
        for kind in MODELLED {
            let lines = flat(kind, version);
            assert!(
                lines.contains("\ttype\t\"object\""),
                "{kind} root is an object"
            );
            assert!(
                lines.iter().any(|l| l.starts_with(".spec\t")),
                "{kind} has a spec"
            );
            if let Some(dir) = &dump {
                let path = std::path::Path::new(dir).join(format!("{kind}.{version}.txt"));
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                std::fs::write(&path, text).expect("writable dump directory");
            }
        }
    }
}

/// Exactly these schema facts differ between the two releases (docs/versions.md): a rule that
/// changes without this list changing fails here.
#[test]
fn the_rule_sets_differ_exactly_as_documented() {
    let mut differences = BTreeSet::new();
    for kind in MODELLED {
        let (old, new) = (flat(kind, V1_5), flat(kind, V1_6));
        for line in old.difference(&new) {
            differences.insert(format!("{kind} v1.5 {line}"));
        }
        for line in new.difference(&old) {
            differences.insert(format!("{kind} v1.6 {line}"));
        }
    }
    let expected: BTreeSet<String> = [
        "Gateway v1.5 .spec.infrastructure.annotations\tmaxProperties\t8",
        "Gateway v1.6 .spec.infrastructure.annotations\tmaxProperties\t16",
        "Gateway v1.5 .spec.tls.frontend.default.validation.caCertificateRefs\tmaxItems\t8",
        "Gateway v1.6 .spec.tls.frontend.default.validation.caCertificateRefs\tmaxItems\t16",
        "Gateway v1.5 .spec.tls.frontend.perPort[].tls.validation.caCertificateRefs\tmaxItems\t8",
        "Gateway v1.6 .spec.tls.frontend.perPort[].tls.validation.caCertificateRefs\tmaxItems\t16",
        "HTTPRoute v1.6 .spec.rules[].retry.attempts\tminimum\t1",
        "HTTPRoute v1.6 .spec.rules[].retry.codes\tx-kubernetes-list-type\t\"set\"",
        "HTTPRoute v1.5 .spec.rules[].sessionPersistence.idleTimeout\ttype\t\"string\"",
        "HTTPRoute v1.5 .spec.rules[].sessionPersistence.idleTimeout\tpattern\t\"^([0-9]{1,5}(h|m|s|ms)){1,4}$\"",
        "GRPCRoute v1.5 .spec.rules[].sessionPersistence.idleTimeout\ttype\t\"string\"",
        "GRPCRoute v1.5 .spec.rules[].sessionPersistence.idleTimeout\tpattern\t\"^([0-9]{1,5}(h|m|s|ms)){1,4}$\"",
        "ReferenceGrant v1.6 \trequired\t[\"spec\"]",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let missing: Vec<_> = expected.difference(&differences).collect();
    let extra: Vec<_> = differences.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
}

fn infrastructure_annotations(n: usize) -> Value {
    let mut doc = gateway();
    let annotations: serde_json::Map<String, Value> = (0..n)
        .map(|i| (format!("example.com/a{i}"), json!("x")))
        .collect();
    set(
        &mut doc,
        "/spec/infrastructure/annotations",
        Value::Object(annotations),
    );
    doc
}

#[test]
fn infrastructure_annotations_allow_8_in_v1_5_and_16_in_v1_6() {
    let field = "spec.infrastructure.annotations";
    assert!(admit_as(&infrastructure_annotations(8), V1_5).is_ok());
    let r = admit_as(&infrastructure_annotations(9), V1_5).expect_err("9 > 8");
    assert!(
        has_cause(&r, field, "Too many: 9: must have at most 8 items"),
        "{r}"
    );
    assert!(admit_as(&infrastructure_annotations(16), V1_6).is_ok());
    let r = admit_as(&infrastructure_annotations(17), V1_6).expect_err("17 > 16");
    assert!(
        has_cause(&r, field, "Too many: 17: must have at most 16 items"),
        "{r}"
    );
}

fn ca_refs(n: usize, per_port: bool) -> Value {
    let refs: Vec<Value> = (0..n)
        .map(|i| json!({"group": "", "kind": "ConfigMap", "name": format!("ca{i}")}))
        .collect();
    let mut doc = gateway();
    set(
        &mut doc,
        "/spec/tls/frontend/default/validation/caCertificateRefs",
        json!([{"group": "", "kind": "ConfigMap", "name": "ca"}]),
    );
    if per_port {
        set(
            &mut doc,
            "/spec/tls/frontend/perPort",
            json!([{"port": 443, "tls": {"validation": {"caCertificateRefs": refs}}}]),
        );
    } else {
        set(
            &mut doc,
            "/spec/tls/frontend/default/validation/caCertificateRefs",
            Value::Array(refs),
        );
    }
    doc
}

#[test]
fn ca_certificate_refs_allow_8_in_v1_5_and_16_in_v1_6() {
    for (per_port, field) in [
        (
            false,
            "spec.tls.frontend.default.validation.caCertificateRefs",
        ),
        (
            true,
            "spec.tls.frontend.perPort[0].tls.validation.caCertificateRefs",
        ),
    ] {
        assert!(admit_as(&ca_refs(8, per_port), V1_5).is_ok());
        let r = admit_as(&ca_refs(9, per_port), V1_5).expect_err("9 > 8");
        assert!(
            has_cause(&r, field, "Too many: 9: must have at most 8 items"),
            "{r}"
        );
        assert!(admit_as(&ca_refs(16, per_port), V1_6).is_ok());
        let r = admit_as(&ca_refs(17, per_port), V1_6).expect_err("17 > 16");
        assert!(
            has_cause(&r, field, "Too many: 17: must have at most 16 items"),
            "{r}"
        );
    }
}

fn retry(value: Value) -> Value {
    let mut doc = http_route();
    set(&mut doc, "/spec/rules/0/retry", value);
    doc
}

#[test]
fn retry_codes_are_a_set_only_in_v1_6() {
    let doc = retry(json!({"codes": [503, 503]}));
    assert!(admit_as(&doc, V1_5).is_ok(), "v1.5: codes is atomic");
    let r = admit_as(&doc, V1_6).expect_err("v1.6: codes is a set");
    assert_eq!(r.causes.len(), 1, "{r}");
    assert_eq!(
        r.causes[0].to_string(),
        "spec.rules[0].retry.codes[1]: Duplicate value: 503"
    );
    assert!(admit_as(&retry(json!({"codes": [500, 503]})), V1_6).is_ok());
}

#[test]
fn retry_attempts_must_be_positive_only_in_v1_6() {
    let doc = retry(json!({"attempts": 0}));
    assert!(admit_as(&doc, V1_5).is_ok(), "v1.5: attempts unbounded");
    let r = admit_as(&doc, V1_6).expect_err("v1.6: attempts >= 1");
    assert_eq!(
        r.causes[0].to_string(),
        "spec.rules[0].retry.attempts: Invalid value: 0: spec.rules[0].retry.attempts in body should be greater than or equal to 1"
    );
    assert!(admit_as(&retry(json!({"attempts": 1})), V1_6).is_ok());
}

#[test]
fn session_persistence_idle_timeout_exists_only_in_v1_5() {
    for (mut doc, path) in [
        (http_route(), "spec.rules[0].sessionPersistence.idleTimeout"),
        (grpc_route(), "spec.rules[0].sessionPersistence.idleTimeout"),
    ] {
        set(
            &mut doc,
            "/spec/rules/0/sessionPersistence",
            json!({"sessionName": "s", "idleTimeout": "10m"}),
        );
        assert!(admit_as(&doc, V1_5).is_ok());
        let r = admit_as(&doc, V1_6).expect_err("v1.6 removed idleTimeout");
        assert!(has_cause(&r, path, "unknown field"), "{r}");
        // The neighbour without it is valid in both.
        set(
            &mut doc,
            "/spec/rules/0/sessionPersistence",
            json!({"sessionName": "s"}),
        );
        assert!(admit_as(&doc, V1_5).is_ok() && admit_as(&doc, V1_6).is_ok());
    }
}

#[test]
fn reference_grant_spec_is_required_only_in_v1_6() {
    let doc = json!({
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "grant", "namespace": "default"}
    });
    // v1.5 stores it without a spec; gwsim's typed form holds it as an empty grant (no
    // `from`, no `to`), which grants the same: nothing.
    let object = match admit_with(&doc, None, &AdmissionOptions::new(V1_5)) {
        Ok(object) => object,
        Err(e) => panic!("v1.5 accepts a ReferenceGrant without spec: {e}"),
    };
    assert_eq!(object.to_value()["spec"], json!({"from": [], "to": []}));
    let r = admit_as(&doc, V1_6).expect_err("v1.6 requires spec");
    assert_eq!(
        r.to_string(),
        "ReferenceGrant \"grant\" is invalid: spec: Required value"
    );
}

fn typed(api_version: &str, kind: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "default"}})
}

#[test]
fn kinds_and_versions_no_release_serves_are_refused_as_kubectl_refuses_them() {
    for version in GatewayApiVersion::ALL {
        for (api_version, kind) in [
            ("gateway.networking.k8s.io/v1alpha2", "GRPCRoute"),
            ("gateway.networking.k8s.io/v1beta1", "GRPCRoute"),
            ("gateway.networking.k8s.io/v1beta1", "ListenerSet"),
            ("gateway.networking.k8s.io/v1", "HTTPRoutee"),
            ("gateway.networking.k8s.io/v2", "HTTPRoute"),
            ("gateway.networking.k8s.io", "HTTPRoute"),
            ("gateway.networking.x-k8s.io/v1alpha1", "XListenerSet"),
        ] {
            let r = admit_as(&typed(api_version, kind), version).expect_err(api_version);
            assert_eq!(
                r.reason,
                RejectionReason::NoKindMatch {
                    api_version: api_version.to_string()
                }
            );
            assert_eq!(
                r.to_string(),
                format!("no matches for kind \"{kind}\" in version \"{api_version}\"")
            );
        }
    }
}

fn not_modelled(doc: &Value, version: GatewayApiVersion) -> bool {
    matches!(
        admit_with(doc, None, &AdmissionOptions::new(version)),
        Err(AdmitError::UnknownKind { .. })
    )
}

#[test]
fn served_kinds_gwsim_does_not_model_stay_not_modelled() {
    for version in GatewayApiVersion::ALL {
        for (api_version, kind) in [
            (
                "gateway.networking.x-k8s.io/v1alpha1",
                "XBackendTrafficPolicy",
            ),
            ("gateway.networking.x-k8s.io/v1alpha1", "XMesh"),
            // Other groups are not the Gateway API's to refuse.
            ("gateway.envoyproxy.io/v1alpha1", "EnvoyProxy"),
            ("v1", "ServiceAccount"),
            ("networking.istio.io/v1", "Gateway"),
        ] {
            assert!(
                not_modelled(&typed(api_version, kind), version),
                "{version} {api_version} {kind}"
            );
        }
    }
}

#[test]
fn tcp_and_udp_route_v1_and_xbackend_are_served_from_v1_6_only() {
    for (api_version, kind) in [
        ("gateway.networking.k8s.io/v1", "TCPRoute"),
        ("gateway.networking.k8s.io/v1", "UDPRoute"),
        ("gateway.networking.x-k8s.io/v1alpha1", "XBackend"),
    ] {
        let doc = typed(api_version, kind);
        if kind == "XBackend" {
            assert!(not_modelled(&doc, V1_6), "{api_version} {kind}");
        } else {
            // Modelled: served by v1.6.1, so refused only by the schema (no spec).
            let r = admit_as(&doc, V1_6).expect_err("spec is required");
            assert_eq!(r.reason, RejectionReason::Invalid, "{kind}");
        }
        let r = admit_as(&doc, V1_5).expect_err("not served by v1.5.1");
        assert!(matches!(r.reason, RejectionReason::NoKindMatch { .. }));
    }
    // v1alpha2 is served by both releases.
    for kind in ["TCPRoute", "UDPRoute"] {
        let doc = typed("gateway.networking.k8s.io/v1alpha2", kind);
        for version in GatewayApiVersion::ALL {
            let r = admit_as(&doc, version).expect_err("spec is required");
            assert_eq!(r.reason, RejectionReason::Invalid, "{version} {kind}");
        }
    }
}

#[test]
fn v1beta1_is_served_for_four_kinds_only() {
    for kind in ["GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"] {
        let doc = typed("gateway.networking.k8s.io/v1beta1", kind);
        for version in GatewayApiVersion::ALL {
            assert!(
                !matches!(
                    admit_with(&doc, None, &AdmissionOptions::new(version)),
                    Err(AdmitError::UnknownKind { .. })
                ) && admit_as(&doc, version)
                    .err()
                    .is_none_or(|r| r.reason == RejectionReason::Invalid),
                "{kind} v1beta1 is served"
            );
        }
    }
}

#[test]
fn versions_parse_and_print() {
    for (text, version) in [
        ("v1.5", V1_5),
        ("1.5", V1_5),
        ("v1.5.1", V1_5),
        ("v1.6", V1_6),
        ("v1.6.1", V1_6),
    ] {
        assert_eq!(text.parse::<GatewayApiVersion>(), Ok(version));
    }
    assert!("v1.4".parse::<GatewayApiVersion>().is_err());
    assert!("v2".parse::<GatewayApiVersion>().is_err());
    assert_eq!(GatewayApiVersion::default(), V1_6);
    assert_eq!((V1_6.as_str(), V1_6.release()), ("v1.6", "v1.6.1"));
    assert_eq!(
        (V1_5.to_string(), V1_5.release()),
        ("v1.5".to_string(), "v1.5.1")
    );
}

/// Every CEL rule of every modelled kind carries its CRD's message verbatim, at the CRD's path,
/// in the CRD's order, in both releases; and gwsim has no rule the CRDs lack.
#[test]
fn every_rule_message_is_the_crd_text() {
    use std::collections::BTreeMap;
    let mut expected: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (kind, path, message) in super::crd_messages::CRD_RULE_MESSAGES {
        expected
            .entry((kind.to_string(), path.to_string()))
            .or_default()
            .push(message.to_string());
    }
    for version in GatewayApiVersion::ALL {
        let mut ours: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for kind in MODELLED {
            let (node, _) = gateway_api_schema(kind, version, "v1").expect("a Gateway API kind");
            let mut lines = Vec::new();
            flatten(node, "", &mut lines);
            for line in lines {
                let mut parts = line.splitn(3, '\t');
                let (path, key, value) = (parts.next(), parts.next(), parts.next());
                if let (Some(path), Some("CEL"), Some(value)) = (path, key, value) {
                    let message: String = serde_json::from_str(value).expect("JSON string");
                    ours.entry((kind.to_string(), path.to_string()))
                        .or_default()
                        .push(message);
                }
            }
        }
        let mut problems = Vec::new();
        for (key, messages) in &expected {
            match ours.get(key) {
                Some(found) if found == messages => {}
                found => problems.push(format!("{key:?}: CRD {messages:#?}\n  gwsim {found:#?}")),
            }
        }
        for key in ours.keys().filter(|k| !expected.contains_key(*k)) {
            problems.push(format!("{key:?}: a rule the CRD does not have"));
        }
        assert!(problems.is_empty(), "{version}:\n{}", problems.join("\n"));
    }
}

/// SessionPersistence: `cookieConfig` only with type Cookie (a rule gwsim lacked before it
/// compared its rules with the CRDs).
#[test]
fn cookie_config_needs_cookie_persistence() {
    for (mut doc, kind) in [(http_route(), "HTTPRoute"), (grpc_route(), "GRPCRoute")] {
        set(
            &mut doc,
            "/spec/rules/0/sessionPersistence",
            json!({"type": "Header", "cookieConfig": {"lifetimeType": "Session"}}),
        );
        for version in GatewayApiVersion::ALL {
            let r = admit_as(&doc, version).expect_err(kind);
            assert_eq!(
                r.to_string(),
                format!(
                    "{kind} \"{}\" is invalid: spec.rules[0].sessionPersistence: Invalid value: \"object\": cookieConfig can only be set with type Cookie",
                    r.name
                )
            );
        }
        set(
            &mut doc,
            "/spec/rules/0/sessionPersistence/type",
            json!("Cookie"),
        );
        for version in GatewayApiVersion::ALL {
            assert!(admit_as(&doc, version).is_ok(), "{kind} {version}");
        }
    }
}
