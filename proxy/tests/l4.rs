//! TLS, TCP and UDP listeners on loopback: `gwsim serve` with real clients, and `connect`
//! steps over the wire, each with what must not answer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use gwsim_proxy::wire::run_paths_wire;
use gwsim_proxy::{Options, Proxy};
use gwsim_sim::runner::{Outcome, RunOptions};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};

const WELCOME: &str = "Gateway API Test TCP Server\n";

fn state() -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let crt = engine.encode(include_bytes!("data/test.crt"));
    let key = engine.encode(include_bytes!("data/test.key"));
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: gwsim}}
spec: {{controllerName: gateway.gwsim.dev/controller}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: infra}}
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: infra}}
spec:
  ports: [{{name: tcp, port: 3000}}]
---
apiVersion: v1
kind: Secret
metadata: {{name: cert, namespace: infra}}
type: kubernetes.io/tls
data: {{tls.crt: {crt}, tls.key: {key}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: gwsim
  listeners:
  - {{name: tcp, port: 9000, protocol: TCP}}
  - {{name: bare-tcp, port: 9001, protocol: TCP}}
  - {{name: udp, port: 9000, protocol: UDP}}
  - {{name: bare-udp, port: 9001, protocol: UDP}}
  - {{name: tls, port: 8443, protocol: TLS, hostname: a.example, tls: {{mode: Terminate, certificateRefs: [{{name: cert}}]}}}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {{name: tcp, namespace: infra}}
spec:
  parentRefs: [{{name: gw, sectionName: tcp}}]
  rules: [{{backendRefs: [{{name: echo, port: 3000}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {{name: udp, namespace: infra}}
spec:
  parentRefs: [{{name: gw, sectionName: udp}}]
  rules: [{{backendRefs: [{{name: echo, port: 3000}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {{name: tls, namespace: infra}}
spec:
  parentRefs: [{{name: gw, sectionName: tls}}]
  hostnames: [a.example]
  rules: [{{backendRefs: [{{name: echo, port: 3000}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: shared, namespace: infra}}
spec:
  gatewayClassName: gwsim
  listeners:
  - {{name: shared-tls, port: 8443, protocol: TLS, hostname: a.example, tls: {{mode: Terminate, certificateRefs: [{{name: cert}}]}}}}
  - {{name: shared-https, port: 8443, protocol: HTTPS, hostname: b.example, tls: {{certificateRefs: [{{name: cert}}]}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {{name: shared-tls, namespace: infra}}
spec:
  parentRefs: [{{name: shared, sectionName: shared-tls}}]
  hostnames: [a.example]
  rules: [{{backendRefs: [{{name: echo, port: 3000}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: shared-https, namespace: infra}}
spec:
  parentRefs: [{{name: shared, sectionName: shared-https}}]
  rules: [{{backendRefs: [{{name: echo, port: 3000}}]}}]
"#
    )
}

async fn serve(name: &str) -> (Arc<Proxy>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("gwsim-l4-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("state.yaml");
    std::fs::write(&file, state()).expect("write");
    let inputs = gwsim_sim::inputs::load(&[file]).expect("loads");
    assert!(inputs.rejected.is_empty(), "{:?}", inputs.rejected);
    let options = Options {
        bind: Some("127.0.0.1".parse().expect("ip")),
        ephemeral_ports: true,
        ..Options::default()
    };
    let proxy = Proxy::start(&inputs.snapshot, inputs.table, options)
        .await
        .expect("starts");
    (Arc::new(proxy), dir)
}

/// The socket served for `listener`, and its URL scheme.
fn served(proxy: &Proxy, listener: &str) -> (String, SocketAddr) {
    let url = proxy
        .served()
        .into_iter()
        .find(|s| s.listener == listener)
        .unwrap_or_else(|| panic!("{listener} served: {:?}", proxy.served()))
        .url;
    let (scheme, addr) = url.split_once("://").expect("url");
    (scheme.to_string(), addr.parse().expect("addr"))
}

/// The TCP echo's welcome line and its TEST report; `None` when the connection closes or
/// stays silent first.
async fn echo_session<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Option<serde_json::Value> {
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(2), lines.read_line(&mut line)).await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return None;
    }
    assert_eq!(line, WELCOME);
    write.write_all(b"PING\nTEST\n").await.ok()?;
    line.clear();
    lines.read_line(&mut line).await.ok()?;
    assert_eq!(line, "PONG\n");
    line.clear();
    lines.read_line(&mut line).await.ok()?;
    Some(serde_json::from_str(&line).expect("the report is JSON"))
}

async fn udp_exchange(addr: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    socket.connect(addr).await.expect("connect");
    socket.send(payload).await.expect("send");
    let mut buf = vec![0u8; 65_535];
    match tokio::time::timeout(Duration::from_millis(700), socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_udp_listeners_reach_the_echo_and_unattached_ports_do_not() {
    let (proxy, dir) = serve("tcp-udp").await;
    let (scheme, tcp) = served(&proxy, "tcp");
    assert_eq!(scheme, "tcp");
    let report = echo_session(TcpStream::connect(tcp).await.expect("connects"))
        .await
        .expect("the TCP echo answers");
    assert_eq!(report["pod"], "echo-echo");
    assert_eq!(report["isTLS"], false);
    // A TCP listener without a route: the Gateway closes the connection, nothing greets.
    let (_, bare) = served(&proxy, "bare-tcp");
    assert_eq!(
        echo_session(TcpStream::connect(bare).await.expect("connects")).await,
        None
    );

    let (scheme, udp) = served(&proxy, "udp");
    assert_eq!(scheme, "udp");
    let reply = udp_exchange(udp, b"hello")
        .await
        .expect("the UDP echo replies");
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("JSON");
    assert_eq!(reply["request"], "hello");
    assert_eq!(reply["pod"], "echo-echo");
    // A datagram to a UDP listener without a route is dropped.
    let (_, bare) = served(&proxy, "bare-udp");
    assert_eq!(udp_exchange(bare, b"hello").await, None);
    let _ = std::fs::remove_dir_all(dir);
}

async fn tls_client(
    addr: SocketAddr,
    sni: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(include_bytes!("data/ca.crt"))
        .expect("pem");
    roots.add(ca).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let stream = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).expect("name");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_terminate_completes_the_handshake_and_a_wrong_sni_is_closed() {
    let (proxy, dir) = serve("tls").await;
    let (scheme, addr) = served(&proxy, "tls");
    assert_eq!(scheme, "tls");
    let stream = tls_client(addr, "a.example")
        .await
        .expect("the listener's certificate");
    let report = echo_session(stream).await.expect("the echo answers");
    // Terminated by the Gateway: the echo sees plain TCP.
    assert_eq!(report["isTLS"], false);
    assert_eq!(report["pod"], "echo-echo");
    // No route takes b.example (the certificate would): the Gateway closes the connection.
    assert!(tls_client(addr, "b.example").await.is_err());
    let _ = std::fs::remove_dir_all(dir);
}

/// A TLS listener and an HTTPS listener on one port: the SNI picks the listener, and each
/// serves its connections its way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_https_listeners_share_a_port() {
    let (proxy, dir) = serve("shared").await;
    let (scheme, tls) = served(&proxy, "shared-tls");
    assert_eq!(scheme, "tls");
    let (scheme, https) = served(&proxy, "shared-https");
    assert_eq!(scheme, "https");
    assert_eq!(tls, https);
    let stream = tls_client(tls, "a.example").await.expect("handshake");
    let report = echo_session(stream).await.expect("the TCP echo answers");
    assert_eq!(report["isTLS"], false);
    let mut stream = tls_client(tls, "b.example").await.expect("handshake");
    stream
        .write_all(b"GET /x HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n")
        .await
        .expect("writes");
    let mut answer = String::new();
    let _ = tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"pod\":\"echo-echo\""), "{answer}");
    let _ = std::fs::remove_dir_all(dir);
}

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Passthrough, DNS and the upstream-shaped TCP and UDP echoes over the wire: each scenario
/// passes, and the same scenario with an expectation turned around fails with the reason.
#[test]
fn connect_steps_over_the_wire_pass_and_wrong_expectations_fail() {
    let cases = [
        (
            "tlsroute-simple-same-namespace",
            "connection: {tls: true, sni: abc.example.com}",
            "connection: {tls: true, sni: other.example.com}",
            "connection.sni: expected \"other.example.com\", the backend saw \"abc.example.com\"",
        ),
        (
            "udproute-simple",
            "      reset: false\n      backend: coredns",
            "      reset: false\n      backend: infra-backend-v1",
            "backend: expected infra-backend-v1, got pod gateway-conformance-infra/coredns-",
        ),
    ];
    let dir = std::env::temp_dir().join(format!("gwsim-l4-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (name, right, wrong, _) in &cases {
        let text = std::fs::read_to_string(repo_path(&format!("testdata/conformance/{name}.yaml")))
            .expect("scenario");
        assert!(text.contains(right), "{name}");
        std::fs::write(dir.join(format!("{name}.yaml")), &text).expect("write");
        let turned = text.replacen(right, wrong, 1).replacen(
            &format!("name: {name}"),
            &format!("name: {name}-wrong"),
            1,
        );
        std::fs::write(dir.join(format!("{name}-wrong.yaml")), turned).expect("write");
    }
    // A client that trusts another CA refuses the certificate the backend shows.
    let untrusted = "tlsroute-simple-same-namespace-untrusted";
    let ca: String = include_str!("data/ca.crt")
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    let text = std::fs::read_to_string(repo_path(
        "testdata/conformance/tlsroute-simple-same-namespace.yaml",
    ))
    .expect("scenario")
    .replacen("name: tlsroute-simple-same-namespace", &format!("name: {untrusted}"), 1)
    .replacen(
        "manifests:\n",
        &format!(
            "manifests:\n  - |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {{name: other-ca, namespace: gateway-conformance-infra}}\n    data:\n      ca.crt: |\n{ca}"
        ),
        1,
    )
    .replace("name: tls-checks-ca-certificate}", "name: other-ca}");
    std::fs::write(dir.join(format!("{untrusted}.yaml")), text).expect("write");
    let report = run_paths_wire(std::slice::from_ref(&dir), &RunOptions::default()).expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    let text = report.render_text();
    let refused = report.ran.scenarios.iter().find(|s| s.name == untrusted);
    match refused.map(|s| &s.outcome) {
        Some(Outcome::Failed(failure)) => assert!(
            failure.message.contains("the client refused the handshake"),
            "{text}"
        ),
        other => panic!("{untrusted}: {other:?}\n{text}"),
    }
    for (name, _, _, message) in &cases {
        let outcome = |n: &str| {
            report
                .ran
                .scenarios
                .iter()
                .find(|s| s.name == n)
                .unwrap_or_else(|| panic!("{n} ran: {text}"))
                .outcome
                .clone()
        };
        assert_eq!(outcome(name), Outcome::Passed, "{text}");
        match outcome(&format!("{name}-wrong")) {
            Outcome::Failed(failure) => assert!(failure.message.contains(message), "{text}"),
            other => panic!("{name}-wrong: {other:?}\n{text}"),
        }
    }
}

/// A change that removes the UDP listeners closes their socket; one that brings them back
/// binds it again, and datagrams reach the echo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_listeners_come_and_go_with_changes() {
    let (proxy, dir) = serve("reload").await;
    let load = |yaml: String| {
        let file = dir.join("change.yaml");
        std::fs::write(&file, yaml).expect("write");
        gwsim_sim::inputs::load(&[file]).expect("loads")
    };
    let without = state()
        .replace("  - {name: udp, port: 9000, protocol: UDP}\n", "")
        .replace("  - {name: bare-udp, port: 9001, protocol: UDP}\n", "");
    let inputs = load(without);
    proxy
        .update(&inputs.snapshot, inputs.table)
        .await
        .expect("applies");
    assert!(
        proxy.served().iter().all(|s| !s.url.starts_with("udp://")),
        "{:?}",
        proxy.served()
    );
    let inputs = load(state());
    proxy
        .update(&inputs.snapshot, inputs.table)
        .await
        .expect("applies");
    let (_, udp) = served(&proxy, "udp");
    assert!(udp_exchange(udp, b"again").await.is_some());
    let _ = std::fs::remove_dir_all(dir);
}
