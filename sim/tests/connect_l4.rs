//! TCP and UDP `connect` steps: every new expectation can fail (the echo a pod runs, the
//! protocol a listener takes, distributions over connections), and their shape is checked
//! when loading.

mod common;

/// One TCP echo, one UDP echo, one CoreDNS and two more TCP echoes for weights.
fn workload(name: &str, env: &str, image: &str) -> String {
    format!(
        r#"    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: {name}, namespace: gateway-conformance-infra}}
    spec:
      selector: {{app: {name}}}
      ports: [{{port: 3000}}]
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: {name}, namespace: gateway-conformance-infra}}
    spec:
      replicas: 1
      selector: {{matchLabels: {{app: {name}}}}}
      template:
        metadata: {{labels: {{app: {name}}}}}
        spec:
          containers: [{{name: c, image: "{image}", env: [{env}]}}]
"#
    )
}

/// A TCPRoute or UDPRoute on one listener of Gateway `l4`.
fn route(kind: &str, name: &str, listener: &str, backends: &str) -> String {
    format!(
        r#"    ---
    apiVersion: gateway.networking.k8s.io/v1alpha2
    kind: {kind}
    metadata: {{name: {name}, namespace: gateway-conformance-infra}}
    spec:
      parentRefs: [{{name: l4, sectionName: {listener}}}]
      rules: [{{backendRefs: {backends}}}]
"#
    )
}

fn manifests() -> String {
    const ECHO: &str = "registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0";
    let mut m = String::from(
        r#"base: conformance
features: [Gateway, TCPRoute, UDPRoute]
manifests:
  - |
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: l4, namespace: gateway-conformance-infra}
    spec:
      gatewayClassName: gateway-conformance
      listeners:
        - {name: tcp-echo, port: 9000, protocol: TCP}
        - {name: tcp-http, port: 9001, protocol: TCP}
        - {name: tcp-tls, port: 9002, protocol: TCP}
        - {name: tcp-split, port: 9003, protocol: TCP}
        - {name: udp-echo, port: 9000, protocol: UDP}
        - {name: udp-dns, port: 9001, protocol: UDP}
        - {name: udp-tcp, port: 9002, protocol: UDP}
        - {name: udp-only, port: 9004, protocol: UDP}
"#,
    );
    m += &workload("tcp-echo", "{name: TCP_ECHO_SERVER, value: \"1\"}", ECHO);
    m += &workload("tcp-a", "{name: TCP_ECHO_SERVER, value: \"1\"}", ECHO);
    m += &workload("tcp-b", "{name: TCP_ECHO_SERVER, value: \"1\"}", ECHO);
    m += &workload("udp-echo", "{name: UDP_ECHO_SERVER, value: \"1\"}", ECHO);
    m += &workload("dns", "", "registry.k8s.io/coredns/coredns:v1.14.6");
    m += &route(
        "TCPRoute",
        "echo",
        "tcp-echo",
        "[{name: tcp-echo, port: 3000}]",
    );
    m += &route(
        "TCPRoute",
        "http",
        "tcp-http",
        "[{name: infra-backend-v1, port: 8080}]",
    );
    m += &route(
        "TCPRoute",
        "tls",
        "tcp-tls",
        "[{name: tcp-backend, port: 8443}]",
    );
    m += &route(
        "TCPRoute",
        "split",
        "tcp-split",
        "[{name: tcp-a, port: 3000}, {name: tcp-b, port: 3000}]",
    );
    m += &route(
        "UDPRoute",
        "echo",
        "udp-echo",
        "[{name: udp-echo, port: 3000}]",
    );
    m += &route("UDPRoute", "dns", "udp-dns", "[{name: dns, port: 3000}]");
    m += &route(
        "UDPRoute",
        "tcp",
        "udp-tcp",
        "[{name: tcp-echo, port: 3000}]",
    );
    m += &route(
        "UDPRoute",
        "only",
        "udp-only",
        "[{name: udp-echo, port: 3000}]",
    );
    m
}

/// A connect step to Gateway `l4`: `connect` holds the keys after the Gateway.
fn step(connect: &str, expect: &str) -> String {
    format!(
        "  - connect: {{gateway: gateway-conformance-infra/l4, {connect}}}\n    expect: {expect}\n"
    )
}

