//! JSON text (`kubectl get -o json`, JSON manifests) through `serde_json`, with gwsim's budgets
//! and duplicate keys noticed. One value per document; several values one after the other are
//! several documents.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::{
    Budgets, Document, ListItems, LoadError, ObjectSink, Origin, RawDocument, Warning,
    depth_message, duplicate_key_message, nodes_message, parse_in_rounds, yaml,
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
    let mut state = State::new(budgets);
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
    if let Ok(again) = yaml::parse_full(source_name, text, budgets)
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

impl<'a> State<'a> {
    /// Nothing counted yet, at the first document.
    fn new(budgets: &'a Budgets) -> State<'a> {
        State {
            budgets,
            nodes: 0,
            breach: None,
            duplicate_keys: Vec::new(),
            document: 1,
        }
    }

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

/// What [`stream_list`] did with a text.
pub(super) enum Streamed {
    /// Every item was given to the sink; these were not objects.
    Done(Vec<(Origin, String)>),
    /// The text is not one JSON `kind: List` (or `*List`) object the stream reader takes:
    /// nothing was given to the sink.
    NotAList,
    /// The text went wrong part way (not JSON, a budget, a duplicate key): some items may
    /// have been given to the sink; the text must be read again by [`parse`], which says
    /// what is wrong.
    Failed,
}

/// Reads a text that is one JSON `kind: List` (what `kubectl get -o json` prints) item by
/// item, giving each object to `sink` as soon as it is read: the items never sit in memory
/// all at once. The objects, their origins and the skipped items are exactly those [`parse`]
/// and [`super::load`] give.
pub(super) fn stream_list(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    sink: &mut dyn ObjectSink,
) -> Streamed {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    stream_list_on(source_name, text, budgets, sink, workers)
}

/// [`stream_list`] with `workers` threads parsing a large List's items.
pub(super) fn stream_list_on(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    sink: &mut dyn ObjectSink,
    workers: usize,
) -> Streamed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(list) = scan_list(text) else {
        return Streamed::NotAList;
    };
    let mut state = State::new(budgets);
    let lead = text.len() - text.trim_start().len();
    let mut items = ListItems {
        source_name,
        line: 1 + count_lines(&text[..lead]),
        item_lines: &list.item_lines,
        api_version: &list.api_version,
        item_kind: list.item_kind.as_deref(),
        next: 0,
        skipped: Vec::new(),
        sink,
    };
    let read = if workers > 1 && list.item_spans.len() >= PARALLEL_MIN_ITEMS {
        read_in_parallel(text, &list.item_spans, &mut state, &mut items, workers)
    } else {
        read_root(text, &mut state, &mut items)
    };
    if !read || !state.duplicate_keys.is_empty() {
        return Streamed::Failed;
    }
    Streamed::Done(items.skipped)
}

/// From this many items a List's items are parsed on one thread per core.
pub(super) const PARALLEL_MIN_ITEMS: usize = 64;

/// Reads the root object, its items handed on one by one; whether it read.
fn read_root(text: &str, state: &mut State<'_>, items: &mut ListItems<'_>) -> bool {
    let mut de = serde_json::Deserializer::from_str(text);
    let read = RootSeed { state, items }.deserialize(&mut de);
    read.is_ok() && de.end().is_ok()
}

/// The parallel reading of a List whose items lie at `spans`: the root without its items is
/// read (for its syntax and budgets) as [`read_root`] reads it, then the items are parsed in
/// rounds, each round split between `workers` threads and handed on in order. The scan
/// found nothing but white space and single commas between the spans, so the items parsed
/// one by one are the array's. Whether it read; any failure sends the text to [`parse`].
fn read_in_parallel(
    text: &str,
    spans: &[(usize, usize)],
    state: &mut State<'_>,
    items: &mut ListItems<'_>,
    workers: usize,
) -> bool {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return false;
    };
    let skeleton = format!("{}{}", &text[..first.0], &text[last.1..]);
    let mut discard = Discard;
    let mut none = ListItems {
        source_name: items.source_name,
        line: items.line,
        item_lines: items.item_lines,
        api_version: items.api_version,
        item_kind: items.item_kind,
        next: 0,
        skipped: Vec::new(),
        sink: &mut discard,
    };
    if !read_root(&skeleton, state, &mut none) || none.next != 0 {
        return false;
    }
    let budgets = state.budgets;
    parse_in_rounds(
        spans,
        workers,
        |part| parse_items(text, part, budgets),
        |(values, nodes)| {
            state.nodes += nodes;
            if state.nodes > budgets.max_nodes {
                return false;
            }
            for value in values {
                items.item(value);
            }
            true
        },
    )
}

