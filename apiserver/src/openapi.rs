//! OpenAPI v3 documents, as kubectl reads them: the root index (`/openapi/v3`) and one
//! document per group-version (`/openapi/v3/apis/GROUP/VERSION`, `/openapi/v3/api/v1`).
//!
//! kubectl uses them for three things: whether the server validates fields itself (a PATCH
//! operation with the `fieldValidation` parameter and the kind's
//! `x-kubernetes-group-version-kind`), which patch type `kubectl apply` sends (a PATCH that
//! accepts `application/strategic-merge-patch+json`; gwsim lists it for no kind, so kubectl
//! computes strategic merge patches for core kinds from its own compiled-in types and JSON
//! merge patches for the Gateway API kinds, as against a real cluster), and `kubectl explain`.
//!
//! Schemas of the Gateway API kinds are the CRD schemas kube-derive generates from the
//! `gateway-api` crate's types (the same types admission decodes into); those of the core
//! kinds are written by hand ([`crate::core_schemas`]), so `kubectl explain service.spec`
//! works. OpenAPI v2 (for older clients) carries the same schemas as definitions.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::Response;
use gwsim_engine::object::Kind;
use kube::CustomResourceExt;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::resources::{self, RESOURCES, Resource};
use crate::server::json_response;

/// `(path under /openapi/v3, document)` for every served group-version.
static DOCUMENTS: LazyLock<Vec<(String, Value)>> = LazyLock::new(|| {
    let mut out = vec![("api/v1".to_string(), document("", "v1"))];
    for (group, versions) in resources::groups() {
        for v in versions {
            out.push((format!("apis/{group}/{v}"), document(group, v)));
        }
    }
    out
});

/// OpenAPI v2: every kind's schema as a definition (no paths: clients read v2 for schemas).
static V2: LazyLock<Value> = LazyLock::new(|| {
    let mut definitions = Map::new();
    for r in RESOURCES {
        let version = r.api_version().rsplit('/').next().unwrap_or("v1");
        definitions.insert(schema_name(r, version), kind_schema(r, version));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes (gwsim)", "version": "v1.34.0"},
        "paths": {},
        "definitions": definitions,
    })
});

fn hash(value: &Value) -> String {
    // FNV-1a over the document: a stable cache key for kubectl's disk cache.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `/openapi/...`; `accept` is the request's Accept header.
pub fn serve(rest: &[&str], accept: &str) -> Result<Response, ApiError> {
    match rest {
        // OpenAPI v2 is what kubectl before 1.27 validates with on the client. gwsim publishes
        // no v2 definitions: such clients then skip client-side validation, and the server's
        // strict validation (every unknown field refused) applies. JSON only; a protobuf-only
        // Accept gets 406 so client-go asks again for JSON.
        ["v2"] => {
            if accept.contains("protobuf") && !accept.contains("json") {
                return Err(ApiError::NotAcceptable);
            }
            Ok(json_response(StatusCode::OK, &V2))
        }
        ["v3"] => {
            let paths: Map<String, Value> = DOCUMENTS
                .iter()
                .map(|(path, doc)| {
                    (
                        path.clone(),
                        json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(doc))}),
                    )
                })
                .collect();
            Ok(json_response(StatusCode::OK, &json!({"paths": paths})))
        }
        ["v3", tail @ ..] => {
            let wanted = tail.join("/");
            DOCUMENTS
                .iter()
                .find(|(path, _)| *path == wanted)
                .map(|(_, doc)| json_response(StatusCode::OK, doc))
                .ok_or(ApiError::NoSuchPath)
        }
        _ => Err(ApiError::NoSuchPath),
    }
}

