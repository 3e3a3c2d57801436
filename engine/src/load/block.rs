//! A fast reader for the block-style YAML that kubectl, Helm and gwsim's own generators write:
//! block mappings and sequences, plain and single-line quoted scalars, `{}` and `[]`, and
//! literal block scalars (`|`, `|-`, `|+`). It reads one document straight into the values
//! the full parser's builder makes, with the same lines, and gives up (`None`) on anything
//! else: anchors, aliases, tags, flow collections, folded or multi-line scalars, tabs,
//! duplicate keys, merge keys, empty documents, text that is not well formed, a budget
//! reached. The caller then reads that document with the full parser, so every error,
//! warning and budget message is the full parser's. Equality with the full parser is checked
//! on every file under testdata/, on generated documents and by the `load_admit` fuzz target.

use serde_json::{Map, Value};

use super::scalar;

/// One document read by the fast path.
pub(super) struct FastDocument {
    pub value: Value,
    /// Index (from 0) of the chunk's line where the root node starts.
    pub line: usize,
    /// Indexes of the chunk's lines where each item of the root mapping's `items` starts.
    pub item_lines: Vec<usize>,
    /// Nodes as the full parser's builder counts them: every scalar, key or value, and every
    /// mapping and sequence.
    pub nodes: usize,
}

/// Reads the document of one chunk: the lines from a `---` line (or the start of the
/// stream) to the next one, without line breaks. `None` when the fast path cannot read it.
pub(super) fn document(
    lines: &[&str],
    last_line_ends: bool,
    max_depth: usize,
    max_nodes: usize,
) -> Option<FastDocument> {
    let mut reader = Reader::new(lines, last_line_ends, max_depth, max_nodes);
    if lines.first().is_some_and(|l| is_marker(l)) {
        // `---` alone, or followed by a comment: content on the marker line is left to the
        // full parser.
        let rest = lines[0][3..].trim_start_matches(' ');
        if !(rest.is_empty() || rest.starts_with('#')) {
            return None;
        }
        reader.at = 1;
    }
    let (indent, content) = reader.peek()?;
    let line = reader.at;
    let value = if is_entry(content) {
        reader.sequence(indent, false)?
    } else {
        reader.mapping(indent)?
    };
    // Nothing may follow the root node but blank lines and comments.
    if reader.peek().is_some() {
        return None;
    }
    Some(FastDocument {
        value,
        line,
        item_lines: reader.item_lines,
        nodes: reader.nodes,
    })
}

/// Reads the lines of one item of a root mapping's `items` block sequence, from its entry
/// line (`- ...` at the sequence's indentation) to the next entry, as [`document`] reads that
/// item inside its List: the same value, the same depth (the item sits in the root mapping's
/// sequence) and the same nodes, without the sequence's own. `line` is the index of the line
/// where the item's node starts. `None` when the lines are not exactly one entry the fast
/// path reads.
pub(super) fn list_item(
    lines: &[&str],
    last_line_ends: bool,
    max_depth: usize,
    max_nodes: usize,
) -> Option<FastDocument> {
    let mut reader = Reader::new(
        lines,
        last_line_ends,
        max_depth,
        max_nodes.saturating_add(1),
    );
    // Inside the root mapping, as the List's `items` is.
    reader.depth = 1;
    let (indent, content) = reader.peek()?;
    if reader.at != 0 || !is_entry(content) {
        return None;
    }
    let Value::Array(mut entries) = reader.sequence(indent, true)? else {
        return None;
    };
    if reader.peek().is_some() || entries.len() != 1 {
        return None;
    }
    Some(FastDocument {
        value: entries.pop()?,
        line: *reader.item_lines.first()?,
        item_lines: Vec::new(),
        nodes: reader.nodes - 1,
    })
}

/// A `---` document marker line.
pub(super) fn is_marker(line: &str) -> bool {
    line.starts_with("---") && matches!(line.as_bytes().get(3), None | Some(b' ' | b'\t'))
}

/// Whether the text holds only characters the fast path reads as the full parser does: no
/// tabs, no byte-order marks, no control or other non-printable characters (the full parser
/// refuses those with its own message, or treats them specially).
pub(super) fn plain_text(line: &str) -> bool {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0x20..=0x7e => {}
            0x00..=0x1f | 0x7f => return false,
            // U+0080..U+009F (C1 controls, including NEL, a line break in YAML 1.1).
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => return false,
            // U+FEFF (byte-order mark), U+FFFE, U+FFFF; U+2028 and U+2029 (line and
            // paragraph separators).
            0xef if matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
            ) =>
            {
                return false;
            }
            0xe2 if matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(0x80), Some(0xa8 | 0xa9))
            ) =>
            {
                return false;
            }
            _ => {}
        }
    }
    true
}

