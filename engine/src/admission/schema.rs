//! A small schema language for the parts of the Gateway API CRD schemas gwsim admits, and the
//! passes the API server runs over a document with it.
//!
//! A [`Node`] is an object (known fields, required, defaults), a string (length, pattern, enum),
//! an integer (bounds, enum), a boolean, a list (item count, `set` or `map` list type), a map
//! with string keys, or free-form JSON. Any node may carry CEL-equivalent [`Rule`]s and
//! structural checks that the schema keywords cannot express (the Gateway address `oneOf`).
//!
//! The passes, in the API server's order:
//! 1. [`decode`]: drop `null` fields, collect unknown fields (strict field validation);
//! 2. [`apply_defaults`]: fill absent fields whose parent exists, then walk into the filled value;
//! 3. [`validate`]: types, required, enums, patterns, lengths, bounds, item counts;
//! 4. [`check_list_types`]: duplicate keys of `map` lists and duplicate values of `set` lists;
//! 5. [`evaluate_rules`]: the CEL-equivalent rules, unless a blocking error was found.
//!
//! Every walk visits object fields in document order, so causes come out in a fixed order.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::Cause;
use super::messages::{self, Finding};

/// A regular expression from a CRD `pattern` (RE2 syntax; all of them compile with `regex`),
/// kept with its source so causes can quote it.
pub(crate) struct Pattern {
    pub source: &'static str,
    regex: LazyLock<Regex>,
}

impl Pattern {
    pub(crate) const fn new(source: &'static str, regex: LazyLock<Regex>) -> Self {
        Pattern { source, regex }
    }

