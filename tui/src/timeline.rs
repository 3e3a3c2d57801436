//! A run kept step by step: the state after each step (resource tree, routing table) and
//! every request sent with its decision, so that stepping back and forth is a lookup.
//!
//! A scenario is run once, up front, on a [`SimCluster`] through the runner's
//! [`RunObserver`] hooks: the same run `gwsim run` makes. With `-f PATH`, each load of the
//! files is a frame of its own.

use std::path::{Path, PathBuf};

use gwsim_engine::decision::{Decision, Outcome, Request};
use gwsim_engine::table::RoutingTable;
use gwsim_sim::cluster::{RequestId, Response};
use gwsim_sim::inputs::Inputs;
use gwsim_sim::runner::{
    self, Failure, RunObserver, SentRequest, StepStatus, run_scenario_observed, start_cluster,
};
use gwsim_sim::scenario::{Scenario, Step};
use gwsim_sim::{RunError, SimCluster};

use crate::tree::{Health, ResourceTree};

/// How a frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameStatus {
    Passed,
    Failed,
    /// The scenario needs features the simulator lacks.
    Skipped,
    /// Files loaded (`-f PATH`): nothing to pass or fail.
    Loaded,
}

/// The state after one step.
#[derive(Clone, Debug)]
pub struct Frame {
    /// 0 for the state before the first step, else the step's number (or the load's).
    pub number: usize,
    pub label: String,
    /// The step's line in the scenario file.
    pub line: Option<usize>,
    pub status: FrameStatus,
    /// Why the step failed (or was skipped).
    pub failure: Option<Failure>,
    /// Virtual time, `+5.000s`, for scenario frames.
    pub time: Option<String>,
    pub tree: ResourceTree,
    pub table: RoutingTable,
    /// `Timeline::requests[..requests_end]` had been sent by the end of this step.
    pub requests_end: usize,
}

impl Frame {
    fn capture(cluster: &SimCluster, number: usize, label: String, requests_end: usize) -> Frame {
        Frame {
            number,
            label,
            line: None,
            status: FrameStatus::Passed,
            failure: None,
            time: Some(cluster.now().to_string()),
            tree: ResourceTree::build(cluster.snapshot(), cluster.table()),
            table: cluster.table().clone(),
            requests_end,
        }
    }

    /// A frame of files loaded from disk: refused and ignored documents are listed in the tree.
    pub fn from_inputs(inputs: &Inputs, number: usize, label: String) -> Frame {
        let mut tree = ResourceTree::build(&inputs.snapshot, &inputs.table);
        let rejected: Vec<(String, Vec<String>)> = inputs
            .rejected
            .iter()
            .map(|(origin, r)| {
                let label = format!("{} {} {}", short_origin(origin), r.kind, r.name);
                (label, vec![r.to_string(), origin.to_string()])
            })
            .collect();
        tree.add_section("refused documents", Health::Bad, &rejected);
        let ignored: Vec<(String, Vec<String>)> = inputs
            .ignored
            .iter()
            .map(|(origin, what)| {
                let label = format!("{} {what}", short_origin(origin));
                let why = format!("{what}: a kind gwsim does not model");
                (label, vec![why, origin.to_string()])
            })
            .collect();
        tree.add_section("ignored documents", Health::Unknown, &ignored);
        Frame {
            number,
            label,
            line: None,
            status: FrameStatus::Loaded,
            failure: None,
            time: None,
            tree,
            table: inputs.table.clone(),
            requests_end: 0,
        }
    }
}

/// `routes.yaml:21`: the file's name and the document's line, for narrow panes.
fn short_origin(origin: &gwsim_engine::load::Origin) -> String {
    let name = Path::new(&origin.source).file_name().map_or_else(
        || origin.source.clone(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!("{name}:{}", origin.line)
}

/// A request a scenario step sent.
#[derive(Clone, Debug)]
pub struct SentRecord {
    pub id: RequestId,
    /// The frame of the step that sent it.
    pub frame: usize,
    pub request: Request,
    /// The response status; `None` when the connection was refused.
    pub status: Option<u16>,
    /// Who answered, in a word or two: the backend's Service, `gateway`, `redirect`, `refused`.
    pub answered_by: String,
    /// More about it: the pod that answered, the gateway's reason, where a redirect points,
    /// why the connection was refused.
    pub detail: String,
    pub decision: Decision,
    /// Set on the last request of a step that failed: why.
    pub failure: Option<String>,
}

/// Where the frames came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Scenario {
        name: String,
        file: String,
        description: String,
    },
    Files {
        paths: Vec<PathBuf>,
    },
}

