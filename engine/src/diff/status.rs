//! Status changes: per object, the conditions that appear, disappear, or change status or
//! reason, and listeners' attachedRoutes. Messages alone, `observedGeneration` and
//! `lastTransitionTime` are not changes: they move with every edit.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::Serialize;

use crate::controller::{CONTROLLER_NAME, StatusUpdate};
use crate::object::ObjectKey;

use super::State;

/// Whether the object's status is new, gone, or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// The controller writes a status it did not write before (a new object).
    Added,
    /// The controller no longer writes a status (the object is gone, or not ours any more).
    Removed,
    Changed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectStatusChange {
    pub object: ObjectKey,
    pub presence: Presence,
    /// By scope, then condition type.
    pub conditions: Vec<ConditionChange>,
    /// By listener name.
    pub attached_routes: Vec<AttachedRoutesChange>,
}

/// One condition that appeared, disappeared, or changed status or reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConditionChange {
    /// Where the condition sits: empty for the object itself, `listener http`,
    /// `parent Gateway infra/edge section http`.
    pub scope: String,
    pub condition_type: String,
    pub before: Option<ConditionState>,
    pub after: Option<ConditionState>,
    /// Accepted or ResolvedRefs was True and, the object still there, no longer is.
    pub regression: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConditionState {
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttachedRoutesChange {
    pub listener: String,
    pub before: Option<i32>,
    pub after: Option<i32>,
}

/// A status taken apart: conditions by (scope, type), attachedRoutes by listener.
#[derive(Default)]
struct Flat {
    conditions: BTreeMap<(String, String), ConditionState>,
    attached: BTreeMap<String, i32>,
}

impl Flat {
    fn of(status: &StatusUpdate) -> Flat {
        let mut flat = Flat::default();
        // Gateways and ListenerSets, and the two route kinds, share status shapes in
        // different generated types.
        macro_rules! listeners {
            ($s:expr) => {{
                flat.add("", $s.conditions.iter().flatten());
                for l in $s.listeners.iter().flatten() {
                    flat.add(&format!("listener {}", l.name), &l.conditions);
                    flat.attached.insert(l.name.clone(), l.attached_routes);
                }
            }};
        }
        // Route parents and policy ancestors: a reference, a controllerName, conditions.
        macro_rules! parents {
            ($list:expr, $reference:ident) => {{
                for p in &$list {
                    let r = &p.$reference;
                    let scope = parent_scope(
                        r.kind.as_deref(),
                        r.namespace.as_deref(),
                        &r.name,
                        r.section_name.as_deref(),
                        r.port,
                        &p.controller_name,
                    );
                    flat.add(&scope, &p.conditions);
                }
            }};
        }
        match status {
            StatusUpdate::GatewayClass(s) => flat.add("", s.conditions.iter().flatten()),
            StatusUpdate::Gateway(s) => listeners!(s),
            StatusUpdate::ListenerSet(s) => listeners!(s),
            StatusUpdate::HttpRoute(s) => parents!(s.parents, parent_ref),
            StatusUpdate::GrpcRoute(s) => parents!(s.parents, parent_ref),
            StatusUpdate::TlsRoute(s) => parents!(s.parents, parent_ref),
            StatusUpdate::TcpRoute(s) => parents!(s.parents, parent_ref),
            StatusUpdate::UdpRoute(s) => parents!(s.parents, parent_ref),
            StatusUpdate::BackendTlsPolicy(s) => parents!(s.ancestors, ancestor_ref),
        }
        flat
    }

    fn add<'c>(&mut self, scope: &str, conditions: impl IntoIterator<Item = &'c Condition>) {
        for c in conditions {
            self.conditions.insert(
                (scope.to_string(), c.type_.clone()),
                ConditionState {
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                },
            );
        }
    }
}

/// `parent Gateway infra/edge section http port 80`, naming the controller when not ours.
fn parent_scope(
    kind: Option<&str>,
    namespace: Option<&str>,
    name: &str,
    section: Option<&str>,
    port: Option<i32>,
    controller: &str,
) -> String {
    let mut out = format!(
        "parent {} {}/{name}",
        kind.unwrap_or("Gateway"),
        namespace.unwrap_or("")
    );
    if let Some(section) = section {
        out.push_str(&format!(" section {section}"));
    }
    if let Some(port) = port {
        out.push_str(&format!(" port {port}"));
    }
    if controller != CONTROLLER_NAME {
        out.push_str(&format!(" (controller {controller})"));
    }
    out
}

/// Compares the statuses the controller wrote in the two states, object by object.
pub(super) fn compare(before: State<'_>, after: State<'_>) -> Vec<ObjectStatusChange> {
    let (a, b) = (
        &before.reconciliation.statuses,
        &after.reconciliation.statuses,
    );
    let mut keys: Vec<&ObjectKey> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let (old, new) = (a.get(key), b.get(key));
        if old == new {
            continue;
        }
        let presence = match (old, new) {
            (None, _) => Presence::Added,
            (_, None) => Presence::Removed,
            _ => Presence::Changed,
        };
        let old = old.map(Flat::of).unwrap_or_default();
        let new = new.map(Flat::of).unwrap_or_default();
        let still_there = after.snapshot.get(key).is_some();
        let conditions = compare_conditions(&old, &new, still_there);
        let attached_routes = compare_attached(&old, &new);
        if conditions.is_empty() && attached_routes.is_empty() {
            continue;
        }
        out.push(ObjectStatusChange {
            object: key.clone(),
            presence,
            conditions,
            attached_routes,
        });
    }
    out
}

fn compare_conditions(old: &Flat, new: &Flat, still_there: bool) -> Vec<ConditionChange> {
    let mut keys: Vec<&(String, String)> =
        old.conditions.keys().chain(new.conditions.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let (before, after) = (old.conditions.get(key), new.conditions.get(key));
        let same = match (before, after) {
            (Some(x), Some(y)) => x.status == y.status && x.reason == y.reason,
            (None, None) => true,
            _ => false,
        };
        if same {
            continue;
        }
        let (scope, condition_type) = key;
        let regression = still_there
            && matches!(condition_type.as_str(), "Accepted" | "ResolvedRefs")
            && before.is_some_and(|x| x.status == "True")
            && after.is_some_and(|y| y.status != "True");
        out.push(ConditionChange {
            scope: scope.clone(),
            condition_type: condition_type.clone(),
            before: before.cloned(),
            after: after.cloned(),
            regression,
        });
    }
    out
}

fn compare_attached(old: &Flat, new: &Flat) -> Vec<AttachedRoutesChange> {
    let mut names: Vec<&String> = old.attached.keys().chain(new.attached.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (
                old.attached.get(name).copied(),
                new.attached.get(name).copied(),
            );
            (before != after).then(|| AttachedRoutesChange {
                listener: name.clone(),
                before,
                after,
            })
        })
        .collect()
}
