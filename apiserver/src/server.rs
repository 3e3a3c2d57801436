//! HTTP: routing of Kubernetes API paths, the verbs, and responses.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gwsim_engine::object::{Kind, Object, ObjectKey};
use gwsim_sim::store::StoreError;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::managed::{self, Operation};
use crate::paging;
use crate::patch;
use crate::resources::{self, Resource};
use crate::select::Selector;
use crate::shared::SharedCluster;
use crate::watch;

/// What every handler shares.
pub struct App {
    pub cluster: Arc<SharedCluster>,
    /// The bearer token every request must carry; `None` over plain HTTP.
    pub token: Option<String>,
    pub body_limit: usize,
    /// Where the pods' logs are kept (`pods/{name}/log`); `None`: every log is empty.
    pub pod_logs: Option<Arc<dyn crate::podlog::PodLogs>>,
}

/// How long a Terminating namespace stays before it and its contents are deleted.
const NAMESPACE_CLEANUP_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// The version `/version` reports: the Kubernetes API version gwsim's types follow.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "gitVersion": concat!("v1.34.0-gwsim.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "gwsim",
        "platform": "linux/amd64",
    })
}

pub fn json_response(code: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn with_content_type(value: &Value, content_type: &'static str) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The one handler: every path goes through here.
pub async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    match dispatch(&app, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Query parameters (last value wins).
pub type Query = BTreeMap<String, String>;

fn parse_query(query: Option<&str>) -> Query {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=APIGroupDiscoveryList"))
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// A path under `/api/v1` or `/apis/GROUP/VERSION` that names a resource.
struct Target {
    resource: &'static Resource,
    /// The `apiVersion` the request was made in (v1beta1 Gateway API kinds are served from
    /// the same objects).
    api_version: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

async fn dispatch(app: &App, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().trim_end_matches('/').to_string();
    match path.as_str() {
        "/healthz" | "/readyz" | "/livez" => {
            return Ok((StatusCode::OK, "ok").into_response());
        }
        _ => {}
    }
    if !authorized(app, &parts.headers) {
        return Err(ApiError::Unauthorized);
    }
    let query = parse_query(parts.uri.query());
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = parts.method == Method::GET;
    match segments.as_slice() {
        ["version"] if get => return Ok(json_response(StatusCode::OK, &version_info())),
        ["api"] if get => {
            return Ok(if wants_aggregated(&parts.headers) {
                with_content_type(&resources::aggregated(true), AGGREGATED)
            } else {
                json_response(StatusCode::OK, &resources::api_versions())
            });
        }
        ["apis"] if get => {
            return Ok(if wants_aggregated(&parts.headers) {
                with_content_type(&resources::aggregated(false), AGGREGATED)
            } else {
                json_response(StatusCode::OK, &resources::api_group_list())
            });
        }
        ["api", "v1"] if get => {
            return resources::api_resource_list("", "v1")
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or(ApiError::NoSuchPath);
        }
        ["apis", group] if get => {
            let list = resources::api_group_list();
            let found = list["groups"]
                .as_array()
                .and_then(|gs| gs.iter().find(|g| g["name"] == *group))
                .cloned()
                .ok_or(ApiError::NoSuchPath)?;
            let mut found = found;
            found["kind"] = json!("APIGroup");
            found["apiVersion"] = json!("v1");
            return Ok(json_response(StatusCode::OK, &found));
        }
        ["apis", group, version] if get => {
            return resources::api_resource_list(group, version)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or(ApiError::NoSuchPath);
        }
        ["openapi", rest @ ..] if get => {
            let accept = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            return crate::openapi::serve(rest, accept);
        }
        _ => {}
    }
    let target = parse_target(&segments)?;
    let body = axum::body::to_bytes(body, app.body_limit)
        .await
        .map_err(|_| ApiError::TooLarge(app.body_limit))?;
    let table = wants_table(&parts.headers);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let method = parts.method.clone();
    let ctx = Ctx {
        app,
        target: &target,
        query: &query,
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    };
    let is_watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    match (&method, &target.name, target.subresource.as_deref()) {
        (&Method::GET, None, None) if is_watch => {
            watch::serve(app, &target_info(&target), &query, table)
        }
        (&Method::GET, None, None) => ctx.list(table),
        (&Method::GET, Some(name), Some("log")) => ctx.pod_log(name),
        (&Method::GET, Some(name), None | Some("status")) => {
            let object = ctx.get(name)?;
            Ok(if table {
                json_response(StatusCode::OK, &ctx.table_of(&[object]))
            } else {
                json_response(StatusCode::OK, &object)
            })
        }
        (&Method::POST, None, None) => ctx.create(&parse_body(&body, &content_type)?),
        (&Method::PUT, Some(name), None) => ctx.update(name, &parse_body(&body, &content_type)?),
        (&Method::PUT, Some(name), Some("status")) => {
            ctx.update_status(name, &parse_body(&body, &content_type)?)
        }
        (&Method::PATCH, Some(name), sub @ (None | Some("status"))) => {
            ctx.patch(name, &body, &content_type, sub == Some("status"))
        }
        (&Method::DELETE, Some(name), None) => ctx.delete(name, &body),
        (&Method::DELETE, None, None) => ctx.delete_collection(),
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// What a watch needs of the target.
pub struct TargetInfo {
    pub resource: &'static Resource,
    pub api_version: String,
    pub namespace: Option<String>,
}

fn target_info(t: &Target) -> TargetInfo {
    TargetInfo {
        resource: t.resource,
        api_version: t.api_version.clone(),
        namespace: t.namespace.clone(),
    }
}

fn parse_target(segments: &[&str]) -> Result<Target, ApiError> {
    let (group, version, rest) = match segments {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::NoSuchPath),
    };
    let find = |plural: &str| resources::find(group, version, plural).ok_or(ApiError::NoSuchPath);
    let owned = |s: &&str| Some(s.to_string());
    let target = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !(group.is_empty()
                && matches!(*plural, "status" | "finalize")
                && tail.is_empty()) =>
        {
            let resource = find(plural)?;
            if !resource.namespaced() {
                return Err(ApiError::NoSuchPath);
            }
            let (name, sub) = match tail {
                [] => (None, None),
                [name] => (owned(name), None),
                [name, sub] => (owned(name), owned(sub)),
                _ => return Err(ApiError::NoSuchPath),
            };
            Target {
                resource,
                api_version: group_version(group, version),
                namespace: Some(ns.to_string()),
                name,
                subresource: sub,
            }
        }
        [plural, tail @ ..] => {
            let resource = find(plural)?;
            let (name, sub) = match tail {
                [] => (None, None),
                [name] if !resource.namespaced() => (owned(name), None),
                [name, sub] if !resource.namespaced() => (owned(name), owned(sub)),
                _ => return Err(ApiError::NoSuchPath),
            };
            Target {
                resource,
                api_version: group_version(group, version),
                namespace: None,
                name,
                subresource: sub,
            }
        }
        [] => return Err(ApiError::NoSuchPath),
    };
    if let Some(sub) = &target.subresource
        && !(sub == "status" && target.resource.status)
        && !(sub == "log" && target.resource.kind == Kind::Pod)
    {
        return Err(ApiError::NoSuchPath);
    }
    Ok(target)
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// An object as the requested version presents it.
pub fn in_version(mut object: Value, api_version: &str) -> Value {
    if let Some(map) = object.as_object_mut()
        && map.contains_key("apiVersion")
    {
        map.insert("apiVersion".into(), api_version.into());
    }
    object
}

/// A request body: JSON, or YAML for server-side apply.
fn parse_body(body: &Bytes, content_type: &str) -> Result<Value, ApiError> {
    if content_type.starts_with("application/apply-patch+yaml") || content_type.contains("yaml") {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::BadRequest("the request body is not UTF-8".into()))?;
        return serde_saphyr::from_str(text)
            .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the object provided is unrecognized (not valid JSON): {e}"
        ))
    })
}

/// `dryRun=All`.
fn dry_run(query: &Query) -> Result<bool, ApiError> {
    match query.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "Invalid dryRun value: {other:?}: supported values: \"All\""
        ))),
    }
}

