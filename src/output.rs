//! How text output meets the screen: its width (the terminal's, 80 when standard output is
//! not a terminal, or `--width`), colour (`--color`, `NO_COLOR`), and lines wrapped at word
//! boundaries with indented continuation lines.

use std::io::IsTerminal;

use clap::ValueEnum;

/// The width used when standard output is not a terminal and `--width` is not given.
pub const DEFAULT_WIDTH: usize = 80;

/// Narrower than this, wrapping would leave words alone on their lines: lines are not wrapped.
const MIN_WIDTH: usize = 20;

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Where text output goes, decided once per run.
#[derive(Clone, Copy, Debug)]
pub struct Screen {
    /// Lines are wrapped to this many columns; `None`: never wrapped (`-o wide`).
    pub width: Option<usize>,
    pub color: bool,
    /// Standard output is a terminal (progress bars go to standard error only then).
    pub terminal: bool,
}

impl Screen {
    /// From the flags and the environment.
    pub fn detect(width: Option<usize>, color: ColorChoice) -> Screen {
        let terminal = std::io::stdout().is_terminal();
        let width = width.unwrap_or_else(|| {
            if terminal {
                terminal_size::terminal_size_of(std::io::stdout())
                    .map(|(w, _)| usize::from(w.0))
                    .unwrap_or(DEFAULT_WIDTH)
            } else {
                DEFAULT_WIDTH
            }
        });
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        Screen {
            width: Some(width),
            color,
            terminal,
        }
    }

    /// `text` wrapped to the width.
    pub fn fit(&self, text: &str) -> String {
        match self.width {
            Some(width) => fit(text, width),
            None => text.to_string(),
        }
    }
}

/// Columns a line takes on screen: characters, without colour escape sequences.
pub fn display_width(line: &str) -> usize {
    let mut width = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequence: ESC [ parameters final-byte.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        width += 1;
    }
    width
}

/// Every line of `text` longer than `width` columns broken at spaces. A continuation line is
/// indented two columns deeper than the text of a list item (`1. `, `- `, `✗ `...) or, for
/// other lines, four columns deeper than the line. A word longer than the room left stays whole on its own line:
/// names and paths are never broken.
pub fn fit(text: &str, width: usize) -> String {
    if width < MIN_WIDTH {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        if display_width(body) <= width {
            out.push_str(line);
            continue;
        }
        wrap_line(body, width, &mut out);
        out.push_str(newline);
    }
    out
}

fn wrap_line(line: &str, width: usize, out: &mut String) {
    let indent = line.len() - line.trim_start_matches(' ').len();
    // Two columns deeper than a list item's text, so that a continuation is not read as the
    // next line of the item (`! backendRef ...` under a route entry).
    let hanging = indent + marker_width(&line[indent..]).map_or(4, |m| m + 2);
    // Continuation lines keep at least half the width for text.
    let hanging = hanging.min(width / 2);
    let mut column = 0;
    let mut first = true;
    let body = &line[indent..];
    out.push_str(&line[..indent]);
    column += indent;
    for word in body.split(' ') {
        let w = display_width(word);
        let at_line_start = column == indent && first || column == hanging && !first;
        if at_line_start && !first && word.is_empty() {
            // A run of spaces where the line broke.
            continue;
        }
        if !at_line_start && column + 1 + w > width {
            while out.ends_with(' ') {
                out.pop();
            }
            out.push('\n');
            out.push_str(&" ".repeat(hanging));
            column = hanging;
            first = false;
        } else if !at_line_start {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += w;
    }
}

/// The width of a list marker at the start of `text`, with its space: `12. ` (4), `- ` (2),
/// `✗ ` (2), `! ` (2).
fn marker_width(text: &str) -> Option<usize> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && text[digits..].starts_with(". ") {
        return Some(digits + 2);
    }
    let mut chars = text.chars();
    let first = chars.next()?;
    if chars.next() == Some(' ') && matches!(first, '-' | '*' | '✗' | '✓' | '!' | '~' | '+' | '·')
    {
        return Some(2);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept() {
        let text = "a b c\n  d e\n";
        assert_eq!(fit(text, 80), text);
    }

    #[test]
    fn long_lines_wrap_at_spaces_with_a_hanging_indent() {
        let line = "  1. one two three four five six seven eight nine ten eleven twelve";
        let wrapped = fit(line, 30);
        assert_eq!(
            wrapped,
            "  1. one two three four five\n       six seven eight nine\n       ten eleven twelve"
        );
        for l in wrapped.lines() {
            assert!(display_width(l) <= 30, "{l:?}");
        }
        let plain = fit("  alpha beta gamma delta epsilon zeta eta theta", 24);
        assert_eq!(
            plain,
            "  alpha beta gamma delta\n      epsilon zeta eta\n      theta"
        );
    }

    #[test]
    fn no_trailing_spaces_where_a_line_breaks() {
        let wrapped = fit("aaaa bbbb  cccc  dddd eeee", 20);
        assert_eq!(wrapped, "aaaa bbbb  cccc\n    dddd eeee");
        let wrapped = fit("aaaa bbbb cccc dddd  eeee", 20);
        assert_eq!(wrapped, "aaaa bbbb cccc dddd\n    eeee");
    }

    #[test]
    fn long_words_are_never_broken() {
        let word = "x".repeat(50);
        let wrapped = fit(&format!("a {word} b"), 30);
        assert_eq!(wrapped, format!("a\n    {word}\n    b"));
    }

    #[test]
    fn colour_sequences_take_no_columns() {
        assert_eq!(display_width("\u{1b}[31m✗ red\u{1b}[0m"), 5);
    }

    #[test]
    fn a_fitting_text_would_fail_this_check_when_too_long() {
        // The check the golden tests rely on can fail.
        let long = "word ".repeat(40);
        assert!(display_width(&long) > 80);
        assert!(fit(&long, 80).lines().all(|l| display_width(l) <= 80));
    }
}
