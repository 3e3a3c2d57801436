//! Lines broken between words to a pane's width, each continuation indented under its line's
//! text (two columns deeper than a list item's text, four deeper than other lines), styles
//! kept. ratatui's own wrapping starts continuations at the left edge and breaks words; the
//! panes use this instead. A word wider than the room left is cut where it must be: a pane
//! cannot scroll sideways.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// A run of text of one style, a word or part of one.
#[derive(Clone)]
struct Piece {
    text: String,
    style: Style,
}

/// `lines`, each no wider than `width` columns.
pub fn wrap_lines(lines: Vec<Line<'static>>, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if width < 8 || line.width() <= width {
            out.push(line);
            continue;
        }
        out.extend(wrap_line(&line, width));
    }
    out
}

/// The words of a line: pieces of one or more spans between spaces; spaces are kept as the
/// gaps between words (their count, styled as the first).
fn words(line: &Line<'static>) -> Vec<(Vec<Piece>, usize)> {
    // (word pieces, spaces before it)
    let mut words: Vec<(Vec<Piece>, usize)> = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    let mut gap = 0;
    for span in &line.spans {
        let style = line.style.patch(span.style);
        let mut piece = String::new();
        for c in span.content.chars() {
            if c == ' ' {
                if !piece.is_empty() {
                    current.push(Piece {
                        text: std::mem::take(&mut piece),
                        style,
                    });
                }
                if !current.is_empty() {
                    words.push((std::mem::take(&mut current), gap));
                    gap = 0;
                }
                gap += 1;
            } else {
                piece.push(c);
            }
        }
        if !piece.is_empty() {
            current.push(Piece { text: piece, style });
        }
    }
    if !current.is_empty() {
        words.push((current, gap));
    }
    words
}

fn text_width(pieces: &[Piece]) -> usize {
    pieces.iter().map(|p| p.text.chars().count()).sum()
}

fn wrap_line(line: &Line<'static>, width: usize) -> Vec<Line<'static>> {
    let plain: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let indent = plain.len() - plain.trim_start_matches(' ').len();
    let hanging = match (indent, heading_width(&plain)) {
        // `request  GET http://...`: continuations line up with the value.
        (0, Some(heading)) => heading,
        _ => indent + marker_width(&plain[indent..]).map_or(4, |m| m + 2),
    }
    .min(width / 2);
    let mut out = Vec::new();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut column = 0;
    let flush = |spans: &mut Vec<Span<'static>>, out: &mut Vec<Line<'static>>| {
        out.push(Line::from(std::mem::take(spans)).style(line.style));
    };
    for (i, (pieces, gap)) in words(line).into_iter().enumerate() {
        let w = text_width(&pieces);
        let at_start = spans.is_empty();
        let gap = if i == 0 { gap } else { gap.max(1) };
        if !at_start && column + gap + w > width {
            flush(&mut spans, &mut out);
            spans.push(Span::raw(" ".repeat(hanging)));
            column = hanging;
        } else if at_start || gap > 0 {
            spans.push(Span::raw(" ".repeat(gap)));
            column += gap;
        }
        for piece in pieces {
            let mut text = piece.text.as_str();
            // Cut a word wider than what is left of a fresh line.
            while column + text.chars().count() > width {
                let room = width.saturating_sub(column);
                if room == 0 {
                    flush(&mut spans, &mut out);
                    spans.push(Span::raw(" ".repeat(hanging)));
                    column = hanging;
                    continue;
                }
                let cut = text
                    .char_indices()
                    .nth(room)
                    .map_or(text.len(), |(at, _)| at);
                spans.push(Span::styled(text[..cut].to_string(), piece.style));
                text = &text[cut..];
                flush(&mut spans, &mut out);
                spans.push(Span::raw(" ".repeat(hanging)));
                column = hanging;
                if text.is_empty() {
                    break;
                }
            }
            if !text.is_empty() {
                column += text.chars().count();
                spans.push(Span::styled(text.to_string(), piece.style));
            }
        }
    }
    if !spans.is_empty() {
        flush(&mut spans, &mut out);
    }
    out
}

/// The width of a heading and the spaces that align the values after it (`outcome  `): one
/// word of letters, then two spaces or more, at most 12 columns in all.
fn heading_width(text: &str) -> Option<usize> {
    let word = text.chars().take_while(char::is_ascii_alphabetic).count();
    let spaces = text[word..].chars().take_while(|c| *c == ' ').count();
    (word > 0 && spaces >= 2 && word + spaces <= 12).then_some(word + spaces)
}

/// The width of a list marker with its space: `12. ` (4), `- ` (2), `✓ ` (2).
fn marker_width(text: &str) -> Option<usize> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && text[digits..].starts_with(". ") {
        // `1. ✓ text`: the glyph belongs to the marker.
        let rest = &text[digits + 2..];
        return Some(digits + 2 + marker_width(rest).unwrap_or(0));
    }
    let mut chars = text.chars();
    let first = chars.next()?;
    (chars.next() == Some(' ') && matches!(first, '-' | '✓' | '✗' | '!' | '·' | '?' | '~'))
        .then_some(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Color;

    fn plain(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn wraps_between_words_with_a_hanging_indent_and_keeps_styles() {
        let red = Style::new().fg(Color::Red);
        let line = Line::from(vec![
            Span::raw("  1. "),
            Span::styled("✗", red),
            Span::raw(" HTTPRoute shop/web rule 0 match 0: "),
            Span::styled("did not match: path", red),
        ]);
        let wrapped = wrap_lines(vec![line], 30);
        assert_eq!(
            plain(&wrapped),
            [
                "  1. ✗ HTTPRoute shop/web rule",
                "         0 match 0: did not",
                "         match: path",
            ]
        );
        assert!(wrapped.iter().all(|l| l.width() <= 30));
        let last = wrapped.last().expect("lines");
        assert!(
            last.spans
                .iter()
                .any(|s| s.style == red && s.content == "match:")
        );
    }

    #[test]
    fn headings_hang_their_values() {
        let line = Line::raw("outcome  forwarded to Service default/web:8080 weight 1");
        assert_eq!(
            plain(&wrap_lines(vec![line], 30)),
            [
                "outcome  forwarded to Service",
                "         default/web:8080",
                "         weight 1"
            ]
        );
    }

    #[test]
    fn short_lines_are_kept_and_long_words_are_cut() {
        let short = Line::raw("a b");
        assert_eq!(plain(&wrap_lines(vec![short], 30)), ["a b"]);
        let long = Line::raw(format!("x {}", "y".repeat(40)));
        let wrapped = wrap_lines(vec![long], 20);
        assert!(
            wrapped.iter().all(|l| l.width() <= 20),
            "{:?}",
            plain(&wrapped)
        );
        let text: String = plain(&wrapped).concat().replace(' ', "");
        assert_eq!(text, format!("x{}", "y".repeat(40)));
    }
}
