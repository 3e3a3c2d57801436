//! gwsim's conformance suite: one scenario per upstream conformance test of the profiles gwsim
//! implements (GATEWAY-HTTP, GATEWAY-GRPC), embedded from `testdata/conformance/`, run against
//! the simulator, and reported the way upstream's suite reports (per profile and level, a
//! ConformanceReport, JUnit XML).

pub mod profile;
pub mod report;

use std::collections::BTreeSet;
use std::path::PathBuf;

use gwsim_engine::controller::SUPPORTED_FEATURES as GATEWAY_FEATURES;
use gwsim_engine::controller::mesh::MESH_SUPPORTED_FEATURES;
use gwsim_sim::files::Source;
use gwsim_sim::runner::{Outcome, RunError, RunOptions, ScenarioResult, run_scenarios};
use gwsim_sim::scenario::{Scenario, ScenarioError, load_paths, load_scenario};

use crate::profile::{Level, Profile};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/suite.rs"));
}

/// The embedded suite's files, as sources named `conformance/<file>`.
pub fn embedded_sources() -> Vec<Source> {
    embedded::SUITE
        .iter()
        .map(|(name, text)| Source {
            name: format!("conformance/{name}"),
            path: PathBuf::from(format!("conformance/{name}")),
            text: (*text).to_string(),
        })
        .collect()
}

/// Loads the embedded suite, or the scenarios of `dir` when given.
pub fn load_suite(dir: Option<&PathBuf>) -> Result<Vec<Scenario>, ScenarioError> {
    match dir {
        Some(dir) => load_paths(std::slice::from_ref(dir)),
        None => embedded_sources().iter().map(load_scenario).collect(),
    }
}

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run only tests whose upstream ShortName (or scenario name) is listed.
    pub run: Vec<String>,
    /// Report these tests as skipped without running them.
    pub skip: Vec<String>,
    /// Test only these features (besides the core ones); `None`: every feature gwsim supports.
    pub features: Option<Vec<String>>,
    /// Overrides every scenario's seed.
    pub seed: Option<u64>,
    /// The profiles to test and report (`--profile`); empty: every profile gwsim implements.
    /// Tests of other profiles are left out; tests outside every profile always run.
    pub profiles: Vec<&'static Profile>,
}

impl Options {
    /// The profiles this run tests and reports.
    pub fn selected_profiles(&self) -> Vec<&'static Profile> {
        if self.profiles.is_empty() {
            profile::PROFILES.to_vec()
        } else {
            self.profiles.clone()
        }
    }
}

/// How one test ended.
#[derive(Clone, Debug, PartialEq)]
pub enum TestOutcome {
    Passed,
    /// The failing step, the diff and the explanation, as text.
    Failed(String),
    /// Why it did not run.
    Skipped(String),
}

/// One test's result.
#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    /// The upstream ShortName, or the scenario name when it mirrors none.
    pub name: String,
    pub scenario: String,
    pub features: Vec<String>,
    /// The test's level in the first selected profile it belongs to; `Outside` when it belongs
    /// to none.
    pub level: Level,
    /// Every selected profile the test belongs to, with its level there, in profile order.
    pub profiles: Vec<(&'static str, Level)>,
    pub outcome: TestOutcome,
}

/// The results of a suite run, in suite order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SuiteReport {
    pub results: Vec<TestResult>,
    /// Features the run tested: gwsim's supported features, narrowed by `--features`.
    pub tested_features: Vec<String>,
    /// The profiles the run tested, in report order.
    pub profiles: Vec<&'static Profile>,
}

impl SuiteReport {
    /// 0 when nothing failed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(
            self.results
                .iter()
                .any(|r| matches!(r.outcome, TestOutcome::Failed(_))),
        )
    }
}

/// Every feature gwsim claims: its GatewayClasses' and its mesh's.
fn supported(feature: &str) -> bool {
    GATEWAY_FEATURES.contains(&feature) || MESH_SUPPORTED_FEATURES.contains(&feature)
}

/// [`supported`]'s features, the GatewayClasses' then the mesh's.
fn all_supported() -> impl Iterator<Item = &'static str> {
    GATEWAY_FEATURES
        .iter()
        .chain(MESH_SUPPORTED_FEATURES)
        .copied()
}

fn test_name(s: &Scenario) -> String {
    s.upstream.clone().unwrap_or_else(|| s.name.clone())
}

