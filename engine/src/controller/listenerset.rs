//! ListenerSets (GEP-1713): which Gateway accepts which set, the merged listener list and its
//! conflicts, and the ListenerSet status.
//!
//! A Gateway accepts ListenerSets only as its `spec.allowedListeners.namespaces.from` says
//! (`None`, the default, accepts none). Listener precedence: the Gateway's own listeners,
//! then ListenerSets by creation time, then by `namespace/name`. A set listener that is not
//! distinct from a listener of higher precedence loses (Conflicted, not Accepted); inside one
//! Gateway or one set no winner is picked. A set with no usable listener is not accepted.

use std::collections::HashMap;

use gateway_api::apis::experimental::gateways::{
    Gateway, GatewayAllowedListenersNamespacesFrom, GatewayAllowedListenersNamespacesSelector,
    GatewayListeners, GatewayListenersAllowedRoutes, GatewayListenersAllowedRoutesKinds,
    GatewayListenersAllowedRoutesNamespaces, GatewayListenersAllowedRoutesNamespacesFrom,
    GatewayListenersAllowedRoutesNamespacesSelector,
    GatewayListenersAllowedRoutesNamespacesSelectorMatchExpressions, GatewayListenersTls,
    GatewayListenersTlsCertificateRefs, GatewayListenersTlsMode,
};
use gateway_api::apis::experimental::listenersets::{
    ListenerSet, ListenerSetListeners, ListenerSetListenersAllowedRoutesNamespacesFrom,
    ListenerSetListenersTlsMode, ListenerSetStatus, ListenerSetStatusListeners,
    ListenerSetStatusListenersSupportedKinds,
};
use k8s_openapi::jiff::Timestamp;

use super::conditions::{ConditionType, Desired, Reason, materialize};
use super::gateway::{
    GatewayState, ListenerHome, ListenerSlot, conflicts, evaluate_listener, listener_entry,
    listener_status, set_programmed, worst_conflict,
};
use super::refgrant::GrantIndex;
use super::routes::NamespaceIndex;
use crate::object::{GATEWAY_GROUP, Kind, ObjectKey, Snapshot};

/// A ListenerSet read once: its parent and its listeners in the Gateway listener type (the
/// two share one schema, ListenerEntry).
pub struct SetInput<'s> {
    pub set: &'s ListenerSet,
    pub key: ObjectKey,
    pub namespace: &'s str,
    /// `(namespace, name)` of the Gateway its parentRef names; `None` when the parentRef is
    /// not of kind Gateway in the Gateway API group.
    pub parent: Option<(&'s str, &'s str)>,
    pub listeners: Vec<GatewayListeners>,
}

/// Reads every ListenerSet of the snapshot, in key order.
pub fn inputs(snapshot: &Snapshot) -> Vec<SetInput<'_>> {
    snapshot
        .listener_sets()
        .map(|set| {
            let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
            let p = &set.spec.parent_ref;
            let is_gateway = p.group.as_deref().unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP
                && p.kind.as_deref().unwrap_or("Gateway") == "Gateway";
            SetInput {
                set,
                key: ObjectKey::new(
                    Kind::ListenerSet,
                    namespace,
                    set.metadata.name.clone().unwrap_or_default(),
                ),
                namespace,
                parent: is_gateway
                    .then(|| (p.namespace.as_deref().unwrap_or(namespace), p.name.as_str())),
                listeners: set.spec.listeners.iter().map(as_gateway_listener).collect(),
            }
        })
        .collect()
}

/// One ListenerSet whose parent is a Gateway of ours, evaluated.
pub struct SetState<'a> {
    pub set: &'a ListenerSet,
    pub key: ObjectKey,
    pub accepted: Desired,
    pub programmed: Desired,
}

impl<'a> SetState<'a> {
    fn refused(set: &SetInput<'a>, reason: Reason, message: &str) -> Self {
        SetState {
            set: set.set,
            key: set.key.clone(),
            accepted: Desired::fail(ConditionType::Accepted, reason, message),
            programmed: Desired::fail(ConditionType::Programmed, reason, message),
        }
    }

