//! The TLS handshake model: server certificates chosen by SNI, frontend client certificate
//! validation (GEP-91) with real X.509 verification, and the scenario keys that check them
//! (`request.clientCertificate`, `expect.handshakeFails`, `expect.serverCertificate`). Each
//! check passes when it holds and fails, naming why, when it does not.

use std::path::PathBuf;

use gwsim_sim::files::Source;
use gwsim_sim::runner::{RunOptions, run_scenarios};
use gwsim_sim::scenario::load_scenario;

fn fixtures() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls-fixtures.yaml")
        .display()
        .to_string()
}

fn scenario(name: &str, steps: &str) -> String {
    format!(
        "name: {name}\nbase: conformance\nmanifests:\n- {{file: {}}}\nsteps:\n{steps}",
        fixtures()
    )
}

/// Runs a scenario: whether it passed, and its text and JSON reports.
fn run(name: &str, steps: &str) -> (bool, String) {
    let text = scenario(name, steps);
    let source = Source {
        name: format!("{name}.yaml"),
        path: PathBuf::from(format!("{name}.yaml")),
        text: text.clone(),
    };
    let scenario = load_scenario(&source).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    let report = run_scenarios(&[scenario], &RunOptions::default()).expect("runs");
    (
        report.summary.passed == 1,
        format!("{}\n{}", report.render_text(), report.render_json()),
    )
}

fn request(port: u16, host: &str, cert: Option<&str>, expect: &str) -> String {
    let cert = cert
        .map(|c| {
            format!(", clientCertificate: {{name: {c}, namespace: gateway-conformance-infra}}")
        })
        .unwrap_or_default();
    format!(
        "- request: {{gateway: gateway-conformance-infra/mtls, scheme: https, port: {port}, host: {host}{cert}}}\n  expect: {expect}\n"
    )
}

struct Case {
    name: &'static str,
    steps: String,
    /// Empty: must pass. Otherwise must fail, its report containing each.
    fails_with: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let ok = "{status: 200, backend: infra-backend-v1}";
    let refused = "{handshakeFails: true}";
    vec![
        Case {
            name: "client-from-the-ca",
            steps: request(443, "a.example.com", Some("client-default"), ok),
            fails_with: &[],
        },
        Case {
            name: "client-from-another-ca-is-refused",
            steps: request(443, "a.example.com", Some("client-per-port"), refused),
            fails_with: &[],
        },
        Case {
            name: "client-from-another-ca-cannot-pass",
            steps: request(443, "a.example.com", Some("client-per-port"), ok),
            fails_with: &[
                "TLS handshake failed: listener a requires a client certificate",
                "client-per-port is refused: not issued by a trusted CA",
            ],
        },
        Case {
            name: "a-valid-client-does-not-fail-the-handshake",
            steps: request(443, "a.example.com", Some("client-default"), refused),
            fails_with: &[
                "expected the TLS handshake to fail, but it succeeded and the Gateway answered 200",
            ],
        },
        Case {
            name: "no-client-certificate",
            steps: request(443, "a.example.com", None, refused),
            fails_with: &[],
        },
        Case {
            name: "no-client-certificate-cannot-pass",
            steps: request(443, "a.example.com", None, ok),
            fails_with: &["the client presented no certificate"],
        },
        Case {
            // The simulator's clock starts at 2026-01-01; this certificate ended 2025-06-01.
            name: "expired-client-certificate",
            steps: request(443, "a.example.com", Some("client-expired"), ok),
            fails_with: &["client-expired is refused: the certificate has expired"],
        },
        Case {
            name: "missing-client-secret",
            steps: request(443, "a.example.com", Some("nope"), ok),
            fails_with: &[
                "request.clientCertificate gateway-conformance-infra/nope: Secret not found",
            ],
        },
        Case {
            name: "insecure-fallback-lets-anyone-in",
            steps: request(8443, "a.example.com", None, ok)
                + &request(8443, "a.example.com", Some("client-default"), ok)
                + &request(8443, "a.example.com", Some("client-expired"), ok)
                + "- status:\n  - kind: Gateway\n    name: mtls\n    namespace: gateway-conformance-infra\n    conditions: [{type: InsecureFrontendValidationMode, status: \"True\", reason: ConfigurationChanged}]\n",
            fails_with: &[],
        },
        Case {
            name: "insecure-fallback-never-refuses",
            steps: request(8443, "a.example.com", None, refused),
            fails_with: &["expected the TLS handshake to fail, but it succeeded"],
        },
        Case {
            name: "server-certificate-by-sni",
            steps: request(
                443,
                "a.example.com",
                Some("client-default"),
                "{status: 200, serverCertificate: {dnsNames: [a.example.com]}}",
            ) + &request(
                443,
                "x.b.example.com",
                Some("client-default"),
                "{status: 200, serverCertificate: {dnsNames: [\"*.b.example.com\", b.example.com]}}",
            ),
            fails_with: &[],
        },
        Case {
            name: "server-certificate-wrong",
            steps: request(
                443,
                "x.b.example.com",
                Some("client-default"),
                "{status: 200, serverCertificate: {dnsNames: [a.example.com]}}",
            ),
            fails_with: &[
                "the Gateway presented a certificate for [\\\"b.example.com\\\", \\\"*.b.example.com\\\"], expected one for [\\\"a.example.com\\\"]",
            ],
        },
    ]
}

