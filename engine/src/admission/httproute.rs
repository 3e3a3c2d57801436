//! HTTPRoute: the schema of `spec` (validation.md section 3.3), its defaults (section 5) and
//! every CEL rule, written as Rust functions. gwsim follows the experimental channel, so the
//! experimental fields (`retry`, `sessionPersistence`, `externalAuth`, `useDefaultGateways`)
//! and rules (unique rule names, header-value pattern, port-aware parentRef uniqueness) apply.
//!
//! Rule messages are the CRD's `message` texts, verbatim: they are what the API server writes.

use serde_json::{Value, json};

use super::schema::{
    Node, Verdict, boolean, field, has, int32, int64, items, list, list_at, object, pattern,
    str_at, string,
};
use super::types::{
    HEADER_VALUE, HTTP_METHODS, PATH_CHARS, SERVICE_PORT_MESSAGE, backend_object_ref,
    backend_ref_fields, duration, header_modifier, header_name, hostname, local_object_ref,
    parent_refs, port_number, precise_hostname, request_mirror, section_name, service_needs_port,
    session_persistence,
};
use super::{GatewayApiVersion, parse_duration};

pattern! {
    /// CORSOrigin: `*`, or `http(s)://host[:port]` where the host may start with one `*.`
    /// label or be `*` itself.
    CORS_ORIGIN = r"(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)"
}

/// The filter types of the experimental channel, in the CRD's enum order.
const FILTER_TYPES: &[&str] = &[
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestMirror",
    "RequestRedirect",
    "URLRewrite",
    "ExtensionRef",
    "CORS",
    "ExternalAuth",
];

/// `HTTPMethodWithWildcard`: the nine methods and `*`.
const CORS_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*",
];

/// `HTTPRoute.spec` in release `v`.
pub(crate) fn spec(v: GatewayApiVersion) -> Node {
    object(vec![
        field("hostnames", list(hostname()).max_items(16)),
        field("parentRefs", parent_refs()),
        field("rules", rules(v))
            .default(json!([{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}])),
        // Experimental channel: default Gateways (GEP-3793).
        field("useDefaultGateways", string().one_of(&["All", "None"])),
    ])
}

fn rules(v: GatewayApiVersion) -> Node {
    list(rule(v))
        .min_items(1)
        .max_items(16)
        // CEL (HTTPRouteSpec.rules): a budget of 128 matches over all rules.
        .rule(MATCH_BUDGET, |rules| {
            Verdict::from(total_matches(rules) <= 128)
        })
        // CEL (HTTPRouteSpec.rules, experimental channel): rule names are unique.
        .rule(UNIQUE_RULE_NAMES, unique_rule_names)
}

/// Shared with GRPCRoute: rule names are unique.
pub(crate) const UNIQUE_RULE_NAMES: &str = "Rule name must be unique within the route";

/// Shared with GRPCRoute: the match budget over all rules.
pub(crate) const MATCH_BUDGET: &str = "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128";

/// CEL `self.all(l1, !has(l1.name) || self.exists_one(l2, has(l2.name) && l1.name == l2.name))`.
pub(crate) fn unique_rule_names(rules: &Value) -> Verdict {
    let all = items(rules);
    Verdict::from(all.iter().all(|r1| match r1.get("name") {
        None => true,
        Some(name) => all.iter().filter(|r2| r2.get("name") == Some(name)).count() == 1,
    }))
}

/// Matches summed over the first 16 rules (the CEL rule is unrolled over indices 0..15).
pub(crate) fn total_matches(rules: &Value) -> usize {
    items(rules)
        .iter()
        .take(16)
        .map(|r| list_at(r, "matches").len())
        .sum()
}

fn rule(v: GatewayApiVersion) -> Node {
    object(vec![
        field("backendRefs", list(backend_ref()).max_items(16)),
        field("filters", filters()),
        field("matches", list(route_match()).max_items(64))
            .default(json!([{"path": {"type": "PathPrefix", "value": "/"}}])),
        field("name", section_name()),
        field("retry", retry(v)),
        field("sessionPersistence", session_persistence(v)),
        field("timeouts", timeouts()),
    ])
    // CEL (HTTPRouteRule): a redirect answers the request itself, so no backends with it.
    .rule(
        "RequestRedirect filter must not be used together with backendRefs",
        |r| {
            if list_at(r, "backendRefs").is_empty() {
                return Verdict::Pass;
            }
            Verdict::from(list_at(r, "filters").iter().all(|f| !has(f, "requestRedirect")))
        },
    )
    // CEL (HTTPRouteRule): ReplacePrefixMatch needs exactly one PathPrefix match, for
    // rule-level and backendRef-level redirects and rewrites.
    .rule(
        "When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        |r| prefix_rewrite_rule(r, exactly_one_prefix_filter(list_at(r, "filters"), "requestRedirect")),
    )
    .rule(
        "When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        |r| prefix_rewrite_rule(r, exactly_one_prefix_filter(list_at(r, "filters"), "urlRewrite")),
    )
    .rule(
        "Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        |r| prefix_rewrite_rule(r, exactly_one_backend_with(r, "requestRedirect")),
    )
    .rule(
        "Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        |r| prefix_rewrite_rule(r, exactly_one_backend_with(r, "urlRewrite")),
    )
}