    fn key_namespace(&self) -> &'a str {
        self.set.metadata.namespace.as_deref().unwrap_or_default()
    }

    fn key_name(&self) -> &'a str {
        self.set.metadata.name.as_deref().unwrap_or_default()
    }
}

/// Where a ListenerSet parentRef of a route leads: `(gateway index, set index)`.
pub type SetIndex<'a> = HashMap<(&'a str, &'a str), (usize, usize)>;

/// Attaches every ListenerSet to its Gateway: decides acceptance, appends the listeners of
/// allowed sets to the Gateway's listener list in precedence order, and returns the index
/// routes use to find a set. Gateways must already be evaluated and their addresses
/// assigned (a set is Programmed only on a Programmed Gateway).
pub fn attach<'a>(
    gateways: &mut [GatewayState<'a>],
    gateway_index: &HashMap<(&str, &str), usize>,
    inputs: &'a [SetInput<'a>],
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
    namespaces: &NamespaceIndex<'_>,
) -> SetIndex<'a> {
    let mut by_gateway: Vec<Vec<&'a SetInput<'a>>> = vec![Vec::new(); gateways.len()];
    for input in inputs {
        if let Some(i) = input.parent.and_then(|p| gateway_index.get(&p)) {
            by_gateway[*i].push(input);
        }
    }
    let mut index = SetIndex::new();
    for (gi, mut sets) in by_gateway.into_iter().enumerate() {
        // ListenerSet precedence: creation time, then namespace/name (the key order).
        sets.sort_by(|a, b| created(a.set).cmp(&created(b.set)).then(a.key.cmp(&b.key)));
        let gateway = &mut gateways[gi];
        attach_to_gateway(gateway, sets, snapshot, grants, namespaces);
        for (si, set) in gateway.sets.iter().enumerate() {
            index.insert((set.key_namespace(), set.key_name()), (gi, si));
        }
    }
    index
}

/// `metadata.creationTimestamp` in seconds; absent sorts first.
fn created(set: &ListenerSet) -> Option<i64> {
    set.metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
}