/// The schema of a kind, with its group-version-kind.
fn kind_schema(resource: &Resource, version: &str) -> Value {
    let crd = match resource.kind {
        Kind::GatewayClass => Some(gateway_api::experimental::gatewayclasses::GatewayClass::crd()),
        Kind::Gateway => Some(gateway_api::experimental::gateways::Gateway::crd()),
        Kind::ListenerSet => Some(gateway_api::experimental::listenersets::ListenerSet::crd()),
        Kind::HttpRoute => Some(gateway_api::experimental::httproutes::HttpRoute::crd()),
        Kind::GrpcRoute => Some(gateway_api::experimental::grpcroutes::GrpcRoute::crd()),
        Kind::TlsRoute => Some(gateway_api::experimental::tlsroutes::TlsRoute::crd()),
        Kind::TcpRoute => Some(gateway_api::experimental::tcproutes::TcpRoute::crd()),
        Kind::UdpRoute => Some(gateway_api::experimental::udproutes::UdpRoute::crd()),
        Kind::ReferenceGrant => {
            Some(gateway_api::experimental::referencegrants::ReferenceGrant::crd())
        }
        Kind::BackendTlsPolicy => {
            Some(gateway_api::apis::standard::backendtlspolicies::BackendTlsPolicy::crd())
        }
        _ => None,
    };
    let mut schema = crd
        .and_then(|crd| {
            crd.spec
                .versions
                .into_iter()
                .next()
                .and_then(|v| v.schema)
                .and_then(|s| s.open_api_v3_schema)
        })
        .and_then(|s| serde_json::to_value(s).ok())
        .or_else(|| crate::core_schemas::schema(resource.kind))
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    schema["x-kubernetes-group-version-kind"] = json!([{
        "group": resource.group(), "version": version, "kind": resource.kind.as_str(),
    }]);
    schema
}

fn schema_name(resource: &Resource, version: &str) -> String {
    match resource.group() {
        "" => format!("io.k8s.api.core.v1.{}", resource.kind.as_str()),
        "apps" => format!("io.k8s.api.apps.{version}.{}", resource.kind.as_str()),
        "discovery.k8s.io" => format!("io.k8s.api.discovery.{version}.{}", resource.kind.as_str()),
        g => {
            let reversed: Vec<&str> = g.split('.').rev().collect();
            format!(
                "{}.{version}.{}",
                reversed.join("."),
                resource.kind.as_str()
            )
        }
    }
}

fn param(name: &str, location: &str) -> Value {
    json!({"name": name, "in": location, "schema": {"type": "string", "uniqueItems": true}})
}

fn document(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in RESOURCES {
        if r.group() != group || resources::find(group, version, r.plural).is_none() {
            continue;
        }
        let name = schema_name(r, version);
        schemas.insert(name.clone(), kind_schema(r, version));
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        let gvk = json!({"group": group, "version": version, "kind": r.kind.as_str()});
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let collection = if r.namespaced() {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        let body = |types: &[&str]| {
            let content: Map<String, Value> = types
                .iter()
                .map(|t| (t.to_string(), json!({"schema": reference})))
                .collect();
            json!({"content": content, "required": true})
        };
        let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}});
        let write_params = vec![
            param("dryRun", "query"),
            param("fieldManager", "query"),
            param("fieldValidation", "query"),
        ];
        let op = |action: &str, extra: Vec<Value>, request: Option<Value>| {
            let mut o = json!({
                "operationId": format!("{action}{}", r.kind.as_str()),
                "parameters": extra,
                "responses": ok,
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            });
            if let Some(b) = request {
                o["requestBody"] = b;
            }
            o
        };
        let mut patch_params = write_params.clone();
        patch_params.push(param("force", "query"));
        paths.insert(
            collection.clone(),
            json!({
                "get": op("list", vec![param("labelSelector", "query"), param("fieldSelector", "query"), param("watch", "query")], None),
                "post": op("post", write_params.clone(), Some(body(&["*/*"]))),
                "delete": op("deletecollection", vec![param("labelSelector", "query")], None),
            }),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": op("get", vec![], None),
                "put": op("put", write_params.clone(), Some(body(&["*/*"]))),
                "patch": op("patch", patch_params, Some(body(&[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                ]))),
                "delete": op("delete", vec![param("dryRun", "query")], None),
                "parameters": [param("name", "path")],
            }),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (gwsim)", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
