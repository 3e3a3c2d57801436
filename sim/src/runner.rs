//! The scenario runner: runs loaded scenarios against a [`Cluster`] and reports.
//!
//! `gwsim run PATH...` is [`run_paths`] followed by [`RunReport::render_text`] (or
//! [`RunReport::render_json`]) and [`RunReport::exit_code`]; a [`RunError`] (a file that cannot
//! be read or parsed) exits 2. The runner is written against the [`Cluster`] trait only;
//! [`run_scenarios`] runs on the simulator, [`run_scenario`] on any cluster.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::load::{Document, LoadError, Origin};
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_engine::table::split_authority;
use serde::Serialize;

use crate::base::conformance_base;
use crate::checks::{Comparison, MirrorTally, Tally, check_response, check_status};
use crate::cluster::{
    ClientProtocol, Cluster, PresentedCertificate, RequestId, Response, SendError,
    websocket_handshake,
};
use crate::scenario::{
    Action, Base, Expect, ExpectedServerCertificate, MeshClient, PodChoice, RequestSpec, Scenario,
    ScenarioError, Step, load_paths,
};
use crate::sim::SimCluster;

/// How to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Overrides every scenario's `seed`.
    pub seed: Option<u64>,
    /// Runs only scenarios whose name contains this.
    pub filter: Option<String>,
}

/// A run that could not start: a file that cannot be read or parsed. Exit code 2.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("the built-in conformance base does not load: {0}")]
    Base(String),
}

impl RunError {
    /// The process exit code for this error: 2.
    pub fn exit_code(&self) -> i32 {
        2
    }
}

/// How one scenario ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed(Failure),
    /// The target lacks features the scenario needs. Not a pass.
    Skipped {
        missing_features: Vec<String>,
    },
}

/// Where and why a scenario failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    /// The failing step's number (from 1); `None` when the manifests failed.
    pub step: Option<usize>,
    /// The step's name or summary, or `manifests`.
    pub label: String,
    /// Line of the step in the scenario file.
    pub line: Option<usize>,
    pub message: String,
    /// Expected against actual, as a unified diff.
    pub diff: Option<String>,
    /// For a request: the routing explanation of the failing request.
    pub explanation: Option<String>,
}

/// How one step went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    Failed,
    NotRun,
}

/// One step in a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub number: usize,
    pub label: String,
    pub line: usize,
    pub status: StepStatus,
}

/// The result of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub file: String,
    pub upstream: Option<String>,
    pub features: Vec<String>,
    pub seed: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub steps: Vec<StepReport>,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }
}

/// Counts of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    /// `N passed, M failed, K skipped` and a newline. `not_run` scenarios, which cannot run
    /// on `target` (`the wire`, `a cluster`), count among the skipped, and the line says so.
    pub fn closing_line(&self, not_run: usize, target: &str) -> String {
        let counts = format!(
            "{} passed, {} failed, {} skipped",
            self.passed,
            self.failed,
            self.skipped + not_run
        );
        match not_run {
            0 => format!("{counts}\n"),
            n => format!("{counts} ({n} of them cannot run on {target})\n"),
        }
    }
}

/// A report as pretty JSON and a newline (an error object if it cannot be serialised).
pub fn json_report<T: Serialize>(report: &T) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("report not serialisable: {e}") }).to_string()
    });
    text.push('\n');
    text
}

/// The results of a run, in the order the scenarios were given.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunReport {
    pub scenarios: Vec<ScenarioResult>,
    pub summary: Summary,
}

impl RunReport {
    pub fn new(scenarios: Vec<ScenarioResult>) -> RunReport {
        let mut summary = Summary::default();
        for s in &scenarios {
            match s.outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed(_) => summary.failed += 1,
                Outcome::Skipped { .. } => summary.skipped += 1,
            }
        }
        RunReport { scenarios, summary }
    }

    /// 0 when nothing failed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.summary.failed == 0 { 0 } else { 1 }
    }

    /// One line per scenario, details of failures, and `N passed, M failed, K skipped`.
    pub fn render_text(&self) -> String {
        let mut out = self.render_scenarios();
        out.push_str(&self.summary.closing_line(0, ""));
        out
    }

    /// One line per scenario and details of failures, without the closing count.
    pub fn render_scenarios(&self) -> String {
        let mut out = String::new();
        for s in &self.scenarios {
            match &s.outcome {
                Outcome::Passed => {
                    let _ = writeln!(out, "ok       {}", s.name);
                }
                Outcome::Skipped { missing_features } => {
                    let noun = if missing_features.len() == 1 {
                        "feature"
                    } else {
                        "features"
                    };
                    let _ = writeln!(
                        out,
                        "skipped  {} (unsupported {noun}: {})",
                        s.name,
                        missing_features.join(", ")
                    );
                }
                Outcome::Failed(f) => {
                    let _ = writeln!(out, "FAILED   {} ({})", s.name, s.file);
                    render_failure(&mut out, s, f);
                }
            }
        }
        out
    }

    /// The report as JSON.
    pub fn render_json(&self) -> String {
        json_report(self)
    }
}

