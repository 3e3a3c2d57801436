//! Probe requests: derived from the entries of both states within the affected scopes, then
//! deduplicated and sorted.
//!
//! For every match of every rule that serves an affected host: a request that hits it, and
//! near misses at its boundaries: the PathPrefix's segment boundary (`/api` → `/apix`), a
//! trailing `/` on an Exact path, the other method, each header and query parameter left out,
//! and the other hostname (a sibling of an exact hostname, the parent of a wildcard). A host
//! is served by the entries of every route hostname that covers it (exact, wildcards, any), so
//! each affected host is probed with all of those: fall-through between hostnames is covered.

use std::collections::{BTreeMap, BTreeSet};

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::config::{
    GatewayConfig, ListenerConfig, PathMatch, Protocol, RouteConfig, RouteKind, RouteMatch,
    RuleConfig, ValueMatch,
};
use crate::decision::{Request, Scheme};
use crate::object::ObjectKey;
use crate::table::hostname::pattern_covers;

use super::UserRequest;
use super::scope::{ANY_HOST, ListenerId, ListenerScope};

/// The host probes use for a listener that takes any host (`.invalid` is reserved: it never
/// names a real host, RFC 2606).
const ANY_HOST_PROBE: &str = "gwsim-probe.invalid";
/// The first label of a made-up host under a wildcard.
const WILDCARD_LABEL: &str = "gwsim-probe";
/// The first label of the sibling of an exact hostname.
const SIBLING_LABEL: &str = "gwsim-other";

/// A request to send, ordered for output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Probe {
    gateway: ObjectKey,
    port: u16,
    scheme: Scheme,
    host: String,
    path: String,
    method: String,
    headers: Vec<(String, String)>,
}

impl Probe {
    fn into_request(self) -> Request {
        let sni = (self.scheme == Scheme::Https).then(|| self.host.clone());
        Request {
            gateway: Some(self.gateway),
            scheme: self.scheme,
            port: self.port,
            method: self.method,
            host: self.host,
            path: self.path,
            headers: self.headers,
            sni,
        }
    }
}

/// Where a probe goes: a Gateway's listener port, and a host.
struct Target<'a> {
    gateway: &'a ObjectKey,
    scheme: Scheme,
    port: u16,
    host: &'a str,
}

/// Probes by request, each with why it was made (the first reason found).
#[derive(Default)]
struct ProbeSet {
    probes: BTreeMap<Probe, String>,
}

impl ProbeSet {
    fn add(&mut self, probe: Probe, why: impl FnOnce() -> String) {
        self.probes.entry(probe).or_insert_with(why);
    }
}

/// Every probe for the affected scopes, sorted, then the user's requests in their order.
pub(super) fn derive(
    before: &[GatewayConfig],
    after: &[GatewayConfig],
    scopes: &BTreeMap<ListenerId, ListenerScope>,
    user: &[UserRequest],
) -> Vec<(Request, String)> {
    let mut set = ProbeSet::default();
    for ((gateway, listener), scope) in scopes {
        let views: Vec<ListenerView<'_>> = [before, after]
            .into_iter()
            .filter_map(|gws| {
                let gw = gws.iter().find(|g| &g.key == gateway)?;
                let l = gw.listeners.iter().find(|l| &l.name == listener)?;
                ListenerView::new(&gw.key, l)
            })
            .collect();
        probe_listener(&views, scope, &mut set);
    }
    let mut out: Vec<(Request, String)> = set
        .probes
        .into_iter()
        .map(|(p, why)| (p.into_request(), why))
        .collect();
    out.extend(user.iter().map(|u| (u.request.clone(), u.label.clone())));
    out
}

/// One state's listener: where requests reach it, and its routes by route hostname.
struct ListenerView<'a> {
    gateway: &'a ObjectKey,
    scheme: Scheme,
    port: u16,
    hostname: Option<String>,
    buckets: BTreeMap<String, Vec<&'a RouteConfig>>,
}