/// Every frame of a run.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub origin: Origin,
    /// Seed of the run, and of the Ask pane's random source.
    pub seed: u64,
    pub frames: Vec<Frame>,
    /// Steps that did not run after a failure: `(number, label)`.
    pub not_run: Vec<(usize, String)>,
    pub requests: Vec<SentRecord>,
}

/// Records frames and requests as the runner reports them.
#[derive(Default)]
struct Recorder {
    frames: Vec<Frame>,
    requests: Vec<SentRecord>,
}

impl RunObserver<SimCluster> for Recorder {
    fn started(&mut self, cluster: &SimCluster) {
        let label = "manifests applied".to_string();
        self.frames
            .push(Frame::capture(cluster, 0, label, self.requests.len()));
    }

    fn request_sent(&mut self, cluster: &SimCluster, sent: SentRequest<'_>) {
        let decision = cluster.decide_last(sent.request);
        let (status, (answered_by, detail)) = match sent.response {
            Ok(response) => (Some(response.status), answered_by(response, &decision)),
            Err(e) => (None, ("refused".to_string(), e.to_string())),
        };
        self.requests.push(SentRecord {
            id: sent.id,
            frame: self.frames.len(),
            request: sent.request.clone(),
            status,
            answered_by,
            detail,
            decision,
            failure: None,
        });
    }

    fn step_finished(&mut self, cluster: &SimCluster, step: &Step, failure: Option<&Failure>) {
        let frame_index = self.frames.len();
        let mut frame = Frame::capture(cluster, step.number, step.label(), self.requests.len());
        frame.line = Some(step.line);
        if let Some(failure) = failure {
            frame.status = FrameStatus::Failed;
            frame.failure = Some(failure.clone());
            if let Some(last) = self.requests.last_mut()
                && last.frame == frame_index
            {
                last.failure = Some(failure.message.clone());
            }
        }
        self.frames.push(frame);
    }
}

/// Who answered a response, short and long.
fn answered_by(response: &Response, decision: &Decision) -> (String, String) {
    if let Some(echo) = &response.echo {
        return (
            echo.service.clone(),
            format!("pod {}/{}", echo.namespace, echo.pod),
        );
    }
    match &decision.outcome {
        Outcome::Redirect { location, .. } => {
            ("redirect".to_string(), format!("redirect to {location}"))
        }
        Outcome::Respond { reason, .. } => {
            ("gateway".to_string(), format!("the gateway: {reason}"))
        }
        Outcome::Forward(f) => (
            f.backend.name.clone(),
            format!(
                "Service {}/{}: no pod answered",
                f.backend.namespace, f.backend.name
            ),
        ),
        Outcome::ConnectionRefused => ("refused".to_string(), "connection refused".to_string()),
    }
}

/// A scenario file that cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{file} holds {count} scenarios; give a file with one")]
    NotOne { file: String, count: usize },
}

impl Timeline {
    /// Loads the one scenario of `path` and runs it.
    pub fn from_scenario_file(path: &Path) -> Result<Timeline, TimelineError> {
        let mut scenarios = gwsim_sim::load_paths(&[path.to_path_buf()]).map_err(RunError::from)?;
        if scenarios.len() != 1 {
            return Err(TimelineError::NotOne {
                file: path.display().to_string(),
                count: scenarios.len(),
            });
        }
        Ok(Timeline::from_scenario(&scenarios.remove(0))?)
    }