/// `-` alone or followed by a space: a block sequence entry.
pub(super) fn is_entry(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// Longest key the fast path reads: the full parser stops looking for a key's `:` after
/// 1,024 characters.
const MAX_KEY_BYTES: usize = 512;

struct Reader<'l, 't> {
    lines: &'l [&'t str],
    /// Whether the last line is followed by a line break.
    last_line_ends: bool,
    /// The current line.
    at: usize,
    /// Where the unread part of the current line starts: 0, or the column of a node that
    /// follows `- ` on the same line.
    col: usize,
    nodes: usize,
    depth: usize,
    max_depth: usize,
    max_nodes: usize,
    item_lines: Vec<usize>,
    /// The flow sequence about to be read is the root mapping's `items`.
    flow_items: bool,
}

impl<'l, 't> Reader<'l, 't> {
    /// At the first line, at the root's depth.
    fn new(lines: &'l [&'t str], last_line_ends: bool, max_depth: usize, max_nodes: usize) -> Self {
        Reader {
            lines,
            last_line_ends,
            at: 0,
            col: 0,
            nodes: 0,
            depth: 0,
            max_depth,
            max_nodes,
            item_lines: Vec::new(),
            flow_items: false,
        }
    }

    /// The next line with content, skipping blank and comment-only lines: its indentation
    /// and its content.
    fn peek(&mut self) -> Option<(usize, &'t str)> {
        if self.col > 0 {
            let line = self.lines[self.at];
            return Some((self.col, &line[self.col..]));
        }
        while let Some(&line) = self.lines.get(self.at) {
            let content = line.trim_start_matches(' ');
            if !(content.is_empty() || content.starts_with('#')) {
                return Some((line.len() - content.len(), content));
            }
            self.at += 1;
        }
        None
    }

    fn next_line(&mut self) {
        self.at += 1;
        self.col = 0;
    }

    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= self.max_nodes).then_some(())
    }

    /// Opens a mapping or sequence: counted, and within the depth budget.
    fn enter(&mut self) -> Option<()> {
        self.count()?;
        if self.depth >= self.max_depth {
            return None;
        }
        self.depth += 1;
        Some(())
    }

    /// A block mapping whose first key is at the current line's `indent`.
    fn mapping(&mut self, indent: usize) -> Option<Value> {
        self.enter()?;
        let root = self.depth == 1;
        let mut map = Map::new();
        while let Some((at, content)) = self.peek() {
            if at < indent {
                break;
            }
            if at > indent {
                return None;
            }
            let (key, after) = key(content)?;
            self.count()?;
            let items = root && key == "items";
            let value = self.mapping_value(after, indent, items)?;
            if map.insert(key, value).is_some() {
                // A duplicate key: the full parser warns about it.
                return None;
            }
        }
        self.depth -= 1;
        Some(Value::Object(map))
    }

    /// The value after `key:` (`after` is the rest of the line) of a mapping at `indent`.
    fn mapping_value(&mut self, after: &'t str, indent: usize, items: bool) -> Option<Value> {
        let rest = after.trim_start_matches(' ');
        if !(rest.is_empty() || rest.starts_with('#')) {
            // `items: [...]`: the items of a flow sequence are on this line.
            self.flow_items = items;
            let value = self.inline(rest, indent);
            self.flow_items = false;
            return value;
        }
        self.next_line();
        match self.peek() {
            Some((at, content)) if at > indent => {
                if is_entry(content) {
                    self.sequence(at, items)
                } else {
                    self.mapping(at)
                }
            }
            // A sequence may sit at its key's indentation.
            Some((at, content)) if at == indent && is_entry(content) => self.sequence(at, items),
            _ => {
                self.count()?;
                Some(Value::Null)
            }
        }
    }

    /// A block sequence whose entries start at `indent`; `items`: the root mapping's `items`,
    /// whose entries' lines are recorded.
    fn sequence(&mut self, indent: usize, items: bool) -> Option<Value> {
        self.enter()?;
        let mut list = Vec::new();
        while let Some((at, content)) = self.peek() {
            if at < indent || (at == indent && !is_entry(content)) {
                break;
            }
            if at > indent {
                return None;
            }
            let after = &content[1..];
            let rest = after.trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                // The entry's node starts on a later line.
                self.next_line();
                let (at, content) = self.peek().filter(|&(at, _)| at > indent)?;
                if items {
                    self.item_lines.push(self.at);
                }
                list.push(if is_entry(content) {
                    self.sequence(at, false)?
                } else {
                    self.mapping(at)?
                });
                continue;
            }
            if items {
                self.item_lines.push(self.at);
            }
            let column = at + 1 + (after.len() - rest.len());
            let value = if is_entry(rest) {
                self.col = column;
                self.sequence(column, false)?
            } else if key(rest).is_some() {
                self.col = column;
                self.mapping(column)?
            } else {
                self.inline(rest, indent)?
            };
            list.push(value);
        }
        self.depth -= 1;
        Some(Value::Array(list))
    }

    /// A node that starts on the current line (`rest`, not blank, not a comment) and is not
    /// a block collection: a scalar, `{}`, `[]` or a literal block scalar. `indent` is the
    /// indentation of the collection it belongs to. Moves to the next line.
    fn inline(&mut self, rest: &'t str, indent: usize) -> Option<Value> {
        let value = match rest.as_bytes()[0] {
            b'"' => {
                let (text, used) = double_quoted(rest)?;
                end_of_node(&rest[used..])?;
                Value::String(text)
            }
            b'\'' => {
                let (text, used) = single_quoted(rest)?;
                end_of_node(&rest[used..])?;
                Value::String(text)
            }
            b'{' | b'[' => {
                let mut flow = Flow { text: rest, at: 0 };
                let value = self.flow_node(&mut flow)?;
                end_of_node(&rest[flow.at..])?;
                self.next_line();
                return Some(value);
            }
            b'|' => {
                self.count()?;
                return self.literal(rest, indent).map(Value::String);
            }
            b'-' if is_entry(rest) => return None,
            b'-' => plain_value(rest)?,
            b'?' | b':' | b',' | b']' | b'}' | b'#' | b'&' | b'*' | b'!' | b'>' | b'%' | b'@'
            | b'`' => return None,
            _ => plain_value(rest)?,
        };
        self.count()?;
        self.next_line();
        Some(value)
    }

    /// A literal block scalar: the header (`|`, `|-` or `|+`, then maybe a comment) is on the
    /// current line, the text on the lines after it, indented more than `indent`.
    fn literal(&mut self, header: &str, indent: usize) -> Option<String> {
        let (chomp, after) = match header.as_bytes().get(1) {
            Some(b'-') => (Chomp::Strip, &header[2..]),
            Some(b'+') => (Chomp::Keep, &header[2..]),
            _ => (Chomp::Clip, &header[1..]),
        };
        let after_trimmed = after.trim_start_matches(' ');
        if !(after_trimmed.is_empty()
            || (after_trimmed.starts_with('#') && after_trimmed.len() < after.len()))
        {
            return None;
        }
        self.next_line();
        let mut text_indent: Option<usize> = None;
        let mut leading_blank = 0;
        let mut body: Vec<&str> = Vec::new();
        // Blank lines after the last line of text.
        let mut trailing = 0;
        while let Some(&line) = self.lines.get(self.at) {
            let spaces = line.len() - line.trim_start_matches(' ').len();
            if spaces == line.len() {
                match text_indent {
                    // Spaces past the text's indentation would be text.
                    Some(n) if spaces > n => return None,
                    Some(_) => trailing += 1,
                    None => {
                        leading_blank = leading_blank.max(spaces);
                        body.push("");
                    }
                }
                self.at += 1;
                continue;
            }
            let n = match text_indent {
                Some(n) => n,
                None => {
                    if spaces <= indent || spaces < leading_blank {
                        return None;
                    }
                    text_indent = Some(spaces);
                    spaces
                }
            };
            if spaces < n {
                break;
            }
            body.extend(std::iter::repeat_n("", trailing));
            trailing = 0;
            body.push(&line[n..]);
            self.at += 1;
        }
        // A scalar that runs to the end of the stream without a final line break, or holds
        // only blank lines, is left to the full parser.
        if text_indent.is_none() || (self.at == self.lines.len() && !self.last_line_ends) {
            return None;
        }
        let mut text = body.join("\n");
        match chomp {
            Chomp::Strip => {}
            Chomp::Clip => text.push('\n'),
            Chomp::Keep => {
                text.push('\n');
                text.extend(std::iter::repeat_n('\n', trailing));
            }
        }
        Some(text)
    }
}