impl<'a> ListenerView<'a> {
    /// `None` for listeners that take no HTTP requests (TLS, TCP, UDP).
    fn new(gateway: &'a ObjectKey, l: &'a ListenerConfig) -> Option<ListenerView<'a>> {
        let scheme = match l.protocol {
            Protocol::Http => Scheme::Http,
            Protocol::Https => Scheme::Https,
            _ => return None,
        };
        let mut buckets: BTreeMap<String, Vec<&RouteConfig>> = BTreeMap::new();
        for attachment in &l.routes {
            if attachment.hostnames.is_empty() {
                buckets
                    .entry(ANY_HOST.to_string())
                    .or_default()
                    .push(&attachment.route);
            }
            for h in &attachment.hostnames {
                buckets
                    .entry(h.to_ascii_lowercase())
                    .or_default()
                    .push(&attachment.route);
            }
        }
        for routes in buckets.values_mut() {
            routes.sort_by(|a, b| a.key.cmp(&b.key));
            routes.dedup_by(|a, b| a.key == b.key);
        }
        Some(ListenerView {
            gateway,
            scheme,
            port: l.port,
            hostname: l.hostname.as_ref().map(|h| h.to_ascii_lowercase()),
            buckets,
        })
    }

    /// The routes of every route hostname that covers `host`, most specific first.
    fn routes_for(&self, host: &str) -> Vec<&'a RouteConfig> {
        let mut patterns = vec![host.to_string()];
        patterns.extend(
            host.match_indices('.')
                .map(|(dot, _)| format!("*.{}", &host[dot + 1..])),
        );
        patterns.push(ANY_HOST.to_string());
        patterns
            .iter()
            .filter_map(|p| self.buckets.get(p))
            .flatten()
            .copied()
            .collect()
    }

    fn target<'h>(&self, host: &'h str) -> Target<'h>
    where
        'a: 'h,
    {
        Target {
            gateway: self.gateway,
            scheme: self.scheme,
            port: self.port,
            host,
        }
    }
}

/// A host that a listener hostname (or route hostname) pattern takes.
fn representative(pattern: Option<&str>) -> String {
    match pattern {
        None => ANY_HOST_PROBE.to_string(),
        Some(ANY_HOST) => ANY_HOST_PROBE.to_string(),
        Some(p) => match p.strip_prefix("*.") {
            Some(suffix) => format!("{WILDCARD_LABEL}.{suffix}"),
            None => p.to_string(),
        },
    }
}

/// A host next to `pattern` that it does not take: a sibling of an exact hostname, the
/// parent of a wildcard.
fn other_host(pattern: &str) -> String {
    match pattern.strip_prefix("*.") {
        Some(suffix) => suffix.to_string(),
        None => match pattern.split_once('.') {
            Some((_, parent)) => format!("{SIBLING_LABEL}.{parent}"),
            None => SIBLING_LABEL.to_string(),
        },
    }
}

