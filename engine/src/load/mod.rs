//! YAML and JSON text into documents.
//!
//! The engine reads no files: callers hand it text with a name for messages. [`load`] reads a
//! stream the way kubectl does: every YAML document (`---`), JSON documents, and `kind: List`
//! (or `*List`) documents expanded into their items; a duplicate mapping key keeps the last
//! value, with a [`Warning`]. Documents that are not Kubernetes objects (Helm `values.yaml`,
//! `Chart.yaml`, kustomization files, empty or comment-only documents) are listed as skipped
//! with the reason; only text that is not YAML at all is a [`LoadError`].
//!
//! Text is parsed straight into the `serde_json::Value` admission reads: YAML through the
//! parser's events (so every node has its line and column), JSON through `serde_json`. Every
//! number a document can make gwsim spend is bounded by [`Budgets`]: input size, nodes, nesting
//! depth, and nodes copied by aliases.

use std::fmt;

use serde::Serialize;

mod block;
mod block_list;
mod json;
mod scalar;
mod yaml;

#[cfg(test)]
mod tests;

/// Where a document came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    /// File path as given, or a name such as `scenario.yaml: manifests[0]`.
    pub source: String,
    /// Number of the document in its stream, from 1 (empty documents count).
    pub document: usize,
    /// The document's first content line in the source (its `---` marker for an empty
    /// document), from 1; for an item of a List, the item's first line.
    pub line: usize,
    /// For an item of a `kind: List` (or `*List`) document, its index in `items`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
}

impl Origin {
    /// The origin of a whole document.
    pub fn new(source: impl Into<String>, document: usize, line: usize) -> Origin {
        Origin {
            source: source.into(),
            document,
            line,
            item: None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} (document {}",
            self.source, self.line, self.document
        )?;
        if let Some(item) = self.item {
            write!(f, ", items[{item}]")?;
        }
        f.write_str(")")
    }
}

/// One parsed document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub origin: Origin,
    pub value: serde_json::Value,
}

/// Something in the text that gwsim read one way and the user may have meant another: a
/// duplicate mapping key (the last value is used, as kubectl does).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Warning {
    pub source: String,
    /// From 1.
    pub line: usize,
    /// From 1.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.source, self.line, self.column, self.message
        )
    }
}

/// What [`load`] found in a stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    /// Kubernetes objects (mappings with `apiVersion` and `kind`), in stream order, List
    /// items expanded.
    pub documents: Vec<Document>,
    /// Documents that are not Kubernetes objects, with the reason, in stream order.
    pub skipped: Vec<(Origin, String)>,
    /// Duplicate keys and the like, in stream order.
    pub warnings: Vec<Warning>,
}

impl Loaded {
    /// Appends another stream's findings (files are read one after the other).
    pub fn append(&mut self, mut other: Loaded) {
        self.documents.append(&mut other.documents);
        self.skipped.append(&mut other.skipped);
        self.warnings.append(&mut other.warnings);
    }
}

/// How much of each kind of work one input may cost. Reaching a budget is a [`LoadError`]
/// naming it; the defaults fit a whole-cluster dump of 100,000 objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// Bytes of one input (a file or standard input), and of all inputs of one command
    /// together (callers that read files enforce the total).
    pub max_input_bytes: u64,
    /// YAML or JSON nodes (scalars, mappings, sequences, and the nodes aliases copy) in one
    /// input.
    pub max_nodes: usize,
    /// Mappings and sequences nested in one another.
    pub max_depth: usize,
    /// Nodes copied by aliases (`*name`) in one input: a few kilobytes of anchors and aliases
    /// can otherwise stand for billions of nodes.
    pub max_alias_nodes: usize,
}

/// 512 MiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 512 * 1024 * 1024;

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_nodes: 64_000_000,
            max_depth: 100,
            max_alias_nodes: 1_000_000,
        }
    }
}

