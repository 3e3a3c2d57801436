//! Drawing: pure functions of an [`App`] into a ratatui frame.
//!
//! The screen is a title line, four panes (Resources and Timeline on the left, Requests and
//! Decision on the right; `z` gives the focused one the whole screen), and a help line, which
//! the Ask line replaces while it is open. `?` lays the key list over everything.

mod decision;
mod panes;
mod wrap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::{App, Pane};
use crate::keys::{ASK_HELP_LINE, HELP, HELP_LINE};
use crate::timeline::{FrameStatus, Origin};
use crate::tree::Health;

/// Below this, only a request to make the terminal larger is drawn.
const MIN_WIDTH: u16 = 30;
const MIN_HEIGHT: u16 = 8;

/// Where everything goes on a screen of a given size.
struct Areas {
    title: Rect,
    /// The panes shown: all four, or the focused one when zoomed.
    panes: Vec<(Pane, Rect)>,
    bottom: Rect,
}

fn layout(app: &App, area: Rect) -> Areas {
    let bottom_rows = if app.ask.is_some() { 2 } else { 1 };
    let [title, main, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(bottom_rows),
    ])
    .areas(area);
    let panes = if app.zoom {
        vec![(app.focus, main)]
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(main);
        let [resources, timeline] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
        let [requests, decision] =
            Layout::vertical([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(right);
        vec![
            (Pane::Resources, resources),
            (Pane::Timeline, timeline),
            (Pane::Requests, requests),
            (Pane::Decision, decision),
        ]
    };
    Areas {
        title,
        panes,
        bottom,
    }
}

/// How far the Decision pane can scroll on a screen of `app.size`: until its last line is
/// at the bottom.
pub fn decision_max_scroll(app: &App) -> u16 {
    let (width, height) = app.size;
    let areas = layout(app, Rect::new(0, 0, width, height));
    let Some((_, area)) = areas.panes.iter().find(|(p, _)| *p == Pane::Decision) else {
        return 0;
    };
    let inner = Block::bordered().inner(*area);
    decision::max_scroll(app, inner)
}

/// Draws the whole screen.
pub fn draw(app: &App, frame: &mut Frame<'_>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = Paragraph::new("gwsim tui: make the terminal larger (q quits)")
            .wrap(Wrap { trim: true });
        frame.render_widget(text, area);
        return;
    }
    let areas = layout(app, area);
    draw_title(app, frame, areas.title);
    for (pane, rect) in areas.panes {
        draw_pane(app, frame, pane, rect);
    }
    draw_bottom(app, frame, areas.bottom);
    if let Some(error) = &app.load_error {
        draw_load_error(error, frame, area);
    }
    if app.help {
        draw_help(frame, area);
    }
}

fn draw_pane(app: &App, frame: &mut Frame<'_>, pane: Pane, area: Rect) {
    let block = pane_block(app, pane);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match pane {
        Pane::Resources => panes::draw_resources(app, frame, inner),
        Pane::Requests => panes::draw_requests(app, frame, inner),
        Pane::Decision => decision::draw_decision(app, frame, inner),
        Pane::Timeline => panes::draw_timeline(app, frame, inner),
    }
}

/// A pane's frame: its number (the key that focuses it), title, and a bright border when
/// focused.
fn pane_block(app: &App, pane: Pane) -> Block<'static> {
    let number = Pane::ALL.iter().position(|p| *p == pane).unwrap_or(0) + 1;
    let focused = app.focus == pane;
    let (border, title) = if focused {
        (
            Style::new().fg(Color::Cyan),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )
    } else {
        (Style::new().fg(Color::DarkGray), Style::new())
    };
    let mut title_text = format!(" {number} {} ", pane.title());
    if pane == Pane::Decision {
        title_text = format!(" {number} {} ", decision::title(app));
    }
    Block::new()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Span::styled(title_text, title))
}

