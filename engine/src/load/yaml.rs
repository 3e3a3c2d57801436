//! A YAML stream into JSON values, from the parser's events: no intermediate tree, every node
//! with its position, budgets counted as nodes arrive, duplicate keys warned about, merge keys
//! (`<<`) and aliases resolved as kubectl's YAML library does.

use std::collections::HashMap;

use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{
    ErrorKind, Event, Options, Parser, ScalarStyle, ScanError, Span, Tag,
};

use super::{
    Budgets, LoadError, RawDocument, Warning, YamlReader, alias_message, block, depth_message,
    duplicate_key_message, nodes_message, scalar,
};

/// The documents of a stream and the warnings found while reading them.
pub(super) struct Parsed {
    pub documents: Vec<RawDocument>,
    pub warnings: Vec<Warning>,
    /// Nodes read, and nodes copied by aliases, for the budgets of a stream read in pieces.
    pub nodes: usize,
    pub alias_nodes: usize,
    /// Documents read by the block-style fast path (for the tests).
    pub fast_documents: usize,
}

/// Parses a whole stream with the full parser.
pub(super) fn parse_full(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
) -> Result<Parsed, LoadError> {
    let mut options = Options::default();
    // Comments carry nothing gwsim uses; the parser's own nesting limits sit above gwsim's
    // budget, so the budget's message is the one users see.
    options.emit_comments = false;
    options.flow_nesting_limit = budgets.max_depth.saturating_add(2);
    options.block_nesting_limit = budgets.max_depth.saturating_add(2);
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut builder = Builder::new(source_name, budgets);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| builder.scan_error(&e))?;
        builder.event(event, span)?;
    }
    Ok(Parsed {
        documents: builder.documents,
        warnings: builder.warnings,
        nodes: builder.nodes,
        alias_nodes: builder.alias_nodes,
        fast_documents: 0,
    })
}

/// Parses a whole stream, each document by the block-style fast path when it can read it
/// ([`block`]), by the full parser otherwise. The result is the full parser's: when the full
/// parser fails on a document, or the documents together go past a budget, the whole stream
/// is parsed again by the full parser, so errors and budget messages are exactly its own.
/// Streams with directives (`%YAML`) or bare carriage returns go to the full parser whole.
pub(super) fn parse(source_name: &str, text: &str, budgets: &Budgets) -> Result<Parsed, LoadError> {
    if text.starts_with('%') || text.contains("\n%") || has_bare_cr(text) {
        return parse_full(source_name, text, budgets);
    }
    let mut joined = Parsed {
        documents: Vec::new(),
        warnings: Vec::new(),
        nodes: 0,
        alias_nodes: 0,
        fast_documents: 0,
    };
    let mut lines: Vec<&str> = Vec::new();
    // The chunk being gathered: its first byte and its first line (from 1).
    let (mut chunk_start, mut chunk_line) = (0, 1);
    let mut at = 0;
    let mut line_number = 1;
    while at < text.len() {
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line = &text[at..end];
        let line = line.strip_suffix('\r').unwrap_or(line);
        if at > 0 && block::is_marker(line) {
            let chunk = Chunk {
                text: &text[chunk_start..at],
                first_line: chunk_line,
                lines: &lines,
            };
            if add_chunk(source_name, &chunk, budgets, &mut joined).is_err() {
                return parse_full(source_name, text, budgets);
            }
            lines.clear();
            (chunk_start, chunk_line) = (at, line_number);
        }
        lines.push(line);
        at = end + 1;
        line_number += 1;
    }
    let chunk = Chunk {
        text: &text[chunk_start..],
        first_line: chunk_line,
        lines: &lines,
    };
    if add_chunk(source_name, &chunk, budgets, &mut joined).is_err()
        || joined.nodes > budgets.max_nodes
        || joined.alias_nodes > budgets.max_alias_nodes
    {
        return parse_full(source_name, text, budgets);
    }
    Ok(joined)
}