/// Text that cannot be read as YAML or JSON, or that goes past a [`Budgets`] limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The text is not YAML (or JSON), or reading it went past a budget.
    #[error("{source_name}:{line}:{column}: document {document}: {message}")]
    Yaml {
        source_name: String,
        /// From 1.
        line: usize,
        /// From 1.
        column: usize,
        /// From 1.
        document: usize,
        message: String,
    },
    /// A document that is not a mapping with `apiVersion` and `kind` ([`parse_documents`]
    /// only; [`load`] skips such documents).
    #[error("{origin}: {message}")]
    NotAnObject { origin: Origin, message: String },
}

/// Reads a YAML or JSON stream as kubectl does: objects, with List items expanded; documents
/// that are not objects are skipped with the reason; duplicate keys keep the last value, with
/// a warning.
pub fn load(source_name: &str, text: &str, budgets: &Budgets) -> Result<Loaded, LoadError> {
    load_in_pieces(source_name, text, budgets, pieces(text))
}

/// [`load`] with a YAML stream read in up to `pieces` pieces (one thread each) whatever its
/// size: what `load` does for large streams, callable on small ones by the tests and fuzz
/// targets that check the pieces read exactly as the whole stream does.
pub fn load_in_pieces(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    pieces: usize,
) -> Result<Loaded, LoadError> {
    load_with_reader(
        source_name,
        text,
        budgets,
        pieces,
        YamlReader::BlockFastPath,
    )
}

/// How YAML text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YamlReader {
    /// Each document by a fast reader of block-style YAML when it can read it, by the full
    /// parser otherwise, with the full parser's results (what [`load`] does).
    BlockFastPath,
    /// Every document by the full parser: what the fast path is tested against.
    Full,
}

/// [`load_in_pieces`] with a chosen YAML reader: the tests and fuzz targets check that both
/// readers give the same documents, lines, warnings and errors.
pub fn load_with_reader(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    pieces: usize,
    reader: YamlReader,
) -> Result<Loaded, LoadError> {
    if text.len() as u64 > budgets.max_input_bytes {
        return Err(LoadError::Yaml {
            source_name: source_name.to_string(),
            line: 1,
            column: 1,
            document: 1,
            message: format!(
                "the input is {}, more than gwsim reads from one input ({})",
                size(text.len() as u64),
                size(budgets.max_input_bytes)
            ),
        });
    }
    if reader == YamlReader::BlockFastPath && !json::looks_like_json(text) {
        let mut collected = Collected::default();
        if let json::Streamed::Done(skipped) =
            block_list::stream_list(source_name, text, budgets, &mut collected, pieces)
        {
            return Ok(Loaded {
                documents: collected.0,
                skipped,
                warnings: Vec::new(),
            });
        }
    }
    load_documents(source_name, text, budgets, pieces, reader)
}

/// [`load_with_reader`] without the item by item reading of a block-style List: every
/// document parsed whole, then sorted into objects and skipped documents.
fn load_documents(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    pieces: usize,
    reader: YamlReader,
) -> Result<Loaded, LoadError> {
    let (raw, warnings) = parse_stream(source_name, text, budgets, pieces, reader)?;
    let mut loaded = Loaded {
        warnings,
        ..Loaded::default()
    };
    for doc in raw {
        classify(source_name, doc, &mut loaded);
    }
    Ok(loaded)
}

/// Objects kept in order ([`load`] of a List read item by item).
#[derive(Default)]
struct Collected(Vec<Document>);

impl ObjectSink for Collected {
    fn object(&mut self, document: Document) {
        self.0.push(document);
    }

    fn restart(&mut self) {
        self.0.clear();
    }
}

/// Receives the objects of a stream as they are read ([`load_into`]).
pub trait ObjectSink {
    /// The next object, in stream order.
    fn object(&mut self, document: Document);
    /// The objects given so far for the current stream are void: it is read again from its
    /// start, and its objects are given again (or an error is returned).
    fn restart(&mut self);
}

