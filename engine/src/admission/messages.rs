//! The API server's cause shapes, in one place.
//!
//! Each builder returns a [`Finding`]: a [`Cause`] plus whether the API server counts it as
//! "blocking" (Required, Unsupported, TooLong, TooMany and type errors stop the CEL rules from
//! running; pattern, bound, length-minimum and duplicate errors do not).

use serde_json::Value;

use super::{Cause, CauseReason};

/// One schema-level problem and whether it blocks CEL evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub cause: Cause,
    pub blocking: bool,
}

fn finding(field: &str, reason: CauseReason, detail: String, blocking: bool) -> Finding {
    Finding {
        cause: cause(field, reason, detail),
        blocking,
    }
}

fn cause(field: &str, reason: CauseReason, detail: String) -> Cause {
    Cause {
        field: field.to_string(),
        detail,
        reason,
    }
}

/// The JSON type name the API server uses in type errors.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as the API server prints it in a cause: strings quoted, numbers and booleans bare,
/// composite values by their type name.
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::Array(_) | Value::Object(_) => quote(type_name(value)),
    }
}

/// A Go-style double-quoted string (`%q`): JSON escaping is close enough and never ambiguous.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// `<path>: Required value`
pub(crate) fn required(field: &str) -> Finding {
    finding(
        field,
        CauseReason::FieldValueRequired,
        "Required value".to_string(),
        true,
    )
}

/// `<path>: Required value: <detail>`
pub(crate) fn required_because(field: &str, detail: &str) -> Finding {
    finding(
        field,
        CauseReason::FieldValueRequired,
        format!("Required value: {detail}"),
        true,
    )
}

/// `<path>: Invalid value: "string": <path> in body must be of type integer: "string"`
pub(crate) fn wrong_type(field: &str, expected: &str, value: &Value) -> Finding {
    let actual = type_name(value);
    finding(
        field,
        CauseReason::FieldValueTypeInvalid,
        format!(
            "Invalid value: {}: {field} in body must be of type {expected}: {}",
            quote(actual),
            quote(actual)
        ),
        true,
    )
}

/// `<path>: Unsupported value: "X": supported values: "A", "B"`
pub(crate) fn unsupported(field: &str, value: &Value, supported: &[String]) -> Finding {
    let list = supported
        .iter()
        .map(|s| quote(s))
        .collect::<Vec<_>>()
        .join(", ");
    finding(
        field,
        CauseReason::FieldValueNotSupported,
        format!(
            "Unsupported value: {}: supported values: {list}",
            render(value)
        ),
        true,
    )
}

/// `<path>: Invalid value: "v": <path> in body should match '<regex>'`
pub(crate) fn pattern_mismatch(field: &str, value: &str, pattern: &str) -> Finding {
    finding(
        field,
        CauseReason::FieldValueInvalid,
        format!(
            "Invalid value: {}: {field} in body should match '{pattern}'",
            quote(value)
        ),
        false,
    )
}

/// `<path>: Invalid value: "": <path> in body should be at least 1 chars long`
pub(crate) fn too_short(field: &str, value: &str, min: usize) -> Finding {
    finding(
        field,
        CauseReason::FieldValueInvalid,
        format!(
            "Invalid value: {}: {field} in body should be at least {min} chars long",
            quote(value)
        ),
        false,
    )
}

/// `<path>: Too long: may not be more than 253 bytes`
pub(crate) fn too_long(field: &str, max: usize) -> Finding {
    finding(
        field,
        CauseReason::FieldValueTooLong,
        format!("Too long: may not be more than {max} bytes"),
        true,
    )
}

/// `<path>: Invalid value: 0: <path> in body should be greater than or equal to 1`
pub(crate) fn below_minimum(field: &str, value: &Value, min: i64) -> Finding {
    finding(
        field,
        CauseReason::FieldValueInvalid,
        format!(
            "Invalid value: {}: {field} in body should be greater than or equal to {min}",
            render(value)
        ),
        false,
    )
}