fn probe_listener(views: &[ListenerView<'_>], scope: &ListenerScope, set: &mut ProbeSet) {
    let all: BTreeSet<&str> = views
        .iter()
        .flat_map(|v| v.buckets.keys().map(String::as_str))
        .collect();
    let every = scope.whole || scope.hostnames.contains(ANY_HOST);
    let patterns: Vec<&str> = if every {
        all.iter().copied().collect()
    } else {
        scope.hostnames.iter().map(String::as_str).collect()
    };

    let mut hosts: BTreeSet<String> = BTreeSet::new();
    // Hosts next to a pattern, each with the pattern whose entries are sent there.
    let mut others: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    if every {
        for v in views {
            hosts.insert(representative(v.hostname.as_deref()));
        }
    }
    for &p in &patterns {
        hosts.insert(representative(Some(p)));
        if p == ANY_HOST {
            continue;
        }
        others.entry(other_host(p)).or_default().insert(p);
        if p.starts_with("*.") {
            // Exact hostnames under a wildcard fall through to it.
            hosts.extend(
                all.iter()
                    .filter(|q| !q.starts_with('*') && pattern_covers(p, q))
                    .map(|q| q.to_string()),
            );
        }
    }

    for v in views {
        for host in &hosts {
            for route in v.routes_for(host) {
                each_match(route, |rule, m| {
                    match_probes(route, rule, m, &v.target(host), set);
                });
            }
        }
        for (host, patterns) in &others {
            for p in patterns {
                for route in v.buckets.get(*p).into_iter().flatten() {
                    each_match(route, |rule, m| {
                        if let Some(hit) = hit_probe(route, m, &v.target(host)) {
                            set.add(hit, || {
                                format!("near miss of {}: other hostname", label(route, rule, m))
                            });
                        }
                    });
                }
            }
        }
    }
}

fn each_match(route: &RouteConfig, mut f: impl FnMut(&RuleConfig, &RouteMatch)) {
    for rule in &route.rules {
        for m in &rule.matches {
            f(rule, m);
        }
    }
}

/// `HTTPRoute ns/name rule 1 (name) match 0`, as the table names entries.
fn label(route: &RouteConfig, rule: &RuleConfig, m: &RouteMatch) -> String {
    match &rule.name {
        Some(name) => format!(
            "{} rule {} ({name}) match {}",
            route.key, rule.index, m.index
        ),
        None => format!("{} rule {} match {}", route.key, rule.index, m.index),
    }
}

/// The parts of a request that satisfy a match: method, headers and query parameters
/// (`None` when a regular expression has no sample).
struct Conditions {
    method: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl Conditions {
    fn of(route: &RouteConfig, m: &RouteMatch) -> Option<Conditions> {
        let grpc = route.kind == RouteKind::Grpc;
        let mut headers = Vec::new();
        if grpc {
            headers.push(("content-type".to_string(), "application/grpc".to_string()));
        }
        for h in &m.headers {
            headers.push((h.name.clone(), sample_value(&h.value)?));
        }
        let mut query = Vec::new();
        for q in &m.query_params {
            query.push((q.name.clone(), sample_value(&q.value)?));
        }
        let method = match (&m.method, grpc) {
            (Some(method), _) => method.clone(),
            (None, true) => "POST".to_string(),
            (None, false) => "GET".to_string(),
        };
        Some(Conditions {
            method,
            headers,
            query,
        })
    }

    fn probe(&self, target: &Target<'_>, path: &str) -> Probe {
        let mut path = path.to_string();
        for (i, (name, value)) in self.query.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(name);
            path.push('=');
            path.push_str(value);
        }
        Probe {
            gateway: target.gateway.clone(),
            port: target.port,
            scheme: target.scheme,
            host: target.host.to_string(),
            path,
            method: self.method.clone(),
            headers: self.headers.clone(),
        }
    }
}

/// Paths that hit a path match, and near misses with what they miss by.
fn paths(m: &PathMatch) -> (Vec<String>, Vec<(String, String)>) {
    match m {
        PathMatch::Exact(p) => {
            let miss = match p.strip_suffix('/') {
                Some(trimmed) if !trimmed.is_empty() => (
                    trimmed.to_string(),
                    format!("Exact {p} without its trailing /"),
                ),
                Some(_) => return (vec![p.clone()], Vec::new()),
                None => (format!("{p}/"), format!("Exact {p} with a trailing /")),
            };
            (vec![p.clone()], vec![miss])
        }
        PathMatch::Prefix(p) => {
            let key = p.trim_end_matches('/');
            if key.is_empty() {
                return (vec!["/".to_string()], Vec::new());
            }
            (
                vec![key.to_string()],
                vec![(
                    format!("{key}x"),
                    format!("segment boundary of PathPrefix {p}"),
                )],
            )
        }
        PathMatch::RegularExpression(re) => match sample(re) {
            Some(s) => (vec![s], Vec::new()),
            None => (Vec::new(), Vec::new()),
        },
    }
}

/// The first request that hits a match at `target`, if one can be made.
fn hit_probe(route: &RouteConfig, m: &RouteMatch, target: &Target<'_>) -> Option<Probe> {
    let conditions = Conditions::of(route, m)?;
    let (hits, _) = paths(&m.path);
    hits.first().map(|p| conditions.probe(target, p))
}

fn match_probes(
    route: &RouteConfig,
    rule: &RuleConfig,
    m: &RouteMatch,
    target: &Target<'_>,
    set: &mut ProbeSet,
) {
    let Some(conditions) = Conditions::of(route, m) else {
        return;
    };
    let (hits, misses) = paths(&m.path);
    let name = || label(route, rule, m);
    for path in &hits {
        set.add(conditions.probe(target, path), || {
            format!("hits {}", name())
        });
    }
    for (path, why) in misses {
        set.add(conditions.probe(target, &path), || {
            format!("near miss of {}: {why}", name())
        });
    }
    let Some(first) = hits.first() else {
        return;
    };
    if let Some(method) = &m.method {
        let other = if method == "GET" { "POST" } else { "GET" };
        let mut probe = conditions.probe(target, first);
        probe.method = other.to_string();
        set.add(probe, || {
            format!("near miss of {}: method {other}, not {method}", name())
        });
    }
    for h in &m.headers {
        // Header names are unique within a match (the controller keeps the first).
        let mut probe = conditions.probe(target, first);
        probe
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&h.name));
        set.add(probe, || {
            format!("near miss of {}: without header {}", name(), h.name)
        });
    }
    for (i, q) in m.query_params.iter().enumerate() {
        let mut without = Conditions {
            method: conditions.method.clone(),
            headers: conditions.headers.clone(),
            query: conditions.query.clone(),
        };
        without.query.remove(i);
        set.add(without.probe(target, first), || {
            format!(
                "near miss of {}: without query parameter {}",
                name(),
                q.name
            )
        });
    }
}

