//! Scenarios over the wire: the conformance suite and the example scenarios through real
//! sockets agree with the model, and a disagreement is reported, not hidden.

use std::io::{Read, Write};
use std::path::PathBuf;

use gwsim_conformance::{Options, TestOutcome, load_suite, run, run_on};
use gwsim_proxy::UserBackend;
use gwsim_proxy::wire::{
    NOT_ON_WIRE, WireCluster, WireTarget, run_paths_wire, run_paths_wire_listing,
};
use gwsim_sim::files::Source;
use gwsim_sim::runner::{Outcome, RunOptions, run_scenario, start_cluster};
use gwsim_sim::scenario::{Base, load_scenario};

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Every test of the suite ends over the wire as it ends in memory (passed, or skipped for
/// the same reason), apart from the listed cases, which are skipped with their reason.
#[test]
fn the_conformance_suite_over_the_wire_agrees_with_memory() {
    let suite = load_suite(None).expect("the embedded suite loads");
    let memory = run(&suite, &Options::default()).expect("runs in memory");
    let wire = run_on(&suite, &Options::default(), &WireTarget).expect("runs over the wire");
    assert_eq!(wire.exit_code(), 0, "{}", wire.render_text());
    assert_eq!(memory.results.len(), wire.results.len());
    let mut passed = 0;
    for (m, w) in memory.results.iter().zip(&wire.results) {
        assert_eq!(m.name, w.name);
        match NOT_ON_WIRE.iter().find(|(name, _)| *name == w.scenario) {
            Some((_, reason)) if m.outcome == TestOutcome::Passed => assert_eq!(
                w.outcome,
                TestOutcome::Skipped(format!("(wire) {reason}")),
                "{}",
                w.name
            ),
            _ => assert_eq!(m.outcome, w.outcome, "{}", w.name),
        }
        passed += usize::from(w.outcome == TestOutcome::Passed);
    }
    assert!(passed >= 80, "only {passed} tests passed over the wire");
}

#[test]
fn the_example_scenarios_pass_over_the_wire() {
    let report =
        run_paths_wire(&[repo_path("testdata/scenarios")], &RunOptions::default()).expect("loads");
    let text = report.render_text();
    assert_eq!(report.exit_code(), 0, "{text}");
    let files = std::fs::read_dir(repo_path("testdata/scenarios"))
        .expect("folder")
        .count();
    assert_eq!(report.ran.summary.passed, files, "{text}");
}

fn scenario_dir(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gwsim-wire-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join(format!("{name}.yaml")), text).expect("write");
    dir
}

const ROUTE: &str = r#"base: conformance
features: [Gateway, HTTPRoute]
manifests:
- |
  apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata: {name: r, namespace: gateway-conformance-infra}
  spec:
    parentRefs: [{name: same-namespace}]
    rules:
    - matches: [{path: {type: PathPrefix, value: /v1}}]
      backendRefs: [{name: infra-backend-v1, port: 8080}]
steps:
"#;

/// A wrong expectation fails over the wire too, with the field that differs; a scenario in
/// the listing is reported `skipped (wire)` and counted, never passed.
#[test]
fn a_wrong_expectation_fails_and_a_listed_case_is_skipped() {
    let wrong = format!(
        "name: wrong\n{ROUTE}- request: {{gateway: gateway-conformance-infra/same-namespace, path: /v1}}\n  expect: {{status: 200, backend: infra-backend-v2}}\n"
    );
    let listed = format!(
        "name: listed\n{ROUTE}- request: {{gateway: gateway-conformance-infra/same-namespace, path: /v1}}\n  expect: {{status: 200, backend: infra-backend-v1}}\n"
    );
    let dir = scenario_dir("negative", &wrong);
    std::fs::write(dir.join("listed.yaml"), listed).expect("write");
    let report = run_paths_wire_listing(
        std::slice::from_ref(&dir),
        &RunOptions::default(),
        &[("listed", "a reason long enough to read as one")],
    )
    .expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    let text = report.render_text();
    assert_eq!(report.exit_code(), 1, "{text}");
    assert_eq!(report.ran.summary.failed, 1, "{text}");
    assert!(text.contains("FAILED   wrong"), "{text}");
    assert!(text.contains("backend"), "{text}");
    assert!(text.contains("infra-backend-v1-"), "{text}");
    assert!(
        text.contains("skipped (wire) listed: a reason long enough to read as one"),
        "{text}"
    );
    assert!(
        text.ends_with("0 passed, 1 failed, 1 skipped (1 of them cannot run on the wire)\n"),
        "{text}"
    );
}

/// A data plane that answers otherwise than the model (here a Service sent to a server of
/// the test's instead of its echo pods) is reported as a mismatch by the same checks.
#[test]
fn a_data_plane_that_differs_from_the_model_is_a_mismatch() {
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut stream in server.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nmine",
            );
        }
    });
    let text = format!(
        "name: differs\n{ROUTE}- request: {{gateway: gateway-conformance-infra/same-namespace, path: /v1}}\n  expect: {{status: 200, backend: infra-backend-v1}}\n"
    );
    let scenario = load_scenario(&Source {
        name: "differs.yaml".into(),
        path: PathBuf::from("differs.yaml"),
        text,
    })
    .expect("scenario");
    let sim = start_cluster(Base::Conformance, 0).expect("base");
    let user = UserBackend::parse(&format!(
        "gateway-conformance-infra/infra-backend-v1=http://{addr}"
    ))
    .expect("spec");
    let mut cluster = WireCluster::with_options(sim, vec![user]).expect("runtime");
    let result = run_scenario(&scenario, &mut cluster, None, 0);
    let Outcome::Failed(failure) = &result.outcome else {
        panic!("a data plane that differs passed: {result:?}");
    };
    let diff = failure.diff.as_deref().unwrap_or_default();
    assert!(
        diff.contains("answered by the gateway, no backend"),
        "{failure:?}"
    );

    // The same scenario on echo backends passes: the mismatch came from the data plane.
    let sim = start_cluster(Base::Conformance, 0).expect("base");
    let mut cluster = WireCluster::new(sim).expect("runtime");
    let result = run_scenario(&scenario, &mut cluster, None, 0);
    assert_eq!(result.outcome, Outcome::Passed);
}

