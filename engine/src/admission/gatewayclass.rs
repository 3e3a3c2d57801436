//! GatewayClass: the schema of `spec` (validation.md section 3.1) and its one transition rule.
//!
//! Rule messages are the CRD's `message` texts, verbatim: they are what the API server writes.

use serde_json::json;

use super::schema::{Node, Verdict, field, object, string};
use super::types::{controller_name, group, kind, namespace};

/// `GatewayClass.spec`.
pub(crate) fn spec() -> Node {
    object(vec![
        field(
            "controllerName",
            controller_name()
                // CEL (GatewayClassSpec.controllerName, transition rule): the controller of a
                // class never changes once set.
                .transition_rule("Value is immutable", |new, old| Verdict::from(new == old)),
        )
        .required(),
        field("description", string().max_len(64)),
        field(
            "parametersRef",
            object(vec![
                field("group", group()).required(),
                field("kind", kind()).required(),
                field("name", string().min_len(1).max_len(253)).required(),
                field("namespace", namespace()),
            ]),
        ),
    ])
}

/// The status the schema defaults on create: Accepted Unknown/Pending until a controller acts.
pub(crate) fn default_status() -> serde_json::Value {
    json!({"conditions": [pending_condition("Accepted")]})
}

/// One `Unknown`/`Pending` condition with the schema's fixed time.
pub(crate) fn pending_condition(type_: &str) -> serde_json::Value {
    json!({
        "lastTransitionTime": "1970-01-01T00:00:00Z",
        "message": "Waiting for controller",
        "reason": "Pending",
        "status": "Unknown",
        "type": type_,
    })
}