/// The features a run tests: what gwsim supports, narrowed to the core features of every
/// profile plus `--features` when given.
pub fn tested_features(selection: Option<&[String]>) -> BTreeSet<String> {
    let core = |f: &&str| profile::PROFILES.iter().any(|p| p.core.contains(f));
    all_supported()
        .filter(|f| match selection {
            None => true,
            Some(chosen) => core(f) || chosen.iter().any(|c| c == f),
        })
        .map(|f| f.to_string())
        .collect()
}

/// The selected profiles a test belongs to, with its level in each.
fn levels_in(profiles: &[&'static Profile], features: &[String]) -> Vec<(&'static str, Level)> {
    profiles
        .iter()
        .map(|p| (p.name, p.level(features)))
        .filter(|(_, level)| *level != Level::Outside)
        .collect()
}

/// Whether a test runs with these profiles selected: it belongs to one of them, or to no
/// profile gwsim implements.
fn in_selection(profiles: &[&'static Profile], features: &[String]) -> bool {
    !levels_in(profiles, features).is_empty() || levels_in(profile::PROFILES, features).is_empty()
}

/// Why a scenario does not run, if it does not.
fn skip_reason(s: &Scenario, options: &Options, tested: &BTreeSet<String>) -> Option<String> {
    let name = test_name(s);
    if options.skip.iter().any(|k| *k == name || *k == s.name) {
        return Some("skipped by --skip".to_string());
    }
    let missing: Vec<&str> = s
        .features
        .iter()
        .filter(|f| !tested.contains(*f))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let unsupported: Vec<&str> = missing.iter().copied().filter(|f| !supported(f)).collect();
    Some(if unsupported.is_empty() {
        format!(
            "features not selected by --features: {}",
            missing.join(", ")
        )
    } else {
        format!("gwsim does not support: {}", unsupported.join(", "))
    })
}

/// Where the suite's scenarios run: the simulator, or another cluster (over the wire).
pub trait Target: Sync {
    /// Why `scenario` cannot be expressed on this target, if it cannot: the test is reported
    /// skipped with this reason (never passed).
    fn cannot_run(&self, scenario: &Scenario) -> Option<String>;

    /// Runs one scenario with `options` (seed, no filter).
    fn run(&self, scenario: &Scenario, options: &RunOptions) -> Result<ScenarioResult, RunError>;

    /// Runs them all, results in their order, when the target schedules runs itself (a
    /// cluster runs at once only scenarios that touch disjoint objects); `None`: the suite
    /// runs them on one thread per core.
    fn run_together(
        &self,
        scenarios: &[Scenario],
        options: &RunOptions,
    ) -> Option<Result<Vec<ScenarioResult>, RunError>> {
        let _ = (scenarios, options);
        None
    }
}

/// The simulator: every scenario runs, in memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct Simulator;

impl Target for Simulator {
    fn cannot_run(&self, _: &Scenario) -> Option<String> {
        None
    }

    fn run(&self, scenario: &Scenario, options: &RunOptions) -> Result<ScenarioResult, RunError> {
        let report = run_scenarios(std::slice::from_ref(scenario), options)?;
        report
            .scenarios
            .into_iter()
            .next()
            .ok_or_else(|| RunError::Base("the runner returned no result".into()))
    }
}

/// Runs the suite on the simulator. Scenarios run on every core, results come back in suite
/// order.
pub fn run(scenarios: &[Scenario], options: &Options) -> Result<SuiteReport, RunError> {
    run_on(scenarios, options, &Simulator)
}

/// Runs the suite on `target`; a scenario the target cannot express is skipped with the
/// target's reason.
pub fn run_on(
    scenarios: &[Scenario],
    options: &Options,
    target: &dyn Target,
) -> Result<SuiteReport, RunError> {
    let tested = tested_features(options.features.as_deref());
    let profiles = options.selected_profiles();
    let selected: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| in_selection(&profiles, &s.features))
        .filter(|s| {
            options.run.is_empty()
                || options
                    .run
                    .iter()
                    .any(|r| *r == test_name(s) || *r == s.name)
        })
        .collect();
    let why_not = |s: &Scenario| skip_reason(s, options, &tested).or_else(|| target.cannot_run(s));
    let to_run: Vec<Scenario> = selected
        .iter()
        .filter(|s| why_not(s).is_none())
        .map(|s| (*s).clone())
        .collect();
    let run_options = RunOptions {
        seed: options.seed,
        filter: None,
    };
    let ran = match target.run_together(&to_run, &run_options) {
        Some(ran) => ran?,
        None => run_parallel(&to_run, &run_options, target)?,
    };
    let mut ran = ran.into_iter();
    let mut results = Vec::with_capacity(selected.len());
    for s in selected {
        let outcome = match why_not(s) {
            Some(reason) => TestOutcome::Skipped(reason),
            None => match ran.next() {
                Some(result) => outcome_of(&result),
                None => TestOutcome::Failed("the runner returned no result".into()),
            },
        };
        let levels = levels_in(&profiles, &s.features);
        results.push(TestResult {
            name: test_name(s),
            scenario: s.name.clone(),
            features: s.features.clone(),
            level: levels.first().map_or(Level::Outside, |(_, l)| *l),
            profiles: levels,
            outcome,
        });
    }
    Ok(SuiteReport {
        results,
        tested_features: tested.into_iter().collect(),
        profiles,
    })
}

fn outcome_of(result: &ScenarioResult) -> TestOutcome {
    match &result.outcome {
        Outcome::Passed => TestOutcome::Passed,
        Outcome::Skipped { missing_features } => TestOutcome::Skipped(format!(
            "the simulator does not support: {}",
            missing_features.join(", ")
        )),
        Outcome::Failed(_) => {
            // The runner's text for this one scenario, without its closing count line.
            let single = gwsim_sim::runner::RunReport::new(vec![result.clone()]);
            let text = single.render_text();
            let body: Vec<&str> = text
                .trim_end()
                .lines()
                .filter(|l| !l.ends_with(" skipped") || !l.contains(" passed, "))
                .collect();
            TestOutcome::Failed(body.join("\n"))
        }
    }
}

/// Runs scenarios on up to `available_parallelism` threads; results in input order.
fn run_parallel(
    scenarios: &[Scenario],
    options: &RunOptions,
    target: &dyn Target,
) -> Result<Vec<ScenarioResult>, RunError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let run_part = |part: &[Scenario]| -> Result<Vec<ScenarioResult>, RunError> {
        part.iter().map(|s| target.run(s, options)).collect()
    };
    if threads == 1 || scenarios.len() < 2 {
        return run_part(scenarios);
    }
    let chunk = scenarios.len().div_ceil(threads);
    let parts: Vec<Result<Vec<ScenarioResult>, RunError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .chunks(chunk)
            .map(|part| scope.spawn(move || run_part(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(RunError::Base("a runner thread panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(scenarios.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_suite_loads_and_names_are_unique() {
        let suite = load_suite(None).expect("the embedded suite loads");
        assert_eq!(
            suite.len(),
            162,
            "one scenario per GATEWAY-HTTP test, per GRPCRoute test of GATEWAY-GRPC or of no profile, BackendTLSPolicyGRPCRoute and BackendTLSPolicyTLSRouteTerminate, the 13 TLSRoute tests, ListenerSetAllowedRoutesSupportedKinds, HTTPRouteDisallowedKind, the eight TCPRoute and nine UDPRoute tests, and the 23 mesh tests"
        );
        let mut names: Vec<String> = suite.iter().map(test_name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 162, "upstream names are unique");
    }

    /// A test skipped because gwsim lacks a feature must not pass when forced to run (its
    /// features narrowed to what gwsim supports): a pass would mean the scenario checks nothing
    /// of the feature.
    #[test]
    fn skipped_tests_fail_when_forced() {
        let suite = load_suite(None).expect("the embedded suite loads");
        let mut vacuous = Vec::new();
        let mut forced_count = 0;
        for scenario in &suite {
            if scenario.features.iter().all(|f| supported(f)) {
                continue;
            }
            forced_count += 1;
            let mut forced = scenario.clone();
            forced.features.retain(|f| supported(f));
            let report = run_scenarios(&[forced], &RunOptions::default()).expect("runs");
            if report.summary.failed == 0 {
                vacuous.push(test_name(scenario));
            }
        }
        // None today: GatewayStaticAddresses and GatewayInfrastructure were the last two (their
        // negative tests: sim/tests/contract.rs).
        assert_eq!(forced_count, 0, "the skipped tests");
        assert!(
            vacuous.is_empty(),
            "pass when forced, so check nothing of their feature: {vacuous:?}"
        );
    }

    #[test]
    fn two_runs_give_identical_reports() {
        let suite = load_suite(None).expect("the embedded suite loads");
        let a = run(&suite, &Options::default()).expect("runs");
        let b = run(&suite, &Options::default()).expect("runs");
        assert_eq!(a.render_text(), b.render_text());
        assert_eq!(a.render_junit(), b.render_junit());
    }

    #[test]
    fn skip_and_features_flags_skip_with_a_reason() {
        let suite = load_suite(None).expect("the embedded suite loads");
        let options = Options {
            run: vec![
                "HTTPRouteExactPathMatching".into(),
                "HTTPRouteMethodMatching".into(),
            ],
            skip: vec!["HTTPRouteExactPathMatching".into()],
            features: Some(vec![]),
            seed: None,
            profiles: Vec::new(),
        };
        let report = run(&suite, &options).expect("runs");
        let outcomes: Vec<(&str, &TestOutcome)> = report
            .results
            .iter()
            .map(|r| (r.name.as_str(), &r.outcome))
            .collect();
        assert_eq!(
            outcomes,
            vec![
                (
                    "HTTPRouteExactPathMatching",
                    &TestOutcome::Skipped("skipped by --skip".into())
                ),
                (
                    "HTTPRouteMethodMatching",
                    &TestOutcome::Skipped(
                        "features not selected by --features: HTTPRouteMethodMatching".into()
                    )
                ),
            ]
        );
    }

    /// `--profile GATEWAY-GRPC` runs that profile's tests (GRPCRoute ones and Gateway-only
    /// ones) and the tests outside every profile, never an HTTPRoute test; the report has one
    /// profile entry.
    #[test]
    fn a_profile_selects_its_tests() {
        let suite = load_suite(None).expect("the embedded suite loads");
        let options = Options {
            run: vec![
                "GRPCExactMethodMatching".into(),
                "GatewayModifyListeners".into(),
                "HTTPRouteExactPathMatching".into(),
                "GRPCRouteNamedRule".into(),
            ],
            profiles: vec![&profile::GATEWAY_GRPC],
            ..Options::default()
        };
        let report = run(&suite, &options).expect("runs");
        let ran: Vec<(&str, &[(&str, Level)])> = report
            .results
            .iter()
            .map(|r| (r.name.as_str(), r.profiles.as_slice()))
            .collect();
        assert_eq!(
            ran,
            vec![
                (
                    "GatewayModifyListeners",
                    &[("GATEWAY-GRPC", Level::Core)][..]
                ),
                (
                    "GRPCExactMethodMatching",
                    &[("GATEWAY-GRPC", Level::Core)][..]
                ),
                ("GRPCRouteNamedRule", &[][..]),
            ]
        );
        assert_eq!(report.exit_code(), 0, "{}", report.render_text());
        let names: Vec<&str> = report
            .conformance_report("d")
            .profiles
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["GATEWAY-GRPC"]);
    }

    /// A target that cannot express a scenario gets it reported skipped with its reason,
    /// never run and never passed; the others run on it.
    #[test]
    fn a_target_skips_what_it_cannot_express() {
        struct Picky;
        impl Target for Picky {
            fn cannot_run(&self, s: &Scenario) -> Option<String> {
                (test_name(s) == "HTTPRouteMethodMatching").then(|| "(wire) not here".into())
            }
            fn run(&self, s: &Scenario, o: &RunOptions) -> Result<ScenarioResult, RunError> {
                assert_ne!(test_name(s), "HTTPRouteMethodMatching", "ran a listed case");
                Simulator.run(s, o)
            }
        }
        let suite = load_suite(None).expect("the embedded suite loads");
        let options = Options {
            run: vec![
                "HTTPRouteExactPathMatching".into(),
                "HTTPRouteMethodMatching".into(),
            ],
            ..Options::default()
        };
        let report = run_on(&suite, &options, &Picky).expect("runs");
        let outcomes: Vec<&TestOutcome> = report.results.iter().map(|r| &r.outcome).collect();
        assert_eq!(
            outcomes,
            vec![
                &TestOutcome::Passed,
                &TestOutcome::Skipped("(wire) not here".into())
            ]
        );
        assert!(
            report
                .render_text()
                .ends_with("1 passed, 0 failed, 1 skipped\n"),
            "{}",
            report.render_text()
        );
    }

    /// The GatewayClass claims exactly what passes: every supported feature is exercised by at
    /// least one passing test, and no test fails.
    #[test]
    fn claimed_features_are_backed_by_passing_tests() {
        let suite = load_suite(None).expect("the embedded suite loads");
        let report = run(&suite, &Options::default()).expect("runs");
        assert_eq!(report.exit_code(), 0, "{}", report.render_text());
        for feature in all_supported() {
            let backed = report.results.iter().any(|r| {
                r.outcome == TestOutcome::Passed && r.features.iter().any(|f| f == feature)
            });
            assert!(backed, "{feature} is claimed but no passing test uses it");
        }
    }
}
