//! BackendTLSPolicy: schema, the CRD's CEL rules with their messages, versions, status kept.

use serde_json::{Value, json};

use super::{Case, accept, bad, has_cause, ok, reject, run, with};
use crate::admission::{AdmissionOptions, GatewayApiVersion, admit_with};
use crate::object::{Kind, Object};

fn policy() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "BackendTLSPolicy",
        "metadata": {"name": "tls", "namespace": "infra"},
        "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": "web"}],
            "validation": {
                "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}],
                "hostname": "web.example.com"
            }
        }
    })
}

const BOTH: &str = "must not contain both CACertificateRefs and WellKnownCACertificates";
const EITHER: &str = "must specify either CACertificateRefs or WellKnownCACertificates";

#[test]
fn backend_tls_policy_schema_and_rules() {
    let target = |name: &str, section: Option<&str>| match section {
        Some(s) => json!({"group": "", "kind": "Service", "name": name, "sectionName": s}),
        None => json!({"group": "", "kind": "Service", "name": name}),
    };
    let cases: Vec<Case> = vec![
        ok("minimal", policy()),
        ok(
            "well-known CAs instead of references",
            with(
                policy(),
                &[(
                    "/spec/validation",
                    json!({"wellKnownCACertificates": "System", "hostname": "a.example"}),
                )],
            ),
        ),
        bad(
            "both CA sources",
            with(
                policy(),
                &[("/spec/validation/wellKnownCACertificates", json!("System"))],
            ),
            "spec.validation",
            BOTH,
        ),
        bad(
            "no CA source",
            with(
                policy(),
                &[("/spec/validation", json!({"hostname": "a.example"}))],
            ),
            "spec.validation",
            EITHER,
        ),
        bad(
            "an empty reference list is no CA source",
            with(policy(), &[("/spec/validation/caCertificateRefs", json!([]))]),
            "spec.validation",
            EITHER,
        ),
        bad(
            "unknown well-known set",
            with(
                policy(),
                &[(
                    "/spec/validation",
                    json!({"wellKnownCACertificates": "Mozilla", "hostname": "a.example"}),
                )],
            ),
            "spec.validation.wellKnownCACertificates",
            "should match",
        ),
        ok(
            "an implementation's prefixed set",
            with(
                policy(),
                &[(
                    "/spec/validation",
                    json!({"wellKnownCACertificates": "example.com/my-cas", "hostname": "a.example"}),
                )],
            ),
        ),
        bad(
            "hostname is required",
            with(
                policy(),
                &[("/spec/validation", json!({"wellKnownCACertificates": "System"}))],
            ),
            "spec.validation.hostname",
            "Required value",
        ),
        bad(
            "wildcard hostname is not precise",
            with(policy(), &[("/spec/validation/hostname", json!("*.example.com"))]),
            "spec.validation.hostname",
            "should match",
        ),
        bad(
            "no targetRefs",
            with(policy(), &[("/spec/targetRefs", json!([]))]),
            "spec.targetRefs",
            "should have at least 1 items",
        ),
        bad(
            "same target twice without sectionName",
            with(
                policy(),
                &[("/spec/targetRefs", json!([target("web", None), target("web", None)]))],
            ),
            "spec.targetRefs",
            "sectionName must be unique when targetRefs includes 2 or more references to the same target",
        ),
        bad(
            "same target with and without sectionName",
            with(
                policy(),
                &[(
                    "/spec/targetRefs",
                    json!([target("web", Some("https")), target("web", None)]),
                )],
            ),
            "spec.targetRefs",
            "sectionName must be specified when targetRefs includes 2 or more references to the same target",
        ),
        bad(
            "same target and sectionName twice",
            with(
                policy(),
                &[(
                    "/spec/targetRefs",
                    json!([target("web", Some("https")), target("web", Some("https"))]),
                )],
            ),
            "spec.targetRefs",
            "sectionName must be unique when targetRefs includes 2 or more references to the same target",
        ),
        ok(
            "same target, two sections",
            with(
                policy(),
                &[(
                    "/spec/targetRefs",
                    json!([target("web", Some("a")), target("web", Some("b"))]),
                )],
            ),
        ),
        ok(
            "subjectAltNames of both types",
            with(
                policy(),
                &[(
                    "/spec/validation/subjectAltNames",
                    json!([
                        {"type": "Hostname", "hostname": "*.example.com"},
                        {"type": "URI", "uri": "spiffe://example.com/ns/a/sa/b"}
                    ]),
                )],
            ),
        ),
        bad(
            "Hostname SAN without hostname",
            with(
                policy(),
                &[("/spec/validation/subjectAltNames", json!([{"type": "Hostname"}]))],
            ),
            "spec.validation.subjectAltNames[0]",
            "SubjectAltName element must contain Hostname, if Type is set to Hostname",
        ),
        bad(
            "URI SAN with a hostname",
            with(
                policy(),
                &[(
                    "/spec/validation/subjectAltNames",
                    json!([{"type": "URI", "uri": "spiffe://a/b", "hostname": "a.example"}]),
                )],
            ),
            "spec.validation.subjectAltNames[0]",
            "SubjectAltName element must not contain Hostname, if Type is not set to Hostname",
        ),
        bad(
            "URI SAN without uri",
            with(
                policy(),
                &[("/spec/validation/subjectAltNames", json!([{"type": "URI"}]))],
            ),
            "spec.validation.subjectAltNames[0]",
            "SubjectAltName element must contain URI, if Type is set to URI",
        ),
        bad(
            "Hostname SAN with a uri",
            with(
                policy(),
                &[(
                    "/spec/validation/subjectAltNames",
                    json!([{"type": "Hostname", "hostname": "a.example", "uri": "spiffe://a/b"}]),
                )],
            ),
            "spec.validation.subjectAltNames[0]",
            "SubjectAltName element must not contain URI, if Type is not set to URI",
        ),
        bad(
            "URI without scheme",
            with(
                policy(),
                &[(
                    "/spec/validation/subjectAltNames",
                    json!([{"type": "URI", "uri": "example.com/a"}]),
                )],
            ),
            "spec.validation.subjectAltNames[0].uri",
            "should match",
        ),
        bad(
            "unknown SAN type",
            with(
                policy(),
                &[(
                    "/spec/validation/subjectAltNames",
                    json!([{"type": "IPAddress", "hostname": "a.example"}]),
                )],
            ),
            "spec.validation.subjectAltNames[0].type",
            "Unsupported value",
        ),
        bad(
            "six SANs",
            with(
                policy(),
                &[(
                    "/spec/validation/subjectAltNames",
                    Value::Array(
                        (0..6)
                            .map(|i| json!({"type": "Hostname", "hostname": format!("h{i}.example")}))
                            .collect(),
                    ),
                )],
            ),
            "spec.validation.subjectAltNames",
            "must have at most 5 items",
        ),
        bad(
            "nine CA references",
            with(
                policy(),
                &[(
                    "/spec/validation/caCertificateRefs",
                    Value::Array(
                        (0..9)
                            .map(|i| json!({"group": "", "kind": "ConfigMap", "name": format!("ca{i}")}))
                            .collect(),
                    ),
                )],
            ),
            "spec.validation.caCertificateRefs",
            "must have at most 8 items",
        ),
        bad(
            "CA reference without kind",
            with(
                policy(),
                &[("/spec/validation/caCertificateRefs", json!([{"group": "", "name": "ca"}]))],
            ),
            "spec.validation.caCertificateRefs[0].kind",
            "Required value",
        ),
    ];
    run(cases);
}