fn render_failure(out: &mut String, s: &ScenarioResult, f: &Failure) {
    let at = match (f.step, f.line) {
        (Some(n), Some(line)) => format!("step {n} (line {line}) \"{}\"", f.label),
        (Some(n), None) => format!("step {n} \"{}\"", f.label),
        (None, _) => f.label.clone(),
    };
    let _ = writeln!(out, "    {at}: {}", f.message);
    if let Some(diff) = &f.diff {
        for line in diff.lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
    if let Some(explanation) = &f.explanation {
        let _ = writeln!(out, "    routing explanation:");
        for line in explanation.lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
    let not_run: Vec<usize> = s
        .steps
        .iter()
        .filter(|st| st.status == StepStatus::NotRun)
        .map(|st| st.number)
        .collect();
    match not_run.as_slice() {
        [] => {}
        [one] => {
            let _ = writeln!(out, "    step {one} not run");
        }
        [first, .., last] => {
            let _ = writeln!(out, "    steps {first} to {last} not run");
        }
    }
}

/// Loads every scenario under `paths` and runs it on the simulator.
pub fn run_paths(paths: &[PathBuf], options: &RunOptions) -> Result<RunReport, RunError> {
    let scenarios = load_paths(paths)?;
    run_scenarios(&scenarios, options)
}

/// Runs scenarios on the simulator, each on a fresh cluster.
pub fn run_scenarios(scenarios: &[Scenario], options: &RunOptions) -> Result<RunReport, RunError> {
    let mut results = Vec::with_capacity(scenarios.len());
    for scenario in scenarios {
        if let Some(filter) = &options.filter
            && !scenario.name.contains(filter.as_str())
        {
            continue;
        }
        let seed = options.seed.unwrap_or(scenario.seed);
        let mut cluster = start_cluster(scenario.base, seed)?;
        results.push(run_scenario(scenario, &mut cluster, None, seed));
    }
    Ok(RunReport::new(results))
}

/// A fresh simulated cluster for a scenario: empty, or with the conformance base applied
/// (prepared once and cloned, so starting a scenario costs a copy).
pub fn start_cluster(base: Base, seed: u64) -> Result<SimCluster, RunError> {
    match base {
        Base::None => Ok(SimCluster::new(seed)),
        Base::Conformance => {
            static PREPARED: OnceLock<Result<SimCluster, String>> = OnceLock::new();
            let prepared = PREPARED.get_or_init(|| {
                let docs = conformance_base().map_err(|e: LoadError| e.to_string())?;
                let mut cluster = SimCluster::new(0);
                let refused: Vec<String> = cluster
                    .apply_documents(docs)
                    .into_iter()
                    .filter_map(|o| o.result.err().map(|e| format!("{}: {e}", o.origin)))
                    .collect();
                if refused.is_empty() {
                    Ok(cluster)
                } else {
                    Err(refused.join("; "))
                }
            });
            let mut cluster = prepared.clone().map_err(RunError::Base)?;
            cluster.reseed(seed);
            Ok(cluster)
        }
    }
}

/// What a run reports as it goes, for front ends that show it step by step (the terminal
/// UI keeps the cluster's state after each step). Every hook does nothing by default.
pub trait RunObserver<C: ?Sized> {
    /// The base and the scenario's manifests are applied; no step has run.
    fn started(&mut self, cluster: &C) {
        let _ = cluster;
    }

    /// One request of a request step was sent (a step with `count: n` sends n).
    fn request_sent(&mut self, cluster: &C, sent: SentRequest<'_>) {
        let _ = (cluster, sent);
    }

    /// A step ran: `failure` is why it failed, `None` when it passed.
    fn step_finished(&mut self, cluster: &C, step: &Step, failure: Option<&Failure>) {
        let _ = (cluster, step, failure);
    }
}

/// Observes nothing.
impl<C: ?Sized> RunObserver<C> for () {}

/// A request as the runner sent it, for [`RunObserver::request_sent`].
#[derive(Clone, Copy, Debug)]
pub struct SentRequest<'a> {
    /// The step that sent it.
    pub step: &'a Step,
    pub id: RequestId,
    /// With the Gateway and Host resolved.
    pub request: &'a Request,
    pub response: &'a Result<Response, SendError>,
}

/// Runs one scenario on `cluster`. `base`, when given, is applied first (a cluster that does
/// not come prepared with the scenario's base).
pub fn run_scenario<C: Cluster + ?Sized>(
    scenario: &Scenario,
    cluster: &mut C,
    base: Option<&[Document]>,
    seed: u64,
) -> ScenarioResult {
    run_scenario_observed(scenario, cluster, base, seed, &mut ())
}

/// [`run_scenario`], telling `observer` about each step and request as it happens.
pub fn run_scenario_observed<C: Cluster + ?Sized, O: RunObserver<C> + ?Sized>(
    scenario: &Scenario,
    cluster: &mut C,
    base: Option<&[Document]>,
    seed: u64,
    observer: &mut O,
) -> ScenarioResult {
    let mut result = ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        upstream: scenario.upstream.clone(),
        features: scenario.features.clone(),
        seed,
        outcome: Outcome::Passed,
        steps: scenario
            .steps
            .iter()
            .map(|s| StepReport {
                number: s.number,
                label: s.label(),
                line: s.line,
                status: StepStatus::NotRun,
            })
            .collect(),
    };

    if let Some(ranges) = &scenario.network
        && let Err(e) = cluster.declare_network(ranges)
    {
        result.outcome = Outcome::Failed(Failure {
            step: None,
            label: "network".to_string(),
            line: None,
            message: e.to_string(),
            diff: None,
            explanation: None,
        });
        return result;
    }
    let mut refused: Vec<String> = Vec::new();
    if let Some(docs) = base {
        refused.extend(refusals(&cluster.apply(docs)));
    }
    for manifest in &scenario.manifests {
        refused.extend(refusals(&cluster.apply(&manifest.documents)));
    }

    // Skipping comes first: a target without a feature may well refuse its manifests.
    let supported = cluster.supported_features();
    let missing: Vec<String> = scenario
        .features
        .iter()
        .filter(|f| !supported.contains(*f))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() {
        result.outcome = Outcome::Skipped {
            missing_features: missing,
        };
        return result;
    }
    observer.started(cluster);
    if !refused.is_empty() {
        result.outcome = Outcome::Failed(Failure {
            step: None,
            label: "manifests".to_string(),
            line: None,
            message: format!("a manifest was refused: {}", refused.join("; ")),
            diff: None,
            explanation: None,
        });
        return result;
    }

    let mut runner = StepRunner {
        cluster,
        next_id: 0,
        observer,
    };
    for (i, step) in scenario.steps.iter().enumerate() {
        match runner.run(step) {
            Ok(()) => {
                result.steps[i].status = StepStatus::Passed;
                runner.observer.step_finished(runner.cluster, step, None);
            }
            Err(failure) => {
                result.steps[i].status = StepStatus::Failed;
                let failure = Failure {
                    step: Some(step.number),
                    label: step.label(),
                    line: Some(step.line),
                    message: failure.message,
                    diff: failure.diff,
                    explanation: failure.explanation,
                };
                runner
                    .observer
                    .step_finished(runner.cluster, step, Some(&failure));
                result.outcome = Outcome::Failed(failure);
                break;
            }
        }
    }
    result
}

