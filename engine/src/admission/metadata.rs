//! `metadata`: its schema (so unknown fields and wrong types are reported like everywhere
//! else), the namespace rules of namespaced and cluster-scoped kinds, and the API server's
//! object-meta checks (name present and well formed, label and annotation keys and values).

use serde_json::{Value, json};

use super::messages::{self, Finding};
use super::schema::{
    Node, any, boolean, field, int64, list, map_of, object, pattern, str_at, string,
};
use crate::object::Kind;

pattern! {
    /// RFC 1123 subdomain (object names of most kinds).
    DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
}
pattern! {
    /// RFC 1123 label (namespace names).
    DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
}
pattern! {
    /// RFC 1035 label (Service names: must start with a letter).
    DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
}
pattern! {
    /// The name part of a qualified name (label and annotation keys).
    QUALIFIED_NAME = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
}
pattern! {
    /// A label value: empty, or alphanumerics at both ends with `-_.` between.
    LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
}

/// The schema of `ObjectMeta`, for strict decoding and type checks.
pub(crate) fn schema() -> Node {
    object(vec![
        field("annotations", map_of(string())),
        field("creationTimestamp", string()),
        field("deletionGracePeriodSeconds", int64()),
        field("deletionTimestamp", string()),
        field("finalizers", list(string())),
        field("generateName", string()),
        field("generation", int64()),
        field("labels", map_of(string())),
        field(
            "managedFields",
            list(object(vec![
                field("apiVersion", string()),
                field("fieldsType", string()),
                field("fieldsV1", any()),
                field("manager", string()),
                field("operation", string()),
                field("subresource", string()),
                field("time", string()),
            ])),
        ),
        field("name", string()),
        field("namespace", string()),
        field(
            "ownerReferences",
            list(object(vec![
                field("apiVersion", string()).required(),
                field("blockOwnerDeletion", boolean()),
                field("controller", boolean()),
                field("kind", string()).required(),
                field("name", string()).required(),
                field("uid", string()).required(),
            ])),
        ),
        field("resourceVersion", string()),
        field("selfLink", string()),
        field("uid", string()),
    ])
}

/// Sets the namespace the API server would: `default` for a namespaced object without one;
/// none for a cluster-scoped object (a namespace given there is dropped).
pub(crate) fn normalize_namespace(kind: Kind, doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    if kind.namespaced() {
        let missing = meta
            .get("namespace")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if missing {
            meta.insert("namespace".to_string(), json!("default"));
        }
    } else {
        meta.remove("namespace");
    }
}

/// Which DNS rule a kind's object names follow.
fn name_rule(kind: Kind) -> (&'static super::schema::Pattern, usize, &'static str) {
    match kind {
        Kind::Namespace => (
            &DNS_LABEL,
            63,
            "must be a lowercase RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        ),
        Kind::Service => (
            &DNS_1035_LABEL,
            63,
            "must be a lowercase RFC 1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit",
        ),
        _ => (
            &DNS_SUBDOMAIN,
            253,
            "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        ),
    }
}

/// Object-meta checks, run after the schema walk found `metadata` well typed.
pub(crate) fn validate(kind: Kind, doc: &Value, out: &mut Vec<Finding>) {
    let Some(meta) = doc.get("metadata") else {
        return;
    };
    match meta.get("name") {
        // A name of the wrong type is already a type error.
        Some(name) if !name.is_string() => {}
        Some(Value::String(name)) if !name.is_empty() => {
            let (pattern, max, message) = name_rule(kind);
            let value = Value::String(name.clone());
            if name.chars().count() > max {
                out.push(messages::invalid(
                    "metadata.name",
                    &value,
                    &format!("must be no more than {max} characters"),
                    false,
                ));
            }
            if !pattern.is_match(name) {
                out.push(messages::invalid("metadata.name", &value, message, false));
            }
        }
        _ => out.push(Finding {
            cause: super::Cause {
                field: "metadata.name".to_string(),
                detail: "Required value: name or generateName is required".to_string(),
            },
            blocking: true,
        }),
    }
    if let Some(ns) = str_at(meta, "namespace")
        && !(DNS_LABEL.is_match(ns) && ns.len() <= 63)
    {
        out.push(messages::invalid(
            "metadata.namespace",
            &Value::String(ns.to_string()),
            name_rule(Kind::Namespace).2,
            false,
        ));
    }
    if let Some(labels) = meta.get("labels").and_then(Value::as_object) {
        for (key, value) in labels {
            check_qualified_key("metadata.labels", key, out);
            if let Some(v) = value.as_str()
                && (v.chars().count() > 63 || !LABEL_VALUE.is_match(v))
            {
                out.push(messages::invalid(
                    &format!("metadata.labels[{key}]"),
                    value,
                    "a label value must be 63 characters or less, empty or starting and ending with a letter or digit, with '-', '_' or '.' between",
                    false,
                ));
            }
        }
    }
    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        for key in annotations.keys() {
            check_qualified_key("metadata.annotations", key, out);
        }
    }
}

/// A label or annotation key: `[prefix/]name`, prefix a DNS subdomain of at most 253
/// characters, name at most 63 characters.
fn check_qualified_key(path: &str, key: &str, out: &mut Vec<Finding>) {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && DNS_SUBDOMAIN.is_match(p));
    let name_ok = name.chars().count() <= 63 && QUALIFIED_NAME.is_match(name);
    if !(prefix_ok && name_ok) {
        out.push(messages::invalid(
            path,
            &Value::String(key.to_string()),
            "a key must be a name of at most 63 characters (letters, digits, '-', '_' or '.', starting and ending with a letter or digit), optionally prefixed by a DNS subdomain and '/'",
            false,
        ));
    }
}