    /// Unanchored search, as Go's `regexp.MatchString` does: anchors come from the pattern.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// Declares a `static` [`Pattern`]. The source is a constant; a typo fails the unit test that
/// touches every pattern, never user input.
macro_rules! pattern {
    ($(#[$doc:meta])* $name:ident = $src:expr) => {
        $(#[$doc])*
        pub(crate) static $name: $crate::admission::schema::Pattern =
            $crate::admission::schema::Pattern::new($src, std::sync::LazyLock::new(|| {
                regex::Regex::new($src).expect("constant CRD pattern compiles")
            }));
    };
}
pub(crate) use pattern;

/// What a CEL-equivalent rule concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    Fail,
    /// The rule read an absent field (`no such key: <field>`), which the API server reports as
    /// an evaluation error carrying the rule's message.
    NoSuchKey(&'static str),
}

impl From<bool> for Verdict {
    fn from(ok: bool) -> Self {
        if ok { Verdict::Pass } else { Verdict::Fail }
    }
}

/// A rule over `self`.
pub(crate) type PlainCheck = Arc<dyn Fn(&Value) -> Verdict + Send + Sync>;
/// A rule over `self` and `oldSelf`.
pub(crate) type TransitionCheck = Arc<dyn Fn(&Value, &Value) -> Verdict + Send + Sync>;

/// How a rule reads the value: `self` only, or `self` and `oldSelf` (a transition rule, run
/// only on update when the stored object has a value at the same place).
#[derive(Clone)]
pub(crate) enum RuleCheck {
    Plain(PlainCheck),
    Transition(TransitionCheck),
}

/// One `x-kubernetes-validations` rule, written as a Rust function.
#[derive(Clone)]
pub(crate) struct Rule {
    pub message: Cow<'static, str>,
    pub check: RuleCheck,
}

/// A structural check the schema keywords express but this language does not (the `oneOf` of
/// the Gateway address item). Runs in [`validate`].
pub(crate) type SchemaCheck = fn(&Value, &str, &mut Vec<Finding>);

#[derive(Clone, Default)]
pub(crate) struct StrSpec {
    pub min_len: Option<usize>,
    pub max_len: Option<usize>,
    pub pattern: Option<&'static Pattern>,
    pub one_of: Option<&'static [&'static str]>,
}

#[derive(Clone, Default)]
pub(crate) struct IntSpec {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub one_of: Option<&'static [i64]>,
    /// `format: int32`: values outside the 32-bit range are refused.
    pub int32: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListType {
    Atomic,
    Set,
    Map(&'static [&'static str]),
}

#[derive(Clone)]
pub(crate) struct ListSpec {
    pub items: Node,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
    pub list_type: ListType,
}

#[derive(Clone)]
pub(crate) struct MapSpec {
    pub values: Node,
    pub max_properties: Option<usize>,
}

#[derive(Clone)]
pub(crate) struct Field {
    pub name: &'static str,
    pub node: Node,
    pub required: bool,
    pub default: Option<Value>,
}

#[derive(Clone)]
pub(crate) enum Shape {
    Object(Vec<Field>),
    Str(StrSpec),
    Int(IntSpec),
    Bool,
    List(Box<ListSpec>),
    Map(Box<MapSpec>),
    /// Free-form JSON (`metadata.managedFields[].fieldsV1`).
    Any,
}

/// A schema node: its shape, its CEL-equivalent rules and extra structural checks.
#[derive(Clone)]
pub(crate) struct Node {
    pub shape: Shape,
    pub rules: Vec<Rule>,
    pub checks: Vec<SchemaCheck>,
    /// What the nodes under this one hold, so passes skip subtrees with nothing for them
    /// (most of `metadata` and `status` has no default, rule or keyed list).
    below: Below,
}

/// Whether any node under a node (its fields, items or values, at any depth) has a default,
/// a rule, or a `set` or `map` list type. Children are complete before their parent is built,
/// so the parent computes this once.
#[derive(Clone, Copy, Default)]
struct Below {
    defaults: bool,
    rules: bool,
    list_types: bool,
}

impl Below {
    fn of(shape: &Shape) -> Below {
        let within = |node: &Node| Below {
            defaults: node.below.defaults,
            rules: node.below.rules || !node.rules.is_empty(),
            list_types: node.below.list_types || node.keyed_list(),
        };
        let either = |a: Below, b: Below| Below {
            defaults: a.defaults || b.defaults,
            rules: a.rules || b.rules,
            list_types: a.list_types || b.list_types,
        };
        match shape {
            Shape::Object(fields) => fields.iter().fold(Below::default(), |acc, f| {
                let mut b = either(acc, within(&f.node));
                b.defaults |= f.default.is_some();
                b
            }),
            Shape::List(spec) => within(&spec.items),
            Shape::Map(spec) => within(&spec.values),
            Shape::Str(_) | Shape::Int(_) | Shape::Bool | Shape::Any => Below::default(),
        }
    }
}

impl Node {
    fn of(shape: Shape) -> Self {
        let below = Below::of(&shape);
        Node {
            shape,
            rules: Vec::new(),
            checks: Vec::new(),
            below,
        }
    }

    /// A `set` or `map` list, whose items [`check_list_types`] compares.
    fn keyed_list(&self) -> bool {
        matches!(&self.shape, Shape::List(spec) if spec.list_type != ListType::Atomic)
    }

    /// The schema type name used in CEL causes (`Invalid value: "object": ...`).
    pub(crate) fn type_name(&self) -> &'static str {
        match self.shape {
            Shape::Object(_) | Shape::Map(_) | Shape::Any => "object",
            Shape::Str(_) => "string",
            Shape::Int(_) => "integer",
            Shape::Bool => "boolean",
            Shape::List(_) => "array",
        }
    }

    pub(crate) fn rule(
        mut self,
        message: impl Into<Cow<'static, str>>,
        check: impl Fn(&Value) -> Verdict + Send + Sync + 'static,
    ) -> Self {
        self.rules.push(Rule {
            message: message.into(),
            check: RuleCheck::Plain(Arc::new(check)),
        });
        self
    }

    pub(crate) fn transition_rule(
        mut self,
        message: impl Into<Cow<'static, str>>,
        check: impl Fn(&Value, &Value) -> Verdict + Send + Sync + 'static,
    ) -> Self {
        self.rules.push(Rule {
            message: message.into(),
            check: RuleCheck::Transition(Arc::new(check)),
        });
        self
    }

    pub(crate) fn check(mut self, check: SchemaCheck) -> Self {
        self.checks.push(check);
        self
    }

    fn str_spec(&mut self) -> Option<&mut StrSpec> {
        match &mut self.shape {
            Shape::Str(s) => Some(s),
            _ => None,
        }
    }

    fn int_spec(&mut self) -> Option<&mut IntSpec> {
        match &mut self.shape {
            Shape::Int(s) => Some(s),
            _ => None,
        }
    }

    fn list_spec(&mut self) -> Option<&mut ListSpec> {
        match &mut self.shape {
            Shape::List(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn min_len(mut self, n: usize) -> Self {
        if let Some(s) = self.str_spec() {
            s.min_len = Some(n);
        }
        self
    }

    pub(crate) fn max_len(mut self, n: usize) -> Self {
        if let Some(s) = self.str_spec() {
            s.max_len = Some(n);
        }
        self
    }

    pub(crate) fn pattern(mut self, p: &'static Pattern) -> Self {
        if let Some(s) = self.str_spec() {
            s.pattern = Some(p);
        }
        self
    }

    pub(crate) fn one_of(mut self, values: &'static [&'static str]) -> Self {
        if let Some(s) = self.str_spec() {
            s.one_of = Some(values);
        }
        self
    }

    pub(crate) fn min(mut self, n: i64) -> Self {
        if let Some(s) = self.int_spec() {
            s.min = Some(n);
        }
        self
    }

    pub(crate) fn max(mut self, n: i64) -> Self {
        if let Some(s) = self.int_spec() {
            s.max = Some(n);
        }
        self
    }

    pub(crate) fn int_one_of(mut self, values: &'static [i64]) -> Self {
        if let Some(s) = self.int_spec() {
            s.one_of = Some(values);
        }
        self
    }

    pub(crate) fn min_items(mut self, n: usize) -> Self {
        if let Some(s) = self.list_spec() {
            s.min_items = Some(n);
        }
        self
    }

    pub(crate) fn max_items(mut self, n: usize) -> Self {
        if let Some(s) = self.list_spec() {
            s.max_items = Some(n);
        }
        self
    }

    /// `x-kubernetes-list-type: set`: values must be unique.
    pub(crate) fn set(mut self) -> Self {
        if let Some(s) = self.list_spec() {
            s.list_type = ListType::Set;
        }
        self
    }

    /// `x-kubernetes-list-type: map` keyed by these fields: keys must be unique.
    pub(crate) fn map_keys(mut self, keys: &'static [&'static str]) -> Self {
        if let Some(s) = self.list_spec() {
            s.list_type = ListType::Map(keys);
        }
        self
    }

    /// `maxProperties` of a string-keyed map.
    pub(crate) fn max_properties(mut self, n: usize) -> Self {
        if let Shape::Map(m) = &mut self.shape {
            m.max_properties = Some(n);
        }
        self
    }
}

pub(crate) fn object(fields: Vec<Field>) -> Node {
    Node::of(Shape::Object(fields))
}

pub(crate) fn string() -> Node {
    Node::of(Shape::Str(StrSpec::default()))
}

/// `type: integer, format: int32`.
pub(crate) fn int32() -> Node {
    Node::of(Shape::Int(IntSpec {
        int32: true,
        ..IntSpec::default()
    }))
}

/// `type: integer` (int64 or no format).
pub(crate) fn int64() -> Node {
    Node::of(Shape::Int(IntSpec::default()))
}

pub(crate) fn boolean() -> Node {
    Node::of(Shape::Bool)
}

pub(crate) fn list(items: Node) -> Node {
    Node::of(Shape::List(Box::new(ListSpec {
        items,
        min_items: None,
        max_items: None,
        list_type: ListType::Atomic,
    })))
}

pub(crate) fn map_of(values: Node) -> Node {
    Node::of(Shape::Map(Box::new(MapSpec {
        values,
        max_properties: None,
    })))
}

pub(crate) fn any() -> Node {
    Node::of(Shape::Any)
}

pub(crate) fn field(name: &'static str, node: Node) -> Field {
    Field {
        name,
        node,
        required: false,
        default: None,
    }
}

impl Field {
    pub(crate) fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) fn default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }
}

