//! Scenarios and the conformance suite on a real cluster (`--target cluster`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Mutex;

use gwsim_engine::load::Document;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_sim::base::conformance_base;
use gwsim_sim::runner::{
    Failure, Outcome, RunError, RunOptions, RunReport, ScenarioResult, run_scenario,
};
use gwsim_sim::scenario::{Action, Base, Scenario};
use serde::Serialize;

use crate::LiveError;
use crate::cluster::{LiveCluster, MAX_ADVANCE, RunSettings};
use crate::footprint::{Footprint, footprint, next_to_start, runs_alone};
use gwsim_sim::cluster::Cluster as _;

/// The base's GatewayClass, which scenarios name in `gatewayClassName`.
const BASE_CLASS: &str = "gateway-conformance";

/// Scenarios that cannot run on a cluster, by name, with the reason; reported skipped.
pub const NOT_ON_CLUSTER: &[(&str, &str)] = &[];

/// Why `scenario` cannot run on a real cluster, if it cannot.
pub fn cannot_run_on_cluster(scenario: &Scenario) -> Option<String> {
    if let Some((_, why)) = NOT_ON_CLUSTER.iter().find(|(n, _)| *n == scenario.name) {
        return Some((*why).to_string());
    }
    // Upstream takes the usable and unusable addresses from suite flags; gwsim cannot declare
    // a real cluster's network, nor tell which of its addresses a data plane can serve.
    if let Some(ranges) = &scenario.network {
        let ranges: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        return Some(format!(
            "declares network.addresses ({}), the addresses the data plane can serve; a real cluster's network is not gwsim's to declare",
            ranges.join(", ")
        ));
    }
    for step in &scenario.steps {
        match &step.action {
            Action::Connect { connect, .. } => {
                return Some(format!(
                    "step {}: {}",
                    step.number,
                    connect.not_sent_reason()
                ));
            }
            Action::Request { request, .. } if request.from.is_some() => {
                return Some(format!(
                    "step {}: {}",
                    step.number,
                    gwsim_sim::scenario::MESH_NOT_SENT
                ));
            }
            Action::Advance { by } if *by > MAX_ADVANCE => {
                return Some(format!(
                    "step {} advances {} s of real time, past the {} s a cluster run waits",
                    step.number,
                    by.as_secs(),
                    MAX_ADVANCE.as_secs()
                ));
            }
            _ => {}
        }
    }
    None
}

/// A real cluster as the target of scenarios: one connection, scenarios one at a time. As
/// upstream's suite does, the base is created once and kept: each scenario's own objects are
/// deleted before the next scenario runs, and the base is created again only after a scenario
/// changed or deleted one of its objects (or ran without it), so every scenario starts from
/// the base as in memory.
pub struct LiveTarget {
    session: Mutex<Session>,
    /// `--jobs N` above 1: N more connections, each running one scenario at a time. The
    /// session's connection then only creates and removes the base.
    workers: Vec<Mutex<LiveCluster>>,
    class: String,
    base: Vec<Document>,
    /// API calls per scenario run, in run order.
    calls: Mutex<Vec<(String, u64)>>,
    /// `--echo-image`: the base's echo images, and what they become.
    echo_image: Option<(BTreeSet<String>, String)>,
}

/// The cluster and what is in it between scenarios.
struct Session {
    cluster: LiveCluster,
    /// The base is in place: the cluster's mark after it was created.
    base_mark: Option<usize>,
    /// The keys of the base's objects.
    base_keys: BTreeSet<ObjectKey>,
    /// What the last scenario left: objects it created after this mark, and whether it
    /// touched the base (then everything goes).
    left: Option<(usize, bool)>,
}

impl Session {
    /// Removes what the last scenario left, and the base too when `all`.
    fn tidy(&mut self, all: bool) -> Result<(), LiveError> {
        match self.left.take() {
            Some((_, true)) => all_gone(self),
            _ if all => all_gone(self),
            Some((mark, false)) => self.cluster.clean_up_since(mark),
            None => Ok(()),
        }
    }

