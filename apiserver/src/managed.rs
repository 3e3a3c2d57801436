//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! A field set is a `fieldsV1` tree (`{"f:spec": {"f:hostnames": {}}}`); lists with a merge
//! key are owned per element (`k:{"name":"http"}`), other lists whole. An update takes
//! ownership of the fields it changed from every other manager; an apply owns exactly the
//! fields of its configuration, removes fields it owned before and no longer sets (when
//! nobody else owns them), and conflicts with other managers that own a field it would set
//! to a different value, unless forced.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::resources::Resource;

/// The operation a managedFields entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

type Path = Vec<String>;

/// A field another manager owns that an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// As kube-apiserver prints the manager: `"kubectl"`, or `"x" using v1 at TIME` for updates.
    pub manager: String,
    pub manager_name: String,
    pub path: String,
}

/// The field set of an object: every field but type, identity, server-set metadata and status.
pub fn fields_of(object: &Value) -> Value {
    let mut root = Map::new();
    let Some(map) = object.as_object() else {
        return json!({});
    };
    for (k, v) in map {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                let mut meta = Map::new();
                for key in ["labels", "annotations"] {
                    if let Some(Value::Object(entries)) = v.get(key) {
                        let owned: Map<String, Value> = entries
                            .keys()
                            .filter(|k| *k != LAST_APPLIED)
                            .map(|k| (format!("f:{k}"), json!({})))
                            .collect();
                        if !owned.is_empty() {
                            meta.insert(format!("f:{key}"), Value::Object(owned));
                        }
                    }
                }
                if !meta.is_empty() {
                    root.insert("f:metadata".into(), Value::Object(meta));
                }
            }
            _ => {
                root.insert(format!("f:{k}"), field_tree(k, v));
            }
        }
    }
    Value::Object(root)
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn field_tree(name: &str, value: &Value) -> Value {
    match value {
        Value::Object(map) if !map.is_empty() => Value::Object(
            map.iter()
                .map(|(k, v)| (format!("f:{k}"), field_tree(k, v)))
                .collect(),
        ),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            match crate::patch::merge_key(name, items) {
                Some(key) => {
                    let mut out = Map::new();
                    for item in items {
                        let Some(id) = item.get(key) else {
                            return json!({});
                        };
                        let mut element = match field_tree("", item) {
                            Value::Object(m) => m,
                            _ => Map::new(),
                        };
                        element.insert(".".into(), json!({}));
                        out.insert(format!("k:{}", json!({ key: id })), Value::Object(element));
                    }
                    Value::Object(out)
                }
                None => json!({}),
            }
        }
        _ => json!({}),
    }
}

/// Every leaf path of a field set.
fn leaves(set: &Value) -> Vec<Path> {
    fn walk(node: &Value, prefix: &mut Path, out: &mut Vec<Path>) {
        let Some(map) = node.as_object() else { return };
        if map.is_empty() {
            out.push(prefix.clone());
            return;
        }
        for (k, v) in map {
            prefix.push(k.clone());
            walk(v, prefix, out);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    if set.as_object().is_some_and(|m| !m.is_empty()) {
        walk(set, &mut Vec::new(), &mut out);
    }
    out
}

fn tree_of(paths: &[Path]) -> Value {
    let mut root = json!({});
    for path in paths {
        let mut node = &mut root;
        for seg in path {
            node = node
                .as_object_mut()
                .expect("nodes are objects")
                .entry(seg.clone())
                .or_insert_with(|| json!({}));
        }
    }
    root
}

/// The value a path names in an object (`None` when absent).
fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = object;
    for seg in path {
        if seg == "." {
            continue;
        }
        if let Some(name) = seg.strip_prefix("f:") {
            node = node.get(name)?;
        } else if let Some(key) = seg.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).ok()?;
            node = node
                .as_array()?
                .iter()
                .find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))?;
        } else {
            return None;
        }
    }
    Some(node)
}

/// `.spec.listeners[name="http"].port`, as kube-apiserver prints a path.
fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if let Some(name) = seg.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = seg.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        }
    }
    out
}