/// Whether a filter's `member` (`requestRedirect` or `urlRewrite`) replaces a prefix match.
fn replaces_prefix(filter: &Value, member: &str) -> bool {
    filter
        .get(member)
        .and_then(|m| m.get("path"))
        .is_some_and(|p| {
            str_at(p, "type") == Some("ReplacePrefixMatch") && has(p, "replacePrefixMatch")
        })
}

/// CEL `filters.exists_one(f, <replaces prefix>)`: note exists_one, so two such filters do not
/// trigger the rule (the repeat rule reports them instead).
fn exactly_one_prefix_filter(filters: &[Value], member: &str) -> bool {
    filters
        .iter()
        .filter(|f| replaces_prefix(f, member))
        .count()
        == 1
}

fn exactly_one_backend_with(rule: &Value, member: &str) -> bool {
    list_at(rule, "backendRefs")
        .iter()
        .filter(|b| exactly_one_prefix_filter(list_at(b, "filters"), member))
        .count()
        == 1
}

/// When `applies`, the rule must have exactly one match and it must be a PathPrefix match.
fn prefix_rewrite_rule(rule: &Value, applies: bool) -> Verdict {
    if !applies {
        return Verdict::Pass;
    }
    let Some(matches) = rule.get("matches").and_then(Value::as_array) else {
        return Verdict::NoSuchKey("matches");
    };
    let one_prefix = matches.len() == 1
        && matches[0]
            .get("path")
            .is_some_and(|p| str_at(p, "type") == Some("PathPrefix"));
    Verdict::from(one_prefix)
}

fn backend_ref() -> Node {
    let mut fields = backend_ref_fields();
    fields.insert(0, field("filters", filters()));
    // CEL (HTTPBackendRef): a core Service reference needs a port.
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
                // Experimental channel: header values are printable ASCII.
                field(
                    "value",
                    string().min_len(1).max_len(4096).pattern(&HEADER_VALUE),
                )
                .required(),
            ]))
            .max_items(16)
            .map_keys(&["name"]),
        ),
        field("method", string().one_of(HTTP_METHODS)),
        field("path", path_match()).default(json!({"type": "PathPrefix", "value": "/"})),
        field(
            "queryParams",
            list(object(vec![
                field("name", header_name()).required(),
                field("type", string().one_of(&["Exact", "RegularExpression"]))
                    .default(json!("Exact")),
                field("value", string().min_len(1).max_len(1024)).required(),
            ]))
            .max_items(16)
            .map_keys(&["name"]),
        ),
    ])
}

/// For Exact and PathPrefix matches, `check(value)` must hold.
fn for_plain_paths(path: &Value, check: impl Fn(&str) -> bool) -> Verdict {
    match str_at(path, "type") {
        Some("Exact" | "PathPrefix") => match str_at(path, "value") {
            Some(value) => Verdict::from(check(value)),
            None => Verdict::NoSuchKey("value"),
        },
        _ => Verdict::Pass,
    }
}

fn path_match() -> Node {
    let node = object(vec![
        field(
            "type",
            string().one_of(&["Exact", "PathPrefix", "RegularExpression"]),
        )
        .default(json!("PathPrefix")),
        field("value", string().max_len(1024)).default(json!("/")),
    ])
    // CEL (HTTPPathMatch): Exact and PathPrefix values are clean absolute paths.
    .rule(
        "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
        |p| for_plain_paths(p, |v| v.starts_with('/')),
    );
    // Sequences a clean path never contains, and endings it never has (dot segments,
    // encoded slashes, fragments).
    let node = ["//", "/./", "/../", "%2f", "%2F", "#"]
        .into_iter()
        .fold(node, |node, needle| {
            node.rule(
                format!("must not contain '{needle}' when type one of ['Exact', 'PathPrefix']"),
                move |p| for_plain_paths(p, |v| !v.contains(needle)),
            )
        });
    let node = ["/..", "/."].into_iter().fold(node, |node, suffix| {
        node.rule(
            format!("must not end with '{suffix}' when type one of ['Exact', 'PathPrefix']"),
            move |p| for_plain_paths(p, |v| !v.ends_with(suffix)),
        )
    });
    node.rule("type must be one of ['Exact', 'PathPrefix', 'RegularExpression']", |p| {
        Verdict::from(matches!(
            str_at(p, "type"),
            Some("Exact" | "PathPrefix" | "RegularExpression")
        ))
    })
    .rule(
        r"must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']",
        |p| for_plain_paths(p, |v| PATH_CHARS.is_match(v)),
    )
}

