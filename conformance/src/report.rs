//! Reports of a suite run: text for people, a ConformanceReport in upstream's shape, JUnit XML.

use std::fmt::Write;

use serde::Serialize;

use crate::profile::{self, Level};
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
    /// Counts for one level of the GATEWAY-HTTP profile.
    pub fn counts(&self, level: Level) -> Counts {
        let mut counts = Counts::default();
        for r in self.results.iter().filter(|r| r.level == level) {
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

    /// One line per test, the failures in full, a summary per profile and level, and the
    /// closing `N passed, M failed, K skipped` line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let (word, extra) = match &r.outcome {
                TestOutcome::Passed => ("ok", String::new()),
                TestOutcome::Failed(_) => ("FAILED", String::new()),
                TestOutcome::Skipped(reason) => ("skipped", format!(": {reason}")),
            };
            let _ = writeln!(out, "{word:<8}{} [{}]{extra}", r.name, r.level.as_str());
        }
        for r in &self.results {
            if let TestOutcome::Failed(details) = &r.outcome {
                let _ = writeln!(out, "\n---- {} ----\n{}", r.name, details.trim_end());
            }
        }
        let _ = writeln!(out);
        for level in [Level::Core, Level::Extended, Level::Outside] {
            let c = self.counts(level);
            if c.passed + c.failed + c.skipped == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "{} {:<20} {} passed, {} failed, {} skipped",
                profile::PROFILE,
                level.as_str(),
                c.passed,
                c.failed,
                c.skipped
            );
        }
        let t = self.totals();
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} skipped",
            t.passed, t.failed, t.skipped
        );
        out
    }

    fn names(&self, level: Level, failed: bool) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| r.level == level)
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
        let tested = &self.tested_features;
        let extended_supported: Vec<String> = profile::EXTENDED
            .iter()
            .filter(|f| tested.iter().any(|t| t == *f))
            .map(|f| f.to_string())
            .collect();
        let extended_unsupported: Vec<String> = profile::EXTENDED
            .iter()
            .filter(|f| !tested.iter().any(|t| t == *f))
            .map(|f| f.to_string())
            .collect();
        let core = self.counts(Level::Core);
        let extended = self.counts(Level::Extended);
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
            profiles: vec![ProfileReport {
                name: profile::PROFILE,
                core: LevelReport {
                    result: core.result(),
                    statistics: core,
                    failed_tests: self.names(Level::Core, true),
                    skipped_tests: self.names(Level::Core, false),
                    supported_features: Vec::new(),
                    unsupported_features: Vec::new(),
                },
                extended: LevelReport {
                    result: extended.result(),
                    statistics: extended,
                    failed_tests: self.names(Level::Extended, true),
                    skipped_tests: self.names(Level::Extended, false),
                    supported_features: extended_supported,
                    unsupported_features: extended_unsupported,
                },
            }],
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
        for level in [Level::Core, Level::Extended, Level::Outside] {
            let c = self.counts(level);
            let total = c.passed + c.failed + c.skipped;
            if total == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "  <testsuite name=\"{} {}\" tests=\"{total}\" failures=\"{}\" skipped=\"{}\">",
                profile::PROFILE,
                level.as_str(),
                c.failed,
                c.skipped
            );
            for r in self.results.iter().filter(|r| r.level == level) {
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

    fn result(name: &str, level: Level, outcome: TestOutcome) -> TestResult {
        TestResult {
            name: name.into(),
            scenario: name.to_lowercase(),
            features: vec![],
            level,
            outcome,
        }
    }

    fn sample() -> SuiteReport {
        SuiteReport {
            results: vec![
                result("A", Level::Core, TestOutcome::Passed),
                result("B", Level::Core, TestOutcome::Failed("step 2 <x>".into())),
                result(
                    "C",
                    Level::Extended,
                    TestOutcome::Skipped("no & yes".into()),
                ),
            ],
            tested_features: vec!["Gateway".into(), "HTTPRouteMethodMatching".into()],
        }
    }

    #[test]
    fn counts_and_results_per_level() {
        let r = sample();
        assert_eq!(
            r.counts(Level::Core),
            Counts {
                passed: 1,
                failed: 1,
                skipped: 0
            }
        );
        assert_eq!(r.counts(Level::Core).result(), "failure");
        assert_eq!(r.counts(Level::Extended).result(), "partial");
        assert_eq!(r.exit_code(), 1);
        let text = r.render_text();
        assert!(text.ends_with("1 passed, 1 failed, 1 skipped\n"), "{text}");
    }

    #[test]
    fn report_lists_failed_skipped_and_features() {
        let report = sample().conformance_report("2026-01-01");
        let p = &report.profiles[0];
        assert_eq!(p.core.failed_tests, vec!["B".to_string()]);
        assert_eq!(p.extended.skipped_tests, vec!["C".to_string()]);
        assert!(
            p.extended
                .supported_features
                .contains(&"HTTPRouteMethodMatching".to_string())
        );
        assert!(
            p.extended
                .unsupported_features
                .contains(&"HTTPRouteCORS".to_string())
        );
    }

    #[test]
    fn junit_escapes_text() {
        let xml = sample().render_junit();
        assert!(xml.contains("step 2 &lt;x&gt;"), "{xml}");
        assert!(xml.contains("no &amp; yes"), "{xml}");
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""),
            "{xml}"
        );
    }
}
