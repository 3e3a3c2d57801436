//! Reports of a suite run: text for people, a ConformanceReport in upstream's shape, JUnit XML.

use std::fmt::Write;

use serde::Serialize;

use crate::profile::{Level, Profile};
use crate::{SuiteReport, TestOutcome};

/// Passed, failed and skipped counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    #[serde(rename = "Passed")]
    pub passed: usize,
    #[serde(rename = "Failed")]
    pub failed: usize,
    #[serde(rename = "Skipped")]
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, outcome: &TestOutcome) {
        match outcome {
            TestOutcome::Passed => self.passed += 1,
            TestOutcome::Failed(_) => self.failed += 1,
            TestOutcome::Skipped(_) => self.skipped += 1,
        }
    }

    /// upstream's result: `failure` when something failed, `partial` when something was
    /// skipped, else `success`.
    fn result(&self) -> &'static str {
        if self.failed > 0 {
            "failure"
        } else if self.skipped > 0 {
            "partial"
        } else {
            "success"
        }
    }
}

impl SuiteReport {
    /// Counts for one level of a profile (`Level::Outside`: the tests outside every selected
    /// profile).
    pub fn counts(&self, profile: &str, level: Level) -> Counts {
        let mut counts = Counts::default();
        for r in self.results.iter().filter(|r| in_level(r, profile, level)) {
            counts.add(&r.outcome);
        }
        counts
    }

    /// Counts over every test.
    pub fn totals(&self) -> Counts {
        let mut counts = Counts::default();
        for r in &self.results {
            counts.add(&r.outcome);
        }
        counts
    }

