//! The Resources, Requests and Timeline panes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Borders, Cell, List, ListItem, ListState, Paragraph, Row, Table, TableState, Wrap,
};

use super::wrap::wrap_lines;
use super::{glyph, health_style, selected_style, status_word};
use crate::app::{App, Pane, RequestRow};
use crate::timeline::FrameStatus;
use crate::tree::Health;

/// Splits a pane into a list and, below a rule, a detail area of at most `wanted` rows (and
/// at most a third of the pane).
fn split_detail(area: Rect, wanted: usize) -> (Rect, Option<Rect>) {
    let wanted = u16::try_from(wanted).unwrap_or(u16::MAX);
    let rows = wanted.min(area.height / 3);
    if rows == 0 || area.height < 5 {
        return (area, None);
    }
    let [list, detail] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(rows + 1)]).areas(area);
    (list, Some(detail))
}

fn detail_block() -> Block<'static> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(Style::new().fg(Color::DarkGray))
}

pub fn draw_resources(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let tree = &app.frame().tree;
    if tree.nodes.is_empty() {
        frame.render_widget(
            Paragraph::new("No Gateway API objects.").style(health_style(Health::Unknown)),
            area,
        );
        return;
    }
    let focused = app.focus == Pane::Resources;
    let selected = app.selected_node();
    let (list_area, detail_area) =
        split_detail(area, selected.map_or(0, |n| n.details.len().max(1)));
    let items: Vec<ListItem> = tree
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let indent = "  ".repeat(usize::from(node.depth));
            let mut spans = vec![
                Span::raw(indent),
                Span::styled(glyph(node.health), health_style(node.health)),
                Span::raw(" "),
                Span::raw(node.label.clone()),
            ];
            if i == app.resource && !node.reason.is_empty() {
                spans.push(Span::styled(
                    format!("  {}", node.reason),
                    health_style(node.health).add_modifier(Modifier::ITALIC),
                ));
            }
            ListItem::new(Text::from(wrap_lines(
                vec![Line::from(spans)],
                list_area.width,
            )))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(app.resource));
    frame.render_stateful_widget(
        List::new(items).highlight_style(selected_style(focused)),
        list_area,
        &mut state,
    );
    if let (Some(node), Some(detail_area)) = (selected, detail_area) {
        let lines: Vec<Line> = node
            .details
            .iter()
            .map(|d| {
                Line::from(vec![
                    Span::styled(glyph(d.health), health_style(d.health)),
                    Span::raw(" "),
                    Span::raw(d.text.clone()),
                ])
            })
            .collect();
        let lines = wrap_lines(lines, detail_area.width);
        frame.render_widget(
            Paragraph::new(lines)
                .block(detail_block())
                .wrap(Wrap { trim: false }),
            detail_area,
        );
    }
}

fn status_style(status: Option<u16>) -> Style {
    match status {
        Some(200..=299) => Style::new().fg(Color::Green),
        Some(300..=399) => Style::new().fg(Color::Cyan),
        Some(400..=499) => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::Red),
    }
}

fn status_text(status: Option<u16>) -> String {
    status.map_or("---".to_string(), |s| s.to_string())
}

/// The Requests pane's inner width from which the host column is shown.
const REQUESTS_WIDTH_WITH_HOST: u16 = 48;