/// A value that satisfies a header or query match.
fn sample_value(v: &ValueMatch) -> Option<String> {
    match v {
        ValueMatch::Exact(s) => Some(s.clone()),
        ValueMatch::RegularExpression(re) => sample(re),
    }
}

/// A string the whole of which `re` matches, built from its syntax: literals as written, one
/// plain character of each class, the fewest repetitions, the first alternative. `None` when
/// that does not match (look-arounds, empty classes).
pub(super) fn sample(re: &regex::Regex) -> Option<String> {
    let hir = regex_syntax::parse(re.as_str()).ok()?;
    let mut out = String::new();
    write_sample(&hir, &mut out, 0)?;
    re.find(&out)
        .is_some_and(|m| m.start() == 0 && m.end() == out.len())
        .then_some(out)
}

/// Repetitions and nesting beyond these give up: a sample is a convenience, not a solver.
const MAX_REPEAT: u32 = 64;
const MAX_DEPTH: usize = 64;

fn write_sample(hir: &Hir, out: &mut String, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(std::str::from_utf8(&lit.0).ok()?),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .map(|r| (r.start(), r.end()))
                .collect();
            out.push(pick(&ranges)?);
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .filter(|r| r.start().is_ascii())
                .map(|r| (char::from(r.start()), char::from(r.end().min(0x7f))))
                .collect();
            out.push(pick(&ranges)?);
        }
        HirKind::Repetition(rep) => {
            if rep.min > MAX_REPEAT {
                return None;
            }
            for _ in 0..rep.min {
                write_sample(&rep.sub, out, depth + 1)?;
            }
        }
        HirKind::Capture(capture) => write_sample(&capture.sub, out, depth + 1)?,
        HirKind::Concat(parts) => {
            for part in parts {
                write_sample(part, out, depth + 1)?;
            }
        }
        HirKind::Alternation(alternatives) => {
            write_sample(alternatives.first()?, out, depth + 1)?;
        }
    }
    Some(())
}

/// A plain character of a class: a letter, digit or `-` when the class has one, else the
/// first printable one.
fn pick(ranges: &[(char, char)]) -> Option<char> {
    let contains = |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
    ['a', 'x', 'A', '0', '-', '_']
        .into_iter()
        .find(|&c| contains(c))
        .or_else(|| {
            ranges
                .iter()
                .flat_map(|&(lo, hi)| {
                    (u32::from(lo)..=u32::from(hi).min(u32::from(lo) + 128))
                        .filter_map(char::from_u32)
                })
                .find(|c| !c.is_control() && !c.is_whitespace())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_hit_and_miss_at_the_boundaries() {
        let cases = [
            (
                PathMatch::Prefix("/api".into()),
                vec!["/api"],
                vec!["/apix"],
            ),
            (
                PathMatch::Prefix("/api/".into()),
                vec!["/api"],
                vec!["/apix"],
            ),
            (PathMatch::Prefix("/".into()), vec!["/"], vec![]),
            (PathMatch::Exact("/a".into()), vec!["/a"], vec!["/a/"]),
            (PathMatch::Exact("/a/".into()), vec!["/a/"], vec!["/a"]),
            (PathMatch::Exact("/".into()), vec!["/"], vec![]),
        ];
        for (m, hits, misses) in cases {
            let (h, n) = paths(&m);
            assert_eq!(h, hits, "{m:?}");
            let n: Vec<String> = n.into_iter().map(|(p, _)| p).collect();
            assert_eq!(n, misses, "{m:?}");
        }
    }

    #[test]
    fn hosts_next_to_a_pattern_are_not_taken_by_it() {
        let cases = [
            ("www.shop.example", "gwsim-other.shop.example"),
            ("*.shop.example", "shop.example"),
            ("localhost", "gwsim-other"),
        ];
        for (pattern, other) in cases {
            assert_eq!(other_host(pattern), other);
            assert!(!pattern_covers(pattern, other), "{pattern}");
        }
        assert_eq!(
            representative(Some("*.shop.example")),
            "gwsim-probe.shop.example"
        );
        assert_eq!(representative(None), ANY_HOST_PROBE);
    }
}