fn entries(object: Option<&Value>) -> Vec<Value> {
    object
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn entry_leaves(entry: &Value) -> Vec<Path> {
    entry.get("fieldsV1").map(leaves).unwrap_or_default()
}

fn printed_manager(entry: &Value) -> String {
    let name = entry.get("manager").and_then(Value::as_str).unwrap_or("");
    if entry.get("operation").and_then(Value::as_str) == Some("Update") {
        let version = entry
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        match entry.get("time").and_then(Value::as_str) {
            Some(t) => format!("{name:?} using {version} at {t}"),
            None => format!("{name:?} using {version}"),
        }
    } else {
        format!("{name:?}")
    }
}

/// Server-side apply of `config` by `manager` onto `live`: the merged object. Fields this
/// manager applied before and no longer sets, and nobody else owns, are removed.
pub fn merge_applied(live: Option<&Value>, config: &Value, manager: &str) -> Value {
    let Some(live) = live else {
        return config.clone();
    };
    let applied = leaves(&fields_of(config));
    let mut others_own: Vec<Path> = Vec::new();
    let mut previous: Vec<Path> = Vec::new();
    for entry in entries(Some(live)) {
        if is_apply_of(&entry, manager) {
            previous = entry_leaves(&entry);
        } else {
            others_own.extend(entry_leaves(&entry));
        }
    }
    let mut merged = live.clone();
    let mut dropped: Vec<Path> = previous
        .into_iter()
        .filter(|path| !applied.contains(path) && !others_own.contains(path))
        .collect();
    // Whole list elements first: their key fields (`name` of a listener) are leaves too,
    // and an element is found by its key.
    dropped.sort_by_key(|path| path.last().map(String::as_str) != Some("."));
    for path in dropped {
        remove_path(&mut merged, &path);
    }
    if crate::patch::strategic_merge(&mut merged, config).is_err() {
        // A list element without its merge key: the configuration replaces what it names.
        crate::patch::merge_patch(&mut merged, config);
    }
    merged
}

fn is_apply_of(entry: &Value, manager: &str) -> bool {
    entry.get("manager").and_then(Value::as_str) == Some(manager)
        && entry.get("operation").and_then(Value::as_str) == Some("Apply")
}

/// The fields of `fields` that other managers own and `result` (the merged, defaulted
/// object) changes from `live`.
pub fn conflicts(
    live: &Value,
    result: &Value,
    fields: &Value,
    manager: &str,
) -> Vec<(Conflict, Vec<String>)> {
    let applied = leaves(fields);
    let mut out = Vec::new();
    for entry in entries(Some(live)) {
        if is_apply_of(&entry, manager) {
            continue;
        }
        let name = entry.get("manager").and_then(Value::as_str).unwrap_or("");
        for path in entry_leaves(&entry) {
            if applied.contains(&path) && value_at(live, &path) != value_at(result, &path) {
                let conflict = Conflict {
                    manager: printed_manager(&entry),
                    manager_name: name.to_string(),
                    path: path_string(&path),
                };
                out.push((conflict, path));
            }
        }
    }
    out
}

fn remove_path(object: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let parent_path: Vec<String> = parent.to_vec();
    let parent_value = {
        let mut node = &mut *object;
        for seg in &parent_path {
            if let Some(name) = seg.strip_prefix("f:") {
                match node.get_mut(name) {
                    Some(next) => node = next,
                    None => return,
                }
            } else if let Some(key) = seg.strip_prefix("k:") {
                let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else {
                    return;
                };
                let Some(items) = node.as_array_mut() else {
                    return;
                };
                match items
                    .iter_mut()
                    .find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))
                {
                    Some(next) => node = next,
                    None => return,
                }
            }
        }
        node
    };
    if last == "." {
        // The element itself (`...k:{"name":"http"}.`): remove it from its list, unless
        // another manager still owns a field of it (it would have that leaf under it).
        if parent.last().is_some_and(|seg| seg.starts_with("k:")) {
            remove_path(object, parent);
        }
        return;
    }
    if let Some(name) = last.strip_prefix("f:") {
        if let Some(map) = parent_value.as_object_mut() {
            map.remove(name);
        }
    } else if let Some(key) = last.strip_prefix("k:")
        && let Ok(key) = serde_json::from_str::<Map<String, Value>>(key)
        && let Some(items) = parent_value.as_array_mut()
    {
        items.retain(|item| !key.iter().all(|(k, v)| item.get(k) == Some(v)));
    }
}

