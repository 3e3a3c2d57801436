//! The object store: an in-memory API server.
//!
//! Objects are keyed by kind, namespace and name. Like kube-apiserver, the store owns the
//! server-set metadata: `uid` (deterministic here, from a counter), `resourceVersion` (one
//! counter for the whole store, bumped on every real change), `generation` (bumped only when
//! the spec changes, for the kinds the API server tracks it on) and `creationTimestamp` (from
//! the virtual clock). Status is a subresource: applying a document never changes it, and
//! only [`Store::write_status`] (the controller) and the simulator's own workload controllers
//! write it. Every change is appended to an ordered log.

use std::borrow::Cow;
use std::sync::Arc;

use gwsim_engine::admission::{AdmitError, Rejection, admit};
use gwsim_engine::controller::StatusUpdate;
use gwsim_engine::object::{Kind, Object, ObjectKey, Snapshot};
use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::time::SimTime;

/// The namespace that always exists.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ChangeKind {
    Created,
    /// The object (not only its status) changed.
    Updated,
    /// Only the status changed.
    StatusUpdated,
    Deleted,
}

/// One entry of the change log, in the order changes happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The store's resourceVersion after the change.
    pub resource_version: u64,
    pub at: SimTime,
    pub kind: ChangeKind,
    pub key: ObjectKey,
    /// `metadata.generation` after the change (0 for kinds without one, and for deletions).
    pub generation: i64,
    /// The object as it was after the change (for a deletion: as it was when deleted), when
    /// the store keeps bodies ([`Store::keep_history`]): what a watch sends.
    #[serde(skip)]
    pub object: Option<Arc<Object>>,
}

/// A watch or list asked for a resourceVersion older than the history the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct Compacted {
    pub requested: u64,
    /// The oldest resourceVersion a watch can still start from.
    pub oldest: u64,
}

/// What `apply` did to an object, as `kubectl apply` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ApplyAction {
    Created,
    Configured,
    Unchanged,
}

impl ApplyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyAction::Created => "created",
            ApplyAction::Configured => "configured",
            ApplyAction::Unchanged => "unchanged",
        }
    }
}

/// A document the store accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub key: ObjectKey,
    pub action: ApplyAction,
}

/// Why the store refused a request. Messages follow the API server's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Admission refused the document.
    #[error("{0}")]
    Rejected(Rejection),
    /// A kind the simulated API server has no resource for.
    #[error(
        "resource mapping not found for name: {name:?} namespace: {namespace:?}: no matches for kind {kind:?} in version {api_version:?}"
    )]
    UnknownKind {
        api_version: String,
        kind: String,
        name: String,
        namespace: String,
    },
    /// The object's namespace does not exist.
    #[error("namespaces {0:?} not found")]
    NamespaceNotFound(String),
    /// No such object.
    #[error("{resource} {name:?} not found", resource = resource_name(.0.kind), name = .0.name)]
    NotFound(ObjectKey),
}

/// The API resource name of a kind, as NotFound messages spell it: `httproutes.gateway.networking.k8s.io`.
pub fn resource_name(kind: Kind) -> String {
    let lower = kind.as_str().to_ascii_lowercase();
    let plural = if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    };
    match kind.group() {
        "" => plural,
        group => format!("{plural}.{group}"),
    }
}

/// Whether the API server maintains `metadata.generation` for a kind: every custom resource,
/// and the apps kinds.
fn tracks_generation(kind: Kind) -> bool {
    kind.group() == gwsim_engine::object::GATEWAY_GROUP || kind == Kind::Deployment
}

/// The in-memory API server.
#[derive(Clone, Debug)]
pub struct Store {
    objects: Snapshot,
    resource_version: u64,
    next_uid: u64,
    changes: Vec<Change>,
    /// When set, changes carry the object's body and the log keeps at most this many entries
    /// (a server's watch history); unset, the whole log is kept without bodies (the simulator).
    history_limit: Option<usize>,
    /// The resourceVersion up to which the log was compacted away (0: nothing dropped).
    compacted_rv: u64,
}

