//! Files on the command line into a reconciled cluster state, without a simulator: each
//! document admitted as the API server would, then one reconcile. `gwsim check`, `routes` and
//! `explain` and the terminal UI's `-f PATH` mode read files this way.

use std::path::PathBuf;

use gwsim_engine::controller::{ControllerConfig, reconcile};
use gwsim_engine::load::{LoadError, Origin, parse_documents};
use gwsim_engine::object::{Object, ObjectKey, Snapshot};
use gwsim_engine::{AdmitError, Rejection, RoutingTable, admit};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::files::{ReadError, read_sources};

/// The time files are loaded at: objects without a creationTimestamp were created then, and
/// conditions that change are stamped with it. Fixed, so output is stable.
pub const EPOCH_SECONDS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// Everything read from the command line's files.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Admitted objects with their statuses as the controller wrote them.
    pub snapshot: Snapshot,
    /// Documents the API server would refuse.
    pub rejected: Vec<(Origin, Rejection)>,
    /// Documents of kinds gwsim does not model.
    pub ignored: Vec<(Origin, String)>,
    pub table: RoutingTable,
}

/// Files that cannot be used at all: unreadable, or not YAML. (Refused documents are data,
/// in [`Inputs::rejected`].)
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Parse(#[from] LoadError),
}

/// Reads, admits and reconciles.
pub fn load(paths: &[PathBuf]) -> Result<Inputs, InputsError> {
    let sources = read_sources(paths)?;
    let epoch = Timestamp::constant(EPOCH_SECONDS, 0);
    let mut snapshot = Snapshot::new();
    let mut rejected = Vec::new();
    let mut ignored = Vec::new();
    for source in &sources {
        let docs = parse_documents(&source.name, &source.text)?;
        for doc in docs {
            let existing_key = key_of(&doc.value);
            let existing = existing_key.as_ref().and_then(|k| snapshot.get(k));
            match admit(&doc.value, existing) {
                Ok(mut object) => {
                    stamp(&mut object, epoch);
                    snapshot.insert(object);
                }
                Err(AdmitError::Rejected(r)) => rejected.push((doc.origin, r)),
                Err(AdmitError::UnknownKind { api_version, kind }) => {
                    let name = doc
                        .value
                        .pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                        .to_string();
                    ignored.push((doc.origin, format!("{api_version} {kind} {name}")));
                }
            }
        }
    }
    let reconciliation = reconcile(&snapshot, &ControllerConfig::default(), epoch);
    for (key, status) in &reconciliation.statuses {
        if let Some(object) = snapshot.objects.get_mut(key) {
            object.set_status(status);
        }
    }
    let table = RoutingTable::build(&reconciliation.gateways);
    Ok(Inputs {
        snapshot,
        rejected,
        ignored,
        table,
    })
}

/// The key a document would get, to find the object it updates.
fn key_of(value: &serde_json::Value) -> Option<ObjectKey> {
    let kind = gwsim_engine::Kind::from_type(
        value.get("apiVersion")?.as_str()?,
        value.get("kind")?.as_str()?,
    )?;
    let name = value.pointer("/metadata/name")?.as_str()?;
    let namespace = value
        .pointer("/metadata/namespace")
        .and_then(|n| n.as_str())
        .unwrap_or("default");
    Some(ObjectKey::new(kind, namespace, name))
}

/// What the API server's store adds on create: a creationTimestamp. One given in the file is
/// kept, so exported objects keep their age for the "oldest route" rule. (Admission sets
/// `generation` and carries the stored timestamp over on updates.)
fn stamp(object: &mut Object, epoch: Timestamp) {
    let meta = object.meta_mut();
    if meta.creation_timestamp.is_none() {
        meta.creation_timestamp = Some(Time(epoch));
    }
}