fn refusals(outcomes: &[crate::cluster::ApplyOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|e| format!("{}: {e}", o.origin))
        })
        .collect()
}

struct StepRunner<'a, C: Cluster + ?Sized, O: RunObserver<C> + ?Sized> {
    cluster: &'a mut C,
    next_id: u64,
    observer: &'a mut O,
}

/// How a step failed, before the step's identity is added.
#[derive(Debug)]
struct StepFailure {
    message: String,
    diff: Option<String>,
    explanation: Option<String>,
}

fn fail(message: impl Into<String>) -> StepFailure {
    StepFailure {
        message: message.into(),
        diff: None,
        explanation: None,
    }
}

impl<C: Cluster + ?Sized, O: RunObserver<C> + ?Sized> StepRunner<'_, C, O> {
    fn run(&mut self, step: &Step) -> Result<(), StepFailure> {
        let _span = tracing::debug_span!("step", number = step.number).entered();
        match &step.action {
            Action::Apply {
                manifest,
                expect_error,
            } => {
                let outcomes = self.cluster.apply(&manifest.documents);
                let refused = refusals(&outcomes);
                match expect_error {
                    None if refused.is_empty() => Ok(()),
                    None => Err(fail(format!("refused: {}", refused.join("; ")))),
                    Some(text) => {
                        if refused.iter().any(|r| r.contains(text.as_str())) {
                            return Ok(());
                        }
                        let mut c = Comparison::new();
                        let actual = if refused.is_empty() {
                            "(no document was refused)".to_string()
                        } else {
                            refused.join("\n  ")
                        };
                        c.field(
                            "refusal",
                            &format!("a message containing {text:?}"),
                            &actual,
                            false,
                        );
                        Err(StepFailure {
                            diff: Some(c.diff()),
                            ..fail(if refused.is_empty() {
                                "expected a refusal, but every document was accepted".to_string()
                            } else {
                                format!("no refusal contains {text:?}")
                            })
                        })
                    }
                }
            }
            Action::Delete { target } => match target.key() {
                Some(key) => self.cluster.delete(&key).map_err(|e| fail(e.to_string())),
                None => Err(fail(format!(
                    "kind {} is not known to this cluster",
                    target.kind
                ))),
            },
            Action::Advance { by } => {
                self.cluster.advance(*by);
                Ok(())
            }
            Action::FillEndpoints {
                namespace,
                endpoint_slice,
                pod_selector,
            } => {
                let slice = fill_endpoints(&*self.cluster, namespace, endpoint_slice, pod_selector)
                    .map_err(fail)?;
                let doc = Document {
                    origin: Origin::new(
                        format!("fillEndpoints {namespace}/{endpoint_slice}"),
                        1,
                        1,
                    ),
                    value: slice,
                };
                let refused = refusals(&self.cluster.apply(std::slice::from_ref(&doc)));
                if refused.is_empty() {
                    Ok(())
                } else {
                    Err(fail(format!("refused: {}", refused.join("; "))))
                }
            }
            Action::Request { request, expect } => {
                let streak = self.cluster.patience().request_streak;
                self.patiently(streak, |runner| runner.request(step, request, expect))
            }
            Action::Connect { connect, expect } => {
                let streak = self.cluster.patience().request_streak;
                self.patiently(streak, |runner| runner.connections(connect, expect))
            }
            Action::Status { checks } => self.patiently(1, |runner| {
                let mut all = Comparison::new();
                let mut failed: Vec<String> = Vec::new();
                for check in checks {
                    let c = check_status(check, &*runner.cluster);
                    if !c.passed() {
                        failed.push(check.target.to_string());
                    }
                    all.merge(c);
                }
                if failed.is_empty() {
                    Ok(())
                } else {
                    Err(StepFailure {
                        diff: Some(all.diff()),
                        ..fail(format!("status does not match: {}", failed.join(", ")))
                    })
                }
            }),
        }
    }

    /// Tries `attempt` until it passes `streak` times in a row, or the cluster's patience
    /// runs out (then the last failure, saying how long it waited). With the simulator's
    /// patience this is one call of `attempt`, and its failure unchanged.
    fn patiently(
        &mut self,
        streak: u32,
        mut attempt: impl FnMut(&mut Self) -> Result<(), StepFailure>,
    ) -> Result<(), StepFailure> {
        let patience = self.cluster.patience();
        let streak = streak.max(1);
        let (mut tries, mut in_a_row) = (0u32, 0u32);
        let (mut waited, mut pause) = (std::time::Duration::ZERO, patience.first_pause);
        let mut last_failure: Option<StepFailure> = None;
        loop {
            tries += 1;
            match attempt(self) {
                Ok(()) => {
                    in_a_row += 1;
                    if in_a_row >= streak {
                        return Ok(());
                    }
                }
                Err(failure) => {
                    in_a_row = 0;
                    last_failure = Some(failure);
                }
            }
            if waited >= patience.timeout {
                let mut failure = last_failure.unwrap_or_else(|| {
                    fail("every try passed, but not enough of them in a row before the timeout")
                });
                if tries > 1 {
                    let needed = if streak > 1 {
                        format!("; {streak} passes in a row needed, the last {in_a_row} passed")
                    } else {
                        String::new()
                    };
                    let _ = write!(
                        failure.message,
                        " (the last of {tries} tries, over {} of waiting{needed})",
                        seconds(waited)
                    );
                }
                return Err(failure);
            }
            // Failing tries back off. Passing ones are spaced by the first pause when the
            // cluster was consistent from the first try, and otherwise by the pause the
            // backoff reached, so that a cluster that took a while to converge shows it stays
            // converged over a comparable time.
            let next = if in_a_row > 0 && in_a_row == tries {
                patience.first_pause
            } else {
                pause
            };
            self.cluster.pause(next);
            waited += next;
            if in_a_row == 0 {
                pause = (pause * 2).min(patience.max_pause);
            }
        }
    }

    /// The Gateway a request goes to: the named one, or the only one.
    fn gateway(&self, spec: &RequestSpec) -> Result<ObjectKey, StepFailure> {
        match &spec.gateway {
            Some((ns, name)) => {
                let key = ObjectKey::new(Kind::Gateway, ns, name);
                if self.cluster.get(&key).is_none() {
                    return Err(fail(format!("Gateway {ns}/{name} not found")));
                }
                Ok(key)
            }
            None => {
                let gateways = self.cluster.list(Kind::Gateway);
                match gateways.as_slice() {
                    [one] => Ok(one.clone()),
                    [] => Err(fail("no Gateway to send the request to")),
                    many => Err(fail(format!(
                        "several Gateways ({}); name one with request.gateway",
                        many.iter()
                            .map(ObjectKey::namespaced_name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))),
                }
            }
        }
    }

    /// The request a Gateway gets: its address as the default Host, the SNI for https.
    fn gateway_request(&self, spec: &RequestSpec) -> Result<Request, StepFailure> {
        let gateway = self.gateway(spec)?;
        let host = match &spec.host {
            Some(host) => host.clone(),
            None => self
                .cluster
                .get(&gateway)
                .and_then(|g| {
                    g.pointer("/status/addresses/0/value")
                        .and_then(|v| v.as_str())
                        .map(String::from)
                })
                .ok_or_else(|| {
                    fail(format!(
                        "Gateway {} has no address in status.addresses; give request.host",
                        gateway.namespaced_name()
                    ))
                })?,
        };
        let sni = match spec.scheme {
            Scheme::Http => None,
            Scheme::Https => Some(spec.sni.clone().unwrap_or_else(|| host_without_port(&host))),
        };
        Ok(Request {
            gateway: Some(gateway),
            scheme: spec.scheme,
            port: spec.port.unwrap_or(spec.scheme.default_port()),
            method: spec.method.clone(),
            host,
            path: spec.path.clone(),
            headers: spec.headers.clone(),
            sni,
        })
    }

    /// The request a pod sends through the mesh (`request.from`), and the pod: `host` names
    /// the destination and is the Host header unless `headers` gives one (as upstream's mesh
    /// client's `-H Host:` does).
    fn mesh_request(
        &self,
        spec: &RequestSpec,
        from: &MeshClient,
    ) -> Result<(Request, ObjectKey, String), StepFailure> {
        let pod = mesh_client_pod(&*self.cluster, from, "request.from").map_err(fail)?;
        let authority = match &spec.to_pod {
            Some(to) => {
                let target =
                    mesh_client_pod(&*self.cluster, &to.pod, "request.toPod").map_err(fail)?;
                let ip = self
                    .cluster
                    .get(&target)
                    .and_then(|p| {
                        p.pointer("/status/podIP")
                            .and_then(|v| v.as_str())
                            .map(String::from)
                    })
                    .ok_or_else(|| {
                        fail(format!(
                            "request.toPod: pod {} has no address (status.podIP)",
                            target.namespaced_name()
                        ))
                    })?;
                if ip.contains(':') {
                    format!("[{ip}]:{}", to.port)
                } else {
                    format!("{ip}:{}", to.port)
                }
            }
            None => spec.host.clone().unwrap_or_default(),
        };
        let (_, port) = split_authority(&authority).map_err(fail)?;
        let mut headers = spec.headers.clone();
        let host = match headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            Some(at) => headers.remove(at).1,
            None => authority.clone(),
        };
        let request = Request {
            gateway: None,
            scheme: Scheme::Http,
            port,
            method: spec.method.clone(),
            host,
            path: spec.path.clone(),
            headers,
            sni: None,
        };
        Ok((request, pod, authority))
    }

    fn request(
        &mut self,
        step: &Step,
        spec: &RequestSpec,
        expect: &Expect,
    ) -> Result<(), StepFailure> {
        let client_certificate = spec
            .client_certificate
            .as_ref()
            .map(|(namespace, name)| crate::tls::secret_key(namespace, name));
        let (request, mesh_client) = match &spec.from {
            Some(from) => {
                let (request, pod, authority) = self.mesh_request(spec, from)?;
                (request, Some((pod, authority)))
            }
            None => (self.gateway_request(spec)?, None),
        };
        // The explanation is of the request as it went on the wire (a WebSocket client adds
        // its upgrade headers, which routes can match).
        let explained = match spec.protocol {
            ClientProtocol::WebSocket => Cow::Owned(websocket_handshake(&request)),
            ClientProtocol::Http1
            | ClientProtocol::H2c
            | ClientProtocol::H2
            | ClientProtocol::Grpc => Cow::Borrowed(&request),
        };
        let mut tally = Tally::default();
        let mut mirrors = MirrorTally::default();
        for n in 0..spec.count {
            self.next_id += 1;
            let id = RequestId(self.next_id);
            let sent = match &mesh_client {
                Some((pod, authority)) => {
                    self.cluster
                        .send_from_pod(pod, authority, &request, spec.protocol, id)
                }
                None => self.cluster.send_with_certificate(
                    &request,
                    spec.protocol,
                    &spec.messages,
                    id,
                    client_certificate.as_ref(),
                ),
            };
            self.observer.request_sent(
                self.cluster,
                SentRequest {
                    step,
                    id,
                    request: &request,
                    response: &sent,
                },
            );
            if expect.handshake_fails {
                match sent {
                    Err(SendError::HandshakeFailed(_)) => continue,
                    Ok(response) => {
                        return Err(StepFailure {
                            explanation: self.cluster.explain_last(&explained),
                            ..fail(format!(
                                "expected the TLS handshake to fail, but it succeeded and the Gateway answered {}",
                                response.status
                            ))
                        });
                    }
                    Err(e) => {
                        return Err(fail(format!(
                            "expected the TLS handshake to fail, but the request failed otherwise: {e}"
                        )));
                    }
                }
            }
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    return Err(StepFailure {
                        explanation: self.cluster.explain_last(&explained),
                        ..fail(e.to_string())
                    });
                }
            };
            if let Some(expected) = &expect.server_certificate {
                check_server_certificate(expected, self.cluster.last_server_certificate())?;
            }
            let c = check_response(expect, &response, &request, &*self.cluster, id);
            if !c.passed() {
                let which = if spec.count > 1 {
                    format!("response {} of {}", n + 1, spec.count)
                } else {
                    "the response".to_string()
                };
                return Err(StepFailure {
                    diff: Some(c.diff()),
                    explanation: self.cluster.explain_last(&explained),
                    ..fail(format!(
                        "{which} does not match expect ({})",
                        c.failed_fields().join(", ")
                    ))
                });
            }
            tally.add(&response);
            mirrors.add(expect, id);
        }
        let c = mirrors.check(expect, &*self.cluster);
        if !c.passed() {
            return Err(StepFailure {
                diff: Some(c.diff()),
                explanation: self.cluster.explain_last(&explained),
                ..fail(format!(
                    "mirrored share over {} requests is off ({})",
                    spec.count,
                    c.failed_fields().join(", ")
                ))
            });
        }
        if let Some(expected) = &expect.distribution {
            let c = tally.check(expected, expect.tolerance);
            if !c.passed() {
                return Err(StepFailure {
                    diff: Some(c.diff()),
                    explanation: self.cluster.explain_last(&explained),
                    ..fail(format!(
                        "distribution over {} requests is off ({})",
                        spec.count,
                        c.failed_fields().join(", ")
                    ))
                });
            }
        }
        Ok(())
    }
}

