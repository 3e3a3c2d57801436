//! `gwsim serve` on loopback: real sockets, real HTTP clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use gwsim_proxy::{Limits, Options, Proxy, UserBackend};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
metadata: {name: web, namespace: infra}
spec:
  ports: [{name: http, port: 8080, targetPort: 3000}]
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: infra}
spec:
  ports: [{name: http, port: 8080}]
"#;

fn gateway(listeners: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: gwsim\n  listeners: {listeners}\n"
    )
}

fn route(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: infra}}\nspec:\n  parentRefs: [{{name: gw}}]\n{spec}\n"
    )
}

const HTTP: &str = "[{name: http, port: 80, protocol: HTTP}]";

fn main_route() -> String {
    route(
        "main",
        r#"  rules:
  - matches: [{path: {type: PathPrefix, value: /echo}}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Added, value: "yes"}]}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-Resp, value: r}]}}
    backendRefs: [{name: web, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /slow}}]
    timeouts: {request: 300ms}
    backendRefs: [{name: web, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /retry}}]
    retry: {codes: [500], attempts: 2}
    backendRefs: [{name: web, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /app}}]
    timeouts: {request: 400ms}
    backendRefs: [{name: app, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: new.example, statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /broken}}]
    backendRefs: [{name: missing, port: 8080}]"#,
    )
}

struct Served {
    proxy: Arc<Proxy>,
    dir: PathBuf,
}

