//! `gwsim audit`: the installed controller's statuses against a conforming controller's,
//! printed. The comparison is the engine's (`gwsim_engine::audit`).

use gwsim_engine::audit::{self, Audit};
use serde_json::{Value, json};

use crate::inputs::Inputs;

/// The audit for people; the engine renders it.
pub fn render_text(audit: &Audit) -> String {
    audit::render_text(audit)
}

/// `-o json`: the audit with what gwsim stood in for and what it could not read.
pub fn to_json(inputs: &Inputs, audit: &Audit) -> Value {
    json!({
        "agrees": audit.agrees(),
        "audit": audit,
        "gwsim": crate::check::report(inputs),
    })
}
