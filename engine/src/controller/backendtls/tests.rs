//! BackendTLSPolicy in the controller: which port gets which policy, conflicts, CA
//! references, and the ancestors written.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;

use crate::admission::admit;
use crate::config::{BackendTarget, BackendTls, BackendTrust, SubjectAltName};
use crate::controller::{ControllerConfig, Reconciliation, StatusUpdate, reconcile};
use crate::object::{Kind, Object, ObjectKey, Snapshot};

fn ca_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    params.self_signed(&key).expect("self-signed").pem()
}

/// Objects admitted from YAML documents, each created `created` seconds after a fixed time.
fn snapshot(docs: &[(&str, i64)]) -> Snapshot {
    let mut s = Snapshot::new();
    for (doc, created) in docs {
        let value: serde_json::Value = serde_saphyr::from_str(doc).expect("YAML");
        let mut object = admit(&value, None).unwrap_or_else(|e| panic!("{e}"));
        object.meta_mut().creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                Timestamp::from_second(1_700_000_000 + created).expect("time"),
            ));
        s.insert(object);
    }
    s
}

const BASE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim}
spec: {controllerName: gateway.gwsim.dev/controller}
"#;

const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: gwsim
  listeners: [{name: http, port: 80, protocol: HTTP}]
"#;

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: tls, namespace: infra}
spec:
  ports: [{name: one, port: 443}, {name: two, port: 8443}]
"#;

/// A route to both ports of Service `tls`: rule 0 to 443, rule 1 to 8443.
const ROUTE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /one}}]
    backendRefs: [{name: tls, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /two}}]
    backendRefs: [{name: tls, port: 8443}]
"#;

fn policy(name: &str, section: Option<&str>, hostname: &str, ca_refs: &str) -> String {
    let section = section.map_or(String::new(), |s| format!(", sectionName: {s}"));
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {{name: {name}, namespace: infra}}\nspec:\n  targetRefs: [{{group: \"\", kind: Service, name: tls{section}}}]\n  validation:\n    caCertificateRefs: {ca_refs}\n    hostname: {hostname}\n"
    )
}

const CA_REF: &str = "[{group: \"\", kind: ConfigMap, name: ca}]";

fn ca_map(name: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: infra}}\ndata: {data}\n"
    )
}

fn good_ca() -> String {
    let pem = ca_pem();
    ca_map("ca", &serde_json::json!({"ca.crt": pem}).to_string())
}

fn run(s: &Snapshot) -> Reconciliation {
    reconcile(
        s,
        &ControllerConfig::default(),
        Timestamp::from_second(1_800_000_000).expect("time"),
    )
}

/// The TLS of rule `rule`'s backend.
fn tls_of(r: &Reconciliation, rule: usize) -> Option<Arc<BackendTls>> {
    let listener = &r.gateways[0].listeners[0];
    match &listener.routes[0].route.rules[rule].backends[0].target {
        BackendTarget::Service { tls, .. } => tls.clone(),
        other => panic!("{other:?}"),
    }
}

/// (type, status, reason) of each condition of the ancestor entry for `infra/gw`.
fn ancestor(r: &Reconciliation, name: &str) -> Option<Vec<(String, String, String, i64)>> {
    let key = ObjectKey::new(Kind::BackendTlsPolicy, "infra", name);
    let Some(StatusUpdate::BackendTlsPolicy(status)) = r.statuses.get(&key) else {
        panic!("no status for {name}");
    };
    let entry = status.ancestors.iter().find(|a| {
        a.ancestor_ref.name == "gw" && a.ancestor_ref.namespace.as_deref() == Some("infra")
    })?;
    assert_eq!(entry.controller_name, "gateway.gwsim.dev/controller");
    assert_eq!(entry.ancestor_ref.kind.as_deref(), Some("Gateway"));
    Some(
        entry
            .conditions
            .iter()
            .map(|c| {
                (
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    c.observed_generation.unwrap_or(0),
                )
            })
            .collect(),
    )
}

fn cond(t: &str, s: &str, r: &str) -> (String, String, String, i64) {
    (t.into(), s.into(), r.into(), 1)
}

