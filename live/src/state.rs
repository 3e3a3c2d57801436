//! The live state as input for the read-only commands (check, routes, explain, audit, diff):
//! lists only, never a write.

use gwsim_engine::load::{Document, Origin};
use gwsim_engine::object::Kind;
use kube::api::{Api, DynamicObject, ListParams};

use crate::connect::{ClusterOptions, connect};
use crate::kinds::api_resource;
use crate::{LiveError, api_message, is_not_found};

/// The kinds read: the Gateway API's, and the core kinds routing depends on. Secrets are read
/// for their metadata and type; their data is replaced by stand-ins (see [`redacted_data`]).
const READ_KINDS: [Kind; 10] = [
    Kind::Namespace,
    Kind::GatewayClass,
    Kind::Gateway,
    Kind::ListenerSet,
    Kind::HttpRoute,
    Kind::GrpcRoute,
    Kind::ReferenceGrant,
    Kind::Service,
    Kind::EndpointSlice,
    Kind::Secret,
];

/// Every object of the read kinds, in every namespace, as documents named
/// `cluster: KIND NAMESPACE/NAME`. A kind the cluster does not serve (a CRD not installed,
/// such as ListenerSet) is left out; `managedFields` and Secrets' data are never kept.
pub fn read_state(options: &ClusterOptions) -> Result<Vec<Document>, LiveError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = connect(options).await?;
        let mut documents = Vec::new();
        for kind in READ_KINDS {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
            let list = match api.list(&ListParams::default()).await {
                Ok(list) => list,
                Err(e) if is_not_found(&e) => {
                    tracing::info!(target: "gwsim::live", "the cluster does not serve {}", kind.qualified());
                    continue;
                }
                Err(e) => {
                    return Err(LiveError::Api(format!(
                        "listing {}: {}",
                        kind.qualified(),
                        api_message(&e)
                    )));
                }
            };
            let mut items: Vec<serde_json::Value> =
                list.items.iter().map(|o| as_input(kind, o)).collect();
            items.sort_by_key(|v| {
                (
                    v.pointer("/metadata/namespace").and_then(|n| n.as_str()).map(String::from),
                    v.pointer("/metadata/name").and_then(|n| n.as_str()).map(String::from),
                )
            });
            for value in items {
                let ns = value.pointer("/metadata/namespace").and_then(|n| n.as_str());
                let name = value.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or("");
                let source = match ns {
                    Some(ns) => format!("cluster: {kind} {ns}/{name}"),
                    None => format!("cluster: {kind} {name}"),
                };
                documents.push(Document {
                    origin: Origin::new(source, 1, 1),
                    value,
                });
            }
        }
        Ok(documents)
    })
}

/// Every object in the cluster that carries [`RUN_LABEL`](crate::RUN_LABEL) (of any run), of
/// every kind gwsim writes, with `managedFields` dropped and Secrets without their data: what
/// a run left behind. A kind the cluster does not serve is left out.
pub fn labelled(options: &ClusterOptions) -> Result<Vec<serde_json::Value>, LiveError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = connect(options).await?;
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
            let params = ListParams::default().labels(crate::RUN_LABEL);
            match api.list(&params).await {
                Ok(list) => out.extend(list.items.iter().map(|o| as_input(kind, o))),
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(LiveError::Api(format!(
                        "listing {}: {}",
                        kind.qualified(),
                        api_message(&e)
                    )));
                }
            }
        }
        Ok(out)
    })
}

/// The object as an input document: `apiVersion` and `kind` set, `managedFields` dropped, a
/// Secret reduced to its metadata, type and stand-ins for its data.
fn as_input(kind: Kind, object: &DynamicObject) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or(serde_json::Value::Null);
    let Some(map) = value.as_object_mut() else {
        return value;
    };
    map.insert("apiVersion".into(), kind.api_version().into());
    map.insert("kind".into(), kind.as_str().into());
    if let Some(meta) = map.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    if kind == Kind::Secret {
        let data = redacted_data(map);
        map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "type"));
        if !data.is_empty() {
            map.insert("data".into(), serde_json::Value::Object(data));
        }
    }
    value
}

/// A stand-in for each key of a Secret's `data`, which is never kept: what the controller
/// judges of a certificate Secret (each of `tls.crt` and `tls.key` present, not empty, PEM)
/// without the bytes. A PEM value becomes the base64 of `-----BEGIN REDACTED-----`, any
/// other non-empty value `REDACTED`, an empty one stays empty.
fn redacted_data(
    secret: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    use k8s_openapi::ByteString;
    let Some(data) = secret.get("data") else {
        return serde_json::Map::new();
    };
    let Ok(data) =
        serde_json::from_value::<std::collections::BTreeMap<String, ByteString>>(data.clone())
    else {
        return serde_json::Map::new();
    };
    data.into_iter()
        .map(|(key, bytes)| {
            let stand_in: &[u8] = if bytes.0.is_empty() {
                b""
            } else if bytes.0.windows(11).any(|w| w == b"-----BEGIN ") {
                b"-----BEGIN REDACTED-----\n"
            } else {
                b"REDACTED"
            };
            let encoded = serde_json::to_value(ByteString(stand_in.to_vec())).unwrap_or_default();
            (key, encoded)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_keeps_its_metadata_and_type_only() {
        let secret: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls", "namespace": "a", "managedFields": [{"manager": "x"}]},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "c2VjcmV0", "tls.key": "c2VjcmV0"},
            "stringData": {"x": "secret"},
        }))
        .expect("a Secret");
        let input = as_input(Kind::Secret, &secret);
        assert_eq!(
            input,
            serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "tls", "namespace": "a"},
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": "UkVEQUNURUQ=", "tls.key": "UkVEQUNURUQ="},
            })
        );
        assert!(!input.to_string().contains("c2VjcmV0"));
        // PEM stays PEM-looking (the controller's verdict on a certificate Secret), the
        // bytes go.
        let pem: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls", "namespace": "a"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCnNlY3JldAo=", "tls.key": ""},
        }))
        .expect("a Secret");
        let input = as_input(Kind::Secret, &pem);
        assert_eq!(
            input["data"],
            serde_json::json!({"tls.crt": "LS0tLS1CRUdJTiBSRURBQ1RFRC0tLS0tCg==", "tls.key": ""})
        );
        let service: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "namespace": "a"},
            "spec": {"ports": [{"port": 80}]},
        }))
        .expect("a Service");
        assert_eq!(
            as_input(Kind::Service, &service)["spec"]["ports"][0]["port"],
            80
        );
    }
}