impl Served {
    /// The address of the first listener named `listener`.
    fn addr(&self, listener: &str) -> SocketAddr {
        let url = self
            .proxy
            .served()
            .into_iter()
            .find(|s| s.listener == listener)
            .expect("listener served")
            .url;
        url.split("://").nth(1).expect("url").parse().expect("addr")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_state(dir: &PathBuf, yaml: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let file = dir.join("state.yaml");
    // Written aside and renamed, as editors save: the watcher never reads half a file.
    let partial = dir.join("state.yaml.partial");
    std::fs::write(&partial, yaml).expect("write");
    std::fs::rename(&partial, &file).expect("rename");
    file
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gwsim-proxy-{name}-{}", std::process::id()))
}

async fn serve(name: &str, yaml: &str, options: Options) -> Served {
    let dir = temp_dir(name);
    let file = write_state(&dir, yaml);
    let inputs = gwsim_sim::inputs::load(&[file]).expect("loads");
    assert!(inputs.rejected.is_empty(), "{:?}", inputs.rejected);
    // Port 0 for every socket: the test never collides with another.
    let options = Options {
        bind: Some("127.0.0.1".parse().expect("ip")),
        ephemeral_ports: true,
        ..options
    };
    let proxy = Proxy::start(&inputs.snapshot, inputs.table, options)
        .await
        .expect("starts");
    Served {
        proxy: Arc::new(proxy),
        dir,
    }
}

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

async fn send(
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connects");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let response = sender
        .send_request(req.body(Full::new(Bytes::from(body))).expect("request"))
        .await
        .expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    send(addr, "GET", host, path, &[], Vec::new()).await
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_decided_by_the_engine() {
    let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    let options = Options {
        explain_header: true,
        ..Options::default()
    };
    let served = serve("decided", &yaml, options).await;
    let addr = served.addr("http");

    let r = get(addr, "a.example", "/echo/x?q=1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let echo = json(&r.body);
    assert_eq!(echo["path"], "/echo/x?q=1");
    assert_eq!(echo["host"], "a.example");
    assert_eq!(echo["service"], "web");
    assert_eq!(echo["headers"]["X-Added"][0], "yes");
    assert_eq!(r.headers["x-resp"], "r");
    assert_eq!(
        r.headers[gwsim_proxy::EXPLAIN_HEADER],
        "route=infra/main rule=0 match=0 listener=http"
    );

    let r = get(addr, "a.example", "/nothing").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers[gwsim_proxy::EXPLAIN_HEADER], "no route");

    let r = get(addr, "a.example", "/old/page").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.headers["location"], "http://new.example/old/page");

    let r = get(addr, "a.example", "/broken").await;
    assert_eq!(r.status, 500);

    // Timeouts in real time: the echo delays 1s, the route allows 300ms.
    let started = Instant::now();
    let r = get(addr, "a.example", "/slow?delay=1s").await;
    assert_eq!(r.status, 504);
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(get(addr, "a.example", "/slow?delay=10ms").await.status, 200);

    // Retries: the echo's retry simulator fails twice, the route retries twice.
    let r = get(
        addr,
        "a.example",
        "/retry/?uuid=a&succeedAfter=2&responseCode=500",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(
        addr,
        "a.example",
        "/retry/?uuid=b&succeedAfter=3&responseCode=500",
    )
    .await;
    assert_eq!(r.status, 500);
}

/// A backend of the user's that resets, hangs or answers badly: 503 for a connection reset
/// before any answer (as the model says, and upstream's HTTPRouteRetryConnectionError
/// expects), 504 at the route's timeout, 502 for an answer that is not HTTP or is cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_backends_that_reset_or_hang() {
    for (behaviour, want) in [
        ("reset", 503),
        ("hang", 504),
        ("garbage", 502),
        ("cut", 502),
        ("answer", 200),
    ] {
        let backend = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let backend_addr = backend.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = backend.accept().await {
                match behaviour {
                    "reset" => drop(stream),
                    "hang" => held.push(stream),
                    "garbage" | "cut" => {
                        let mut buf = [0u8; 4096];
                        let _ = stream.read(&mut buf).await;
                        let answer: &[u8] = if behaviour == "garbage" {
                            b"this is not HTTP\r\n\r\n"
                        } else {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort"
                        };
                        let _ = stream.write_all(answer).await;
                    }
                    _ => {
                        let mut buf = [0u8; 4096];
                        let _ = stream.read(&mut buf).await;
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nmine")
                            .await;
                    }
                }
            }
        });
        let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
        let options = Options {
            backends: vec![
                UserBackend::parse(&format!("infra/app=http://{backend_addr}")).expect("spec"),
            ],
            ..Options::default()
        };
        let served = serve(&format!("user-{behaviour}"), &yaml, options).await;
        let r = get(served.addr("http"), "a.example", "/app").await;
        assert_eq!(r.status, want, "{behaviour}: {}", r.body);
        if want == 200 {
            assert_eq!(r.body, "mine");
        }
    }
    assert!(UserBackend::parse("app=http://x").is_err());
    assert!(UserBackend::parse("ns/app=https://127.0.0.1:1").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_bad_input() {
    let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    let options = Options {
        limits: Limits {
            max_header_bytes: 16 * 1024,
            max_body_bytes: 1000,
            header_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..Options::default()
    };
    let served = serve("limits", &yaml, options).await;
    let addr = served.addr("http");

    let big = "x".repeat(40 * 1024);
    let r = raw(
        addr,
        format!("GET /echo HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n"),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 431"), "{r}");

    let r = send(addr, "POST", "a.example", "/echo", &[], vec![b'a'; 5000]).await;
    assert_eq!(r.status, 413);
    let r = send(addr, "POST", "a.example", "/echo", &[], vec![b'a'; 500]).await;
    assert_eq!(r.status, 200);

    let r = raw(addr, "GET /echo HTTP/1.1\r\nHost a\r\n\r\n".to_string()).await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let r = raw(addr, "NOT HTTP AT ALL\r\n\r\n".to_string()).await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");

    // A client that never finishes its headers is disconnected.
    let mut slow = TcpStream::connect(addr).await.expect("connects");
    slow.write_all(b"GET /echo HTTP/1.1\r\nHost: a\r\n")
        .await
        .expect("writes");
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the slow client is still connected after 5s");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Sends raw bytes; the answer as text (up to the connection's end or 2s).
async fn raw(addr: SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let yaml = format!(
        "{BASE}{}",
        gateway(&format!(
            "[{{name: web-listener, port: {port}, protocol: HTTP}}]"
        ))
    );
    let dir = temp_dir("in-use");
    let file = write_state(&dir, &yaml);
    let inputs = gwsim_sim::inputs::load(&[file]).expect("loads");
    let options = Options {
        bind: Some("127.0.0.1".parse().expect("ip")),
        port_offset: 0,
        ..Options::default()
    };
    let error = Proxy::start(&inputs.snapshot, inputs.table, options)
        .await
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}"))
            && message.contains("web-listener")
            && message.contains("infra/gw"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_swapped_in_and_a_refused_one_is_not() {
    let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    let served = serve("reload", &yaml, Options::default()).await;
    let addr = served.addr("http");
    assert_eq!(get(addr, "a.example", "/new").await.status, 404);

    let watcher = tokio::spawn(gwsim_proxy::watch_files(
        served.proxy.clone(),
        vec![served.dir.join("state.yaml")],
        Duration::from_millis(50),
    ));
    // A refused change (an invalid path type) keeps the table.
    let bad = yaml.replace("type: PathPrefix, value: /echo", "type: Nope, value: /echo");
    write_state(&served.dir, &bad);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(addr, "a.example", "/echo").await.status, 200);

    let changed = yaml.replace("value: /echo}", "value: /new}");
    write_state(&served.dir, &changed);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(addr, "a.example", "/new").await.status != 200 {
        assert!(
            Instant::now() < deadline,
            "the change never came into service"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(addr, "a.example", "/echo").await.status, 404);
    watcher.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_and_h2c_backends() {
    let mut yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    yaml.push_str(
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: grpcish, namespace: infra}\nspec:\n  ports: [{name: h2, port: 3001, appProtocol: kubernetes.io/h2c}]\n",
    );
    yaml.push_str(&route(
        "h2",
        "  rules:\n  - matches: [{path: {type: PathPrefix, value: /h2}}]\n    backendRefs: [{name: grpcish, port: 3001}]",
    ));
    let served = serve("h2c", &yaml, Options::default()).await;
    let stream = TcpStream::connect(served.addr("http"))
        .await
        .expect("connects");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    for (path, proto) in [("/echo", "HTTP/1.1"), ("/h2", "HTTP/2.0")] {
        let req = hyper::Request::builder()
            .uri(format!("http://a.example{path}"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(req).await.expect("response");
        assert_eq!(response.status(), 200, "{path}");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let echo = json(&String::from_utf8_lossy(&body));
        assert_eq!(echo["proto"], proto, "{path}");
        assert_eq!(echo["host"], "a.example");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_are_relayed() {
    let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    let served = serve("ws", &yaml, Options::default()).await;
    let mut stream = TcpStream::connect(served.addr("http"))
        .await
        .expect("connects");
    stream
        .write_all(
            b"GET /echo/ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .expect("writes");
    // The echo's WebSocket path is /ws exactly: /echo/ws is an ordinary echo.
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.expect("reads");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let yaml = format!(
        "{BASE}{}{}",
        gateway(HTTP),
        route(
            "ws",
            "  rules:\n  - matches: [{path: {type: Exact, value: /ws}}]\n    backendRefs: [{name: web, port: 8080}]"
        )
    );
    let served = serve("ws2", &yaml, Options::default()).await;
    let mut stream = TcpStream::connect(served.addr("http"))
        .await
        .expect("connects");
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .expect("writes");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("reads head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    // One masked text frame, "hello", and its echo.
    let mask = [9u8, 8, 7, 6];
    let mut frame = vec![0x81, 0x80 | 5];
    frame.extend_from_slice(&mask);
    frame.extend(b"hello".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.expect("writes frame");
    let mut back = [0u8; 7];
    stream.read_exact(&mut back).await.expect("reads frame");
    assert_eq!(&back, b"\x81\x05hello");
}

fn tls_state() -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let crt = engine.encode(include_bytes!("data/test.crt"));
    let key = engine.encode(include_bytes!("data/test.key"));
    format!(
        "{BASE}{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: cert, namespace: infra}}\ntype: kubernetes.io/tls\ndata: {{tls.crt: {crt}, tls.key: {key}}}\n{}",
        gateway(
            "[{name: a, port: 443, protocol: HTTPS, hostname: a.example, tls: {certificateRefs: [{name: cert}]}}, {name: b, port: 443, protocol: HTTPS, hostname: b.example, tls: {certificateRefs: [{name: cert}]}}]"
        ),
        route(
            "tls",
            "  rules:\n  - backendRefs: [{name: web, port: 8080}]"
        )
    )
}

async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    alpn: &[u8],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let cert = rustls::pki_types::CertificateDer::from_pem_slice(include_bytes!("data/ca.crt"))
        .expect("pem");
    roots.add(cert).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).expect("name");
    connector.connect(name, stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_by_sni_with_421_for_misdirected_requests() {
    let served = serve("tls", &tls_state(), Options::default()).await;
    let addr = served.addr("a");
    for (host, want) in [("a.example", 200), ("b.example", 421)] {
        let stream = tls_connect(addr, "a.example", b"http/1.1")
            .await
            .expect("handshake");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("http");
        tokio::spawn(conn);
        let req = hyper::Request::builder()
            .uri("/x")
            .header("host", host)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(req).await.expect("response");
        assert_eq!(response.status(), want, "{host}");
    }
    // ALPN h2 over TLS.
    let stream = tls_connect(addr, "b.example", b"h2")
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2");
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .uri("https://b.example/y")
        .body(Full::new(Bytes::new()))
        .expect("request");
    assert_eq!(
        sender.send_request(req).await.expect("response").status(),
        200
    );
    // No listener serves c.example: the handshake fails.
    assert!(tls_connect(addr, "c.example", b"http/1.1").await.is_err());
}

/// A backend that never answers, on a route without timeouts: 504 once the Gateway's own
/// limit for backends passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_backend_without_route_timeouts_gets_504_at_the_limit() {
    let backend = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let backend_addr = backend.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = backend.accept().await {
            held.push(stream);
        }
    });
    let yaml = format!(
        "{BASE}{}{}",
        gateway(HTTP),
        route(
            "plain",
            "  rules:\n  - backendRefs: [{name: app, port: 8080}]"
        )
    );
    let options = Options {
        backends: vec![
            UserBackend::parse(&format!("infra/app=http://{backend_addr}")).expect("spec"),
        ],
        limits: Limits {
            backend_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..Options::default()
    };
    let served = serve("hang-limit", &yaml, options).await;
    let started = Instant::now();
    let r = get(served.addr("http"), "a.example", "/").await;
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// A change that adds a listener on a new port gets its socket bound; a change that removes
/// it closes the socket; the listener that stays keeps its socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_added_by_a_change_are_bound_and_removed_ones_closed() {
    let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    let served = serve("listeners", &yaml, Options::default()).await;
    let first = served.addr("http");
    let watcher = tokio::spawn(gwsim_proxy::watch_files(
        served.proxy.clone(),
        vec![served.dir.join("state.yaml")],
        Duration::from_millis(50),
    ));
    let two = "[{name: http, port: 80, protocol: HTTP}, {name: extra, port: 8080, protocol: HTTP}]";
    write_state(
        &served.dir,
        &format!("{BASE}{}{}", gateway(two), main_route()),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !served.proxy.served().iter().any(|s| s.listener == "extra") {
        assert!(
            Instant::now() < deadline,
            "the new listener was never bound"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let extra = served.addr("extra");
    assert_ne!(extra, first);
    assert_eq!(get(extra, "a.example", "/echo").await.status, 200);
    assert_eq!(
        served.addr("http"),
        first,
        "the listener that stays keeps its socket"
    );

    write_state(&served.dir, &yaml);
    let deadline = Instant::now() + Duration::from_secs(5);
    while served.proxy.served().iter().any(|s| s.listener == "extra") {
        assert!(
            Instant::now() < deadline,
            "the removed listener was never closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        TcpStream::connect(extra).await.is_err(),
        "the removed listener's socket still accepts"
    );
    assert_eq!(get(first, "a.example", "/echo").await.status, 200);
    watcher.abort();
}

/// Reads from `stream` until it closes (or 5 s pass); the text.
async fn read_all(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection stayed open");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_carries_simple_requests_and_the_ones_hyper_serves() {
    let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    let served = serve("pipelined", &yaml, Options::default()).await;
    let addr = served.addr("http");
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    // Pipelined in one write: a simple GET, a chunked POST (hyper's from there on), and a
    // GET asking to close.
    stream
        .write_all(
            b"GET /echo/1 HTTP/1.1\r\nHost: a.example\r\n\r\n\
              POST /echo/2 HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
              GET /echo/3 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("writes");
    let text = read_all(&mut stream).await;
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{text}");
    assert_eq!(text.matches("x-resp: r\r\n").count(), 3, "{text}");
    for path in ["/echo/1", "/echo/2", "/echo/3"] {
        assert!(
            text.contains(&format!("\"path\":\"{path}\"")),
            "{path}: {text}"
        );
    }
    assert!(text.contains("connection: close\r\n"), "{text}");

    // A simple request after the front served one on the same connection, then a body sized
    // by Content-Length that arrives in two pieces.
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(b"POST /echo/4 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 6\r\n\r\nabc")
        .await
        .expect("writes");
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(b"def\r\n").await.expect("writes");
    stream
        .write_all(b"GET /nowhere HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
        .await
        .expect("writes");
    let text = read_all(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("HTTP/1.1 404 Not Found\r\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_finishes_requests_in_flight() {
    let yaml = format!("{BASE}{}{}", gateway(HTTP), main_route());
    let dir = temp_dir("drain");
    let file = write_state(&dir, &yaml);
    let inputs = gwsim_sim::inputs::load(&[file]).expect("loads");
    let options = Options {
        bind: Some("127.0.0.1".parse().expect("ip")),
        ephemeral_ports: true,
        ..Options::default()
    };
    let proxy = Proxy::start(&inputs.snapshot, inputs.table, options)
        .await
        .expect("starts");
    let url = proxy.served()[0].url.clone();
    let addr: SocketAddr = url.split("://").nth(1).expect("url").parse().expect("addr");

    // An idle keep-alive connection, after one request.
    let mut idle = TcpStream::connect(addr).await.expect("connects");
    idle.write_all(b"GET /echo HTTP/1.1\r\nHost: a.example\r\n\r\n")
        .await
        .expect("writes");
    let mut first = [0u8; 1024];
    let n = idle.read(&mut first).await.expect("reads");
    assert!(first[..n].starts_with(b"HTTP/1.1 200 OK"));
    // A request in flight when the drain starts (the echo answers after 200 ms).
    let mut busy = TcpStream::connect(addr).await.expect("connects");
    busy.write_all(b"GET /slow?delay=200ms HTTP/1.1\r\nHost: a.example\r\n\r\n")
        .await
        .expect("writes");
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = Instant::now();
    proxy.shutdown(Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the drain waited for {:?}",
        started.elapsed()
    );
    let text = read_all(&mut busy).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert_eq!(read_all(&mut idle).await, "");
    let _ = std::fs::remove_dir_all(dir);
}
