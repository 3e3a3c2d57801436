//! The runner's patience with an asynchronous cluster (`Cluster::patience`): status steps are
//! polled with backoff until they hold or the timeout passes, request steps must pass several
//! tries in a row, and failures say how long they waited. A cluster that lags behind the
//! simulator by a number of pauses stands in for a real controller.

use std::cell::Cell;
use std::time::Duration;

use gwsim_engine::decision::Request;
use gwsim_engine::load::Document;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_sim::cluster::{
    ApplyOutcome, Cluster, ClusterError, Patience, RequestId, Response, SendError,
};
use gwsim_sim::files::Source;
use gwsim_sim::runner::{Outcome, run_scenario, start_cluster};
use gwsim_sim::scenario::{Scenario, load_scenario};
use gwsim_sim::sim::SimCluster;

/// The simulator seen through a controller that is `lag` pauses behind: until then, statuses
/// read as empty and requests get 503. With `flaky`, every other request fails anyway.
struct Lagging {
    sim: SimCluster,
    lag: usize,
    flaky: bool,
    pauses: Vec<Duration>,
    sent: Cell<usize>,
}

impl Lagging {
    fn behind(&self) -> bool {
        self.pauses.len() < self.lag
    }
}

impl Cluster for Lagging {
    fn apply(&mut self, documents: &[Document]) -> Vec<ApplyOutcome> {
        self.sim.apply_documents(documents)
    }
    fn delete(&mut self, key: &ObjectKey) -> Result<(), ClusterError> {
        Cluster::delete(&mut self.sim, key)
    }
    fn get(&self, key: &ObjectKey) -> Option<serde_json::Value> {
        let mut object = Cluster::get(&self.sim, key)?;
        if self.behind() && key.kind == Kind::HttpRoute {
            object.as_object_mut()?.remove("status");
        }
        Some(object)
    }
    fn list(&self, kind: Kind) -> Vec<ObjectKey> {
        Cluster::list(&self.sim, kind)
    }
    fn send(&mut self, request: &Request, id: RequestId) -> Result<Response, SendError> {
        self.sent.set(self.sent.get() + 1);
        if self.behind() || (self.flaky && self.sent.get().is_multiple_of(2)) {
            return Ok(Response::local(503, Vec::new()));
        }
        self.sim.send(request, id)
    }
    fn received(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> bool {
        self.sim.received(namespace, backend, id)
    }
    fn advance(&mut self, by: Duration) {
        self.sim.advance_by(by);
    }
    fn controller_name(&self) -> &str {
        self.sim.controller_name()
    }
    fn patience(&self) -> Patience {
        Patience {
            timeout: Duration::from_secs(3),
            request_streak: 3,
            first_pause: Duration::from_millis(100),
            max_pause: Duration::from_millis(800),
        }
    }
    fn pause(&mut self, by: Duration) {
        self.pauses.push(by);
    }
}

const SCENARIO: &str = "\
name: lagging
base: conformance
manifests:
- |
  apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata: {name: r, namespace: gateway-conformance-infra}
  spec:
    parentRefs: [{name: same-namespace}]
    rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
steps:
- status:
  - {kind: HTTPRoute, name: r, namespace: gateway-conformance-infra, acceptedParents: 1}
- request: {gateway: gateway-conformance-infra/same-namespace, path: /}
  expect: {status: 200}
";

fn scenario(text: &str) -> Scenario {
    load_scenario(&Source {
        name: "lagging.yaml".into(),
        path: "lagging.yaml".into(),
        text: text.into(),
    })
    .expect("the scenario loads")
}

fn run(lag: usize, flaky: bool, text: &str) -> (Outcome, Lagging) {
    let scenario = scenario(text);
    let sim = start_cluster(scenario.base, 1).expect("cluster");
    let mut cluster = Lagging {
        sim,
        lag,
        flaky,
        pauses: Vec::new(),
        sent: Cell::new(0),
    };
    let result = run_scenario(&scenario, &mut cluster, None, 1);
    (result.outcome, cluster)
}

fn ms(values: &[u64]) -> Vec<Duration> {
    values.iter().map(|v| Duration::from_millis(*v)).collect()
}

#[test]
fn a_status_is_polled_with_backoff_until_it_holds() {
    let (outcome, cluster) = run(3, false, SCENARIO);
    assert_eq!(outcome, Outcome::Passed);
    // Three failing polls back off 100, 200, 400 ms; then the request passes three times in
    // a row, spaced by the first pause.
    assert_eq!(cluster.pauses, ms(&[100, 200, 400, 100, 100]));
    assert_eq!(cluster.sent.get(), 3);
}

#[test]
fn passes_after_a_wait_are_spaced_by_the_backoff_reached() {
    // The request step alone: two failing tries (the controller lags), then three passes.
    let request_only = SCENARIO.replace(
        "- status:\n  - {kind: HTTPRoute, name: r, namespace: gateway-conformance-infra, acceptedParents: 1}\n",
        "",
    );
    assert!(!request_only.contains("- status:"));
    let (outcome, cluster) = run(2, false, &request_only);
    assert_eq!(outcome, Outcome::Passed);
    // The failures back off 100, 200 ms; the cluster took 300 ms to converge, so the passes
    // that follow are spaced by 400 ms (where the backoff got to), not by the first pause.
    assert_eq!(cluster.pauses, ms(&[100, 200, 400, 400]));
    assert_eq!(cluster.sent.get(), 5);
}

#[test]
fn a_status_that_never_holds_fails_saying_how_long_it_waited() {
    let (outcome, cluster) = run(usize::MAX, false, SCENARIO);
    let Outcome::Failed(failure) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(failure.step, Some(1));
    // 100 + 200 + 400 + 800 + 800 + 800 = 3.1 s: the first total past the 3 s timeout.
    assert_eq!(cluster.pauses, ms(&[100, 200, 400, 800, 800, 800]));
    assert!(
        failure
            .message
            .ends_with("(the last of 7 tries, over 3.1 s of waiting)"),
        "{}",
        failure.message
    );
    // The last observed value is in the diff.
    assert!(failure.diff.is_some_and(|d| d.contains("acceptedParents")));
}

#[test]
fn a_request_must_pass_three_tries_in_a_row() {
    let (outcome, cluster) = run(0, true, SCENARIO);
    let Outcome::Failed(failure) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(failure.step, Some(2));
    assert!(
        failure.message.contains("3 passes in a row needed"),
        "{}",
        failure.message
    );
    assert!(cluster.sent.get() > 3);
    let waited: Duration = cluster.pauses.iter().sum();
    assert!(waited >= Duration::from_secs(3) && waited < Duration::from_secs(4));
}

#[test]
fn the_simulator_checks_once_and_never_waits() {
    assert_eq!(SimCluster::new(0).patience(), Patience::ONCE);
    // A failing check on a patient-less cluster: one try, no pause, the message unchanged.
    let failing = SCENARIO.replace("acceptedParents: 1", "acceptedParents: 2");
    let scenario = scenario(&failing);
    let mut sim = start_cluster(scenario.base, 1).expect("cluster");
    let result = run_scenario(&scenario, &mut sim, None, 1);
    let Outcome::Failed(failure) = result.outcome else {
        panic!("expected a failure");
    };
    assert!(!failure.message.contains("tries"), "{}", failure.message);
}
