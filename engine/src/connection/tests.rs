//! Connection routing end to end in the engine: TLSRoute and Gateway documents admitted as the
//! API server would, reconciled, then connections decided.

use k8s_openapi::jiff::Timestamp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::admission::{AdmitError, admit};
use crate::controller::{ControllerConfig, Reconciliation, StatusUpdate, reconcile};
use crate::object::{Kind, Snapshot};

const BASE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim}
spec: {controllerName: gateway.gwsim.dev/controller}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: v1
kind: Service
metadata: {name: tcp, namespace: infra}
spec:
  ports:
  - {name: plain, port: 3000}
  - {name: tls, port: 8443}
---
apiVersion: v1
kind: Service
metadata: {name: two, namespace: infra}
spec:
  ports:
  - {port: 8443}
---
apiVersion: v1
kind: Service
metadata: {name: three, namespace: infra}
spec:
  ports:
  - {port: 8443}
---
apiVersion: v1
kind: Secret
metadata: {name: terminate-cert, namespace: infra}
type: kubernetes.io/tls
stringData:
  tls.crt: |
      -----BEGIN CERTIFICATE-----
      MIIB5DCCAYqgAwIBAgIUErMFh+25z+wHshc+huzZuy4FCdswCgYIKoZIzj0EAwIw
      ODEaMBgGA1UECgwRZ3dzaW0gY29uZm9ybWFuY2UxGjAYBgNVBAMMEWd3c2ltIFRM
      U1JvdXRlIENBMCAXDTI1MDEwMTAwMDAwMFoYDzIxMjUwMTAxMDAwMDAwWjA2MRow
      GAYDVQQKDBFnd3NpbSBjb25mb3JtYW5jZTEYMBYGA1UEAwwPdGxzLmV4YW1wbGUu
      Y29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEa9oKEiztzn3UjlUB9RrN9n18
      9FNAkLpkiAQ5uFOhZcRT88xN4+y1ZfxLJwCjsJslChPZPrgFB+fXlSuBPdoT/qNy
      MHAwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAwwCgYIKwYB
      BQUHAwEwGgYDVR0RBBMwEYIPdGxzLmV4YW1wbGUuY29tMB8GA1UdIwQYMBaAFGTe
      kq+hhdgn88bOf4DGBUEuJtXYMAoGCCqGSM49BAMCA0gAMEUCIBiWdpmgtjklFq0H
      wo1YR/Pk/rIqqQ+czqC6eHSeD96YAiEAhYS+nyg5Z86vb2TCM+kUakMsBHEOXFvR
      ny6LXDMzKEo=
      -----END CERTIFICATE-----
  tls.key: |
      -----BEGIN PRIVATE KEY-----
      MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2DgzM9F11LoTmjT/
      BpG+nUB65bNYr0ALO/jtt/kKKa+hRANCAARr2goSLO3OfdSOVQH1Gs32fXz0U0CQ
      umSIBDm4U6FlxFPzzE3j7LVl/EsnAKOwmyUKE9k+uAUH59eVK4E92hP+
      -----END PRIVATE KEY-----
"#;

/// A Gateway `infra/gw` with the given listeners (YAML list items, indented by two).
fn gateway(listeners: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: gwsim\n  listeners:\n{listeners}"
    )
}

const PASSTHROUGH: &str = "  - name: tls\n    port: 443\n    protocol: TLS\n    hostname: '*.example.com'\n    tls: {mode: Passthrough}\n";