/// The 409 a conflicting apply gets, worded as kube-apiserver words it.
pub fn conflict_error(resource: &Resource, name: &str, conflicts: &[Conflict]) -> ApiError {
    let message = if let [one] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.path
        )
    } else {
        let mut by_manager: BTreeMap<&str, (&str, Vec<&str>)> = BTreeMap::new();
        for c in conflicts {
            by_manager
                .entry(&c.manager_name)
                .or_insert((&c.manager, Vec::new()))
                .1
                .push(&c.path);
        }
        let mut lines = Vec::new();
        for (printed, paths) in by_manager.values() {
            lines.push(format!("conflicts with {printed}:"));
            lines.extend(paths.iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError::ApplyConflict(Box::new(crate::error::ApplyConflict {
        message,
        group: resource.group().into(),
        plural: resource.plural.into(),
        name: name.into(),
        causes: conflicts
            .iter()
            .map(|c| (format!("conflict with {}", c.manager), c.path.clone()))
            .collect(),
    }))
}

fn without_managed(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            meta.remove(k);
        }
    }
    if let Some(map) = v.as_object_mut() {
        map.remove("status");
    }
    v
}

fn entry(manager: &str, op: Operation, api_version: &str, time: &str, fields: Value) -> Value {
    json!({
        "manager": manager,
        "operation": op.as_str(),
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    })
}

/// Writes `doc`'s managedFields for an update (create, replace, patch) by `manager`.
pub fn record_update(
    doc: &mut Value,
    existing: Option<&Value>,
    manager: &str,
    op: Operation,
    now: Timestamp,
) {
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let present = leaves(&fields_of(doc));
    let changed: Vec<Path> = match existing {
        None => present.clone(),
        Some(old) => present
            .iter()
            .filter(|p| value_at(old, p) != value_at(doc, p))
            .cloned()
            .collect(),
    };
    let mut out = Vec::new();
    let mut mine: Option<Value> = None;
    for e in entries(existing) {
        let is_mine = e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some(op.as_str());
        if is_mine {
            mine = Some(e);
            continue;
        }
        // Others lose what this update changed, and what it removed.
        let kept: Vec<Path> = entry_leaves(&e)
            .into_iter()
            .filter(|p| !changed.contains(p) && present.contains(p))
            .collect();
        if !kept.is_empty() {
            let mut e = e;
            e["fieldsV1"] = tree_of(&kept);
            out.push(e);
        }
    }
    let mut owned: Vec<Path> = mine.as_ref().map(entry_leaves).unwrap_or_default();
    owned.retain(|p| present.contains(p));
    for p in changed.iter() {
        if !owned.contains(p) {
            owned.push(p.clone());
        }
    }
    if !owned.is_empty() {
        let unchanged = changed.is_empty() && mine.is_some();
        match (unchanged, mine) {
            (true, Some(m)) => out.push(m),
            _ => out.push(entry(
                manager,
                op,
                &api_version,
                &now.to_string(),
                tree_of(&owned),
            )),
        }
    }
    set_entries(doc, out);
}

/// Writes `doc`'s managedFields for an apply by `manager` of a configuration with `fields`;
/// `taken` are the fields a forced apply took from other managers.
pub fn record_apply(
    doc: &mut Value,
    existing: Option<&Value>,
    manager: &str,
    fields: &Value,
    taken: &[Vec<String>],
    now: Timestamp,
) {
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let present = leaves(&fields_of(doc));
    let mut out = Vec::new();
    let mut previous: Option<Value> = None;
    for e in entries(existing) {
        let is_mine = e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply");
        if is_mine {
            previous = Some(e);
            continue;
        }
        // A forced apply takes the fields it changed from their owners.
        let kept: Vec<Path> = entry_leaves(&e)
            .into_iter()
            .filter(|p| present.contains(p) && !taken.contains(p))
            .collect();
        if !kept.is_empty() {
            let mut e = e;
            e["fieldsV1"] = tree_of(&kept);
            out.push(e);
        }
    }
    let unchanged = previous.as_ref().is_some_and(|p| {
        p.get("fieldsV1") == Some(fields)
            && existing.is_some_and(|old| without_managed(old) == without_managed(doc))
    });
    match previous {
        Some(p) if unchanged => out.push(p),
        _ => out.push(entry(
            manager,
            Operation::Apply,
            &api_version,
            &now.to_string(),
            fields.clone(),
        )),
    }
    set_entries(doc, out);
}

