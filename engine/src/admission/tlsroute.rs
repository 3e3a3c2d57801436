//! TLSRoute: the schema of `spec` (validation.md section 3.8), its defaults and its CEL rules,
//! for v1 (and v1alpha3, the same schema) and for the older v1alpha2 the experimental channel
//! still serves.
//!
//! Rule messages are the CRD's `message` texts, verbatim: they are what the API server writes.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::httproute::{UNIQUE_RULE_NAMES, unique_rule_names};
use super::schema::{Node, Verdict, field, items, list, object, string};
use super::types::{
    SERVICE_PORT_MESSAGE, SUBDOMAIN, backend_ref_fields, hostname, parent_refs, section_name,
    service_needs_port,
};

/// `TLSRoute.spec` as served at v1 and v1alpha3: `hostnames` required (1 to 1024, with three
/// CEL rules), exactly one rule.
pub(crate) fn spec() -> Node {
    object(vec![
        field("hostnames", hostnames().min_items(1)).required(),
        field("parentRefs", parent_refs()),
        field("rules", list(rule()).min_items(1).max_items(1)).required(),
        // Experimental channel: default Gateways (GEP-3793).
        field("useDefaultGateways", string().one_of(&["All", "None"])),
    ])
}

/// `TLSRoute.spec` as served at v1alpha2: `hostnames` optional and without CEL rules; up to 16
/// rules whose names are unique.
pub(crate) fn spec_v1alpha2() -> Node {
    object(vec![
        field("hostnames", list(hostname()).max_items(1024)),
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

/// v1's `hostnames`: the list and its three CEL rules (TLSRouteSpec.hostnames).
fn hostnames() -> Node {
    list(hostname())
        .max_items(1024)
        // CEL `self.all(h, !isIP(h))`: SNI carries no IP address (RFC 6066).
        .rule("Hostnames cannot contain an IP", |hs| {
            Verdict::from(all_hostnames(hs, |h| h.parse::<IpAddr>().is_err()))
        })
        .rule("Hostnames must be valid based on RFC-1123", |hs| {
            Verdict::from(all_hostnames(hs, |h| h.contains('*') || SUBDOMAIN.is_match(h)))
        })
        .rule(
            "Wildcards on hostnames must be the first label, and the rest of hostname must be valid based on RFC-1123",
            |hs| {
                Verdict::from(all_hostnames(hs, |h| {
                    !h.contains('*')
                        || h.strip_prefix("*.").is_some_and(|rest| SUBDOMAIN.is_match(rest))
                }))
            },
        )
}

/// CEL `self.all(h, ...)` over a list of strings; a non-string item fails the rule.
fn all_hostnames(hostnames: &Value, check: impl Fn(&str) -> bool) -> bool {
    items(hostnames)
        .iter()
        .all(|h| h.as_str().is_some_and(&check))
}

pub(super) fn rule() -> Node {
    object(vec![
        field(
            "backendRefs",
            list(backend_ref()).min_items(1).max_items(16),
        )
        .required(),
        field("name", section_name()),
    ])
}

fn backend_ref() -> Node {
    // CEL (BackendRef): a core Service reference needs a port.
    object(backend_ref_fields()).rule(SERVICE_PORT_MESSAGE, service_needs_port)
}

/// What a stored TLSRoute needs that a v1alpha2 document may lack: `hostnames` (absent means
/// none, and the typed v1 struct requires the field).
pub(crate) fn fill_stored(doc: &mut Value) {
    if let Some(spec) = doc.get_mut("spec").and_then(Value::as_object_mut) {
        spec.entry("hostnames").or_insert_with(|| json!([]));
    }
}