#[test]
fn every_tcp_and_udp_expectation_can_fail() {
    let echo =
        "{backend: tcp-echo, namespace: gateway-conformance-infra, connection: {tls: false}}";
    let cases: Vec<(String, Option<&str>)> = vec![
        (step("protocol: TCP, port: 9000", echo), None),
        (
            step("protocol: TCP, port: 9000", "{backend: tcp-a}"),
            Some("backend: expected tcp-a"),
        ),
        // The HTTP echo never greets a TCP client; the TCP echo's TLS port wants TLS.
        (
            step("protocol: TCP, port: 9001", "{reset: false}"),
            Some("no welcome line"),
        ),
        (
            step("protocol: TCP, port: 9002", "{reset: false}"),
            Some("expects TLS, and the client speaks plain TCP"),
        ),
        // A UDP listener takes no TCP connection, and a TLS client finds no TLS listener.
        (
            step("protocol: TCP, port: 9004", "{reset: false}"),
            Some("has no TCP listener on port 9004"),
        ),
        (
            step("port: 9000, sni: a.example.com", "{reset: false}"),
            Some("has no TLS or HTTPS listener on port 9000"),
        ),
        (
            step(
                "protocol: UDP, port: 9000",
                "{backend: udp-echo, namespace: gateway-conformance-infra}",
            ),
            None,
        ),
        (
            step(
                "protocol: UDP, port: 9000, dnsQuery: foo.bar.com",
                "{reset: false}",
            ),
            Some("got no DNS answer"),
        ),
        (
            step(
                "protocol: UDP, port: 9001, dnsQuery: foo.bar.com",
                "{backend: dns}",
            ),
            None,
        ),
        (
            step("protocol: UDP, port: 9001", "{reset: false}"),
            Some("the UDP echo probe got no reply"),
        ),
        (
            step("protocol: UDP, port: 9002", "{reset: false}"),
            Some("runs the TCP echo"),
        ),
        (
            step("protocol: UDP, port: 9000", "{reset: true}"),
            Some("expected the connection to be reset"),
        ),
        (
            step(
                "protocol: TCP, port: 9003, count: 400",
                "{distribution: {tcp-a: 0.5, tcp-b: 0.5}, tolerance: 0.1}",
            ),
            None,
        ),
        (
            step(
                "protocol: TCP, port: 9003, count: 400",
                "{distribution: {tcp-a: 0.9, tcp-b: 0.1}}",
            ),
            Some("distribution over 400 connections is off"),
        ),
        (
            step(
                "protocol: TCP, port: 9003, count: 400",
                "{distribution: {tcp-a: 1}, tolerance: 0.6}",
            ),
            Some("distribution.tcp-b"),
        ),
        (
            step("protocol: TCP, port: 9003, count: 50", "{backend: tcp-a}"),
            Some("of 50: backend: expected tcp-a"),
        ),
    ];
    common::expect_outcomes(&manifests(), cases);
}

#[test]
fn tcp_and_udp_connect_steps_are_checked_when_loading() {
    let cases = [
        (
            "  - connect: {port: 9000, protocol: SCTP}\n",
            "connect.protocol \"SCTP\" is not one of TLS, TCP, UDP",
        ),
        (
            "  - connect: {port: 9000, protocol: TCP, sni: a.example.com}\n",
            "connect.sni and connect.trust go only with TLS",
        ),
        (
            "  - connect: {port: 9000, protocol: TCP, dnsQuery: foo.bar.com}\n",
            "connect.dnsQuery goes only with protocol: UDP",
        ),
        (
            "  - connect: {port: 9000, protocol: UDP, count: 0}\n",
            "connect.count must be at least 1",
        ),
        (
            "  - connect: {port: 9000, protocol: UDP, count: 100001}\n",
            "connect.count 100001 is more than 100000, gwsim's limit of requests per step",
        ),
        (
            "  - connect: {port: 9000, protocol: TCP}\n    expect: {serverCertificate: {dnsNames: [a]}}\n",
            "go only with TLS connections",
        ),
        (
            "  - connect: {port: 9000, protocol: TCP}\n    expect: {tolerance: 0.1}\n",
            "expect.tolerance goes only with distribution",
        ),
        (
            "  - connect: {port: 9000, protocol: TCP, count: 5}\n    expect: {reset: true, distribution: {a: 1}}\n",
            "drop distribution",
        ),
    ];
    common::expect_load_errors(&manifests(), &cases);
}
