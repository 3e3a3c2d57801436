//! A change applied to a state as the API server would take it, and a state reconciled.
//!
//! Each document is admitted against the stored object of the same key (so `metadata.generation`
//! moves on, immutable fields are checked and the status is kept), as `kubectl apply` of a
//! complete manifest does; a refused document changes nothing. Deletions run first, so a
//! deleted and re-applied object is created anew.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::admission::{AdmissionOptions, AdmitError, Rejection, admit_owned, admit_with};
use crate::controller::{ControllerConfig, Reconciliation, reconcile};
use crate::load::{Document, Origin};
use crate::object::{Kind, ObjectKey, Snapshot};
use crate::table::RoutingTable;

use super::State;

/// Documents to apply and objects to delete.
#[derive(Clone, Debug, Default)]
pub struct ChangeSet {
    pub documents: Vec<Document>,
    pub deletions: Vec<ObjectKey>,
}

/// A snapshot with a change applied, and what was not applied.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub snapshot: Snapshot,
    /// Documents the API server would refuse.
    pub rejected: Vec<(Origin, Rejection)>,
    /// Documents of kinds gwsim does not model: `apiVersion kind name`.
    pub ignored: Vec<(Origin, String)>,
    /// Deletions of objects that do not exist.
    pub missing: Vec<ObjectKey>,
}

/// Applies `change` to `base`. Objects created without a `creationTimestamp` get `now`, as
/// the API server's store stamps them; an update keeps the stored one.
pub fn apply_change(base: Snapshot, change: &ChangeSet, now: Timestamp) -> Applied {
    apply_change_with(base, change, now, &AdmissionOptions::default())
}

/// [`apply_change`] with admission `options` (the Gateway API release whose rules apply).
pub fn apply_change_with(
    base: Snapshot,
    change: &ChangeSet,
    now: Timestamp,
    options: &AdmissionOptions,
) -> Applied {
    let mut out = delete(base, &change.deletions);
    for doc in &change.documents {
        let existing = document_key(&doc.value).and_then(|k| out.snapshot.get(&k));
        let admitted = admit_with(&doc.value, existing, options);
        record(&mut out, admitted, &doc.origin, || name_of(&doc.value), now);
    }
    out
}

/// [`apply_change_with`] on a change the caller no longer needs: each document is admitted in
/// place, without a copy (loading a file).
pub fn apply_owned_change_with(
    base: Snapshot,
    change: ChangeSet,
    now: Timestamp,
    options: &AdmissionOptions,
) -> Applied {
    let mut out = delete(base, &change.deletions);
    for doc in change.documents {
        let existing = document_key(&doc.value).and_then(|k| out.snapshot.get(&k));
        let name = name_of(&doc.value);
        let admitted = admit_owned(doc.value, existing, options);
        record(&mut out, admitted, &doc.origin, || name, now);
    }
    out
}

fn delete(base: Snapshot, deletions: &[ObjectKey]) -> Applied {
    let mut out = Applied {
        snapshot: base,
        ..Applied::default()
    };
    for key in deletions {
        if out.snapshot.remove(key).is_none() {
            out.missing.push(key.clone());
        }
    }
    out
}

fn name_of(value: &Value) -> String {
    value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Stores an admitted object, or notes why a document was not: what applying a document does
/// with admission's answer (callers that admit documents on several threads, then apply the
/// answers in order, use it).
pub fn record(
    out: &mut Applied,
    admitted: Result<crate::object::Object, AdmitError>,
    origin: &Origin,
    name: impl FnOnce() -> String,
    now: Timestamp,
) {
    match admitted {
        Ok(mut object) => {
            let meta = object.meta_mut();
            if meta.creation_timestamp.is_none() {
                meta.creation_timestamp = Some(Time(now));
            }
            out.snapshot.insert(object);
        }
        Err(AdmitError::Rejected(r)) => out.rejected.push((origin.clone(), r)),
        Err(AdmitError::UnknownKind { api_version, kind }) => {
            let name = name();
            out.ignored
                .push((origin.clone(), format!("{api_version} {kind} {name}")));
        }
    }
}

/// The key a document's object gets, to find the object it updates: a namespaced object
/// without a namespace, or with an empty one, goes to `default`, as admission puts it;
/// `None` for a kind gwsim does not model or a document without a name.
pub fn document_key(value: &Value) -> Option<ObjectKey> {
    let kind = Kind::from_type(
        value.get("apiVersion")?.as_str()?,
        value.get("kind")?.as_str()?,
    )?;
    let name = value.pointer("/metadata/name")?.as_str()?;
    let namespace = value
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .unwrap_or("default");
    Some(ObjectKey::new(kind, namespace, name))
}

/// A snapshot reconciled once, with the statuses written back into the objects.
#[derive(Clone, Debug)]
pub struct Settled {
    pub snapshot: Snapshot,
    pub reconciliation: Reconciliation,
}

impl Settled {
    /// Reconciles `snapshot` at `now` with the default controller settings.
    pub fn new(snapshot: Snapshot, now: Timestamp) -> Settled {
        Settled::with_config(snapshot, &ControllerConfig::default(), now)
    }

    /// Reconciles `snapshot` at `now` with `config` (the stand-in, for files).
    pub fn with_config(
        mut snapshot: Snapshot,
        config: &ControllerConfig,
        now: Timestamp,
    ) -> Settled {
        let reconciliation = reconcile(&snapshot, config, now);
        for (key, status) in &reconciliation.statuses {
            if let Some(object) = snapshot.objects.get_mut(key) {
                object.set_status(status);
            }
        }
        Settled {
            snapshot,
            reconciliation,
        }
    }

    /// The routing table of every Gateway, with the mesh's.
    pub fn table(&self) -> RoutingTable {
        RoutingTable::build(&self.reconciliation.gateways)
            .with_mesh(crate::table::MeshTable::build(&self.reconciliation.mesh))
    }

    pub fn state(&self) -> State<'_> {
        State {
            snapshot: &self.snapshot,
            reconciliation: &self.reconciliation,
        }
    }
}
