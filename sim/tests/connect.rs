//! `connect` steps: every expectation can fail, and the step's shape is checked when loading.

mod common;

/// A Passthrough listener for *.example.com with a route for abc.example.com to the TCP echo's
/// TLS port, and a Terminate listener for tls.example.com to its plain port.
const MANIFESTS: &str = r#"base: conformance
features: [Gateway, TLSRoute]
manifests:
  - |
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: tls, namespace: gateway-conformance-infra}
    spec:
      gatewayClassName: gateway-conformance
      listeners:
        - {name: pass, port: 443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
        - name: term
          port: 443
          protocol: TLS
          hostname: tls.example.com
          tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: TLSRoute
    metadata: {name: pass, namespace: gateway-conformance-infra}
    spec:
      parentRefs: [{name: tls}]
      hostnames: [abc.example.com]
      rules: [{backendRefs: [{name: tcp-backend, port: 8443}]}]
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: TLSRoute
    metadata: {name: term, namespace: gateway-conformance-infra}
    spec:
      parentRefs: [{name: tls}]
      hostnames: [tls.example.com]
      rules: [{backendRefs: [{name: tcp-backend, port: 3000}]}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: other-ca, namespace: gateway-conformance-infra}
    data:
      ca.crt: |
        -----BEGIN CERTIFICATE-----
        MIIB2TCCAX+gAwIBAgIUCUU0gltY078e31TLWYprsR0euw8wCgYIKoZIzj0EAwIw
        OTEaMBgGA1UECgwRZ3dzaW0gY29uZm9ybWFuY2UxGzAZBgNVBAMMEmd3c2ltIHVu
        cmVsYXRlZCBDQTAgFw0yNTAxMDEwMDAwMDBaGA8yMTI1MDEwMTAwMDAwMFowOTEa
        MBgGA1UECgwRZ3dzaW0gY29uZm9ybWFuY2UxGzAZBgNVBAMMEmd3c2ltIHVucmVs
        YXRlZCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNypDJZ+Fa95fBvHLkb5
        W26zdnKQ50zOEuR1t5lZVYbs0JMPwIFOxY8BWGxjd0GylFFEh+8OrSWGj9A1XOhr
        W4OjYzBhMB0GA1UdDgQWBBSQvXRra3lGAGu1D/HDMWo3uV0CADAfBgNVHSMEGDAW
        gBSQvXRra3lGAGu1D/HDMWo3uV0CADAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB
        /wQEAwIBBjAKBggqhkjOPQQDAgNIADBFAiEAqQuSprMnQVFGZ0Qn38iC1FZbX1zI
        Qo315VueIU5rZ+MCIE8EgCxnz6EE9Sxi6jKvWDXRAmPxmwGYUz5rgzETHK/E
        -----END CERTIFICATE-----
"#;

fn step(sni: &str, trust: &str, expect: &str) -> String {
    format!(
        "  - connect: {{gateway: gateway-conformance-infra/tls, port: 443, sni: {sni}{trust}}}\n    expect: {expect}\n"
    )
}

const TRUST: &str =
    ", trust: {namespace: gateway-conformance-infra, name: tls-checks-ca-certificate}";
const WRONG_TRUST: &str = ", trust: {namespace: gateway-conformance-infra, name: other-ca}";

#[test]
fn every_connection_expectation_can_fail() {
    let pass = "{backend: tcp-backend, namespace: gateway-conformance-infra, connection: {tls: true, sni: abc.example.com}, serverCertificate: {dnsNames: [abc.example.com, other.example.com]}}";
    let term = "{backend: tcp-backend, connection: {tls: false, sni: \"\"}, serverCertificate: {dnsNames: [tls.example.com]}}";
    let cases: Vec<(String, Option<&str>)> = vec![
        (step("abc.example.com", TRUST, pass), None),
        (step("tls.example.com", TRUST, term), None),
        (step("nope.example.com", "", "{reset: true}"), None),
        (
            step("abc.example.com", "", "{backend: infra-backend-v1}"),
            Some("backend: expected infra-backend-v1"),
        ),
        (
            step(
                "abc.example.com",
                "",
                "{namespace: gateway-conformance-app-backend}",
            ),
            Some("namespace: expected gateway-conformance-app-backend"),
        ),
        (
            step("abc.example.com", "", "{connection: {tls: false}}"),
            Some("connection.tls: expected false"),
        ),
        (
            step(
                "abc.example.com",
                "",
                "{connection: {sni: other.example.com}}",
            ),
            Some("connection.sni: expected \"other.example.com\""),
        ),
        (
            step(
                "tls.example.com",
                "",
                "{connection: {sni: tls.example.com}}",
            ),
            Some("the backend saw \"\""),
        ),
        (
            step(
                "abc.example.com",
                "",
                "{serverCertificate: {dnsNames: [tls.example.com]}}",
            ),
            Some("serverCertificate.dnsNames"),
        ),
        (
            step("abc.example.com", "", "{reset: true}"),
            Some("expected the connection to be reset"),
        ),
        (
            step("nope.example.com", "", "{reset: false}"),
            Some("connection reset, expected an echo backend to answer"),
        ),
        (
            step("abc.example.com", WRONG_TRUST, "{backend: tcp-backend}"),
            Some("the client refused the handshake"),
        ),
        (
            step("tls.example.com", WRONG_TRUST, "{backend: tcp-backend}"),
            Some("the client refused the handshake"),
        ),
    ];
    common::expect_outcomes(MANIFESTS, cases);
}

#[test]
fn connect_steps_are_checked_when_loading() {
    let cases = [
        (
            "  - connect: {port: 443}\n    expect: {status: 200}\n",
            "expect.status goes only with request steps",
        ),
        (
            "  - connect: {port: 443}\n    expect: {reset: true, backend: tcp-backend}\n",
            "expect.reset: true means nothing answers",
        ),
        (
            "  - connect: {port: 443, sni: \"\"}\n",
            "connect.sni must not be empty",
        ),
        (
            "  - connect: {port: 443, gateway: nogateway}\n",
            "must be NAMESPACE/NAME",
        ),
        (
            "  - request: {path: /}\n    expect: {reset: true}\n",
            "expect.reset and expect.connection go only with connect steps",
        ),
        (
            "  - connect: {port: 443}\n    request: {path: /}\n",
            "several actions",
        ),
    ];
    common::expect_load_errors(MANIFESTS, &cases);
}