fn set_entries(doc: &mut Value, entries: Vec<Value>) {
    if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(hostnames: &[&str]) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "default", "labels": {"a": "b"}},
            "spec": {"hostnames": hostnames, "parentRefs": [{"name": "gw"}]}})
    }

    #[test]
    fn field_sets_and_paths() {
        let set = fields_of(&route(&["x"]));
        assert_eq!(
            set,
            json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:hostnames": {}, "f:parentRefs": {}}})
        );
        let gw = json!({"spec": {"listeners": [{"name": "http", "port": 80}]}});
        let l = leaves(&fields_of(&gw));
        assert!(
            l.iter()
                .any(|p| path_string(p) == ".spec.listeners[name=\"http\"].port"),
            "{l:?}"
        );
    }

    #[test]
    fn apply_conflicts_with_another_manager_unless_forced() {
        let now = Timestamp::UNIX_EPOCH;
        let mut live = route(&["a.example"]);
        let fields = fields_of(&live);
        record_apply(&mut live, None, "first", &fields, &[], now);
        // The same values from another manager: shared ownership, no conflict.
        let same = merge_applied(Some(&live), &route(&["a.example"]), "second");
        assert!(conflicts(&live, &same, &fields, "second").is_empty());
        let other = route(&["b.example"]);
        let mut merged = merge_applied(Some(&live), &other, "second");
        let found = conflicts(&live, &merged, &fields_of(&other), "second");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.path, ".spec.hostnames");
        let list: Vec<Conflict> = found.iter().map(|(c, _)| c.clone()).collect();
        let err = conflict_error(
            crate::resources::for_kind(gwsim_engine::object::Kind::HttpRoute),
            "r",
            &list,
        );
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"first\": .spec.hostnames"
        );
        assert_eq!(merged["spec"]["hostnames"], json!(["b.example"]));
        let taken: Vec<Vec<String>> = found.into_iter().map(|(_, p)| p).collect();
        record_apply(
            &mut merged,
            Some(&live),
            "second",
            &fields_of(&other),
            &taken,
            now,
        );
        let first = merged["metadata"]["managedFields"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["manager"] == "first")
            .expect("first keeps the rest");
        assert!(
            first["fieldsV1"]["f:spec"].get("f:hostnames").is_none(),
            "{first}"
        );
    }

    #[test]
    fn apply_removes_fields_the_manager_dropped() {
        let now = Timestamp::UNIX_EPOCH;
        let mut live = route(&["a.example"]);
        record_apply(
            &mut live,
            None,
            "me",
            &fields_of(&route(&["a.example"])),
            &[],
            now,
        );
        let mut smaller = route(&["a.example"]);
        smaller["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("hostnames");
        let merged = merge_applied(Some(&live), &smaller, "me");
        assert!(merged["spec"].get("hostnames").is_none(), "{merged}");
    }

    #[test]
    fn apply_removes_list_elements_the_manager_dropped() {
        let now = Timestamp::UNIX_EPOCH;
        let gateway = |names: &[&str]| {
            let listeners: Vec<Value> = names
                .iter()
                .enumerate()
                .map(|(i, n)| json!({"name": n, "port": 80 + i, "protocol": "HTTP"}))
                .collect();
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": "gw", "namespace": "default"},
                "spec": {"gatewayClassName": "c", "listeners": listeners}})
        };
        let mut live = gateway(&["http", "extra"]);
        let fields = fields_of(&live);
        record_apply(&mut live, None, "me", &fields, &[], now);
        let merged = merge_applied(Some(&live), &gateway(&["http"]), "me");
        assert_eq!(
            merged["spec"]["listeners"],
            json!([{"name": "http", "port": 80, "protocol": "HTTP"}]),
            "{merged}"
        );
    }
}