/// The pod `from` names: by name, or the first pod (key order) of the namespace carrying
/// every label given, as upstream's mesh tests pick their client. Works on any cluster.
fn mesh_client_pod<C: Cluster + ?Sized>(
    cluster: &C,
    from: &MeshClient,
    key: &str,
) -> Result<ObjectKey, String> {
    let in_namespace = cluster
        .list(Kind::Pod)
        .into_iter()
        .filter(|k| k.namespace == from.namespace);
    match &from.pod {
        PodChoice::Name(name) => in_namespace
            .into_iter()
            .find(|k| &k.name == name)
            .ok_or_else(|| format!("{key}: no {from}")),
        PodChoice::Labels(labels) => in_namespace
            .into_iter()
            .find(|k| {
                cluster.get(k).is_some_and(|pod| {
                    labels.iter().all(|(key, value)| {
                        pod.pointer("/metadata/labels")
                            .and_then(|l| l.get(key))
                            .and_then(|v| v.as_str())
                            == Some(value.as_str())
                    })
                })
            })
            .ok_or_else(|| format!("{key}: no pod, looking for {from}")),
    }
}

/// `expect.serverCertificate`: the DNS names of what the Gateway presented, in any order.
fn check_server_certificate(
    expected: &ExpectedServerCertificate,
    presented: Option<PresentedCertificate>,
) -> Result<(), StepFailure> {
    let Some(presented) = presented else {
        return Err(fail(
            "expect.serverCertificate: this cluster did not report the certificate the Gateway presented",
        ));
    };
    let mut want = expected.dns_names.clone();
    let mut got = presented.dns_names.clone();
    want.sort();
    got.sort();
    if want != got {
        return Err(fail(format!(
            "the Gateway presented a certificate for {:?}, expected one for {:?} (serverCertificate.dnsNames)",
            presented.dns_names, expected.dns_names
        )));
    }
    Ok(())
}

