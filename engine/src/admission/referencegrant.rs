//! ReferenceGrant: OpenAPI constraints only, no defaults, no CEL rules and no status
//! (validation.md section 3.5).

use super::schema::{Node, field, list, object};
use super::types::{group, kind, namespace, object_name};

/// `ReferenceGrant.spec`.
pub(crate) fn spec() -> Node {
    object(vec![
        field(
            "from",
            list(object(vec![
                field("group", group()).required(),
                field("kind", kind()).required(),
                field("namespace", namespace()).required(),
            ]))
            .min_items(1)
            .max_items(16),
        )
        .required(),
        field(
            "to",
            list(object(vec![
                field("group", group()).required(),
                field("kind", kind()).required(),
                field("name", object_name()),
            ]))
            .min_items(1)
            .max_items(16),
        )
        .required(),
    ])
}
