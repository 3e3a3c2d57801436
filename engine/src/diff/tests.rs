//! Unit tests of the diff: small states built from YAML, compared.

use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::load::parse_documents;
use crate::object::Kind;

const BASE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim}
spec: {controllerName: gateway.gwsim.dev/controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: gwsim
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: ns}
spec: {ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: ns}
spec: {ports: [{port: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  hostnames: [web.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: a, port: 8080, weight: 90}, {name: b, port: 8080, weight: 10}]
  - matches: [{path: {type: Exact, value: /}}]
    backendRefs: [{name: a, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  hostnames: [other.example]
  rules:
  - backendRefs: [{name: b, port: 8080}]
"#;

fn now() -> Timestamp {
    Timestamp::from_second(1_767_225_600).expect("valid epoch")
}

fn docs(yaml: &str) -> Vec<crate::load::Document> {
    parse_documents("test.yaml", yaml).expect("test YAML parses")
}

fn settle(yaml: &str) -> Settled {
    let change = ChangeSet {
        documents: docs(yaml),
        deletions: Vec::new(),
    };
    let applied = apply_change(Snapshot::new(), &change, now());
    assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
    Settled::new(applied.snapshot, now())
}

/// The diff of BASE and BASE with `change` applied and `deletions` deleted.
fn diff_change(change: &str, deletions: &[ObjectKey]) -> BehaviourDiff {
    let before = settle(BASE);
    let set = ChangeSet {
        documents: docs(change),
        deletions: deletions.to_vec(),
    };
    let applied = apply_change(before.snapshot.clone(), &set, now());
    let rejections = applied
        .rejected
        .iter()
        .map(|(o, r)| RejectedChange::from_rejection(o, r))
        .collect();
    let after = Settled::new(applied.snapshot, now());
    diff(
        before.state(),
        after.state(),
        DiffOptions {
            rejections,
            ..DiffOptions::default()
        },
    )
}

/// The `web` route of BASE with its rules replaced.
fn web_route(rules: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: web, namespace: ns}}\nspec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [web.example]\n  rules:\n{rules}"
    )
}

const WEB_RULES: &str = "  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: a, port: 8080, weight: 90}, {name: b, port: 8080, weight: 10}]
  - matches: [{path: {type: Exact, value: /}}]
    backendRefs: [{name: a, port: 8080}]
";

#[test]
fn apply_change_admits_against_the_stored_object() {
    let base = settle(BASE);
    let key = ObjectKey::new(Kind::HttpRoute, "ns", "web");
    let cases: [(&str, Vec<ObjectKey>, i64, usize, usize); 4] = [
        // (change, deletions, web's generation after, rejected, missing)
        (&web_route(WEB_RULES), vec![], 1, 0, 0),
        (
            &web_route(&WEB_RULES.replace("weight: 90", "weight: 80")),
            vec![],
            2,
            0,
            0,
        ),
        (
            &web_route("  - matches: [{path: {type: PathPrefix, value: api}}]\n"),
            vec![],
            1,
            1,
            0,
        ),
        (
            "",
            vec![ObjectKey::new(Kind::Service, "ns", "missing")],
            1,
            0,
            1,
        ),
    ];
    for (i, (change, deletions, generation, rejected, missing)) in cases.into_iter().enumerate() {
        let set = ChangeSet {
            documents: docs(change),
            deletions,
        };
        let applied = apply_change(base.snapshot.clone(), &set, now());
        let web = applied.snapshot.get(&key).expect("web exists");
        assert_eq!(web.generation(), generation, "case {i}");
        assert!(web.meta().creation_timestamp.is_some(), "case {i}");
        assert_eq!(applied.rejected.len(), rejected, "case {i}");
        assert_eq!(applied.missing.len(), missing, "case {i}");
    }
}

/// `namespace: ""` is the `default` namespace (admission puts it there), so a second document
/// written that way updates the first: generation 2, not a fresh object at generation 1.
#[test]
fn an_empty_namespace_updates_the_object_in_default() {
    let route = |namespace: &str, weight: u32| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r{namespace}}}\nspec:\n  rules:\n  - backendRefs: [{{name: a, port: 8080, weight: {weight}}}]\n"
        )
    };
    let key = ObjectKey::new(Kind::HttpRoute, "default", "r");
    assert_eq!(
        document_key(&docs(&route(", namespace: \"\"", 1))[0].value),
        Some(key.clone())
    );
    let set = ChangeSet {
        documents: docs(&format!(
            "{}---\n{}",
            route("", 1),
            route(", namespace: \"\"", 2)
        )),
        deletions: Vec::new(),
    };
    let applied = apply_change(Snapshot::new(), &set, now());
    assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
    assert_eq!(applied.snapshot.objects.len(), 1);
    assert_eq!(applied.snapshot.get(&key).expect("stored").generation(), 2);
}