/// A TLSRoute `infra/NAME` created at `created` seconds, to `backend` port 8443.
fn route(name: &str, created: i64, hostnames: &[&str], backend: &str) -> String {
    let time = Timestamp::from_second(created).expect("valid time");
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {{name: {name}, namespace: infra, creationTimestamp: '{time}'}}\nspec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{}]\n  rules:\n  - backendRefs: [{{name: {backend}, port: 8443}}]\n",
        hostnames
            .iter()
            .map(|h| format!("'{h}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn admit_yaml(doc: &str) -> Result<crate::object::Object, AdmitError> {
    let value: serde_json::Value = serde_saphyr::from_str(doc).expect("fixture is YAML");
    admit(&value, None)
}

fn state(docs: &[&str]) -> (Snapshot, Reconciliation) {
    let mut snapshot = Snapshot::new();
    for text in std::iter::once(BASE).chain(docs.iter().copied()) {
        for doc in text.split("\n---\n").filter(|d| !d.trim().is_empty()) {
            let object = admit_yaml(doc).unwrap_or_else(|e| panic!("fixture admitted: {e}\n{doc}"));
            snapshot.insert(object);
        }
    }
    let now = Timestamp::from_second(1_750_000_000).expect("valid time");
    let r = reconcile(&snapshot, &ControllerConfig::default(), now);
    (snapshot, r)
}

fn connect(r: &Reconciliation, port: u16, sni: Option<&str>) -> ConnectionDecision {
    let connection = Connection {
        gateway: None,
        port,
        protocol: ConnectionProtocol::Tls,
        sni: sni.map(str::to_string),
    };
    decide(&r.gateways, &connection, &mut ChaCha8Rng::seed_from_u64(7))
}

/// `Service ns/name:port (Passthrough)` or `reset`.
fn outcome(d: &ConnectionDecision) -> String {
    match &d.outcome {
        ConnectionOutcome::Forward(f) => format!(
            "{}/{}:{} ({})",
            f.backend.namespace,
            f.backend.name,
            f.backend.port,
            f.tls.map_or("plain", TlsMode::as_str)
        ),
        ConnectionOutcome::Reset => "reset".to_string(),
    }
}

/// `type=status/reason` of each condition of the route's first parent.
fn route_conditions(r: &Reconciliation, name: &str) -> Vec<String> {
    let key = crate::object::ObjectKey::new(Kind::TlsRoute, "infra", name);
    let Some(StatusUpdate::TlsRoute(s)) = r.statuses.get(&key) else {
        panic!("no TLSRoute status for {name}");
    };
    s.parents[0]
        .conditions
        .iter()
        .map(|c| format!("{}={}/{}", c.type_, c.status, c.reason))
        .collect()
}

/// Listener `name`: supportedKinds, attachedRoutes and conditions, in one line.
fn listener_status(r: &Reconciliation, name: &str) -> String {
    let key = crate::object::ObjectKey::new(Kind::Gateway, "infra", "gw");
    let Some(StatusUpdate::Gateway(s)) = r.statuses.get(&key) else {
        panic!("no Gateway status");
    };
    let l = s
        .listeners
        .iter()
        .flatten()
        .find(|l| l.name == name)
        .expect("listener status");
    let kinds: Vec<&str> = l
        .supported_kinds
        .iter()
        .flatten()
        .map(|k| k.kind.as_str())
        .collect();
    let conditions: Vec<String> = l
        .conditions
        .iter()
        .map(|c| format!("{}={}/{}", c.type_, c.status, c.reason))
        .collect();
    format!(
        "kinds {} routes {} {}",
        kinds.join(","),
        l.attached_routes,
        conditions.join(" ")
    )
}

#[test]
fn passthrough_routes_by_sni_and_resets_what_no_route_takes() {
    let (_, r) = state(&[
        &gateway(PASSTHROUGH),
        &route("abc", 100, &["abc.example.com"], "tcp"),
    ]);
    assert_eq!(
        route_conditions(&r, "abc"),
        ["Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"]
    );
    assert_eq!(
        listener_status(&r, "tls"),
        "kinds TLSRoute routes 1 Accepted=True/Accepted Programmed=True/Programmed ResolvedRefs=True/ResolvedRefs Conflicted=False/NoConflicts"
    );
    let d = connect(&r, 443, Some("abc.example.com"));
    assert_eq!(outcome(&d), "infra/tcp:8443 (Passthrough)");
    let p = d.provenance.expect("provenance");
    assert_eq!(p.route.to_string(), "TLSRoute infra/abc");
    assert_eq!(p.listener, "tls");
    // SNI matched case-insensitively, like a hostname.
    assert_eq!(
        outcome(&connect(&r, 443, Some("ABC.example.com"))),
        "infra/tcp:8443 (Passthrough)"
    );
    // Negative: the listener takes other.example.com, no route does.
    let miss = connect(&r, 443, Some("other.example.com"));
    assert_eq!(outcome(&miss), "reset");
    assert!(
        miss.explanation
            .outcome
            .contains("no TLSRoute on listener tls takes SNI other.example.com"),
        "{}",
        miss.explanation.outcome
    );
    // Negative: no listener takes the name; no SNI at all; another port.
    assert_eq!(outcome(&connect(&r, 443, Some("abc.example.org"))), "reset");
    assert_eq!(outcome(&connect(&r, 443, None)), "reset");
    assert_eq!(
        outcome(&connect(&r, 8443, Some("abc.example.com"))),
        "reset"
    );
}

#[test]
fn exact_hostname_beats_wildcards_then_oldest_route_then_name() {
    let listener =
        "  - name: tls\n    port: 443\n    protocol: TLS\n    tls: {mode: Passthrough}\n";
    let (_, r) = state(&[
        &gateway(listener),
        &route("wide", 100, &["*.com"], "three"),
        &route("wild", 100, &["*.example.com"], "two"),
        &route("exact", 300, &["abc.example.com"], "tcp"),
    ]);
    assert_eq!(
        outcome(&connect(&r, 443, Some("abc.example.com"))),
        "infra/tcp:8443 (Passthrough)"
    );
    let d = connect(&r, 443, Some("other.example.com"));
    assert_eq!(outcome(&d), "infra/two:8443 (Passthrough)");
    // The explanation names the winner and why the other candidate lost.
    let lost: Vec<&Candidate> = d
        .explanation
        .candidates
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Lost { .. }))
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(&*lost[0].entry, "TLSRoute infra/wide");
    assert!(matches!(
        lost[0].verdict,
        Verdict::Lost {
            step: PrecedenceStep::MoreSpecificHostname { .. },
            ..
        }
    ));
    assert_eq!(
        outcome(&connect(&r, 443, Some("foo.com"))),
        "infra/three:8443 (Passthrough)"
    );
    assert_eq!(outcome(&connect(&r, 443, Some("example.org"))), "reset");

    // Same hostname: the older route wins; at the same time, namespace/name order.
    let (_, r) = state(&[
        &gateway(listener),
        &route("a-newer", 200, &["abc.example.com"], "two"),
        &route("b-older", 100, &["abc.example.com"], "tcp"),
    ]);
    let d = connect(&r, 443, Some("abc.example.com"));
    assert_eq!(outcome(&d), "infra/tcp:8443 (Passthrough)");
    assert!(d.explanation.candidates.iter().any(|c| matches!(
        c.verdict,
        Verdict::Lost {
            step: PrecedenceStep::OlderRoute { .. },
            ..
        }
    )));
    let (_, r) = state(&[
        &gateway(listener),
        &route("b", 100, &["abc.example.com"], "two"),
        &route("a", 100, &["abc.example.com"], "tcp"),
    ]);
    assert_eq!(
        outcome(&connect(&r, 443, Some("abc.example.com"))),
        "infra/tcp:8443 (Passthrough)"
    );
}

