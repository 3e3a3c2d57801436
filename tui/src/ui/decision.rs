//! The Decision pane: the full explanation of the selected request (or of the request being
//! typed in the Ask line): listener choice, every candidate and why it lost, filters, backend
//! and weight.

use gwsim_engine::decision::{Decision, Outcome};
use gwsim_engine::explain::{Explanation, Verdict};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::wrap::wrap_lines;
use super::{glyph, health_style};
use crate::app::{App, RequestRow};
use crate::tree::Health;

/// The pane's title: what it explains.
pub fn title(app: &App) -> String {
    if app.ask.is_some() {
        return "Decision: the request being typed".to_string();
    }
    match app.selected_request() {
        Some(RequestRow::Sent(r)) => format!("Decision: {} (step {})", r.id, r.frame),
        Some(RequestRow::Asked(_)) => format!(
            "Decision: asked, at {} {}",
            app.frame_word(),
            app.frame().number
        ),
        None => "Decision".to_string(),
    }
}

/// The status a decision answers with, when it does not depend on a backend's answer.
pub fn outcome_status(decision: &Decision) -> Option<u16> {
    match &decision.outcome {
        Outcome::ConnectionRefused => None,
        Outcome::Respond { status, .. } | Outcome::Redirect { status, .. } => Some(*status),
        // What the backend answers; an echo backend answers 200.
        Outcome::Forward(_) => Some(200),
    }
}

/// Who answers a decided request, in a word or two (as [`crate::timeline::SentRecord`]).
pub fn outcome_target(decision: &Decision) -> String {
    match &decision.outcome {
        Outcome::ConnectionRefused => "refused".to_string(),
        Outcome::Respond { .. } => "gateway".to_string(),
        Outcome::Redirect { .. } => "redirect".to_string(),
        Outcome::Forward(f) => f.backend.name.clone(),
    }
}

/// The pane's text, wrapped to `width` with indented continuation lines.
fn paragraph(app: &App, width: u16) -> Paragraph<'static> {
    Paragraph::new(wrap_lines(decision_lines(app), width)).wrap(Wrap { trim: false })
}

/// The scroll that puts the last line at the bottom of `area`.
pub fn max_scroll(app: &App, area: Rect) -> u16 {
    let rows = paragraph(app, area.width).line_count(area.width);
    u16::try_from(rows.saturating_sub(usize::from(area.height))).unwrap_or(u16::MAX)
}

pub fn draw_decision(app: &App, frame: &mut Frame<'_>, area: Rect) {
    // Drawn at another size than the app was told of, the scroll still stops at the end.
    let scroll = app.decision_scroll.min(max_scroll(app, area));
    frame.render_widget(paragraph(app, area.width).scroll((scroll, 0)), area);
}

fn heading(text: &str) -> Span<'static> {
    Span::styled(
        text.to_string(),
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
    )
}

fn decision_lines(app: &App) -> Vec<Line<'static>> {
    if let Some(input) = &app.ask {
        return match &input.preview {
            None => vec![
                Line::raw("Type a request in the Ask line below, for example:"),
                Line::styled(
                    "  GET http://example.com/path -H 'x: y'",
                    Style::new().fg(Color::Cyan),
                ),
                Line::raw("It is decided as you type, against this step's routing table."),
            ],
            Some(Err(error)) => vec![Line::styled(error.clone(), health_style(Health::Bad))],
            Some(Ok(asked)) => explanation_lines(&asked.decision.explanation),
        };
    }
    match app.selected_request() {
        None => vec![Line::styled(
            if app.watching_files() {
                "No request selected: ask one (a)."
            } else {
                "No request selected. Step forward (→) to a request step, or ask one (a)."
            },
            health_style(Health::Unknown),
        )],
        Some(RequestRow::Asked(asked)) => {
            let mut lines = vec![Line::from(vec![
                heading("asked    "),
                Span::raw(asked.line.clone()),
            ])];
            lines.extend(explanation_lines(&asked.decision.explanation));
            lines
        }
        Some(RequestRow::Sent(sent)) => {
            let mut lines = Vec::new();
            let step = app
                .timeline
                .frames
                .get(sent.frame)
                .map_or(String::new(), |f| f.label.clone());
            lines.push(Line::from(vec![
                heading("sent     "),
                Span::raw(format!("{} by step {}: {step}", sent.id, sent.frame)),
            ]));
            let status = match sent.status {
                Some(s) => format!("{s} from {}", sent.detail),
                None => sent.detail.clone(),
            };
            lines.push(Line::from(vec![heading("response "), Span::raw(status)]));
            if let Some(failure) = &sent.failure {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{} step failed: ", glyph(Health::Bad)),
                        health_style(Health::Bad),
                    ),
                    Span::raw(failure.clone()),
                ]));
            }
            lines.extend(explanation_lines(&sent.decision.explanation));
            lines
        }
    }
}

