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
                // Not required by the schema: an empty value is refused by the object-meta
                // checks, in their words (`uid must not be empty`).
                field("apiVersion", string()),
                field("blockOwnerDeletion", boolean()),
                field("controller", boolean()),
                field("kind", string()),
                field("name", string()),
                field("uid", string()),
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

// apimachinery's messages (k8s.io/apimachinery/pkg/util/validation), reproduced verbatim:
// they are what the API server writes.
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
/// The API server's limit on the total size of an object's annotations (keys and values).
const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

/// apimachinery's `RegexError`: the message, the examples, then the regex.
fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{format}')");
    }
    let mut out = format!("{message} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{format}')"));
    out
}

/// apimachinery's `MaxLenError`.
fn max_len_error(max: usize) -> String {
    format!("must be no more than {max} characters")
}

/// `IsDNS1123Subdomain`: every reason `value` is not one.
fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 253 {
        errors.push(max_len_error(253));
    }
    if !DNS_SUBDOMAIN.is_match(value) {
        errors.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errors
}

/// `IsDNS1123Label`.
fn dns1123_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push(max_len_error(63));
    }
    if !DNS_LABEL.is_match(value) {
        if DNS_SUBDOMAIN.is_match(value) {
            // A valid subdomain, within the length: only dots are wrong.
            errors.push("must not contain dots".to_string());
        } else {
            errors.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errors
}

/// `IsDNS1035Label`.
fn dns1035_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push(max_len_error(63));
    }
    if !DNS_1035_LABEL.is_match(value) {
        errors.push(regex_error(
            DNS1035_LABEL_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errors
}

/// `IsQualifiedName`: `[prefix/]name` for label and annotation keys.
fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                for e in dns1123_subdomain_errors(prefix) {
                    errors.push(format!("prefix part {e}"));
                }
            }
            *name
        }
        _ => {
            errors.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errors;
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push(format!("name part {}", max_len_error(63)));
    }
    if !QUALIFIED_NAME.is_match(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errors
}

/// `IsValidLabelValue`.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push(max_len_error(63));
    }
    if !LABEL_VALUE.is_match(value) {
        errors.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// The name rule of a kind's objects: Namespaces are DNS-1123 labels, Services DNS-1035
/// labels, everything else gwsim models DNS-1123 subdomains.
fn name_errors(kind: Kind, name: &str) -> Vec<String> {
    match kind {
        Kind::Namespace => dns1123_label_errors(name),
        Kind::Service => dns1035_label_errors(name),
        _ => dns1123_subdomain_errors(name),
    }
}

fn invalid_each(out: &mut Vec<Finding>, field: &str, value: &str, errors: Vec<String>) {
    let value = Value::String(value.to_string());
    for e in errors {
        out.push(messages::invalid(field, &value, &e, false));
    }
}

/// Object-meta checks (apimachinery's `ValidateObjectMetaAccessor`), in its order, run after
/// the schema walk found `metadata` well typed.
pub(crate) fn validate(kind: Kind, doc: &Value, out: &mut Vec<Finding>) {
    let Some(meta) = doc.get("metadata") else {
        return;
    };
    if let Some(generate) = str_at(meta, "generateName").filter(|g| !g.is_empty()) {
        // A prefix: the API server masks a trailing '-' (a suffix follows it) before checking.
        let masked = match generate.strip_suffix('-') {
            Some(head) => format!("{head}a"),
            None => generate.to_string(),
        };
        invalid_each(
            out,
            "metadata.generateName",
            generate,
            name_errors(kind, &masked),
        );
    }
    match meta.get("name") {
        // A name of the wrong type is already a type error.
        Some(name) if !name.is_string() => {}
        Some(Value::String(name)) if !name.is_empty() => {
            invalid_each(out, "metadata.name", name, name_errors(kind, name));
        }
        _ => out.push(messages::required_because(
            "metadata.name",
            "name or generateName is required",
        )),
    }
    if let Some(ns) = str_at(meta, "namespace") {
        invalid_each(out, "metadata.namespace", ns, dns1123_label_errors(ns));
    }
    if let Some(labels) = meta.get("labels").and_then(Value::as_object) {
        for (key, value) in labels {
            invalid_each(out, "metadata.labels", key, qualified_name_errors(key));
            if let Some(v) = value.as_str() {
                invalid_each(out, "metadata.labels", v, label_value_errors(v));
            }
        }
    }
    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        let mut total = 0;
        for (key, value) in annotations {
            // The rule is a qualified name, except that case does not matter.
            let errors = qualified_name_errors(&key.to_lowercase());
            invalid_each(out, "metadata.annotations", key, errors);
            total += key.len() + value.as_str().map_or(0, str::len);
        }
        if total > TOTAL_ANNOTATION_SIZE {
            out.push(messages::too_long(
                "metadata.annotations",
                TOTAL_ANNOTATION_SIZE,
            ));
        }
    }
    for owner in super::schema::list_at(meta, "ownerReferences") {
        validate_owner_reference(owner, out);
    }
}

/// apimachinery's `validateOwnerReference`. Its causes name `metadata.ownerReferences`
/// without an index, as the API server writes them.
fn validate_owner_reference(owner: &Value, out: &mut Vec<Finding>) {
    let text = |name: &str| str_at(owner, name).unwrap_or("");
    let api_version = text("apiVersion");
    let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
    let checks = [
        (
            "apiVersion",
            api_version,
            version.is_empty(),
            "version must not be empty",
        ),
        (
            "kind",
            text("kind"),
            text("kind").is_empty(),
            "kind must not be empty",
        ),
        (
            "name",
            text("name"),
            text("name").is_empty(),
            "name must not be empty",
        ),
        (
            "uid",
            text("uid"),
            text("uid").is_empty(),
            "uid must not be empty",
        ),
    ];
    for (field, value, bad, message) in checks {
        if bad {
            out.push(messages::invalid(
                &format!("metadata.ownerReferences.{field}"),
                &Value::String(value.to_string()),
                message,
                false,
            ));
        }
    }
}
