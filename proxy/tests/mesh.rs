//! The mesh on loopback: requests from pods (a socket bound to the pod's address) to the
//! Services' sockets, decided by the mesh's routes for the client's namespace.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_proxy::{Options, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

fn service(name: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: mesh}}\nspec:\n  ports: [{{name: http, port: 80}}]\n"
    )
}

fn namespace_and_pod(namespace: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: client, namespace: {namespace}}}\n"
    )
}

/// A producer route on Service mesh/echo (to echo-v1) and a consumer route of namespace
/// `consumer` on it (to echo-v2); each sets X-Route to its name.
const ROUTES: &str = r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: producer, namespace: mesh}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
  - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Route, value: producer}]}}]
    backendRefs: [{name: echo-v1, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: consumer, namespace: consumer}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, namespace: mesh, port: 80}]
  rules:
  - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Route, value: consumer}]}}]
    backendRefs: [{name: echo-v2, namespace: mesh, port: 80}]
"#;

fn state(with_v2: bool) -> String {
    let mut yaml = String::new();
    for ns in ["mesh", "consumer", "other"] {
        yaml.push_str(&namespace_and_pod(ns));
    }
    yaml.push_str(&service("echo"));
    yaml.push_str(&service("echo-v1"));
    if with_v2 {
        yaml.push_str(&service("echo-v2"));
    }
    yaml.push_str(ROUTES);
    yaml
}

struct Mesh {
    proxy: Proxy,
    dir: PathBuf,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn inputs(dir: &PathBuf, yaml: &str) -> gwsim_sim::inputs::Inputs {
    std::fs::create_dir_all(dir).expect("dir");
    let file = dir.join("state.yaml");
    std::fs::write(&file, yaml).expect("write");
    let inputs = gwsim_sim::inputs::load_served(&[file]).expect("loads");
    assert!(inputs.rejected.is_empty(), "{:?}", inputs.rejected);
    inputs
}

async fn serve(name: &str, yaml: &str) -> Mesh {
    let dir = std::env::temp_dir().join(format!("gwsim-mesh-{name}-{}", std::process::id()));
    let inputs = inputs(&dir, yaml);
    let options = Options {
        ephemeral_ports: true,
        explain_header: true,
        ..Options::default()
    };
    let proxy = Proxy::start(&inputs.snapshot, inputs.table, options)
        .await
        .expect("starts");
    Mesh { proxy, dir }
}

fn key(kind: Kind, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(kind, namespace, name)
}

struct Answer {
    status: u16,
    head: String,
    body: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn service(&self) -> &str {
        self.body["service"].as_str().unwrap_or_default()
    }
}

/// GET / with `host` from `source` (a pod's address, or any other) to `to`, HTTP/1.1.
async fn get(source: IpAddr, to: SocketAddr, host: &str) -> Answer {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(source, 0))
        .expect("binds the source");
    let mut stream = socket.connect(to).await.expect("connects");
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("reads");
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    Answer {
        status,
        head: head.to_string(),
        body: serde_json::from_str(body).unwrap_or_default(),
    }
}

impl Mesh {
    async fn socket(&self, service: &str) -> SocketAddr {
        self.proxy
            .mesh_socket(&key(Kind::Service, "mesh", service), 80)
            .await
            .expect("the Service port is served")
    }

    fn pod(&self, namespace: &str) -> IpAddr {
        IpAddr::V4(
            self.proxy
                .pod_address(&key(Kind::Pod, namespace, "client"))
                .expect("the pod has an address"),
        )
    }
}