#[test]
fn terminate_and_passthrough_share_a_port() {
    let listeners = "  - name: terminate\n    port: 8883\n    protocol: TLS\n    hostname: tls.example.com\n    tls:\n      mode: Terminate\n      certificateRefs: [{name: terminate-cert}]\n  - name: passthrough\n    port: 8883\n    protocol: TLS\n    hostname: abc.example.com\n    tls: {mode: Passthrough}\n";
    let term = "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: term, namespace: infra}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [tls.example.com]\n  rules:\n  - backendRefs: [{name: tcp, port: 3000}]\n";
    let (_, r) = state(&[
        &gateway(listeners),
        term,
        &route("pass", 100, &["abc.example.com"], "tcp"),
    ]);
    for l in ["terminate", "passthrough"] {
        assert_eq!(
            listener_status(&r, l),
            "kinds TLSRoute routes 1 Accepted=True/Accepted Programmed=True/Programmed ResolvedRefs=True/ResolvedRefs Conflicted=False/NoConflicts",
            "{l}"
        );
    }
    assert_eq!(
        outcome(&connect(&r, 8883, Some("tls.example.com"))),
        "infra/tcp:3000 (Terminate)"
    );
    assert_eq!(
        outcome(&connect(&r, 8883, Some("abc.example.com"))),
        "infra/tcp:8443 (Passthrough)"
    );
    let gw = &r.gateways[0];
    assert!(
        gw.listeners[0].certificate.is_some(),
        "Terminate listener carries its certificate"
    );
    assert!(gw.listeners[1].certificate.is_none());
}

