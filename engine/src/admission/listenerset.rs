//! ListenerSet (GEP-1713, standard v1 at HEAD): the schema of `spec` (validation.md section
//! 3.7), its defaults (section 5) and its CEL rules. The listeners share the Gateway's listener
//! schema, defaults and rules; `parentRef` names the Gateway the listeners join.

use serde_json::{Value, json};

use super::schema::{Node, field, object};
use super::types::{GATEWAY_GROUP, group, kind, namespace, object_name};

/// `ListenerSet.spec`.
pub(crate) fn spec() -> Node {
    object(vec![
        // ListenerEntry: the Gateway listener shape, its defaults and its six list rules.
        field("listeners", super::gateway::listeners()).required(),
        field("parentRef", parent_ref()).required(),
    ])
}

/// `ParentGatewayReference`: group and kind default to the Gateway's; namespace, when
/// absent, is the ListenerSet's own.
fn parent_ref() -> Node {
    object(vec![
        field("group", group()).default(json!(GATEWAY_GROUP)),
        field("kind", kind()).default(json!("Gateway")),
        field("name", object_name()).required(),
        field("namespace", namespace()),
    ])
}

/// The status the schema defaults on create: Accepted and Programmed, Unknown/Pending.
pub(crate) fn default_status() -> Value {
    super::gateway::default_status()
}
