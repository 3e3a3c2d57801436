//! The conformance suite under `cargo test`: one libtest-mimic trial per scenario of
//! `testdata/conformance/`, named by its upstream ShortName. A scenario needing a feature gwsim
//! does not support is an ignored trial with the reason, never a pass.

#![allow(clippy::print_stderr)]

use gwsim_conformance::{Options, TestOutcome, load_suite, profile, run};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let scenarios = match load_suite(None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("the embedded suite does not load: {e}");
            std::process::exit(2);
        }
    };
    let trials = scenarios
        .into_iter()
        .map(|scenario| {
            let name = scenario
                .upstream
                .clone()
                .unwrap_or_else(|| scenario.name.clone());
            // The level in the first profile the test belongs to.
            let level = profile::PROFILES
                .iter()
                .map(|p| p.level(&scenario.features))
                .find(|l| *l != profile::Level::Outside)
                .unwrap_or(profile::Level::Outside);
            Trial::ignorable_test(name, move || {
                let report = run(std::slice::from_ref(&scenario), &Options::default())
                    .map_err(|e| Failed::from(e.to_string()))?;
                match report.results.first().map(|r| &r.outcome) {
                    Some(TestOutcome::Passed) => Ok(Completion::Completed),
                    Some(TestOutcome::Skipped(reason)) => Ok(Completion::ignored_with(reason)),
                    Some(TestOutcome::Failed(details)) => Err(Failed::from(details.clone())),
                    None => Err(Failed::from("no result")),
                }
            })
            .with_kind(level.as_str().replace(' ', "-"))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