#[test]
fn a_valid_policy_applies_to_the_port_and_reports_its_gateway() {
    let ca = good_ca();
    let p = policy("p", None, "abc.example.com", CA_REF);
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&ca, 0),
        (&p, 0),
    ]));
    let tls = tls_of(&r, 0).expect("TLS on port 443");
    assert_eq!(tls.hostname, "abc.example.com");
    assert_eq!(
        tls.policy,
        ObjectKey::new(Kind::BackendTlsPolicy, "infra", "p")
    );
    assert!(matches!(tls.trust, BackendTrust::Certificates(_)));
    assert_eq!(
        tls_of(&r, 1),
        Some(tls),
        "a whole-Service policy covers every port"
    );
    assert_eq!(
        ancestor(&r, "p"),
        Some(vec![
            cond("Accepted", "True", "Accepted"),
            cond("ResolvedRefs", "True", "ResolvedRefs")
        ])
    );
}

#[test]
fn a_policy_no_route_uses_has_no_ancestor_and_a_service_without_policy_no_tls() {
    let ca = good_ca();
    let p = policy("p", Some("one"), "abc.example.com", CA_REF);
    let route_two_only = ROUTE.replace("port: 443}", "port: 8443}");
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (&route_two_only, 0),
        (&ca, 0),
        (&p, 0),
    ]));
    assert_eq!(tls_of(&r, 1), None, "port two has no policy");
    assert_eq!(ancestor(&r, "p"), None);
}

#[test]
fn older_policy_wins_then_namespace_name_and_sections_do_not_conflict_with_the_whole() {
    let ca = good_ca();
    let older = policy("z-older", None, "older.example.com", CA_REF);
    let newer = policy("a-newer", None, "newer.example.com", CA_REF);
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&ca, 0),
        (&older, 1),
        (&newer, 2),
    ]));
    assert_eq!(tls_of(&r, 0).expect("tls").hostname, "older.example.com");
    assert_eq!(
        ancestor(&r, "z-older").expect("ancestor")[0],
        cond("Accepted", "True", "Accepted")
    );
    assert_eq!(
        ancestor(&r, "a-newer").expect("ancestor")[0],
        cond("Accepted", "False", "Conflicted")
    );

    // Same second: namespace/name decides.
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&ca, 0),
        (&older, 1),
        (&newer, 1),
    ]));
    assert_eq!(tls_of(&r, 0).expect("tls").hostname, "newer.example.com");
    assert_eq!(
        ancestor(&r, "z-older").expect("ancestor")[0],
        cond("Accepted", "False", "Conflicted")
    );

    // A sectionName policy and a whole-Service policy are both accepted, each on its ports.
    let port = policy("port", Some("one"), "port.example.com", CA_REF);
    let whole = policy("whole", None, "whole.example.com", CA_REF);
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&ca, 0),
        (&whole, 1),
        (&port, 2),
    ]));
    assert_eq!(tls_of(&r, 0).expect("tls").hostname, "port.example.com");
    assert_eq!(tls_of(&r, 1).expect("tls").hostname, "whole.example.com");
    assert_eq!(
        ancestor(&r, "port").expect("ancestor")[0],
        cond("Accepted", "True", "Accepted")
    );
    assert_eq!(
        ancestor(&r, "whole").expect("ancestor")[0],
        cond("Accepted", "True", "Accepted")
    );
}

