//! The patch formats kubectl sends: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
//! strategic merge patch (core kinds: lists merged by their patch merge key).

use serde_json::{Map, Value};

/// Why a patch could not be applied; the API server answers 422 or 400 with this text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("the server rejected our request due to an error in our request: {0}")]
    Malformed(String),
    #[error("{0}")]
    Failed(String),
}

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object");
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// RFC 6902 operations, in order; any failure leaves `target` unchanged.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Some(ops) = patch.as_array() else {
        return Err(PatchError::Malformed(
            "a JSON patch must be a list of operations".into(),
        ));
    };
    let mut work = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::Malformed(format!("operation {i}: missing path")))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| PatchError::Malformed(format!("operation {i}: missing value")))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| PatchError::Malformed(format!("operation {i}: missing from")))
        };
        match name {
            "add" => add(&mut work, path, value()?)?,
            "remove" => {
                remove(&mut work, path)?;
            }
            "replace" => {
                remove(&mut work, path)?;
                add(&mut work, path, value()?)?;
            }
            "move" => {
                let moved = remove(&mut work, from()?)?;
                add(&mut work, path, moved)?;
            }
            "copy" => {
                let copied = work
                    .pointer(from()?)
                    .cloned()
                    .ok_or_else(|| missing(from().unwrap_or_default()))?;
                add(&mut work, path, copied)?;
            }
            "test" => {
                if work.pointer(path) != Some(&value()?) {
                    return Err(PatchError::Failed(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
            other => {
                return Err(PatchError::Malformed(format!("Unexpected kind: {other}")));
            }
        }
    }
    *target = work;
    Ok(())
}

fn missing(path: &str) -> PatchError {
    PatchError::Failed(format!("doc is missing path: \"{path}\": missing value"))
}

fn split_pointer(path: &str) -> Result<(&str, String), PatchError> {
    let idx = path
        .rfind('/')
        .ok_or_else(|| PatchError::Malformed(format!("invalid JSON pointer {path:?}")))?;
    let last = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&path[..idx], last))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    let container = target.pointer_mut(parent).ok_or_else(|| missing(path))?;
    match container {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let at = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>().map_err(|_| missing(path))?
            };
            if at > items.len() {
                return Err(missing(path));
            }
            items.insert(at, value);
            Ok(())
        }
        _ => Err(missing(path)),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (parent, last) = split_pointer(path)?;
    let container = target.pointer_mut(parent).ok_or_else(|| missing(path))?;
    match container {
        Value::Object(map) => map.remove(&last).ok_or_else(|| missing(path)),
        Value::Array(items) => {
            let at = last.parse::<usize>().map_err(|_| missing(path))?;
            if at >= items.len() {
                return Err(missing(path));
            }
            Ok(items.remove(at))
        }
        _ => Err(missing(path)),
    }
}

/// The patch merge key of a list field of the core kinds gwsim serves (`patchMergeKey` in
/// their Go types), or `None` for a list replaced whole.
pub fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let key = match field {
        "containers" | "initContainers" | "env" | "volumes" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "conditions" => "type",
        // Service ports merge on `port`, container ports on `containerPort`.
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        "listeners" => "name",
        _ => return None,
    };
    Some(key)
}

/// Strategic merge patch: as a merge patch, but lists with a merge key merge element by
/// element (`$patch: delete` removes one), and the `$setElementOrder`, `$retainKeys` and
/// `$deleteFromPrimitiveList` directives kubectl writes are honoured or dropped.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = Value::Object(patch.clone());
        strip_directives(&mut replaced);
        *target = replaced;
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object");
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        map.retain(|k, _| keep.contains(&k.as_str()) || patch.contains_key(k));
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(gone)) = (map.get_mut(field), value.as_array())
            {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if key.starts_with("$setElementOrder/") {
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Array(patch_items) => {
                let existing = map
                    .get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let merged = match merge_key(key, patch_items) {
                    Some(mk) if patch_items.iter().all(Value::is_object) => {
                        merge_keyed_list(existing, patch_items, mk)?
                    }
                    _ => {
                        let mut v = Value::Array(patch_items.clone());
                        strip_directives(&mut v);
                        v.as_array().cloned().unwrap_or_default()
                    }
                };
                map.insert(key.clone(), Value::Array(merged));
            }
            Value::Object(_) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value)?;
            }
            other => {
                map.insert(key.clone(), other.clone());
            }
        }
    }
    Ok(())
}

fn merge_keyed_list(
    mut existing: Vec<Value>,
    patch_items: &[Value],
    key: &str,
) -> Result<Vec<Value>, PatchError> {
    for item in patch_items {
        let Some(id) = item.get(key) else {
            return Err(PatchError::Failed(format!(
                "map: {item} does not contain declared merge key: {key}"
            )));
        };
        let position = existing.iter().position(|e| e.get(key) == Some(id));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(p) = position {
                existing.remove(p);
            }
            continue;
        }
        match position {
            Some(p) => strategic_merge(&mut existing[p], item)?,
            None => {
                let mut fresh = item.clone();
                strip_directives(&mut fresh);
                existing.push(fresh);
            }
        }
    }
    Ok(existing)
}

fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
    }

    #[test]
    fn json_patch_applies_all_or_nothing() {
        let mut doc = json!({"spec": {"hostnames": ["a"]}});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/spec/hostnames/-", "value": "b"},
                {"op": "replace", "path": "/spec/hostnames/0", "value": "c"},
                {"op": "test", "path": "/spec/hostnames/1", "value": "b"},
            ]),
        )
        .expect("applies");
        assert_eq!(doc, json!({"spec": {"hostnames": ["c", "b"]}}));
        let before = doc.clone();
        let err = json_patch(
            &mut doc,
            &json!([
                {"op": "remove", "path": "/spec/hostnames/0"},
                {"op": "remove", "path": "/spec/nothing"},
            ]),
        )
        .expect_err("second op fails");
        assert!(err.to_string().contains("/spec/nothing"), "{err}");
        assert_eq!(doc, before, "nothing applied");
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let mut doc = json!({"spec": {"containers": [
            {"name": "a", "image": "x"}, {"name": "b", "image": "y"}
        ], "selector": {"app": "web"}}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}],
                "selector": {"tier": "front"}
            }}),
        )
        .expect("applies");
        assert_eq!(
            doc,
            json!({"spec": {"containers": [{"name": "b", "image": "z"}],
                "selector": {"app": "web", "tier": "front"}}})
        );
    }
}