impl Store {
    /// An empty cluster with the `default` namespace, created at `now`.
    pub fn new(now: SimTime) -> Store {
        let mut store = Store {
            objects: Snapshot::new(),
            resource_version: 0,
            next_uid: 1,
            changes: Vec::new(),
            history_limit: None,
            compacted_rv: 0,
        };
        let default = Namespace {
            metadata: ObjectMeta {
                name: Some(DEFAULT_NAMESPACE.to_string()),
                labels: Some(
                    [(
                        "kubernetes.io/metadata.name".to_string(),
                        DEFAULT_NAMESPACE.to_string(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        store.put(Object::Namespace(Box::new(default)), now);
        store
    }

    /// Every object, ordered by key: what the controller reads.
    pub fn snapshot(&self) -> &Snapshot {
        &self.objects
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Object> {
        self.objects.get(key)
    }

    /// Objects of one kind, in key order.
    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.objects.of_kind(kind)
    }

    /// The store's current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The whole change log, oldest first.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Changes after resourceVersion `rv`, oldest first (what a watch from `rv` would see).
    pub fn changes_since(&self, rv: u64) -> &[Change] {
        let start = self.changes.partition_point(|c| c.resource_version <= rv);
        &self.changes[start..]
    }

    /// Keeps object bodies in the change log from now on, and at most `limit` entries (older
    /// ones are compacted away): the mode a server's watches need.
    pub fn keep_history(&mut self, limit: usize) {
        self.history_limit = Some(limit.max(1));
        self.compact();
    }

    /// Changes after resourceVersion `rv`, or [`Compacted`] when some of them were dropped:
    /// a watch from `rv` must then start again from a fresh list (410 Gone).
    pub fn history_since(&self, rv: u64) -> Result<&[Change], Compacted> {
        if rv < self.compacted_rv {
            return Err(Compacted {
                requested: rv,
                oldest: self.compacted_rv,
            });
        }
        Ok(self.changes_since(rv))
    }

    fn compact(&mut self) {
        let Some(limit) = self.history_limit else {
            return;
        };
        if self.changes.len() > limit {
            // Drop in batches so compaction is amortised, not a shift on every change.
            let drop = self.changes.len() - limit + limit / 4;
            let drop = drop.min(self.changes.len());
            self.compacted_rv = self.changes[drop - 1].resource_version;
            self.changes.drain(..drop);
        }
    }

    /// Admits a document as [`Store::apply`] would and returns the object it would store,
    /// storing nothing (server-side dry run).
    pub fn prepare(&self, doc: &serde_json::Value) -> Result<Object, StoreError> {
        let doc = self.check_namespace(doc)?;
        let key = doc_key(&doc);
        let existing = key.as_ref().and_then(|k| self.objects.get(k));
        let mut object = admit(&doc, existing).map_err(|e| match e {
            AdmitError::Rejected(rejection) => StoreError::Rejected(rejection),
            AdmitError::UnknownKind { api_version, kind } => StoreError::UnknownKind {
                api_version,
                kind,
                name: str_at(&doc, "/metadata/name").to_string(),
                namespace: str_at(&doc, "/metadata/namespace").to_string(),
            },
        })?;
        let key = object.key();
        carry_status(&mut object, self.objects.get(&key));
        Ok(object)
    }

    /// Whether a namespace exists (`default` always does).
    pub fn namespace_exists(&self, name: &str) -> bool {
        name == DEFAULT_NAMESPACE
            || self
                .objects
                .get(&ObjectKey::new(Kind::Namespace, "", name))
                .is_some()
    }

    /// Creates or updates the object a document describes, as `kubectl apply` does: validated and
    /// defaulted by admission, refused if its namespace does not exist, `generation` bumped when
    /// the spec changes, status left as it was. A refused document changes nothing.
    pub fn apply(&mut self, doc: &serde_json::Value, now: SimTime) -> Result<Applied, StoreError> {
        // Status is a subresource: what the document says about it is ignored.
        let object = self.prepare(doc)?;
        let key = object.key();
        let existing = self.objects.get(&key);
        let action = match existing {
            None => ApplyAction::Created,
            Some(_) => ApplyAction::Configured,
        };
        match self.put(object, now) {
            Some(_) => Ok(Applied { key, action }),
            None => Ok(Applied {
                key,
                action: ApplyAction::Unchanged,
            }),
        }
    }

    /// Refuses documents whose namespace does not exist; fills in `default` when a namespaced
    /// document names none, as kubectl does.
    fn check_namespace<'a>(
        &self,
        doc: &'a serde_json::Value,
    ) -> Result<Cow<'a, serde_json::Value>, StoreError> {
        let api_version = str_at(doc, "/apiVersion");
        let kind = str_at(doc, "/kind");
        let Some(kind) = Kind::from_type(api_version, kind) else {
            return Ok(Cow::Borrowed(doc));
        };
        if !kind.namespaced() {
            return Ok(Cow::Borrowed(doc));
        }
        match doc.pointer("/metadata/namespace").and_then(|n| n.as_str()) {
            Some(ns) if !ns.is_empty() => {
                if self.namespace_exists(ns) {
                    Ok(Cow::Borrowed(doc))
                } else {
                    Err(StoreError::NamespaceNotFound(ns.to_string()))
                }
            }
            _ => {
                let mut owned = doc.clone();
                if let Some(meta) = owned.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                    meta.insert("namespace".into(), DEFAULT_NAMESPACE.into());
                }
                Ok(Cow::Owned(owned))
            }
        }
    }

    /// Writes an object as a server-side controller would (no admission), keeping the status
    /// it carries. Server-set metadata is filled in. Returns what changed, or `None` when the
    /// object is unchanged (then nothing is bumped or logged).
    pub fn put(&mut self, mut object: Object, now: SimTime) -> Option<ChangeKind> {
        let key = object.key();
        let existing = self.objects.get(&key);
        let kind = key.kind;
        let change = match existing {
            None => {
                let uid = self.next_uid;
                self.next_uid += 1;
                let meta = object.meta_mut();
                meta.uid = Some(format!("00000000-0000-4000-8000-{uid:012x}"));
                meta.creation_timestamp = Some(now.meta_time());
                meta.generation = tracks_generation(kind).then_some(1);
                if let Object::Namespace(ns) = &mut object {
                    ns.status.get_or_insert_with(|| NamespaceStatus {
                        phase: Some("Active".into()),
                        ..NamespaceStatus::default()
                    });
                    // The API server labels every namespace with its own name.
                    let name = key.name.clone();
                    ns.metadata
                        .labels
                        .get_or_insert_with(Default::default)
                        .insert("kubernetes.io/metadata.name".into(), name);
                }
                ChangeKind::Created
            }
            Some(old) => {
                let old_meta = old.meta();
                let spec_changed = old.spec_value() != object.spec_value();
                let generation = old_meta
                    .generation
                    .map(|g| if spec_changed { g + 1 } else { g });
                let uid = old_meta.uid.clone();
                let created = old_meta.creation_timestamp.clone();
                let rv = old_meta.resource_version.clone();
                let meta = object.meta_mut();
                meta.uid = uid;
                meta.creation_timestamp = created;
                meta.generation = generation;
                meta.resource_version = rv;
                if &object == old {
                    return None;
                }
                let mut without_status = object.clone();
                carry_status(&mut without_status, Some(old));
                if &without_status == old {
                    ChangeKind::StatusUpdated
                } else {
                    ChangeKind::Updated
                }
            }
        };
        self.resource_version += 1;
        object.meta_mut().resource_version = Some(self.resource_version.to_string());
        let generation = object.generation();
        let body = self.history_limit.map(|_| Arc::new(object.clone()));
        self.objects.insert(object);
        self.log(now, change, key, generation, body);
        Some(change)
    }

    /// Writes the controller's status for an object through the status subresource. Bumps the
    /// resourceVersion only when the status really changed; never touches the generation.
    /// Returns whether it changed.
    pub fn write_status(
        &mut self,
        key: &ObjectKey,
        status: &StatusUpdate,
        now: SimTime,
    ) -> Result<bool, StoreError> {
        let next_rv = self.resource_version + 1;
        let Some(object) = self.objects.objects.get_mut(key) else {
            return Err(StoreError::NotFound(key.clone()));
        };
        if !object.set_status(status) {
            return Ok(false);
        }
        object.meta_mut().resource_version = Some(next_rv.to_string());
        let generation = object.generation();
        let body = self.history_limit.map(|_| Arc::new(object.clone()));
        self.resource_version = next_rv;
        self.log(
            now,
            ChangeKind::StatusUpdated,
            key.clone(),
            generation,
            body,
        );
        Ok(true)
    }

    /// Deletes an object. Deleting a namespace deletes everything in it. Returns the keys
    /// deleted, the named object first.
    pub fn delete(&mut self, key: &ObjectKey, now: SimTime) -> Result<Vec<ObjectKey>, StoreError> {
        let Some(removed) = self.objects.remove(key) else {
            return Err(StoreError::NotFound(key.clone()));
        };
        self.resource_version += 1;
        let body = self.deleted_body(removed, now);
        self.log(now, ChangeKind::Deleted, key.clone(), 0, body);
        let mut deleted = vec![key.clone()];
        if key.kind == Kind::Namespace {
            let inside: Vec<ObjectKey> = self
                .objects
                .objects
                .keys()
                .filter(|k| k.kind.namespaced() && k.namespace == key.name)
                .cloned()
                .collect();
            for k in inside {
                let removed = self.objects.remove(&k);
                self.resource_version += 1;
                let body = removed.and_then(|o| self.deleted_body(o, now));
                self.log(now, ChangeKind::Deleted, k.clone(), 0, body);
                deleted.push(k);
            }
        }
        Ok(deleted)
    }

    /// The body a watch sees for a deleted object: as it was, with the deletion's
    /// resourceVersion and `deletionTimestamp`.
    fn deleted_body(&self, mut removed: Object, now: SimTime) -> Option<Arc<Object>> {
        self.history_limit?;
        let meta = removed.meta_mut();
        meta.resource_version = Some(self.resource_version.to_string());
        meta.deletion_timestamp = Some(now.meta_time());
        Some(Arc::new(removed))
    }

    fn log(
        &mut self,
        at: SimTime,
        kind: ChangeKind,
        key: ObjectKey,
        generation: i64,
        object: Option<Arc<Object>>,
    ) {
        tracing::debug!(rv = self.resource_version, ?kind, %key, "store change");
        self.changes.push(Change {
            resource_version: self.resource_version,
            at,
            kind,
            key,
            generation,
            object,
        });
        self.compact();
    }
}

fn str_at<'a>(doc: &'a serde_json::Value, pointer: &str) -> &'a str {
    doc.pointer(pointer).and_then(|v| v.as_str()).unwrap_or("")
}

/// The key a document will have, when its kind is known.
fn doc_key(doc: &serde_json::Value) -> Option<ObjectKey> {
    let kind = Kind::from_type(str_at(doc, "/apiVersion"), str_at(doc, "/kind"))?;
    Some(ObjectKey::new(
        kind,
        str_at(doc, "/metadata/namespace"),
        str_at(doc, "/metadata/name"),
    ))
}

/// Gives `object` the status of `from` (or none), so that only the status path changes it.
pub(crate) fn carry_status(object: &mut Object, from: Option<&Object>) {
    macro_rules! carry {
        ($o:expr, $variant:ident) => {
            $o.status = match from {
                Some(Object::$variant(f)) => f.status.clone(),
                _ => None,
            }
        };
    }
    match object {
        Object::Namespace(o) => carry!(o, Namespace),
        Object::GatewayClass(o) => carry!(o, GatewayClass),
        Object::Gateway(o) => carry!(o, Gateway),
        Object::ListenerSet(o) => carry!(o, ListenerSet),
        Object::HttpRoute(o) => carry!(o, HttpRoute),
        Object::GrpcRoute(o) => carry!(o, GrpcRoute),
        Object::TlsRoute(o) => carry!(o, TlsRoute),
        Object::TcpRoute(o) => carry!(o, TcpRoute),
        Object::UdpRoute(o) => carry!(o, UdpRoute),
        Object::BackendTlsPolicy(o) => carry!(o, BackendTlsPolicy),
        Object::Service(o) => carry!(o, Service),
        Object::Deployment(o) => carry!(o, Deployment),
        Object::Pod(o) => carry!(o, Pod),
        Object::ReferenceGrant(_)
        | Object::EndpointSlice(_)
        | Object::Secret(_)
        | Object::ConfigMap(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_api::apis::experimental::httproutes::{
        HttpRoute, HttpRouteSpec, HttpRouteStatus, HttpRouteStatusParents,
        HttpRouteStatusParentsParentRef,
    };
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::time::Duration;

    fn route(ns: &str, name: &str, hostnames: &[&str], label: Option<&str>) -> Object {
        let mut meta = ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        };
        if let Some(l) = label {
            meta.labels = Some([("team".to_string(), l.to_string())].into());
        }
        Object::HttpRoute(Box::new(HttpRoute {
            metadata: meta,
            spec: HttpRouteSpec {
                hostnames: Some(hostnames.iter().map(|h| h.to_string()).collect()),
                ..HttpRouteSpec::default()
            },
            status: None,
        }))
    }

    fn config_map(ns: &str, name: &str) -> Object {
        Object::ConfigMap(Box::new(ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }))
    }

    fn route_status(parent: &str) -> StatusUpdate {
        StatusUpdate::HttpRoute(HttpRouteStatus {
            parents: vec![HttpRouteStatusParents {
                controller_name: "gateway.gwsim.dev/controller".into(),
                parent_ref: HttpRouteStatusParentsParentRef {
                    name: parent.into(),
                    ..Default::default()
                },
                conditions: Vec::new(),
            }],
        })
    }

    fn meta_of(store: &Store, key: &ObjectKey) -> ObjectMeta {
        store.get(key).expect("stored").meta().clone()
    }

    #[test]
    fn default_namespace_exists_from_the_start() {
        let store = Store::new(SimTime::START);
        assert!(store.namespace_exists("default"));
        assert!(!store.namespace_exists("other"));
        let ns = store
            .get(&ObjectKey::new(Kind::Namespace, "", "default"))
            .expect("default namespace");
        assert_eq!(
            ns.meta().labels.as_ref().expect("labels")["kubernetes.io/metadata.name"],
            "default"
        );
        assert_eq!(store.resource_version(), 1);
    }

    #[test]
    fn resource_version_generation_and_timestamps() {
        let t0 = SimTime::START;
        let t1 = t0.after(Duration::from_millis(2500));
        let mut store = Store::new(t0);
        let key = ObjectKey::new(Kind::HttpRoute, "default", "r");

        assert_eq!(
            store.put(route("default", "r", &["a.example"], None), t0),
            Some(ChangeKind::Created)
        );
        let m = meta_of(&store, &key);
        assert_eq!(m.resource_version.as_deref(), Some("2"));
        assert_eq!(m.generation, Some(1));
        assert_eq!(
            m.creation_timestamp.expect("set").0.to_string(),
            "2026-01-01T00:00:00Z"
        );
        let uid = m.uid.expect("uid");

        // The same object again: nothing changes, nothing is logged.
        assert_eq!(
            store.put(route("default", "r", &["a.example"], None), t1),
            None
        );
        assert_eq!(store.resource_version(), 2);

        // A label change: new resourceVersion, same generation.
        assert_eq!(
            store.put(route("default", "r", &["a.example"], Some("x")), t1),
            Some(ChangeKind::Updated)
        );
        let m = meta_of(&store, &key);
        assert_eq!(m.resource_version.as_deref(), Some("3"));
        assert_eq!(m.generation, Some(1));

        // A spec change: generation bumps; uid and creationTimestamp are kept.
        store.put(route("default", "r", &["b.example"], Some("x")), t1);
        let m = meta_of(&store, &key);
        assert_eq!(m.generation, Some(2));
        assert_eq!(m.uid.as_deref(), Some(uid.as_str()));
        assert_eq!(
            m.creation_timestamp.expect("kept").0.to_string(),
            "2026-01-01T00:00:00Z"
        );

        // Kinds without a generation on the API server get none.
        store.put(config_map("default", "c"), t1);
        let cm = meta_of(&store, &ObjectKey::new(Kind::ConfigMap, "default", "c"));
        assert_eq!(cm.generation, None);
        assert_eq!(
            cm.creation_timestamp.expect("set").0.to_string(),
            "2026-01-01T00:00:02Z"
        );
    }

    #[test]
    fn status_path_bumps_resource_version_only_on_real_changes() {
        let mut store = Store::new(SimTime::START);
        let key = ObjectKey::new(Kind::HttpRoute, "default", "r");
        store.put(route("default", "r", &[], None), SimTime::START);
        let rv = store.resource_version();

        assert_eq!(
            store.write_status(&key, &route_status("gw"), SimTime::START),
            Ok(true)
        );
        assert_eq!(store.resource_version(), rv + 1);
        assert_eq!(meta_of(&store, &key).generation, Some(1));
        assert_eq!(
            store.write_status(&key, &route_status("gw"), SimTime::START),
            Ok(false)
        );
        assert_eq!(store.resource_version(), rv + 1);

        // Re-putting the object without a status keeps nothing of the old status only if the
        // caller says so: put keeps what it is given, so carry it as apply does.
        let mut again = route("default", "r", &[], None);
        carry_status(&mut again, store.get(&key));
        assert_eq!(store.put(again, SimTime::START), None);

        let missing = ObjectKey::new(Kind::HttpRoute, "default", "nope");
        assert_eq!(
            store.write_status(&missing, &route_status("gw"), SimTime::START),
            Err(StoreError::NotFound(missing.clone()))
        );
        let last = store.changes().last().expect("logged");
        assert_eq!(last.kind, ChangeKind::StatusUpdated);
        assert_eq!(last.key, key);
    }

    #[test]
    fn uids_are_deterministic_and_unique() {
        let build = || {
            let mut store = Store::new(SimTime::START);
            for name in ["a", "b", "c"] {
                store.put(config_map("default", name), SimTime::START);
            }
            store
                .list(Kind::ConfigMap)
                .map(|o| o.meta().uid.clone().expect("uid"))
                .collect::<Vec<_>>()
        };
        let first = build();
        assert_eq!(first, build());
        let mut unique = first.clone();
        unique.dedup();
        assert_eq!(unique.len(), 3);
        assert_eq!(first[0], "00000000-0000-4000-8000-000000000002");
    }

    #[test]
    fn delete_logs_and_cascades_through_namespaces() {
        let mut store = Store::new(SimTime::START);
        let ns = Object::Namespace(Box::new(Namespace {
            metadata: ObjectMeta {
                name: Some("team".into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }));
        store.put(ns, SimTime::START);
        store.put(config_map("team", "a"), SimTime::START);
        store.put(config_map("default", "b"), SimTime::START);
        let ns_key = ObjectKey::new(Kind::Namespace, "", "team");
        let deleted = store.delete(&ns_key, SimTime::START).expect("exists");
        assert_eq!(
            deleted,
            vec![ns_key.clone(), ObjectKey::new(Kind::ConfigMap, "team", "a")]
        );
        assert!(
            store
                .get(&ObjectKey::new(Kind::ConfigMap, "default", "b"))
                .is_some()
        );
        assert_eq!(
            store.delete(&ns_key, SimTime::START),
            Err(StoreError::NotFound(ns_key.clone()))
        );
        assert_eq!(
            StoreError::NotFound(ObjectKey::new(Kind::HttpRoute, "default", "x")).to_string(),
            "httproutes.gateway.networking.k8s.io \"x\" not found"
        );
        let rv = store.resource_version();
        let tail: Vec<ChangeKind> = store.changes_since(rv - 2).iter().map(|c| c.kind).collect();
        assert_eq!(tail, vec![ChangeKind::Deleted, ChangeKind::Deleted]);
    }

    #[test]
    fn documents_in_missing_namespaces_are_refused_before_admission() {
        let mut store = Store::new(SimTime::START);
        let rv = store.resource_version();
        let doc = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "nowhere"}
        });
        assert_eq!(
            store.apply(&doc, SimTime::START),
            Err(StoreError::NamespaceNotFound("nowhere".into()))
        );
        assert_eq!(store.resource_version(), rv);
        assert_eq!(
            StoreError::NamespaceNotFound("nowhere".into()).to_string(),
            "namespaces \"nowhere\" not found"
        );
    }

