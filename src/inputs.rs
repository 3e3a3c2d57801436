//! Files on the command line into a reconciled cluster state, without a simulator: each
//! document admitted as the API server would, then one reconcile.

use std::path::PathBuf;

use anyhow::Context;
use gwsim_engine::diff::{ChangeSet, Settled, apply_change};
use gwsim_engine::load::{Document, Origin, parse_documents};
use gwsim_engine::object::Snapshot;
use gwsim_engine::{Rejection, RoutingTable};
use k8s_openapi::jiff::Timestamp;

/// The time `check`, `routes`, `explain` and `diff` run at: objects without a
/// creationTimestamp were created then, and conditions that change are stamped with it.
/// Fixed, so output is stable.
pub const EPOCH_SECONDS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// [`EPOCH_SECONDS`] as a timestamp.
pub fn epoch() -> anyhow::Result<Timestamp> {
    Timestamp::from_second(EPOCH_SECONDS).context("epoch")
}

/// Everything read from the command line's files.
pub struct Inputs {
    /// Admitted objects with their statuses as the controller wrote them.
    pub snapshot: Snapshot,
    /// Documents the API server would refuse.
    pub rejected: Vec<(Origin, Rejection)>,
    /// Documents of kinds gwsim does not model.
    pub ignored: Vec<(Origin, String)>,
    pub table: RoutingTable,
}

/// Admitted objects, not yet reconciled, and what was not admitted.
pub struct Loaded {
    pub snapshot: Snapshot,
    pub rejected: Vec<(Origin, Rejection)>,
    pub ignored: Vec<(Origin, String)>,
}

/// Every document of the files and folders, in order. Errors for unreadable files and YAML.
pub fn read_documents(paths: &[PathBuf]) -> anyhow::Result<Vec<Document>> {
    let mut out = Vec::new();
    for source in gwsim_sim::files::read_sources(paths)? {
        out.extend(parse_documents(&source.name, &source.text)?);
    }
    Ok(out)
}

/// Reads and admits every document into one snapshot, as a series of `kubectl apply`: a later
/// document with the key of an earlier one updates it.
pub fn load_snapshot(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    let change = ChangeSet {
        documents: read_documents(paths)?,
        deletions: Vec::new(),
    };
    let applied = apply_change(Snapshot::new(), &change, epoch()?);
    Ok(Loaded {
        snapshot: applied.snapshot,
        rejected: applied.rejected,
        ignored: applied.ignored,
    })
}

/// Reads, admits and reconciles. Errors only for unreadable files and YAML (exit code 2).
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Inputs> {
    let loaded = load_snapshot(paths)?;
    let settled = Settled::new(loaded.snapshot, epoch()?);
    let table = settled.table();
    Ok(Inputs {
        snapshot: settled.snapshot,
        rejected: loaded.rejected,
        ignored: loaded.ignored,
        table,
    })
}