/// GEP-1897 on TLSRoutes: a BackendTLSPolicy of the backend port applies when the Gateway
/// terminates (it opens TLS of its own to the backend), never to passed-through TLS.
#[test]
fn backend_tls_policy_applies_to_terminated_connections_only() {
    let listeners = "  - name: terminate\n    port: 8883\n    protocol: TLS\n    hostname: tls.example.com\n    tls:\n      mode: Terminate\n      certificateRefs: [{name: terminate-cert}]\n  - name: passthrough\n    port: 8883\n    protocol: TLS\n    hostname: abc.example.com\n    tls: {mode: Passthrough}\n";
    let term = "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: term, namespace: infra}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [tls.example.com]\n  rules:\n  - backendRefs: [{name: tcp, port: 8443}]\n";
    let policy = "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: to-tcp, namespace: infra}\nspec:\n  targetRefs: [{group: '', kind: Service, name: tcp, sectionName: tls}]\n  validation:\n    wellKnownCACertificates: System\n    hostname: backend.example.com\n";
    let (_, r) = state(&[
        &gateway(listeners),
        term,
        &route("pass", 100, &["abc.example.com"], "tcp"),
        policy,
    ]);
    let backend_tls = |d: &ConnectionDecision| match &d.outcome {
        ConnectionOutcome::Forward(f) => f.backend_tls.as_ref().map(|t| t.hostname.clone()),
        ConnectionOutcome::Reset => panic!("forwarded: {:?}", d.explanation),
    };
    let terminated = connect(&r, 8883, Some("tls.example.com"));
    assert_eq!(outcome(&terminated), "infra/tcp:8443 (Terminate)");
    assert_eq!(
        backend_tls(&terminated).as_deref(),
        Some("backend.example.com")
    );
    assert!(
        terminated
            .explanation
            .notes
            .iter()
            .any(|n| n.contains("BackendTLSPolicy infra/to-tcp") && n.contains("re-encrypts")),
        "{:?}",
        terminated.explanation.notes
    );
    let passed = connect(&r, 8883, Some("abc.example.com"));
    assert_eq!(outcome(&passed), "infra/tcp:8443 (Passthrough)");
    assert_eq!(backend_tls(&passed), None);
}

#[test]
fn terminate_without_certificate_is_not_programmed() {
    let listeners = "  - name: terminate\n    port: 443\n    protocol: TLS\n    tls:\n      mode: Terminate\n      certificateRefs: [{name: absent}]\n";
    let (_, r) = state(&[
        &gateway(listeners),
        &route("abc", 100, &["abc.example.com"], "tcp"),
    ]);
    let status = listener_status(&r, "terminate");
    assert!(
        status.contains("ResolvedRefs=False/InvalidCertificateRef"),
        "{status}"
    );
    assert!(status.contains("Programmed=False"), "{status}");
    assert_eq!(outcome(&connect(&r, 443, Some("abc.example.com"))), "reset");
}

#[test]
fn listener_kinds_and_parent_matching() {
    let listeners = "  - name: tls\n    port: 443\n    protocol: TLS\n    tls: {mode: Passthrough}\n    allowedRoutes:\n      kinds: [{kind: TCPRoute}, {kind: TLSRoute}]\n  - name: http\n    port: 80\n    protocol: HTTP\n";
    let (_, r) = state(&[
        &gateway(listeners),
        &route("abc", 100, &["abc.example.com"], "tcp"),
    ]);
    let status = listener_status(&r, "tls");
    assert!(status.starts_with("kinds TLSRoute routes 1 "), "{status}");
    assert!(
        status.contains("ResolvedRefs=False/InvalidRouteKinds"),
        "{status}"
    );
    // An HTTP listener takes no TLSRoute, a TLS listener no HTTPRoute.
    assert!(listener_status(&r, "http").starts_with("kinds HTTPRoute,GRPCRoute routes 0 "));
    let to_http = "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: to-http, namespace: infra}\nspec:\n  parentRefs: [{name: gw, sectionName: http}]\n  hostnames: [abc.example.com]\n  rules:\n  - backendRefs: [{name: tcp, port: 8443}]\n";
    let missing = "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: missing, namespace: infra}\nspec:\n  parentRefs: [{name: gw, sectionName: nope}]\n  hostnames: [abc.example.com]\n  rules:\n  - backendRefs: [{name: tcp, port: 8443}]\n";
    let http_route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: infra}\nspec:\n  parentRefs: [{name: gw, sectionName: tls}]\n";
    let (_, r) = state(&[&gateway(listeners), to_http, missing, http_route]);
    assert_eq!(
        route_conditions(&r, "to-http")[0],
        "Accepted=False/NotAllowedByListeners"
    );
    assert_eq!(
        route_conditions(&r, "missing")[0],
        "Accepted=False/NoMatchingParent"
    );
    let key = crate::object::ObjectKey::new(Kind::HttpRoute, "infra", "web");
    let Some(StatusUpdate::HttpRoute(s)) = r.statuses.get(&key) else {
        panic!("HTTPRoute status");
    };
    assert_eq!(s.parents[0].conditions[0].reason, "NotAllowedByListeners");
}

