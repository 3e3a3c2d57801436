//! Applying a matched rule: its filters in listed order (rule-level, then those of the chosen
//! backendRef), the weighted backend choice, and the outcome.
//!
//! Gateway API `HTTPRouteRule.filters`: "Filters are applied in the order they are listed";
//! a redirect or a CORS preflight answers from the Gateway, everything else shapes the request
//! forwarded to the backend.

use rand::{Rng, RngCore};

use crate::config::{
    BackendTarget, Cors, Filter, HeaderModifier, Mirror, PathMatch, PathModifier, Redirect,
    RouteMatch, RuleConfig, UrlRewrite, WeightedBackend,
};
use crate::decision::{Forward, MirroredRequest, Outcome, Request, ServiceRef};
use crate::explain::{BackendStep, Change, FilterStep};
use crate::table::hostname::host_without_port;
use crate::table::matching::{prefix_matches, split_path};

/// Applies `m` to a header list: `set` replaces every entry of the name (keeping the first
/// entry's place), `add` appends an entry (a reader joins repeated entries with `,`), `remove`
/// drops every entry of the name. Names compare case-insensitively (Gateway API
/// `HTTPHeaderFilter`). The simulator applies response modifiers with this too.
pub fn apply_header_modifier(headers: &mut Vec<(String, String)>, m: &HeaderModifier) {
    for (name, value) in &m.set {
        let mut seen = false;
        headers.retain_mut(|(n, v)| {
            if !n.eq_ignore_ascii_case(name) {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            n.clone_from(name);
            v.clone_from(value);
            true
        });
        if !seen {
            headers.push((name.clone(), value.clone()));
        }
    }
    for (name, value) in &m.add {
        headers.push((name.clone(), value.clone()));
    }
    for name in &m.remove {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// The values of a header joined with `,` as a reader sees them; `None` when absent.
fn joined(headers: &[(String, String)], name: &str) -> Option<String> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    let first = values.next()?;
    Some(values.fold(first.to_string(), |mut acc, v| {
        acc.push(',');
        acc.push_str(v);
        acc
    }))
}

/// Well-known port of a scheme (`http` 80, `https` 443).
fn well_known_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else {
        None
    }
}

/// The PathPrefix a ReplacePrefixMatch replaces: the matched value; an Exact match counts as
/// a prefix of itself; a regular expression has none.
fn matched_prefix(m: &RouteMatch) -> Option<&str> {
    match &m.path {
        PathMatch::Prefix(p) | PathMatch::Exact(p) => Some(p),
        PathMatch::RegularExpression(_) => None,
    }
}

/// Gateway API `HTTPPathModifier.replacePrefixMatch`: the matched prefix (whole segments) is
/// replaced and the rest of the path kept, with one `/` between them: prefix `/foo`, value
/// `/xyz` or `/xyz/`, path `/foo/bar` → `/xyz/bar`; path `/foo` → the value as written;
/// value `/` and path `/foo/bar` → `/bar`. `None` when the prefix does not match `path`.
pub(crate) fn replace_prefix(path: &str, prefix: &str, replacement: &str) -> Option<String> {
    if !prefix_matches(prefix, path) {
        return None;
    }
    let rest = &path[prefix.trim_end_matches('/').len()..];
    if rest.is_empty() {
        return Some(if replacement.is_empty() {
            "/".to_string()
        } else {
            replacement.to_string()
        });
    }
    let mut out = replacement.trim_end_matches('/').to_string();
    out.push_str(rest);
    Some(out)
}

/// The path after a path modifier, keeping the query.
fn modified_path(
    raw: &str,
    modifier: &PathModifier,
    matched: &RouteMatch,
    notes: &mut Vec<String>,
) -> String {
    let (path, query) = split_path(raw);
    let new_path = match modifier {
        PathModifier::ReplaceFullPath(p) => p.clone(),
        PathModifier::ReplacePrefixMatch(replacement) => match matched_prefix(matched) {
            Some(prefix) => match replace_prefix(path, prefix, replacement) {
                Some(p) => p,
                None => {
                    notes.push(format!(
                        "ReplacePrefixMatch: the matched prefix {prefix} is no longer a prefix of {path}; path unchanged"
                    ));
                    path.to_string()
                }
            },
            None => {
                notes.push(
                    "ReplacePrefixMatch after a RegularExpression match replaces the whole path (implementation-specific)"
                        .to_string(),
                );
                replacement.clone()
            }
        },
    };
    if query.is_empty() {
        new_path
    } else {
        format!("{new_path}?{query}")
    }
}

/// Gateway API `HTTPRequestRedirectFilter`: scheme, hostname and path default to the request's;
/// an unset port is the well-known port of a configured scheme, else the listener's port; the
/// port is left out of Location when it is the scheme's well-known one. The query is kept.
pub(crate) fn redirect_location(
    redirect: &Redirect,
    request: &Request,
    listener_port: u16,
    matched: &RouteMatch,
    notes: &mut Vec<String>,
) -> String {
    let scheme = redirect
        .scheme
        .as_deref()
        .unwrap_or(request.scheme.as_str())
        .to_ascii_lowercase();
    let host = match &redirect.hostname {
        Some(h) => h.as_str(),
        None => host_without_port(request.host.trim()),
    };
    let port = match (redirect.port, &redirect.scheme) {
        (Some(port), _) => Some(port),
        (None, Some(s)) => well_known_port(s),
        (None, None) => Some(listener_port),
    };
    let path = match &redirect.path {
        Some(modifier) => modified_path(&request.path, modifier, matched, notes),
        None => {
            let (path, query) = split_path(&request.path);
            if query.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{query}")
            }
        }
    };
    match port {
        Some(p) if Some(p) != well_known_port(&scheme) => format!("{scheme}://{host}:{p}{path}"),
        _ => format!("{scheme}://{host}{path}"),
    }
}

