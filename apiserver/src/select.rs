//! Label and field selectors, as list and watch take them.

use serde_json::Value;

use crate::error::ApiError;

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector` and `fieldSelector`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

impl Selector {
    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, ApiError> {
        let labels = match labels {
            Some(s) => parse_labels(s)?,
            None => Vec::new(),
        };
        let fields = match fields {
            Some(s) => parse_fields(s)?,
            None => Vec::new(),
        };
        Ok(Selector { labels, fields })
    }

    /// Whether an object (full JSON) matches.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        let field = |k: &str| -> Option<String> {
            let pointer = format!("/{}", k.replace('.', "/"));
            match object.pointer(&pointer) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => Some(String::new()),
                Some(other) => Some(other.to_string()),
            }
        };
        self.labels
            .iter()
            .all(|r| holds(r, &|k| label(k).map(str::to_string)))
            && self.fields.iter().all(|r| holds(r, &field))
    }
}

fn holds(r: &Requirement, get: &dyn Fn(&str) -> Option<String>) -> bool {
    match r {
        Requirement::Equals(k, v) => get(k).as_deref() == Some(v.as_str()),
        Requirement::NotEquals(k, v) => get(k).as_deref() != Some(v.as_str()),
        Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::NotExists(k) => get(k).is_none(),
    }
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn bad(kind: &str, s: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "unable to parse requirement: invalid {kind} selector: {s:?}"
    ))
}

fn parse_labels(s: &str) -> Result<Vec<Requirement>, ApiError> {
    let mut out = Vec::new();
    for part in split_top(s) {
        let words: Vec<&str> = part.splitn(2, ' ').collect();
        if let [key, rest] = words.as_slice() {
            let rest = rest.trim();
            let (op, list) = if let Some(l) = rest.strip_prefix("notin") {
                ("notin", l)
            } else if let Some(l) = rest.strip_prefix("in") {
                ("in", l)
            } else {
                return Err(bad("label", part));
            };
            let list = list
                .trim()
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .ok_or_else(|| bad("label", part))?;
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            out.push(if op == "in" {
                Requirement::In(key.to_string(), values)
            } else {
                Requirement::NotIn(key.to_string(), values)
            });
        } else if let Some((k, v)) = part.split_once("!=") {
            out.push(Requirement::NotEquals(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            out.push(Requirement::Equals(k.trim().into(), v.trim().into()));
        } else if let Some(k) = part.strip_prefix('!') {
            out.push(Requirement::NotExists(k.trim().into()));
        } else {
            out.push(Requirement::Exists(part.into()));
        }
    }
    Ok(out)
}

fn parse_fields(s: &str) -> Result<Vec<Requirement>, ApiError> {
    let mut out = Vec::new();
    for part in split_top(s) {
        let req = if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else {
            return Err(bad("field", part));
        };
        let (Requirement::Equals(k, _) | Requirement::NotEquals(k, _)) = &req else {
            unreachable!("built above")
        };
        if !k.starts_with("metadata.") && !k.starts_with("spec.") && !k.starts_with("status.") {
            return Err(ApiError::BadRequest(format!(
                "field label not supported: {k}"
            )));
        }
        out.push(req);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_as_kubernetes_does() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "tier": "front"}}});
        let yes =
            |l: Option<&str>, f: Option<&str>| Selector::parse(l, f).expect("parses").matches(&o);
        assert!(yes(Some("app=web"), None));
        assert!(yes(Some("app==web,tier"), None));
        assert!(yes(Some("app in (web, api),!missing"), None));
        assert!(!yes(Some("app notin (web)"), None));
        assert!(!yes(Some("app!=web"), None));
        assert!(!yes(Some("missing"), None));
        assert!(yes(None, Some("metadata.name=a,metadata.namespace!=other")));
        assert!(!yes(None, Some("metadata.name=b")));
        assert!(Selector::parse(None, Some("involvedObject.name=a")).is_err());
        assert!(Selector::parse(Some("app in web"), None).is_err());
    }
}
