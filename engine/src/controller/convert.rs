//! Typed HTTPRoute, GRPCRoute, TLSRoute, TCPRoute and UDPRoute into [`RouteConfig`], resolving backends on the way.

use std::collections::HashMap;
use std::sync::Arc;

use gateway_api::apis::experimental::grpcroutes::{
    GrpcRoute, GrpcRouteRulesMatches, GrpcRouteRulesMatchesHeadersType,
    GrpcRouteRulesMatchesMethodType,
};
use gateway_api::apis::experimental::httproutes::{
    HttpRoute, HttpRouteRules, HttpRouteRulesFilters, HttpRouteRulesFiltersRequestRedirectPathType,
    HttpRouteRulesFiltersRequestRedirectScheme, HttpRouteRulesFiltersType,
    HttpRouteRulesFiltersUrlRewritePathType, HttpRouteRulesMatches,
    HttpRouteRulesMatchesHeadersType, HttpRouteRulesMatchesMethod, HttpRouteRulesMatchesPathType,
    HttpRouteRulesMatchesQueryParamsType,
};
use gateway_api::apis::experimental::tcproutes::TcpRoute;
use gateway_api::apis::experimental::tlsroutes::TlsRoute;
use gateway_api::apis::experimental::udproutes::UdpRoute;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use regex::Regex;
use serde::Serialize;

use super::backends::{ServiceIndex, Unresolved, backend_ref_view, resolve};
use super::refgrant::{GrantIndex, RefFrom};
use crate::config::{
    BackendTarget, Cors, Filter, HeaderMatch, HeaderModifier, Mirror, PathMatch, PathModifier,
    QueryParamMatch, Redirect, Retry, RouteConfig, RouteKind, RouteMatch, RuleConfig, Timeouts,
    UrlRewrite, ValueMatch, WeightedBackend,
};
use crate::duration;
use crate::object::{GATEWAY_GROUP, Kind, ObjectKey};
use crate::runtime;

/// A converted route and what went wrong on the way.
pub struct Converted {
    pub config: Arc<RouteConfig>,
    pub rule_count: usize,
    /// The first backendRef (rule or mirror) that could not be resolved, in spec order.
    pub unresolved: Option<Unresolved>,
    /// Rules gwsim cannot implement: (index, why).
    pub invalid_rules: Vec<(usize, String)>,
}

/// Conversion state shared by all routes of one reconcile.
pub struct Converter<'a> {
    pub services: ServiceIndex<'a>,
    pub grants: &'a GrantIndex<'a>,
    /// Converting for the mesh: references need no ReferenceGrant (GEP-1294).
    pub waive_grants: bool,
    regexes: HashMap<String, Result<Arc<Regex>, String>>,
}

/// What one route's conversion accumulates.
struct RouteScope<'r> {
    from: RefFrom<'r>,
    unresolved: Option<Unresolved>,
}

impl<'r> RouteScope<'r> {
    /// The scope of a route of `kind` in `namespace`: references from it are checked against
    /// ReferenceGrants as coming from that kind and namespace.
    fn new(kind: Kind, namespace: &'r str) -> Self {
        RouteScope {
            from: RefFrom {
                group: GATEWAY_GROUP,
                kind: kind.as_str(),
                namespace,
            },
            unresolved: None,
        }
    }

    fn note(&mut self, problem: Option<Unresolved>) {
        if self.unresolved.is_none() {
            self.unresolved = problem;
        }
    }
}

/// A regular expression that matches nothing, standing in for one that does not compile.
fn never_matches() -> Arc<Regex> {
    static NEVER: std::sync::OnceLock<Arc<Regex>> = std::sync::OnceLock::new();
    NEVER
        .get_or_init(|| {
            Arc::new(Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("valid regex")))
        })
        .clone()
}