/// `1.5 s`, `30 s`: a wait as failures report it.
fn seconds(d: std::time::Duration) -> String {
    format!("{} s", (d.as_millis() as f64 / 100.0).round() / 10.0)
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
fn host_without_port(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h.to_string(),
        _ => host.to_string(),
    }
}

/// The EndpointSlice `namespace/name` with its endpoints replaced by the ready pods of
/// `namespace` whose labels include `selector`, with addresses of the slice's `addressType`
/// (the pods' `status.podIPs` of that family) and a Pod targetRef each, in pod name order.
/// Works on any cluster through the trait: it reads objects and returns the document to apply.
fn fill_endpoints<C: Cluster + ?Sized>(
    cluster: &C,
    namespace: &str,
    slice_name: &str,
    selector: &std::collections::BTreeMap<String, String>,
) -> Result<serde_json::Value, String> {
    let slice_key = ObjectKey::new(Kind::EndpointSlice, namespace, slice_name);
    let mut slice = cluster
        .get(&slice_key)
        .ok_or_else(|| format!("EndpointSlice {namespace}/{slice_name} does not exist"))?;
    let family = slice
        .get("addressType")
        .and_then(|t| t.as_str())
        .unwrap_or("IPv4")
        .to_string();
    let wants = |ip: &str| match family.as_str() {
        "IPv6" => ip.contains(':'),
        _ => ip.contains('.') && !ip.contains(':'),
    };
    let mut endpoints = Vec::new();
    for key in cluster.list(Kind::Pod) {
        if key.namespace != namespace {
            continue;
        }
        let Some(pod) = cluster.get(&key) else {
            continue;
        };
        let labels = pod.pointer("/metadata/labels");
        let selected = selector.iter().all(|(k, v)| {
            labels
                .and_then(|l| l.get(k))
                .and_then(|x| x.as_str())
                .is_some_and(|x| x == v)
        });
        let ready = pod
            .pointer("/status/conditions")
            .and_then(|c| c.as_array())
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.get("type") == Some(&"Ready".into())
                        && c.get("status") == Some(&"True".into())
                })
            });
        if !selected || !ready {
            continue;
        }
        let addresses: Vec<serde_json::Value> = pod
            .pointer("/status/podIPs")
            .and_then(|ips| ips.as_array())
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.get("ip").and_then(|i| i.as_str()))
            .filter(|ip| wants(ip))
            .map(|ip| serde_json::Value::from(ip.to_string()))
            .collect();
        if addresses.is_empty() {
            continue;
        }
        endpoints.push(serde_json::json!({
            "addresses": addresses,
            "conditions": {"ready": true},
            "targetRef": {"kind": "Pod", "namespace": namespace, "name": key.name},
        }));
    }
    if endpoints.is_empty() {
        return Err(format!(
            "no ready pod in {namespace} matches {selector:?} with an {family} address"
        ));
    }
    if let Some(map) = slice.as_object_mut() {
        map.remove("status");
        map.insert("endpoints".into(), serde_json::Value::Array(endpoints));
    }
    Ok(slice)
}