#[test]
fn handshakes_check_what_they_say() {
    let mut problems = Vec::new();
    for c in cases() {
        let (passed, report) = run(c.name, &c.steps);
        if c.fails_with.is_empty() {
            if !passed {
                problems.push(format!("{}: should pass:\n{report}", c.name));
            }
            continue;
        }
        if passed {
            problems.push(format!("{}: should fail", c.name));
            continue;
        }
        for needle in c.fails_with {
            if !report.contains(needle) {
                problems.push(format!("{}: report lacks {needle:?}:\n{report}", c.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn tls_expectations_are_checked_when_loading() {
    for (steps, message) in [
        (
            "- request: {scheme: http}\n  expect: {handshakeFails: true}\n",
            "expect.handshakeFails and expect.serverCertificate go only with request.scheme https",
        ),
        (
            "- request: {scheme: https}\n  expect: {handshakeFails: true, status: 200}\n",
            "expect.handshakeFails: true (no HTTP answer comes back) cannot go with another expectation",
        ),
        (
            "- request: {scheme: https}\n  expect: {serverCertificate: {dnsName: [a]}}\n",
            "unknown field `dnsName`",
        ),
    ] {
        let text = scenario("bad", steps);
        let source = Source {
            name: "bad.yaml".into(),
            path: PathBuf::from("bad.yaml"),
            text,
        };
        let error = load_scenario(&source).expect_err("refused").to_string();
        assert!(error.contains(message), "{error}");
    }
}

#[test]
fn a_ca_that_does_not_resolve_refuses_the_listener_and_its_handshakes() {
    // The default CA ConfigMap is removed: listeners a and b have no usable CA.
    let steps = "- delete: {kind: ConfigMap, name: ca-default, namespace: gateway-conformance-infra}\n- status:\n  - kind: Gateway\n    name: mtls\n    namespace: gateway-conformance-infra\n    listeners:\n    - name: a\n      conditions: [{type: Accepted, status: \"False\", reason: NoValidCACertificate}, {type: ResolvedRefs, status: \"False\", reason: InvalidCACertificateRef}, {type: Programmed, status: \"False\"}]\n    - name: fallback\n      conditions: [{type: Accepted, status: \"True\"}]\n"
        .to_string()
        + &request(443, "a.example.com", Some("client-default"), "{handshakeFails: true}");
    let (passed, report) = run("ca-gone", &steps);
    assert!(passed, "{report}");
}
