//! `gwsim diff`: what a set of resource changes does to a cluster's behaviour.
//!
//! Two reconciled states in, one [`BehaviourDiff`] out, in four parts:
//! - **rejections**: documents of the change the API server would refuse (the caller admits
//!   the change, with [`apply_change`], and hands them in);
//! - **status changes** (`status`): per object, conditions that appear, disappear or change
//!   status or reason, and listeners' attachedRoutes;
//! - **table changes** (`table_changes`): per Gateway and listener, entries added, removed,
//!   changed, moved, and entries that became shadowed;
//! - **behaviour changes** (`probes`, `behaviour`): probe requests derived from the entries of
//!   both tables, sent through both; every request whose outcome differs, with both
//!   explanations.
//!
//! Only what the change can affect is probed (`scope`): the listeners whose configuration
//! differs, and within them the hostnames of the routes that differ. Pure: no I/O, no clock,
//! no randomness (weighted choices are enumerated, not drawn).

mod behaviour;
mod change;
mod probes;
mod render;
mod scope;
mod status;
mod table_changes;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::admission::{Cause, Rejection};
use crate::config::GatewayConfig;
use crate::controller::Reconciliation;
use crate::decision::Request;
use crate::explain::Explanation;
use crate::load::Origin;
use crate::object::{ObjectKey, Snapshot};
use crate::table::RoutingTable;

pub use behaviour::{Behaviour, Branch, Effect, ForwardEffect};
pub use change::{
    Applied, ChangeSet, Settled, apply_change, apply_change_with, apply_owned_change_with,
    document_key, record,
};
pub use status::{
    AttachedRoutesChange, ConditionChange, ConditionState, ObjectStatusChange, Presence,
};
pub use table_changes::{EntryChange, EntryMove, ListenerShape, ListenerTableChange, Shadowing};

/// One reconciled state: the objects (with the statuses the controller wrote) and the
/// reconciliation. The diff builds the routing tables it needs itself: only those of the
/// Gateways a change touches.
#[derive(Clone, Copy)]
pub struct State<'a> {
    pub snapshot: &'a Snapshot,
    pub reconciliation: &'a Reconciliation,
}

/// What the caller adds to the comparison.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// Documents of the change the API server refused (not applied).
    pub rejections: Vec<RejectedChange>,
    /// Documents of the change of kinds gwsim does not model (not applied).
    pub ignored: Vec<IgnoredDocument>,
    /// Requests of the user's own, sent through both states whatever the change touches.
    pub requests: Vec<UserRequest>,
}

/// A request given by the user, with a label for output (`requests.yaml #2`).
#[derive(Clone, Debug)]
pub struct UserRequest {
    pub label: String,
    pub request: Request,
}

/// A document of the change that was not applied, or a deletion of an object that does not
/// exist.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RejectedChange {
    /// `change.yaml:3 (document 1)`, or `--delete HTTPRoute/shop/web`.
    pub origin: String,
    /// The API server's message: `HTTPRoute "web" is invalid: spec...`.
    pub message: String,
    /// Every cause (empty for a deletion of a missing object).
    pub causes: Vec<Cause>,
}

impl RejectedChange {
    pub fn from_rejection(origin: &Origin, rejection: &Rejection) -> RejectedChange {
        RejectedChange {
            origin: origin.to_string(),
            message: rejection.to_string(),
            causes: rejection.causes.clone(),
        }
    }

    /// A deletion of an object the before state does not have, worded as the API server's
    /// NotFound: `httproutes.gateway.networking.k8s.io "web" not found`.
    pub fn not_found(key: &ObjectKey) -> RejectedChange {
        let kind = key.kind.as_str().to_ascii_lowercase();
        let plural = if kind.ends_with('s') {
            format!("{kind}es")
        } else {
            format!("{kind}s")
        };
        let resource = match key.kind.group() {
            "" => plural,
            group => format!("{plural}.{group}"),
        };
        RejectedChange {
            origin: format!("--delete {}/{}", key.kind, key.namespaced_name()),
            message: format!("{resource} \"{}\" not found", key.name),
            causes: Vec::new(),
        }
    }
}

/// A document of a kind gwsim does not model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct IgnoredDocument {
    pub origin: String,
    /// `apiVersion kind name`.
    pub what: String,
}

