//! The mesh end to end in the engine: admitted YAML, reconciled (route status, attachments),
//! compiled and decided.

use k8s_openapi::jiff::Timestamp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{MeshDestination, MeshTable};
use crate::controller::{ControllerConfig, Reconciliation, StatusUpdate, reconcile};
use crate::decision::{Outcome, Request};
use crate::object::{Kind, ObjectKey, Snapshot};

const SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: mesh}
spec:
  selector: {app: echo}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: http-alt, port: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: echo-v1, namespace: mesh}
spec:
  selector: {app: echo, version: v1}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-v2, namespace: mesh}
spec:
  selector: {app: echo, version: v2}
  ports: [{name: http, port: 80, targetPort: 8080}]
"#;

fn snapshot(yaml: &str) -> Snapshot {
    let mut s = Snapshot::new();
    for doc in crate::load::parse_documents("test", yaml).expect("YAML") {
        s.insert(crate::admit(&doc.value, None).expect("admitted"));
    }
    s
}

fn run_with(yaml: &str, config: &ControllerConfig) -> Reconciliation {
    let now = Timestamp::from_second(1_700_000_000).expect("time");
    reconcile(&snapshot(&format!("{SERVICES}---\n{yaml}")), config, now)
}

fn run(yaml: &str) -> Reconciliation {
    run_with(yaml, &ControllerConfig::default())
}

/// An HTTPRoute `name` in `namespace` with `parents` (YAML flow list) whose one rule sends to
/// `backend` port 80 (namespace mesh) and sets response header X-Route: `name`.
fn route(namespace: &str, name: &str, parents: &str, backend: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  parentRefs: {parents}\n  rules:\n  - filters: [{{type: ResponseHeaderModifier, responseHeaderModifier: {{set: [{{name: X-Route, value: {name}}}]}}}}]\n    backendRefs: [{{name: {backend}, namespace: mesh, port: 80}}]\n"
    )
}

/// (controllerName, Accepted reason, ResolvedRefs reason) of each status parent.
fn parents(r: &Reconciliation, namespace: &str, name: &str) -> Vec<(String, String, String)> {
    let key = ObjectKey::new(Kind::HttpRoute, namespace, name);
    let Some(StatusUpdate::HttpRoute(status)) = r.statuses.get(&key) else {
        return Vec::new();
    };
    status
        .parents
        .iter()
        .map(|p| {
            let reason = |t: &str| {
                p.conditions
                    .iter()
                    .find(|c| c.type_ == t)
                    .map(|c| format!("{} {}", c.status, c.reason))
                    .unwrap_or_default()
            };
            (
                p.controller_name.clone(),
                reason("Accepted"),
                reason("ResolvedRefs"),
            )
        })
        .collect()
}

fn accepted() -> (String, String, String) {
    (
        "gateway.gwsim.dev/mesh".into(),
        "True Accepted".into(),
        "True ResolvedRefs".into(),
    )
}