#[tokio::test]
async fn a_consumer_route_applies_only_to_clients_of_its_namespace() {
    let mesh = serve("consumer", &state(true)).await;
    let echo = mesh.socket("echo").await;
    assert!(echo.ip().to_string().starts_with("127.255."), "{echo}");

    let from_consumer = get(mesh.pod("consumer"), echo, "echo.mesh").await;
    assert_eq!(from_consumer.status, 200, "{}", from_consumer.head);
    assert_eq!(from_consumer.header("x-route"), Some("consumer"));
    assert_eq!(from_consumer.service(), "echo-v2");
    assert!(
        from_consumer
            .header("x-gwsim-decision")
            .is_some_and(|d| d.contains("route=consumer/consumer")),
        "{}",
        from_consumer.head
    );

    // Another namespace: not routed by the consumer route, but by the producer's.
    let from_other = get(mesh.pod("other"), echo, "echo.mesh").await;
    assert_eq!(from_other.status, 200, "{}", from_other.head);
    assert_eq!(from_other.header("x-route"), Some("producer"));
    assert_eq!(from_other.service(), "echo-v1");

    let from_producer = get(mesh.pod("mesh"), echo, "echo").await;
    assert_eq!(from_producer.header("x-route"), Some("producer"));
    assert_eq!(from_producer.service(), "echo-v1");
}

#[tokio::test]
async fn a_client_outside_the_mesh_and_a_port_without_routes_go_to_the_service() {
    let mesh = serve("outside", &state(true)).await;
    let echo = mesh.socket("echo").await;
    // 127.0.0.1 is no pod's address: no mesh route applies, the Service itself answers.
    let outside = get("127.0.0.1".parse().expect("ip"), echo, "echo.mesh").await;
    assert_eq!(outside.status, 200, "{}", outside.head);
    assert_eq!(outside.header("x-route"), None, "{}", outside.head);
    assert_eq!(outside.service(), "echo");

    // No route is attached to echo-v1: its own endpoints, unchanged.
    let v1 = mesh.socket("echo-v1").await;
    let direct = get(mesh.pod("consumer"), v1, "echo-v1.mesh").await;
    assert_eq!(direct.status, 200, "{}", direct.head);
    assert_eq!(direct.header("x-route"), None);
    assert_eq!(direct.service(), "echo-v1");
    assert_eq!(direct.body["host"], "echo-v1.mesh");
}

#[tokio::test]
async fn a_reload_binds_and_closes_the_services_sockets() {
    let mesh = serve("reload", &state(true)).await;
    let v2 = mesh.socket("echo-v2").await;
    let served = mesh.proxy.served_mesh().await;
    assert_eq!(served.services.len(), 3);
    assert_eq!(served.pods.len(), 3);
    let ready: serde_json::Value =
        serde_json::from_str(&gwsim_proxy::ready_json(&mesh.proxy.served(), &served))
            .expect("JSON");
    assert_eq!(ready[0]["service"], "mesh/echo");
    assert_eq!(ready[3]["pod"], "consumer/client");
    assert!(
        served.services[0]
            .line()
            .starts_with("mesh service mesh/echo port 80 at http://127.255.")
    );

    let without = inputs(&mesh.dir, &state(false));
    let notes = mesh
        .proxy
        .update(&without.snapshot, without.table)
        .await
        .expect("updates");
    assert!(
        notes.iter().any(|n| n.contains("echo-v2 left the mesh")),
        "{notes:?}"
    );
    let key_v2 = key(Kind::Service, "mesh", "echo-v2");
    assert_eq!(mesh.proxy.mesh_socket(&key_v2, 80).await, None);
    let socket = TcpSocket::new_v4().expect("socket");
    assert!(socket.connect(v2).await.is_err(), "{v2} still accepts");
    // The consumer route's backend is gone: its clients get the Gateway's 500.
    let echo = mesh.socket("echo").await;
    let answer = get(mesh.pod("consumer"), echo, "echo.mesh").await;
    assert_eq!(answer.status, 500, "{}", answer.head);

    let with = inputs(&mesh.dir, &state(true));
    let notes = mesh
        .proxy
        .update(&with.snapshot, with.table)
        .await
        .expect("updates");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("echo-v2 is new in the mesh")),
        "{notes:?}"
    );
    let answer = get(mesh.pod("consumer"), echo, "echo.mesh").await;
    assert_eq!(answer.service(), "echo-v2");
}