/// `<path>: Invalid value: 70000: <path> in body should be less than or equal to 65535`
pub(crate) fn above_maximum(field: &str, value: &Value, max: i64) -> Finding {
    finding(
        field,
        CauseReason::FieldValueInvalid,
        format!(
            "Invalid value: {}: {field} in body should be less than or equal to {max}",
            render(value)
        ),
        false,
    )
}

/// `<path>: Too many: 17: must have at most 16 items`
pub(crate) fn too_many(field: &str, count: usize, max: usize) -> Finding {
    finding(
        field,
        CauseReason::FieldValueTooMany,
        format!("Too many: {count}: must have at most {max} items"),
        true,
    )
}

/// `<path>: Invalid value: 0: <path> in body should have at least 1 items`
pub(crate) fn too_few(field: &str, count: usize, min: usize) -> Finding {
    finding(
        field,
        CauseReason::FieldValueInvalid,
        format!("Invalid value: {count}: {field} in body should have at least {min} items"),
        false,
    )
}

/// `<path>[i]: Duplicate value: ...` for list-map keys and set values.
pub(crate) fn duplicate(field: &str, shown: String) -> Finding {
    finding(
        field,
        CauseReason::FieldValueDuplicate,
        format!("Duplicate value: {shown}"),
        false,
    )
}

/// `<path>: Invalid value: "1.2.3": <path> in body must be of type ipv4: "1.2.3"`
pub(crate) fn bad_format(field: &str, value: &str, format_name: &str) -> Finding {
    finding(
        field,
        CauseReason::FieldValueInvalid,
        format!(
            "Invalid value: {}: {field} in body must be of type {format_name}: {}",
            quote(value),
            quote(value)
        ),
        false,
    )
}

/// A free-form `Invalid value` cause (metadata checks, typed-conversion safety net).
pub(crate) fn invalid(field: &str, value: &Value, message: &str, blocking: bool) -> Finding {
    finding(
        field,
        CauseReason::FieldValueInvalid,
        format!("Invalid value: {}: {message}", render(value)),
        blocking,
    )
}

/// `<path>: unknown field "<path>"`, as strict decoding reports it.
pub(crate) fn unknown_field(field: &str) -> Cause {
    cause(
        field,
        CauseReason::UnknownField,
        format!("unknown field {}", quote(field)),
    )
}

/// A cause that is gwsim's fault, not the document's (a safety net that should never fire).
pub(crate) fn internal(detail: &str) -> Cause {
    cause(
        "",
        CauseReason::InternalError,
        format!("Internal error: {detail}"),
    )
}

/// How the API server frames a failing CEL rule: with no `reason` in the rule (every rule of
/// the Gateway API CRDs), `field.Invalid(path, <schema type>, message)`, so
/// `<path>: Invalid value: "object": <message>`. A rule's `reason` would change the frame
/// (`Forbidden: <message>`, `Required value: <message>`, `Duplicate value: "object"`); gwsim
/// needs none of them.
pub(crate) fn rule_failed(field: &str, type_name: &str, message: &str) -> Cause {
    cause(
        field,
        CauseReason::FieldValueInvalid,
        format!("Invalid value: {}: {message}", quote(type_name)),
    )
}

/// `<path>: Invalid value: "object": no such key: <key> evaluating rule: <message>`: a CEL
/// rule read a field that is absent.
pub(crate) fn rule_no_such_key(field: &str, type_name: &str, key: &str, message: &str) -> Cause {
    cause(
        field,
        CauseReason::FieldValueInvalid,
        format!(
            "Invalid value: {}: no such key: {key} evaluating rule: {message}",
            quote(type_name)
        ),
    )
}

/// The extra cause the API server appends when a blocking error kept the CEL rules from
/// running.
pub(crate) fn rules_not_checked() -> Cause {
    cause(
        "",
        CauseReason::FieldValueInvalid,
        "Invalid value: \"null\": some validation rules were not checked because the object \
         was invalid; correct the existing errors to complete validation"
            .to_string(),
    )
}
