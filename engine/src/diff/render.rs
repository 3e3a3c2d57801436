//! The diff as text for people: one section per part, unified diffs of the explanations of
//! requests whose outcome changed, ANSI colours on request.

use std::fmt::Write as _;

use similar::TextDiff;

use super::status::{ConditionState, Presence};
use super::table_changes::ListenerTableChange;
use super::{BehaviourDiff, RequestChange};

/// ANSI colours, or none.
struct Paint {
    color: bool,
}

impl Paint {
    fn code(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.code("1", text)
    }

    fn added(&self, text: &str) -> String {
        self.code("32", text)
    }

    fn removed(&self, text: &str) -> String {
        self.code("31", text)
    }

    fn changed(&self, text: &str) -> String {
        self.code("33", text)
    }

    fn regression(&self) -> String {
        self.code("1;31", "[regression]")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn render(diff: &BehaviourDiff, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_all(diff, &paint, &mut out);
    out
}

fn write_all(diff: &BehaviourDiff, paint: &Paint, out: &mut String) -> std::fmt::Result {
    if !diff.rejections.is_empty() {
        let head = format!("Rejected, not applied ({}):", diff.rejections.len());
        writeln!(out, "{}", paint.bold(&head))?;
        for r in &diff.rejections {
            writeln!(out, "  {}: {}", r.origin, paint.removed(&r.message))?;
        }
        writeln!(out)?;
    }
    if !diff.ignored.is_empty() {
        let head = format!("Ignored, not a kind gwsim models ({}):", diff.ignored.len());
        writeln!(out, "{}", paint.bold(&head))?;
        for i in &diff.ignored {
            writeln!(out, "  {}: {}", i.origin, i.what)?;
        }
        writeln!(out)?;
    }
    write_statuses(diff, paint, out)?;
    write_tables(diff, paint, out)?;
    write_behaviour(diff, paint, out)?;

    if diff.has_changes() {
        let mut parts = Vec::new();
        if !diff.rejections.is_empty() {
            parts.push(format!("{} rejected", diff.rejections.len()));
        }
        if !diff.status_changes.is_empty() {
            parts.push(format!(
                "{} with status changes",
                plural(diff.status_changes.len(), "object", "objects")
            ));
        }
        if !diff.table_changes.is_empty() {
            parts.push(format!(
                "{} with table changes",
                plural(diff.table_changes.len(), "listener", "listeners")
            ));
        }
        if !diff.behaviour_changes.is_empty() {
            parts.push(format!(
                "{} of {} changed",
                diff.behaviour_changes.len(),
                plural(diff.probes, "probe request", "probe requests")
            ));
        }
        parts.push(plural(diff.regressions, "regression", "regressions"));
        writeln!(out, "Summary: {}.", parts.join(", "))?;
    } else if diff.probes == 0 {
        writeln!(out, "No change: the change routes nothing differently.")?;
    } else {
        writeln!(
            out,
            "No change: {} behave the same.",
            plural(diff.probes, "probe request", "probe requests")
        )?;
    }
    Ok(())
}

fn state(s: &Option<ConditionState>) -> String {
    match s {
        None => "(none)".to_string(),
        Some(s) => format!("{} {}", s.status, s.reason),
    }
}

fn write_statuses(diff: &BehaviourDiff, paint: &Paint, out: &mut String) -> std::fmt::Result {
    if diff.status_changes.is_empty() {
        return Ok(());
    }
    let head = format!(
        "Status changes ({}):",
        plural(diff.status_changes.len(), "object", "objects")
    );
    writeln!(out, "{}", paint.bold(&head))?;
    for s in &diff.status_changes {
        let tag = match s.presence {
            Presence::Added => " (new)",
            Presence::Removed => " (gone)",
            Presence::Changed => "",
        };
        writeln!(out, "  {}{tag}", s.object)?;
        for c in &s.conditions {
            let scope = if c.scope.is_empty() {
                String::new()
            } else {
                format!("{}: ", c.scope)
            };
            let mut line = format!(
                "{scope}{} {} → {}",
                c.condition_type,
                state(&c.before),
                state(&c.after)
            );
            // The message says why, when the condition reports a problem.
            if let Some(after) = &c.after
                && after.status != "True"
                && !after.message.is_empty()
            {
                let _ = write!(line, ": {}", after.message);
            }
            let line = match (&c.before, &c.after) {
                (None, _) => paint.added(&line),
                (_, None) => paint.removed(&line),
                _ => paint.changed(&line),
            };
            if c.regression {
                writeln!(out, "    {line}  {}", paint.regression())?;
            } else {
                writeln!(out, "    {line}")?;
            }
        }
        for a in &s.attached_routes {
            let count = |n: Option<i32>| n.map_or("(none)".to_string(), |n| n.to_string());
            writeln!(
                out,
                "    listener {}: attachedRoutes {} → {}",
                a.listener,
                count(a.before),
                count(a.after)
            )?;
        }
    }
    writeln!(out)
}

fn write_tables(diff: &BehaviourDiff, paint: &Paint, out: &mut String) -> std::fmt::Result {
    if diff.table_changes.is_empty() {
        return Ok(());
    }
    let head = format!(
        "Routing table changes ({}):",
        plural(diff.table_changes.len(), "listener", "listeners")
    );
    writeln!(out, "{}", paint.bold(&head))?;
    for t in &diff.table_changes {
        write_listener(t, paint, out)?;
    }
    writeln!(out)
}

fn write_listener(t: &ListenerTableChange, paint: &Paint, out: &mut String) -> std::fmt::Result {
    let shape = t.after.as_ref().or(t.before.as_ref());
    writeln!(
        out,
        "  {}, listener {} ({})",
        t.gateway,
        t.listener,
        shape.map(|s| s.describe()).unwrap_or_default()
    )?;
    match (&t.before, &t.after) {
        (None, Some(_)) => writeln!(out, "    {}", paint.added("listener added"))?,
        (Some(_), None) => writeln!(out, "    {}", paint.removed("listener removed"))?,
        (Some(a), Some(b)) if a != b => writeln!(
            out,
            "    {}",
            paint.changed(&format!("listener {} → {}", a.describe(), b.describe()))
        )?,
        _ => {}
    }
    if !t.added.is_empty() {
        writeln!(out, "    added:")?;
        for e in &t.added {
            let line = format!("+ {:>3}. {}", e.position, e.line());
            writeln!(out, "      {}", paint.added(&line))?;
        }
    }
    if !t.removed.is_empty() {
        writeln!(out, "    removed:")?;
        for e in &t.removed {
            let line = format!("- {:>3}. {}", e.position, e.line());
            writeln!(out, "      {}", paint.removed(&line))?;
        }
    }
    if !t.changed.is_empty() {
        writeln!(out, "    changed:")?;
        for c in &t.changed {
            let (old_line, new_line) = (c.before.line(), c.after.line());
            if old_line == new_line && c.before.position == c.after.position {
                let line = format!("~ {:>3}. {new_line}", c.after.position);
                writeln!(out, "      {}", paint.changed(&line))?;
            } else {
                let old = format!("- {:>3}. {old_line}", c.before.position);
                let new = format!("+ {:>3}. {new_line}", c.after.position);
                writeln!(out, "      {}", paint.removed(&old))?;
                writeln!(out, "      {}", paint.added(&new))?;
            }
            let flags = |e: &crate::table::ListingEntry| -> Vec<String> {
                e.flags
                    .iter()
                    .filter(|f| !f.starts_with("shadowed by "))
                    .cloned()
                    .collect()
            };
            let (old_flags, new_flags) = (flags(&c.before), flags(&c.after));
            for f in new_flags.iter().filter(|f| !old_flags.contains(f)) {
                writeln!(out, "        {}", paint.changed(&format!("! now: {f}")))?;
            }
            for f in old_flags.iter().filter(|f| !new_flags.contains(f)) {
                writeln!(
                    out,
                    "        {}",
                    paint.changed(&format!("! no longer: {f}"))
                )?;
            }
            if c.before.filters != c.after.filters {
                writeln!(
                    out,
                    "        filters: {} → {}",
                    list_or_none(&c.before.filters),
                    list_or_none(&c.after.filters)
                )?;
            }
        }
    }
    if !t.moved.is_empty() {
        writeln!(out, "    moved:")?;
        for m in &t.moved {
            let line = format!("{} [{}]: #{} → #{}", m.entry, m.hostname, m.from, m.to);
            writeln!(out, "      {}", paint.changed(&line))?;
        }
    }
    if !t.shadowed.is_empty() {
        writeln!(out, "    shadowing:")?;
        for s in &t.shadowed {
            let line = if s.now {
                format!(
                    "#{} {} [{}] is now shadowed by #{} {}: it never wins",
                    s.position, s.entry, s.hostname, s.by_position, s.by
                )
            } else {
                format!(
                    "#{} {} [{}] is no longer shadowed by {}",
                    s.position, s.entry, s.hostname, s.by
                )
            };
            let line = if s.now {
                paint.removed(&line)
            } else {
                paint.added(&line)
            };
            writeln!(out, "      {line}")?;
        }
    }
    Ok(())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

fn write_behaviour(diff: &BehaviourDiff, paint: &Paint, out: &mut String) -> std::fmt::Result {
    if diff.behaviour_changes.is_empty() {
        return Ok(());
    }
    let head = format!(
        "Behaviour changes ({} of {}):",
        diff.behaviour_changes.len(),
        plural(diff.probes, "probe request", "probe requests")
    );
    writeln!(out, "{}", paint.bold(&head))?;
    // Requests that changed the same way are shown together, in order of their first one.
    let mut groups: Vec<Vec<&RequestChange>> = Vec::new();
    for c in &diff.behaviour_changes {
        match groups.iter_mut().find(|g| same_change(g[0], c)) {
            Some(group) => group.push(c),
            None => groups.push(vec![c]),
        }
    }
    for group in &groups {
        write_group(group, paint, out)?;
    }
    writeln!(out)
}

fn same_change(a: &RequestChange, b: &RequestChange) -> bool {
    a.before == b.before
        && a.after == b.after
        && a.differences == b.differences
        && a.regression == b.regression
}

fn write_group(group: &[&RequestChange], paint: &Paint, out: &mut String) -> std::fmt::Result {
    let first = group[0];
    for c in group {
        if c.regression {
            writeln!(out, "  {}  {}", c.description, paint.regression())?;
        } else {
            writeln!(out, "  {}", c.description)?;
        }
        writeln!(out, "      probe: {}", c.origin)?;
    }
    writeln!(
        out,
        "    before: {}",
        paint.removed(&first.before.describe())
    )?;
    writeln!(out, "    after:  {}", paint.added(&first.after.describe()))?;
    // A difference that only restates the before and after lines is left out.
    let restated = format!("{} → {}", first.before.describe(), first.after.describe());
    for d in first.differences.iter().filter(|d| **d != restated) {
        writeln!(out, "    {}", paint.changed(d))?;
    }
    let old = first.before_explanation.render_text();
    let new = first.after_explanation.render_text();
    let text = TextDiff::from_lines(&old, &new);
    let unified = text
        .unified_diff()
        .context_radius(2)
        .header("before", "after")
        .to_string();
    if !unified.is_empty() {
        if group.len() > 1 {
            writeln!(out, "    explanation of the first:")?;
        } else {
            writeln!(out, "    explanation:")?;
        }
        for line in unified.lines() {
            let painted = if line.starts_with("+++") || line.starts_with("---") {
                paint.bold(line)
            } else if line.starts_with("@@") {
                paint.code("36", line)
            } else if line.starts_with('+') {
                paint.added(line)
            } else if line.starts_with('-') {
                paint.removed(line)
            } else {
                line.to_string()
            };
            writeln!(out, "      {painted}")?;
        }
    }
    Ok(())
}
