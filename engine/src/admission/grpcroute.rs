//! GRPCRoute: the schema of `spec` (validation.md section 3.4), its defaults and its CEL rules.
//! Unlike HTTPRoute, `rules` and `matches` have no default and may be absent.
//!
//! Rule messages are the CRD's `message` texts, verbatim: they are what the API server writes.

use serde_json::{Value, json};

use super::GatewayApiVersion;
use super::httproute::{
    MATCH_BUDGET, UNIQUE_RULE_NAMES, total_matches, union_rules, unique_rule_names,
};
use super::schema::{Node, Verdict, field, has, items, list, object, pattern, str_at, string};
use super::types::{
    SERVICE_PORT_MESSAGE, backend_ref_fields, header_modifier, header_name, hostname,
    local_object_ref, parent_refs, request_mirror, section_name, service_needs_port,
    session_persistence,
};

pattern! {
    /// A gRPC service name for Exact matches: dotted identifiers, optional leading dot,
    /// case-insensitive.
    GRPC_SERVICE = r"^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$"
}
pattern! {
    /// A gRPC method name for Exact matches: one identifier.
    GRPC_METHOD = r"^[A-Za-z_][A-Za-z_0-9]*$"
}

/// `GRPCRoute.spec` in release `v`.
pub(crate) fn spec(v: GatewayApiVersion) -> Node {
    object(vec![
        field("hostnames", list(hostname()).max_items(16)),
        field("parentRefs", parent_refs()),
        field("rules", rules(v)),
        // Experimental channel: default Gateways (GEP-3793).
        field("useDefaultGateways", string().one_of(&["All", "None"])),
    ])
}

fn rules(v: GatewayApiVersion) -> Node {
    list(rule(v))
        .max_items(16)
        // CEL (GRPCRouteSpec.rules): at most 128 matches over all rules; absent matches count 0.
        .rule(MATCH_BUDGET, |rules| {
            Verdict::from(total_matches(rules) <= 128)
        })
        // CEL (GRPCRouteSpec.rules, experimental channel): rule names are unique.
        .rule(UNIQUE_RULE_NAMES, unique_rule_names)
}

fn rule(v: GatewayApiVersion) -> Node {
    object(vec![
        field("backendRefs", list(backend_ref()).max_items(16)),
        field("filters", filters()),
        field("matches", list(route_match()).max_items(64)),
        field("name", section_name()),
        field("sessionPersistence", session_persistence(v)),
    ])
}

fn backend_ref() -> Node {
    let mut fields = backend_ref_fields();
    fields.insert(0, field("filters", filters()));
    // CEL (GRPCBackendRef): a core Service reference needs a port.
    object(fields).rule(SERVICE_PORT_MESSAGE, service_needs_port)
}

fn route_match() -> Node {
    object(vec![
        field(
            "headers",
            list(object(vec![
                field("name", header_name()).required(),
                field("type", string().one_of(&["Exact", "RegularExpression"]))
                    .default(json!("Exact")),
                field("value", string().min_len(1).max_len(4096)).required(),
            ]))
            .max_items(16)
            .map_keys(&["name"]),
        ),
        field("method", method_match()),
    ])
}

/// Exact (or unset) type: `check` must hold for the named member when it is present.
fn exact_member(m: &Value, member: &str, check: fn(&str) -> bool) -> Verdict {
    let exact = str_at(m, "type").is_none_or(|t| t == "Exact");
    match str_at(m, member) {
        Some(v) if exact => Verdict::from(check(v)),
        _ => Verdict::Pass,
    }
}

fn method_match() -> Node {
    object(vec![
        field("method", string().max_len(1024)),
        field("service", string().max_len(1024)),
        field("type", string().one_of(&["Exact", "RegularExpression"])).default(json!("Exact")),
    ])
    // CEL (GRPCMethodMatch): with a type, at least one of service and method.
    .rule(
        "One or both of 'service' or 'method' must be specified",
        |m| Verdict::from(!has(m, "type") || has(m, "service") || has(m, "method")),
    )
    .rule(
        r"service must only contain valid characters (matching ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$)",
        |m| exact_member(m, "service", |s| GRPC_SERVICE.is_match(s)),
    )
    .rule(
        r"method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)",
        |m| exact_member(m, "method", |s| GRPC_METHOD.is_match(s)),
    )
}

fn filters() -> Node {
    // CEL (GRPCRouteRule.filters): header modifiers at most once each.
    ["RequestHeaderModifier", "ResponseHeaderModifier"]
        .into_iter()
        .fold(list(filter()).max_items(16), |node, t| {
            node.rule(format!("{t} filter cannot be repeated"), move |fs| {
                Verdict::from(
                    items(fs)
                        .iter()
                        .filter(|f| str_at(f, "type") == Some(t))
                        .count()
                        <= 1,
                )
            })
        })
}

fn filter() -> Node {
    let node = object(vec![
        field("extensionRef", local_object_ref()),
        field("requestHeaderModifier", header_modifier()),
        field("requestMirror", request_mirror()),
        field("responseHeaderModifier", header_modifier()),
        field(
            "type",
            string().one_of(&[
                "ResponseHeaderModifier",
                "RequestHeaderModifier",
                "RequestMirror",
                "ExtensionRef",
            ]),
        )
        .required(),
    ]);
    // CEL (GRPCRouteFilter): each member is set exactly when `type` names it.
    union_rules(
        node,
        &[
            ("requestHeaderModifier", "RequestHeaderModifier"),
            ("responseHeaderModifier", "ResponseHeaderModifier"),
            ("requestMirror", "RequestMirror"),
            ("extensionRef", "ExtensionRef"),
        ],
    )
}