/// [`load`], handing each object to `sink` in stream order instead of returning them all
/// (the returned [`Loaded`] has no documents). A `kind: List` (what `kubectl get -o json`
/// and `-o yaml` print) is read item by item, each item handed on as soon as it is read, so
/// the items' values never sit in memory all at once; other streams are read as [`load`]
/// reads them. When a List goes wrong part way (not JSON after all, a budget, a duplicate key), the
/// sink is told to [`restart`](ObjectSink::restart) and the text is read as [`load`] reads
/// it, which gives the error.
pub fn load_into(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    sink: &mut dyn ObjectSink,
) -> Result<Loaded, LoadError> {
    let mut tried_list = false;
    if text.len() as u64 <= budgets.max_input_bytes {
        let streamed = if json::looks_like_json(text) {
            json::stream_list(source_name, text, budgets, sink)
        } else {
            tried_list = true;
            block_list::stream_list(source_name, text, budgets, sink, cores())
        };
        match streamed {
            json::Streamed::Done(skipped) => {
                return Ok(Loaded {
                    skipped,
                    ..Loaded::default()
                });
            }
            json::Streamed::NotAList => {}
            json::Streamed::Failed => sink.restart(),
        }
    }
    let mut loaded = if tried_list {
        load_documents(
            source_name,
            text,
            budgets,
            pieces(text),
            YamlReader::BlockFastPath,
        )?
    } else {
        load(source_name, text, budgets)?
    };
    for document in std::mem::take(&mut loaded.documents) {
        sink.object(document);
    }
    Ok(loaded)
}

/// Parses a stream of manifests that must all be Kubernetes objects (scenario files, the
/// built-in fixtures): a document that is not one, or a duplicate key, is an error. Empty and
/// comment-only documents are left out.
pub fn parse_documents(source_name: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    let loaded = load(source_name, text, &Budgets::default())?;
    if let Some(warning) = loaded.warnings.into_iter().next() {
        // The warning's document: the last one that starts at or before its line.
        let document = loaded
            .documents
            .iter()
            .map(|d| &d.origin)
            .chain(loaded.skipped.iter().map(|(o, _)| o))
            .filter(|o| o.line <= warning.line)
            .map(|o| o.document)
            .max()
            .unwrap_or(1);
        return Err(LoadError::Yaml {
            source_name: warning.source,
            line: warning.line,
            column: warning.column,
            document,
            message: warning.message,
        });
    }
    if let Some((origin, reason)) = loaded
        .skipped
        .into_iter()
        .find(|(_, reason)| reason != EMPTY_DOCUMENT)
    {
        return Err(LoadError::NotAnObject {
            origin,
            message: reason,
        });
    }
    Ok(loaded.documents)
}

/// One document as parsed, before it is sorted into objects and skipped documents.
#[derive(Debug)]
struct RawDocument {
    index: usize,
    line: usize,
    /// `Null` for an empty document.
    value: serde_json::Value,
    /// When the document is a mapping whose `items` is a sequence: the line of each item.
    item_lines: Vec<usize>,
}

/// JSON through `serde_json` when the text looks like JSON (much faster than a YAML parser),
/// YAML otherwise, or when the JSON parser refuses text that is not named `.json` (YAML's flow
/// style also starts with `{`).
fn parse_stream(
    source_name: &str,
    text: &str,
    budgets: &Budgets,
    pieces: usize,
    reader: YamlReader,
) -> Result<(Vec<RawDocument>, Vec<Warning>), LoadError> {
    if json::looks_like_json(text) {
        match json::parse(source_name, text, budgets) {
            Ok(parsed) => {
                let warnings = if parsed.duplicate_keys.is_empty() {
                    Vec::new()
                } else {
                    json::duplicate_key_warnings(source_name, text, budgets, &parsed)
                };
                return Ok((parsed.documents, warnings));
            }
            Err(json::Failure::Budget(e)) => return Err(e),
            Err(json::Failure::Syntax(e)) if source_name.ends_with(".json") => return Err(e),
            Err(json::Failure::Syntax(_)) => {}
        }
    }
    let parsed = yaml::parse_split(source_name, text, budgets, pieces, reader)?;
    Ok((parsed.documents, parsed.warnings))
}

/// How many pieces to read a YAML stream in: one per core for a large stream.
fn pieces(text: &str) -> usize {
    if text.len() < yaml::SPLIT_MIN_BYTES {
        return 1;
    }
    cores()
}

/// Threads for reading one large input: one per core.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

const EMPTY_DOCUMENT: &str = "empty document (no content, or only comments)";