/// The route that decided a request from `from` to `host`, the outcome's status or forward
/// target, and the X-Route header the route would set.
fn send(r: &Reconciliation, from: &str, authority: &str, host: &str) -> String {
    let table = MeshTable::build(&r.mesh);
    let to: MeshDestination = table.resolve(authority, from).expect("resolves");
    let mut request = Request::get(host, "/");
    request.port = to.port;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let decision = table.decide(from, &to, &request, &mut rng);
    let fast = table.decide_fast(from, &to, &request, &mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(
        decision.outcome, fast.outcome,
        "decide and decide_fast agree"
    );
    match decision.outcome {
        Outcome::Forward(f) => {
            let header = f
                .response_modifiers
                .iter()
                .flat_map(|m| m.set.iter())
                .map(|(_, v)| v.as_str())
                .next()
                .unwrap_or("-");
            format!("{}:{} {header}", f.backend.name, f.backend.port)
        }
        Outcome::Respond { status, .. } | Outcome::Redirect { status, .. } => status.to_string(),
        Outcome::ConnectionRefused => "refused".into(),
    }
}

#[test]
fn producer_route_attaches_to_the_named_port_with_the_mesh_status() {
    let r = run(&route(
        "mesh",
        "r",
        r#"[{group: "", kind: Service, name: echo, port: 80}]"#,
        "echo-v1",
    ));
    assert_eq!(parents(&r, "mesh", "r"), vec![accepted()]);
    assert_eq!(send(&r, "mesh", "echo", "echo"), "echo-v1:80 r");
    // The route names port 80 only: 8080 goes to the Service itself.
    assert_eq!(send(&r, "mesh", "echo:8080", "echo"), "echo:8080 -");
    // Every client namespace gets the producer route.
    assert_eq!(
        send(&r, "elsewhere", "echo.mesh", "echo.mesh"),
        "echo-v1:80 r"
    );
    // No Gateway takes part.
    assert!(r.gateways.is_empty());
}

#[test]
fn a_parent_ref_without_port_attaches_to_every_port_and_core_is_the_core_group() {
    let r = run(&route(
        "mesh",
        "r",
        "[{group: core, kind: Service, name: echo}]",
        "echo-v1",
    ));
    assert_eq!(parents(&r, "mesh", "r"), vec![accepted()]);
    assert_eq!(send(&r, "mesh", "echo", "echo"), "echo-v1:80 r");
    assert_eq!(send(&r, "mesh", "echo:8080", "echo"), "echo-v1:80 r");
}

#[test]
fn section_name_picks_the_port_by_name() {
    let r = run(&route(
        "mesh",
        "r",
        "[{group: \"\", kind: Service, name: echo, sectionName: http-alt}]",
        "echo-v1",
    ));
    assert_eq!(parents(&r, "mesh", "r"), vec![accepted()]);
    assert_eq!(send(&r, "mesh", "echo", "echo"), "echo:80 -");
    assert_eq!(send(&r, "mesh", "echo:8080", "echo"), "echo-v1:80 r");
}

#[test]
fn parents_the_mesh_cannot_take_are_not_accepted() {
    let cases = [
        (
            "[{group: \"\", kind: Service, name: nothing}]",
            "does not exist",
        ),
        (
            "[{group: \"\", kind: Service, name: echo, port: 9999}]",
            "no port",
        ),
        (
            "[{group: \"\", kind: Service, name: echo, port: 80, sectionName: http-alt}]",
            "no port",
        ),
    ];
    for (parent_refs, message) in cases {
        let r = run(&route("mesh", "r", parent_refs, "echo-v1"));
        let got = parents(&r, "mesh", "r");
        assert_eq!(
            got,
            vec![(
                "gateway.gwsim.dev/mesh".into(),
                "False NoMatchingParent".into(),
                "True ResolvedRefs".into()
            )],
            "{parent_refs}"
        );
        let key = ObjectKey::new(Kind::HttpRoute, "mesh", "r");
        let Some(StatusUpdate::HttpRoute(status)) = r.statuses.get(&key) else {
            panic!("status");
        };
        assert!(
            status.parents[0].conditions[0].message.contains(message),
            "{parent_refs}: {:?}",
            status.parents[0].conditions
        );
        // Nothing attached: requests go to the Service itself.
        assert_eq!(send(&r, "mesh", "echo", "echo"), "echo:80 -");
    }
}

#[test]
fn consumer_routes_apply_only_to_their_namespace_and_replace_the_producer_routes() {
    let yaml = [
        route(
            "mesh",
            "producer",
            "[{group: \"\", kind: Service, name: echo}]",
            "echo-v1",
        ),
        route(
            "consumer",
            "consumer",
            "[{group: \"\", kind: Service, name: echo, namespace: mesh}]",
            "echo-v2",
        ),
    ]
    .join("---\n");
    let r = run(&yaml);
    // Its backendRef to namespace mesh needs no ReferenceGrant in the mesh (GEP-1294).
    assert_eq!(parents(&r, "consumer", "consumer"), vec![accepted()]);
    assert_eq!(
        send(&r, "consumer", "echo.mesh", "echo"),
        "echo-v2:80 consumer"
    );
    assert_eq!(send(&r, "mesh", "echo", "echo"), "echo-v1:80 producer");
    assert_eq!(
        send(&r, "third", "echo.mesh", "echo"),
        "echo-v1:80 producer"
    );
}

#[test]
fn a_gateway_parent_of_the_same_route_still_needs_a_grant() {
    let class = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gwsim}\nspec: {controllerName: gateway.gwsim.dev/controller}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: consumer}\nspec:\n  gatewayClassName: gwsim\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n---\n";
    let r = run(&format!(
        "{class}{}",
        route(
            "consumer",
            "both",
            "[{name: gw}, {group: \"\", kind: Service, name: echo, namespace: mesh}]",
            "echo-v2",
        )
    ));
    let got = parents(&r, "consumer", "both");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].2, "False RefNotPermitted");
    assert_eq!(got[1], accepted());
}

