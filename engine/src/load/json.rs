//! JSON text (`kubectl get -o json`, JSON manifests) through `serde_json`, with gwsim's budgets
//! and duplicate keys noticed. One value per document; several values one after the other are
//! several documents.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::{
    Budgets, LoadError, RawDocument, Warning, depth_message, duplicate_key_message, nodes_message,
    yaml,
};

/// The documents, and the keys that appeared twice in one object (the last value is kept).
pub(super) struct Parsed {
    pub documents: Vec<RawDocument>,
    pub duplicate_keys: Vec<(usize, String)>,
}

/// Why JSON parsing stopped: a budget (final), or text that is not JSON (maybe YAML).
pub(super) enum Failure {
    Budget(LoadError),
    Syntax(LoadError),
}

/// Whether the text starts (after white space and a byte-order mark) like a JSON value.
pub(super) fn looks_like_json(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

pub(super) fn parse(source_name: &str, text: &str, budgets: &Budgets) -> Result<Parsed, Failure> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut state = State {
        budgets,
        nodes: 0,
        breach: None,
        duplicate_keys: Vec::new(),
        document: 1,
    };
    let mut documents = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let first = ValueSeed {
        state: &mut state,
        depth: 0,
    }
    .deserialize(&mut de)
    .map_err(|e| failure(source_name, &state, &e, 1))?;
    if de.end().is_ok() {
        documents.push(document(text, 1, 1, first));
        return Ok(Parsed {
            documents,
            duplicate_keys: state.duplicate_keys,
        });
    }
    // Several values: find where each one starts, then read each on its own.
    state.nodes = 0;
    state.duplicate_keys.clear();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<de::IgnoredAny>();
    let mut start = 0;
    let mut line = 1;
    loop {
        let before = stream.byte_offset();
        line += count_lines(&text[start..before]);
        start = before;
        match stream.next() {
            None => break,
            Some(Err(e)) => {
                return Err(Failure::Syntax(syntax(source_name, state.document, &e, 1)));
            }
            Some(Ok(_)) => {}
        }
        let end = stream.byte_offset();
        let slice = &text[start..end];
        let mut de = serde_json::Deserializer::from_str(slice);
        let value = ValueSeed {
            state: &mut state,
            depth: 0,
        }
        .deserialize(&mut de)
        .map_err(|e| failure(source_name, &state, &e, line))?;
        documents.push(document(slice, state.document, line, value));
        state.document += 1;
    }
    Ok(Parsed {
        documents,
        duplicate_keys: state.duplicate_keys,
    })
}

/// Warnings for duplicate keys, with their lines: the text is read again as YAML (JSON is
/// YAML), which knows every key's position. Rare, so the second pass costs nothing in the
/// common case.
pub(super) fn duplicate_key_warnings(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    parsed: &Parsed,
) -> Vec<Warning> {
    if let Ok(again) = yaml::parse(source_name, text, budgets)
        && !again.warnings.is_empty()
    {
        return again.warnings;
    }
    parsed
        .duplicate_keys
        .iter()
        .map(|(document, key)| Warning {
            source: source_name.to_string(),
            line: parsed
                .documents
                .get(document.saturating_sub(1))
                .map_or(1, |d| d.line),
            column: 1,
            message: duplicate_key_message(key),
        })
        .collect()
}

