//! Explanations: why a request went where it went, as data and as text.

use serde::Serialize;

/// The reasoning behind one decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Explanation {
    /// Lines of the trace, for now; the routing table work gives this structure.
    pub lines: Vec<String>,
}

impl Explanation {
    /// The explanation as text for people, one step a line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}