pub fn draw_requests(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let rows = app.request_rows();
    if rows.is_empty() {
        let text = if app.watching_files() {
            "Nothing asked yet: press a and type a request, e.g. GET http://example.com/"
        } else {
            "No request sent by this step yet: step forward (→) or ask one (a)."
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(health_style(Health::Unknown))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let focused = app.focus == Pane::Requests;
    // The host is mostly the Gateway's address: shown when there is room, from a 100-column
    // terminal (a pane 48 columns wide inside its borders) up.
    let with_host = area.width >= REQUESTS_WIDTH_WITH_HOST;
    let cells = |mark: Span<'static>,
                 step: String,
                 request: &gwsim_engine::decision::Request,
                 status: Option<u16>,
                 by: String| {
        let mut cells = vec![
            Cell::from(mark),
            Cell::from(step),
            Cell::from(request.method.clone()),
            Cell::from(request.path.clone()),
        ];
        if with_host {
            cells.push(Cell::from(request.host.clone()));
        }
        cells.push(Cell::from(Span::styled(
            status_text(status),
            status_style(status),
        )));
        cells.push(Cell::from(by));
        Row::new(cells)
    };
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|row| match row {
            RequestRow::Sent(r) => {
                let health = if r.failure.is_some() {
                    Health::Bad
                } else {
                    Health::Good
                };
                cells(
                    Span::styled(glyph(health), health_style(health)),
                    r.frame.to_string(),
                    &r.request,
                    r.status,
                    r.answered_by.clone(),
                )
            }
            RequestRow::Asked(a) => cells(
                Span::styled("?", Style::new().fg(Color::Cyan)),
                "ask".to_string(),
                &a.request,
                super::decision::outcome_status(&a.decision),
                super::decision::outcome_target(&a.decision),
            ),
        })
        .collect();
    let method_width = rows
        .iter()
        .map(|row| match row {
            RequestRow::Sent(r) => r.request.method.len(),
            RequestRow::Asked(a) => a.request.method.len(),
        })
        .max()
        .unwrap_or(3)
        .clamp(3, 7);
    let mut header = vec!["", "st", "", "path"];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(u16::try_from(method_width).unwrap_or(7)),
        Constraint::Fill(3),
    ];
    if with_host {
        header.push("host");
        widths.push(Constraint::Fill(2));
    }
    header.extend(["res", "from"]);
    widths.extend([Constraint::Length(3), Constraint::Fill(2)]);
    let table = Table::new(table_rows, widths)
        .header(Row::new(header).style(Style::new().fg(Color::DarkGray)))
        .row_highlight_style(selected_style(focused));
    let mut state = TableState::default().with_selected(app.request);
    frame.render_stateful_widget(table, area, &mut state);
}

pub fn draw_timeline(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let timeline = &app.timeline;
    let focused = app.focus == Pane::Timeline;
    let current = app.frame();
    let mut detail: Vec<Line> = Vec::new();
    if let Some(line) = current.line {
        detail.push(Line::styled(
            format!("step {} at line {line}", current.number),
            health_style(Health::Unknown),
        ));
    }
    if let Some(failure) = &current.failure {
        detail.push(Line::styled(
            failure.message.clone(),
            health_style(Health::Bad),
        ));
        for line in failure.diff.iter().flat_map(|d| d.lines()) {
            let style = match line.chars().next() {
                Some('-') => Style::new().fg(Color::Red),
                Some('+') => Style::new().fg(Color::Green),
                _ => Style::new(),
            };
            detail.push(Line::styled(line.to_string(), style));
        }
    }
    let (list_area, detail_area) = split_detail(area, detail.len());
    let mut items: Vec<ListItem> = timeline
        .frames
        .iter()
        .map(|f| {
            let health = match f.status {
                FrameStatus::Passed => Health::Good,
                FrameStatus::Failed => Health::Bad,
                FrameStatus::Skipped => Health::Warning,
                FrameStatus::Loaded => Health::Unknown,
            };
            let mut spans = vec![
                Span::raw(format!("{:>3} ", f.number)),
                Span::styled(glyph(health), health_style(health)),
                Span::raw(" "),
                Span::raw(f.label.clone()),
            ];
            if f.status == FrameStatus::Skipped || f.status == FrameStatus::Failed {
                let (word, health) = status_word(f.status);
                spans.push(Span::styled(format!("  {word}"), health_style(health)));
            }
            ListItem::new(Text::from(wrap_lines(
                vec![Line::from(spans)],
                list_area.width,
            )))
        })
        .collect();
    items.extend(timeline.not_run.iter().map(|(number, label)| {
        ListItem::new(Line::styled(
            format!("{number:>3} - {label}  (not run)"),
            health_style(Health::Unknown),
        ))
    }));
    let mut state = ListState::default().with_selected(Some(app.step));
    frame.render_stateful_widget(
        List::new(items).highlight_style(selected_style(focused)),
        list_area,
        &mut state,
    );
    if let Some(detail_area) = detail_area {
        let detail = wrap_lines(detail, detail_area.width);
        frame.render_widget(
            Paragraph::new(detail)
                .block(detail_block())
                .wrap(Wrap { trim: false }),
            detail_area,
        );
    }
}