/// `parent.name`, or `name` at the root.
pub(crate) fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `parent[i]`
pub(crate) fn index_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// `parent[key]`, as the API server writes map keys.
pub(crate) fn key_path(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

/// A field path, built only when a cause names it: the walks below pass these on the stack
/// instead of formatting a string per field.
#[derive(Clone, Copy)]
enum Path<'a> {
    /// The path the walk started at (`""` or `metadata`).
    Root(&'a str),
    /// `parent.name`
    Field(&'a Path<'a>, &'a str),
    /// `parent[i]`
    Index(&'a Path<'a>, usize),
    /// `parent[key]`
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root(path) => (*path).to_string(),
            Path::Field(parent, name) => child_path(&parent.render(), name),
            Path::Index(parent, i) => index_path(&parent.render(), *i),
            Path::Key(parent, key) => key_path(&parent.render(), key),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 1: pruning of nulls and strict unknown-field detection.

/// Drops `null` fields (the API server prunes them before defaulting; no Gateway API field is
/// nullable) and lists every field the schema does not know, with its full path.
pub(crate) fn decode(node: &Node, value: &mut Value, path: &str, unknown: &mut Vec<Cause>) {
    decode_at(node, value, &Path::Root(path), unknown);
}

fn decode_at(node: &Node, value: &mut Value, path: &Path<'_>, unknown: &mut Vec<Cause>) {
    match (&node.shape, value) {
        (Shape::Object(fields), Value::Object(map)) => {
            map.retain(|_, v| !v.is_null());
            for (key, child) in map.iter_mut() {
                let child_path = Path::Field(path, key);
                match fields.iter().find(|f| f.name == key) {
                    Some(f) => decode_at(&f.node, child, &child_path, unknown),
                    None => unknown.push(messages::unknown_field(&child_path.render())),
                }
            }
        }
        (Shape::Map(spec), Value::Object(map)) => {
            map.retain(|_, v| !v.is_null());
            for (key, child) in map.iter_mut() {
                decode_at(&spec.values, child, &Path::Key(path, key), unknown);
            }
        }
        (Shape::List(spec), Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                decode_at(&spec.items, item, &Path::Index(path, i), unknown);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 2: defaulting.

/// Fills absent fields that have a default, only where the parent object exists, then walks
/// into every field (so defaults inside an inserted default apply too). Explicit empty lists
/// and objects are kept as they are.
pub(crate) fn apply_defaults(node: &Node, value: &mut Value) {
    if !node.below.defaults {
        return;
    }
    match (&node.shape, value) {
        (Shape::Object(fields), Value::Object(map)) => {
            for f in fields {
                if let Some(default) = &f.default
                    && !map.contains_key(f.name)
                {
                    map.insert(f.name.to_string(), default.clone());
                }
            }
            for (key, child) in map.iter_mut() {
                if let Some(f) = fields.iter().find(|f| f.name == key) {
                    apply_defaults(&f.node, child);
                }
            }
        }
        (Shape::Map(spec), Value::Object(map)) => {
            for child in map.values_mut() {
                apply_defaults(&spec.values, child);
            }
        }
        (Shape::List(spec), Value::Array(items)) => {
            for item in items {
                apply_defaults(&spec.items, item);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 3: OpenAPI validation.

fn as_integer(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        _ => None,
    }
}

/// Validates types and OpenAPI constraints. Required fields of an object come first, then its
/// present fields in document order.
pub(crate) fn validate(node: &Node, value: &Value, path: &str, out: &mut Vec<Finding>) {
    validate_at(node, value, &Path::Root(path), out);
}

fn validate_at(node: &Node, value: &Value, path: &Path<'_>, out: &mut Vec<Finding>) {
    match &node.shape {
        Shape::Any => {}
        Shape::Object(fields) => {
            let Value::Object(map) = value else {
                out.push(messages::wrong_type(&path.render(), "object", value));
                return;
            };
            for f in fields.iter().filter(|f| f.required) {
                if !map.contains_key(f.name) {
                    out.push(messages::required(&Path::Field(path, f.name).render()));
                }
            }
            for (key, child) in map {
                if let Some(f) = fields.iter().find(|f| f.name == key) {
                    validate_at(&f.node, child, &Path::Field(path, key), out);
                }
            }
        }
        Shape::Map(spec) => {
            let Value::Object(map) = value else {
                out.push(messages::wrong_type(&path.render(), "object", value));
                return;
            };
            if let Some(max) = spec.max_properties
                && map.len() > max
            {
                out.push(messages::too_many(&path.render(), map.len(), max));
            }
            for (key, child) in map {
                validate_at(&spec.values, child, &Path::Key(path, key), out);
            }
        }
        Shape::List(spec) => {
            let Value::Array(items) = value else {
                out.push(messages::wrong_type(&path.render(), "array", value));
                return;
            };
            if let Some(max) = spec.max_items
                && items.len() > max
            {
                out.push(messages::too_many(&path.render(), items.len(), max));
            }
            if let Some(min) = spec.min_items
                && items.len() < min
            {
                out.push(messages::too_few(&path.render(), items.len(), min));
            }
            for (i, item) in items.iter().enumerate() {
                validate_at(&spec.items, item, &Path::Index(path, i), out);
            }
        }
        Shape::Str(spec) => {
            let Value::String(s) = value else {
                out.push(messages::wrong_type(&path.render(), "string", value));
                return;
            };
            validate_string(spec, s, value, path, out);
        }
        Shape::Int(spec) => {
            let Some(n) = as_integer(value) else {
                out.push(messages::wrong_type(&path.render(), "integer", value));
                return;
            };
            validate_integer(spec, n, value, path, out);
        }
        Shape::Bool => {
            if !value.is_boolean() {
                out.push(messages::wrong_type(&path.render(), "boolean", value));
                return;
            }
        }
    }
    if !node.checks.is_empty() {
        let path = path.render();
        for check in &node.checks {
            check(value, &path, out);
        }
    }
}

fn validate_string(
    spec: &StrSpec,
    s: &str,
    value: &Value,
    path: &Path<'_>,
    out: &mut Vec<Finding>,
) {
    if let Some(allowed) = spec.one_of {
        if !allowed.contains(&s) {
            let supported: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            out.push(messages::unsupported(&path.render(), value, &supported));
        }
        return;
    }
    // Lengths count characters (runes), as the API server does; bytes bound them first.
    if spec.max_len.is_some() || spec.min_len.is_some() {
        let chars = s.chars().count();
        if let Some(max) = spec.max_len
            && chars > max
        {
            out.push(messages::too_long(&path.render(), max));
        }
        if let Some(min) = spec.min_len
            && chars < min
        {
            out.push(messages::too_short(&path.render(), s, min));
        }
    }
    if let Some(p) = spec.pattern
        && !p.is_match(s)
    {
        out.push(messages::pattern_mismatch(&path.render(), s, p.source));
    }
}

fn validate_integer(
    spec: &IntSpec,
    n: i128,
    value: &Value,
    path: &Path<'_>,
    out: &mut Vec<Finding>,
) {
    let before = out.len();
    if let Some(allowed) = spec.one_of {
        if !allowed.iter().any(|a| i128::from(*a) == n) {
            let supported: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            out.push(messages::unsupported(&path.render(), value, &supported));
        }
    } else {
        if let Some(min) = spec.min
            && n < i128::from(min)
        {
            out.push(messages::below_minimum(&path.render(), value, min));
        }
        if let Some(max) = spec.max
            && n > i128::from(max)
        {
            out.push(messages::above_maximum(&path.render(), value, max));
        }
    }
    // `format: int32` only matters where no bound already refused the value.
    if out.len() == before && spec.int32 && (n < i128::from(i32::MIN) || n > i128::from(i32::MAX)) {
        out.push(messages::bad_format(
            &path.render(),
            &n.to_string(),
            "int32",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 4: list types.

/// How a list-map key is shown in a `Duplicate value` cause: the key fields as a JSON object
/// in key order (`{"name":"http"}`, `{"group":"","kind":"Secret"}`). The API server prints a
/// Go map literal here; gwsim keeps its shape but leaves out the Go type.
fn shown_key(keys: &[&str], item: &Map<String, Value>) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|k| {
            let v = item.get(*k).unwrap_or(&Value::Null);
            format!("{}:{v}", messages::quote(k))
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Duplicate keys in `map` lists and duplicate values in `set` lists, after all other schema
/// checks (the API server runs this check as a separate pass).
pub(crate) fn check_list_types(node: &Node, value: &Value, path: &str, out: &mut Vec<Finding>) {
    check_list_types_at(node, value, &Path::Root(path), out);
}

/// Lists up to this long are checked for duplicates by comparing items pairwise (no
/// allocation); longer ones through a set of their JSON text.
const PAIRWISE_LIST_LEN: usize = 16;

fn check_list_types_at(node: &Node, value: &Value, path: &Path<'_>, out: &mut Vec<Finding>) {
    if !node.below.list_types && !node.keyed_list() {
        return;
    }
    match (&node.shape, value) {
        (Shape::Object(fields), Value::Object(map)) => {
            for (key, child) in map {
                if let Some(f) = fields.iter().find(|f| f.name == key) {
                    check_list_types_at(&f.node, child, &Path::Field(path, key), out);
                }
            }
        }
        (Shape::Map(spec), Value::Object(map)) => {
            for (key, child) in map {
                check_list_types_at(&spec.values, child, &Path::Key(path, key), out);
            }
        }
        (Shape::List(spec), Value::Array(items)) => {
            match spec.list_type {
                ListType::Atomic => {}
                ListType::Set => set_duplicates(items, path, out),
                ListType::Map(keys) => map_duplicates(items, keys, path, out),
            }
            for (i, item) in items.iter().enumerate() {
                check_list_types_at(&spec.items, item, &Path::Index(path, i), out);
            }
        }
        _ => {}
    }
}

/// Items of a `set` list equal to an earlier item.
fn set_duplicates(items: &[Value], path: &Path<'_>, out: &mut Vec<Finding>) {
    let duplicate = |i: usize, item: &Value, out: &mut Vec<Finding>| {
        out.push(messages::duplicate(
            &Path::Index(path, i).render(),
            messages::render(item),
        ));
    };
    if items.len() <= PAIRWISE_LIST_LEN {
        for (i, item) in items.iter().enumerate() {
            if items[..i].contains(item) {
                duplicate(i, item, out);
            }
        }
        return;
    }
    // Keys are compared by their JSON text, in a set, so long lists stay cheap.
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        if !seen.insert(item.to_string()) {
            duplicate(i, item, out);
        }
    }
}

/// Items of a `map` list whose key fields equal an earlier item's.
fn map_duplicates(items: &[Value], keys: &[&str], path: &Path<'_>, out: &mut Vec<Finding>) {
    let key_of = |obj: &Map<String, Value>| -> Vec<Value> {
        keys.iter()
            .map(|k| obj.get(*k).cloned().unwrap_or(Value::Null))
            .collect()
    };
    let same_key = |a: &Map<String, Value>, b: &Map<String, Value>| {
        keys.iter()
            .all(|k| a.get(*k).unwrap_or(&Value::Null) == b.get(*k).unwrap_or(&Value::Null))
    };
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            continue;
        };
        let repeated = if items.len() <= PAIRWISE_LIST_LEN {
            items[..i]
                .iter()
                .filter_map(Value::as_object)
                .any(|earlier| same_key(earlier, obj))
        } else {
            !seen.insert(serde_json::to_string(&key_of(obj)).unwrap_or_default())
        };
        if repeated {
            out.push(messages::duplicate(
                &Path::Index(path, i).render(),
                shown_key(keys, obj),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 5: CEL-equivalent rules.

/// Runs every rule on every node that has a value, node first, then its children in document
/// order. `old` is the stored object's value at the same place (objects are correlated by
/// field name, lists are atomic and not correlated), for transition rules.
pub(crate) fn evaluate_rules(
    node: &Node,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    out: &mut Vec<Cause>,
) {
    evaluate_rules_at(node, value, old, &Path::Root(path), out);
}

fn evaluate_rules_at(
    node: &Node,
    value: &Value,
    old: Option<&Value>,
    path: &Path<'_>,
    out: &mut Vec<Cause>,
) {
    if node.rules.is_empty() && !node.below.rules {
        return;
    }
    for rule in &node.rules {
        let verdict = match (&rule.check, old) {
            (RuleCheck::Plain(check), _) => check(value),
            (RuleCheck::Transition(check), Some(old)) => check(value, old),
            (RuleCheck::Transition(_), None) => Verdict::Pass,
        };
        match verdict {
            Verdict::Pass => {}
            Verdict::Fail => out.push(messages::rule_failed(
                &path.render(),
                node.type_name(),
                &rule.message,
            )),
            Verdict::NoSuchKey(key) => out.push(messages::rule_no_such_key(
                &path.render(),
                node.type_name(),
                key,
                &rule.message,
            )),
        }
    }
    match (&node.shape, value) {
        (Shape::Object(fields), Value::Object(map)) => {
            for (key, child) in map {
                if let Some(f) = fields.iter().find(|f| f.name == key) {
                    let old_child = old.and_then(|o| o.get(key.as_str()));
                    evaluate_rules_at(&f.node, child, old_child, &Path::Field(path, key), out);
                }
            }
        }
        (Shape::Map(spec), Value::Object(map)) => {
            for (key, child) in map {
                let old_child = old.and_then(|o| o.get(key.as_str()));
                evaluate_rules_at(&spec.values, child, old_child, &Path::Key(path, key), out);
            }
        }
        (Shape::List(spec), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                evaluate_rules_at(&spec.items, item, None, &Path::Index(path, i), out);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Small readers for rule functions.

/// `has(self.<name>)` on an object value.
pub(crate) fn has(value: &Value, name: &str) -> bool {
    value.get(name).is_some()
}

/// The string at `self.<name>`, if present and a string.
pub(crate) fn str_at<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

/// The list at `self.<name>`, or an empty slice.
pub(crate) fn list_at<'a>(value: &'a Value, name: &str) -> &'a [Value] {
    value
        .get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The items of a list value, or an empty slice.
pub(crate) fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}