    /// The base in place, created (after removing everything) if it is not. `Ok(false)`: the
    /// API server refused part of it (the runner then reports the refusal).
    fn ensure_base(&mut self, base: &[Document]) -> Result<bool, LiveError> {
        if self.base_mark.is_some() {
            return Ok(true);
        }
        self.tidy(true)?;
        let refused = self
            .cluster
            .apply(base)
            .into_iter()
            .any(|outcome| outcome.result.is_err());
        if refused {
            self.cluster.clean_up()?;
            return Ok(false);
        }
        self.base_keys = base.iter().filter_map(document_key).collect();
        self.base_mark = Some(self.cluster.mark());
        self.cluster.take_touched();
        Ok(true)
    }
}

fn all_gone(session: &mut Session) -> Result<(), LiveError> {
    session.base_mark = None;
    session.left = None;
    session.cluster.clean_up()
}

/// The keys of the conformance base's objects.
#[cfg(test)]
pub(crate) fn base_keys() -> Result<BTreeSet<ObjectKey>, String> {
    let docs = conformance_base().map_err(|e| e.to_string())?;
    Ok(docs.iter().filter_map(document_key).collect())
}

/// The key a document names (as the cluster would file it: namespace `default` when none).
fn document_key(document: &Document) -> Option<ObjectKey> {
    let value = &document.value;
    let kind = Kind::from_type(
        value.get("apiVersion")?.as_str()?,
        value.get("kind")?.as_str()?,
    )?;
    let name = value.pointer("/metadata/name")?.as_str()?;
    let namespace = match kind.namespaced() {
        true => value
            .pointer("/metadata/namespace")
            .and_then(|n| n.as_str())
            .unwrap_or("default"),
        false => "",
    };
    Some(ObjectKey::new(kind, namespace, name))
}

impl LiveTarget {
    /// Connects; `gateway_class` names the GatewayClass of the implementation under test
    /// (default: the base's own `gateway-conformance`, created with the base when the cluster
    /// has no class of that name, as against `gwsim serve --api`).
    pub fn new(
        settings: RunSettings,
        gateway_class: Option<&str>,
    ) -> Result<LiveTarget, LiveError> {
        let echo_image = settings.echo_image.clone();
        let jobs = settings.jobs;
        let mut cluster = LiveCluster::connect(settings)?;
        let class = gateway_class.unwrap_or(BASE_CLASS).to_string();
        let base_docs = conformance_base().map_err(|e| RunError::Base(e.to_string()))?;
        let installed = cluster
            .fetch(&ObjectKey::new(Kind::GatewayClass, "", &class))
            .map_err(LiveError::Api)?;
        let mut base = Vec::new();
        let mut controller = None;
        for doc in base_docs {
            let mut doc = doc.clone();
            rename_class(&mut doc.value, &class);
            if doc.value.get("kind").and_then(|k| k.as_str()) == Some("GatewayClass") {
                if installed.is_some() {
                    continue;
                }
                controller = doc
                    .value
                    .pointer("/spec/controllerName")
                    .and_then(|c| c.as_str())
                    .map(String::from);
            }
            base.push(doc);
        }
        if let Some(installed) = &installed {
            controller = installed
                .pointer("/spec/controllerName")
                .and_then(|c| c.as_str())
                .map(String::from);
        }
        let controller = controller.ok_or_else(|| {
            LiveError::Api(format!("GatewayClass {class} names no spec.controllerName"))
        })?;
        cluster.set_controller(controller);
        let echo_image = match echo_image {
            Some(image) => {
                let upstream = echo_images(&base);
                for doc in &mut base {
                    set_echo_image(&mut doc.value, &upstream, &image);
                }
                Some((upstream, image))
            }
            None => None,
        };
        let workers = match jobs {
            0 | 1 => Vec::new(),
            n => (1..=n)
                .map(|i| cluster.worker(i).map(Mutex::new))
                .collect::<Result<_, _>>()?,
        };
        Ok(LiveTarget {
            echo_image,
            workers,
            session: Mutex::new(Session {
                cluster,
                base_mark: None,
                base_keys: BTreeSet::new(),
                left: None,
            }),
            class,
            base,
            calls: Mutex::new(Vec::new()),
        })
    }

    /// The controller under test (`spec.controllerName` of the class).
    pub fn controller_name(&self) -> String {
        self.session
            .lock()
            .map(|s| gwsim_sim::cluster::Cluster::controller_name(&s.cluster).to_string())
            .unwrap_or_default()
    }

