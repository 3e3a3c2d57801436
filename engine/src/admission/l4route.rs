//! TCPRoute and UDPRoute: the schema of `spec` (validation.md section 3.8), the same for both
//! kinds, at v1 (standard since v1.6) and at the deprecated v1alpha2 the experimental channel
//! still serves. Neither has hostnames; the rules are TLSRoute's (one rule of 1 to 16
//! backendRefs at v1; up to 16 uniquely named rules at v1alpha2).

use super::httproute::{UNIQUE_RULE_NAMES, unique_rule_names};
use super::schema::{Node, field, list, object, string};
use super::tlsroute::rule;
use super::types::parent_refs;

/// `TCPRoute.spec` / `UDPRoute.spec` as served at v1: exactly one rule.
pub(crate) fn spec() -> Node {
    object(vec![
        field("parentRefs", parent_refs()),
        field("rules", list(rule()).min_items(1).max_items(1)).required(),
        // Experimental channel: default Gateways (GEP-3793).
        field("useDefaultGateways", string().one_of(&["All", "None"])),
    ])
}

/// `TCPRoute.spec` / `UDPRoute.spec` as served at v1alpha2: up to 16 rules whose names are
/// unique.
pub(crate) fn spec_v1alpha2() -> Node {
    object(vec![
        field("parentRefs", parent_refs()),
        field(
            "rules",
            list(rule())
                .min_items(1)
                .max_items(16)
                .rule(UNIQUE_RULE_NAMES, unique_rule_names),
        )
        .required(),
        field("useDefaultGateways", string().one_of(&["All", "None"])),
    ])
}