#[test]
fn an_unchanged_state_has_no_diff_and_sends_no_probe() {
    let d = diff_change(&web_route(WEB_RULES), &[]);
    assert!(!d.has_changes(), "{d:#?}");
    assert_eq!(d.probes, 0);
    assert!(d.render_text(false).starts_with("No change"));
}

#[test]
fn a_weight_change_is_found_whatever_a_draw_would_pick() {
    let d = diff_change(
        &web_route(&WEB_RULES.replace("weight: 90", "weight: 80")),
        &[],
    );
    assert!(d.status_changes.is_empty(), "{:#?}", d.status_changes);
    assert_eq!(d.table_changes.len(), 1);
    assert_eq!(d.table_changes[0].changed.len(), 1);
    let change = d
        .behaviour_changes
        .iter()
        .find(|c| c.request.path == "/api")
        .expect("the hit of /api changed");
    assert_eq!(
        change.differences,
        vec!["weights changed 90/10 → 80/10 (Service ns/a:8080, Service ns/b:8080)"]
    );
    assert!(!change.regression);
    assert!(!d.has_regressions());
    // Only the changed hostname was probed (and its sibling, a near miss).
    for c in &d.behaviour_changes {
        assert_eq!(c.request.host, "web.example");
    }
}

#[test]
fn probes_stay_within_the_hostnames_a_change_touches() {
    let before = settle(BASE);
    let after = settle(&BASE.replace("weight: 10", "weight: 20"));
    let scopes = scope::affected(
        &before.reconciliation.gateways,
        &after.reconciliation.gateways,
    );
    let probes = probes::derive(
        &before.reconciliation.gateways,
        &after.reconciliation.gateways,
        &scopes,
        &[],
    );
    let hosts: std::collections::BTreeSet<&str> =
        probes.iter().map(|(r, _)| r.host.as_str()).collect();
    assert_eq!(
        hosts.into_iter().collect::<Vec<_>>(),
        vec!["gwsim-other.example", "web.example"]
    );
    let paths: Vec<(&str, &str)> = probes
        .iter()
        .filter(|(r, _)| r.host == "web.example")
        .map(|(r, why)| (r.path.as_str(), why.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("/", "hits HTTPRoute ns/web rule 1 match 0"),
            ("/api", "hits HTTPRoute ns/web rule 0 match 0"),
            (
                "/apix",
                "near miss of HTTPRoute ns/web rule 0 match 0: segment boundary of PathPrefix /api"
            ),
        ]
    );
}

#[test]
fn a_deleted_backend_is_a_regression_per_backend_ref() {
    let d = diff_change("", &[ObjectKey::new(Kind::Service, "ns", "b")]);
    assert!(d.has_regressions());
    let route = d
        .status_changes
        .iter()
        .find(|s| s.object.name == "web")
        .expect("web's status changed");
    let resolved = &route.conditions[0];
    assert_eq!(resolved.condition_type, "ResolvedRefs");
    assert!(resolved.regression);
    let api = d
        .behaviour_changes
        .iter()
        .find(|c| c.request.path == "/api" && c.request.host == "web.example")
        .expect("/api changed");
    assert!(api.regression);
    assert_eq!(
        api.differences,
        vec![
            "backendRef 1: forwarded to Service ns/b:8080 → 500: backendRef 1 (Service ns/b) is invalid: BackendNotFound"
        ]
    );
    // The other route's only backend is gone too: its hit now answers 500.
    let other = d
        .behaviour_changes
        .iter()
        .find(|c| c.request.host == "other.example")
        .expect("other.example changed");
    assert_eq!(other.differences, vec!["forwarded → 500"]);
}