    /// API calls each scenario made (the clean-up before it, base when created, manifests
    /// and steps).
    pub fn calls(&self) -> Vec<(String, u64)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Deletes what the run created (unless `--keep`).
    pub fn finish(self) -> Result<(), LiveError> {
        let mut session = self
            .session
            .into_inner()
            .map_err(|_| LiveError::Api("a scenario run panicked".into()))?;
        if session.cluster.settings().keep {
            return Ok(());
        }
        session.tidy(true)
    }

    fn run_one(&self, scenario: &Scenario, options: &RunOptions) -> ScenarioResult {
        let seed = options.seed.unwrap_or(scenario.seed);
        let Ok(mut session) = self.session.lock() else {
            return failed(scenario, seed, "an earlier scenario run panicked".into());
        };
        let before = session.cluster.api_calls();
        let started = std::time::Instant::now();
        let mut scenario = self.prepared(scenario);
        let prepared = match scenario.base {
            Base::Conformance => session
                .tidy(false)
                .and_then(|()| session.ensure_base(&self.base)),
            Base::None => session.tidy(true).map(|()| false),
        };
        let base_in_place = match prepared {
            Ok(in_place) => in_place,
            Err(e) => {
                return failed(
                    &scenario,
                    seed,
                    format!("cleaning up after the previous scenario or creating the base: {e}"),
                );
            }
        };
        // A base the server refused is applied again by the runner, which reports the
        // refusal as in memory.
        let base = match (&scenario.base, base_in_place) {
            (Base::Conformance, false) => Some(self.base.as_slice()),
            _ => None,
        };
        // A scenario the controller lacks features for is skipped by the runner before its
        // steps: its manifests need not be written first.
        if let Some(known) = session.cluster.known_features()
            && !scenario.features.iter().all(|f| known.contains(f))
        {
            scenario.manifests.clear();
        }
        session.cluster.begin_scenario(checks_mirrors(&scenario));
        let mark = session.cluster.mark();
        session.cluster.take_touched();
        let result = run_scenario(&scenario, &mut session.cluster, base, seed);
        let touched = session.cluster.take_touched();
        let base_touched = base.is_some()
            || session.base_mark.is_none()
            || touched.iter().any(|k| session.base_keys.contains(k));
        session.left = Some((mark, base_touched));
        if base_touched {
            session.base_mark = None;
        }
        let calls = session.cluster.api_calls() - before;
        self.count_calls(&scenario.name, calls, started);
        result
    }

    fn count_calls(&self, name: &str, calls: u64, started: std::time::Instant) {
        tracing::info!(
            target: "gwsim::live",
            "{}: {} API calls, {:.2} s",
            name,
            calls,
            started.elapsed().as_secs_f64()
        );
        if let Ok(mut all) = self.calls.lock() {
            all.push((name.to_string(), calls));
        }
    }

    /// The scenario as it runs on this cluster: the class renamed, echo images replaced.
    fn prepared(&self, scenario: &Scenario) -> Scenario {
        let mut scenario = scenario.clone();
        rename_in_scenario(&mut scenario, &self.class);
        if let Some((upstream, image)) = &self.echo_image {
            for_each_document(&mut scenario, |value| {
                set_echo_image(value, upstream, image)
            });
        }
        scenario
    }