/// A request whose outcome differs between the two states.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestChange {
    pub request: Request,
    /// The request in one line: `GET http://foo.com/v2 (port 80), Gateway infra/gw`.
    pub description: String,
    /// Why it was sent: `hits HTTPRoute shop/web rule 0 match 0`, `near miss of ...: ...`,
    /// or the user's label.
    pub origin: String,
    pub before: Behaviour,
    pub after: Behaviour,
    /// What differs, in a few words each: `status 200 → 404`, `weights changed 90/10 → 80/20`.
    pub differences: Vec<String>,
    /// A larger share of the request is answered with an error (status 400 and up, or a
    /// refused connection) than before.
    pub regression: bool,
    pub before_explanation: Explanation,
    pub after_explanation: Explanation,
}

/// The whole comparison. Every list is in a fixed order: rejections in input order, objects
/// by key, listeners by Gateway key and name, requests by probe order (Gateway, port, scheme,
/// host, path, method, headers).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BehaviourDiff {
    pub rejections: Vec<RejectedChange>,
    pub ignored: Vec<IgnoredDocument>,
    pub status_changes: Vec<ObjectStatusChange>,
    pub table_changes: Vec<ListenerTableChange>,
    pub behaviour_changes: Vec<RequestChange>,
    /// Probe requests sent through both states (derived and the user's).
    pub probes: usize,
    /// Requests that went from success towards errors, plus conditions Accepted or
    /// ResolvedRefs that were True and no longer are.
    pub regressions: usize,
}

impl BehaviourDiff {
    /// Whether anything at all differs (or was refused).
    pub fn has_changes(&self) -> bool {
        !self.rejections.is_empty()
            || !self.status_changes.is_empty()
            || !self.table_changes.is_empty()
            || !self.behaviour_changes.is_empty()
    }

    /// Whether a request or an object got worse (see [`BehaviourDiff::regressions`]).
    pub fn has_regressions(&self) -> bool {
        self.regressions > 0
    }

    /// The diff for people; ANSI colours when `color`.
    pub fn render_text(&self, color: bool) -> String {
        render::render(self, color)
    }
}

/// Compares two states: statuses, routing tables, and the outcome of probe requests derived
/// from both tables, restricted to the listeners and hostnames whose configuration differs.
pub fn diff(before: State<'_>, after: State<'_>, options: DiffOptions) -> BehaviourDiff {
    let status_changes = status::compare(before, after);
    let scopes = scope::affected(
        &before.reconciliation.gateways,
        &after.reconciliation.gateways,
    );
    // Probes name their Gateway, and a decision reads only its Gateway: the tables need only
    // the Gateways a change touches. The user's requests may name none (the only Gateway),
    // so with them the tables are whole.
    let touched: Option<BTreeSet<&ObjectKey>> = options
        .requests
        .is_empty()
        .then(|| scopes.keys().map(|(gateway, _)| gateway).collect());
    let table_before = build_table(&before.reconciliation.gateways, touched.as_ref());
    let table_after = build_table(&after.reconciliation.gateways, touched.as_ref());
    let table_changes = table_changes::compare(&table_before, &table_after, &scopes);
    let probes = probes::derive(
        &before.reconciliation.gateways,
        &after.reconciliation.gateways,
        &scopes,
        &options.requests,
    );
    let probe_count = probes.len();
    let behaviour_changes = behaviour::compare_all(&table_before, &table_after, probes);
    let regressions = behaviour_changes.iter().filter(|c| c.regression).count()
        + status_changes
            .iter()
            .flat_map(|s| &s.conditions)
            .filter(|c| c.regression)
            .count();
    BehaviourDiff {
        rejections: options.rejections,
        ignored: options.ignored,
        status_changes,
        table_changes,
        behaviour_changes,
        probes: probe_count,
        regressions,
    }
}

/// The routing table of the `only` Gateways (all of them when `None`).
fn build_table(gateways: &[GatewayConfig], only: Option<&BTreeSet<&ObjectKey>>) -> RoutingTable {
    match only {
        None => RoutingTable::build(gateways),
        Some(keys) => {
            let kept: Vec<GatewayConfig> = gateways
                .iter()
                .filter(|g| keys.contains(&g.key))
                .cloned()
                .collect();
            RoutingTable::build(&kept)
        }
    }
}
