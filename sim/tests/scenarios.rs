//! The example scenarios under testdata/scenarios: every one passes, runs are deterministic,
//! and a different seed changes only random choices.

use std::path::PathBuf;

use gwsim_engine::decision::Request;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_sim::cluster::{Cluster, RequestId};
use gwsim_sim::files::Source;
use gwsim_sim::runner::{
    RunOptions, SentRequest, run_paths, run_scenario, run_scenario_observed, run_scenarios,
    start_cluster,
};
use gwsim_sim::scenario::{Base, load_paths, load_scenario};

fn examples() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("testdata/scenarios")
}

#[test]
fn every_example_scenario_passes() {
    let report = run_paths(&[examples()], &RunOptions::default()).expect("examples load");
    let text = report.render_text();
    assert_eq!(report.summary.failed, 0, "{text}");
    assert_eq!(report.summary.skipped, 0, "{text}");
    assert!(report.summary.passed >= 7, "{text}");
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn every_example_leaves_a_settled_cluster() {
    // Reconciles skipped as irrelevant must never be observable: after each scenario, a full
    // reconcile of the final snapshot writes nothing.
    for scenario in load_paths(&[examples()]).expect("examples load") {
        let mut cluster = start_cluster(scenario.base, scenario.seed).expect("cluster");
        let result = run_scenario(&scenario, &mut cluster, None, scenario.seed);
        assert!(result.passed(), "{}", scenario.name);
        assert!(cluster.is_settled(), "{} is not settled", scenario.name);
    }
}

#[test]
fn same_seed_gives_byte_identical_reports() {
    for seed in [None, Some(7)] {
        let options = RunOptions {
            seed,
            ..RunOptions::default()
        };
        let first = run_paths(&[examples()], &options).expect("load");
        let second = run_paths(&[examples()], &options).expect("load");
        assert_eq!(first.render_text(), second.render_text());
        assert_eq!(first.render_json(), second.render_json());
    }
}

/// The weights example with no tolerance: it fails and shows the observed shares.
fn strict_weights() -> gwsim_sim::Scenario {
    let path = examples().join("weights.yaml");
    let text = std::fs::read_to_string(&path)
        .expect("weights.yaml")
        .replace("tolerance: 0.05", "tolerance: 0");
    load_scenario(&Source {
        name: "weights-strict.yaml".into(),
        path,
        text,
    })
    .expect("loads")
}

#[test]
fn a_different_seed_changes_only_random_choices() {
    let scenario = strict_weights();
    let report = |seed: u64| {
        let options = RunOptions {
            seed: Some(seed),
            ..RunOptions::default()
        };
        run_scenarios(std::slice::from_ref(&scenario), &options)
            .expect("runs")
            .render_text()
    };
    let base = report(1);
    assert_eq!(base, report(1), "same seed, same bytes");
    assert!(
        base.contains("distribution over 500 requests is off"),
        "{base}"
    );
    let mut changed = false;
    for seed in 2..6 {
        let other = report(seed);
        if other != base {
            changed = true;
        }
        // Only the observed shares, and the weighted choice of the last request in its
        // explanation, may differ.
        let random = |line: &str| {
            line.contains("distribution.")
                || line.trim_start().starts_with("backend: Service")
                || line.trim_start().starts_with("outcome: forwarded to")
        };
        for (a, b) in base.lines().zip(other.lines()) {
            if a != b {
                assert!(
                    random(a) && random(b),
                    "seed {seed} changed more than random choices:\n{a}\n{b}"
                );
            }
        }
        assert_eq!(base.lines().count(), other.lines().count());
    }
    assert!(changed, "the seed must reach the weighted choice");
}

#[test]
fn a_different_seed_leaves_non_random_traffic_alone() {
    let weighted = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs:
    - {name: infra-backend-v1, port: 8080, weight: 1}
    - {name: infra-backend-v2, port: 8080, weight: 1}
  - backendRefs:
    - {name: infra-backend-v1, port: 8080}
";
    let docs = gwsim_engine::load::parse_documents("split.yaml", weighted).expect("parses");
    let trace = |seed: u64| {
        let mut cluster = start_cluster(Base::Conformance, seed).expect("cluster");
        let refused: Vec<_> = cluster
            .apply(&docs)
            .into_iter()
            .filter(|o| o.result.is_err())
            .collect();
        assert!(refused.is_empty(), "{refused:?}");
        let mut request = Request::get("example.com", "/");
        request.gateway = Some(ObjectKey::new(
            Kind::Gateway,
            "gateway-conformance-infra",
            "same-namespace",
        ));
        let mut random = Vec::new();
        let mut fixed = Vec::new();
        for i in 0..200u64 {
            request.path = if i % 2 == 0 { "/split" } else { "/plain" }.to_string();
            let response = cluster.send(&request, RequestId(i)).expect("sent");
            let pod = response.echo.map(|e| e.pod).unwrap_or_default();
            if i % 2 == 0 {
                random.push(pod);
            } else {
                fixed.push(pod);
            }
        }
        (random, fixed)
    };
    let (random_1, fixed_1) = trace(1);
    let (random_2, fixed_2) = trace(2);
    assert_eq!(
        trace(1),
        (random_1.clone(), fixed_1.clone()),
        "same seed, same trace"
    );
    assert_ne!(random_1, random_2, "weighted choices follow the seed");
    assert_eq!(fixed_1, fixed_2, "everything else does not");
}

/// Records what a run reports, in order.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    decided_like_the_send: bool,
}