    /// Runs `scenarios` (results in their order): one after another, or with `--jobs N`
    /// up to N at once, each beside only scenarios whose footprints it does not touch.
    pub fn run_all(&self, scenarios: &[Scenario], options: &RunOptions) -> Vec<ScenarioResult> {
        if self.workers.is_empty() || scenarios.len() < 2 {
            return scenarios.iter().map(|s| self.run_one(s, options)).collect();
        }
        let base_keys: BTreeSet<ObjectKey> = self.base.iter().filter_map(document_key).collect();
        let footprints: Vec<Footprint> = scenarios
            .iter()
            .map(|s| footprint(&self.prepared(s), &base_keys))
            .collect();
        let base_in_place = self
            .session
            .lock()
            .map(|s| s.base_mark.is_some())
            .unwrap_or(false);
        let schedule = Schedule {
            state: Mutex::new(Plan {
                pending: (0..scenarios.len()).collect(),
                running: Vec::new(),
                base_in_place,
            }),
            changed: std::sync::Condvar::new(),
        };
        let results: Vec<Mutex<Option<ScenarioResult>>> =
            scenarios.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for worker in &self.workers {
                let (schedule, footprints, results) = (&schedule, &footprints, &results);
                scope.spawn(move || {
                    while let Some((i, alone, _guard)) = schedule.take(footprints, &self.session) {
                        let result = self.run_on_worker(worker, &scenarios[i], options, alone);
                        if let Ok(mut slot) = results[i].lock() {
                            *slot = Some(result);
                        }
                    }
                });
            }
        });
        results
            .into_iter()
            .zip(scenarios)
            .map(|(slot, s)| {
                let seed = options.seed.unwrap_or(s.seed);
                slot.into_inner().ok().flatten().unwrap_or_else(|| {
                    failed(s, seed, "the scenario's runner thread panicked".into())
                })
            })
            .collect()
    }

    /// One scenario on a worker connection. `alone`: nothing else runs, so the base may be
    /// created or removed. The worker removes what the scenario created when it ends.
    fn run_on_worker(
        &self,
        worker: &Mutex<LiveCluster>,
        scenario: &Scenario,
        options: &RunOptions,
        alone: bool,
    ) -> ScenarioResult {
        let seed = options.seed.unwrap_or(scenario.seed);
        let (Ok(mut cluster), Ok(mut session)) = (worker.lock(), self.session.lock()) else {
            return failed(scenario, seed, "an earlier scenario run panicked".into());
        };
        let started = std::time::Instant::now();
        let before = cluster.api_calls() + session.cluster.api_calls();
        let mut scenario = self.prepared(scenario);
        let prepared = match (scenario.base, alone) {
            (Base::Conformance, true) => session.ensure_base(&self.base),
            (Base::Conformance, false) => Ok(session.base_mark.is_some()),
            (Base::None, _) => session.tidy(true).map(|()| false),
        };
        let base_in_place = match prepared {
            Ok(in_place) => in_place,
            Err(e) => {
                return failed(&scenario, seed, format!("creating the base: {e}"));
            }
        };
        // Other workers use the session's base only through `base_mark`, read under the lock.
        drop(session);
        let base = match (&scenario.base, base_in_place) {
            (Base::Conformance, false) => Some(self.base.as_slice()),
            _ => None,
        };
        if let Some(known) = cluster.known_features()
            && !scenario.features.iter().all(|f| known.contains(f))
        {
            scenario.manifests.clear();
        }
        cluster.begin_scenario(checks_mirrors(&scenario));
        cluster.take_touched();
        let mut result = run_scenario(&scenario, &mut *cluster, base, seed);
        let touched = cluster.take_touched();
        if let Err(e) = cluster.clean_up() {
            result = failed(
                &scenario,
                seed,
                format!("cleaning up after the scenario: {e}"),
            );
        }
        let Ok(mut session) = self.session.lock() else {
            return failed(&scenario, seed, "an earlier scenario run panicked".into());
        };
        if base.is_some() || touched.iter().any(|k| session.base_keys.contains(k)) {
            if !alone {
                tracing::warn!(target: "gwsim::live", "{} changed the base while others ran", scenario.name);
            }
            session.base_mark = None;
        }
        let calls = cluster.api_calls() + session.cluster.api_calls() - before;
        drop(session);
        self.count_calls(&scenario.name, calls, started);
        result
    }
}

/// Which scenarios run, which wait, under `--jobs`.
struct Schedule {
    state: Mutex<Plan>,
    changed: std::sync::Condvar,
}

struct Plan {
    /// Not yet started, in suite order.
    pending: Vec<usize>,
    running: Vec<usize>,
    base_in_place: bool,
}

/// Ends a scenario's run in the schedule, also when its thread panics.
struct Running<'a> {
    schedule: &'a Schedule,
    index: usize,
    session: &'a Mutex<Session>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let in_place = self
            .session
            .lock()
            .map(|s| s.base_mark.is_some())
            .unwrap_or(false);
        if let Ok(mut plan) = self.schedule.state.lock() {
            plan.running.retain(|&r| r != self.index);
            plan.base_in_place = in_place;
        }
        self.schedule.changed.notify_all();
    }
}