#[test]
fn unknown_fields_are_refused_and_v1alpha3_is_read_as_v1() {
    let r = reject(&with(policy(), &[("/spec/validation/sni", json!("a"))]));
    assert!(
        r.to_string()
            .contains("unknown field \"spec.validation.sni\""),
        "{r}"
    );
    for version in GatewayApiVersion::ALL {
        let doc = with(
            policy(),
            &[("/apiVersion", json!("gateway.networking.k8s.io/v1alpha3"))],
        );
        let object = admit_with(&doc, None, &AdmissionOptions::new(version)).expect("admitted");
        assert_eq!(object.kind(), Kind::BackendTlsPolicy);
        assert_eq!(
            object.to_value()["apiVersion"],
            json!("gateway.networking.k8s.io/v1")
        );
    }
    let r = reject(&with(
        policy(),
        &[("/apiVersion", json!("gateway.networking.k8s.io/v1beta1"))],
    ));
    assert!(r.to_string().starts_with("no matches for kind"), "{r}");
}

#[test]
fn status_is_kept_on_update_and_generation_moves_with_the_spec() {
    let mut first = accept(&policy());
    if let Object::BackendTlsPolicy(p) = &mut first {
        p.status = Some(Default::default());
    }
    let changed = with(
        policy(),
        &[("/spec/validation/hostname", json!("b.example"))],
    );
    let second = admit_with(&changed, Some(&first), &AdmissionOptions::default()).expect("ok");
    assert_eq!(second.generation(), 2);
    match second {
        Object::BackendTlsPolicy(p) => assert!(p.status.is_some()),
        other => panic!("{other:?}"),
    }
    let no_spec = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "BackendTLSPolicy",
        "metadata": {"name": "x", "namespace": "a"}
    });
    assert!(has_cause(&reject(&no_spec), "spec", "Required value"));
}