/// Flow collections on one line: `{name: gw, namespace: infra}`, `[a, "b", {c: 1}]`.
impl Reader<'_, '_> {
    /// A flow node at `flow.at`; `flow.at` ends after it.
    fn flow_node(&mut self, flow: &mut Flow<'_>) -> Option<Value> {
        match flow.peek()? {
            b'{' => {
                self.enter()?;
                self.flow_items = false;
                flow.at += 1;
                let mut map = Map::new();
                flow.skip_spaces();
                if flow.eat(b'}') {
                    self.depth -= 1;
                    return Some(Value::Object(map));
                }
                loop {
                    let key = flow_scalar_text(flow)?;
                    self.count()?;
                    // `:` and a space; then the value.
                    if !(flow.eat(b':') && flow.eat(b' ')) {
                        return None;
                    }
                    flow.skip_spaces();
                    let value = self.flow_node(flow)?;
                    if map.insert(key, value).is_some() {
                        return None;
                    }
                    flow.skip_spaces();
                    if flow.eat(b'}') {
                        break;
                    }
                    if !(flow.eat(b',') && flow.eat(b' ')) {
                        return None;
                    }
                    flow.skip_spaces();
                }
                self.depth -= 1;
                Some(Value::Object(map))
            }
            b'[' => {
                self.enter()?;
                let items = std::mem::take(&mut self.flow_items);
                flow.at += 1;
                let mut list = Vec::new();
                flow.skip_spaces();
                if flow.eat(b']') {
                    self.depth -= 1;
                    return Some(Value::Array(list));
                }
                loop {
                    if items {
                        self.item_lines.push(self.at);
                    }
                    list.push(self.flow_node(flow)?);
                    flow.skip_spaces();
                    if flow.eat(b']') {
                        break;
                    }
                    if !(flow.eat(b',') && flow.eat(b' ')) {
                        return None;
                    }
                    flow.skip_spaces();
                }
                self.depth -= 1;
                Some(Value::Array(list))
            }
            b'"' | b'\'' => {
                let text = flow_scalar_text(flow)?;
                // A quoted key of a one-pair mapping (`[a: b]`) is left to the full parser.
                if flow.peek() == Some(b':') {
                    return None;
                }
                self.count()?;
                Some(Value::String(text))
            }
            _ => {
                let start = flow.at;
                flow_plain_end(flow)?;
                if flow.peek() == Some(b':') {
                    return None;
                }
                let text = flow.text[start..flow.at].trim_end_matches(' ');
                self.count()?;
                scalar::resolve_plain(text).ok()
            }
        }
    }
}