fn attach_to_gateway<'a>(
    gateway: &mut GatewayState<'a>,
    sets: Vec<&'a SetInput<'a>>,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
    namespaces: &NamespaceIndex<'_>,
) {
    // Slots held by listeners of higher precedence: the Gateway's own that are not
    // conflicted, then those of accepted sets.
    let mut held: Vec<ListenerSlot<'a>> = gateway
        .gateway
        .spec
        .listeners
        .iter()
        .zip(&gateway.listeners)
        .filter(|(_, state)| !state.conflicted.status)
        .map(|(l, _)| ListenerSlot::of(l))
        .collect();
    for input in sets {
        let set_index = gateway.sets.len();
        if !allows(
            gateway.gateway,
            gateway.namespace,
            input.namespace,
            namespaces,
        ) {
            gateway.sets.push(SetState::refused(
                input,
                Reason::NotAllowed,
                "the parent Gateway's allowedListeners does not admit ListenerSets of this namespace",
            ));
            continue;
        }
        if !gateway.is_accepted() {
            gateway.sets.push(SetState::refused(
                input,
                Reason::ParentNotAccepted,
                "the parent Gateway is not accepted",
            ));
            continue;
        }

        let slots: Vec<ListenerSlot<'a>> = input.listeners.iter().map(ListenerSlot::of).collect();
        // First against listeners of higher precedence: a listener that is not distinct from
        // one of them loses. Then among the set's remaining listeners, where no winner is
        // picked (as inside one Gateway).
        let lost: Vec<Option<Reason>> = slots.iter().map(|s| worst_conflict(s, &held)).collect();
        let remaining: Vec<usize> = (0..slots.len()).filter(|i| lost[*i].is_none()).collect();
        let remaining_slots: Vec<ListenerSlot<'a>> =
            remaining.iter().map(|i| slots[*i].clone()).collect();
        let mut conflict = lost;
        for (j, reason) in conflicts(&remaining_slots) {
            conflict[remaining[j]] = Some(reason);
        }
        let home = ListenerHome {
            kind: Kind::ListenerSet,
            namespace: input.namespace,
        };
        let first = gateway.listeners.len();
        for (i, l) in input.listeners.iter().enumerate() {
            gateway.listeners.push(evaluate_listener(
                l,
                home,
                Some(set_index),
                conflict[i],
                snapshot,
                grants,
            ));
        }

        let added = &gateway.listeners[first..];
        let usable = added.iter().filter(|l| l.usable).count();
        let accepted = if usable == 0 {
            Desired::fail(
                ConditionType::Accepted,
                Reason::ListenersNotValid,
                "no listener of this ListenerSet is valid",
            )
        } else if usable < added.len() {
            Desired::new(
                ConditionType::Accepted,
                true,
                Reason::ListenersNotValid,
                "some listeners of this ListenerSet are not valid",
            )
        } else {
            Desired::ok(ConditionType::Accepted, "ListenerSet accepted")
        };
        let programmed = if !accepted.status {
            Desired::fail(
                ConditionType::Programmed,
                Reason::ListenersNotValid,
                "no listener of this ListenerSet is valid",
            )
        } else if !gateway.programmed.status {
            Desired::fail(
                ConditionType::Programmed,
                Reason::ParentNotProgrammed,
                "the parent Gateway is not programmed",
            )
        } else {
            Desired::ok(ConditionType::Programmed, "ListenerSet programmed")
        };
        let problem = (!accepted.status).then_some("ListenerSet not accepted: ListenersNotValid");
        for l in &mut gateway.listeners[first..] {
            set_programmed(l, problem);
        }
        if accepted.status {
            held.extend(
                slots
                    .into_iter()
                    .zip(&gateway.listeners[first..])
                    .filter(|(_, state)| !state.conflicted.status)
                    .map(|(slot, _)| slot),
            );
        }
        gateway.sets.push(SetState {
            set: input.set,
            key: input.key.clone(),
            accepted,
            programmed,
        });
    }
}

/// Whether the Gateway's `spec.allowedListeners.namespaces` admits ListenerSets of
/// `set_namespace`. Absent, and `from: None`, admit none.
fn allows(
    gateway: &Gateway,
    gateway_namespace: &str,
    set_namespace: &str,
    namespaces: &NamespaceIndex<'_>,
) -> bool {
    let allowed = gateway
        .spec
        .allowed_listeners
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    match allowed.and_then(|n| n.from.as_ref()) {
        None | Some(GatewayAllowedListenersNamespacesFrom::None) => false,
        Some(GatewayAllowedListenersNamespacesFrom::Same) => gateway_namespace == set_namespace,
        Some(GatewayAllowedListenersNamespacesFrom::All) => true,
        // A Selector without a selector selects nothing.
        Some(GatewayAllowedListenersNamespacesFrom::Selector) => allowed
            .and_then(|n| n.selector.as_ref())
            .is_some_and(|s| namespaces.selects(&as_route_selector(s), set_namespace)),
    }
}

/// The ListenerSet's status: Accepted and Programmed, and one entry per listener it added to
/// the Gateway (none when the Gateway did not take the set).
pub fn status(
    gateway: &GatewayState<'_>,
    set_index: usize,
    now: Timestamp,
) -> Option<(ObjectKey, ListenerSetStatus)> {
    let state = gateway.sets.get(set_index)?;
    let generation = state.set.metadata.generation.unwrap_or(0);
    let stored = state.set.status.as_ref();
    let stored_conditions = stored
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let stored_listeners = stored
        .and_then(|s| s.listeners.as_deref())
        .unwrap_or_default();
    let listeners = gateway
        .listeners
        .iter()
        .filter(|l| l.owner == Some(set_index))
        .map(|l| {
            listener_status!(
                l,
                stored_listeners,
                generation,
                now,
                ListenerSetStatusListeners,
                ListenerSetStatusListenersSupportedKinds
            )
        })
        .collect();
    let status = ListenerSetStatus {
        conditions: Some(materialize(
            stored_conditions,
            vec![state.accepted.clone(), state.programmed.clone()],
            generation,
            now,
        )),
        listeners: Some(listeners),
    };
    Some((state.key.clone(), status))
}

