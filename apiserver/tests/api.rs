//! The API through its router, in process: discovery, the verbs, errors as Status objects,
//! watch (with 410 Gone after compaction), the bearer token and the body limit.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use futures_util::StreamExt;
use gwsim_apiserver::{SharedCluster, server};
use gwsim_sim::SimCluster;
use serde_json::{Value, json};
use tower::ServiceExt;

fn cluster(history: usize) -> Arc<SharedCluster> {
    SharedCluster::new(SimCluster::new(0), history)
}

fn app(cluster: &Arc<SharedCluster>) -> axum::Router {
    gwsim_apiserver::router(cluster.clone(), 64 * 1024)
}

async fn call(
    router: &axum::Router,
    method: Method,
    uri: &str,
    content_type: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("served");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

const JSON: &str = "application/json";
const ROUTES: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes";

fn route(name: &str, hostname: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "labels": {"team": "a"}},
        "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [hostname]},
    })
}

/// POSTs the HTTPRoute `route(name, hostname)`.
async fn create_route(r: &axum::Router, name: &str, hostname: &str) -> (StatusCode, Value) {
    call(r, Method::POST, ROUTES, JSON, Some(route(name, hostname))).await
}

/// PATCHes `path` with a JSON merge patch.
async fn merge_patch(r: &axum::Router, path: &str, patch: Value) -> (StatusCode, Value) {
    call(
        r,
        Method::PATCH,
        path,
        "application/merge-patch+json",
        Some(patch),
    )
    .await
}