/// Frontend client certificate validation (GEP-91) on real sockets can fail: a certificate
/// from a CA the port does not trust, or none, fails the handshake; a trusted one does not.
#[test]
fn client_certificate_checks_fail_over_the_wire_when_they_should() {
    let text = std::fs::read_to_string(repo_path(
        "testdata/conformance/gateway-frontend-client-certificate-validation.yaml",
    ))
    .expect("the scenario");
    let manifests = &text
        [text.find("base: conformance").expect("a base")..text.find("\nsteps:").expect("steps")];
    let step = |certificate: Option<&str>, expect: &str| {
        let presented = certificate.map_or(String::new(), |name| {
            format!(
                "\n      clientCertificate: {{name: {name}, namespace: gateway-conformance-infra}}"
            )
        });
        format!(
            "{manifests}\nsteps:\n  - request:\n      gateway: gateway-conformance-infra/client-cert-validation\n      scheme: https\n      host: example.org{presented}\n    expect: {expect}\n"
        )
    };
    let ok = "{status: 200, backend: infra-backend-v1, namespace: gateway-conformance-infra}";
    let cases = [
        (
            "other-ca",
            step(Some("tls-validity-checks-per-port-client-certificate"), ok),
            "TLS handshake failed: the Gateway sent the TLS alert",
        ),
        (
            "no-certificate",
            step(None, ok),
            "TLS handshake failed: the Gateway sent the TLS alert CertificateRequired",
        ),
        (
            "trusted",
            step(
                Some("tls-validity-checks-client-certificate"),
                "{handshakeFails: true}",
            ),
            "expected the TLS handshake to fail, but it succeeded and the Gateway answered 200",
        ),
    ];
    let dir = scenario_dir("frontend", "");
    std::fs::remove_file(dir.join("frontend.yaml")).expect("removed");
    for (name, text, _) in &cases {
        std::fs::write(
            dir.join(format!("{name}.yaml")),
            format!("name: {name}\n{text}"),
        )
        .expect("write");
    }
    let report = run_paths_wire(std::slice::from_ref(&dir), &RunOptions::default()).expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    let text = report.render_text();
    assert_eq!(report.ran.summary.failed, cases.len(), "{text}");
    for (name, _, message) in &cases {
        let result = report
            .ran
            .scenarios
            .iter()
            .find(|s| s.name == *name)
            .unwrap_or_else(|| panic!("{name} ran: {text}"));
        match &result.outcome {
            Outcome::Failed(failure) => {
                assert!(failure.message.contains(message), "{name}: {text}")
            }
            other => panic!("{name}: {other:?}\n{text}"),
        }
    }
}

const CONSUMER_ROUTE: &str = r#"base: conformance
features: [Mesh, HTTPRoute]
manifests:
- |
  apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata: {name: consumer, namespace: gateway-conformance-mesh-consumer}
  spec:
    parentRefs: [{group: "", kind: Service, name: echo-v1, namespace: gateway-conformance-mesh}]
    rules:
    - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Route, value: consumer}]}}]
      backendRefs: [{name: echo-v2, namespace: gateway-conformance-mesh, port: 80}]
steps:
"#;

/// Requests from pods go over the wire and are decided for the pod's namespace: a consumer
/// route's header reaches its own namespace's client and is expected in vain by another's;
/// a pod's address on a port it does not serve refuses the connection.
#[test]
fn requests_from_pods_over_the_wire_fail_when_they_should() {
    let step = |name: &str, namespace: &str, expect: &str| {
        format!(
            "name: {name}\n{CONSUMER_ROUTE}- request: {{from: {{namespace: {namespace}, labels: {{app: echo}}}}, host: echo-v1.gateway-conformance-mesh}}\n  expect: {expect}\n"
        )
    };
    let right = step(
        "right",
        "gateway-conformance-mesh-consumer",
        "{status: 200, backend: echo-v2, headers: {X-Route: consumer}}",
    );
    let wrong = step(
        "wrong",
        "gateway-conformance-mesh",
        "{status: 200, headers: {X-Route: consumer}}",
    );
    let nowhere = format!(
        "name: nowhere\n{CONSUMER_ROUTE}- request: {{from: {{namespace: gateway-conformance-mesh, labels: {{app: echo}}}}, toPod: {{namespace: gateway-conformance-mesh, labels: {{version: v2}}, port: 9999}}}}\n  expect: {{status: 200}}\n"
    );
    let dir = scenario_dir("mesh", &right);
    std::fs::write(dir.join("wrong.yaml"), wrong).expect("write");
    std::fs::write(dir.join("nowhere.yaml"), nowhere).expect("write");
    let report = run_paths_wire(std::slice::from_ref(&dir), &RunOptions::default()).expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    let text = report.render_text();
    assert!(text.contains("ok       right"), "{text}");
    assert!(text.contains("FAILED   wrong"), "{text}");
    assert!(text.contains("X-Route"), "{text}");
    assert!(text.contains("FAILED   nowhere"), "{text}");
    assert!(text.contains("connection refused"), "{text}");
    assert!(text.ends_with("1 passed, 2 failed, 0 skipped\n"), "{text}");
}