/// Sorts one parsed document into objects (expanding Lists) and skipped documents.
fn classify(source_name: &str, doc: RawDocument, loaded: &mut Loaded) {
    let origin = Origin::new(source_name, doc.index, doc.line);
    let serde_json::Value::Object(mut map) = doc.value else {
        let reason = match doc.value {
            serde_json::Value::Null => EMPTY_DOCUMENT.to_string(),
            other => format!(
                "{}, not a Kubernetes object (a mapping with apiVersion and kind)",
                shape(&other)
            ),
        };
        loaded.skipped.push((origin, reason));
        return;
    };
    if let Some(list_kind) = list_kind(&map) {
        let api_version = map
            .get("apiVersion")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(serde_json::Value::Array(items)) = map.remove("items") else {
            return;
        };
        for (i, item) in items.into_iter().enumerate() {
            let origin = Origin {
                line: doc.item_lines.get(i).copied().unwrap_or(doc.line),
                item: Some(i),
                ..origin.clone()
            };
            let item = fill_list_item(item, &api_version, list_kind.as_deref());
            push_object(item, origin, loaded);
        }
        return;
    }
    push_object(serde_json::Value::Object(map), origin, loaded);
}

/// Where the items of a List read item by item go as they are read ([`json::stream_list`],
/// [`block_list::stream_list`]): classified and located as [`classify`] does it.
pub(super) struct ListItems<'a> {
    pub source_name: &'a str,
    /// The line of the root object.
    pub line: usize,
    pub item_lines: &'a [usize],
    pub api_version: &'a str,
    pub item_kind: Option<&'a str>,
    /// The index of the next item.
    pub next: usize,
    pub skipped: Vec<(Origin, String)>,
    pub sink: &'a mut dyn ObjectSink,
}

impl ListItems<'_> {
    /// The next item, at its line in `item_lines` (the List's line when it has none).
    pub fn item(&mut self, value: serde_json::Value) {
        let line = self.item_lines.get(self.next).copied().unwrap_or(self.line);
        self.item_on_line(value, line);
    }

    /// The next item, whose first line is `line`.
    pub fn item_on_line(&mut self, value: serde_json::Value, line: usize) {
        let i = self.next;
        self.next += 1;
        let origin = Origin {
            source: self.source_name.to_string(),
            document: 1,
            line,
            item: Some(i),
        };
        let value = fill_list_item(value, self.api_version, self.item_kind);
        match not_an_object(&value, self.source_name) {
            None => self.sink.object(Document { origin, value }),
            Some(reason) => self.skipped.push((origin, reason)),
        }
    }
}

/// Items of a List parsed per round: bounds the values held at once.
const LIST_ROUND: usize = 1024;