fn service_ref(target: &BackendTarget) -> Option<ServiceRef> {
    match target {
        BackendTarget::Service {
            namespace,
            name,
            port,
            app_protocol,
        } => Some(ServiceRef {
            namespace: namespace.clone(),
            name: name.clone(),
            port: *port,
            app_protocol: app_protocol.clone(),
        }),
        BackendTarget::Invalid { .. } => None,
    }
}

/// `Service ns/name:port` or `invalid Service ns/name (BackendNotFound)`.
pub(crate) fn describe_target(target: &BackendTarget) -> String {
    match target {
        BackendTarget::Service {
            namespace,
            name,
            port,
            ..
        } => format!("Service {namespace}/{name}:{port}"),
        BackendTarget::Invalid {
            reason, reference, ..
        } => format!("invalid {reference} ({reason})"),
    }
}

/// Whether a CORS `allowOrigins` entry admits `origin`. `*` admits every origin; a pattern
/// whose host starts with a `*` label (`https://*.bar.com`) admits one or more labels there
/// (GEP-1767); anything else compares exactly (case-insensitively).
pub(crate) fn origin_allowed(pattern: &str, origin: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some((scheme, host)) = pattern.split_once("://")
        && let Some(suffix) = host.strip_prefix('*')
    {
        let Some((origin_scheme, origin_host)) = origin.split_once("://") else {
            return false;
        };
        return origin_scheme.eq_ignore_ascii_case(scheme)
            && origin_host.len() > suffix.len()
            && origin_host
                .get(origin_host.len() - suffix.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            && !origin_host[..origin_host.len() - suffix.len()].contains('/');
    }
    pattern.eq_ignore_ascii_case(origin)
}

/// What a matched rule does with the request.
pub(crate) struct Applied {
    pub(crate) outcome: Outcome,
    pub(crate) filters: Vec<FilterStep>,
    pub(crate) backend: Option<BackendStep>,
    pub(crate) notes: Vec<String>,
    /// A few words for the explanation's outcome line.
    pub(crate) summary: String,
}

/// The request as the filters shape it.
struct Working {
    request: Request,
    response_modifiers: Vec<HeaderModifier>,
    response_headers: Vec<(String, String)>,
    mirrors: Vec<MirroredRequest>,
}

enum Step {
    Continue,
    Stop(Outcome, String),
}

struct Run<'a> {
    rule: &'a RuleConfig,
    matched: &'a RouteMatch,
    listener_port: u16,
    detailed: bool,
    filters: Vec<FilterStep>,
    notes: Vec<String>,
}

/// Runs a matched rule against `request`.
pub(crate) fn apply_rule(
    rule: &RuleConfig,
    matched: &RouteMatch,
    request: &Request,
    listener_port: u16,
    rng: &mut dyn RngCore,
    detailed: bool,
) -> Applied {
    let mut run = Run {
        rule,
        matched,
        listener_port,
        detailed,
        filters: Vec::new(),
        notes: Vec::new(),
    };
    let (outcome, summary, backend) = run.execute(request, rng);
    Applied {
        outcome,
        filters: run.filters,
        backend,
        notes: run.notes,
        summary,
    }
}