/// `PathPrefix` values are compared segment-wise and "a trailing `/` is ignored": stored
/// without trailing slashes, except the root.
fn normalize_prefix(value: &str) -> String {
    let trimmed = value.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

fn created(meta: &ObjectMeta) -> i64 {
    meta.creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .unwrap_or(0)
}

fn route_key(kind: Kind, meta: &ObjectMeta) -> ObjectKey {
    ObjectKey::new(
        kind,
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// Converts any generated filter struct into the HTTPRoute rule-level one. The generated
/// crate has separate, same-shaped structs for rule-level and backendRef-level filters (and
/// GRPCRoute's are a subset with the same JSON names), so one serde round trip lets a single
/// conversion serve them all.
fn as_rule_filter<T: Serialize>(filter: &T) -> Result<HttpRouteRulesFilters, String> {
    serde_json::to_value(filter)
        .and_then(serde_json::from_value)
        .map_err(|e| e.to_string())
}

macro_rules! header_modifier {
    ($m:expr) => {
        match $m {
            None => HeaderModifier::default(),
            Some(m) => HeaderModifier {
                set: m
                    .set
                    .iter()
                    .flatten()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
                add: m
                    .add
                    .iter()
                    .flatten()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
                remove: m.remove.clone().unwrap_or_default(),
            },
        }
    };
}

fn path_modifier(full: bool, full_path: Option<&String>, prefix: Option<&String>) -> PathModifier {
    if full {
        PathModifier::ReplaceFullPath(full_path.cloned().unwrap_or_else(|| "/".into()))
    } else {
        PathModifier::ReplacePrefixMatch(prefix.cloned().unwrap_or_else(|| "/".into()))
    }
}

fn non_negative(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

impl<'a> Converter<'a> {
    pub fn new(services: ServiceIndex<'a>, grants: &'a GrantIndex<'a>) -> Self {
        Converter {
            services,
            grants,
            waive_grants: false,
            regexes: HashMap::new(),
        }
    }

    /// Compiles `pattern` anchored to the whole value (gwsim's implementation-specific regex
    /// semantics, RE2 syntax as the `regex` crate reads it). Cached per reconcile.
    fn regex(&mut self, pattern: &str) -> Result<Arc<Regex>, String> {
        if let Some(found) = self.regexes.get(pattern) {
            return found.clone();
        }
        let compiled = crate::table::matching::compile_whole_match(pattern).map(Arc::new);
        self.regexes.insert(pattern.to_string(), compiled.clone());
        compiled
    }

    fn value_match(&mut self, regex: bool, value: &str, problems: &mut Vec<String>) -> ValueMatch {
        if !regex {
            return ValueMatch::Exact(value.to_string());
        }
        match self.regex(value) {
            Ok(re) => ValueMatch::RegularExpression(re),
            Err(e) => {
                problems.push(e);
                ValueMatch::RegularExpression(never_matches())
            }
        }
    }

    /// Header matches: names lower-cased; of entries naming the same header only the first
    /// counts (HTTPHeaderMatch docs).
    fn header_matches<'h>(
        &mut self,
        headers: impl Iterator<Item = (&'h str, bool, &'h str)>,
        problems: &mut Vec<String>,
    ) -> Vec<HeaderMatch> {
        let mut out: Vec<HeaderMatch> = Vec::new();
        for (name, regex, value) in headers {
            let name = name.to_ascii_lowercase();
            if out.iter().any(|h| h.name == name) {
                continue;
            }
            let value = self.value_match(regex, value, problems);
            out.push(HeaderMatch { name, value });
        }
        out
    }

    fn resolve_backend(
        &self,
        scope: &mut RouteScope<'_>,
        r: super::backends::BackendRefView<'_>,
    ) -> BackendTarget {
        let waived;
        let grants = if self.waive_grants {
            waived = GrantIndex::waived();
            &waived
        } else {
            self.grants
        };
        let (target, problem) = resolve(&self.services, grants, scope.from, r);
        scope.note(problem);
        target
    }

    /// One filter, in the HTTPRoute rule-level shape.
    fn filter(&self, scope: &mut RouteScope<'_>, f: &HttpRouteRulesFilters) -> Filter {
        match f.r#type {
            HttpRouteRulesFiltersType::RequestHeaderModifier => {
                Filter::RequestHeaderModifier(header_modifier!(&f.request_header_modifier))
            }
            HttpRouteRulesFiltersType::ResponseHeaderModifier => {
                Filter::ResponseHeaderModifier(header_modifier!(&f.response_header_modifier))
            }
            HttpRouteRulesFiltersType::RequestRedirect => {
                let r = f.request_redirect.as_ref();
                Filter::RequestRedirect(Redirect {
                    scheme: r.and_then(|r| r.scheme.as_ref()).map(|s| {
                        match s {
                            HttpRouteRulesFiltersRequestRedirectScheme::Http => "http",
                            HttpRouteRulesFiltersRequestRedirectScheme::Https => "https",
                        }
                        .to_string()
                    }),
                    hostname: r.and_then(|r| r.hostname.clone()),
                    path: r.and_then(|r| r.path.as_ref()).map(|p| {
                        path_modifier(
                            p.r#type
                                == HttpRouteRulesFiltersRequestRedirectPathType::ReplaceFullPath,
                            p.replace_full_path.as_ref(),
                            p.replace_prefix_match.as_ref(),
                        )
                    }),
                    port: r.and_then(|r| r.port).and_then(|p| u16::try_from(p).ok()),
                    // Default 302 (HTTPRequestRedirectFilter.statusCode).
                    status_code: r
                        .and_then(|r| r.status_code)
                        .and_then(|c| u16::try_from(c).ok())
                        .unwrap_or(302),
                })
            }
            HttpRouteRulesFiltersType::UrlRewrite => {
                let r = f.url_rewrite.as_ref();
                Filter::UrlRewrite(UrlRewrite {
                    hostname: r.and_then(|r| r.hostname.clone()),
                    path: r.and_then(|r| r.path.as_ref()).map(|p| {
                        path_modifier(
                            p.r#type == HttpRouteRulesFiltersUrlRewritePathType::ReplaceFullPath,
                            p.replace_full_path.as_ref(),
                            p.replace_prefix_match.as_ref(),
                        )
                    }),
                })
            }
            HttpRouteRulesFiltersType::RequestMirror => match &f.request_mirror {
                None => Filter::Unsupported {
                    kind: "RequestMirror".into(),
                    detail: "requestMirror is missing".into(),
                },
                Some(m) => {
                    let backend = self.resolve_backend(scope, backend_ref_view!(m.backend_ref));
                    // percent p mirrors p/100; fraction n/d (d defaults to 100); neither: all.
                    let (numerator, denominator) = match (m.percent, &m.fraction) {
                        (Some(p), _) => (non_negative(p), 100),
                        (None, Some(fr)) => (
                            non_negative(fr.numerator),
                            non_negative(fr.denominator.unwrap_or(100)),
                        ),
                        (None, None) => (1, 1),
                    };
                    Filter::RequestMirror(Mirror {
                        backend,
                        numerator,
                        denominator,
                    })
                }
            },
            HttpRouteRulesFiltersType::Cors => {
                let c = f.cors.as_ref();
                let list = |get: fn(
                    &gateway_api::apis::experimental::httproutes::HttpRouteRulesFiltersCors,
                ) -> &Option<Vec<String>>| {
                    c.and_then(|c| get(c).clone()).unwrap_or_default()
                };
                Filter::Cors(Cors {
                    allow_origins: list(|c| &c.allow_origins),
                    allow_methods: list(|c| &c.allow_methods),
                    allow_headers: list(|c| &c.allow_headers),
                    expose_headers: list(|c| &c.expose_headers),
                    // Default 5 seconds (HTTPCORSFilter.maxAge).
                    max_age: c.and_then(|c| c.max_age).map(non_negative).unwrap_or(5),
                    allow_credentials: c.and_then(|c| c.allow_credentials).unwrap_or(false),
                })
            }
            // "If a reference to a custom filter type cannot be resolved, the filter MUST NOT
            // be skipped": kept, and the rule answers 500 (HTTPRouteFilter.extensionRef).
            HttpRouteRulesFiltersType::ExtensionRef => Filter::Unsupported {
                kind: "ExtensionRef".into(),
                detail: match &f.extension_ref {
                    Some(e) => format!("{}/{} {} cannot be resolved", e.group, e.kind, e.name),
                    None => "extensionRef is missing".into(),
                },
            },
            HttpRouteRulesFiltersType::ExternalAuth => Filter::Unsupported {
                kind: "ExternalAuth".into(),
                detail: "gwsim does not call external authorization services".into(),
            },
        }
    }

    /// Converts a list of any filter type (see [`as_rule_filter`]).
    fn filters<T: Serialize>(&self, scope: &mut RouteScope<'_>, filters: &[T]) -> Vec<Filter> {
        filters
            .iter()
            .map(|f| match as_rule_filter(f) {
                Ok(f) => self.filter(scope, &f),
                Err(e) => Filter::Unsupported {
                    kind: "Unknown".into(),
                    detail: e,
                },
            })
            .collect()
    }

    fn http_match(
        &mut self,
        index: usize,
        m: &HttpRouteRulesMatches,
        problems: &mut Vec<String>,
    ) -> RouteMatch {
        // Path defaults to PathPrefix `/` (HTTPRouteMatch.path).
        let value = m
            .path
            .as_ref()
            .and_then(|p| p.value.as_deref())
            .unwrap_or("/");
        let path = match m.path.as_ref().and_then(|p| p.r#type.as_ref()) {
            Some(HttpRouteRulesMatchesPathType::Exact) => PathMatch::Exact(value.to_string()),
            None | Some(HttpRouteRulesMatchesPathType::PathPrefix) => {
                PathMatch::Prefix(normalize_prefix(value))
            }
            Some(HttpRouteRulesMatchesPathType::RegularExpression) => {
                PathMatch::RegularExpression(match self.regex(value) {
                    Ok(re) => re,
                    Err(e) => {
                        problems.push(e);
                        never_matches()
                    }
                })
            }
        };
        let headers = self.header_matches(
            m.headers.iter().flatten().map(|h| {
                (
                    h.name.as_str(),
                    h.r#type == Some(HttpRouteRulesMatchesHeadersType::RegularExpression),
                    h.value.as_str(),
                )
            }),
            problems,
        );
        // Query parameter names are exact; the first entry of a name counts.
        let mut query_params: Vec<QueryParamMatch> = Vec::new();
        for q in m.query_params.iter().flatten() {
            if query_params.iter().any(|x| x.name == q.name) {
                continue;
            }
            let regex = q.r#type == Some(HttpRouteRulesMatchesQueryParamsType::RegularExpression);
            let value = self.value_match(regex, &q.value, problems);
            query_params.push(QueryParamMatch {
                name: q.name.clone(),
                value,
            });
        }
        RouteMatch {
            index,
            path,
            method: m.method.as_ref().map(|m| method_name(m).to_string()),
            headers,
            query_params,
        }
    }

    fn http_rule(
        &mut self,
        scope: &mut RouteScope<'_>,
        index: usize,
        rule: &HttpRouteRules,
    ) -> RuleConfig {
        let mut problems = Vec::new();
        let matches = match rule.matches.as_deref() {
            Some(ms) if !ms.is_empty() => ms
                .iter()
                .enumerate()
                .map(|(i, m)| self.http_match(i, m, &mut problems))
                .collect(),
            _ => vec![default_match()],
        };
        let filters: Vec<Filter> = rule
            .filters
            .iter()
            .flatten()
            .map(|f| self.filter(scope, f))
            .collect();
        let backends: Vec<WeightedBackend> = rule
            .backend_refs
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, b)| WeightedBackend {
                index: i,
                weight: non_negative(b.weight.unwrap_or(1)),
                target: self.resolve_backend(scope, backend_ref_view!(b)),
                filters: self.filters(scope, b.filters.as_deref().unwrap_or_default()),
            })
            .collect();
        let timeouts = rule
            .timeouts
            .as_ref()
            .map(|t| Timeouts {
                request: parse_timeout(t.request.as_deref()),
                backend_request: parse_timeout(t.backend_request.as_deref()),
            })
            .unwrap_or_default();
        if let Some(attempts) = rule.retry.as_ref().and_then(|r| r.attempts)
            && attempts > i64::from(runtime::MAX_RETRIES_PER_REQUEST)
        {
            problems.push(format!(
                "retry.attempts: {attempts} is above gwsim's limit of {} retries per request",
                runtime::MAX_RETRIES_PER_REQUEST
            ));
        }
        let retry = rule.retry.as_ref().map(|r| Retry {
            codes: r
                .codes
                .iter()
                .flatten()
                .filter_map(|c| u16::try_from(*c).ok())
                .collect(),
            // GEP-1731 leaves the default to the implementation: gwsim retries once.
            attempts: r
                .attempts
                .map(|a| u32::try_from(a).unwrap_or(0))
                .unwrap_or(1),
            backoff: r.backoff.as_deref().and_then(duration::parse),
        });
        let invalid = rule_problem(&filters, &backends, problems);
        RuleConfig {
            index,
            name: rule.name.clone(),
            matches,
            filters,
            backends,
            timeouts,
            retry,
            invalid,
        }
    }

    /// Converts an HTTPRoute.
    pub fn http_route(&mut self, route: &HttpRoute) -> Converted {
        let namespace = route.metadata.namespace.as_deref().unwrap_or_default();
        let mut scope = RouteScope::new(Kind::HttpRoute, namespace);
        let rules: Vec<RuleConfig> = match route.spec.rules.as_deref() {
            Some(rules) => rules
                .iter()
                .enumerate()
                .map(|(i, r)| self.http_rule(&mut scope, i, r))
                .collect(),
            // Absent rules default to one catch-all rule without backends.
            None => vec![default_rule()],
        };
        finish(
            RouteConfig {
                key: route_key(Kind::HttpRoute, &route.metadata),
                kind: RouteKind::Http,
                created: created(&route.metadata),
                generation: route.metadata.generation.unwrap_or(0),
                rules,
            },
            scope.unresolved,
        )
    }

    /// GRPCRoute method matches become path matches on `/<service>/<method>`:
    /// service and method → Exact `/S/M`; service only → Prefix `/S` (every method of it);
    /// method only → anchored regex `/[^/]+/M`; neither → Prefix `/`. With type
    /// RegularExpression the parts are regexes and a missing part is `[^/]+`.
    fn grpc_match(
        &mut self,
        index: usize,
        m: &GrpcRouteRulesMatches,
        problems: &mut Vec<String>,
    ) -> RouteMatch {
        let method = m.method.as_ref();
        let service_name = method
            .and_then(|m| m.service.as_deref())
            .filter(|s| !s.is_empty());
        let method_name = method
            .and_then(|m| m.method.as_deref())
            .filter(|s| !s.is_empty());
        let regex = method.and_then(|m| m.r#type.as_ref())
            == Some(&GrpcRouteRulesMatchesMethodType::RegularExpression);
        let path = match (regex, service_name, method_name) {
            (false, Some(s), Some(m)) => PathMatch::Exact(format!("/{s}/{m}")),
            (false, Some(s), None) => PathMatch::Prefix(format!("/{s}")),
            (false, None, Some(m)) => {
                self.path_regex(&format!("/[^/]+/{}", regex::escape(m)), problems)
            }
            (_, None, None) => PathMatch::Prefix("/".into()),
            (true, s, m) => self.path_regex(
                &format!("/(?:{})/(?:{})", s.unwrap_or("[^/]+"), m.unwrap_or("[^/]+")),
                problems,
            ),
        };
        let headers = self.header_matches(
            m.headers.iter().flatten().map(|h| {
                (
                    h.name.as_str(),
                    h.r#type == Some(GrpcRouteRulesMatchesHeadersType::RegularExpression),
                    h.value.as_str(),
                )
            }),
            problems,
        );
        RouteMatch {
            index,
            path,
            method: None,
            headers,
            query_params: Vec::new(),
        }
    }

    fn path_regex(&mut self, pattern: &str, problems: &mut Vec<String>) -> PathMatch {
        PathMatch::RegularExpression(match self.regex(pattern) {
            Ok(re) => re,
            Err(e) => {
                problems.push(e);
                never_matches()
            }
        })
    }

    /// Converts a GRPCRoute: same IR as HTTPRoute, `kind: Grpc`.
    pub fn grpc_route(&mut self, route: &GrpcRoute) -> Converted {
        let namespace = route.metadata.namespace.as_deref().unwrap_or_default();
        let mut scope = RouteScope::new(Kind::GrpcRoute, namespace);
        let rules: Vec<RuleConfig> = match route.spec.rules.as_deref() {
            Some(rules) => rules
                .iter()
                .enumerate()
                .map(|(index, rule)| {
                    let mut problems = Vec::new();
                    let matches = match rule.matches.as_deref() {
                        Some(ms) if !ms.is_empty() => ms
                            .iter()
                            .enumerate()
                            .map(|(i, m)| self.grpc_match(i, m, &mut problems))
                            .collect(),
                        _ => vec![default_match()],
                    };
                    let filters =
                        self.filters(&mut scope, rule.filters.as_deref().unwrap_or_default());
                    let backends: Vec<WeightedBackend> = rule
                        .backend_refs
                        .iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, b)| WeightedBackend {
                            index: i,
                            weight: non_negative(b.weight.unwrap_or(1)),
                            target: self.resolve_backend(&mut scope, backend_ref_view!(b)),
                            filters: self
                                .filters(&mut scope, b.filters.as_deref().unwrap_or_default()),
                        })
                        .collect();
                    let invalid = rule_problem(&filters, &backends, problems);
                    RuleConfig {
                        index,
                        name: rule.name.clone(),
                        matches,
                        filters,
                        backends,
                        timeouts: Timeouts::default(),
                        retry: None,
                        invalid,
                    }
                })
                .collect(),
            None => vec![default_rule()],
        };
        finish(
            RouteConfig {
                key: route_key(Kind::GrpcRoute, &route.metadata),
                kind: RouteKind::Grpc,
                created: created(&route.metadata),
                generation: route.metadata.generation.unwrap_or(0),
                rules,
            },
            scope.unresolved,
        )
    }
}