#[test]
fn ca_references_that_cannot_be_used_are_named() {
    let no_ca = [
        ("missing", CA_REF.to_string(), None),
        ("empty", CA_REF.to_string(), Some(ca_map("ca", "{}"))),
        (
            "blank",
            CA_REF.to_string(),
            Some(ca_map("ca", "{\"ca.crt\": \"\"}")),
        ),
        (
            "not pem",
            CA_REF.to_string(),
            Some(ca_map("ca", "{\"ca.crt\": \"hello\"}")),
        ),
    ];
    for (case, refs, map) in no_ca {
        let p = policy("p", None, "abc.example.com", &refs);
        let mut docs = vec![
            (BASE, 0),
            (GATEWAY, 0),
            (SERVICE, 0),
            (ROUTE, 0),
            (p.as_str(), 0),
        ];
        if let Some(map) = &map {
            docs.push((map.as_str(), 0));
        }
        let r = run(&snapshot(&docs));
        assert_eq!(
            ancestor(&r, "p"),
            Some(vec![
                cond("Accepted", "False", "NoValidCACertificate"),
                cond("ResolvedRefs", "False", "InvalidCACertificateRef")
            ]),
            "{case}"
        );
        let tls = tls_of(&r, 0).expect("the policy still applies: connections must fail");
        assert!(matches!(tls.trust, BackendTrust::None(_)), "{case}");
    }

    let bad_kind = policy(
        "p",
        None,
        "abc.example.com",
        "[{group: invalid.io, kind: InvalidKind, name: x}]",
    );
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&bad_kind, 0),
    ]));
    assert_eq!(
        ancestor(&r, "p"),
        Some(vec![
            cond("Accepted", "False", "NoValidCACertificate"),
            cond("ResolvedRefs", "False", "InvalidKind")
        ])
    );

    // One good reference keeps the policy accepted; the bad one still shows.
    let ca = good_ca();
    let mixed = policy(
        "p",
        None,
        "abc.example.com",
        "[{group: \"\", kind: ConfigMap, name: ca}, {group: \"\", kind: ConfigMap, name: gone}]",
    );
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&ca, 0),
        (&mixed, 0),
    ]));
    assert_eq!(
        ancestor(&r, "p"),
        Some(vec![
            cond("Accepted", "True", "Accepted"),
            cond("ResolvedRefs", "False", "InvalidCACertificateRef")
        ])
    );
}

#[test]
fn well_known_system_cas_and_subject_alt_names_are_carried() {
    let p = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: p, namespace: infra}
spec:
  targetRefs: [{group: "", kind: Service, name: tls, sectionName: two}]
  validation:
    wellKnownCACertificates: System
    hostname: abc.example.com
    subjectAltNames:
    - {type: URI, uri: "spiffe://abc.example.com/id"}
    - {type: Hostname, hostname: "*.example.com"}
"#;
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (p, 0),
    ]));
    assert_eq!(tls_of(&r, 0), None);
    let tls = tls_of(&r, 1).expect("port two");
    assert!(matches!(tls.trust, BackendTrust::System));
    assert_eq!(
        tls.subject_alt_names,
        [
            SubjectAltName::Uri("spiffe://abc.example.com/id".into()),
            SubjectAltName::Hostname("*.example.com".into())
        ]
    );
    assert_eq!(
        ancestor(&r, "p").expect("ancestor")[0],
        cond("Accepted", "True", "Accepted")
    );

    let custom = p.replace("System", "example.com/corporate");
    let r = run(&snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&custom, 0),
    ]));
    assert_eq!(
        ancestor(&r, "p").expect("ancestor")[0],
        cond("Accepted", "False", "Invalid")
    );
    assert!(matches!(
        tls_of(&r, 1).expect("tls").trust,
        BackendTrust::None(_)
    ));
}

#[test]
fn stored_entries_of_other_controllers_are_kept() {
    let ca = good_ca();
    let p = policy("p", None, "abc.example.com", CA_REF);
    let mut s = snapshot(&[
        (BASE, 0),
        (GATEWAY, 0),
        (SERVICE, 0),
        (ROUTE, 0),
        (&ca, 0),
        (&p, 0),
    ]);
    let key = ObjectKey::new(Kind::BackendTlsPolicy, "infra", "p");
    let Some(Object::BackendTlsPolicy(stored)) = s.objects.get_mut(&key) else {
        panic!("stored");
    };
    let other: gateway_api::apis::standard::backendtlspolicies::BackendTlsPolicyStatus =
        serde_json::from_value(serde_json::json!({"ancestors": [{
            "ancestorRef": {"name": "theirs", "namespace": "infra"},
            "controllerName": "example.com/other",
            "conditions": []
        }]}))
        .expect("status");
    stored.status = Some(other);
    let r = run(&s);
    let Some(StatusUpdate::BackendTlsPolicy(status)) = r.statuses.get(&key) else {
        panic!("status");
    };
    let names: Vec<&str> = status
        .ancestors
        .iter()
        .map(|a| a.ancestor_ref.name.as_str())
        .collect();
    assert_eq!(names, ["theirs", "gw"]);
}