#[test]
fn routes_are_chosen_by_destination_not_by_host_header() {
    let r = run(&route(
        "mesh",
        "r",
        "[{group: \"\", kind: Service, name: echo-v2}]",
        "echo-v2",
    ));
    assert_eq!(send(&r, "mesh", "echo-v2", "echo-v1"), "echo-v2:80 r");
    assert_eq!(send(&r, "mesh", "echo-v1", "echo-v2"), "echo-v1:80 -");
}

#[test]
fn without_the_mesh_service_parents_are_none_of_gwsims_business() {
    let config = ControllerConfig {
        mesh: None,
        ..ControllerConfig::default()
    };
    let r = run_with(
        &route(
            "mesh",
            "r",
            "[{group: \"\", kind: Service, name: echo}]",
            "echo-v1",
        ),
        &config,
    );
    assert!(parents(&r, "mesh", "r").is_empty());
    assert!(r.mesh.is_empty());
}

#[test]
fn destinations_resolve_as_cluster_dns_does() {
    let r = run("");
    let table = MeshTable::build(&r.mesh);
    let key = ObjectKey::new(Kind::Service, "mesh", "echo");
    for name in [
        "echo",
        "echo.mesh",
        "echo.mesh.svc",
        "echo.mesh.svc.cluster.local",
        "ECHO.mesh.svc.cluster.local.",
    ] {
        let to = table
            .resolve(name, "mesh")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((to.service.clone(), to.port), (key.clone(), 80), "{name}");
    }
    assert_eq!(table.resolve("echo:8080", "mesh").map(|t| t.port), Ok(8080));
    let errors = [
        ("echo", "other", "no Service other/echo"),
        ("echo:9999", "mesh", "has no port 9999 (ports: 80, 8080)"),
        ("echo:0", "mesh", "is not a port number"),
        ("echo:99999", "mesh", "is not a port number"),
        ("www.example.com", "mesh", "not a Service name"),
    ];
    for (name, from, message) in errors {
        let err = table.resolve(name, from).expect_err(name);
        assert!(err.contains(message), "{name}: {err}");
    }
}