    #[test]
    fn resource_names() {
        assert_eq!(
            resource_name(Kind::GatewayClass),
            "gatewayclasses.gateway.networking.k8s.io"
        );
        assert_eq!(resource_name(Kind::Service), "services");
        assert_eq!(resource_name(Kind::Deployment), "deployments.apps");
    }

    fn doc(text: &str) -> serde_json::Value {
        serde_saphyr::from_str(text).expect("yaml")
    }

    const ROUTE_DOC: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: svc, port: 80}]
status:
  parents:
  - parentRef: {name: forged}
    controllerName: example.com/forged
    conditions: []
";

    #[test]
    fn apply_creates_configures_and_leaves_unchanged() {
        let mut store = Store::new(SimTime::START);
        let key = ObjectKey::new(Kind::HttpRoute, "default", "r");
        let applied = store.apply(&doc(ROUTE_DOC), SimTime::START).expect("valid");
        assert_eq!(
            applied,
            Applied {
                key: key.clone(),
                action: ApplyAction::Created
            }
        );
        match store.get(&key) {
            Some(Object::HttpRoute(r)) => assert_eq!(r.status, None, "status is a subresource"),
            other => panic!("{other:?}"),
        }
        let rv = store.resource_version();
        let again = store.apply(&doc(ROUTE_DOC), SimTime::START).expect("valid");
        assert_eq!(again.action, ApplyAction::Unchanged);
        assert_eq!(store.resource_version(), rv);

        let changed = ROUTE_DOC.replace("port: 80", "port: 81");
        let applied = store.apply(&doc(&changed), SimTime::START).expect("valid");
        assert_eq!(applied.action, ApplyAction::Configured);
        assert_eq!(meta_of(&store, &key).generation, Some(2));

        // A namespaced document without a namespace lands in `default`.
        let bare = ROUTE_DOC
            .replace("namespace: default", "labels: {a: b}")
            .replace("name: r,", "name: r2,");
        let applied = store.apply(&doc(&bare), SimTime::START).expect("valid");
        assert_eq!(
            applied.key,
            ObjectKey::new(Kind::HttpRoute, "default", "r2")
        );
    }

    #[test]
    fn a_refused_document_changes_nothing() {
        let mut store = Store::new(SimTime::START);
        store.apply(&doc(ROUTE_DOC), SimTime::START).expect("valid");
        let before = store.snapshot().clone();
        let rv = store.resource_version();
        let log = store.changes().len();
        let cases = [
            (ROUTE_DOC.replace("port: 80", "port: 0"), "is invalid"),
            (
                ROUTE_DOC.replace("parentRefs:", "parentRefz:"),
                "parentRefz",
            ),
            (
                ROUTE_DOC.replace("namespace: default", "namespace: nowhere"),
                "namespaces \"nowhere\" not found",
            ),
            (
                ROUTE_DOC.replace(
                    "gateway.networking.k8s.io/v1",
                    "gateway.networking.k8s.io/v1alpha9",
                ),
                "no matches for kind \"HTTPRoute\" in version \"gateway.networking.k8s.io/v1alpha9\"",
            ),
        ];
        for (text, message) in cases {
            let err = store
                .apply(&doc(&text), SimTime::START)
                .expect_err("refused");
            assert!(err.to_string().contains(message), "{err}");
            assert_eq!(store.snapshot(), &before);
            assert_eq!(store.resource_version(), rv);
            assert_eq!(store.changes().len(), log);
        }
    }

    #[test]
    fn history_keeps_bodies_and_compacts() {
        let mut store = Store::new(SimTime::START);
        assert!(store.changes()[0].object.is_none(), "no bodies by default");
        store.keep_history(8);
        for i in 0..6 {
            store.put(config_map("default", &format!("c{i}")), SimTime::START);
        }
        let key = ObjectKey::new(Kind::ConfigMap, "default", "c0");
        store.delete(&key, SimTime::START).expect("exists");
        let last = store.changes().last().expect("logged");
        assert_eq!(last.kind, ChangeKind::Deleted);
        let body = last.object.as_ref().expect("body kept");
        assert_eq!(body.key(), key);
        assert!(body.meta().deletion_timestamp.is_some());
        assert_eq!(
            body.meta().resource_version.as_deref(),
            Some(store.resource_version().to_string().as_str())
        );
        assert!(store.history_since(1).is_ok());
        for i in 0..10 {
            store.put(config_map("default", &format!("d{i}")), SimTime::START);
        }
        assert!(store.changes().len() <= 8);
        let err = store.history_since(1).expect_err("compacted");
        assert_eq!(err.requested, 1);
        assert!(err.oldest > 1);
        let rv = store.resource_version();
        assert_eq!(store.history_since(rv).map(<[Change]>::len), Ok(0));
    }
}
