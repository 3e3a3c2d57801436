//! YAML text into documents.
//!
//! The engine reads no files: callers hand it text with a name for error messages. A stream
//! is split on `---` lines, each document parsed on its own (so an error names the document
//! and the line in the file), and `kind: List` documents are expanded into their items.

use std::fmt;

use serde::Serialize;

/// Where a document came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    /// File path as given, or a name such as `scenario.yaml: manifests[0]`.
    pub source: String,
    /// Index of the document in its stream, from 0.
    pub document: usize,
    /// Line of the document's first line in the source, from 1.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} (document {})",
            self.source, self.line, self.document
        )
    }
}

/// One parsed document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub origin: Origin,
    pub value: serde_json::Value,
}

/// Text that is not YAML, or YAML that is not a Kubernetes object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The YAML parser failed.
    #[error("{source_name}:{line}:{column}: document {document}: {message}")]
    Yaml {
        source_name: String,
        line: usize,
        column: usize,
        document: usize,
        message: String,
    },
    /// A document that is not a mapping with `apiVersion` and `kind`.
    #[error("{origin}: {message}")]
    NotAnObject { origin: Origin, message: String },
}

/// Parses a YAML stream into documents. Empty documents (only comments or blank) are skipped.
pub fn parse_documents(source_name: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    let mut docs = Vec::new();
    for (index, (first_line, chunk)) in split_stream(text).into_iter().enumerate() {
        let value: serde_json::Value = match serde_saphyr::from_str(&chunk) {
            Ok(v) => v,
            Err(e) => {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line() as usize, l.column() as usize))
                    .unwrap_or((1, 1));
                return Err(LoadError::Yaml {
                    source_name: source_name.to_string(),
                    line: first_line + line.saturating_sub(1),
                    column,
                    document: index,
                    message: parser_message(&e.to_string()),
                });
            }
        };
        let origin = Origin {
            source: source_name.to_string(),
            document: index,
            line: first_line,
        };
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::Object(ref map) => {
                if map.get("kind").and_then(|k| k.as_str()) == Some("List") {
                    let items = map.get("items").and_then(|i| i.as_array());
                    for item in items.into_iter().flatten() {
                        check_object(item, &origin)?;
                        docs.push(Document {
                            origin: origin.clone(),
                            value: item.clone(),
                        });
                    }
                } else {
                    check_object(&value, &origin)?;
                    docs.push(Document { origin, value });
                }
            }
            _ => {
                return Err(LoadError::NotAnObject {
                    origin,
                    message: "a document must be a mapping with apiVersion and kind".into(),
                });
            }
        }
    }
    Ok(docs)
}

fn check_object(value: &serde_json::Value, origin: &Origin) -> Result<(), LoadError> {
    for field in ["apiVersion", "kind"] {
        if !value.get(field).is_some_and(|v| v.is_string()) {
            return Err(LoadError::NotAnObject {
                origin: origin.clone(),
                message: format!("{field} is missing or not a string"),
            });
        }
    }
    Ok(())
}

/// The first line of the parser's message, without its own "line N column M" prefix.
fn parser_message(display: &str) -> String {
    let first = display.lines().next().unwrap_or(display);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest.to_string(),
        _ => first.to_string(),
    }
}

/// Splits a stream on document markers. Returns each chunk with the line (from 1) of its
/// first line. A marker line `--- x` keeps `x` as the document's first content.
fn split_stream(text: &str) -> Vec<(usize, String)> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        let end = line == "..." || line.starts_with("... ");
        if marker || end {
            chunks.push((start, std::mem::take(&mut current)));
            start = number;
            if marker {
                // Keep line numbers right: the marker line becomes an empty line of the next chunk.
                current.push_str(line[3..].trim_start());
                current.push('\n');
            } else {
                start = number + 1;
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    chunks.push((start, current));
    chunks
        .into_iter()
        .filter(|(_, c)| {
            c.lines().any(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_numbers_documents() {
        let text = "# leading comment\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n";
        let docs = parse_documents("x.yaml", text).expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].origin.line, 1);
        assert_eq!(docs[1].origin.line, 6);
        assert_eq!(docs[1].origin.document, 1);
        assert_eq!(docs[1].value["metadata"]["name"], "b");
    }

    #[test]
    fn yaml_error_names_file_line_column_and_document() {
        let text = "apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: [Namespace\n";
        let err = parse_documents("bad.yaml", text).expect_err("fails");
        match err {
            LoadError::Yaml {
                source_name,
                line,
                document,
                ..
            } => {
                assert_eq!(source_name, "bad.yaml");
                assert_eq!(document, 1);
                assert_eq!(line, 5);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn expands_lists() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n";
        let docs = parse_documents("l.yaml", text).expect("parses");
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn refuses_documents_without_kind() {
        let err = parse_documents("k.yaml", "apiVersion: v1\nmetadata: {}\n").expect_err("fails");
        assert!(err.to_string().contains("kind is missing"), "{err}");
    }
}