    /// Runs a scenario on a fresh simulated cluster, keeping every step.
    pub fn from_scenario(scenario: &Scenario) -> Result<Timeline, RunError> {
        let mut cluster = start_cluster(scenario.base, scenario.seed)?;
        let mut recorder = Recorder::default();
        let result =
            run_scenario_observed(scenario, &mut cluster, None, scenario.seed, &mut recorder);
        let Recorder {
            mut frames,
            requests,
        } = recorder;
        if frames.is_empty() {
            // Skipped before any step: show the state the manifests made.
            frames.push(Frame::capture(
                &cluster,
                0,
                "manifests applied".to_string(),
                0,
            ));
        }
        match &result.outcome {
            runner::Outcome::Failed(failure) if failure.step.is_none() => {
                frames[0].status = FrameStatus::Failed;
                frames[0].failure = Some(failure.clone());
            }
            runner::Outcome::Skipped { missing_features } => {
                frames[0].status = FrameStatus::Skipped;
                frames[0].failure = Some(Failure {
                    step: None,
                    label: "features".to_string(),
                    line: None,
                    message: format!("skipped: unsupported {}", missing_features.join(", ")),
                    diff: None,
                    explanation: None,
                });
            }
            _ => {}
        }
        let not_run = result
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::NotRun)
            .map(|s| (s.number, s.label.clone()))
            .collect();
        Ok(Timeline {
            origin: Origin::Scenario {
                name: scenario.name.clone(),
                file: scenario.file.clone(),
                description: scenario.description.clone(),
            },
            seed: scenario.seed,
            frames,
            not_run,
            requests,
        })
    }

    /// A timeline of files: one frame per load.
    pub fn from_files(paths: Vec<PathBuf>, inputs: &Inputs) -> Timeline {
        Timeline {
            origin: Origin::Files { paths },
            seed: 0,
            frames: vec![Frame::from_inputs(inputs, 1, "loaded".to_string())],
            not_run: Vec::new(),
            requests: Vec::new(),
        }
    }

    /// The first failed frame at or after `from`, wrapping around.
    pub fn next_failure(&self, from: usize) -> Option<usize> {
        let n = self.frames.len();
        (0..n)
            .map(|i| (from + i) % n)
            .find(|&i| self.frames[i].status == FrameStatus::Failed)
    }

    /// Requests sent by the end of frame `index`.
    pub fn sent_by(&self, index: usize) -> &[SentRecord] {
        let end = self.frames.get(index).map_or(0, |f| f.requests_end);
        &self.requests[..end.min(self.requests.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str) -> Timeline {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/scenarios")
            .join(name);
        Timeline::from_scenario_file(&path).expect("runs")
    }

    #[test]
    fn keeps_a_frame_per_step_and_every_request() {
        let t = scenario("change-over-time.yaml");
        let numbers: Vec<usize> = t.frames.iter().map(|f| f.number).collect();
        assert_eq!(numbers, (0..=9).collect::<Vec<_>>());
        assert!(t.frames.iter().all(|f| f.status == FrameStatus::Passed));
        assert_eq!(t.requests.len(), 3);
        let frames: Vec<usize> = t.requests.iter().map(|r| r.frame).collect();
        assert_eq!(frames, [4, 7, 9]);
        assert_eq!(t.sent_by(3).len(), 0);
        assert_eq!(t.sent_by(4).len(), 1);
        assert_eq!(t.sent_by(9).len(), 3);
        assert_eq!(t.requests[2].status, Some(503));
        assert_eq!(t.requests[0].answered_by, "infra-backend-v1");
        assert!(
            t.requests[0]
                .detail
                .starts_with("pod gateway-conformance-infra/infra-backend-v1-")
        );
        assert_eq!(
            t.requests[2].detail,
            "the gateway: Service gateway-conformance-infra/infra-backend-v2 port 8080 has no ready endpoints"
        );
        assert!(t.requests[0].decision.explanation.detailed);
        assert_eq!(t.frames[2].time.as_deref(), Some("+5.000s"));
        assert!(t.not_run.is_empty());
        assert_eq!(t.next_failure(0), None);

        // The state differs between steps: aa-second exists from step 3 on.
        let has_second = |i: usize| {
            t.frames[i]
                .tree
                .nodes
                .iter()
                .any(|n| n.label.contains("aa-second"))
        };
        assert!(!has_second(2));
        assert!(has_second(3));
    }

    #[test]
    fn a_failed_step_is_kept_with_its_failure() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/scenarios/weights.yaml");
        let text = std::fs::read_to_string(&path)
            .expect("reads")
            .replace("tolerance: 0.05", "tolerance: 0")
            .replace("seed: 42", "seed: 1");
        let scenario = gwsim_sim::scenario::load_scenario(&gwsim_sim::files::Source {
            name: "weights-strict.yaml".into(),
            path,
            text,
        })
        .expect("loads");
        let t = Timeline::from_scenario(&scenario).expect("runs");
        assert_eq!(t.frames.len(), 2);
        assert_eq!(t.frames[1].status, FrameStatus::Failed);
        assert_eq!(t.next_failure(0), Some(1));
        assert_eq!(t.requests.len(), 500);
        let last = t.requests.last().expect("requests");
        assert!(
            last.failure
                .as_deref()
                .is_some_and(|f| f.starts_with("distribution over 500 requests is off")),
            "{:?}",
            last.failure
        );
        assert!(t.requests[..499].iter().all(|r| r.failure.is_none()));
    }
}