/// A Gateway with `spec.tls.backend.clientCertificateRef` naming `reference` (flow YAML).
fn gateway_with_client_certificate(reference: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: gwsim\n  listeners: [{{name: http, port: 80, protocol: HTTP}}]\n  tls:\n    backend:\n      clientCertificateRef: {reference}\n"
    )
}

fn client_secret(namespace: &str) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "gateway client");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    // stringData: the certificate and key as text, which the controller reads like data.
    let data = serde_json::json!({"tls.crt": cert.pem(), "tls.key": key.serialize_pem()});
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: client, namespace: {namespace}}}\ntype: kubernetes.io/tls\nstringData: {data}\n"
    )
}

/// The Gateway's (ResolvedRefs status, reason) and whether its config carries a certificate.
fn gateway_resolved_refs(r: &Reconciliation) -> (Option<(String, String)>, bool, String) {
    let key = ObjectKey::new(Kind::Gateway, "infra", "gw");
    let Some(StatusUpdate::Gateway(status)) = r.statuses.get(&key) else {
        panic!("no Gateway status");
    };
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let resolved = conditions
        .iter()
        .find(|c| c.type_ == "ResolvedRefs")
        .map(|c| (c.status.clone(), c.reason.clone()));
    let accepted = conditions
        .iter()
        .find(|c| c.type_ == "Accepted")
        .map(|c| c.status.clone())
        .unwrap_or_default();
    let has_certificate = r.gateways[0].backend_client_certificate.is_some();
    (resolved, has_certificate, accepted)
}

#[test]
fn gateway_backend_client_certificates_resolve_or_say_why() {
    let secret = client_secret("infra");
    let other_ns = client_secret("other");
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n";
    // (case, clientCertificateRef, extra objects, ResolvedRefs (status, reason), certificate).
    type Case<'a> = (&'a str, &'a str, Vec<&'a str>, (&'a str, &'a str), bool);
    let cases: [Case<'_>; 5] = [
        (
            "resolved",
            "{group: \"\", kind: Secret, name: client}",
            vec![&secret],
            ("True", "ResolvedRefs"),
            true,
        ),
        (
            "missing",
            "{group: \"\", kind: Secret, name: client}",
            vec![],
            ("False", "InvalidClientCertificateRef"),
            false,
        ),
        (
            "wrong group",
            "{group: example.com, kind: Secret, name: client}",
            vec![&secret],
            ("False", "InvalidClientCertificateRef"),
            false,
        ),
        (
            "wrong kind",
            "{group: \"\", kind: ConfigMap, name: client}",
            vec![&secret],
            ("False", "InvalidClientCertificateRef"),
            false,
        ),
        (
            "other namespace without a grant",
            "{group: \"\", kind: Secret, name: client, namespace: other}",
            vec![namespace, &other_ns],
            ("False", "RefNotPermitted"),
            false,
        ),
    ];
    for (case, reference, extra, (status, reason), has_certificate) in cases {
        let gateway = gateway_with_client_certificate(reference);
        let mut docs = vec![(BASE, 0), (gateway.as_str(), 0)];
        docs.extend(extra.into_iter().map(|d| (d, 0)));
        let got = gateway_resolved_refs(&run(&snapshot(&docs)));
        assert_eq!(
            got,
            (
                Some((status.to_string(), reason.to_string())),
                has_certificate,
                "True".to_string()
            ),
            "{case}"
        );
    }
    // Without the reference the Gateway writes no ResolvedRefs of its own.
    let r = run(&snapshot(&[(BASE, 0), (GATEWAY, 0)]));
    assert_eq!(gateway_resolved_refs(&r).0, None);
}