/// A ListenerSet listener in the Gateway listener type, field by field (same schema).
fn as_gateway_listener(l: &ListenerSetListeners) -> GatewayListeners {
    GatewayListeners {
        allowed_routes: l
            .allowed_routes
            .as_ref()
            .map(|a| GatewayListenersAllowedRoutes {
                kinds: a.kinds.as_ref().map(|kinds| {
                    kinds
                        .iter()
                        .map(|k| GatewayListenersAllowedRoutesKinds {
                            group: k.group.clone(),
                            kind: k.kind.clone(),
                        })
                        .collect()
                }),
                namespaces: a.namespaces.as_ref().map(|n| {
                    GatewayListenersAllowedRoutesNamespaces {
                        from: n.from.as_ref().map(|f| match f {
                            ListenerSetListenersAllowedRoutesNamespacesFrom::All => {
                                GatewayListenersAllowedRoutesNamespacesFrom::All
                            }
                            ListenerSetListenersAllowedRoutesNamespacesFrom::Selector => {
                                GatewayListenersAllowedRoutesNamespacesFrom::Selector
                            }
                            ListenerSetListenersAllowedRoutesNamespacesFrom::Same => {
                                GatewayListenersAllowedRoutesNamespacesFrom::Same
                            }
                        }),
                        selector: n.selector.as_ref().map(|s| {
                            GatewayListenersAllowedRoutesNamespacesSelector {
                                match_expressions: s.match_expressions.as_ref().map(|es| {
                                    es.iter()
                                        .map(|e| {
                                            GatewayListenersAllowedRoutesNamespacesSelectorMatchExpressions {
                                                key: e.key.clone(),
                                                operator: e.operator.clone(),
                                                values: e.values.clone(),
                                            }
                                        })
                                        .collect()
                                }),
                                match_labels: s.match_labels.clone(),
                            }
                        }),
                    }
                }),
            }),
        hostname: l.hostname.clone(),
        name: l.name.clone(),
        port: l.port,
        protocol: l.protocol.clone(),
        tls: l.tls.as_ref().map(|t| GatewayListenersTls {
            certificate_refs: t.certificate_refs.as_ref().map(|refs| {
                refs.iter()
                    .map(|r| GatewayListenersTlsCertificateRefs {
                        group: r.group.clone(),
                        kind: r.kind.clone(),
                        name: r.name.clone(),
                        namespace: r.namespace.clone(),
                    })
                    .collect()
            }),
            mode: t.mode.as_ref().map(|m| match m {
                ListenerSetListenersTlsMode::Terminate => GatewayListenersTlsMode::Terminate,
                ListenerSetListenersTlsMode::Passthrough => GatewayListenersTlsMode::Passthrough,
            }),
            options: t.options.clone(),
        }),
    }
}

/// `allowedListeners.namespaces.selector` in the route selector type the namespace index
/// reads (both are a metav1.LabelSelector).
fn as_route_selector(
    s: &GatewayAllowedListenersNamespacesSelector,
) -> GatewayListenersAllowedRoutesNamespacesSelector {
    GatewayListenersAllowedRoutesNamespacesSelector {
        match_expressions: s.match_expressions.as_ref().map(|es| {
            es.iter()
                .map(
                    |e| GatewayListenersAllowedRoutesNamespacesSelectorMatchExpressions {
                        key: e.key.clone(),
                        operator: e.operator.clone(),
                        values: e.values.clone(),
                    },
                )
                .collect()
        }),
        match_labels: s.match_labels.clone(),
    }
}

#[cfg(test)]
mod tests;