#[test]
fn explanations_say_which_routes_applied() {
    let yaml = [
        route(
            "mesh",
            "producer",
            "[{group: \"\", kind: Service, name: echo}]",
            "echo-v1",
        ),
        route(
            "consumer",
            "consumer",
            "[{group: \"\", kind: Service, name: echo, namespace: mesh}]",
            "echo-v2",
        ),
    ]
    .join("---\n");
    let r = run(&yaml);
    let table = MeshTable::build(&r.mesh);
    let to = table.resolve("echo.mesh", "consumer").expect("resolves");
    let mut request = Request::get("echo.mesh", "/");
    request.port = to.port;
    let text = table
        .decide("consumer", &to, &request, &mut ChaCha8Rng::seed_from_u64(1))
        .explanation
        .render_text();
    for needle in [
        "from a pod in namespace consumer",
        "Service mesh/echo (mesh: the request's destination)",
        "port 80, consumer routes of namespace consumer",
        "the producer routes do not apply to it (GEP-1294)",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let to = table.resolve("echo-v1.mesh", "consumer").expect("resolves");
    let text = table
        .decide("consumer", &to, &request, &mut ChaCha8Rng::seed_from_u64(1))
        .explanation
        .render_text();
    assert!(
        text.contains("forwarded to Service mesh/echo-v1:80 itself: no mesh route applies"),
        "{text}"
    );
}

#[test]
fn grpc_routes_take_a_port_from_http_routes_of_their_group() {
    let grpc = "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g, namespace: mesh}\nspec:\n  parentRefs: [{group: \"\", kind: Service, name: echo, port: 80}]\n  rules:\n  - backendRefs: [{name: echo-v2, port: 80}]\n";
    let yaml = [
        grpc.to_string(),
        route(
            "mesh",
            "everywhere",
            "[{group: \"\", kind: Service, name: echo}]",
            "echo-v1",
        ),
        route(
            "mesh",
            "only-80",
            "[{group: \"\", kind: Service, name: echo, port: 80}]",
            "echo-v1",
        ),
        route(
            "consumer",
            "consumer",
            "[{group: \"\", kind: Service, name: echo, namespace: mesh, port: 80}]",
            "echo-v2",
        ),
    ]
    .join("---\n");
    let r = run(&yaml);
    // Port 8080 is left to the HTTPRoute without a port.
    assert_eq!(parents(&r, "mesh", "everywhere"), vec![accepted()]);
    assert_eq!(
        send(&r, "mesh", "echo:8080", "echo"),
        "echo-v1:80 everywhere"
    );
    // Port 80 is the GRPCRoute's: an HTTP request finds no HTTPRoute there.
    assert_eq!(send(&r, "mesh", "echo", "echo"), "404");
    let conflicted = parents(&r, "mesh", "only-80");
    assert_eq!(
        conflicted,
        vec![(
            "gateway.gwsim.dev/mesh".into(),
            "False Conflicted".into(),
            "True ResolvedRefs".into()
        )]
    );
    // Another group (a consumer namespace) is not bound by the producer's GRPCRoute.
    assert_eq!(parents(&r, "consumer", "consumer"), vec![accepted()]);
    assert_eq!(
        send(&r, "consumer", "echo.mesh", "echo"),
        "echo-v2:80 consumer"
    );
}

#[test]
fn a_stand_in_leaves_service_parents_to_the_installed_mesh() {
    let yaml = format!(
        "{SERVICES}---\n{}",
        route(
            "mesh",
            "r",
            "[{group: \"\", kind: Service, name: echo}]",
            "echo-v1"
        )
    );
    let s = snapshot(&yaml);
    let config = ControllerConfig::stand_in(crate::controller::standin::plan(&s, &[]));
    assert!(config.mesh.is_none());
    let now = Timestamp::from_second(1_700_000_000).expect("time");
    let r = reconcile(&s, &config, now);
    assert!(parents(&r, "mesh", "r").is_empty());
    assert!(r.mesh.is_empty());
}

#[test]
fn a_client_outside_the_mesh_gets_the_service_itself_and_every_port_is_listed() {
    let r = run(&route(
        "mesh",
        "r",
        r#"[{group: "", kind: Service, name: echo, port: 80}]"#,
        "echo-v1",
    ));
    let table = MeshTable::build(&r.mesh);
    let to = table.resolve("echo.mesh", "elsewhere").expect("resolves");
    let mut request = Request::get("echo.mesh", "/");
    request.port = to.port;
    // A pod of any namespace gets the producer route ...
    assert_eq!(
        send(&r, "elsewhere", "echo.mesh", "echo.mesh"),
        "echo-v1:80 r"
    );
    // ... a client outside the mesh does not.
    let outside = table.decide_outside(&to, &request);
    let Outcome::Forward(forward) = outside.outcome else {
        panic!("forwarded: {:?}", outside.outcome);
    };
    assert_eq!(
        (forward.backend.name.as_str(), forward.backend.port),
        ("echo", 80)
    );
    assert!(forward.response_modifiers.is_empty());
    assert!(
        outside.explanation.outcome.contains("outside the mesh"),
        "{}",
        outside.explanation.outcome
    );
    let gone = MeshDestination {
        service: ObjectKey::new(Kind::Service, "mesh", "missing"),
        port: 80,
    };
    assert_eq!(
        table.decide_outside(&gone, &request).outcome,
        Outcome::ConnectionRefused
    );
    let ports: Vec<String> = table
        .service_ports()
        .map(|(key, port, _)| format!("{}:{port}", key.namespaced_name()))
        .collect();
    assert_eq!(
        ports,
        [
            "mesh/echo:80",
            "mesh/echo:8080",
            "mesh/echo-v1:80",
            "mesh/echo-v2:80"
        ]
    );
}