/// Parses the items at `spans`, each at the depth of a List's item, with its own node
/// count; `None` when one is not exactly one JSON value, passes a budget or repeats a key.
fn parse_items(
    text: &str,
    spans: &[(usize, usize)],
    budgets: &Budgets,
) -> Option<(Vec<Value>, usize)> {
    let mut state = State::new(budgets);
    let mut values = Vec::with_capacity(spans.len());
    for &(start, end) in spans {
        let mut de = serde_json::Deserializer::from_str(text.get(start..end)?);
        let value = ValueSeed {
            state: &mut state,
            depth: 2,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        values.push(value);
    }
    state
        .duplicate_keys
        .is_empty()
        .then_some((values, state.nodes))
}

/// A sink that keeps nothing (the root read without its items).
struct Discard;

impl ObjectSink for Discard {
    fn object(&mut self, _: Document) {}
    fn restart(&mut self) {}
}

/// What a scan of a JSON text found about its root object, when it is a List the stream
/// reader takes.
struct ListScan {
    item_lines: Vec<usize>,
    /// The byte range of each item of `items` (its first to its last significant byte).
    item_spans: Vec<(usize, usize)>,
    api_version: String,
    /// `None` for `kind: List`; the item kind of a typed list (`HTTPRouteList`).
    item_kind: Option<String>,
}

/// One pass over the text, tracking strings and nesting: the root object's keys (each once),
/// its `kind` and `apiVersion` (strings without escapes), and the line of each item of
/// `items`. `None` unless the text is one object that is a List (as [`super::list_kind`]
/// reads it) with nothing after it; syntax is not checked here.
fn scan_list(text: &str) -> Option<ListScan> {
    /// What the next token at depth 1 is.
    #[derive(Clone, Copy)]
    enum Next<'t> {
        Key,
        Colon(&'t [u8]),
        Value(&'t [u8]),
        Other,
    }
    let bytes = text.as_bytes();
    let (mut depth, mut line) = (0usize, 1);
    let mut keys: Vec<&[u8]> = Vec::new();
    let (mut kind, mut api_version): (Option<&str>, Option<&str>) = (None, None);
    let mut next = Next::Other;
    let (mut in_items, mut expect_item) = (false, false);
    let mut item_lines = Vec::new();
    let mut item_spans: Vec<(usize, usize)> = Vec::new();
    // The end of the last significant byte seen, and whether a comma in `items` waits for
    // its item (`[a,]` is not JSON: the scan gives up and the full reader says so).
    let (mut last_end, mut after_comma) = (0, false);
    let mut root_end = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            line += usize::from(b == b'\n');
            i = skip_spaces(bytes, i + 1);
            continue;
        }
        if expect_item {
            if b == b',' || (b == b']' && after_comma) {
                return None;
            }
            if b != b']' {
                item_lines.push(line);
                item_spans.push((i, i));
                expect_item = false;
                after_comma = false;
            }
        }
        if in_items
            && depth == 2
            && matches!(b, b',' | b']')
            && let Some(span) = item_spans.last_mut()
        {
            span.1 = last_end;
        }
        match b {
            b'"' => {
                let start = i + 1;
                let j = string_end(bytes, start)?;
                let string = bytes.get(start..j)?;
                if depth == 1 {
                    next = match next {
                        Next::Key => {
                            keys.push(string);
                            Next::Colon(string)
                        }
                        Next::Value(key) => {
                            let plain = std::str::from_utf8(string)
                                .ok()
                                .filter(|s| !s.contains('\\'));
                            match key {
                                b"kind" => kind = plain,
                                b"apiVersion" => api_version = plain,
                                _ => {}
                            }
                            Next::Other
                        }
                        _ => Next::Other,
                    };
                }
                i = j + 1;
                last_end = i;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                match depth {
                    1 if b == b'{' => next = Next::Key,
                    1 => return None,
                    2 => {
                        in_items = b == b'[' && matches!(next, Next::Value(b"items"));
                        expect_item = in_items;
                        next = Next::Other;
                    }
                    _ => {}
                }
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                match depth {
                    0 => {
                        root_end = Some(i);
                        break;
                    }
                    1 => in_items = false,
                    _ => {}
                }
            }
            b',' if depth == 1 => next = Next::Key,
            b',' if depth == 2 && in_items => (expect_item, after_comma) = (true, true),
            b':' if depth == 1 => {
                if let Next::Colon(key) = next {
                    next = Next::Value(key);
                }
            }
            _ if depth == 1 => next = Next::Other,
            _ => {}
        }
        i += 1;
        last_end = i;
    }
    let end = root_end?;
    if !text[end + 1..].trim().is_empty() {
        return None;
    }
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) || !keys.contains(&&b"items"[..]) {
        return None;
    }
    let kind = kind?;
    let item_kind = if kind == "List" {
        None
    } else {
        let item_kind = kind.strip_suffix("List")?;
        if item_kind.is_empty() || keys.contains(&&b"spec"[..]) {
            return None;
        }
        Some(item_kind.to_string())
    };
    Some(ListScan {
        item_lines,
        item_spans,
        api_version: api_version.unwrap_or("").to_string(),
        item_kind,
    })
}

