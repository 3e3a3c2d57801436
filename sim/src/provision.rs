//! Provisioning: the objects an implementation generates for each Gateway it accepts, as
//! in-cluster implementations (Istio's naming) do: a Deployment `<gateway>-<class>` (whose pod
//! the workload controller makes) and a LoadBalancer Service of the same name in the Gateway's
//! namespace. Both are owned by the Gateway (ownerReferences), labelled
//! `gateway.networking.k8s.io/gateway-name=<gateway>`, and carry `spec.infrastructure` labels
//! and annotations (GEP-1867, GatewayInfrastructurePropagation), the pod too. They follow the
//! Gateway and are deleted when it goes or is no longer accepted. gwsim has no ServiceAccount
//! kind, so it generates none.

use std::collections::{BTreeMap, BTreeSet};

use gwsim_engine::controller::StatusUpdate;
use gwsim_engine::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::store::Store;
use crate::time::SimTime;
use crate::workloads::{fnv1a, name_suffix};

/// The label every generated object carries (GEP-1762's `GatewayNameLabelKey`).
pub const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

/// The image of a generated pod: the simulator's own data plane, which is no container.
const DATA_PLANE_IMAGE: &str = "gwsim.dev/simulated-data-plane";

/// Longest label value and Service name (a DNS-1123/1035 label).
const MAX_LABEL: usize = 63;

/// Brings the generated objects in line with the Gateways `statuses` accept. Returns whether
/// anything was written.
pub fn sync(store: &mut Store, statuses: &BTreeMap<ObjectKey, StatusUpdate>, now: SimTime) -> bool {
    let before = store.resource_version();
    let mut wanted: BTreeSet<ObjectKey> = BTreeSet::new();
    for (key, update) in statuses {
        let StatusUpdate::Gateway(status) = update else {
            continue;
        };
        let accepted = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Accepted" && c.status == "True");
        let Some(Object::Gateway(gateway)) = store.get(key) else {
            continue;
        };
        if !accepted {
            continue;
        }
        let gateway = serde_json::to_value(gateway.as_ref()).unwrap_or(Value::Null);
        let addresses = serde_json::to_value(&status.addresses).unwrap_or(Value::Null);
        for object in generated(&gateway, &addresses) {
            let object_key = object.key();
            if owned_by_other(store, &object_key, &gateway) {
                // Someone else's object of that name: left alone, as a controller must.
                continue;
            }
            wanted.insert(object_key.clone());
            let object = keep_status(store, object);
            store.put(object, now);
        }
    }
    // Objects generated for Gateways gone or no longer accepted.
    let stale: Vec<ObjectKey> = [Kind::Deployment, Kind::Service]
        .into_iter()
        .flat_map(|kind| store.list(kind))
        .filter(|o| generated_for(o).is_some())
        .map(Object::key)
        .filter(|k| !wanted.contains(k))
        .collect();
    for key in stale {
        let _ = store.delete(&key, now);
    }
    store.resource_version() != before
}

/// The label that tells gwsim's generated objects from others a Gateway owns.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "gwsim");

/// Whether an object (a pod) is one gwsim generated for a Gateway: the simulated data plane.
pub fn is_data_plane(meta: &ObjectMeta) -> bool {
    meta.labels.as_ref().is_some_and(|l| {
        l.get(MANAGED_BY.0).is_some_and(|v| v == MANAGED_BY.1) && l.contains_key(GATEWAY_NAME_LABEL)
    })
}

/// The uid of the Gateway that owns an object gwsim generated, if it is one.
fn generated_for(object: &Object) -> Option<&str> {
    let meta = object.meta();
    let managed = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY.0))
        .is_some_and(|v| v == MANAGED_BY.1);
    if !managed {
        return None;
    }
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| {
            o.kind == "Gateway"
                && o.api_version.starts_with("gateway.networking.k8s.io/")
                && o.controller == Some(true)
        })
        .map(|o| o.uid.as_str())
}

/// Whether an object of that key exists and is not this Gateway's.
fn owned_by_other(store: &Store, key: &ObjectKey, gateway: &Value) -> bool {
    let uid = gateway.pointer("/metadata/uid").and_then(Value::as_str);
    store
        .get(key)
        .is_some_and(|existing| generated_for(existing) != uid || uid.is_none())
}

/// A Deployment keeps the status the workload controller wrote (put replaces it otherwise).
fn keep_status(store: &Store, object: Object) -> Object {
    let Object::Deployment(mut d) = object else {
        return object;
    };
    if let Some(Object::Deployment(old)) = store.get(&Object::Deployment(d.clone()).key()) {
        d.status.clone_from(&old.status);
    }
    Object::Deployment(d)
}