impl<C: Cluster + ?Sized, O: RunObserver<C> + ?Sized> StepRunner<'_, C, O> {
    /// Opens a `connect` step's connections, checking each one, then their distribution.
    fn connections(
        &mut self,
        connect: &crate::connect::ConnectSpec,
        expect: &crate::scenario::ConnectExpect,
    ) -> Result<(), StepFailure> {
        let mut tally = crate::checks::Tally::default();
        for i in 0..connect.count {
            let result = self
                .cluster
                .connect(connect)
                .map_err(|e| fail(e.to_string()))?;
            check_connection(&*self.cluster, &result, expect).map_err(|why| {
                fail(if connect.count > 1 {
                    format!("connection {} of {}: {why}", i + 1, connect.count)
                } else {
                    why
                })
            })?;
            tally.add_answer(match &result {
                crate::connect::ConnectionResult::Echoed(echo) => Some(echo.pod.as_str()),
                crate::connect::ConnectionResult::Reset(_) => None,
            });
        }
        if let Some(expected) = &expect.distribution {
            let c = tally.check(expected, expect.tolerance);
            if !c.passed() {
                return Err(StepFailure {
                    diff: Some(c.diff()),
                    ..fail(format!(
                        "distribution over {} connections is off ({})",
                        connect.count,
                        c.failed_fields().join(", ")
                    ))
                });
            }
        }
        Ok(())
    }
}