/// A line being read by [`Reader::flow_node`].
struct Flow<'t> {
    text: &'t str,
    at: usize,
}

impl Flow<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let ate = self.peek() == Some(b);
        self.at += usize::from(ate);
        ate
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }
}

/// A key of a flow mapping, or a quoted scalar: its text, `flow.at` after it.
fn flow_scalar_text(flow: &mut Flow<'_>) -> Option<String> {
    let rest = &flow.text[flow.at..];
    let (text, used) = match *rest.as_bytes().first()? {
        b'"' => double_quoted(rest)?,
        b'\'' => single_quoted(rest)?,
        _ => {
            let start = flow.at;
            flow_plain_end(flow)?;
            let text = flow.text[start..flow.at].trim_end_matches(' ');
            if text.len() > MAX_KEY_BYTES {
                return None;
            }
            return Some(text.to_string());
        }
    };
    if used > MAX_KEY_BYTES {
        return None;
    }
    flow.at += used;
    Some(text)
}

/// Moves `flow.at` to the end of a plain scalar in a flow collection: before `,`, `[`, `]`,
/// `{`, `}`, `: ` or `:` and a flow indicator. `None` for what the fast path leaves to the
/// full parser: an indicator first, a comment (` #`), a `:` at the end of the line.
fn flow_plain_end(flow: &mut Flow<'_>) -> Option<()> {
    let bytes = flow.text.as_bytes();
    match *bytes.get(flow.at)? {
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' => return None,
        _ => {}
    }
    let start = flow.at;
    while let Some(&b) = bytes.get(flow.at) {
        match b {
            b',' | b'[' | b']' | b'{' | b'}' => break,
            b':' => match bytes.get(flow.at + 1) {
                Some(b' ' | b',' | b'[' | b']' | b'{' | b'}') => break,
                None => return None,
                _ => {}
            },
            b'#' if bytes[flow.at - 1] == b' ' => return None,
            _ => {}
        }
        flow.at += 1;
    }
    (flow.at > start).then_some(())
}