/// Converts a connection route (TLSRoute, TCPRoute, UDPRoute; their rules share field names):
/// rules of weighted backends, no matches and no filters (a TLSRoute's SNI is matched against
/// its hostnames when a connection arrives; TCP and UDP routes take whatever reaches their
/// listener).
macro_rules! connection_route {
    ($converter:expr, $route:expr, $object_kind:expr, $route_kind:expr) => {{
        let route = $route;
        let namespace = route.metadata.namespace.as_deref().unwrap_or_default();
        let mut scope = RouteScope::new($object_kind, namespace);
        let rules = route
            .spec
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| RuleConfig {
                index,
                name: rule.name.clone(),
                matches: Vec::new(),
                filters: Vec::new(),
                backends: rule
                    .backend_refs
                    .iter()
                    .enumerate()
                    .map(|(i, b)| WeightedBackend {
                        index: i,
                        weight: non_negative(b.weight.unwrap_or(1)),
                        target: $converter.resolve_backend(&mut scope, backend_ref_view!(b)),
                        filters: Vec::new(),
                    })
                    .collect(),
                timeouts: Timeouts::default(),
                retry: None,
                invalid: None,
            })
            .collect();
        finish(
            RouteConfig {
                key: route_key($object_kind, &route.metadata),
                kind: $route_kind,
                created: created(&route.metadata),
                generation: route.metadata.generation.unwrap_or(0),
                rules,
            },
            scope.unresolved,
        )
    }};
}