/// `<gateway>-<class>` as a DNS label: other characters become `-`, a name not starting with
/// a letter gets `gw-`, and one past 63 characters keeps 52 and a hash of the whole.
pub fn generated_name(gateway: &str, class: &str) -> String {
    let whole = format!("{gateway}-{class}");
    let mut name: String = whole
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "gw-");
    }
    shorten(name.trim_end_matches('-'), &whole)
}

/// The gateway-name label's value: the name, or past 63 characters 52 of it and a hash.
pub fn gateway_label(gateway: &str) -> String {
    shorten(gateway, gateway)
}

fn shorten(text: &str, whole: &str) -> String {
    if text.len() <= MAX_LABEL {
        return text.to_string();
    }
    let kept = text[..52].trim_end_matches(['-', '.']);
    format!("{kept}-{}", name_suffix(fnv1a(whole.as_bytes()), 10))
}

/// The Deployment and (when some listener has a port) the Service for one Gateway.
fn generated(gateway: &Value, addresses: &Value) -> Vec<Object> {
    let text = |pointer: &str| {
        gateway
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let (namespace, name) = (text("/metadata/namespace"), text("/metadata/name"));
    let name_label = gateway_label(name);
    let object_name = generated_name(name, text("/spec/gatewayClassName"));
    let infrastructure = |field: &str| {
        gateway
            .pointer(&format!("/spec/infrastructure/{field}"))
            .cloned()
            .unwrap_or_else(|| json!({}))
    };
    // gwsim's own labels last: spec.infrastructure cannot take them over.
    let mut labels = infrastructure("labels");
    if let Some(map) = labels.as_object_mut() {
        map.insert(GATEWAY_NAME_LABEL.into(), json!(name_label));
        map.insert(MANAGED_BY.0.into(), json!(MANAGED_BY.1));
    }
    let annotations = infrastructure("annotations");
    let metadata = json!({
        "name": object_name,
        "namespace": namespace,
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "name": name,
            "uid": text("/metadata/uid"),
            "controller": true,
            "blockOwnerDeletion": true,
        }],
    });
    let ports: BTreeSet<i64> = gateway
        .pointer("/spec/listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("port").and_then(Value::as_i64))
        .filter(|p| (1..=65535).contains(p))
        .collect();
    let selector = json!({ GATEWAY_NAME_LABEL: name_label });
    let deployment = json!({
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {"containers": [{
                    "name": "gateway",
                    "image": DATA_PLANE_IMAGE,
                    "ports": ports.iter().map(|p| json!({"containerPort": p})).collect::<Vec<_>>(),
                }]},
            },
        },
    });
    let mut out = Vec::new();
    if let Ok(d) = serde_json::from_value::<Deployment>(deployment) {
        out.push(Object::Deployment(Box::new(d)));
    }
    if ports.is_empty() {
        return out;
    }
    // The Service's load balancer shows the Gateway's addresses, as a cloud's would.
    let ingress: Vec<Value> = addresses
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let value = a.get("value")?.as_str()?;
            match a.get("type").and_then(Value::as_str) {
                Some("Hostname") => Some(json!({"hostname": value})),
                _ => Some(json!({"ip": value})),
            }
        })
        .collect();
    let service = json!({
        "metadata": metadata,
        "spec": {
            "type": "LoadBalancer",
            "selector": selector,
            "ports": ports.iter().map(|p| json!({
                "name": format!("port-{p}"),
                "port": p,
                "targetPort": p,
                "protocol": "TCP",
            })).collect::<Vec<_>>(),
        },
        "status": {"loadBalancer": {"ingress": ingress}},
    });
    if let Ok(s) = serde_json::from_value::<Service>(service) {
        out.push(Object::Service(Box::new(s)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(generated_name("edge", "gwsim"), "edge-gwsim");
        assert_eq!(generated_name("a.b", "c"), "a-b-c");
        assert_eq!(generated_name("1st", "c"), "gw-1st-c");
        let long = "x".repeat(253);
        let name = generated_name(&long, "gateway-conformance");
        assert_eq!(name.len(), 63, "{name}");
        assert!(name.starts_with(&"x".repeat(52)));
        assert_ne!(
            name,
            generated_name(&"x".repeat(252), "gateway-conformance")
        );
        assert_eq!(gateway_label("edge"), "edge");
        assert_eq!(gateway_label(&long).len(), 63);
    }
}
