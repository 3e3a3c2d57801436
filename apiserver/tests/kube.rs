//! The API through kube-rs, the Rust client, over TLS with the kubeconfig the server writes:
//! typed `Api`s for the Gateway API kinds, list (with pages), get, create, server-side apply
//! with managers and conflicts, replace with a stale resourceVersion, delete, watch, and
//! kube-runtime's `await_condition` on the statuses the controller writes in the background.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use gateway_api::apis::standard::gatewayclasses::GatewayClass;
use gateway_api::apis::standard::gateways::Gateway;
use gateway_api::apis::standard::httproutes::HttpRoute;
use gwsim_apiserver::{ApiConfig, SharedCluster};
use gwsim_sim::SimCluster;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{Condition, await_condition};
use kube::{Api, Client, Config};
use serde_json::json;

/// A TLS server on a free loopback port and a client from its kubeconfig.
async fn start() -> (Client, String, Arc<SharedCluster>) {
    let shared = SharedCluster::new(SimCluster::new(0), 10_000);
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let bound = gwsim_apiserver::bind(shared.clone(), addr, ApiConfig::default())
        .await
        .expect("bound");
    let kubeconfig = bound.kubeconfig.clone();
    tokio::spawn(bound.serve(std::future::pending()));
    let config = Config::from_custom_kubeconfig(
        Kubeconfig::from_yaml(&kubeconfig).expect("kubeconfig parses"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    (
        Client::try_from(config).expect("client"),
        kubeconfig,
        shared,
    )
}

fn class() -> GatewayClass {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "gwsim"},
        "spec": {"controllerName": "gateway.gwsim.dev/controller"},
    }))
    .expect("GatewayClass")
}

fn gateway() -> Gateway {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"gatewayClassName": "gwsim",
            "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]},
    }))
    .expect("Gateway")
}

fn route_config(name: &str, hostname: &str) -> serde_json::Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"}},
        "spec": {"parentRefs": [{"name": "web"}], "hostnames": [hostname],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]},
    })
}

fn gateway_programmed() -> impl Condition<Gateway> {
    |g: Option<&Gateway>| {
        g.and_then(|g| g.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Programmed" && c.status == "True")
            })
    }
}