/// `fieldValidation`: what to do with fields the schema does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

fn field_validation(query: &Query) -> Result<FieldValidation, ApiError> {
    match query.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Strict") => Ok(FieldValidation::Strict),
        Some("Warn") => Ok(FieldValidation::Warn),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some(other) => Err(ApiError::BadRequest(format!(
            "fieldValidation parameter unsupported: {other}"
        ))),
    }
}

fn now() -> Timestamp {
    crate::shared::wall_clock().timestamp()
}

struct Ctx<'a> {
    app: &'a App,
    target: &'a Target,
    query: &'a Query,
    user_agent: &'a str,
}

/// How a write is answered: the object, its code, warnings for the `Warning` header.
struct Written {
    code: StatusCode,
    object: Value,
    warnings: Vec<String>,
}

impl Written {
    fn into_response(self) -> Response {
        let mut response = json_response(self.code, &self.object);
        for w in self.warnings {
            if let Ok(v) = HeaderValue::from_str(&format!("299 - {}", serde_json::Value::String(w)))
            {
                response.headers_mut().append(header::WARNING, v);
            }
        }
        response
    }
}

fn store_error(resource: &Resource, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::Rejected(r) => ApiError::rejected(resource, &r),
        StoreError::NamespaceNotFound(ns) => ApiError::not_found(
            resources::for_kind(gwsim_engine::object::Kind::Namespace),
            &ns,
        ),
        StoreError::NotFound(_) => ApiError::not_found(resource, name),
        StoreError::UnknownKind {
            kind, api_version, ..
        } => ApiError::BadRequest(format!(
            "no kind {kind:?} is registered for version {api_version:?}"
        )),
    }
}

