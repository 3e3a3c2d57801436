//! The example scenarios under testdata/scenarios: every one passes, and runs are
//! deterministic.

use std::path::PathBuf;

use gwsim_sim::runner::{RunOptions, run_paths};

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
    assert!(report.summary.passed > 0, "{text}");
}
