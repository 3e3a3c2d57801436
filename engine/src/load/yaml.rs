//! A YAML stream into JSON values, from the parser's events: no intermediate tree, every node
//! with its position, budgets counted as nodes arrive, duplicate keys warned about, merge keys
//! (`<<`) and aliases resolved as kubectl's YAML library does.

use std::collections::HashMap;

use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{
    ErrorKind, Event, Options, Parser, ScalarStyle, ScanError, Span, Tag,
};

use super::{
    Budgets, LoadError, RawDocument, Warning, alias_message, depth_message, duplicate_key_message,
    nodes_message, scalar,
};

/// The documents of a stream and the warnings found while reading them.
pub(super) struct Parsed {
    pub documents: Vec<RawDocument>,
    pub warnings: Vec<Warning>,
}

/// Parses a whole stream.
pub(super) fn parse(source_name: &str, text: &str, budgets: &Budgets) -> Result<Parsed, LoadError> {
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
    })
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