#[test]
fn a_new_route_that_takes_over_a_prefix_shadows_the_old_one() {
    let change = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  hostnames: [web.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: b, port: 8080}]
";
    let d = diff_change(change, &[]);
    let table = &d.table_changes[0];
    assert_eq!(table.added.len(), 1);
    assert_eq!(table.shadowed.len(), 1);
    let shadowing = &table.shadowed[0];
    assert!(shadowing.now);
    assert_eq!(shadowing.entry, "HTTPRoute ns/web rule 0 match 0");
    assert_eq!(shadowing.by, "HTTPRoute ns/api rule 0 match 0");
    let api = d
        .behaviour_changes
        .iter()
        .find(|c| c.request.path == "/api")
        .expect("/api changed");
    assert_eq!(
        api.after.matched.as_deref(),
        Some("HTTPRoute ns/api rule 0 match 0")
    );
    assert!(!api.regression);
    let text = d.render_text(false);
    assert!(text.contains("is now shadowed by"), "{text}");
}

#[test]
fn rules_inserted_before_others_pair_by_name_or_content() {
    let rules = "  - name: first
    matches: [{path: {type: PathPrefix, value: /new}}]
    backendRefs: [{name: b, port: 8080}]
"
    .to_string()
        + WEB_RULES;
    let d = diff_change(&web_route(&rules), &[]);
    let table = &d.table_changes[0];
    assert_eq!(table.added.len(), 1, "{table:#?}");
    assert_eq!(table.added[0].description, "PathPrefix /new");
    assert!(table.removed.is_empty(), "{table:#?}");
    // The old rules are renumbered: same content, new labels.
    assert_eq!(table.changed.len(), 2);
}

#[test]
fn rejections_are_kept_and_change_nothing_else() {
    let d = diff_change(
        &web_route("  - matches: [{path: {type: PathPrefix, value: api}}]\n"),
        &[],
    );
    assert_eq!(d.rejections.len(), 1);
    assert!(
        d.rejections[0]
            .message
            .contains("HTTPRoute \"web\" is invalid")
    );
    assert!(d.status_changes.is_empty() && d.behaviour_changes.is_empty());
    assert!(d.has_changes() && !d.has_regressions());
}

#[test]
fn missing_deletions_read_as_the_api_server_says() {
    let cases = [
        (
            ObjectKey::new(Kind::HttpRoute, "ns", "x"),
            "httproutes.gateway.networking.k8s.io \"x\" not found",
        ),
        (
            ObjectKey::new(Kind::GatewayClass, "", "c"),
            "gatewayclasses.gateway.networking.k8s.io \"c\" not found",
        ),
        (
            ObjectKey::new(Kind::Service, "ns", "s"),
            "services \"s\" not found",
        ),
    ];
    for (key, message) in cases {
        assert_eq!(RejectedChange::not_found(&key).message, message);
    }
}

#[test]
fn output_is_deterministic_coloured_on_request_and_serializable() {
    let change = web_route(&WEB_RULES.replace("value: /api", "value: /v2"));
    let a = diff_change(&change, &[]);
    let b = diff_change(&change, &[]);
    assert_eq!(a, b);
    let plain = a.render_text(false);
    assert!(!plain.contains('\x1b'));
    assert!(a.render_text(true).contains("\x1b[32m"));
    assert!(plain.contains("Routing table changes"));
    assert!(plain.contains("Behaviour changes"));
    let json = serde_json::to_value(&a).expect("serializable");
    assert!(json["behaviour_changes"][0]["before_explanation"]["detailed"] == true);
}

#[test]
fn regular_expressions_get_a_sample_that_matches() {
    let cases = [
        ("/v[0-9]+/items", Some("/v0/items")),
        ("/(users|groups)/[^/]+", Some("/users/a")),
        ("/files/.*", Some("/files/")),
        ("/x{3}", Some("/xxx")),
        ("/a(?=b)", None),
    ];
    for (pattern, expected) in cases {
        let sample = regex::Regex::new(pattern)
            .ok()
            .and_then(|re| probes::sample(&re));
        assert_eq!(sample.as_deref(), expected, "{pattern}");
    }
}