    /// One line per test, the failures in full, a summary line per profile (core and
    /// extended counts) and for the tests outside the profiles, and the closing
    /// `N passed, M failed, K skipped` line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let (word, extra) = match &r.outcome {
                TestOutcome::Passed => ("ok", String::new()),
                TestOutcome::Failed(_) => ("FAILED", String::new()),
                TestOutcome::Skipped(reason) => ("skipped", format!(": {reason}")),
            };
            let _ = writeln!(out, "{word:<8}{} [{}]{extra}", r.name, where_counted(r));
        }
        for r in &self.results {
            if let TestOutcome::Failed(details) = &r.outcome {
                let _ = writeln!(out, "\n---- {} ----\n{}", r.name, details.trim_end());
            }
        }
        let _ = writeln!(out);
        let text = |c: Counts| {
            format!(
                "{} passed, {} failed, {} skipped",
                c.passed, c.failed, c.skipped
            )
        };
        let width = self
            .profiles
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(0);
        for p in &self.profiles {
            let _ = writeln!(
                out,
                "{:<width$}  core: {}; extended: {}",
                p.name,
                text(self.counts(p.name, Level::Core)),
                text(self.counts(p.name, Level::Extended)),
            );
        }
        let outside = self.counts("", Level::Outside);
        if outside.passed + outside.failed + outside.skipped > 0 {
            let _ = writeln!(out, "outside the profiles: {}", text(outside));
        }
        let t = self.totals();
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} skipped",
            t.passed, t.failed, t.skipped
        );
        out
    }

    fn names(&self, profile: &str, level: Level, failed: bool) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| in_level(r, profile, level))
            .filter(|r| match &r.outcome {
                TestOutcome::Failed(_) => failed,
                TestOutcome::Skipped(_) => !failed,
                TestOutcome::Passed => false,
            })
            .map(|r| r.name.clone())
            .collect()
    }

    /// A report in the shape of upstream's ConformanceReport (`apiVersion
    /// gateway.networking.k8s.io/v1`, `kind ConformanceReport`). `date` is the caller's (the
    /// report is the only output that carries one).
    pub fn conformance_report(&self, date: &str) -> ConformanceReport {
        ConformanceReport {
            api_version: "gateway.networking.k8s.io/v1",
            kind: "ConformanceReport",
            date: date.to_string(),
            gateway_api_version: SUITE_GATEWAY_API_VERSION,
            gateway_api_channel: SUITE_GATEWAY_API_CHANNEL,
            implementation: Implementation {
                organization: "gwsim".into(),
                project: "gwsim".into(),
                url: env!("CARGO_PKG_REPOSITORY").into(),
                version: env!("CARGO_PKG_VERSION").into(),
                contact: vec!["gwsim maintainers".into()],
            },
            mode: "default",
            profiles: self
                .profiles
                .iter()
                .map(|p| self.profile_report(p))
                .collect(),
        }
    }

    /// One `profiles` entry: the profile's core and extended statistics, and which of its
    /// extended features the run tested.
    fn profile_report(&self, profile: &Profile) -> ProfileReport {
        let tested = &self.tested_features;
        let mut extended: Vec<&str> = profile.extended_features().collect();
        extended.sort_unstable();
        let (supported, unsupported): (Vec<&str>, Vec<&str>) = extended
            .into_iter()
            .partition(|f| tested.iter().any(|t| t == f));
        let level = |level: Level, features: (Vec<&str>, Vec<&str>)| {
            let counts = self.counts(profile.name, level);
            LevelReport {
                result: counts.result(),
                statistics: counts,
                failed_tests: self.names(profile.name, level, true),
                skipped_tests: self.names(profile.name, level, false),
                supported_features: features.0.into_iter().map(String::from).collect(),
                unsupported_features: features.1.into_iter().map(String::from).collect(),
            }
        };
        ProfileReport {
            name: profile.name,
            core: level(Level::Core, (Vec::new(), Vec::new())),
            extended: level(Level::Extended, (supported, unsupported)),
        }
    }

    /// JUnit XML: one suite per level, one case per test.
    pub fn render_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let t = self.totals();
        let _ = writeln!(
            out,
            "<testsuites name=\"gwsim conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            self.results.len(),
            t.failed,
            t.skipped
        );
        let mut suites: Vec<(String, &str, Level)> = Vec::new();
        for p in &self.profiles {
            for level in [Level::Core, Level::Extended] {
                suites.push((format!("{} {}", p.name, level.as_str()), p.name, level));
            }
        }
        suites.push((Level::Outside.as_str().to_string(), "", Level::Outside));
        for (suite, profile, level) in suites {
            let c = self.counts(profile, level);
            let total = c.passed + c.failed + c.skipped;
            if total == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "  <testsuite name=\"{suite}\" tests=\"{total}\" failures=\"{}\" skipped=\"{}\">",
                c.failed, c.skipped
            );
            for r in self.results.iter().filter(|r| in_level(r, profile, level)) {
                let _ = write!(
                    out,
                    "    <testcase name=\"{}\" classname=\"conformance.{}\"",
                    xml_escape(&r.name),
                    level.as_str().replace(' ', "-")
                );
                match &r.outcome {
                    TestOutcome::Passed => out.push_str("/>\n"),
                    TestOutcome::Skipped(reason) => {
                        let _ = writeln!(
                            out,
                            ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                            xml_escape(reason)
                        );
                    }
                    TestOutcome::Failed(details) => {
                        let first = details.lines().next().unwrap_or("failed");
                        let _ = writeln!(
                            out,
                            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                            xml_escape(first),
                            xml_escape(details)
                        );
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Whether `r` counts in `level` of `profile`; `Level::Outside`: in no selected profile.
fn in_level(r: &crate::TestResult, profile: &str, level: Level) -> bool {
    match level {
        Level::Outside => r.profiles.is_empty(),
        _ => r.profiles.iter().any(|(p, l)| *p == profile && *l == level),
    }
}

/// `GATEWAY-HTTP core`, `GATEWAY-HTTP core, GATEWAY-GRPC core`, `outside the profiles`.
fn where_counted(r: &crate::TestResult) -> String {
    if r.profiles.is_empty() {
        return Level::Outside.as_str().to_string();
    }
    r.profiles
        .iter()
        .map(|(p, l)| format!("{p} {}", l.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// The upstream tests the suite mirrors: those of the Gateway API main branch at this commit
/// (after v1.6.1; it has tests v1.6.1 lacks, such as HTTPRouteBackendRequestRedirect). Upstream
/// reads this field from the CRDs' bundle-version, which on main is `v0.0.0-dev`; gwsim names
/// the branch and commit instead, so a reader knows which tests were run.
pub const SUITE_GATEWAY_API_VERSION: &str = "main@4564255ac (after v1.6.1)";

/// The channel: the suite runs experimental-channel tests (HTTPRouteRetry, ...) and admission
/// uses the experimental CRDs.
pub const SUITE_GATEWAY_API_CHANNEL: &str = "experimental";

/// upstream's ConformanceReport, the fields gwsim fills.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub date: String,
    #[serde(rename = "gatewayAPIVersion")]
    pub gateway_api_version: &'static str,
    #[serde(rename = "gatewayAPIChannel")]
    pub gateway_api_channel: &'static str,
    pub implementation: Implementation,
    pub mode: &'static str,
    pub profiles: Vec<ProfileReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Implementation {
    pub organization: String,
    pub project: String,
    pub url: String,
    pub version: String,
    pub contact: Vec<String>,
}

impl Implementation {
    /// An implementation known only by its GatewayClass's `controllerName` (`DOMAIN/PATH`):
    /// organization and project from it; no URL, version or contact.
    pub fn from_controller_name(controller_name: &str) -> Implementation {
        let (organization, project) = controller_name
            .split_once('/')
            .unwrap_or((controller_name, controller_name));
        Implementation {
            organization: organization.to_string(),
            project: project.to_string(),
            url: String::new(),
            version: String::new(),
            contact: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ProfileReport {
    pub name: &'static str,
    pub core: LevelReport,
    pub extended: LevelReport,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LevelReport {
    pub result: &'static str,
    pub statistics: Counts,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_tests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_tests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supported_features: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported_features: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TestResult;

    #[test]
    fn an_implementation_is_named_from_its_controller_name() {
        let named =
            Implementation::from_controller_name("gateway.envoyproxy.io/gatewayclass-controller");
        assert_eq!(named.organization, "gateway.envoyproxy.io");
        assert_eq!(named.project, "gatewayclass-controller");
        assert!(named.version.is_empty() && named.contact.is_empty());
        assert_eq!(Implementation::from_controller_name("bare").project, "bare");
    }

    fn result(name: &str, features: &[&str], outcome: TestOutcome) -> TestResult {
        let features: Vec<String> = features.iter().map(|f| f.to_string()).collect();
        let profiles: Vec<(&'static str, Level)> = crate::profile::PROFILES
            .iter()
            .map(|p| (p.name, p.level(&features)))
            .filter(|(_, l)| *l != Level::Outside)
            .collect();
        TestResult {
            name: name.into(),
            scenario: name.to_lowercase(),
            level: profiles.first().map_or(Level::Outside, |(_, l)| *l),
            profiles,
            features,
            outcome,
        }
    }

    fn sample() -> SuiteReport {
        SuiteReport {
            results: vec![
                result("A", &["Gateway", "HTTPRoute"], TestOutcome::Passed),
                result(
                    "B",
                    &["Gateway", "HTTPRoute"],
                    TestOutcome::Failed("step 2 <x>".into()),
                ),
                result(
                    "C",
                    &["Gateway", "HTTPRoute", "HTTPRouteCORS"],
                    TestOutcome::Skipped("no & yes".into()),
                ),
                result("G", &["Gateway"], TestOutcome::Passed),
                result("R", &["Gateway", "GRPCRoute"], TestOutcome::Passed),
                result(
                    "N",
                    &["Gateway", "GRPCRoute", "GRPCRouteNamedRouteRule"],
                    TestOutcome::Passed,
                ),
                result("M", &["Mesh"], TestOutcome::Passed),
            ],
            tested_features: vec!["Gateway".into(), "HTTPRouteMethodMatching".into()],
            profiles: crate::profile::PROFILES.to_vec(),
        }
    }

    fn counts(passed: usize, failed: usize, skipped: usize) -> Counts {
        Counts {
            passed,
            failed,
            skipped,
        }
    }

    #[test]
    fn counts_and_results_per_profile_and_level() {
        let r = sample();
        assert_eq!(r.counts("GATEWAY-HTTP", Level::Core), counts(2, 1, 0));
        assert_eq!(r.counts("GATEWAY-HTTP", Level::Extended), counts(0, 0, 1));
        // The Gateway-only test counts in both profiles.
        assert_eq!(r.counts("GATEWAY-GRPC", Level::Core), counts(2, 0, 0));
        assert_eq!(r.counts("GATEWAY-GRPC", Level::Extended), counts(0, 0, 0));
        assert_eq!(r.counts("", Level::Outside), counts(1, 0, 0));
        assert_eq!(r.counts("GATEWAY-HTTP", Level::Core).result(), "failure");
        assert_eq!(
            r.counts("GATEWAY-HTTP", Level::Extended).result(),
            "partial"
        );
        assert_eq!(r.counts("GATEWAY-GRPC", Level::Core).result(), "success");
        assert_eq!(r.exit_code(), 1);
        let text = r.render_text();
        let tail: Vec<&str> = text.lines().rev().take(9).collect();
        assert_eq!(
            tail,
            [
                "5 passed, 1 failed, 1 skipped",
                "outside the profiles: 1 passed, 0 failed, 0 skipped",
                "MESH-GRPC     core: 1 passed, 0 failed, 0 skipped; extended: 0 passed, 0 failed, 0 skipped",
                "MESH-HTTP     core: 1 passed, 0 failed, 0 skipped; extended: 0 passed, 0 failed, 0 skipped",
                "GATEWAY-UDP   core: 1 passed, 0 failed, 0 skipped; extended: 0 passed, 0 failed, 0 skipped",
                "GATEWAY-TCP   core: 1 passed, 0 failed, 0 skipped; extended: 0 passed, 0 failed, 0 skipped",
                "GATEWAY-TLS   core: 1 passed, 0 failed, 0 skipped; extended: 0 passed, 0 failed, 0 skipped",
                "GATEWAY-GRPC  core: 2 passed, 0 failed, 0 skipped; extended: 0 passed, 0 failed, 0 skipped",
                "GATEWAY-HTTP  core: 2 passed, 1 failed, 0 skipped; extended: 0 passed, 0 failed, 1 skipped",
            ],
            "{text}"
        );
        assert!(
            text.contains("ok      G [GATEWAY-HTTP core, GATEWAY-GRPC core, GATEWAY-TLS core, GATEWAY-TCP core, GATEWAY-UDP core]\n"),
            "{text}"
        );
        assert!(text.contains("ok      R [GATEWAY-GRPC core]\n"), "{text}");
        // A mesh test counts in the mesh profiles, not in the Gateway ones.
        assert!(
            text.contains("ok      M [MESH-HTTP core, MESH-GRPC core]\n"),
            "{text}"
        );
        assert!(
            text.contains("ok      N [outside the profiles]\n"),
            "{text}"
        );
    }

    #[test]
    fn report_has_one_entry_per_profile() {
        let report = sample().conformance_report("2026-01-01");
        let names: Vec<&str> = report.profiles.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "GATEWAY-HTTP",
                "GATEWAY-GRPC",
                "GATEWAY-TLS",
                "GATEWAY-TCP",
                "GATEWAY-UDP",
                "MESH-HTTP",
                "MESH-GRPC"
            ]
        );
        let http = &report.profiles[0];
        assert_eq!(http.core.failed_tests, vec!["B".to_string()]);
        assert_eq!(http.core.statistics, counts(2, 1, 0));
        assert_eq!(http.extended.skipped_tests, vec!["C".to_string()]);
        assert!(
            http.extended
                .supported_features
                .contains(&"HTTPRouteMethodMatching".to_string())
        );
        assert!(
            http.extended
                .unsupported_features
                .contains(&"HTTPRouteCORS".to_string())
        );
        let grpc = &report.profiles[1];
        assert_eq!(grpc.core.statistics, counts(2, 0, 0));
        assert_eq!(grpc.core.result, "success");
        assert!(grpc.core.failed_tests.is_empty());
        // HTTPRoute's extended features are no part of GATEWAY-GRPC.
        assert!(
            grpc.extended
                .unsupported_features
                .iter()
                .all(|f| !f.starts_with("HTTPRoute"))
        );
        // One profile selected: one entry.
        let mut only = sample();
        only.profiles = vec![&crate::profile::GATEWAY_GRPC];
        let names: Vec<&str> = only
            .conformance_report("d")
            .profiles
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["GATEWAY-GRPC"]);
    }

    #[test]
    fn junit_escapes_text() {
        let xml = sample().render_junit();
        assert!(xml.contains("step 2 &lt;x&gt;"), "{xml}");
        assert!(xml.contains("no &amp; yes"), "{xml}");
        assert!(
            xml.contains("tests=\"7\" failures=\"1\" skipped=\"1\""),
            "{xml}"
        );
    }
}