#[test]
fn hostnames_that_do_not_intersect_attach_nowhere() {
    let listener = "  - name: tls\n    port: 443\n    protocol: TLS\n    hostname: www.example.com\n    tls: {mode: Passthrough}\n";
    let (_, r) = state(&[
        &gateway(listener),
        &route("nomatch", 100, &["www.nomatch.com", "*.nomatch.com"], "tcp"),
    ]);
    assert_eq!(
        route_conditions(&r, "nomatch")[0],
        "Accepted=False/NoMatchingListenerHostname"
    );
    assert!(listener_status(&r, "tls").starts_with("kinds TLSRoute routes 0 "));
}

#[test]
fn invalid_backends_reject_the_connection() {
    let cases = [
        ("{name: absent, port: 8443}", "BackendNotFound"),
        (
            "{group: example.com, kind: Thing, name: tcp}",
            "InvalidKind",
        ),
        (
            "{name: tcp, namespace: other, port: 8443}",
            "RefNotPermitted",
        ),
    ];
    for (backend, reason) in cases {
        let doc = format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {{name: bad, namespace: infra}}\nspec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [abc.example.com]\n  rules:\n  - backendRefs: [{backend}]\n"
        );
        let (_, r) = state(&[&gateway(PASSTHROUGH), &doc]);
        assert_eq!(
            route_conditions(&r, "bad"),
            [
                "Accepted=True/Accepted".to_string(),
                format!("ResolvedRefs=False/{reason}")
            ]
        );
        let d = connect(&r, 443, Some("abc.example.com"));
        assert_eq!(outcome(&d), "reset", "{reason}");
        assert!(
            d.explanation.outcome.contains(reason),
            "{}",
            d.explanation.outcome
        );
    }
}

#[test]
fn admission_follows_the_crd_per_version() {
    let doc = |api: &str, spec: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/{api}\nkind: TLSRoute\nmetadata: {{name: r, namespace: infra}}\nspec:\n{spec}"
        )
    };
    let rules = "  rules:\n  - backendRefs: [{name: tcp, port: 8443}]\n";
    let refused = |text: &str| match admit_yaml(text) {
        Err(AdmitError::Rejected(r)) => r.to_string(),
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(
        refused(&doc("v1", rules)),
        "TLSRoute \"r\" is invalid: [spec.hostnames: Required value, <nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"
    );
    assert_eq!(
        refused(&doc("v1", &format!("  hostnames: ['1.2.3.4']\n{rules}"))),
        "TLSRoute \"r\" is invalid: spec.hostnames: Invalid value: \"array\": Hostnames cannot contain an IP"
    );
    let two = "  hostnames: [a.example.com]\n  rules:\n  - backendRefs: [{name: tcp, port: 8443}]\n  - backendRefs: [{name: tcp, port: 3000}]\n";
    assert_eq!(
        refused(&doc("v1", two)),
        "TLSRoute \"r\" is invalid: [spec.rules: Too many: 2: must have at most 1 items, <nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"
    );
    assert_eq!(
        refused(&doc(
            "v1alpha3",
            "  hostnames: [a.example.com]\n  rules:\n  - backendRefs: [{name: tcp}]\n"
        )),
        "TLSRoute \"r\" is invalid: spec.rules[0].backendRefs[0]: Invalid value: \"object\": Must have port for Service reference"
    );
    // v1alpha2: hostnames optional, several rules with unique names.
    let object = admit_yaml(&doc("v1alpha2", rules)).expect("v1alpha2 without hostnames");
    assert_eq!(object.kind(), Kind::TlsRoute);
    assert_eq!(
        object.to_value()["apiVersion"],
        "gateway.networking.k8s.io/v1"
    );
    assert_eq!(
        object.to_value()["spec"]["hostnames"],
        serde_json::json!([])
    );
    admit_yaml(&doc("v1alpha2", two)).expect("v1alpha2 takes two rules");
    let same_names = "  rules:\n  - {name: a, backendRefs: [{name: tcp, port: 8443}]}\n  - {name: a, backendRefs: [{name: tcp, port: 3000}]}\n";
    assert_eq!(
        refused(&doc("v1alpha2", same_names)),
        "TLSRoute \"r\" is invalid: spec.rules: Invalid value: \"array\": Rule name must be unique within the route"
    );
    // Defaults: backendRef group, kind and weight; parentRef group and kind.
    let v = admit_yaml(&doc(
        "v1",
        &format!("  parentRefs: [{{name: gw}}]\n  hostnames: ['*.example.com']\n{rules}"),
    ))
    .expect("valid")
    .to_value();
    assert_eq!(v["spec"]["rules"][0]["backendRefs"][0]["weight"], 1);
    assert_eq!(v["spec"]["rules"][0]["backendRefs"][0]["kind"], "Service");
    assert_eq!(v["spec"]["parentRefs"][0]["kind"], "Gateway");
}

mod l4;