/// The index after a run of spaces from `i` (kubectl indents with runs of them), eight at a
/// time.
fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
    while let Some(word) = bytes.get(i..i + 8) {
        if u64::from_ne_bytes(word.try_into().unwrap_or_default()) != SPACES {
            break;
        }
        i += 8;
    }
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// The index of the `"` that closes the string whose text starts at `start`, escapes
/// skipped; `None` when the text ends first. A line break in a string is not JSON: the
/// reader refuses it later, so lines need not be counted here.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut j = start;
    loop {
        j += memchr::memchr2(b'"', b'\\', bytes.get(j..)?)?;
        if bytes[j] == b'"' {
            return Some(j);
        }
        j += 2;
    }
}

/// The root object: `items` read item by item, the other members read (for syntax and
/// budgets) and dropped, as [`super::load`] drops them from a List.
struct RootSeed<'s, 'b, 'o> {
    state: &'s mut State<'b>,
    items: &'s mut ListItems<'o>,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut root = ValueSeed {
            state: &mut *self.state,
            depth: 0,
        };
        let depth = root.enter::<A::Error>()?;
        while let Some(key) = access.next_key::<String>()? {
            if key == "items" {
                access.next_value_seed(ItemsSeed {
                    state: &mut *self.state,
                    items: &mut *self.items,
                    depth,
                })?;
            } else {
                access.next_value_seed(ValueSeed {
                    state: &mut *self.state,
                    depth,
                })?;
            }
        }
        Ok(())
    }
}

/// The `items` array: each item read into a value and handed on at once.
struct ItemsSeed<'s, 'b, 'o> {
    state: &'s mut State<'b>,
    items: &'s mut ListItems<'o>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut array = ValueSeed {
            state: &mut *self.state,
            depth: self.depth,
        };
        let depth = array.enter::<A::Error>()?;
        while let Some(item) = seq.next_element_seed(ValueSeed {
            state: &mut *self.state,
            depth,
        })? {
            self.items.item(item);
        }
        Ok(())
    }
}
