//! Scenarios and the conformance suite on a real cluster (`--target cluster`).

use std::fmt::Write as _;
use std::sync::Mutex;

use gwsim_engine::load::Document;
use gwsim_engine::object::Kind;
use gwsim_sim::base::conformance_base;
use gwsim_sim::runner::{
    Failure, Outcome, RunError, RunOptions, RunReport, ScenarioResult, run_scenario,
};
use gwsim_sim::scenario::{Action, Base, Scenario};
use serde::Serialize;

use crate::LiveError;
use crate::cluster::{LiveCluster, MAX_ADVANCE, RunSettings};

/// The base's GatewayClass, which scenarios name in `gatewayClassName`.
const BASE_CLASS: &str = "gateway-conformance";

/// Scenarios that cannot run on a cluster, by name, with the reason; reported skipped.
pub const NOT_ON_CLUSTER: &[(&str, &str)] = &[];

/// Why `scenario` cannot run on a real cluster, if it cannot.
pub fn cannot_run_on_cluster(scenario: &Scenario) -> Option<String> {
    if let Some((_, why)) = NOT_ON_CLUSTER.iter().find(|(n, _)| *n == scenario.name) {
        return Some((*why).to_string());
    }
    for step in &scenario.steps {
        match &step.action {
            Action::Request { expect, .. } if !expect.mirrored_to.is_empty() => {
                return Some(format!(
                    "step {} checks mirrored requests, which needs the echo pods' request logs (not read on a cluster yet)",
                    step.number
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

/// A real cluster as the target of scenarios: one connection, scenarios one at a time (they
/// share the base's namespaces), each on a clean slate: what the previous one created is
/// deleted first.
pub struct LiveTarget {
    cluster: Mutex<LiveCluster>,
    class: String,
    base: Vec<Document>,
    /// API calls per scenario run, in run order.
    calls: Mutex<Vec<(String, u64)>>,
}

impl LiveTarget {
    /// Connects; `gateway_class` names the GatewayClass of the implementation under test
    /// (default: the base's own `gateway-conformance`, created with the base when the cluster
    /// has no class of that name, as against `gwsim serve --api`).
    pub fn new(
        settings: RunSettings,
        gateway_class: Option<&str>,
    ) -> Result<LiveTarget, LiveError> {
        let mut cluster = LiveCluster::connect(settings)?;
        let class = gateway_class.unwrap_or(BASE_CLASS).to_string();
        let base_docs = conformance_base().map_err(|e| RunError::Base(e.to_string()))?;
        let installed = cluster
            .fetch(&gwsim_engine::object::ObjectKey::new(
                Kind::GatewayClass,
                "",
                &class,
            ))
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
        Ok(LiveTarget {
            cluster: Mutex::new(cluster),
            class,
            base,
            calls: Mutex::new(Vec::new()),
        })
    }

    /// The controller under test (`spec.controllerName` of the class).
    pub fn controller_name(&self) -> String {
        self.cluster
            .lock()
            .map(|c| gwsim_sim::cluster::Cluster::controller_name(&*c).to_string())
            .unwrap_or_default()
    }

    /// API calls each scenario made (base, manifests, steps and the clean-up before it).
    pub fn calls(&self) -> Vec<(String, u64)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Deletes what the last scenario created (unless `--keep`).
    pub fn finish(self) -> Result<(), LiveError> {
        let mut cluster = self
            .cluster
            .into_inner()
            .map_err(|_| LiveError::Api("a scenario run panicked".into()))?;
        if cluster.settings().keep {
            return Ok(());
        }
        cluster.clean_up()
    }

    fn run_one(&self, scenario: &Scenario, options: &RunOptions) -> ScenarioResult {
        let seed = options.seed.unwrap_or(scenario.seed);
        let Ok(mut cluster) = self.cluster.lock() else {
            return failed(scenario, seed, "an earlier scenario run panicked".into());
        };
        let before = cluster.api_calls();
        if let Err(e) = cluster.clean_up() {
            return failed(
                scenario,
                seed,
                format!("cleaning up after the previous scenario: {e}"),
            );
        }
        let mut scenario = scenario.clone();
        rename_in_scenario(&mut scenario, &self.class);
        let base = match scenario.base {
            Base::Conformance => Some(self.base.as_slice()),
            Base::None => None,
        };
        let result = run_scenario(&scenario, &mut *cluster, base, seed);
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((scenario.name.clone(), cluster.api_calls() - before));
        }
        result
    }
}

impl gwsim_conformance::Target for LiveTarget {
    fn cannot_run(&self, scenario: &Scenario) -> Option<String> {
        cannot_run_on_cluster(scenario).map(|why| format!("(cluster) {why}"))
    }

    fn run(&self, scenario: &Scenario, options: &RunOptions) -> Result<ScenarioResult, RunError> {
        Ok(self.run_one(scenario, options))
    }
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
    for manifest in &mut scenario.manifests {
        for doc in &mut manifest.documents {
            rename_class(&mut doc.value, class);
        }
    }
    for step in &mut scenario.steps {
        if let Action::Apply { manifest, .. } = &mut step.action {
            for doc in &mut manifest.documents {
                rename_class(&mut doc.value, class);
            }
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
    let mut ran = Vec::new();
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
            None => ran.push(target.run_one(scenario, options)),
        }
    }
    report.ran = RunReport::new(ran);
    report.api_calls = target.calls();
    report
}