/// Parses the items at `spans` in rounds of [`LIST_ROUND`], each round split between
/// `workers` threads (one thread: on the caller's), and gives each part's result to `take` in
/// span order. Whether every part parsed and `take` accepted it.
fn parse_in_rounds<S: Sync, R: Send>(
    spans: &[S],
    workers: usize,
    parse: impl Fn(&[S]) -> Option<R> + Sync,
    mut take: impl FnMut(R) -> bool,
) -> bool {
    let workers = workers.max(1);
    for round in spans.chunks(LIST_ROUND) {
        let parts: Vec<Option<R>> = if workers == 1 {
            vec![parse(round)]
        } else {
            let per_worker = round.len().div_ceil(workers);
            let parse = &parse;
            std::thread::scope(|scope| {
                let handles: Vec<_> = round
                    .chunks(per_worker)
                    .map(|part| scope.spawn(move || parse(part)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().ok().flatten())
                    .collect()
            })
        };
        for part in parts {
            if !part.is_some_and(&mut take) {
                return false;
            }
        }
    }
    true
}

/// For `kind: List`, `None`; for a typed list such as `HTTPRouteList`, the item kind
/// (`HTTPRoute`). `None` outside: not a list.
#[allow(clippy::option_option)]
fn list_kind(map: &serde_json::Map<String, serde_json::Value>) -> Option<Option<String>> {
    let kind = map.get("kind")?.as_str()?;
    if !matches!(map.get("items"), Some(serde_json::Value::Array(_))) {
        return None;
    }
    if kind == "List" {
        return Some(None);
    }
    let item_kind = kind.strip_suffix("List")?;
    if item_kind.is_empty() || map.contains_key("spec") {
        return None;
    }
    Some(Some(item_kind.to_string()))
}

/// Items of a typed list, as the API server returns them, carry no `apiVersion` and `kind`:
/// they are the list's (kubectl fills them in the same way).
fn fill_list_item(
    mut item: serde_json::Value,
    api_version: &str,
    item_kind: Option<&str>,
) -> serde_json::Value {
    if let (Some(kind), serde_json::Value::Object(map)) = (item_kind, &mut item) {
        if !map.contains_key("apiVersion") {
            map.insert("apiVersion".into(), api_version.into());
        }
        if !map.contains_key("kind") {
            map.insert("kind".into(), kind.into());
        }
    }
    item
}

/// A mapping that has `apiVersion` and `kind` is an object; anything else is skipped.
fn push_object(value: serde_json::Value, origin: Origin, loaded: &mut Loaded) {
    match not_an_object(&value, &origin.source) {
        None => loaded.documents.push(Document { origin, value }),
        Some(reason) => loaded.skipped.push((origin, reason)),
    }
}

/// Why a value is not a Kubernetes object, or `None` when it is one.
fn not_an_object(value: &serde_json::Value, source_name: &str) -> Option<String> {
    let serde_json::Value::Object(map) = value else {
        return Some(format!(
            "{}, not a Kubernetes object (a mapping with apiVersion and kind)",
            shape(value)
        ));
    };
    let text = |field: &str| map.get(field).map(serde_json::Value::as_str);
    let missing = match (text("apiVersion"), text("kind")) {
        (Some(Some(api_version)), Some(Some(kind))) => {
            if api_version.starts_with("kustomize.config.k8s.io/") {
                return Some(format!(
                    "a kustomize {kind}, not a Kubernetes object (gwsim reads rendered manifests: kustomize build | gwsim check -f -)"
                ));
            }
            return None;
        }
        (Some(Some(_)), Some(None)) => "kind is not a string",
        (Some(None), _) => "apiVersion is not a string",
        (None, None) => "apiVersion and kind are missing",
        (None, Some(_)) => "apiVersion is missing",
        (Some(Some(_)), None) => "kind is missing",
    };
    let file = source_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source_name);
    let what = match file {
        "Chart.yaml" | "Chart.yml" => "a Helm chart description (Chart.yaml)",
        f if f.starts_with("values") && (f.ends_with(".yaml") || f.ends_with(".yml")) => {
            "Helm chart values"
        }
        "kustomization.yaml" | "kustomization.yml" | "Kustomization" => "a kustomize file",
        _ => "a mapping",
    };
    Some(format!(
        "{missing}: {what}, not a Kubernetes object (a mapping with apiVersion and kind)"
    ))
}

/// `a sequence`, `a string`, ... for skip reasons.
fn shape(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "an empty value",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a sequence",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// `512 MiB`, `3.5 KiB`, `12 bytes`.
pub fn size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            return if bytes.is_multiple_of(scale) {
                format!("{} {unit}", bytes / scale)
            } else {
                format!("{:.1} {unit}", bytes as f64 / scale as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

/// `1,000,000`: budgets in messages.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The messages of each budget, in gwsim's words.
fn depth_message(budgets: &Budgets) -> String {
    format!(
        "mappings and sequences nested more than {} deep, gwsim's limit for one document",
        budgets.max_depth
    )
}

fn nodes_message(budgets: &Budgets) -> String {
    format!(
        "more than {} values, mappings and sequences, gwsim's limit for one input",
        thousands(budgets.max_nodes)
    )
}

fn alias_message(budgets: &Budgets) -> String {
    format!(
        "aliases (*name) copy more than {} values, gwsim's limit for one input",
        thousands(budgets.max_alias_nodes)
    )
}

fn duplicate_key_message(key: &str) -> String {
    format!(
        "duplicate key {}: the last value is used (as kubectl does)",
        serde_json::Value::from(key)
    )
}
