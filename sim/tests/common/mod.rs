//! Helpers of the step-checking tests (`connect.rs`, `connect_l4.rs`): a scenario made of a
//! manifests text (the keys before `steps:`) and steps, run or loaded, and tables of cases that
//! must pass, or fail with a given message.

use std::path::PathBuf;

use gwsim_sim::files::Source;
use gwsim_sim::runner::{RunOptions, run_scenarios};
use gwsim_sim::scenario::load_scenario;

/// The scenario `name` with `manifests` and `steps`.
pub fn source(name: &str, manifests: &str, steps: &str) -> Source {
    Source {
        name: format!("{name}.yaml"),
        path: PathBuf::from(format!("{name}.yaml")),
        text: format!("name: {name}\n{manifests}steps:\n{steps}"),
    }
}

/// Runs one step after `manifests`; whether it passed, and the report.
pub fn run_step(manifests: &str, step: &str) -> (bool, String) {
    let source = source("step-check", manifests, step);
    let scenario = load_scenario(&source).unwrap_or_else(|e| panic!("{e}\n{}", source.text));
    let report = run_scenarios(&[scenario], &RunOptions::default()).expect("runs");
    (report.summary.passed == 1, report.render_text())
}

/// Each case's step must pass (`None`), or fail with a report that says the message given.
pub fn expect_outcomes(manifests: &str, cases: Vec<(String, Option<&str>)>) {
    let mut problems = Vec::new();
    for (text, fails_with) in cases {
        let (passed, report) = run_step(manifests, &text);
        match fails_with {
            None if !passed => problems.push(format!("should pass:\n{text}\n{report}")),
            Some(why) if passed || !report.contains(why) => {
                problems.push(format!("should fail with {why:?}:\n{text}\n{report}"))
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Each case's step must be refused when loading, with an error that says the message given.
pub fn expect_load_errors(manifests: &str, cases: &[(&str, &str)]) {
    for (step, message) in cases {
        let err = load_scenario(&source("bad", manifests, step))
            .expect_err(step)
            .to_string();
        assert!(err.contains(message), "{step}: {err}");
    }
}