/// A run of lines from a `---` line (or the start of a stream) to the next one.
struct Chunk<'a> {
    text: &'a str,
    /// The line of `text`'s first line in the stream, from 1.
    first_line: usize,
    /// Its lines, without line breaks.
    lines: &'a [&'a str],
}

/// Reads a chunk's document by the fast path, or the chunk by the full parser, and appends
/// what it found. `Err` when the full parser fails on the chunk.
fn add_chunk(
    source_name: &str,
    chunk: &Chunk<'_>,
    budgets: &Budgets,
    joined: &mut Parsed,
) -> Result<(), LoadError> {
    let fast = if chunk.lines.iter().all(|l| block::plain_text(l)) {
        block::document(
            chunk.lines,
            chunk.text.ends_with('\n'),
            budgets.max_depth,
            budgets.max_nodes.saturating_sub(joined.nodes),
        )
    } else {
        None
    };
    if let Some(doc) = fast {
        joined.nodes = joined.nodes.saturating_add(doc.nodes);
        joined.fast_documents += 1;
        joined.documents.push(RawDocument {
            index: joined.documents.len() + 1,
            line: chunk.first_line + doc.line,
            value: doc.value,
            item_lines: doc
                .item_lines
                .into_iter()
                .map(|i| chunk.first_line + i)
                .collect(),
        });
        return Ok(());
    }
    let part = parse_full(source_name, chunk.text, budgets)?;
    append(joined, part, chunk.first_line);
    Ok(())
}

/// Appends the documents and warnings of a part of a stream whose first line is
/// `first_line`, renumbered and relocated in the stream.
fn append(joined: &mut Parsed, part: Parsed, first_line: usize) {
    let (documents_before, lines_before) = (joined.documents.len(), first_line - 1);
    joined.nodes = joined.nodes.saturating_add(part.nodes);
    joined.alias_nodes = joined.alias_nodes.saturating_add(part.alias_nodes);
    joined.fast_documents += part.fast_documents;
    joined
        .documents
        .extend(part.documents.into_iter().map(|mut d| {
            d.index += documents_before;
            d.line += lines_before;
            for line in &mut d.item_lines {
                *line += lines_before;
            }
            d
        }));
    joined
        .warnings
        .extend(part.warnings.into_iter().map(|mut w| {
            w.line += lines_before;
            w
        }));
}

/// A carriage return not followed by a line feed.
fn has_bare_cr(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find('\r') {
        let at = from + i;
        if bytes.get(at + 1) != Some(&b'\n') {
            return true;
        }
        from = at + 1;
    }
    false
}

/// A mapping key waiting for its value.
struct Key {
    text: String,
    line: usize,
    column: usize,
    /// `<<`: the value's keys are merged into the mapping.
    merge: bool,
}

enum Container {
    Seq(Vec<Value>),
    Map {
        map: Map<String, Value>,
        key: Option<Key>,
        /// Mappings named by `<<` keys, in order: their keys fill what the mapping lacks.
        merges: Vec<Map<String, Value>>,
    },
}

struct Frame {
    container: Container,
    anchor: usize,
    /// The node count when the collection opened, to size it for aliases.
    nodes_before: usize,
    /// The root mapping's `items` sequence: its items' lines are recorded.
    records_items: bool,
}

struct Builder<'a> {
    source_name: &'a str,
    budgets: &'a Budgets,
    frames: Vec<Frame>,
    /// Anchored nodes of the current document, with their sizes in nodes.
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    alias_nodes: usize,
    /// From 1.
    document: usize,
    document_line: usize,
    /// Whether `document_line` is the line of the document's root node yet.
    located: bool,
    root: Option<Value>,
    item_lines: Vec<usize>,
    documents: Vec<RawDocument>,
    warnings: Vec<Warning>,
}