fn route_accepted() -> impl Condition<HttpRoute> {
    |r: Option<&HttpRoute>| {
        r.and_then(|r| r.status.as_ref()).is_some_and(|s| {
            s.parents.iter().any(|p| {
                p.conditions
                    .iter()
                    .any(|c| c.type_ == "Accepted" && c.status == "True")
            })
        })
    }
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn kube_rs_drives_the_whole_flow() {
    let (client, _, _shared) = start().await;
    let classes: Api<GatewayClass> = Api::all(client.clone());
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), "default");
    let routes: Api<HttpRoute> = Api::namespaced(client.clone(), "default");

    classes
        .create(&PostParams::default(), &class())
        .await
        .expect("class created");
    let created = gateways
        .create(&PostParams::default(), &gateway())
        .await
        .expect("gateway created");
    assert_eq!(created.metadata.generation, Some(1));
    tokio::time::timeout(
        WAIT,
        await_condition(gateways.clone(), "web", gateway_programmed()),
    )
    .await
    .expect("Programmed in time")
    .expect("watched");

    // Server-side apply creates; the route is Accepted once the controller has run.
    let apply = PatchParams::apply("kube-test");
    for (name, host) in [("a", "a.example"), ("b", "b.example"), ("c", "c.example")] {
        routes
            .patch(name, &apply, &Patch::Apply(route_config(name, host)))
            .await
            .expect("applied");
    }
    let accepted =
        tokio::time::timeout(WAIT, await_condition(routes.clone(), "a", route_accepted()))
            .await
            .expect("Accepted in time")
            .expect("watched")
            .expect("the route exists");
    let managers: Vec<_> = accepted
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(managers.contains(&"kube-test".to_string()), "{managers:?}");

    // get and list, by label and in pages.
    let got = routes.get("b").await.expect("get");
    assert_eq!(got.spec.hostnames, Some(vec!["b.example".to_string()]));
    let all = routes
        .list(&ListParams::default().labels("team=a"))
        .await
        .expect("list");
    assert_eq!(all.items.len(), 3);
    let first = routes
        .list(&ListParams::default().limit(2))
        .await
        .expect("first page");
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let rest = routes
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("second page");
    let names: Vec<_> = rest
        .items
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    assert_eq!(names, ["c"]);
    assert_eq!(rest.metadata.continue_, None);
    let bad = routes
        .list(&ListParams::default().continue_token("bogus"))
        .await
        .expect_err("a bad token");
    let status = api_error(bad);
    assert_eq!(status.code, 400);
    assert!(
        status
            .message
            .starts_with("invalid continue token: continue key is not valid"),
        "{}",
        status.message
    );

    // A second manager that changes the first's field conflicts, unless it forces.
    let other = PatchParams::apply("other-team");
    let conflict = routes
        .patch(
            "a",
            &other,
            &Patch::Apply(route_config("a", "other.example")),
        )
        .await
        .expect_err("a conflict");
    let status = api_error(conflict);
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"kube-test\": .spec.hostnames"
    );
    let forced = routes
        .patch(
            "a",
            &other.clone().force(),
            &Patch::Apply(route_config("a", "other.example")),
        )
        .await
        .expect("forced");
    assert_eq!(
        forced.spec.hostnames,
        Some(vec!["other.example".to_string()])
    );

    // A replace from a stale resourceVersion conflicts.
    let mut stale = got.clone();
    stale.metadata.resource_version = Some("1".into());
    let status = api_error(
        routes
            .replace("b", &PostParams::default(), &stale)
            .await
            .expect_err("stale"),
    );
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        "Operation cannot be fulfilled on httproutes.gateway.networking.k8s.io \"b\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // An invalid object: the API server's message, exactly.
    let mut broken = route_config("broken", "x.example");
    broken["spec"]["rules"][0]["matches"][0]["path"]["value"] = json!("no-slash");
    let status = api_error(
        routes
            .patch("broken", &apply, &Patch::Apply(broken))
            .await
            .expect_err("invalid"),
    );
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    assert_eq!(
        status.message,
        "HTTPRoute.gateway.networking.k8s.io \"broken\" is invalid: spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"
    );
    let causes = status.details.expect("details").causes;
    assert_eq!(causes[0].field, "spec.rules[0].matches[0].path");
    assert_eq!(causes[0].reason, "FieldValueInvalid");

    // Watch from the list's resourceVersion: a delete arrives as DELETED.
    let rv = routes
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut events = routes
        .watch(&WatchParams::default().timeout(20), &rv)
        .await
        .expect("watch")
        .boxed();
    routes
        .delete("c", &DeleteParams::default())
        .await
        .expect("deleted");
    let deleted = tokio::time::timeout(WAIT, async {
        while let Some(event) = events.try_next().await.expect("event") {
            if let WatchEvent::Deleted(r) = event {
                return r;
            }
        }
        panic!("the watch ended before the deletion");
    })
    .await
    .expect("DELETED in time");
    assert_eq!(deleted.metadata.name.as_deref(), Some("c"));
    let status = api_error(routes.get("c").await.expect_err("gone"));
    assert_eq!(status.code, 404);
    assert_eq!(
        status.message,
        "httproutes.gateway.networking.k8s.io \"c\" not found"
    );
}

#[tokio::test]
async fn a_client_without_the_token_is_refused() {
    let (_, kubeconfig, _shared) = start().await;
    let without_token = kubeconfig.replace("    token: ", "    token: wrong");
    let config = Config::from_custom_kubeconfig(
        Kubeconfig::from_yaml(&without_token).expect("kubeconfig parses"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    let client = Client::try_from(config).expect("client");
    let routes: Api<HttpRoute> = Api::namespaced(client, "default");
    let status = api_error(
        routes
            .list(&ListParams::default())
            .await
            .expect_err("refused"),
    );
    assert_eq!(status.code, 401);
}