#[derive(Clone, Copy)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// What may follow a node on its line: spaces, then maybe a comment.
fn end_of_node(after: &str) -> Option<()> {
    let rest = after.trim_start_matches(' ');
    (rest.is_empty() || (rest.starts_with('#') && rest.len() < after.len())).then_some(())
}

/// A mapping key at the start of `content`, and the rest of the line after its `:`. `None`
/// when the line does not start with a key the fast path reads.
pub(super) fn key(content: &str) -> Option<(String, &str)> {
    let (text, used) = match content.as_bytes()[0] {
        b'"' => double_quoted(content)?,
        b'\'' => single_quoted(content)?,
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'%' | b'@' | b'`' => return None,
        _ => {
            let end = key_indicator(content)?;
            let text = content[..end].trim_end_matches(' ');
            if text.contains(" #") || text == "<<" {
                return None;
            }
            (text.to_string(), end)
        }
    };
    if used > MAX_KEY_BYTES {
        return None;
    }
    let after = content[used..].strip_prefix(':')?;
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    Some((text, after))
}

/// The offset of the first `:` followed by a space or the end of the line.
fn key_indicator(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    let mut from = 0;
    loop {
        let at = from + bytes[from..].iter().position(|&b| b == b':')?;
        if matches!(bytes.get(at + 1), None | Some(b' ')) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// A plain scalar that runs to the end of the line (or a comment), resolved as kubectl
/// resolves it. `None` when it holds a `: ` (a mapping where none may be) or is a number JSON
/// cannot hold (the full parser's error).
fn plain_value(rest: &str) -> Option<Value> {
    let end = rest.find(" #").unwrap_or(rest.len());
    let text = rest[..end].trim_end_matches(' ');
    if key_indicator(text).is_some() {
        return None;
    }
    scalar::resolve_plain(text).ok()
}

/// A single-quoted scalar that ends on its line: its text and the bytes it takes.
fn single_quoted(s: &str) -> Option<(String, usize)> {
    let bytes = s.as_bytes();
    let mut text = String::new();
    let mut from = 1;
    loop {
        let at = from + bytes[from..].iter().position(|&b| b == b'\'')?;
        text.push_str(&s[from..at]);
        if bytes.get(at + 1) == Some(&b'\'') {
            text.push('\'');
            from = at + 2;
        } else {
            return Some((text, at + 1));
        }
    }
}

/// A double-quoted scalar that ends on its line, with YAML's escapes: its text and the bytes
/// it takes.
fn double_quoted(s: &str) -> Option<(String, usize)> {
    let bytes = s.as_bytes();
    let mut text = String::new();
    let mut from = 1;
    loop {
        let at = from
            + bytes[from..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')?;
        text.push_str(&s[from..at]);
        if bytes[at] == b'"' {
            return Some((text, at + 1));
        }
        let (c, used) = escape(&s[at + 1..])?;
        text.push(c);
        from = at + 1 + used;
    }
}

/// The character of an escape (the text after its backslash) and the bytes it takes.
fn escape(s: &str) -> Option<(char, usize)> {
    let hex = |digits: usize| {
        let code = s.get(1..1 + digits)?;
        if !code.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let c = char::from_u32(u32::from_str_radix(code, 16).ok()?)?;
        Some((c, 1 + digits))
    };
    let c = match s.as_bytes().first()? {
        b'0' => '\0',
        b'a' => '\u{7}',
        b'b' => '\u{8}',
        b't' => '\t',
        b'n' => '\n',
        b'v' => '\u{b}',
        b'f' => '\u{c}',
        b'r' => '\r',
        b'e' => '\u{1b}',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' => return hex(2),
        b'u' => return hex(4),
        b'U' => return hex(8),
        _ => return None,
    };
    Some((c, 1))
}
