//! Core kinds (Namespace, Service, EndpointSlice, Deployment, Pod, Secret, ConfigMap): the
//! lighter path. `metadata` goes through the same schema walk and object-meta checks as the
//! Gateway API kinds; the rest is decoded strictly into the k8s-openapi struct, every ignored
//! field reported with its path. `status` is kept as given, so scenarios can describe pods and
//! endpoints directly.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::messages::{self, Finding};
use super::schema::{self, Node};
use super::{Cause, metadata};
use crate::object::{Kind, Object};

/// The outcome of the core path: the object, or the causes (and whether they are unknown-field
/// causes, which the API server reports alone).
pub(crate) fn admit(kind: Kind, mut doc: Value, meta_schema: &Node) -> Result<Object, Vec<Cause>> {
    let mut unknown = Vec::new();
    if let Some(meta) = doc.get_mut("metadata") {
        schema::decode(meta_schema, meta, "metadata", &mut unknown);
    }
    let mut findings = Vec::new();
    if let Some(meta) = doc.get("metadata") {
        schema::validate(meta_schema, meta, "metadata", &mut findings);
    }
    metadata::normalize_namespace(kind, &mut doc);
    let decoded = match kind {
        Kind::Namespace => decode(&doc, &mut unknown).map(|o| Object::Namespace(Box::new(o))),
        Kind::Service => decode(&doc, &mut unknown).map(|o| Object::Service(Box::new(o))),
        Kind::EndpointSlice => {
            decode(&doc, &mut unknown).map(|o| Object::EndpointSlice(Box::new(o)))
        }
        Kind::Deployment => decode(&doc, &mut unknown).map(|o| Object::Deployment(Box::new(o))),
        Kind::Pod => decode(&doc, &mut unknown).map(|o| Object::Pod(Box::new(o))),
        Kind::Secret => decode(&doc, &mut unknown).map(|o| Object::Secret(Box::new(o))),
        Kind::ConfigMap => decode(&doc, &mut unknown).map(|o| Object::ConfigMap(Box::new(o))),
        Kind::GatewayClass
        | Kind::Gateway
        | Kind::ListenerSet
        | Kind::HttpRoute
        | Kind::GrpcRoute
        | Kind::TlsRoute
        | Kind::TcpRoute
        | Kind::UdpRoute
        | Kind::ReferenceGrant
        | Kind::BackendTlsPolicy => Err(Finding {
            cause: messages::internal(&format!("{kind} is not a core kind")),
            blocking: true,
        }),
    };
    if !unknown.is_empty() {
        return Err(unknown);
    }
    metadata::validate(kind, &doc, &mut findings);
    match decoded {
        Ok(object) if findings.is_empty() => Ok(object),
        Ok(_) => Err(findings.into_iter().map(|f| f.cause).collect()),
        Err(error) => {
            findings.push(error);
            Err(findings.into_iter().map(|f| f.cause).collect())
        }
    }
}

/// Strictly decodes `doc` into `T`: fields `T` ignores are appended to `unknown` (outside
/// `metadata`, which the schema walk already covered); a type error becomes one cause naming
/// its path.
fn decode<T: DeserializeOwned>(doc: &Value, unknown: &mut Vec<Cause>) -> Result<T, Finding> {
    let mut ignored = Vec::new();
    let mut on_ignored = |path: serde_ignored::Path<'_>| ignored.push(ignored_path(&path));
    let result: Result<T, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(doc, &mut on_ignored));
    for path in ignored {
        if path != "metadata" && !path.starts_with("metadata.") && !path.starts_with("metadata[") {
            unknown.push(messages::unknown_field(&path));
        }
    }
    result.map_err(|error| {
        let path = error_path(error.path());
        let value = value_at(doc, error.path()).cloned().unwrap_or(Value::Null);
        messages::invalid(&path, &value, &error.inner().to_string(), true)
    })
}

/// `spec.ports[0].foo` from serde_ignored's path.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => schema::index_path(&ignored_path(parent), *index),
        Path::Map { parent, key } => schema::child_path(&ignored_path(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// `spec.ports[0].port` from serde_path_to_error's path.
fn error_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out = schema::index_path(&out, *index),
            Segment::Map { key } => out = schema::child_path(&out, key),
            Segment::Enum { variant } => out = schema::child_path(&out, variant),
            Segment::Unknown => {}
        }
    }
    out
}

fn value_at<'a>(doc: &'a Value, path: &serde_path_to_error::Path) -> Option<&'a Value> {
    use serde_path_to_error::Segment;
    let mut at = doc;
    for segment in path.iter() {
        at = match segment {
            Segment::Seq { index } => at.get(*index)?,
            Segment::Map { key } => at.get(key.as_str())?,
            Segment::Enum { .. } | Segment::Unknown => at,
        };
    }
    Some(at)
}

/// Typed conversion of an already validated Gateway API document: should never fail; if it
/// does, the serde error becomes a cause rather than a panic.
pub(crate) fn convert<T: DeserializeOwned>(doc: &Value) -> Result<T, Cause> {
    // Straight through first: tracking the path of every field costs more than the
    // conversion, and is only needed to name the field when it fails.
    if let Ok(object) = T::deserialize(doc) {
        return Ok(object);
    }
    serde_path_to_error::deserialize(doc).map_err(|error| {
        let path = error_path(error.path());
        let value = value_at(doc, error.path()).cloned().unwrap_or(Value::Null);
        messages::invalid(&path, &value, &error.inner().to_string(), true).cause
    })
}