fn draw_title(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let current = app.frame();
    let mut spans = vec![Span::styled(
        " gwsim ",
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
    )];
    let dim = Style::new().fg(Color::DarkGray);
    match &app.timeline.origin {
        Origin::Scenario { name, .. } => {
            spans.push(Span::raw(format!(" {name}")));
            let total = app.timeline.frames.len() + app.timeline.not_run.len() - 1;
            spans.push(Span::styled(" · ", dim));
            spans.push(Span::raw(format!("step {}/{total}", current.number)));
        }
        Origin::Files { paths } => {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            spans.push(Span::raw(format!(" {}", names.join(" "))));
            spans.push(Span::styled(" · ", dim));
            spans.push(Span::raw(format!("load {}", current.number)));
        }
    }
    spans.push(Span::styled(" · ", dim));
    let (word, health) = status_word(current.status);
    spans.push(Span::styled(word, health_style(health)));
    if let Some(time) = &current.time {
        spans.push(Span::styled(" · ", dim));
        spans.push(Span::raw(time.clone()));
    }
    if app.watching_files() {
        spans.push(Span::styled(" · watching", dim));
    }
    if app.load_error.is_some() {
        spans.push(Span::styled(" · reload failed", health_style(Health::Bad)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_bottom(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let key_style = Style::new().fg(Color::DarkGray);
    match &app.ask {
        Some(input) => {
            let [line, help] =
                Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
            let prompt = "ask> ";
            let text = Line::from(vec![
                Span::styled(
                    prompt,
                    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                ),
                Span::raw(input.text.clone()),
            ]);
            // Show the end of a line longer than the screen.
            let width = usize::from(line.width);
            let used = prompt.chars().count() + input.text.chars().count();
            let scroll = used.saturating_sub(width.saturating_sub(1));
            frame.render_widget(
                Paragraph::new(text).scroll((0, u16::try_from(scroll).unwrap_or(u16::MAX))),
                line,
            );
            let cursor = u16::try_from(used - scroll).unwrap_or(u16::MAX);
            frame.set_cursor_position(Position::new(
                line.x
                    .saturating_add(cursor.min(line.width.saturating_sub(1))),
                line.y,
            ));
            frame.render_widget(Paragraph::new(Span::styled(ASK_HELP_LINE, key_style)), help);
        }
        None => {
            frame.render_widget(Paragraph::new(Span::styled(HELP_LINE, key_style)), area);
        }
    }
}

/// A reload that failed, in full, in a box over the lower panes: the error names the file,
/// line and cause, more than the title line holds. The previous load stays shown above it.
fn draw_load_error(error: &str, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::bordered()
        .border_style(health_style(Health::Bad))
        .title(Span::styled(
            " reload failed: still showing the last good load ",
            health_style(Health::Bad),
        ));
    let inner_width = area.width.saturating_sub(2);
    let lines = wrap::wrap_lines(
        error.lines().map(|l| Line::raw(l.to_string())).collect(),
        inner_width,
    );
    let rows = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2)
        .min(area.height / 2);
    // Above the help line.
    let bottom = area.y + area.height.saturating_sub(1);
    let popup = Rect::new(area.x, bottom.saturating_sub(rows), area.width, rows);
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

fn draw_help(frame: &mut Frame<'_>, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    for (heading, keys) in HELP {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        if !heading.is_empty() {
            lines.push(Line::styled(
                *heading,
                Style::new().add_modifier(Modifier::BOLD),
            ));
        }
        for (key, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<10} "), Style::new().fg(Color::Cyan)),
                Span::raw(*what),
            ]));
        }
    }
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let width = 66.min(area.width);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(Color::Cyan))
        .title(" Keys (any key closes) ");
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

fn status_word(status: FrameStatus) -> (&'static str, Health) {
    match status {
        FrameStatus::Passed => ("passed", Health::Good),
        FrameStatus::Failed => ("FAILED", Health::Bad),
        FrameStatus::Skipped => ("skipped", Health::Warning),
        FrameStatus::Loaded => ("loaded", Health::Unknown),
    }
}

/// The mark of a health, readable without colour.
fn glyph(health: Health) -> &'static str {
    match health {
        Health::Good => "✓",
        Health::Warning => "!",
        Health::Bad => "✗",
        Health::Unknown => "·",
    }
}

fn health_style(health: Health) -> Style {
    match health {
        Health::Good => Style::new().fg(Color::Green),
        Health::Warning => Style::new().fg(Color::Yellow),
        Health::Bad => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Health::Unknown => Style::new().fg(Color::DarkGray),
    }
}

/// The style of a selected row: reversed, and bold when its pane has the focus.
fn selected_style(focused: bool) -> Style {
    let style = Style::new().add_modifier(Modifier::REVERSED);
    if focused {
        style.add_modifier(Modifier::BOLD)
    } else {
        style
    }
}