impl<'a> Builder<'a> {
    fn new(source_name: &'a str, budgets: &'a Budgets) -> Self {
        Builder {
            source_name,
            budgets,
            frames: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            alias_nodes: 0,
            document: 1,
            document_line: 1,
            located: false,
            root: None,
            item_lines: Vec::new(),
            documents: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn error(&self, span: &Span, message: String) -> LoadError {
        LoadError::Yaml {
            source_name: self.source_name.to_string(),
            line: span.start.line(),
            column: span.start.col() + 1,
            document: self.document,
            message,
        }
    }

    /// The parser's error, in YAML's terms; its nesting limit is reported as gwsim's budget.
    fn scan_error(&self, e: &ScanError) -> LoadError {
        let message = match e.kind() {
            ErrorKind::RecursionLimitExceeded => depth_message(self.budgets),
            kind => kind.to_string(),
        };
        LoadError::Yaml {
            source_name: self.source_name.to_string(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
            document: self.document,
            message,
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), LoadError> {
        match event {
            Event::DocumentStart(..) => {
                // A document is located at its first content line (its root node); an empty
                // one at its `---` marker.
                self.document_line = span.start.line();
                self.located = false;
                self.anchors.clear();
            }
            Event::DocumentEnd => self.end_document(),
            Event::Scalar(text, style, anchor, tag) => {
                self.locate(&span);
                self.count(&span, 1)?;
                self.note_item(&span);
                if self.expects_key() {
                    let merge = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                    if anchor != 0 {
                        self.anchors
                            .insert(anchor, (Value::String(text.to_string()), 1));
                    }
                    self.set_key(text.into_owned(), &span, merge);
                } else {
                    let value = self.scalar(&text, style, tag.as_deref(), &span)?;
                    self.add(value, anchor, 1, &span)?;
                }
            }
            Event::SequenceStart(_, anchor, _) => {
                self.locate(&span);
                self.open(Container::Seq(Vec::new()), anchor, &span)?
            }
            Event::MappingStart(_, anchor, _) => {
                self.locate(&span);
                self.open(
                    Container::Map {
                        map: Map::new(),
                        key: None,
                        merges: Vec::new(),
                    },
                    anchor,
                    &span,
                )?
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(&span)?,
            Event::Alias(id) => {
                self.locate(&span);
                self.alias(id, &span)?
            }
            _ => {}
        }
        Ok(())
    }

    /// The first node of a document gives the document's line.
    fn locate(&mut self, span: &Span) {
        if !self.located {
            self.document_line = span.start.line();
            self.located = true;
        }
    }

    fn end_document(&mut self) {
        self.documents.push(RawDocument {
            index: self.document,
            line: self.document_line,
            value: self.root.take().unwrap_or(Value::Null),
            item_lines: std::mem::take(&mut self.item_lines),
        });
        self.document += 1;
        self.frames.clear();
    }

    fn count(&mut self, span: &Span, nodes: usize) -> Result<(), LoadError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > self.budgets.max_nodes {
            return Err(self.error(span, nodes_message(self.budgets)));
        }
        Ok(())
    }

    /// Records the line of an item of the root mapping's `items`.
    fn note_item(&mut self, span: &Span) {
        if let Some(Frame {
            records_items: true,
            ..
        }) = self.frames.last()
        {
            self.item_lines.push(span.start.line());
        }
    }

    fn expects_key(&self) -> bool {
        matches!(
            self.frames.last(),
            Some(Frame {
                container: Container::Map { key: None, .. },
                ..
            })
        )
    }

    fn set_key(&mut self, text: String, span: &Span, merge: bool) {
        if let Some(Frame {
            container: Container::Map { key, .. },
            ..
        }) = self.frames.last_mut()
        {
            *key = Some(Key {
                text,
                line: span.start.line(),
                column: span.start.col() + 1,
                merge,
            });
        }
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: &Span,
    ) -> Result<Value, LoadError> {
        let resolved = match tag {
            Some(tag) => scalar::resolve_tagged(tag.core_suffix(), text),
            None if style == ScalarStyle::Plain => scalar::resolve_plain(text),
            None => Ok(Value::String(text.to_string())),
        };
        resolved.map_err(|message| self.error(span, message))
    }

    fn open(&mut self, container: Container, anchor: usize, span: &Span) -> Result<(), LoadError> {
        if self.expects_key() {
            return Err(self.error(
                span,
                "a mapping key must be a string, number or boolean, not a mapping or sequence"
                    .to_string(),
            ));
        }
        self.count(span, 1)?;
        self.note_item(span);
        if self.frames.len() >= self.budgets.max_depth {
            return Err(self.error(span, depth_message(self.budgets)));
        }
        let records_items = matches!(container, Container::Seq(_))
            && matches!(
                self.frames.as_slice(),
                [Frame {
                    container: Container::Map { key: Some(key), .. },
                    ..
                }] if key.text == "items"
            );
        self.frames.push(Frame {
            container,
            anchor,
            nodes_before: self.nodes,
            records_items,
        });
        Ok(())
    }

    fn close(&mut self, span: &Span) -> Result<(), LoadError> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        let size = self.nodes - frame.nodes_before + 1;
        let value = match frame.container {
            Container::Seq(items) => Value::Array(items),
            Container::Map {
                mut map, merges, ..
            } => {
                for merged in merges {
                    for (k, v) in merged {
                        map.entry(k).or_insert(v);
                    }
                }
                Value::Object(map)
            }
        };
        self.add(value, frame.anchor, size, span)
    }

    fn alias(&mut self, id: usize, span: &Span) -> Result<(), LoadError> {
        self.note_item(span);
        let Some((value, size)) = self.anchors.get(&id) else {
            return Err(self.error(
                span,
                "this alias names a node that contains it; such a node cannot be written as JSON"
                    .to_string(),
            ));
        };
        let size = *size;
        self.alias_nodes = self.alias_nodes.saturating_add(size);
        if self.alias_nodes > self.budgets.max_alias_nodes {
            return Err(self.error(span, alias_message(self.budgets)));
        }
        let value = value.clone();
        self.count(span, size)?;
        if self.expects_key() {
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".to_string(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(self.error(
                        span,
                        "a mapping key must be a string, number or boolean, not a mapping or sequence"
                            .to_string(),
                    ));
                }
            };
            self.set_key(text, span, false);
            return Ok(());
        }
        self.add(value, 0, size, span)
    }

    /// Places a finished node in its parent (or as the document's root), remembering it when
    /// it is anchored.
    fn add(
        &mut self,
        value: Value,
        anchor: usize,
        size: usize,
        span: &Span,
    ) -> Result<(), LoadError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        match &mut frame.container {
            Container::Seq(items) => items.push(value),
            Container::Map { map, key, merges } => {
                let Some(key) = key.take() else {
                    return Ok(());
                };
                if key.merge {
                    match value {
                        Value::Object(m) => merges.push(m),
                        Value::Array(list) if list.iter().all(Value::is_object) => {
                            merges.extend(list.into_iter().filter_map(|v| match v {
                                Value::Object(m) => Some(m),
                                _ => None,
                            }));
                        }
                        _ => {
                            return Err(self.error(
                                span,
                                "a merge key (<<) takes a mapping or a list of mappings"
                                    .to_string(),
                            ));
                        }
                    }
                } else {
                    match map.entry(key.text) {
                        serde_json::map::Entry::Vacant(slot) => {
                            slot.insert(value);
                        }
                        serde_json::map::Entry::Occupied(mut slot) => {
                            slot.insert(value);
                            self.warnings.push(Warning {
                                source: self.source_name.to_string(),
                                line: key.line,
                                column: key.column,
                                message: duplicate_key_message(slot.key()),
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Below this size a stream is read on one thread: starting threads costs more than it saves.
pub(super) const SPLIT_MIN_BYTES: usize = 512 * 1024;

/// Parses a stream cut into `pieces` runs of whole documents, one thread each, and joins the
/// results in stream order: the same documents, lines and warnings as [`parse`]. A stream is
/// cut only before a `---` line at column 0, which ends any block or flow node before it
/// (YAML 1.2 §9.1.4), and only when it has no directives (`%YAML`, which apply to the next
/// document) and no bare carriage returns (which count as line breaks). When a piece fails,
/// or the pieces together go past a budget, the whole stream is parsed again in one piece,
/// so errors and budget messages are exactly those of [`parse`].
pub(super) fn parse_split(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    pieces: usize,
    reader: YamlReader,
) -> Result<Parsed, LoadError> {
    let parse = match reader {
        YamlReader::BlockFastPath => parse,
        YamlReader::Full => parse_full,
    };
    let cuts = cut_points(text, pieces);
    if cuts.len() < 2 {
        return parse(source_name, text, budgets);
    }
    let results: Vec<Result<Parsed, LoadError>> = std::thread::scope(|scope| {
        let piece = |i: usize| {
            let (start, _) = cuts[i];
            let end = cuts.get(i + 1).map_or(text.len(), |&(next, _)| next);
            &text[start..end]
        };
        let others: Vec<_> = (1..cuts.len())
            .map(|i| {
                let text = piece(i);
                scope.spawn(move || parse(source_name, text, budgets))
            })
            .collect();
        let mut results = vec![parse(source_name, piece(0), budgets)];
        for handle in others {
            results.push(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        results
    });
    let mut joined = Parsed {
        documents: Vec::new(),
        warnings: Vec::new(),
        nodes: 0,
        alias_nodes: 0,
        fast_documents: 0,
    };
    for (result, &(_, first_line)) in results.into_iter().zip(&cuts) {
        let Ok(part) = result else {
            return parse(source_name, text, budgets);
        };
        append(&mut joined, part, first_line);
    }
    if joined.nodes > budgets.max_nodes || joined.alias_nodes > budgets.max_alias_nodes {
        return parse(source_name, text, budgets);
    }
    Ok(joined)
}

/// Where to cut `text` into about `pieces` runs of documents: byte offsets of `---` lines,
/// each with its line number (from 1); the first is the start of the text. Only the start
/// when the text cannot be cut safely.
pub(super) fn cut_points(text: &str, pieces: usize) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut cuts = vec![(0, 1)];
    if pieces < 2 || bytes.first() == Some(&b'%') || has_directive_or_bare_cr(bytes) {
        return cuts;
    }
    let (mut from, mut line) = (0, 1);
    for k in 1..pieces {
        let target = (bytes.len() / pieces * k).max(from);
        let Some(at) = next_marker_line(bytes, target) else {
            break;
        };
        line += bytes[from..at].iter().filter(|&&b| b == b'\n').count();
        if at > from {
            cuts.push((at, line));
        }
        from = at;
    }
    cuts
}

/// A line starting with `%` (a directive), or a carriage return not followed by a newline.
fn has_directive_or_bare_cr(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| match w {
        [b'\n', b'%'] => true,
        [b'\r', next] => *next != b'\n',
        _ => false,
    }) || bytes.last() == Some(&b'\r')
}

/// The offset of the first line at or after `from` that is a document marker: `---` at
/// column 0 followed by white space or the end of the line.
fn next_marker_line(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < bytes.len() {
        let line_start = if at == 0 || bytes[at - 1] == b'\n' {
            at
        } else {
            at + bytes[at..].iter().position(|&b| b == b'\n')? + 1
        };
        let rest = &bytes[line_start..];
        if line_start > 0
            && rest.starts_with(b"---")
            && matches!(rest.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
        {
            return Some(line_start);
        }
        at = line_start + 1;
    }
    None
}