#[tokio::test]
async fn discovery_lists_every_kind_with_scope_and_short_names() {
    let c = cluster(100);
    let r = app(&c);
    let (code, list) = call(
        &r,
        Method::GET,
        "/apis/gateway.networking.k8s.io/v1",
        JSON,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let gateways = list["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "gateways")
        .expect("gateways");
    assert_eq!(gateways["shortNames"], json!(["gtw"]));
    assert_eq!(gateways["namespaced"], json!(true));
    assert_eq!(gateways["categories"], json!(["gateway-api"]));
    let (_, core) = call(&r, Method::GET, "/api/v1", JSON, None).await;
    let names: Vec<&str> = core["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for want in ["namespaces", "services", "pods", "secrets", "configmaps"] {
        assert!(names.contains(&want), "{names:?}");
    }
    let (code, _) = call(&r, Method::GET, "/apis/example.com/v1", JSON, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    let request = Request::get("/apis")
        .header(
            header::ACCEPT,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )
        .body(Body::empty())
        .expect("request");
    let response = r.clone().oneshot(request).await.expect("served");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
}

#[tokio::test]
async fn create_get_list_update_conflict_delete() {
    let c = cluster(100);
    let r = app(&c);
    let (code, created) = create_route(&r, "a", "a.example").await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["metadata"]["uid"].is_string());
    assert_eq!(
        created["metadata"]["managedFields"][0]["operation"],
        "Update"
    );

    let (code, status) = create_route(&r, "a", "a.example").await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(status["reason"], "AlreadyExists");
    assert_eq!(
        status["message"],
        "httproutes.gateway.networking.k8s.io \"a\" already exists"
    );

    create_route(&r, "b", "b.example").await;
    let mut other = route("c", "c.example");
    other["metadata"]["labels"]["team"] = json!("b");
    call(&r, Method::POST, ROUTES, JSON, Some(other)).await;
    let (_, list) = call(
        &r,
        Method::GET,
        &format!("{ROUTES}?labelSelector=team%3Da"),
        JSON,
        None,
    )
    .await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let (_, list) = call(
        &r,
        Method::GET,
        &format!("{ROUTES}?fieldSelector=metadata.name%3Dc"),
        JSON,
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // Stored as admission defaulted it.
    let (_, got) = call(&r, Method::GET, &format!("{ROUTES}/a"), JSON, None).await;
    assert_eq!(got["spec"]["parentRefs"][0]["kind"], "Gateway", "{got}");

    // Update with the current resourceVersion, then with a stale one.
    let mut update = got.clone();
    update["spec"]["hostnames"] = json!(["z.example"]);
    let (code, updated) = call(
        &r,
        Method::PUT,
        &format!("{ROUTES}/a"),
        JSON,
        Some(update.clone()),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    assert_eq!(updated["metadata"]["generation"], 2);
    let (code, status) = call(&r, Method::PUT, &format!("{ROUTES}/a"), JSON, Some(update)).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(status["reason"], "Conflict");

    let (code, _) = call(&r, Method::DELETE, &format!("{ROUTES}/a"), JSON, None).await;
    assert_eq!(code, StatusCode::OK);
    let (code, status) = call(&r, Method::GET, &format!("{ROUTES}/a"), JSON, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(
        status["details"],
        json!({"name": "a", "group": "gateway.networking.k8s.io", "kind": "httproutes"})
    );
}

#[tokio::test]
async fn admission_errors_are_invalid_status_objects() {
    let c = cluster(100);
    let r = app(&c);
    let mut bad = route("bad", "a.example");
    bad["spec"]["rules"] = json!([{"matches": [{"path": {"type": "Exact", "value": "x"}}]}]);
    let (code, status) = call(&r, Method::POST, ROUTES, JSON, Some(bad)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["kind"], "HTTPRoute");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.rules[0].matches[0].path"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );
    assert_eq!(
        status["message"],
        "HTTPRoute.gateway.networking.k8s.io \"bad\" is invalid: spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"
    );

    // Unknown fields: 400 under Strict, dropped with a warning under Warn.
    let mut typo = route("typo", "a.example");
    typo["spec"]["hostnamez"] = json!(["x"]);
    let (code, status) = call(&r, Method::POST, ROUTES, JSON, Some(typo.clone())).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{status}");
    let request = Request::post(format!("{ROUTES}?fieldValidation=Warn"))
        .header(header::CONTENT_TYPE, JSON)
        .body(Body::from(typo.to_string()))
        .expect("request");
    let response = r.clone().oneshot(request).await.expect("served");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[header::WARNING],
        "299 - \"unknown field \\\"spec.hostnamez\\\"\""
    );

    // A dry run answers and stores nothing.
    let (code, _) = call(
        &r,
        Method::POST,
        &format!("{ROUTES}?dryRun=All"),
        JSON,
        Some(route("dry", "d.example")),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, _) = call(&r, Method::GET, &format!("{ROUTES}/dry"), JSON, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn patches_and_server_side_apply() {
    let c = cluster(100);
    let r = app(&c);
    create_route(&r, "a", "a.example").await;
    let (code, patched) = merge_patch(
        &r,
        &format!("{ROUTES}/a"),
        json!({"spec": {"hostnames": ["m.example"]}}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{patched}");
    assert_eq!(patched["spec"]["hostnames"], json!(["m.example"]));
    let (code, status) = call(
        &r,
        Method::PATCH,
        &format!("{ROUTES}/a"),
        "application/strategic-merge-patch+json",
        Some(json!({})),
    )
    .await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{status}");

    let ssa = format!("{ROUTES}/s?fieldManager=one");
    let (code, _) = call(
        &r,
        Method::PATCH,
        &ssa,
        "application/apply-patch+yaml",
        Some(route("s", "s.example")),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let other = format!("{ROUTES}/s?fieldManager=two");
    let (code, status) = call(
        &r,
        Method::PATCH,
        &other,
        "application/apply-patch+yaml",
        Some(route("s", "t.example")),
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"one\": .spec.hostnames"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldManagerConflict"
    );
    let forced = format!("{other}&force=true");
    let (code, applied) = call(
        &r,
        Method::PATCH,
        &forced,
        "application/apply-patch+yaml",
        Some(route("s", "t.example")),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{applied}");
    assert_eq!(applied["spec"]["hostnames"], json!(["t.example"]));
}

async fn next_event(
    body: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
) -> Value {
    let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("an event in time")
        .expect("stream open")
        .expect("chunk");
    serde_json::from_slice(&chunk).expect("one event per chunk")
}

async fn watch_stream(
    router: &axum::Router,
    uri: String,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin {
    let request = Request::get(uri).body(Body::empty()).expect("request");
    let response = router.clone().oneshot(request).await.expect("served");
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().into_data_stream()
}

#[tokio::test]
async fn watch_sends_changes_and_expires_behind_compaction() {
    let c = cluster(8);
    let r = app(&c);
    let rv = c.read(|c| c.store().resource_version());
    let request = Request::get(format!("{ROUTES}?watch=true&resourceVersion={rv}"))
        .body(Body::empty())
        .expect("request");
    let response = r.clone().oneshot(request).await.expect("served");
    let mut body = response.into_body().into_data_stream();
    create_route(&r, "w", "w.example").await;
    let event = next_event(&mut body).await;
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "w");
    call(&r, Method::DELETE, &format!("{ROUTES}/w"), JSON, None).await;
    let mut kinds = Vec::new();
    loop {
        let e = next_event(&mut body).await;
        kinds.push(e["type"].as_str().unwrap_or("").to_string());
        if e["type"] == "DELETED" {
            break;
        }
    }
    assert!(
        kinds.iter().all(|k| k == "MODIFIED" || k == "DELETED"),
        "{kinds:?}"
    );

    // A watch from before the kept history is told 410 Expired and closed.
    for i in 0..20 {
        call(
            &r,
            Method::POST,
            ROUTES,
            JSON,
            Some(route(&format!("x{i}"), "x.example")),
        )
        .await;
    }
    let request = Request::get(format!("{ROUTES}?watch=1&resourceVersion={rv}"))
        .body(Body::empty())
        .expect("request");
    let response = r.clone().oneshot(request).await.expect("served");
    let mut body = response.into_body().into_data_stream();
    let event = next_event(&mut body).await;
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    let end = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("closed in time");
    assert!(end.is_none(), "the stream ends after the error");
}

#[tokio::test]
async fn tables_use_the_crd_printer_columns() {
    let c = cluster(100);
    let r = app(&c);
    create_route(&r, "a", "a.example").await;
    let request = Request::get(ROUTES)
        .header(
            header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Body::empty())
        .expect("request");
    let response = r.clone().oneshot(request).await.expect("served");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let table: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(table["kind"], "Table");
    let names: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["Name", "Hostnames", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "a");
    assert_eq!(table["rows"][0]["cells"][1], "[\"a.example\"]");
}

#[tokio::test]
async fn a_token_is_required_and_bodies_are_bounded() {
    let c = cluster(100);
    let with_token = server::router(Arc::new(server::App {
        cluster: c.clone(),
        token: Some("secret".into()),
        body_limit: 1024,
        pod_logs: None,
    }));
    let (code, status) = call(&with_token, Method::GET, "/api/v1/namespaces", JSON, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(status["reason"], "Unauthorized");
    let request = Request::get("/api/v1/namespaces")
        .header(header::AUTHORIZATION, "Bearer secret")
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        with_token
            .clone()
            .oneshot(request)
            .await
            .expect("served")
            .status(),
        StatusCode::OK
    );
    let request = Request::get("/api/v1/namespaces")
        .header(header::AUTHORIZATION, "Bearer secreT")
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        with_token
            .clone()
            .oneshot(request)
            .await
            .expect("served")
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let big = json!({"metadata": {"name": "big"}, "data": {"x": "y".repeat(4096)}});
    let request = Request::post("/api/v1/namespaces/default/configmaps")
        .header(header::AUTHORIZATION, "Bearer secret")
        .header(header::CONTENT_TYPE, JSON)
        .body(Body::from(big.to_string()))
        .expect("request");
    let response = with_token.clone().oneshot(request).await.expect("served");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

fn class_and_gateway() -> (Value, Value) {
    let class = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "gwsim"}, "spec": {"controllerName": "gateway.gwsim.dev/controller"}});
    let gateway = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "gw"}, "spec": {"gatewayClassName": "gwsim",
        "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}});
    (class, gateway)
}

const CLASSES: &str = "/apis/gateway.networking.k8s.io/v1/gatewayclasses";
const GATEWAYS: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways";

#[tokio::test]
async fn routing_tables_reach_the_data_plane() {
    let c = cluster(100);
    let mut states = c.data_plane();
    let r = app(&c);
    let (class, gateway) = class_and_gateway();
    call(&r, Method::POST, CLASSES, JSON, Some(class)).await;
    let (code, _) = call(&r, Method::POST, GATEWAYS, JSON, Some(gateway)).await;
    assert_eq!(code, StatusCode::CREATED);
    c.settled().await;
    assert!(
        states.has_changed().expect("open"),
        "a new state was published"
    );
    let state = states.borrow_and_update().clone();
    assert!(!state.table.listing().gateways.is_empty());
    assert_eq!(
        state.resource_version,
        c.read(|c| c.store().resource_version())
    );
}

#[tokio::test]
async fn writes_are_answered_at_once_and_reconciled_in_the_background() {
    let c = cluster(10_000);
    let r = app(&c);
    let (class, gateway) = class_and_gateway();
    call(&r, Method::POST, CLASSES, JSON, Some(class)).await;
    let (code, created) = call(&r, Method::POST, GATEWAYS, JSON, Some(gateway)).await;
    assert_eq!(code, StatusCode::CREATED);
    // The answer is the stored object, before any controller wrote its status.
    assert!(
        created
            .get("status")
            .is_none_or(|s| s.get("conditions").is_none()),
        "{created}"
    );
    let before = c.queue_stats();
    for i in 0..200 {
        let (code, body) = call(
            &r,
            Method::POST,
            ROUTES,
            JSON,
            Some(route(&format!("r{i}"), &format!("h{i}.example"))),
        )
        .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }
    c.settled().await;
    let after = c.queue_stats();
    assert_eq!(after.writes - before.writes, 200);
    // A burst is coalesced: far fewer runs than writes (the bound is loose on purpose: runs
    // follow the wall clock, and a slow machine spreads the burst).
    assert!(
        after.runs - before.runs < 50,
        "{} runs for 200 writes",
        after.runs - before.runs
    );
    assert!(c.read(SimCluster::is_settled));
    let (_, gw) = call(&r, Method::GET, &format!("{GATEWAYS}/gw"), JSON, None).await;
    let programmed = gw["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Programmed")
        .expect("Programmed");
    assert_eq!(programmed["status"], "True");
    let (_, route) = call(&r, Method::GET, &format!("{ROUTES}/r199"), JSON, None).await;
    assert_eq!(
        route["status"]["parents"][0]["conditions"][0]["type"], "Accepted",
        "{route}"
    );
}

#[tokio::test]
async fn statuses_written_in_the_background_reach_watchers() {
    let c = cluster(1000);
    let r = app(&c);
    let (_, list) = call(&r, Method::GET, GATEWAYS, JSON, None).await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let mut events = watch_stream(&r, format!("{GATEWAYS}?watch=true&resourceVersion={rv}")).await;
    let (class, gateway) = class_and_gateway();
    call(&r, Method::POST, CLASSES, JSON, Some(class)).await;
    call(&r, Method::POST, GATEWAYS, JSON, Some(gateway)).await;
    let added = next_event(&mut events).await;
    assert_eq!(added["type"], "ADDED");
    // Stored and announced before the controller ran: no status yet.
    assert!(added["object"].get("status").is_none(), "{added}");
    let modified = next_event(&mut events).await;
    assert_eq!(modified["type"], "MODIFIED", "{modified}");
    let added_rv: u64 = added["object"]["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("number");
    let modified_rv: u64 = modified["object"]["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("number");
    assert!(modified_rv > added_rv);
    let conditions = modified["object"]["status"]["conditions"].to_string();
    assert!(conditions.contains("\"Programmed\""), "{conditions}");
}

#[tokio::test]
async fn deleting_a_namespace_terminates_it_then_deletes_its_contents() {
    let c = cluster(1000);
    let r = app(&c);
    call(
        &r,
        Method::POST,
        "/api/v1/namespaces",
        JSON,
        Some(json!({"metadata": {"name": "team"}})),
    )
    .await;
    let team_routes = "/apis/gateway.networking.k8s.io/v1/namespaces/team/httproutes";
    let (code, _) = call(
        &r,
        Method::POST,
        team_routes,
        JSON,
        Some(route("r", "r.example")),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, ns) = call(&r, Method::DELETE, "/api/v1/namespaces/team", JSON, None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(ns["status"]["phase"], "Terminating");
    let (code, status) = call(
        &r,
        Method::POST,
        team_routes,
        JSON,
        Some(route("late", "l.example")),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{status}");
    for _ in 0..50 {
        let (code, _) = call(&r, Method::GET, "/api/v1/namespaces/team", JSON, None).await;
        if code == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _) = call(&r, Method::GET, "/api/v1/namespaces/team", JSON, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = call(&r, Method::GET, &format!("{team_routes}/r"), JSON, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

async fn page(r: &axum::Router, query: &str) -> (StatusCode, Value) {
    call(r, Method::GET, &format!("{ROUTES}?{query}"), JSON, None).await
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn lists_come_in_consistent_pages() {
    let c = cluster(1000);
    let r = app(&c);
    for i in 0..5 {
        let (code, _) = call(
            &r,
            Method::POST,
            ROUTES,
            JSON,
            Some(route(&format!("r{i}"), "p.example")),
        )
        .await;
        assert_eq!(code, StatusCode::CREATED);
    }
    c.settled().await;
    let (code, first) = page(&r, "limit=2").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(names(&first), ["r0", "r1"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    let rv = first["metadata"]["resourceVersion"].clone();
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("a token")
        .to_string();

    // Changes after the first page do not show in the next ones: they read the list at rv.
    call(&r, Method::DELETE, &format!("{ROUTES}/r2"), JSON, None).await;
    create_route(&r, "r21", "p.example").await;
    let (code, _) = merge_patch(
        &r,
        &format!("{ROUTES}/r3"),
        json!({"spec": {"hostnames": ["changed.example"]}}),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    c.settled().await;
    let (code, second) = page(&r, &format!("limit=2&continue={token}")).await;
    assert_eq!(code, StatusCode::OK, "{second}");
    assert_eq!(names(&second), ["r2", "r3"]);
    assert_eq!(
        second["items"][1]["spec"]["hostnames"],
        json!(["p.example"])
    );
    assert_eq!(second["metadata"]["resourceVersion"], rv);
    let token = second["metadata"]["continue"]
        .as_str()
        .expect("a token")
        .to_string();
    let (_, third) = page(&r, &format!("limit=2&continue={token}")).await;
    assert_eq!(names(&third), ["r4"]);
    assert!(third["metadata"].get("continue").is_none(), "{third}");
    // Without a limit: everything, now.
    let (_, all) = page(&r, "").await;
    assert_eq!(names(&all), ["r0", "r1", "r21", "r3", "r4"]);
    // A selector: no remaining count.
    let (_, selected) = page(&r, "limit=1&labelSelector=team%3Da").await;
    assert_eq!(names(&selected), ["r0"]);
    assert!(selected["metadata"].get("remainingItemCount").is_none());
    assert!(selected["metadata"]["continue"].is_string());
}

#[tokio::test]
async fn continue_tokens_expire_and_bad_ones_are_refused() {
    let c = cluster(8);
    let r = app(&c);
    for i in 0..3 {
        call(
            &r,
            Method::POST,
            ROUTES,
            JSON,
            Some(route(&format!("r{i}"), "p.example")),
        )
        .await;
    }
    c.settled().await;
    let (_, first) = page(&r, "limit=1").await;
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("a token")
        .to_string();
    // r1 changes many times: the log (8 changes) no longer holds r1 as it was.
    for i in 0..12 {
        merge_patch(
            &r,
            &format!("{ROUTES}/r1"),
            json!({"spec": {"hostnames": [format!("h{i}.example")]}}),
        )
        .await;
    }
    let (code, status) = page(&r, &format!("limit=1&continue={token}")).await;
    assert_eq!(code, StatusCode::GONE, "{status}");
    assert_eq!(status["reason"], "Expired");
    assert!(status["message"].as_str().expect("message").starts_with(
        "The provided continue parameter is too old to display a consistent list result."
    ));
    // The token in the answer continues from the current state.
    let fresh = status["metadata"]["continue"].as_str().expect("a token");
    let (code, rest) = page(&r, &format!("continue={fresh}")).await;
    assert_eq!(code, StatusCode::OK, "{rest}");
    assert_eq!(names(&rest), ["r1", "r2"]);
    assert_eq!(
        rest["items"][0]["spec"]["hostnames"],
        json!(["h11.example"])
    );

    let (code, status) = page(&r, "continue=not-a-token").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        status["message"]
            .as_str()
            .expect("message")
            .starts_with("invalid continue token: continue key is not valid"),
        "{status}"
    );
    let (code, _) = page(&r, "limit=ten").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

/// Logs kept for one pod, as the data plane's echo servers keep them.
#[derive(Debug)]
struct OnePodLog;

impl gwsim_apiserver::podlog::PodLogs for OnePodLog {
    fn lines(
        &self,
        namespace: &str,
        pod: &str,
    ) -> Option<Vec<gwsim_apiserver::podlog::PodLogLine>> {
        (namespace == "default" && pod == "echo").then(|| {
            vec![gwsim_apiserver::podlog::PodLogLine {
                at: std::time::SystemTime::now(),
                text: "Echoing back request made to /a to client (127.0.0.1:1)".into(),
            }]
        })
    }
}

/// GET pods/{name}/log as text: the pod's lines; a pod that does not exist is a 404 Status;
/// discovery lists the subresource.
#[tokio::test]
async fn pod_logs_are_served_as_text() {
    let c = cluster(100);
    let r = gwsim_apiserver::router_with_logs(c.clone(), 64 * 1024, Some(Arc::new(OnePodLog)));
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "echo"},
        "spec": {"containers": [{"name": "echo", "image": "echo"}]},
    });
    let (code, _) = call(
        &r,
        Method::POST,
        "/api/v1/namespaces/default/pods",
        JSON,
        Some(pod),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let request = Request::builder()
        .uri("/api/v1/namespaces/default/pods/echo/log?container=echo&tailLines=5")
        .body(Body::empty())
        .expect("request");
    let response = r.clone().oneshot(request).await.expect("served");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "Echoing back request made to /a to client (127.0.0.1:1)\n"
    );
    let (code, status) = call(
        &r,
        Method::GET,
        "/api/v1/namespaces/default/pods/nobody/log",
        JSON,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(status["reason"], "NotFound");
    let (code, status) = call(
        &r,
        Method::GET,
        "/api/v1/namespaces/default/pods/echo/log?follow=true",
        JSON,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        status["message"]
            .as_str()
            .unwrap_or("")
            .contains("follow is not supported")
    );
    // Only pods have logs.
    let (code, _) = call(
        &r,
        Method::GET,
        "/api/v1/namespaces/default/services/echo/log",
        JSON,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (_, list) = call(&r, Method::GET, "/api/v1", JSON, None).await;
    let names: Vec<&str> = list["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"pods/log"), "{names:?}");
}

/// TLSRoute, TCPRoute and UDPRoute are also served at the deprecated v1alpha2, with its own
/// schema (TLSRoute hostnames optional there, required at v1); both versions show one object.
#[tokio::test]
async fn l4_routes_are_served_at_v1alpha2_with_its_schema() {
    let c = cluster(100);
    let r = app(&c);
    let (code, list) = call(
        &r,
        Method::GET,
        "/apis/gateway.networking.k8s.io/v1alpha2",
        JSON,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let mut names: Vec<&str> = list["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .filter(|n| !n.ends_with("/status"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["tcproutes", "tlsroutes", "udproutes"]);

    let no_hostnames = |version: &str| {
        json!({
            "apiVersion": format!("gateway.networking.k8s.io/{version}"), "kind": "TLSRoute",
            "metadata": {"name": "tls"},
            "spec": {"parentRefs": [{"name": "gw"}],
                     "rules": [{"backendRefs": [{"name": "backend", "port": 443}]}]},
        })
    };
    let at = |version: &str| {
        format!("/apis/gateway.networking.k8s.io/{version}/namespaces/default/tlsroutes")
    };
    // At v1 hostnames are required: refused, nothing stored.
    let (code, status) = call(&r, Method::POST, &at("v1"), JSON, Some(no_hostnames("v1"))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or("")
            .contains("spec.hostnames"),
        "{status}"
    );
    // At v1alpha2 they are optional.
    let (code, created) = call(
        &r,
        Method::POST,
        &at("v1alpha2"),
        JSON,
        Some(no_hostnames("v1alpha2")),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["apiVersion"], "gateway.networking.k8s.io/v1alpha2");
    let (code, read) = call(&r, Method::GET, &format!("{}/tls", at("v1")), JSON, None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(read["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(read["metadata"]["uid"], created["metadata"]["uid"]);

    let tcp = json!({
        "apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
        "metadata": {"name": "tcp"},
        "spec": {"parentRefs": [{"name": "gw"}],
                 "rules": [{"backendRefs": [{"name": "backend", "port": 3000}]}]},
    });
    let tcp_at = "/apis/gateway.networking.k8s.io/v1alpha2/namespaces/default/tcproutes";
    let (code, created) = call(&r, Method::POST, tcp_at, JSON, Some(tcp)).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    // HTTPRoute has no v1alpha2.
    let (code, _) = call(
        &r,
        Method::GET,
        "/apis/gateway.networking.k8s.io/v1alpha2/namespaces/default/httproutes",
        JSON,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}
