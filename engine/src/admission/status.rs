//! The `status` schemas, for strict decoding only. The API server decodes the whole object
//! strictly (an unknown field under `status` is refused too) and only then discards `status`
//! on create and on updates of the main resource, so these schemas never validate values.

use super::schema::{Node, field, int32, int64, list, object, string};
use super::types::parent_ref;

/// `metav1.Condition`.
fn conditions() -> Node {
    list(object(vec![
        field("lastTransitionTime", string()),
        field("message", string()),
        field("observedGeneration", int64()),
        field("reason", string()),
        field("status", string()),
        field("type", string()),
    ]))
}

/// `GatewayClass.status`.
pub(crate) fn gateway_class() -> Node {
    object(vec![
        field("conditions", conditions()),
        field(
            "supportedFeatures",
            list(object(vec![field("name", string())])),
        ),
    ])
}

/// `Gateway.status`.
pub(crate) fn gateway() -> Node {
    object(vec![
        field(
            "addresses",
            list(object(vec![
                field("type", string()),
                field("value", string()),
            ])),
        ),
        field("attachedListenerSets", int32()),
        field("conditions", conditions()),
        field("listeners", listener_entries()),
    ])
}

/// `status.listeners` of a Gateway or a ListenerSet: one entry per listener.
fn listener_entries() -> Node {
    list(object(vec![
        field("attachedRoutes", int32()),
        field("conditions", conditions()),
        field("name", string()),
        field(
            "supportedKinds",
            list(object(vec![
                field("group", string()),
                field("kind", string()),
            ])),
        ),
    ]))
}

/// `ListenerSet.status`: conditions and per-listener entries shaped like the Gateway's.
pub(crate) fn listener_set() -> Node {
    object(vec![
        field("conditions", conditions()),
        field("listeners", listener_entries()),
    ])
}

/// `HTTPRoute.status` and `GRPCRoute.status` (RouteStatus).
pub(crate) fn route() -> Node {
    object(vec![field(
        "parents",
        list(object(vec![
            field("conditions", conditions()),
            field("controllerName", string()),
            field("parentRef", parent_ref()),
        ])),
    )])
}

/// `BackendTLSPolicy.status` (PolicyStatus): one entry per ancestor.
pub(crate) fn policy() -> Node {
    object(vec![field(
        "ancestors",
        list(object(vec![
            field("ancestorRef", parent_ref()),
            field("conditions", conditions()),
            field("controllerName", string()),
        ])),
    )])
}