impl gwsim_sim::runner::RunObserver<gwsim_sim::SimCluster> for Recorder {
    fn started(&mut self, _: &gwsim_sim::SimCluster) {
        self.events.push("started".into());
    }

    fn request_sent(&mut self, cluster: &gwsim_sim::SimCluster, sent: SentRequest<'_>) {
        let status = match sent.response {
            Ok(r) => r.status.to_string(),
            Err(e) => e.to_string(),
        };
        // The decision made again for the observer is the one the send made.
        let decision = cluster.decide_last(sent.request);
        let backend = sent
            .response
            .as_ref()
            .ok()
            .and_then(|r| r.echo.as_ref())
            .map(|e| e.service.clone());
        let decided = match &decision.outcome {
            gwsim_engine::Outcome::Forward(f) => Some(f.backend.name.clone()),
            _ => None,
        };
        self.decided_like_the_send = backend == decided;
        self.events
            .push(format!("step {} {} {status}", sent.step.number, sent.id));
    }

    fn step_finished(
        &mut self,
        _: &gwsim_sim::SimCluster,
        step: &gwsim_sim::scenario::Step,
        failure: Option<&gwsim_sim::runner::Failure>,
    ) {
        let how = failure.map_or("passed".to_string(), |f| format!("failed: {}", f.message));
        self.events.push(format!("step {} {how}", step.number));
    }
}

#[test]
fn an_observer_sees_every_step_and_request_in_order() {
    let scenario = load_paths(&[examples().join("change-over-time.yaml")])
        .expect("loads")
        .remove(0);
    let mut cluster = start_cluster(scenario.base, scenario.seed).expect("cluster");
    let mut recorder = Recorder::default();
    let result = run_scenario_observed(&scenario, &mut cluster, None, 0, &mut recorder);
    assert!(result.passed());
    let expected = [
        "started",
        "step 1 passed",
        "step 2 passed",
        "step 3 passed",
        "step 4 req-000001 200",
        "step 4 passed",
        "step 5 passed",
        "step 6 passed",
        "step 7 req-000002 200",
        "step 7 passed",
        "step 8 passed",
        "step 9 req-000003 503",
        "step 9 passed",
    ];
    assert_eq!(recorder.events, expected);

    // A failing step is reported with its failure, and nothing runs after it.
    let scenario = strict_weights();
    let mut cluster = start_cluster(scenario.base, 1).expect("cluster");
    let mut recorder = Recorder::default();
    let result = run_scenario_observed(&scenario, &mut cluster, None, 1, &mut recorder);
    assert!(!result.passed());
    assert_eq!(recorder.events.len(), 1 + 500 + 1);
    assert!(recorder.decided_like_the_send);
    let last = recorder.events.last().expect("events");
    assert!(
        last.starts_with("step 1 failed: distribution over 500 requests is off"),
        "{last}"
    );
}
