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

pub(crate) fn service_ref(target: &BackendTarget) -> Option<ServiceRef> {
    match target {
        BackendTarget::Service {
            namespace,
            name,
            port,
            app_protocol,
            tls,
        } => Some(ServiceRef {
            namespace: namespace.clone(),
            name: name.clone(),
            port: *port,
            app_protocol: app_protocol.clone(),
            tls: tls.clone(),
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
            tls: None,
            ..
        } => format!("Service {namespace}/{name}:{port}"),
        BackendTarget::Service {
            namespace,
            name,
            port,
            tls: Some(tls),
            ..
        } => format!("Service {namespace}/{name}:{port} over {tls}"),
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
        let step = if self.detailed {
            Some(BackendStep {
                index: Some(chosen.index),
                target: describe_target(&chosen.target),
                weight: chosen.weight,
                total_weight: total,
            })
        } else {
            None
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
            return (self.respond(500, &reason, Some(chosen)), reason, step);
        };
        // Named only where there is something to record under it.
        let level = match chosen.filters.is_empty() {
            true => String::new(),
            false => format!("backend {}", chosen.index),
        };
        for filter in &chosen.filters {
            if let Step::Stop(outcome, summary) =
                self.apply_filter(filter, &level, &mut working, Some(chosen), rng)
            {
                return (outcome, summary, step);
            }
        }
        let summary = match &step {
            Some(step) => format!("forwarded to {}", step.target),
            None => String::new(),
        };
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
        (Outcome::Forward(Box::new(forward)), summary, step)
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
            // A `*` answer is only valid for requests without credentials (Fetch standard,
            // CORS protocol): with allowCredentials, or when the request carries a Cookie or
            // Authorization header, a wildcard is answered with the concrete origin.
            let wildcard_origin = cors.allow_origins.iter().any(|p| p == "*");
            let credentialed =
                request.header("cookie").is_some() || request.header("authorization").is_some();
            let allow_origin = if wildcard_origin && !cors.allow_credentials && !credentialed {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mirror, Protocol};
    use crate::decision::{Decision, Scheme};
    use crate::table::RoutingTable;
    use crate::table::testutil::*;

    fn table_with(rules: Vec<RuleConfig>) -> RoutingTable {
        let r = route("filters", 1, rules);
        RoutingTable::build(&[gateway(
            "gw",
            vec![http("http", None, vec![attach(&r, &[])])],
        )])
    }

    fn forward(decision: &Decision) -> &Forward {
        match &decision.outcome {
            Outcome::Forward(f) => f,
            other => panic!(
                "expected a forward, got {other:?}\n{}",
                decision.explanation.render_text()
            ),
        }
    }

    fn location(decision: &Decision) -> (u16, &str) {
        match &decision.outcome {
            Outcome::Redirect {
                status, location, ..
            } => (*status, location.as_str()),
            other => panic!(
                "expected a redirect, got {other:?}\n{}",
                decision.explanation.render_text()
            ),
        }
    }

    fn modifier(set: &[(&str, &str)], add: &[(&str, &str)], remove: &[&str]) -> HeaderModifier {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        HeaderModifier {
            set: pairs(set),
            add: pairs(add),
            remove: remove.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn header_modifier_set_add_remove_case_insensitively() {
        struct Case {
            name: &'static str,
            before: Vec<(String, String)>,
            m: HeaderModifier,
            expect: Vec<(&'static str, Option<&'static str>)>,
        }
        let cases = [
            Case {
                name: "set overwrites",
                before: headers(&[("X-Header-Set", "some-other-value")]),
                m: modifier(&[("X-Header-Set", "set-overwrites-values")], &[], &[]),
                expect: vec![("x-header-set", Some("set-overwrites-values"))],
            },
            Case {
                name: "set adds when absent",
                before: Vec::new(),
                m: modifier(&[("X-Header-Set", "v")], &[], &[]),
                expect: vec![("X-Header-Set", Some("v"))],
            },
            Case {
                name: "set collapses repeats",
                before: headers(&[("a", "1"), ("b", "x"), ("A", "2")]),
                m: modifier(&[("a", "3")], &[], &[]),
                expect: vec![("a", Some("3")), ("b", Some("x"))],
            },
            Case {
                name: "add appends",
                before: headers(&[("X-Header-Add", "some-other-value")]),
                m: modifier(&[], &[("X-Header-Add", "add-appends-values")], &[]),
                expect: vec![("x-header-add", Some("some-other-value,add-appends-values"))],
            },
            Case {
                name: "remove",
                before: headers(&[("X-Header-Remove", "val"), ("keep", "1")]),
                m: modifier(&[], &[], &["x-header-remove"]),
                expect: vec![("X-Header-Remove", None), ("keep", Some("1"))],
            },
            Case {
                name: "case-insensitivity",
                before: headers(&[("x-header-set", "original"), ("x-header-remove", "r")]),
                m: modifier(
                    &[("X-HEADER-SET", "header-set")],
                    &[("X-Header-Add", "header-add")],
                    &["X-Header-Remove"],
                ),
                expect: vec![
                    ("x-header-set", Some("header-set")),
                    ("x-header-add", Some("header-add")),
                    ("x-header-remove", None),
                ],
            },
        ];
        for case in cases {
            let mut h = case.before.clone();
            apply_header_modifier(&mut h, &case.m);
            for (name, value) in &case.expect {
                assert_eq!(joined(&h, name).as_deref(), *value, "{}: {h:?}", case.name);
            }
        }
    }

    #[test]
    fn request_header_modifier_reaches_the_backend_and_is_explained() {
        let table = table_with(vec![with_filters(
            rule(vec![prefix("/")], "v1"),
            vec![Filter::RequestHeaderModifier(modifier(
                &[("X-Header-Set", "set-overwrites-values")],
                &[("X-Header-Add", "add-appends-values")],
                &["X-Header-Remove"],
            ))],
        )]);
        let request = Request::get("x", "/multiple")
            .with_header("X-Header-Set", "old")
            .with_header("X-Header-Add", "add-val")
            .with_header("X-Header-Remove", "gone");
        let d = decide(&table, &request);
        let seen = &forward(&d).request.headers;
        assert_eq!(
            joined(seen, "x-header-set").as_deref(),
            Some("set-overwrites-values")
        );
        assert_eq!(
            joined(seen, "x-header-add").as_deref(),
            Some("add-val,add-appends-values")
        );
        assert_eq!(joined(seen, "x-header-remove"), None);
        let text = d.explanation.render_text();
        assert!(
            text.contains("rule RequestHeaderModifier: header x-header-remove gone -> (none)"),
            "{text}"
        );
        assert!(
            text.contains(
                "rule RequestHeaderModifier: header x-header-set old -> set-overwrites-values"
            ),
            "{text}"
        );
    }

    #[test]
    fn response_modifiers_are_handed_over_and_apply_to_gateway_answers() {
        let response = modifier(&[("X-Set", "1")], &[], &[]);
        let table = table_with(vec![
            with_filters(
                rule(vec![prefix("/forward")], "v1"),
                vec![Filter::ResponseHeaderModifier(response.clone())],
            ),
            with_filters(
                rule_to(vec![prefix("/redirect")], vec![]),
                vec![
                    Filter::RequestRedirect(Redirect {
                        scheme: None,
                        hostname: Some("example.org".to_string()),
                        path: None,
                        port: None,
                        status_code: 302,
                    }),
                    Filter::ResponseHeaderModifier(response.clone()),
                ],
            ),
        ]);
        let d = decide(&table, &Request::get("x", "/forward"));
        assert_eq!(forward(&d).response_modifiers, vec![response]);
        let d = decide(&table, &Request::get("x", "/redirect"));
        match &d.outcome {
            Outcome::Redirect { headers, .. } => {
                assert_eq!(headers, &vec![("X-Set".to_string(), "1".to_string())])
            }
            other => panic!("{other:?}"),
        }
    }

    fn redirect(scheme: Option<&str>, port: Option<u16>) -> Redirect {
        Redirect {
            scheme: scheme.map(str::to_string),
            hostname: None,
            path: None,
            port,
            status_code: 302,
        }
    }

    #[test]
    fn redirect_port_and_scheme_matrix() {
        // HTTPRouteRedirectPortAndScheme: (request scheme, listener port, redirect scheme,
        // redirect port) -> Location.
        type Case = (Scheme, u16, Option<&'static str>, Option<u16>, &'static str);
        let cases: [Case; 16] = [
            (Scheme::Http, 80, None, None, "http://example.org/p"),
            (Scheme::Http, 80, None, Some(80), "http://example.org/p"),
            (
                Scheme::Http,
                80,
                None,
                Some(8080),
                "http://example.org:8080/p",
            ),
            (
                Scheme::Http,
                80,
                Some("https"),
                None,
                "https://example.org/p",
            ),
            (
                Scheme::Http,
                80,
                Some("https"),
                Some(443),
                "https://example.org/p",
            ),
            (
                Scheme::Http,
                80,
                Some("https"),
                Some(8443),
                "https://example.org:8443/p",
            ),
            (Scheme::Http, 8080, None, None, "http://example.org:8080/p"),
            (Scheme::Http, 8080, None, Some(80), "http://example.org/p"),
            (
                Scheme::Http,
                8080,
                Some("https"),
                None,
                "https://example.org/p",
            ),
            (
                Scheme::Http,
                8080,
                Some("https"),
                Some(8443),
                "https://example.org:8443/p",
            ),
            (Scheme::Https, 443, None, None, "https://example.org/p"),
            (Scheme::Https, 443, None, Some(443), "https://example.org/p"),
            (
                Scheme::Https,
                443,
                None,
                Some(8443),
                "https://example.org:8443/p",
            ),
            (
                Scheme::Https,
                443,
                Some("http"),
                None,
                "http://example.org/p",
            ),
            (
                Scheme::Https,
                443,
                Some("http"),
                Some(80),
                "http://example.org/p",
            ),
            (
                Scheme::Https,
                443,
                Some("http"),
                Some(8080),
                "http://example.org:8080/p",
            ),
        ];
        for (scheme, listener_port, to_scheme, to_port, expected) in cases {
            let mut request = Request::get("example.org", "/p");
            request.scheme = scheme;
            request.port = listener_port;
            let mut notes = Vec::new();
            let got = redirect_location(
                &redirect(to_scheme, to_port),
                &request,
                listener_port,
                &prefix("/"),
                &mut notes,
            );
            assert_eq!(
                got, expected,
                "{scheme:?}:{listener_port} scheme {to_scheme:?} port {to_port:?}"
            );
        }
    }

    #[test]
    fn redirect_host_status_path_and_query() {
        let with = |hostname: Option<&str>, path: Option<PathModifier>, status: u16| {
            Filter::RequestRedirect(Redirect {
                scheme: None,
                hostname: hostname.map(str::to_string),
                path,
                port: None,
                status_code: status,
            })
        };
        let table = table_with(vec![
            with_filters(
                rule_to(vec![prefix("/hostname-redirect")], vec![]),
                vec![with(Some("example.org"), None, 302)],
            ),
            with_filters(
                rule_to(vec![prefix("/host-and-status")], vec![]),
                vec![with(Some("example.org"), None, 301)],
            ),
            with_filters(
                rule_to(vec![prefix("/original-prefix")], vec![]),
                vec![with(
                    None,
                    Some(PathModifier::ReplacePrefixMatch(
                        "/replacement-prefix".to_string(),
                    )),
                    302,
                )],
            ),
            with_filters(
                rule_to(vec![prefix("/full")], vec![]),
                vec![with(
                    Some("example.org"),
                    Some(PathModifier::ReplaceFullPath(
                        "/full-path-replacement".to_string(),
                    )),
                    301,
                )],
            ),
            with_filters(
                rule_to(vec![exact("/see-other")], vec![]),
                vec![with(None, None, 303)],
            ),
        ]);
        let cases = [
            (
                "/hostname-redirect",
                302,
                "http://example.org/hostname-redirect",
            ),
            (
                "/host-and-status",
                301,
                "http://example.org/host-and-status",
            ),
            (
                "/original-prefix/lemon",
                302,
                "http://gw.example/replacement-prefix/lemon",
            ),
            (
                "/original-prefix",
                302,
                "http://gw.example/replacement-prefix",
            ),
            (
                "/full/path/original",
                301,
                "http://example.org/full-path-replacement",
            ),
            (
                "/full/path?q=1&r=2",
                301,
                "http://example.org/full-path-replacement?q=1&r=2",
            ),
            ("/see-other?x", 303, "http://gw.example/see-other?x"),
        ];
        // The Host names port 8080 but the listener is on 80: the listener port counts.
        for (path, status, expected) in cases {
            let d = decide(&table, &Request::get("gw.example:8080", path));
            assert_eq!(location(&d), (status, expected), "{path}");
        }
    }

    #[test]
    fn replace_prefix_cases() {
        // Gateway API `HTTPPathModifier.replacePrefixMatch` examples and HTTPRouteRewritePath.
        let cases = [
            ("/foo/bar", "/foo", "/xyz", Some("/xyz/bar")),
            ("/foo/bar", "/foo", "/xyz/", Some("/xyz/bar")),
            ("/foo/bar", "/foo/", "/xyz", Some("/xyz/bar")),
            ("/foo/bar", "/foo/", "/xyz/", Some("/xyz/bar")),
            ("/foo", "/foo", "/xyz", Some("/xyz")),
            ("/foo/", "/foo", "/xyz", Some("/xyz/")),
            ("/foo", "/foo", "/xyz/", Some("/xyz/")),
            ("/foo/bar", "/foo", "", Some("/bar")),
            ("/foo/bar", "/foo", "/", Some("/bar")),
            ("/foo", "/foo", "/", Some("/")),
            ("/foo", "/foo", "", Some("/")),
            ("/prefix/one/two", "/prefix/one", "/one", Some("/one/two")),
            ("/strip-prefix/three", "/strip-prefix", "/", Some("/three")),
            ("/strip-prefix", "/strip-prefix", "/", Some("/")),
            ("/anything", "/", "/new", Some("/new/anything")),
            ("/foobar", "/foo", "/xyz", None),
        ];
        for (path, prefix, replacement, expected) in cases {
            assert_eq!(
                replace_prefix(path, prefix, replacement).as_deref(),
                expected,
                "{path} {prefix} {replacement}"
            );
        }
    }

    #[test]
    fn url_rewrite_host_and_path() {
        // HTTPRouteRewriteHost and HTTPRouteRewritePath.
        let rewrite = |hostname: Option<&str>, path: Option<PathModifier>| {
            Filter::UrlRewrite(UrlRewrite {
                hostname: hostname.map(str::to_string),
                path,
            })
        };
        let table = table_with(vec![
            with_filters(
                rule(vec![prefix("/prefix/one")], "v1"),
                vec![rewrite(
                    None,
                    Some(PathModifier::ReplacePrefixMatch("/one".to_string())),
                )],
            ),
            with_filters(
                rule(vec![prefix("/strip-prefix")], "v1"),
                vec![rewrite(
                    None,
                    Some(PathModifier::ReplacePrefixMatch("/".to_string())),
                )],
            ),
            with_filters(
                rule(vec![prefix("/full/one")], "v1"),
                vec![rewrite(
                    None,
                    Some(PathModifier::ReplaceFullPath("/one".to_string())),
                )],
            ),
            with_filters(
                rule(vec![prefix("/host")], "v1"),
                vec![
                    rewrite(Some("one.example.org"), None),
                    Filter::RequestHeaderModifier(modifier(&[], &[("X-Header-Add", "v")], &[])),
                ],
            ),
        ]);
        let cases = [
            ("/prefix/one/two", "rewrite.example", "/one/two"),
            ("/prefix/one", "rewrite.example", "/one"),
            ("/strip-prefix/three", "rewrite.example", "/three"),
            ("/strip-prefix", "rewrite.example", "/"),
            ("/full/one/two?x=1", "rewrite.example", "/one?x=1"),
            ("/host", "one.example.org", "/host"),
        ];
        for (path, host, expected_path) in cases {
            let d = decide(&table, &Request::get("rewrite.example", path));
            let f = forward(&d);
            assert_eq!(
                (f.request.host.as_str(), f.request.path.as_str()),
                (host, expected_path),
                "{path}"
            );
        }
        let d = decide(&table, &Request::get("rewrite.example", "/prefix/one/two"));
        let text = d.explanation.render_text();
        assert!(
            text.contains("rule URLRewrite: path /prefix/one/two -> /one/two"),
            "{text}"
        );
    }

    #[test]
    fn backend_level_filters_run_for_the_chosen_backend() {
        // HTTPRouteBackendRequestRedirect, HTTPRouteBackendURLRewrite,
        // HTTPRouteRequestHeaderModifierBackendWeights.
        let mut redirect_backend = backend_ref(0, "v1", 1);
        redirect_backend.filters = vec![Filter::RequestRedirect(Redirect {
            scheme: None,
            hostname: None,
            path: Some(PathModifier::ReplacePrefixMatch(
                "/redirected-prefix".to_string(),
            )),
            port: None,
            status_code: 302,
        })];
        let mut rewrite_backend = backend_ref(0, "v1", 1);
        rewrite_backend.filters = vec![Filter::UrlRewrite(UrlRewrite {
            hostname: None,
            path: Some(PathModifier::ReplaceFullPath("/rewritten-full".to_string())),
        })];
        let tagged = |i: usize, name: &str| {
            let mut b = backend_ref(i, name, 10);
            b.filters = vec![Filter::RequestHeaderModifier(modifier(
                &[("Backend", name)],
                &[],
                &[],
            ))];
            b
        };
        let table = table_with(vec![
            rule_to(vec![prefix("/prefix")], vec![redirect_backend]),
            rule_to(vec![prefix("/full")], vec![rewrite_backend]),
            rule_to(
                vec![prefix("/weights")],
                vec![tagged(0, "v1"), tagged(1, "v2")],
            ),
        ]);
        let d = decide(&table, &Request::get("x", "/prefix/original"));
        assert_eq!(location(&d), (302, "http://x/redirected-prefix/original"));
        let d = decide(&table, &Request::get("x", "/full/original"));
        assert_eq!(forward(&d).request.path, "/rewritten-full");
        let mut rng = rng();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let d = table.decide_fast(&Request::get("x", "/weights"), &mut rng);
            let f = forward(&d);
            assert_eq!(
                f.request.header("backend"),
                Some(f.backend.name.as_str()),
                "the header names the backend that got the request"
            );
            seen.insert(f.backend.name.clone());
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn mirrors_get_the_request_as_modified_so_far() {
        // HTTPRouteRequestMirror / HTTPRouteRequestMultipleMirrors.
        let mirror = |name: &str| {
            Filter::RequestMirror(Mirror {
                backend: service(name),
                numerator: 1,
                denominator: 1,
            })
        };
        let table = table_with(vec![with_filters(
            rule(vec![prefix("/")], "v1"),
            vec![
                mirror("v2"),
                Filter::RequestHeaderModifier(modifier(&[("X-Mirrored", "after")], &[], &[])),
                mirror("v3"),
            ],
        )]);
        let d = decide(&table, &Request::get("x", "/mirror?id=1"));
        let f = forward(&d);
        let names: Vec<&str> = f.mirrors.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["v2", "v3"]);
        assert_eq!(f.mirror_requests[0].request.header("x-mirrored"), None);
        assert_eq!(
            f.mirror_requests[1].request.header("x-mirrored"),
            Some("after")
        );
        assert_eq!(f.mirror_requests[0].request.path, "/mirror?id=1");
        assert_eq!(f.request.header("x-mirrored"), Some("after"));
    }

    #[test]
    fn percentage_mirror_samples_with_the_rng() {
        // HTTPRouteRequestPercentageMirror: 20%, 25/50, 35%.
        for (numerator, denominator) in [(20, 100), (25, 50), (35, 100)] {
            let table = table_with(vec![with_filters(
                rule(vec![prefix("/")], "v1"),
                vec![Filter::RequestMirror(Mirror {
                    backend: service("v2"),
                    numerator,
                    denominator,
                })],
            )]);
            let mut rng = rng();
            let n = 5_000u32;
            let mirrored = (0..n)
                .filter(|_| {
                    let d = table.decide_fast(&Request::get("x", "/"), &mut rng);
                    !forward(&d).mirrors.is_empty()
                })
                .count();
            let p = f64::from(numerator) / f64::from(denominator);
            let expected = f64::from(n) * p;
            let tolerance = 3.0 * (f64::from(n) * p * (1.0 - p)).sqrt();
            assert!(
                (mirrored as f64 - expected).abs() <= tolerance,
                "{numerator}/{denominator}: {mirrored} of {n}"
            );
        }
    }

    #[test]
    fn unsupported_filter_answers_500() {
        let table = table_with(vec![with_filters(
            rule(vec![prefix("/")], "v1"),
            vec![Filter::Unsupported {
                kind: "ExtensionRef".to_string(),
                detail: "example.com/Thing infra/x".to_string(),
            }],
        )]);
        let d = decide(&table, &Request::get("x", "/"));
        assert_eq!(verdict(&d), "500");
        assert!(
            d.explanation
                .outcome
                .contains("unsupported filter ExtensionRef")
        );
    }

    fn cors_table() -> RoutingTable {
        let cors = |origins: &[&str],
                    methods: &[&str],
                    headers: &[&str],
                    expose: &[&str],
                    credentials: bool| {
            Filter::Cors(Cors {
                allow_origins: origins.iter().map(|s| s.to_string()).collect(),
                allow_methods: methods.iter().map(|s| s.to_string()).collect(),
                allow_headers: headers.iter().map(|s| s.to_string()).collect(),
                expose_headers: expose.iter().map(|s| s.to_string()).collect(),
                max_age: 3600,
                allow_credentials: credentials,
            })
        };
        table_with(vec![
            with_filters(
                rule(vec![prefix("/cors-1")], "v1"),
                vec![cors(
                    &["https://www.foo.com", "https://*.bar.com"],
                    &["GET", "OPTIONS"],
                    &["x-header-1", "x-header-2"],
                    &["x-header-3", "x-header-4"],
                    true,
                )],
            ),
            with_filters(
                rule(vec![prefix("/cors-2")], "v1"),
                vec![cors(&["https://www.foo.com"], &["*"], &[], &[], false)],
            ),
            with_filters(
                rule(vec![prefix("/cors-wildcard-origin")], "v1"),
                vec![cors(&["*"], &["PUT"], &[], &[], false)],
            ),
            with_filters(
                rule(vec![exact("/cors-wildcard-methods-headers")], "v1"),
                vec![cors(&["*"], &["*"], &["*"], &[], true)],
            ),
            with_filters(
                rule(vec![exact("/cors-wildcard-methods-headers-unauth")], "v1"),
                vec![cors(&["*"], &["*"], &["*"], &[], false)],
            ),
        ])
    }

    fn response_headers(d: &Decision) -> (String, Vec<(String, String)>) {
        match &d.outcome {
            Outcome::Respond {
                status, headers, ..
            } => (status.to_string(), headers.clone()),
            Outcome::Forward(f) => ("forward".to_string(), f.response_headers.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cors_preflight_and_simple_requests() {
        // HTTPRouteCORS.
        struct Case {
            name: &'static str,
            method: &'static str,
            path: &'static str,
            request: &'static [(&'static str, &'static str)],
            answer: &'static str,
            present: &'static [(&'static str, &'static str)],
            absent: &'static [&'static str],
        }
        let preflight_headers = &[
            ("Origin", "https://www.foo.com"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-header-1, x-header-2"),
        ];
        let cases = [
            Case {
                name: "preflight from an exact origin",
                method: "OPTIONS",
                path: "/cors-1",
                request: preflight_headers,
                answer: "200",
                present: &[
                    ("access-control-allow-origin", "https://www.foo.com"),
                    ("access-control-allow-methods", "GET, OPTIONS"),
                    ("access-control-allow-headers", "x-header-1, x-header-2"),
                    ("access-control-expose-headers", "x-header-3, x-header-4"),
                    ("access-control-max-age", "3600"),
                    ("access-control-allow-credentials", "true"),
                ],
                absent: &[],
            },
            Case {
                name: "preflight from a wildcard origin, several labels",
                method: "OPTIONS",
                path: "/cors-1",
                request: &[
                    ("Origin", "https://xpto.www.bar.com"),
                    ("access-control-request-method", "GET"),
                ],
                answer: "200",
                present: &[("access-control-allow-origin", "https://xpto.www.bar.com")],
                absent: &[],
            },
            Case {
                name: "preflight from a non-matching origin",
                method: "OPTIONS",
                path: "/cors-1",
                request: &[
                    ("Origin", "https://foobar.com"),
                    ("access-control-request-method", "GET"),
                ],
                answer: "200",
                present: &[],
                absent: &["access-control-allow-origin"],
            },
            Case {
                name: "simple request from an allowed origin",
                method: "GET",
                path: "/cors-1",
                request: &[("Origin", "https://www.bar.com")],
                answer: "forward",
                present: &[
                    ("access-control-allow-origin", "https://www.bar.com"),
                    ("access-control-allow-credentials", "true"),
                ],
                absent: &[],
            },
            Case {
                name: "simple request from a non-matching origin",
                method: "GET",
                path: "/cors-1",
                request: &[("Origin", "https://foobar.com")],
                answer: "forward",
                present: &[],
                absent: &["access-control-allow-origin"],
            },
            Case {
                name: "wildcard methods echo the requested method, no credentials",
                method: "OPTIONS",
                path: "/cors-2",
                request: &[
                    ("Origin", "https://www.foo.com"),
                    ("access-control-request-method", "POST"),
                ],
                answer: "200",
                present: &[
                    ("access-control-allow-methods", "POST"),
                    ("access-control-allow-origin", "https://www.foo.com"),
                ],
                absent: &["access-control-allow-credentials"],
            },
            Case {
                name: "wildcard origin without credentials answers *",
                method: "OPTIONS",
                path: "/cors-wildcard-origin",
                request: &[
                    ("Origin", "https://foobar.com:12345"),
                    ("access-control-request-method", "PUT"),
                ],
                answer: "200",
                present: &[
                    ("access-control-allow-origin", "*"),
                    ("access-control-allow-methods", "PUT"),
                ],
                absent: &["access-control-allow-credentials"],
            },
            Case {
                name: "with credentials wildcards become concrete values",
                method: "OPTIONS",
                path: "/cors-wildcard-methods-headers",
                request: &[
                    ("Origin", "https://other.foo.com"),
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "x-header-1, x-header-2"),
                ],
                answer: "200",
                present: &[
                    ("access-control-allow-origin", "https://other.foo.com"),
                    ("access-control-allow-methods", "PUT"),
                    ("access-control-allow-headers", "x-header-1, x-header-2"),
                    ("access-control-allow-credentials", "true"),
                ],
                absent: &[],
            },
            Case {
                name: "simple request with credentials echoes the origin",
                method: "GET",
                path: "/cors-wildcard-methods-headers",
                request: &[
                    ("Origin", "https://other.foo.com"),
                    ("Authorization", "Bearer test"),
                ],
                answer: "forward",
                present: &[
                    ("access-control-allow-origin", "https://other.foo.com"),
                    ("access-control-allow-credentials", "true"),
                ],
                absent: &[],
            },
            Case {
                name: "unauthenticated path hides credentials",
                method: "GET",
                path: "/cors-wildcard-methods-headers-unauth",
                request: &[
                    ("Origin", "https://other.foo.com"),
                    ("Authorization", "Bearer test"),
                ],
                answer: "forward",
                // A credentialed request cannot be answered with `*`.
                present: &[("access-control-allow-origin", "https://other.foo.com")],
                absent: &["access-control-allow-credentials"],
            },
            Case {
                name: "uncredentialed request to a wildcard origin gets *",
                method: "GET",
                path: "/cors-wildcard-methods-headers-unauth",
                request: &[("Origin", "https://other.foo.com")],
                answer: "forward",
                present: &[("access-control-allow-origin", "*")],
                absent: &["access-control-allow-credentials"],
            },
            Case {
                name: "OPTIONS without Access-Control-Request-Method is forwarded",
                method: "OPTIONS",
                path: "/cors-1",
                request: &[("Origin", "https://www.foo.com")],
                answer: "forward",
                present: &[("access-control-allow-origin", "https://www.foo.com")],
                absent: &["access-control-allow-methods"],
            },
            Case {
                name: "no Origin, no CORS",
                method: "GET",
                path: "/cors-1",
                request: &[],
                answer: "forward",
                present: &[],
                absent: &["access-control-allow-origin"],
            },
        ];
        let table = cors_table();
        for case in cases {
            let request = case.request.iter().fold(
                Request::get("x", case.path).with_method(case.method),
                |r, (n, v)| r.with_header(n, v),
            );
            let d = decide(&table, &request);
            let (answer, headers) = response_headers(&d);
            assert_eq!(answer, case.answer, "{}", case.name);
            for (name, value) in case.present {
                assert_eq!(
                    joined(&headers, name).as_deref(),
                    Some(*value),
                    "{}: {headers:?}",
                    case.name
                );
            }
            for name in case.absent {
                assert_eq!(joined(&headers, name), None, "{}: {headers:?}", case.name);
            }
        }
    }

    #[test]
    fn origin_patterns() {
        let cases = [
            ("*", "https://anything.example:99", true),
            ("https://www.foo.com", "https://www.foo.com", true),
            ("https://www.foo.com", "https://WWW.foo.com", true),
            ("https://www.foo.com", "http://www.foo.com", false),
            ("https://*.bar.com", "https://www.bar.com", true),
            ("https://*.bar.com", "https://a.b.bar.com", true),
            ("https://*.bar.com", "https://bar.com", false),
            ("https://*.bar.com", "http://www.bar.com", false),
            ("https://*.bar.com", "https://www.bar.com.evil", false),
        ];
        for (pattern, origin, expected) in cases {
            assert_eq!(
                origin_allowed(pattern, origin),
                expected,
                "{pattern} {origin}"
            );
        }
    }

    #[test]
    fn https_listener_protocol_is_kept_in_redirects() {
        let r = route(
            "r",
            1,
            vec![with_filters(
                rule_to(vec![prefix("/")], vec![]),
                vec![Filter::RequestRedirect(redirect(None, None))],
            )],
        );
        let table = RoutingTable::build(&[gateway(
            "gw",
            vec![listener(
                "https",
                8443,
                Protocol::Https,
                None,
                vec![attach(&r, &[])],
            )],
        )]);
        let mut request = Request::get("example.org", "/a").tls("example.org");
        request.port = 8443;
        let d = decide(&table, &request);
        assert_eq!(location(&d), (302, "https://example.org:8443/a"));
    }
}
