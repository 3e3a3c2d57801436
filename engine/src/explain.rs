//! Explanations: why a request went where it went, as data (serialised for `-o json`) and as
//! text for people.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

pub use crate::table::PrecedenceStep;

/// The reasoning behind one decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Explanation {
    /// False when the decision was made without an explanation
    /// (`RoutingTable::decide_fast`): every other field is then empty.
    pub detailed: bool,
    /// The request in one line: `GET http://foo.com/v2 (port 80)`.
    pub request: String,
    /// The Gateway and why it was used: `Gateway infra/gw (the only Gateway)`; in the mesh,
    /// the destination Service (or the pod, for a request to a pod's address).
    pub gateway: Option<String>,
    /// Every listener on the request's port, in `spec.listeners` order.
    pub listeners: Vec<ListenerVerdict>,
    /// The chosen listener's name.
    pub listener: Option<String>,
    /// Candidate entries of the chosen listener in precedence order: every entry that matched,
    /// and the first of those that did not.
    pub candidates: Vec<Candidate>,
    /// Entries of matching hostnames that did not match and are not listed.
    pub unlisted_candidates: usize,
    /// Entries of the chosen listener that serve other hostnames.
    pub other_hostname_entries: usize,
    /// Filters in the order they ran.
    pub filters: Vec<FilterStep>,
    pub backend: Option<BackendStep>,
    /// What happened, in a few words.
    pub outcome: String,
    /// Implementation-specific behaviour that played a part.
    pub notes: Vec<String>,
}

/// Why a listener was chosen or passed over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListenerVerdict {
    pub name: String,
    pub protocol: String,
    pub hostname: Option<String>,
    pub chosen: bool,
    pub reason: String,
}

/// One table entry considered for the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// `HTTPRoute ns/name rule 1 (name) match 0`.
    pub entry: Arc<str>,
    /// The route hostname the entry serves (`*`: any host of the listener).
    pub hostname: Arc<str>,
    /// The match in one line: `PathPrefix /v2, header version=two`.
    pub description: Arc<str>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Matched and won.
    Won,
    /// Matched, but an entry earlier in precedence order won; `step` is the deciding
    /// tie-breaker.
    Lost {
        winner: Arc<str>,
        step: PrecedenceStep,
    },
    /// Did not match; `reason` names the first failing part.
    NoMatch { reason: Cow<'static, str> },
}

/// One filter that ran, with what it changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FilterStep {
    /// `rule` or `backend 1`.
    pub level: String,
    /// `RequestHeaderModifier`, `URLRewrite`, ...
    pub filter: String,
    pub changes: Vec<Change>,
}

/// A field before and after a filter: `path /a -> /b`, `header x-foo (none) -> bar`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The weighted backend choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackendStep {
    /// Index of the chosen backendRef; `None` when none could be chosen.
    pub index: Option<usize>,
    /// What the backendRef points at (`Service ns/name:8080`), or why nothing was chosen.
    pub target: String,
    pub weight: u32,
    pub total_weight: u64,
}

impl Explanation {
    /// The explanation as text for people, one step a line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "request: {}", self.request)?;
        if let Some(gateway) = &self.gateway {
            writeln!(out, "gateway: {gateway}")?;
        }
        if !self.listeners.is_empty() {
            writeln!(out, "listeners:")?;
            for l in &self.listeners {
                let mark = if l.chosen { "chosen" } else { "passed over" };
                writeln!(
                    out,
                    "  {} ({}, {}): {mark}: {}",
                    l.name,
                    l.protocol,
                    l.hostname.as_deref().unwrap_or("any hostname"),
                    l.reason
                )?;
            }
        } else if let Some(listener) = &self.listener {
            writeln!(out, "listener: {listener}")?;
        }
        if !self.candidates.is_empty() || self.unlisted_candidates > 0 {
            writeln!(out, "candidates, in precedence order:")?;
            let number = |entry: &str| {
                self.candidates
                    .iter()
                    .position(|c| *c.entry == *entry)
                    .map(|i| format!("#{}", i + 1))
                    .unwrap_or_else(|| entry.to_string())
            };
            for (i, c) in self.candidates.iter().enumerate() {
                let verdict = match &c.verdict {
                    Verdict::Won => "matched and won".to_string(),
                    Verdict::Lost { winner, step } => {
                        format!("matched, lost to {}: {}", number(winner), step.describe())
                    }
                    Verdict::NoMatch { reason } => format!("did not match: {reason}"),
                };
                writeln!(
                    out,
                    "  {}. {} [{}] {}: {verdict}",
                    i + 1,
                    c.entry,
                    c.hostname,
                    c.description
                )?;
            }
            if self.unlisted_candidates > 0 {
                writeln!(
                    out,
                    "  ... and {} more that did not match",
                    self.unlisted_candidates
                )?;
            }
        }
        if self.other_hostname_entries > 0 {
            let n = self.other_hostname_entries;
            let (noun, verb) = if n == 1 {
                ("entry", "serves")
            } else {
                ("entries", "serve")
            };
            writeln!(
                out,
                "({n} {noun} of the listener {verb} other hostnames, not listed)"
            )?;
        }
        if !self.filters.is_empty() {
            writeln!(out, "filters:")?;
            for f in &self.filters {
                if f.changes.is_empty() {
                    writeln!(out, "  {} {}: no change", f.level, f.filter)?;
                }
                for c in &f.changes {
                    writeln!(
                        out,
                        "  {} {}: {} {} -> {}",
                        f.level,
                        f.filter,
                        c.field,
                        c.before.as_deref().unwrap_or("(none)"),
                        c.after.as_deref().unwrap_or("(none)")
                    )?;
                }
            }
        }
        if let Some(b) = &self.backend {
            match b.index {
                Some(index) => writeln!(
                    out,
                    "backend: {} (backendRef {index}, weight {} of {})",
                    b.target, b.weight, b.total_weight
                )?,
                None => writeln!(out, "backend: {}", b.target)?,
            }
        }
        writeln!(out, "outcome: {}", self.outcome)?;
        if !self.notes.is_empty() {
            writeln!(out, "notes:")?;
            for n in &self.notes {
                writeln!(out, "  - {n}")?;
            }
        }
        Ok(())
    }
}