impl Schedule {
    /// Waits for a scenario this worker may start; `None` once none is left.
    fn take<'a>(
        &'a self,
        footprints: &[Footprint],
        session: &'a Mutex<Session>,
    ) -> Option<(usize, bool, Running<'a>)> {
        let mut plan = self.state.lock().ok()?;
        loop {
            if plan.pending.is_empty() {
                return None;
            }
            if let Some(i) =
                next_to_start(footprints, &plan.pending, &plan.running, plan.base_in_place)
            {
                let alone = runs_alone(&footprints[i], plan.base_in_place);
                plan.pending.retain(|&p| p != i);
                plan.running.push(i);
                let guard = Running {
                    schedule: self,
                    index: i,
                    session,
                };
                return Some((i, alone, guard));
            }
            plan = self.changed.wait(plan).ok()?;
        }
    }
}

impl gwsim_conformance::Target for LiveTarget {
    fn cannot_run(&self, scenario: &Scenario) -> Option<String> {
        cannot_run_on_cluster(scenario).map(|why| format!("(cluster) {why}"))
    }

    fn run(&self, scenario: &Scenario, options: &RunOptions) -> Result<ScenarioResult, RunError> {
        Ok(self.run_one(scenario, options))
    }

    fn run_together(
        &self,
        scenarios: &[Scenario],
        options: &RunOptions,
    ) -> Option<Result<Vec<ScenarioResult>, RunError>> {
        Some(Ok(self.run_all(scenarios, options)))
    }
}

/// Whether a step of `scenario` checks mirrored requests.
fn checks_mirrors(scenario: &Scenario) -> bool {
    scenario.steps.iter().any(|step| {
        matches!(&step.action, Action::Request { expect, .. } if !expect.mirrored_to.is_empty())
    })
}

fn failed(scenario: &Scenario, seed: u64, message: String) -> ScenarioResult {
    ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        upstream: scenario.upstream.clone(),
        features: scenario.features.clone(),
        seed,
        outcome: Outcome::Failed(Failure {
            step: None,
            label: "cluster".into(),
            line: None,
            message,
            diff: None,
            explanation: None,
        }),
        steps: Vec::new(),
    }
}

/// The base's class name, in a GatewayClass's name and Gateways' `gatewayClassName`, becomes
/// `class`.
fn rename_class(value: &mut serde_json::Value, class: &str) {
    if class == BASE_CLASS {
        return;
    }
    match value.get("kind").and_then(|k| k.as_str()) {
        Some("GatewayClass") => {
            if let Some(name) = value.pointer_mut("/metadata/name")
                && name == BASE_CLASS
            {
                *name = class.into();
            }
        }
        Some("Gateway") => {
            if let Some(name) = value.pointer_mut("/spec/gatewayClassName")
                && name == BASE_CLASS
            {
                *name = class.into();
            }
        }
        _ => {}
    }
}

fn rename_in_scenario(scenario: &mut Scenario, class: &str) {
    for_each_document(scenario, |value| rename_class(value, class));
}

/// Calls `change` on each document of the scenario's manifests and apply steps.
fn for_each_document(scenario: &mut Scenario, mut change: impl FnMut(&mut serde_json::Value)) {
    for manifest in &mut scenario.manifests {
        for doc in &mut manifest.documents {
            change(&mut doc.value);
        }
    }
    for step in &mut scenario.steps {
        if let Action::Apply { manifest, .. } = &mut step.action {
            for doc in &mut manifest.documents {
                change(&mut doc.value);
            }
        }
    }
}

/// The images of the base's Deployments: upstream's echo server.
fn echo_images(base: &[Document]) -> BTreeSet<String> {
    base.iter()
        .filter(|d| d.value.get("kind").and_then(|k| k.as_str()) == Some("Deployment"))
        .filter_map(|d| d.value.pointer("/spec/template/spec/containers"))
        .filter_map(|c| c.as_array())
        .flatten()
        .filter_map(|c| c.get("image").and_then(|i| i.as_str()))
        .map(String::from)
        .collect()
}