/// A document read from `text`, whose first line is `text_line`: located at the line where
/// its value starts (white space before it skipped).
fn document(text: &str, index: usize, text_line: usize, value: Value) -> RawDocument {
    let item_lines = if value.get("items").is_some_and(Value::is_array) {
        item_lines(text, text_line)
    } else {
        Vec::new()
    };
    let lead = text.len() - text.trim_start().len();
    RawDocument {
        index,
        line: text_line + count_lines(&text[..lead]),
        value,
        item_lines,
    }
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

fn failure(source_name: &str, state: &State, e: &serde_json::Error, first_line: usize) -> Failure {
    // serde_json's own nesting limit (128) is there only when the budget is set above it.
    let own_limit = e.to_string().starts_with("recursion limit exceeded");
    let breach = if own_limit {
        Some(depth_message(state.budgets))
    } else {
        state.breach.clone()
    };
    match breach {
        Some(message) => Failure::Budget(LoadError::Yaml {
            source_name: source_name.to_string(),
            line: first_line + e.line().saturating_sub(1),
            column: e.column(),
            document: state.document,
            message,
        }),
        None => Failure::Syntax(syntax(source_name, state.document, e, first_line)),
    }
}

/// A `serde_json` error in JSON's terms, without its own position suffix.
fn syntax(
    source_name: &str,
    document: usize,
    e: &serde_json::Error,
    first_line: usize,
) -> LoadError {
    let text = e.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m)
        .replace("EOF", "end of input");
    LoadError::Yaml {
        source_name: source_name.to_string(),
        line: first_line + e.line().saturating_sub(1),
        column: e.column().max(1),
        document,
        message,
    }
}

/// The line (from `first_line`) where each item of the root object's `items` array starts: a
/// scan that tracks strings and nesting, so a List's items can be located without a parser
/// that keeps positions.
fn item_lines(text: &str, first_line: usize) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut line = first_line;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_start = 0;
    let mut last_key: Option<(usize, usize)> = None;
    let mut in_items = false;
    let mut expect_item = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if depth == 1 {
                    last_key = Some((string_start, i));
                }
            }
            continue;
        }
        if expect_item && !b.is_ascii_whitespace() && b != b',' && b != b']' {
            lines.push(line);
            expect_item = false;
        }
        match b {
            b'\n' => line += 1,
            b'"' => {
                in_string = true;
                string_start = i + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                if b == b'[' && depth == 2 {
                    in_items = last_key.is_some_and(|(s, e)| &bytes[s..e] == b"items");
                    expect_item = in_items;
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 && in_items {
                    in_items = false;
                    expect_item = false;
                }
                if depth == 0 {
                    break;
                }
            }
            b',' if in_items && depth == 2 => expect_item = true,
            b':' if depth == 1 => {}
            _ => {}
        }
    }
    lines
}

struct State<'a> {
    budgets: &'a Budgets,
    nodes: usize,
    /// The budget message, when a budget stopped the parse.
    breach: Option<String>,
    duplicate_keys: Vec<(usize, String)>,
    document: usize,
}

impl State<'_> {
    fn count<E: de::Error>(&mut self) -> Result<(), E> {
        self.nodes += 1;
        if self.nodes > self.budgets.max_nodes {
            let message = nodes_message(self.budgets);
            self.breach = Some(message.clone());
            return Err(E::custom(message));
        }
        Ok(())
    }
}

/// Builds a `Value`, counting nodes and depth.
struct ValueSeed<'s, 'b> {
    state: &'s mut State<'b>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.state.count()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.state.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.state.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.state.count()?;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.state.count()?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.state.count()?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.state.count()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.enter::<A::Error>()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(ValueSeed {
            state: &mut *self.state,
            depth,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Value, A::Error> {
        let depth = self.enter::<A::Error>()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(ValueSeed {
                state: &mut *self.state,
                depth,
            })?;
            match map.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(mut slot) => {
                    let document = self.state.document;
                    self.state
                        .duplicate_keys
                        .push((document, slot.key().clone()));
                    slot.insert(value);
                }
            }
        }
        Ok(Value::Object(map))
    }
}

impl ValueSeed<'_, '_> {
    /// Counts a mapping or sequence and checks the depth it opens.
    fn enter<E: de::Error>(&mut self) -> Result<usize, E> {
        self.state.count()?;
        let depth = self.depth + 1;
        if depth > self.state.budgets.max_depth {
            let message = depth_message(self.state.budgets);
            self.state.breach = Some(message.clone());
            return Err(E::custom(message));
        }
        Ok(depth)
    }
}