fn filters() -> Node {
    let node = list(filter())
        .max_items(16)
        // CEL (HTTPRouteRule.filters): a redirect and a rewrite exclude each other.
        .rule(
            "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
            |fs| {
                let fs = items(fs);
                let any = |t: &str| fs.iter().any(|f| str_at(f, "type") == Some(t));
                Verdict::from(!(any("RequestRedirect") && any("URLRewrite")))
            },
        );
    // CEL (HTTPRouteRule.filters): these filter types appear at most once; ExtensionRef and
    // RequestMirror may repeat.
    [
        "CORS",
        "RequestHeaderModifier",
        "ResponseHeaderModifier",
        "RequestRedirect",
        "URLRewrite",
    ]
    .into_iter()
    .fold(node, |node, t| {
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

/// The union rules of a filter: for each member, it is set exactly when `type` names it
/// (validation.md section 3.3, HTTPRouteFilter).
pub(crate) fn union_rules(node: Node, members: &[(&'static str, &'static str)]) -> Node {
    members.iter().fold(node, |node, &(member, type_)| {
        node.rule(
            format!("filter.{member} must be nil if the filter.type is not {type_}"),
            move |f| Verdict::from(!(has(f, member) && str_at(f, "type") != Some(type_))),
        )
        .rule(
            format!("filter.{member} must be specified for {type_} filter.type"),
            move |f| Verdict::from(has(f, member) || str_at(f, "type") != Some(type_)),
        )
    })
}

fn filter() -> Node {
    let node = object(vec![
        field("cors", cors()),
        field("extensionRef", local_object_ref()),
        field("externalAuth", external_auth()),
        field("requestHeaderModifier", header_modifier()),
        field("requestMirror", request_mirror()),
        field("requestRedirect", request_redirect()),
        field("responseHeaderModifier", header_modifier()),
        field("type", string().one_of(FILTER_TYPES)).required(),
        field("urlRewrite", url_rewrite()),
    ]);
    // CEL (HTTPRouteFilter), in the CRD's order; externalAuth is experimental.
    union_rules(
        node,
        &[
            ("cors", "CORS"),
            ("requestHeaderModifier", "RequestHeaderModifier"),
            ("responseHeaderModifier", "ResponseHeaderModifier"),
            ("requestMirror", "RequestMirror"),
            ("requestRedirect", "RequestRedirect"),
            ("urlRewrite", "URLRewrite"),
            ("extensionRef", "ExtensionRef"),
            ("externalAuth", "ExternalAuth"),
        ],
    )
}

/// CEL `!('*' in self && self.size() > 1)`: a wildcard stands alone.
fn wildcard_alone(list: &Value) -> Verdict {
    let all = items(list);
    Verdict::from(!(all.iter().any(|v| v == "*") && all.len() > 1))
}

fn cors() -> Node {
    object(vec![
        field("allowCredentials", boolean()),
        field(
            "allowHeaders",
            list(header_name())
                .max_items(64)
                .set()
                // CEL (HTTPCORSFilter.allowHeaders): `*` alone.
                .rule(
                    "AllowHeaders cannot contain '*' alongside other methods",
                    wildcard_alone,
                ),
        ),
        field(
            "allowMethods",
            list(string().one_of(CORS_METHODS))
                .max_items(9)
                .set()
                // CEL (HTTPCORSFilter.allowMethods): `*` alone.
                .rule(
                    "AllowMethods cannot contain '*' alongside other methods",
                    wildcard_alone,
                ),
        ),
        field(
            "allowOrigins",
            list(string().min_len(1).max_len(253).pattern(&CORS_ORIGIN))
                .max_items(64)
                .set()
                // CEL (HTTPCORSFilter.allowOrigins): `*` alone.
                .rule(
                    "AllowOrigins cannot contain '*' alongside other origins",
                    wildcard_alone,
                ),
        ),
        field("exposeHeaders", list(header_name()).max_items(64).set()),
        field("maxAge", int32().min(1)).default(json!(5)),
    ])
}

/// `HTTPPathModifier` (redirect and rewrite paths) with its four consistency rules.
fn path_modifier() -> Node {
    object(vec![
        field("replaceFullPath", string().max_len(1024)),
        field("replacePrefixMatch", string().max_len(1024)),
        field(
            "type",
            string().one_of(&["ReplaceFullPath", "ReplacePrefixMatch"]),
        )
        .required(),
    ])
    // CEL (HTTPPathModifier): the type and the member it names go together.
    .rule(
        "replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
        |p| {
            Verdict::from(str_at(p, "type") != Some("ReplaceFullPath") || has(p, "replaceFullPath"))
        },
    )
    .rule(
        "type must be 'ReplaceFullPath' when replaceFullPath is set",
        |p| {
            Verdict::from(
                !has(p, "replaceFullPath") || str_at(p, "type") == Some("ReplaceFullPath"),
            )
        },
    )
    .rule(
        "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'",
        |p| {
            Verdict::from(
                str_at(p, "type") != Some("ReplacePrefixMatch") || has(p, "replacePrefixMatch"),
            )
        },
    )
    .rule(
        "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set",
        |p| {
            Verdict::from(
                !has(p, "replacePrefixMatch") || str_at(p, "type") == Some("ReplacePrefixMatch"),
            )
        },
    )
}

fn request_redirect() -> Node {
    object(vec![
        field("hostname", precise_hostname()),
        field("path", path_modifier()),
        field("port", port_number()),
        field("scheme", string().one_of(&["http", "https"])),
        field("statusCode", int64().int_one_of(&[301, 302, 303, 307, 308])).default(json!(302)),
    ])
}

fn url_rewrite() -> Node {
    object(vec![
        field("hostname", precise_hostname()),
        field("path", path_modifier()),
    ])
}

fn external_auth() -> Node {
    let header_set = || list(string()).max_items(64).set();
    object(vec![
        field("backendRef", backend_object_ref()).required(),
        field("forwardBody", object(vec![field("maxSize", int64())])),
        field("grpc", object(vec![field("allowedHeaders", header_set())])),
        field(
            "http",
            object(vec![
                field("allowedHeaders", header_set()),
                field("allowedResponseHeaders", header_set()),
                field("path", string().max_len(1024).pattern(&PATH_CHARS)),
            ]),
        ),
        field("protocol", string().one_of(&["HTTP", "GRPC"])).required(),
    ])
    // CEL (HTTPExternalAuthFilter, experimental): the protocol and its config go together.
    .rule(
        "grpc must be specified when protocol is set to 'GRPC'",
        |a| Verdict::from(str_at(a, "protocol") != Some("GRPC") || has(a, "grpc")),
    )
    .rule("protocol must be 'GRPC' when grpc is set", |a| {
        Verdict::from(!has(a, "grpc") || str_at(a, "protocol") == Some("GRPC"))
    })
    .rule(
        "http must be specified when protocol is set to 'HTTP'",
        |a| Verdict::from(str_at(a, "protocol") != Some("HTTP") || has(a, "http")),
    )
    .rule("protocol must be 'HTTP' when http is set", |a| {
        Verdict::from(!has(a, "http") || str_at(a, "protocol") == Some("HTTP"))
    })
}

/// `HTTPRouteRetry` (experimental): attempts, backoff, codes 400-599. v1.6.0 made `codes` a
/// set (no repeated code) and `attempts` at least 1; in v1.5 `codes` is atomic and
/// `attempts` unbounded.
fn retry(v: GatewayApiVersion) -> Node {
    let (attempts, codes) = match v {
        GatewayApiVersion::V1_5 => (int64(), list(int64().min(400).max(599))),
        GatewayApiVersion::V1_6 => (int64().min(1), list(int64().min(400).max(599)).set()),
    };
    object(vec![
        field("attempts", attempts),
        field("backoff", duration()),
        field("codes", codes),
    ])
}

fn timeouts() -> Node {
    object(vec![
        field("backendRequest", duration()),
        field("request", duration()),
    ])
    // CEL (HTTPRouteTimeouts): backendRequest <= request, unless request is 0s (disabled).
    // A value that does not parse is already refused by the Duration pattern.
    .rule(
        "backendRequest timeout cannot be longer than request timeout",
        |t| {
            let parse = |name: &str| str_at(t, name).and_then(parse_duration);
            match (parse("request"), parse("backendRequest")) {
                (Some(request), Some(backend)) => {
                    Verdict::from(request.is_zero() || backend <= request)
                }
                _ => Verdict::Pass,
            }
        },
    )
}