/// Compares a connection's result with its step's expectations; the first difference, in
/// words, or `Ok`.
fn check_connection<C: Cluster + ?Sized>(
    cluster: &C,
    result: &crate::connect::ConnectionResult,
    expect: &crate::scenario::ConnectExpect,
) -> Result<(), String> {
    use crate::connect::ConnectionResult;
    let echo = match result {
        ConnectionResult::Reset(why) => {
            let wanted_answer = expect.reset == Some(false)
                || expect.backend.is_some()
                || expect.namespace.is_some()
                || expect.tls.is_some()
                || expect.sni.is_some()
                || expect.server_certificate.is_some();
            return if wanted_answer {
                Err(format!(
                    "connection reset, expected an echo backend to answer: {why}"
                ))
            } else {
                Ok(())
            };
        }
        ConnectionResult::Echoed(echo) => echo,
    };
    if expect.reset == Some(true) {
        return Err(format!(
            "expected the connection to be reset, but pod {}/{} answered",
            echo.namespace, echo.pod
        ));
    }
    let mut problems = Vec::new();
    if let Some(namespace) = &expect.namespace
        && namespace != &echo.namespace
    {
        problems.push(format!(
            "namespace: expected {namespace}, got {} (pod {})",
            echo.namespace, echo.pod
        ));
    }
    if let Some(backend) = &expect.backend {
        let services = cluster.services_of_pod(&echo.namespace, &echo.pod);
        if !services.iter().any(|s| s == backend) {
            problems.push(format!(
                "backend: expected {backend}, got pod {}/{} of {}",
                echo.namespace,
                echo.pod,
                if services.is_empty() {
                    "no Service".to_string()
                } else {
                    services.join(", ")
                }
            ));
        }
    }
    if let Some(tls) = expect.tls
        && tls != echo.tls
    {
        problems.push(format!(
            "connection.tls: expected {tls}, the backend reported IS_TLS {}",
            echo.tls
        ));
    }
    if let Some(sni) = &expect.sni {
        let seen = echo.sni.as_deref().unwrap_or("");
        if sni != seen {
            problems.push(format!(
                "connection.sni: expected {sni:?}, the backend saw {seen:?}"
            ));
        }
    }
    if let Some(cert) = &expect.server_certificate {
        let mut want = cert.dns_names.clone();
        want.sort();
        let mut got = echo
            .server_certificate
            .as_ref()
            .map(|c| c.dns_names.clone())
            .unwrap_or_default();
        got.sort();
        if want != got {
            problems.push(format!(
                "serverCertificate.dnsNames: expected {}, the client was shown {}",
                want.join(", "),
                got.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