impl Converter<'_> {
    pub fn tls_route(&mut self, route: &TlsRoute) -> Converted {
        connection_route!(self, route, Kind::TlsRoute, RouteKind::Tls)
    }

    pub fn tcp_route(&mut self, route: &TcpRoute) -> Converted {
        connection_route!(self, route, Kind::TcpRoute, RouteKind::Tcp)
    }

    pub fn udp_route(&mut self, route: &UdpRoute) -> Converted {
        connection_route!(self, route, Kind::UdpRoute, RouteKind::Udp)
    }
}

fn finish(config: RouteConfig, unresolved: Option<Unresolved>) -> Converted {
    let invalid_rules = config
        .rules
        .iter()
        .filter_map(|r| r.invalid.clone().map(|why| (r.index, why)))
        .collect();
    Converted {
        rule_count: config.rules.len(),
        config: Arc::new(config),
        unresolved,
        invalid_rules,
    }
}

/// Why a rule cannot be implemented, if it cannot: an unsupported filter (rule-level or on a
/// backendRef) or a regular expression that does not compile.
fn rule_problem(
    filters: &[Filter],
    backends: &[WeightedBackend],
    mut problems: Vec<String>,
) -> Option<String> {
    for f in filters
        .iter()
        .chain(backends.iter().flat_map(|b| b.filters.iter()))
    {
        if let Filter::Unsupported { kind, detail } = f {
            problems.push(format!("{kind} filter: {detail}"));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn default_match() -> RouteMatch {
    RouteMatch {
        index: 0,
        path: PathMatch::Prefix("/".into()),
        method: None,
        headers: Vec::new(),
        query_params: Vec::new(),
    }
}

fn default_rule() -> RuleConfig {
    RuleConfig {
        index: 0,
        name: None,
        matches: vec![default_match()],
        filters: Vec::new(),
        backends: Vec::new(),
        timeouts: Timeouts::default(),
        retry: None,
        invalid: None,
    }
}

/// A timeout; `"0s"` disables it (HTTPRouteTimeouts).
fn parse_timeout(text: Option<&str>) -> Option<std::time::Duration> {
    text.and_then(duration::parse).filter(|d| !d.is_zero())
}

fn method_name(m: &HttpRouteRulesMatchesMethod) -> &'static str {
    match m {
        HttpRouteRulesMatchesMethod::Get => "GET",
        HttpRouteRulesMatchesMethod::Head => "HEAD",
        HttpRouteRulesMatchesMethod::Post => "POST",
        HttpRouteRulesMatchesMethod::Put => "PUT",
        HttpRouteRulesMatchesMethod::Delete => "DELETE",
        HttpRouteRulesMatchesMethod::Connect => "CONNECT",
        HttpRouteRulesMatchesMethod::Options => "OPTIONS",
        HttpRouteRulesMatchesMethod::Trace => "TRACE",
        HttpRouteRulesMatchesMethod::Patch => "PATCH",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_lose_trailing_slashes_except_the_root() {
        for (input, expected) in [
            ("/", "/"),
            ("//", "/"),
            ("/foo", "/foo"),
            ("/foo/", "/foo"),
            ("/foo//", "/foo"),
            ("/foo/bar/", "/foo/bar"),
        ] {
            assert_eq!(normalize_prefix(input), expected, "{input}");
        }
    }

    #[test]
    fn stand_in_regex_matches_nothing() {
        let re = never_matches();
        for text in ["", "/", "a", " ", "/anything/at/all"] {
            assert!(!re.is_match(text), "{text:?}");
        }
    }

    #[test]
    fn timeouts_of_zero_are_disabled() {
        assert_eq!(parse_timeout(Some("0s")), None);
        assert_eq!(parse_timeout(Some("0ms")), None);
        assert_eq!(parse_timeout(Some("bogus")), None);
        assert_eq!(parse_timeout(None), None);
        assert_eq!(
            parse_timeout(Some("1h2m")),
            Some(std::time::Duration::from_secs(3720))
        );
    }
}