/// An explanation, one step a line, coloured by verdict.
pub fn explanation_lines(ex: &Explanation) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let dim = health_style(Health::Unknown);
    lines.push(Line::from(vec![
        heading("request  "),
        Span::raw(ex.request.clone()),
    ]));
    // What happened comes first; the lines after it say why.
    lines.push(Line::from(vec![
        heading("outcome  "),
        Span::styled(
            ex.outcome.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ]));
    if let Some(gateway) = &ex.gateway {
        lines.push(Line::from(vec![
            heading("gateway  "),
            Span::raw(gateway.clone()),
        ]));
    }
    if !ex.listeners.is_empty() {
        lines.push(Line::from(heading("listeners")));
        for l in &ex.listeners {
            let health = if l.chosen {
                Health::Good
            } else {
                Health::Unknown
            };
            let mark = if l.chosen { "chosen" } else { "passed over" };
            lines.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(glyph(health), health_style(health)),
                Span::raw(format!(
                    " {} ({}, {}): ",
                    l.name,
                    l.protocol,
                    l.hostname.as_deref().unwrap_or("any hostname")
                )),
                Span::styled(format!("{mark}: {}", l.reason), health_style(health)),
            ]));
        }
    } else if let Some(listener) = &ex.listener {
        lines.push(Line::from(vec![
            heading("listener "),
            Span::raw(listener.clone()),
        ]));
    }
    if !ex.candidates.is_empty() || ex.unlisted_candidates > 0 {
        lines.push(Line::from(heading("candidates, in precedence order")));
        let number = |entry: &str| {
            ex.candidates
                .iter()
                .position(|c| *c.entry == *entry)
                .map_or_else(|| entry.to_string(), |i| format!("#{}", i + 1))
        };
        for (i, c) in ex.candidates.iter().enumerate() {
            let (health, verdict) = match &c.verdict {
                Verdict::Won => (Health::Good, "matched and won".to_string()),
                Verdict::Lost { winner, step } => (
                    Health::Warning,
                    format!("matched, lost to {}: {}", number(winner), step.describe()),
                ),
                Verdict::NoMatch { reason } => {
                    (Health::Unknown, format!("did not match: {reason}"))
                }
            };
            lines.push(Line::from(vec![
                Span::raw(format!("  {}. ", i + 1)),
                Span::styled(glyph(health), health_style(health)),
                Span::raw(format!(" {} [{}] {}: ", c.entry, c.hostname, c.description)),
                Span::styled(verdict, health_style(health)),
            ]));
        }
        if ex.unlisted_candidates > 0 {
            lines.push(Line::styled(
                format!(
                    "  ... and {} more that did not match",
                    ex.unlisted_candidates
                ),
                dim,
            ));
        }
    }
    if ex.other_hostname_entries > 0 {
        lines.push(Line::styled(
            format!(
                "  ({} of the listener's entries serve other hostnames)",
                ex.other_hostname_entries
            ),
            dim,
        ));
    }
    if !ex.filters.is_empty() {
        lines.push(Line::from(heading("filters")));
        for f in &ex.filters {
            if f.changes.is_empty() {
                lines.push(Line::raw(format!("  {} {}: no change", f.level, f.filter)));
            }
            for c in &f.changes {
                lines.push(Line::raw(format!(
                    "  {} {}: {} {} -> {}",
                    f.level,
                    f.filter,
                    c.field,
                    c.before.as_deref().unwrap_or("(none)"),
                    c.after.as_deref().unwrap_or("(none)")
                )));
            }
        }
    }
    if let Some(b) = &ex.backend {
        let text = match b.index {
            Some(index) => format!(
                "{} (backendRef {index}, weight {} of {})",
                b.target, b.weight, b.total_weight
            ),
            None => b.target.clone(),
        };
        lines.push(Line::from(vec![heading("backend  "), Span::raw(text)]));
    }
    if !ex.notes.is_empty() {
        lines.push(Line::from(heading("notes")));
        for n in &ex.notes {
            lines.push(Line::raw(format!("  - {n}")));
        }
    }
    lines
}
