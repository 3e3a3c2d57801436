//! OpenAPI v3 schemas of the core kinds gwsim serves (Namespace, Service, Pod, Secret,
//! ConfigMap, Deployment, EndpointSlice), written by hand: k8s-openapi's types carry no
//! schemas unless built with schemars, which would rebuild every crate that uses them.
//!
//! Each schema names the fields gwsim models (what `kubectl explain` shows) with their types
//! as the Kubernetes API defines them. An object whose fields are not all listed here keeps
//! unknown fields (`x-kubernetes-preserve-unknown-fields`), so a client validating against
//! these schemas never refuses a field the API server accepts; the server's own validation
//! (admission, strict field validation) is what refuses unknown fields.

use gwsim_engine::object::Kind;
use serde_json::{Map, Value, json};

fn object(description: &str, fields: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|(name, schema)| ((*name).to_string(), schema.clone()))
        .collect();
    json!({"type": "object", "description": description, "properties": properties})
}

/// An object with the fields listed and others kept.
fn open(description: &str, fields: &[(&str, Value)]) -> Value {
    let mut o = object(description, fields);
    o["x-kubernetes-preserve-unknown-fields"] = json!(true);
    o
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn integer(description: &str) -> Value {
    json!({"type": "integer", "format": "int32", "description": description})
}

fn boolean(description: &str) -> Value {
    json!({"type": "boolean", "description": description})
}

fn list(description: &str, items: Value) -> Value {
    json!({"type": "array", "description": description, "items": items})
}

fn strings(description: &str) -> Value {
    list(description, json!({"type": "string"}))
}

fn string_map(description: &str) -> Value {
    json!({"type": "object", "description": description,
        "additionalProperties": {"type": "string"}})
}

fn int_or_string(description: &str) -> Value {
    json!({"x-kubernetes-int-or-string": true, "description": description})
}

fn metadata() -> Value {
    open(
        "Standard object metadata: name, namespace, labels, annotations and the fields the server sets.",
        &[
            (
                "name",
                string("The object's name, unique in its namespace."),
            ),
            (
                "generateName",
                string("A prefix the server completes into a unique name when name is empty."),
            ),
            (
                "namespace",
                string("The namespace the object lives in; empty for cluster-scoped kinds."),
            ),
            (
                "labels",
                string_map("Key/value pairs that selectors match."),
            ),
            (
                "annotations",
                string_map("Key/value pairs for tools; not matched by selectors."),
            ),
            (
                "uid",
                string("Set by the server: unique for the object's whole life."),
            ),
            (
                "resourceVersion",
                string("Set by the server: changes on every write; a precondition for updates."),
            ),
            (
                "generation",
                json!({"type": "integer", "format": "int64", "description": "Set by the server: moves when the spec changes."}),
            ),
            (
                "creationTimestamp",
                json!({"type": "string", "format": "date-time", "description": "Set by the server when the object is created."}),
            ),
            (
                "deletionTimestamp",
                json!({"type": "string", "format": "date-time", "description": "Set by the server when deletion starts."}),
            ),
            (
                "finalizers",
                strings("Names that must be removed before the object is deleted."),
            ),
            (
                "ownerReferences",
                list("Objects this one belongs to.", open("An owner.", &[])),
            ),
            (
                "managedFields",
                list(
                    "Which field manager owns which fields (server-side apply).",
                    open("One manager's entry.", &[]),
                ),
            ),
        ],
    )
}

fn selector() -> Value {
    open(
        "A label selector.",
        &[
            (
                "matchLabels",
                string_map("Labels an object must carry, all of them."),
            ),
            (
                "matchExpressions",
                list(
                    "Set-based requirements, all of them.",
                    open(
                        "key, operator (In, NotIn, Exists, DoesNotExist) and values.",
                        &[
                            ("key", string("The label key.")),
                            ("operator", string("In, NotIn, Exists or DoesNotExist.")),
                            ("values", strings("The values In and NotIn compare with.")),
                        ],
                    ),
                ),
            ),
        ],
    )
}

fn container_port() -> Value {
    open(
        "A port a container listens on.",
        &[
            ("name", string("A name Services may refer to.")),
            ("containerPort", integer("The port number.")),
            ("protocol", string("TCP (the default), UDP or SCTP.")),
        ],
    )
}

fn pod_spec() -> Value {
    open(
        "What a pod runs. gwsim runs an echo server for every pod, whatever its containers say.",
        &[
            (
                "containers",
                list(
                    "The pod's containers.",
                    open(
                        "A container.",
                        &[
                            ("name", string("The container's name, unique in the pod.")),
                            ("image", string("The image to run.")),
                            ("command", strings("The entrypoint.")),
                            ("args", strings("Arguments to the entrypoint.")),
                            (
                                "ports",
                                list("Ports the container listens on.", container_port()),
                            ),
                            (
                                "env",
                                list(
                                    "Environment variables.",
                                    open(
                                        "name and value.",
                                        &[
                                            ("name", string("The variable's name.")),
                                            ("value", string("The variable's value.")),
                                        ],
                                    ),
                                ),
                            ),
                        ],
                    ),
                ),
            ),
            ("nodeName", string("The node the pod runs on.")),
            ("hostname", string("The pod's hostname.")),
        ],
    )
}

fn pod_template() -> Value {
    object(
        "The pods to create.",
        &[("metadata", metadata()), ("spec", pod_spec())],
    )
}

fn conditions() -> Value {
    list(
        "Observed conditions.",
        open(
            "A condition: type, status, reason, message.",
            &[
                ("type", string("The condition's type.")),
                ("status", string("True, False or Unknown.")),
                ("reason", string("Why, in one CamelCase word.")),
                ("message", string("Why, for people.")),
            ],
        ),
    )
}

fn kind_fields(kind: Kind) -> Vec<(&'static str, Value)> {
    match kind {
        Kind::Namespace => vec![
            (
                "spec",
                open(
                    "The namespace's spec.",
                    &[(
                        "finalizers",
                        strings("Finalizers that must be done before the namespace is deleted."),
                    )],
                ),
            ),
            (
                "status",
                open(
                    "The namespace's state.",
                    &[(
                        "phase",
                        string("Active, or Terminating while its contents are deleted."),
                    )],
                ),
            ),
        ],
        Kind::Service => vec![
            (
                "spec",
                open(
                    "How the Service selects pods and which ports it exposes.",
                    &[
                        (
                            "type",
                            string(
                                "ClusterIP (the default), NodePort, LoadBalancer or ExternalName.",
                            ),
                        ),
                        (
                            "selector",
                            string_map(
                                "Labels of the pods that back the Service; EndpointSlices list them.",
                            ),
                        ),
                        (
                            "ports",
                            list(
                                "The ports the Service exposes.",
                                open(
                                    "A Service port.",
                                    &[
                                        (
                                            "name",
                                            string(
                                                "The port's name; required when there are several.",
                                            ),
                                        ),
                                        ("protocol", string("TCP (the default), UDP or SCTP.")),
                                        (
                                            "appProtocol",
                                            string(
                                                "The application protocol (h2c, kubernetes.io/ws, ...): how gwsim speaks to the backend.",
                                            ),
                                        ),
                                        ("port", integer("The port number the Service exposes.")),
                                        (
                                            "targetPort",
                                            int_or_string(
                                                "The pods' port, by number or by container port name; defaults to port.",
                                            ),
                                        ),
                                        (
                                            "nodePort",
                                            integer(
                                                "The port on every node (NodePort, LoadBalancer).",
                                            ),
                                        ),
                                    ],
                                ),
                            ),
                        ),
                        (
                            "clusterIP",
                            string("The Service's virtual address; None for a headless Service."),
                        ),
                        ("clusterIPs", strings("The Service's virtual addresses.")),
                        (
                            "externalName",
                            string("The DNS name an ExternalName Service points to."),
                        ),
                        ("sessionAffinity", string("None or ClientIP.")),
                        (
                            "publishNotReadyAddresses",
                            boolean("Whether pods that are not ready are listed."),
                        ),
                    ],
                ),
            ),
            ("status", open("The Service's state.", &[])),
        ],
        Kind::Pod => vec![
            ("spec", pod_spec()),
            (
                "status",
                open(
                    "The pod's state.",
                    &[
                        (
                            "phase",
                            string("Pending, Running, Succeeded, Failed or Unknown."),
                        ),
                        ("podIP", string("The pod's address.")),
                        ("conditions", conditions()),
                    ],
                ),
            ),
        ],
        Kind::Secret => vec![
            (
                "type",
                string("What the Secret holds: Opaque, kubernetes.io/tls, ..."),
            ),
            (
                "data",
                json!({"type": "object", "description": "Values, base64-encoded.", "additionalProperties": {"type": "string", "format": "byte"}}),
            ),
            (
                "stringData",
                string_map("Values as plain text, merged into data when written."),
            ),
            ("immutable", boolean("Whether data can no longer change.")),
        ],
        Kind::ConfigMap => vec![
            ("data", string_map("Values as UTF-8 text.")),
            (
                "binaryData",
                json!({"type": "object", "description": "Values as bytes, base64-encoded.", "additionalProperties": {"type": "string", "format": "byte"}}),
            ),
            (
                "immutable",
                boolean("Whether the data can no longer change."),
            ),
        ],
        Kind::Deployment => vec![
            (
                "spec",
                open(
                    "How many pods of which template.",
                    &[
                        ("replicas", integer("How many pods; 1 by default.")),
                        ("selector", selector()),
                        ("template", pod_template()),
                        (
                            "strategy",
                            open("How pods are replaced: RollingUpdate or Recreate.", &[]),
                        ),
                        (
                            "minReadySeconds",
                            integer("How long a new pod must be ready to count as available."),
                        ),
                        (
                            "revisionHistoryLimit",
                            integer("How many old ReplicaSets to keep."),
                        ),
                        ("paused", boolean("Whether rollouts are paused.")),
                        (
                            "progressDeadlineSeconds",
                            integer("How long a rollout may take before it is reported failed."),
                        ),
                    ],
                ),
            ),
            (
                "status",
                open(
                    "The Deployment's state.",
                    &[
                        (
                            "observedGeneration",
                            json!({"type": "integer", "format": "int64", "description": "The generation the status is for."}),
                        ),
                        ("replicas", integer("Pods that exist.")),
                        ("updatedReplicas", integer("Pods of the current template.")),
                        ("readyReplicas", integer("Pods that are ready.")),
                        (
                            "availableReplicas",
                            integer("Pods ready for at least minReadySeconds."),
                        ),
                        ("conditions", conditions()),
                    ],
                ),
            ),
        ],
        Kind::EndpointSlice => vec![
            ("addressType", string("IPv4, IPv6 or FQDN.")),
            (
                "endpoints",
                list(
                    "The endpoints: a Service's pods.",
                    open(
                        "An endpoint.",
                        &[
                            ("addresses", strings("The endpoint's addresses.")),
                            (
                                "conditions",
                                open(
                                    "ready, serving, terminating.",
                                    &[
                                        ("ready", boolean("Whether the endpoint takes traffic.")),
                                        (
                                            "serving",
                                            boolean(
                                                "Whether the endpoint answers (also while terminating).",
                                            ),
                                        ),
                                        (
                                            "terminating",
                                            boolean("Whether the endpoint is going away."),
                                        ),
                                    ],
                                ),
                            ),
                            ("hostname", string("The endpoint's hostname.")),
                            ("nodeName", string("The node the endpoint is on.")),
                            ("zone", string("The zone the endpoint is in.")),
                            ("targetRef", open("The pod behind the endpoint.", &[])),
                        ],
                    ),
                ),
            ),
            (
                "ports",
                list(
                    "The ports every endpoint serves.",
                    open(
                        "An endpoint port.",
                        &[
                            ("name", string("The Service port's name.")),
                            ("protocol", string("TCP, UDP or SCTP.")),
                            ("port", integer("The port number.")),
                            ("appProtocol", string("The application protocol.")),
                        ],
                    ),
                ),
            ),
        ],
        _ => Vec::new(),
    }
}

/// The schema of a core kind (`None` for the Gateway API kinds, whose schemas are the CRDs').
pub fn schema(kind: Kind) -> Option<Value> {
    let fields = kind_fields(kind);
    if fields.is_empty() {
        return None;
    }
    let mut all = vec![
        (
            "apiVersion",
            string("The version of the schema the object follows."),
        ),
        ("kind", string("The object's kind.")),
        ("metadata", metadata()),
    ];
    all.extend(fields);
    let description = format!("{} (served by gwsim).", kind.as_str());
    Some(object(&description, &all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_has_a_schema_and_gateway_kinds_none() {
        for kind in [
            Kind::Namespace,
            Kind::Service,
            Kind::Pod,
            Kind::Secret,
            Kind::ConfigMap,
            Kind::Deployment,
            Kind::EndpointSlice,
        ] {
            let s = schema(kind).expect("a schema");
            assert_eq!(s["properties"]["kind"]["type"], "string", "{kind:?}");
        }
        assert!(schema(Kind::HttpRoute).is_none());
        let service = schema(Kind::Service).expect("a schema");
        assert_eq!(
            service["properties"]["spec"]["properties"]["ports"]["items"]["properties"]["targetPort"]
                ["x-kubernetes-int-or-string"],
            true
        );
    }
}