impl Ctx<'_> {
    fn resource(&self) -> &'static Resource {
        self.target.resource
    }

    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(
            self.resource().kind,
            self.target.namespace.clone().unwrap_or_default(),
            name,
        )
    }

    fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager") {
            return m.clone();
        }
        // kube-apiserver names an unnamed manager after the user agent's program.
        let program = self.user_agent.split('/').next().unwrap_or("");
        if program.is_empty() {
            "unknown".into()
        } else {
            program.to_string()
        }
    }

    fn table_of(&self, objects: &[Value]) -> Value {
        let rv = self.app.cluster.read(|c| c.store().resource_version());
        crate::printing::table(self.resource(), objects, rv, now())
    }

    /// `pods/{name}/log`: the pod's log as text.
    fn pod_log(&self, name: &str) -> Result<Response, ApiError> {
        let pod = self.get(name)?;
        let text = crate::podlog::render(
            &pod,
            self.query,
            self.app.pod_logs.as_deref(),
            std::time::SystemTime::now(),
        )?;
        Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response())
    }

    fn get(&self, name: &str) -> Result<Value, ApiError> {
        let key = self.key(name);
        self.app
            .cluster
            .read(|c| c.store().get(&key).map(Object::to_value))
            .map(|v| in_version(v, &self.target.api_version))
            .ok_or_else(|| ApiError::not_found(self.resource(), name))
    }

    /// LIST, in pages when `limit` asks (see [`crate::paging`]).
    fn list(&self, table: bool) -> Result<Response, ApiError> {
        let selector = Selector::parse(
            self.query.get("labelSelector").map(String::as_str),
            self.query.get("fieldSelector").map(String::as_str),
        )?;
        let limit = match self.query.get("limit").map(String::as_str) {
            None | Some("") => None,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                Ok(_) => None,
                Err(_) => {
                    return Err(ApiError::BadRequest(format!(
                        "limit: Invalid value: {l:?}: must be an integer"
                    )));
                }
            },
        };
        let from = match self.query.get("continue").map(String::as_str) {
            None | Some("") => None,
            Some(token) => Some(paging::decode(token)?),
        };
        let resource = self.resource();
        let namespace = self.target.namespace.as_ref();
        let page = self.app.cluster.read(|c| {
            let store = c.store();
            let current = store.resource_version();
            let rv = from
                .as_ref()
                .map_or(Some(current), |f| f.resource_version);
            let objects: Vec<Arc<Object>> = match rv {
                Some(rv) if rv > current => {
                    return Err(ApiError::BadRequest(
                        "invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into(),
                    ));
                }
                Some(rv) if rv < current => paging::objects_at(store, resource.kind, rv)
                    .ok_or_else(|| paging::expired(from.as_ref().map_or("", |f| f.after.as_str())))?,
                _ => store.list(resource.kind).cloned().map(Arc::new).collect(),
            };
            let mut items = Vec::new();
            let mut next = None;
            let mut remaining = 0usize;
            let selected = objects
                .iter()
                .filter(|o| namespace.is_none_or(|ns| o.meta().namespace.as_ref() == Some(ns)))
                .filter(|o| from.as_ref().is_none_or(|f| f.precedes(&o.key())))
                .map(|o| (o, in_version(o.to_value(), &self.target.api_version)))
                .filter(|(_, v)| selector.matches(v));
            for (object, value) in selected {
                if limit.is_some_and(|l| items.len() == l) {
                    remaining += 1;
                    continue;
                }
                next = Some(object.key());
                items.push(value);
            }
            let token = (remaining > 0)
                .then(|| next.map(|key| paging::encode(rv, &key)))
                .flatten();
            Ok((items, rv.unwrap_or(current), token, remaining))
        })?;
        let (items, rv, token, remaining) = page;
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if let Some(token) = token {
            metadata["continue"] = json!(token);
            // As kube-apiserver: the count is given only when no selector filters the list.
            if selector.is_empty() {
                metadata["remainingItemCount"] = json!(remaining);
            }
        }
        let mut list = if table {
            crate::printing::table(resource, &items, rv, now())
        } else {
            json!({
                "kind": format!("{}List", resource.kind.as_str()),
                "apiVersion": self.target.api_version,
                "items": items,
            })
        };
        list["metadata"] = metadata;
        Ok(json_response(StatusCode::OK, &list))
    }

    /// Checks and completes a body's type and identity against the URL.
    fn normalize(&self, doc: &mut Value, name: Option<&str>) -> Result<String, ApiError> {
        let resource = self.resource();
        let Some(map) = doc.as_object_mut() else {
            return Err(ApiError::BadRequest("the body must be an object".into()));
        };
        match map.get("kind").and_then(Value::as_str) {
            None => {
                map.insert("kind".into(), resource.kind.as_str().into());
            }
            Some(k) if k == resource.kind.as_str() => {}
            Some(k) => {
                return Err(ApiError::BadRequest(format!(
                    "the API version in the data ({}) does not match the expected API version ({}) or kind {k:?} does not match {:?}",
                    map.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
                    resource.api_version(),
                    resource.kind.as_str()
                )));
            }
        }
        let version = self
            .target
            .api_version
            .rsplit('/')
            .next()
            .unwrap_or_default();
        map.insert(
            "apiVersion".into(),
            resources::admitted_as(resource, version).into(),
        );
        let meta = map
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| ApiError::BadRequest("metadata must be an object".into()))?;
        if let Some(ns) = &self.target.namespace {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), ns.clone().into());
                }
            }
        }
        let body_name = meta.get("name").and_then(Value::as_str).map(str::to_string);
        let name = match (name, body_name) {
            (Some(url), Some(body)) if url != body => {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({body}) does not match the name on the URL ({url})"
                )));
            }
            (Some(url), _) => url.to_string(),
            (None, Some(body)) if !body.is_empty() => body,
            (None, _) => match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) => format!("{prefix}{}", random_suffix()),
                None => {
                    return Err(ApiError::Invalid(Box::new(crate::error::Invalid {
                        qualified_kind: resource.kind.qualified(),
                        kind: resource.kind.as_str().into(),
                        group: resource.group().into(),
                        name: String::new(),
                        summary: "metadata.name: Required value: name or generateName is required"
                            .into(),
                        causes: vec![gwsim_engine::admission::Cause {
                            field: "metadata.name".into(),
                            detail: "Required value: name or generateName is required".into(),
                            reason: gwsim_engine::admission::CauseReason::FieldValueRequired,
                        }],
                    })));
                }
            },
        };
        meta.insert("name".into(), name.clone().into());
        Ok(name)
    }

    fn create(&self, body: &Value) -> Result<Response, ApiError> {
        let mut doc = body.clone();
        let name = self.normalize(&mut doc, None)?;
        if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        self.write(&name, doc, Mode::Create, Operation::Update)
            .map(Written::into_response)
    }

    fn update(&self, name: &str, body: &Value) -> Result<Response, ApiError> {
        let mut doc = body.clone();
        self.normalize(&mut doc, Some(name))?;
        self.write(name, doc, Mode::Update, Operation::Update)
            .map(Written::into_response)
    }

    /// Writes an object: preconditions, managed fields, field validation, admission, store.
    fn write(
        &self,
        name: &str,
        mut doc: Value,
        mode: Mode,
        op: Operation,
    ) -> Result<Written, ApiError> {
        let resource = self.resource();
        let key = self.key(name);
        let dry = dry_run(self.query)?;
        let validation = field_validation(self.query)?;
        let manager = self.manager();
        let timestamp = now();
        self.app.cluster.write(|cluster| {
            let existing = cluster.store().get(&key).map(Object::to_value);
            if existing.is_none()
                && let Some(ns) = &self.target.namespace
                && cluster
                    .store()
                    .get(&ObjectKey::new(Kind::Namespace, "", ns.as_str()))
                    .is_some_and(|n| n.meta().deletion_timestamp.is_some())
            {
                return Err(ApiError::Forbidden {
                    message: format!("{} {name:?} is forbidden: unable to create new content in namespace {ns} because it is being terminated", resource.qualified_plural()),
                    group: resource.group().into(),
                    plural: resource.plural.into(),
                    name: name.into(),
                });
            }
            match (&mode, &existing) {
                (Mode::Create, Some(_)) => return Err(ApiError::already_exists(resource, name)),
                (Mode::Update, None) => return Err(ApiError::not_found(resource, name)),
                _ => {}
            }
            if let (Some(old), Some(given)) = (
                &existing,
                doc.pointer("/metadata/resourceVersion").and_then(Value::as_str),
            ) && !given.is_empty()
                && old.pointer("/metadata/resourceVersion").and_then(Value::as_str) != Some(given)
            {
                return Err(ApiError::conflict(resource, name));
            }
            // Admission first (defaults decide what changed), then field ownership.
            let admitted = doc["apiVersion"].as_str().unwrap_or_default().to_string();
            let mut warnings = Vec::new();
            let object = loop {
                match cluster.dry_run(&doc) {
                    Ok(object) => break object,
                    Err(StoreError::Rejected(r)) if validation != FieldValidation::Strict => {
                        let unknown: Vec<_> = r
                            .causes
                            .iter()
                            .filter(|c| c.detail.starts_with("unknown field "))
                            .collect();
                        if unknown.is_empty() {
                            return Err(ApiError::rejected(resource, &r));
                        }
                        for cause in &unknown {
                            remove_field(&mut doc, &cause.field);
                            if validation == FieldValidation::Warn {
                                warnings.push(cause.detail.clone());
                            }
                        }
                    }
                    Err(e) => return Err(store_error(resource, name, e)),
                }
            };
            // Stored objects read as v1; the second admission sees the version the body was
            // admitted at (v1alpha2's schema is not v1's).
            let mut doc = in_version(object.to_value(), &admitted);
            if let Mode::Applied(fields, taken) = &mode {
                managed::record_apply(&mut doc, existing.as_ref(), &manager, fields, taken, timestamp);
            } else {
                managed::record_update(&mut doc, existing.as_ref(), &manager, op, timestamp);
            }
            let object = if dry {
                cluster.dry_run(&doc)
            } else {
                cluster.apply_value(&doc).map(|applied| {
                    cluster.store().get(&applied.key).cloned().expect("just stored")
                })
            }
            .map_err(|e| store_error(resource, name, e))?;
            let mut value = in_version(object.to_value(), &self.target.api_version);
            if dry && existing.is_none() {
                let meta = &mut value["metadata"];
                meta["creationTimestamp"] = json!(timestamp.to_string());
                meta["uid"] = json!(format!("dry-run-{}", random_suffix()));
            }
            let code = if existing.is_none() { StatusCode::CREATED } else { StatusCode::OK };
            Ok(Written { code, object: value, warnings })
        })
    }

    fn update_status(&self, name: &str, body: &Value) -> Result<Response, ApiError> {
        // The status of every served kind is written by gwsim's controllers (the Gateway
        // controller and the workload controllers), which would overwrite a client's status
        // at once; the subresource answers with the object and changes nothing.
        let mut doc = body.clone();
        self.normalize(&mut doc, Some(name))?;
        let current = self.get(name)?;
        if let Some(given) = doc
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && !given.is_empty()
            && current
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                != Some(given)
        {
            return Err(ApiError::conflict(self.resource(), name));
        }
        Ok(json_response(StatusCode::OK, &current))
    }

    fn patch(
        &self,
        name: &str,
        body: &Bytes,
        content_type: &str,
        status: bool,
    ) -> Result<Response, ApiError> {
        let resource = self.resource();
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media == "application/apply-patch+yaml" {
            return self.server_side_apply(name, &parse_body(body, content_type)?);
        }
        let patch_doc: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
        let mut current = self.get(name)?;
        let applied = match media {
            "application/merge-patch+json" => {
                patch::merge_patch(&mut current, &patch_doc);
                Ok(())
            }
            "application/json-patch+json" => patch::json_patch(&mut current, &patch_doc),
            "application/strategic-merge-patch+json"
                if resource.group() != gwsim_engine::object::GATEWAY_GROUP =>
            {
                patch::strategic_merge(&mut current, &patch_doc)
            }
            _ => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
                    if resource.group() == gwsim_engine::object::GATEWAY_GROUP {
                        ""
                    } else {
                        ", application/strategic-merge-patch+json"
                    }
                )));
            }
        };
        applied.map_err(|e| match e {
            patch::PatchError::Malformed(m) => ApiError::BadRequest(m),
            patch::PatchError::Failed(m) => ApiError::Invalid(Box::new(crate::error::Invalid {
                qualified_kind: resource.kind.qualified(),
                kind: resource.kind.as_str().into(),
                group: resource.group().into(),
                name: name.into(),
                summary: m.clone(),
                causes: vec![],
            })),
        })?;
        if status {
            return self.update_status(name, &current);
        }
        // A patch's resourceVersion, if the patch set one, is a precondition; otherwise none.
        let precondition = patch_doc
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .is_some();
        if !precondition
            && let Some(meta) = current.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("resourceVersion");
        }
        self.normalize(&mut current, Some(name))?;
        self.write(name, current, Mode::Update, Operation::Update)
            .map(Written::into_response)
    }

    fn server_side_apply(&self, name: &str, config: &Value) -> Result<Response, ApiError> {
        let resource = self.resource();
        let mut config = config.clone();
        self.normalize(&mut config, Some(name))?;
        let manager = self.query.get("fieldManager").cloned().ok_or_else(|| {
            ApiError::BadRequest(
                "PATCH, application/apply-patch+yaml requests must have a fieldManager query parameter"
                    .into(),
            )
        })?;
        let force = self.query.get("force").is_some_and(|f| f == "true");
        let key = self.key(name);
        let fields = managed::fields_of(&config);
        // Conflicts compare the live object with the merged one as admission defaults it,
        // so a configuration that leaves defaults out does not conflict over them.
        let (live, merged, defaulted) = self.app.cluster.read(|c| {
            let live = c.store().get(&key).map(Object::to_value);
            let merged = managed::merge_applied(live.as_ref(), &config, &manager);
            let defaulted = c.dry_run(&merged).ok().map(|o| o.to_value());
            (live, merged, defaulted)
        });
        let mut taken = Vec::new();
        if let (Some(live), Some(defaulted)) = (&live, &defaulted) {
            let found = managed::conflicts(live, defaulted, &fields, &manager);
            if !found.is_empty() && !force {
                let list: Vec<managed::Conflict> = found.into_iter().map(|(c, _)| c).collect();
                return Err(managed::conflict_error(resource, name, &list));
            }
            taken = found.into_iter().map(|(_, p)| p).collect();
        }
        let mut doc = merged;
        if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        let written = self.write(name, doc, Mode::Applied(fields, taken), Operation::Apply)?;
        Ok(written.into_response())
    }

    fn delete(&self, name: &str, body: &Bytes) -> Result<Response, ApiError> {
        let resource = self.resource();
        let options: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("error decoding DeleteOptions: {e}")))?
        };
        if let Some(p) = options.get("propagationPolicy").and_then(Value::as_str)
            && !matches!(p, "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::BadRequest(format!(
                "propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        let dry = dry_run(self.query)?
            || options
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|x| x == "All"));
        let key = self.key(name);
        let timestamp = now();
        self.app.cluster.write(|cluster| {
            let Some(existing) = cluster.store().get(&key).map(Object::to_value) else {
                return Err(ApiError::not_found(resource, name));
            };
            if let Some(rv) = options
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                && existing
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    != Some(rv)
            {
                return Err(ApiError::conflict(resource, name));
            }
            if let Some(uid) = options
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                && existing.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid)
            {
                return Err(ApiError::conflict(resource, name));
            }
            let mut gone = in_version(existing, &self.target.api_version);
            gone["metadata"]["deletionTimestamp"] = json!(timestamp.to_string());
            if dry {
                return Ok(json_response(StatusCode::OK, &gone));
            }
            if resource.kind == Kind::Namespace {
                // As kube-apiserver: the namespace turns Terminating at once, and its
                // contents go (then the namespace itself) in the background.
                let Some(Object::Namespace(ns)) = cluster.store().get(&key).cloned() else {
                    return Err(ApiError::not_found(resource, name));
                };
                let mut ns = *ns;
                if ns.metadata.deletion_timestamp.is_none() {
                    ns.metadata.deletion_timestamp = Some(crate::shared::wall_clock().meta_time());
                    ns.status.get_or_insert_with(Default::default).phase =
                        Some("Terminating".into());
                    cluster.put_object(Object::Namespace(Box::new(ns.clone())));
                    let shared = self.app.cluster.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(NAMESPACE_CLEANUP_DELAY).await;
                        shared.write(|c| {
                            let _ = c.delete_object(&key);
                        });
                    });
                }
                let value = in_version(
                    Object::Namespace(Box::new(ns)).to_value(),
                    &self.target.api_version,
                );
                return Ok(json_response(StatusCode::OK, &value));
            }
            cluster
                .delete_object(&key)
                .map_err(|e| store_error(resource, name, e))?;
            Ok(json_response(StatusCode::OK, &gone))
        })
    }

    fn delete_collection(&self) -> Result<Response, ApiError> {
        let selector = Selector::parse(
            self.query.get("labelSelector").map(String::as_str),
            self.query.get("fieldSelector").map(String::as_str),
        )?;
        let resource = self.resource();
        let dry = dry_run(self.query)?;
        let deleted = self.app.cluster.write(|cluster| {
            let doomed: Vec<(ObjectKey, Value)> = cluster
                .store()
                .list(resource.kind)
                .filter(|o| {
                    self.target
                        .namespace
                        .as_ref()
                        .is_none_or(|ns| o.meta().namespace.as_ref() == Some(ns))
                })
                .map(|o| (o.key(), o.to_value()))
                .filter(|(_, v)| selector.matches(v))
                .collect();
            if !dry {
                for (key, _) in &doomed {
                    // Deleting a namespace may already have taken this object with it.
                    let _ = cluster.delete_object(key);
                }
            }
            doomed.into_iter().map(|(_, v)| v).collect::<Vec<_>>()
        });
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "kind": format!("{}List", resource.kind.as_str()),
                "apiVersion": resource.api_version(),
                "metadata": {},
                "items": deleted,
            }),
        ))
    }
}

/// What a write may find.
enum Mode {
    /// The object must not exist.
    Create,
    /// The object must exist.
    Update,
    /// Server-side apply: either; the manager's applied field set, and the fields it took
    /// from other managers.
    Applied(Value, Vec<Vec<String>>),
}

/// Removes the field at an API field path (`spec.rules[0].foo`) from a document.
fn remove_field(doc: &mut Value, path: &str) {
    let mut pointer = String::new();
    for part in path.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        pointer.push('/');
        pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            pointer.push('/');
            pointer.push_str(index.trim_end_matches(']'));
        }
    }
    let Some(at) = pointer.rfind('/') else { return };
    let (parent, last) = pointer.split_at(at);
    if let Some(Value::Object(map)) = doc.pointer_mut(parent) {
        map.remove(&last[1..].replace("~1", "/").replace("~0", "~"));
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The router: one fallback handler, since Kubernetes paths are parsed by hand.
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

#[allow(dead_code)]
fn _assert_body(_: Body) {}