impl Run<'_> {
    fn execute(
        &mut self,
        request: &Request,
        rng: &mut dyn RngCore,
    ) -> (Outcome, String, Option<BackendStep>) {
        if let Some(why) = &self.rule.invalid {
            let reason = format!("invalid rule: {why}");
            return (self.respond(500, &reason, None), reason, None);
        }
        let mut working = Working {
            request: request.clone(),
            response_modifiers: Vec::new(),
            response_headers: Vec::new(),
            mirrors: Vec::new(),
        };
        for filter in &self.rule.filters {
            if let Step::Stop(outcome, summary) =
                self.apply_filter(filter, "rule", &mut working, None, rng)
            {
                return (outcome, summary, None);
            }
        }

        // Weighted choice (Gateway API `HTTPBackendRef.weight`): weight 0 is never chosen.
        let backends = &self.rule.backends;
        let total: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
        if backends.is_empty() {
            let reason = "the rule has no backendRefs".to_string();
            let step = BackendStep {
                index: None,
                target: reason.clone(),
                weight: 0,
                total_weight: 0,
            };
            return (self.respond(500, &reason, None), reason, Some(step));
        }
        if total == 0 {
            let reason = "every backendRef has weight 0".to_string();
            let step = BackendStep {
                index: None,
                target: reason.clone(),
                weight: 0,
                total_weight: 0,
            };
            return (self.respond(500, &reason, None), reason, Some(step));
        }
        let mut pick = rng.random_range(0..total);
        let mut chosen = &backends[backends.len() - 1];
        for b in backends {
            if pick < u64::from(b.weight) {
                chosen = b;
                break;
            }
            pick -= u64::from(b.weight);
        }
        let step = BackendStep {
            index: Some(chosen.index),
            target: describe_target(&chosen.target),
            weight: chosen.weight,
            total_weight: total,
        };
        let Some(service) = service_ref(&chosen.target) else {
            let reason = match &chosen.target {
                BackendTarget::Invalid {
                    reason, reference, ..
                } => format!(
                    "backendRef {} ({reference}) is invalid: {reason}",
                    chosen.index
                ),
                BackendTarget::Service { .. } => "invalid backendRef".to_string(),
            };
            return (self.respond(500, &reason, Some(chosen)), reason, Some(step));
        };
        let level = format!("backend {}", chosen.index);
        for filter in &chosen.filters {
            if let Step::Stop(outcome, summary) =
                self.apply_filter(filter, &level, &mut working, Some(chosen), rng)
            {
                return (outcome, summary, Some(step));
            }
        }
        let summary = format!("forwarded to {}", step.target);
        let forward = Forward {
            backend: service,
            mirrors: working.mirrors.iter().map(|m| m.backend.clone()).collect(),
            mirror_requests: working.mirrors,
            request: working.request,
            response_modifiers: working.response_modifiers,
            response_headers: working.response_headers,
            timeouts: self.rule.timeouts.clone(),
            retry: self.rule.retry.clone(),
        };
        (Outcome::Forward(Box::new(forward)), summary, Some(step))
    }

    /// Response headers of an answer the Gateway makes itself: the rule's (and the chosen
    /// backendRef's) ResponseHeaderModifiers apply to it as to a backend's answer.
    fn gateway_headers(
        &self,
        mut headers: Vec<(String, String)>,
        backend: Option<&WeightedBackend>,
    ) -> Vec<(String, String)> {
        let backend_filters = backend.map(|b| b.filters.as_slice()).unwrap_or(&[]);
        for filter in self.rule.filters.iter().chain(backend_filters) {
            if let Filter::ResponseHeaderModifier(m) = filter {
                apply_header_modifier(&mut headers, m);
            }
        }
        headers
    }

    fn respond(&self, status: u16, reason: &str, backend: Option<&WeightedBackend>) -> Outcome {
        Outcome::Respond {
            status,
            headers: self.gateway_headers(Vec::new(), backend),
            reason: reason.to_string(),
        }
    }

    fn record(&mut self, level: &str, filter: &str, changes: Vec<Change>) {
        if self.detailed {
            self.filters.push(FilterStep {
                level: level.to_string(),
                filter: filter.to_string(),
                changes,
            });
        }
    }

    fn apply_filter(
        &mut self,
        filter: &Filter,
        level: &str,
        working: &mut Working,
        backend: Option<&WeightedBackend>,
        rng: &mut dyn RngCore,
    ) -> Step {
        match filter {
            Filter::RequestHeaderModifier(m) => {
                let names = touched_names(m);
                let before: Vec<Option<String>> = if self.detailed {
                    names
                        .iter()
                        .map(|n| joined(&working.request.headers, n))
                        .collect()
                } else {
                    Vec::new()
                };
                apply_header_modifier(&mut working.request.headers, m);
                if self.detailed {
                    let changes = names
                        .iter()
                        .zip(before)
                        .map(|(n, before)| Change {
                            field: format!("header {n}"),
                            before,
                            after: joined(&working.request.headers, n),
                        })
                        .collect();
                    self.record(level, "RequestHeaderModifier", changes);
                }
                Step::Continue
            }
            Filter::ResponseHeaderModifier(m) => {
                working.response_modifiers.push(m.clone());
                if self.detailed {
                    let changes = touched_names(m)
                        .into_iter()
                        .map(|n| Change {
                            field: format!("response header {n}"),
                            before: Some("(backend's)".to_string()),
                            after: response_effect(m, &n),
                        })
                        .collect();
                    self.record(level, "ResponseHeaderModifier", changes);
                }
                Step::Continue
            }
            Filter::RequestRedirect(r) => self.redirect(r, level, working, backend),
            Filter::UrlRewrite(rewrite) => {
                self.rewrite(rewrite, level, working);
                Step::Continue
            }
            Filter::RequestMirror(mirror) => {
                self.mirror(mirror, level, working, rng);
                Step::Continue
            }
            Filter::Cors(cors) => self.cors(cors, level, working, backend),
            Filter::Unsupported { kind, detail } => {
                let reason = format!("unsupported filter {kind}: {detail}");
                self.record(level, kind, Vec::new());
                Step::Stop(self.respond(500, &reason, backend), reason)
            }
        }
    }

    fn redirect(
        &mut self,
        r: &Redirect,
        level: &str,
        working: &Working,
        backend: Option<&WeightedBackend>,
    ) -> Step {
        let location = redirect_location(
            r,
            &working.request,
            self.listener_port,
            self.matched,
            &mut self.notes,
        );
        let headers = self.gateway_headers(Vec::new(), backend);
        self.record(
            level,
            "RequestRedirect",
            vec![Change {
                field: "Location".to_string(),
                before: None,
                after: Some(location.clone()),
            }],
        );
        let summary = format!("redirected {} to {location}", r.status_code);
        Step::Stop(
            Outcome::Redirect {
                status: r.status_code,
                location,
                headers,
            },
            summary,
        )
    }

    fn rewrite(&mut self, rewrite: &UrlRewrite, level: &str, working: &mut Working) {
        let mut changes = Vec::new();
        if let Some(host) = &rewrite.hostname {
            changes.push(Change {
                field: "host".to_string(),
                before: Some(working.request.host.clone()),
                after: Some(host.clone()),
            });
            working.request.host.clone_from(host);
        }
        if let Some(modifier) = &rewrite.path {
            let after = modified_path(
                &working.request.path,
                modifier,
                self.matched,
                &mut self.notes,
            );
            changes.push(Change {
                field: "path".to_string(),
                before: Some(working.request.path.clone()),
                after: Some(after.clone()),
            });
            working.request.path = after;
        }
        self.record(level, "URLRewrite", changes);
    }

    fn mirror(
        &mut self,
        mirror: &Mirror,
        level: &str,
        working: &mut Working,
        rng: &mut dyn RngCore,
    ) {
        // Gateway API `HTTPRequestMirrorFilter.percent` / `fraction`.
        let sampled = if mirror.numerator == 0 || mirror.denominator == 0 {
            false
        } else if mirror.numerator >= mirror.denominator {
            true
        } else {
            rng.random_range(0..mirror.denominator) < mirror.numerator
        };
        let target = describe_target(&mirror.backend);
        let share = format!("{}/{}", mirror.numerator, mirror.denominator);
        let after = match (service_ref(&mirror.backend), sampled) {
            (Some(service), true) => {
                working.mirrors.push(MirroredRequest {
                    backend: service,
                    request: working.request.clone(),
                });
                format!("{target} (sampled, share {share})")
            }
            (Some(_), false) => format!("not mirrored this time (share {share})"),
            (None, _) => {
                self.notes.push(format!(
                    "mirror to {target} skipped: the reference is invalid"
                ));
                format!("skipped: {target}")
            }
        };
        self.record(
            level,
            "RequestMirror",
            vec![Change {
                field: "mirror".to_string(),
                before: None,
                after: Some(after),
            }],
        );
    }

    /// GEP-1767: a preflight (OPTIONS with Origin and Access-Control-Request-Method) is
    /// answered by the Gateway and never forwarded; an actual request from an allowed origin
    /// is forwarded and its response gets the CORS headers.
    fn cors(
        &mut self,
        cors: &Cors,
        level: &str,
        working: &mut Working,
        backend: Option<&WeightedBackend>,
    ) -> Step {
        let request = &working.request;
        let origin = request.header("origin").map(str::to_string);
        let requested_method = request
            .header("access-control-request-method")
            .map(str::to_string);
        let preflight = request.method.eq_ignore_ascii_case("OPTIONS")
            && origin.is_some()
            && requested_method.is_some();
        let allowed = origin
            .as_deref()
            .is_some_and(|o| cors.allow_origins.iter().any(|p| origin_allowed(p, o)));
        let Some(origin) = origin else {
            self.record(level, "CORS", Vec::new());
            return Step::Continue;
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        if allowed {
            // With credentials a wildcard must be answered with the concrete value.
            let wildcard_origin = cors.allow_origins.iter().any(|p| p == "*");
            let allow_origin = if wildcard_origin && !cors.allow_credentials {
                "*".to_string()
            } else {
                origin.clone()
            };
            headers.push(("access-control-allow-origin".to_string(), allow_origin));
            if cors.allow_credentials {
                headers.push((
                    "access-control-allow-credentials".to_string(),
                    "true".to_string(),
                ));
            }
            if !cors.expose_headers.is_empty() {
                headers.push((
                    "access-control-expose-headers".to_string(),
                    cors.expose_headers.join(", "),
                ));
            }
            if preflight {
                let methods = if cors.allow_methods.iter().any(|m| m == "*") {
                    // Echo the requested method: valid with and without credentials.
                    requested_method.clone().unwrap_or_default()
                } else {
                    cors.allow_methods.join(", ")
                };
                if !methods.is_empty() {
                    headers.push(("access-control-allow-methods".to_string(), methods));
                }
                let requested_headers = request
                    .header("access-control-request-headers")
                    .map(str::to_string);
                let allow_headers = if cors.allow_headers.iter().any(|h| h == "*") {
                    match requested_headers {
                        Some(h) => Some(h),
                        None if !cors.allow_credentials => Some("*".to_string()),
                        None => None,
                    }
                } else if cors.allow_headers.is_empty() {
                    None
                } else {
                    Some(cors.allow_headers.join(", "))
                };
                if let Some(h) = allow_headers {
                    headers.push(("access-control-allow-headers".to_string(), h));
                }
                headers.push((
                    "access-control-max-age".to_string(),
                    cors.max_age.to_string(),
                ));
            }
        }
        let changes = headers
            .iter()
            .map(|(n, v)| Change {
                field: format!("response header {n}"),
                before: None,
                after: Some(v.clone()),
            })
            .collect();
        self.record(level, "CORS", changes);
        if preflight {
            let summary = if allowed {
                format!("CORS preflight from {origin} answered by the Gateway")
            } else {
                format!(
                    "CORS preflight from {origin} answered without CORS headers: origin not allowed"
                )
            };
            let headers = self.gateway_headers(headers, backend);
            return Step::Stop(
                Outcome::Respond {
                    status: 200,
                    headers,
                    reason: "CORS preflight".to_string(),
                },
                summary,
            );
        }
        if !allowed {
            self.notes.push(format!(
                "CORS: origin {origin} is not allowed; no CORS headers added"
            ));
        }
        working.response_headers.extend(headers);
        Step::Continue
    }
}

/// Header names a modifier touches, lower case, sorted, once each.
fn touched_names(m: &HeaderModifier) -> Vec<String> {
    let mut names: Vec<String> = m
        .set
        .iter()
        .map(|(n, _)| n)
        .chain(m.add.iter().map(|(n, _)| n))
        .chain(m.remove.iter())
        .map(|n| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What a response modifier does to one header, for explanations.
fn response_effect(m: &HeaderModifier, name: &str) -> Option<String> {
    if m.remove.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return None;
    }
    let set = m.set.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
    let added: Vec<&str> = m
        .add
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    match set {
        Some((_, v)) if added.is_empty() => Some(format!("set {v}")),
        Some((_, v)) => Some(format!("set {v}, add {}", added.join(","))),
        None => Some(format!("add {}", added.join(","))),
    }
}