/// A Deployment's containers running one of the `upstream` images run `image` instead.
fn set_echo_image(value: &mut serde_json::Value, upstream: &BTreeSet<String>, image: &str) {
    if value.get("kind").and_then(|k| k.as_str()) != Some("Deployment") {
        return;
    }
    let containers = value
        .pointer_mut("/spec/template/spec/containers")
        .and_then(|c| c.as_array_mut());
    for container in containers.into_iter().flatten() {
        if let Some(current) = container.get_mut("image")
            && current.as_str().is_some_and(|i| upstream.contains(i))
        {
            *current = image.into();
        }
    }
}

/// A scenario not run on the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotOnCluster {
    pub name: String,
    pub file: String,
    pub reason: String,
}

/// `gwsim run --target cluster`: what ran, and what was skipped because a cluster cannot
/// express it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClusterReport {
    pub ran: RunReport,
    #[serde(rename = "notOnCluster")]
    pub not_on_cluster: Vec<NotOnCluster>,
    /// API calls per scenario run.
    #[serde(rename = "apiCalls")]
    pub api_calls: Vec<(String, u64)>,
}

impl ClusterReport {
    pub fn exit_code(&self) -> i32 {
        self.ran.exit_code()
    }

    /// As the in-memory report, then `skipped (cluster) NAME: reason` lines; the closing
    /// count includes them among the skipped.
    pub fn render_text(&self) -> String {
        let mut out = self.ran.render_scenarios();
        for s in &self.not_on_cluster {
            let _ = writeln!(out, "skipped (cluster) {}: {}", s.name, s.reason);
        }
        let closing = self
            .ran
            .summary
            .closing_line(self.not_on_cluster.len(), "a cluster");
        out.push_str(&closing);
        out
    }

    pub fn render_json(&self) -> String {
        gwsim_sim::runner::json_report(self)
    }
}

/// `gwsim run --target cluster`: the scenarios one after another on `target`.
pub fn run_scenarios_live(
    scenarios: &[Scenario],
    options: &RunOptions,
    target: &LiveTarget,
) -> ClusterReport {
    let mut runnable = Vec::new();
    let mut report = ClusterReport::default();
    for scenario in scenarios {
        if let Some(filter) = &options.filter
            && !scenario.name.contains(filter.as_str())
        {
            continue;
        }
        match cannot_run_on_cluster(scenario) {
            Some(reason) => report.not_on_cluster.push(NotOnCluster {
                name: scenario.name.clone(),
                file: scenario.file.clone(),
                reason,
            }),
            None => runnable.push(scenario.clone()),
        }
    }
    report.ran = RunReport::new(target.run_all(&runnable, options));
    report.api_calls = target.calls();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use gwsim_engine::load::Origin;

    fn doc(value: serde_json::Value) -> Document {
        Document {
            origin: Origin::new("t.yaml", 1, 1),
            value,
        }
    }

    #[test]
    fn echo_image_replaces_only_the_base_images() {
        let base = vec![doc(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "n"},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "upstream/echo:1"}]}}},
        }))];
        let upstream = echo_images(&base);
        assert_eq!(upstream.iter().collect::<Vec<_>>(), ["upstream/echo:1"]);
        let mut own = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "b"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "echo", "image": "upstream/echo:1"},
                {"name": "other", "image": "nginx"},
            ]}}},
        });
        set_echo_image(&mut own, &upstream, "mirror/echo:1");
        let containers = &own["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "mirror/echo:1");
        assert_eq!(containers[1]["image"], "nginx");
        // Not a Deployment: untouched.
        let mut pod = serde_json::json!({"kind": "Pod", "spec": {"template": {"spec": {"containers": [{"image": "upstream/echo:1"}]}}}});
        set_echo_image(&mut pod, &upstream, "mirror/echo:1");
        assert_eq!(
            pod["spec"]["template"]["spec"]["containers"][0]["image"],
            "upstream/echo:1"
        );
    }

    #[test]
    fn documents_are_keyed_as_the_cluster_files_them() {
        let route = doc(serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r"},
        }));
        assert_eq!(
            document_key(&route),
            Some(ObjectKey::new(Kind::HttpRoute, "default", "r"))
        );
        let class = doc(serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": "c", "namespace": "ignored"},
        }));
        assert_eq!(
            document_key(&class),
            Some(ObjectKey::new(Kind::GatewayClass, "", "c"))
        );
        assert_eq!(
            document_key(&doc(serde_json::json!({"kind": "Nope"}))),
            None
        );
    }
}
