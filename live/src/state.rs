//! The live state as input for the read-only commands (check, routes, explain, audit, diff):
//! lists only, never a write.

use gwsim_engine::load::{Document, Origin};
use gwsim_engine::object::Kind;
use kube::api::{Api, DynamicObject, ListParams};

use crate::connect::{ClusterOptions, connect};
use crate::kinds::api_resource;
use crate::{LiveError, api_message, is_not_found};

/// The kinds read: the Gateway API's, and the core kinds routing depends on. Secrets are read
/// for their metadata and type only.
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

/// The object as an input document: `apiVersion` and `kind` set, `managedFields` dropped, a
/// Secret reduced to its metadata and type.
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
        map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "type"));
    }
    value
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
            })
        );
        assert!(!input.to_string().contains("c2VjcmV0"));
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
