//! The effective routing table for people (`gwsim routes`): per Gateway and listener, every
//! entry in precedence order with its provenance, and entries that can never win flagged.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use super::index::{Entry, ListenerRoutes};
use super::matching::{prefix_key, prefix_matches};
use super::{CompiledListener, RoutingTable};
use crate::config::{Filter, ListenerConfig, PathMatch, Protocol, RouteMatch};
use crate::filters::describe_target;
use crate::object::ObjectKey;

/// The whole table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Listing {
    pub gateways: Vec<GatewayListing>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GatewayListing {
    pub gateway: ObjectKey,
    /// In `spec.listeners` order.
    pub listeners: Vec<ListenerListing>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenerListing {
    pub name: String,
    pub port: u16,
    pub protocol: String,
    pub hostname: Option<String>,
    pub usable: bool,
    pub unusable_reason: Option<String>,
    /// HTTPRoute entries, then GRPCRoute entries; each in precedence order, hostnames from
    /// most to least specific.
    pub entries: Vec<ListingEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListingEntry {
    /// 1-based position in the listener's list.
    pub position: usize,
    pub route: ObjectKey,
    pub rule_index: usize,
    pub rule_name: Option<String>,
    pub match_index: usize,
    /// The route hostname served (`*`: any host of the listener).
    pub hostname: String,
    /// `PathPrefix /v2, header version=two`.
    pub description: String,
    pub backends: Vec<ListedBackend>,
    /// Filter kinds in order, rule-level.
    pub filters: Vec<String>,
    /// Remarks: `shadowed by #3 (...)`, `rule invalid: ...`, `backendRef 1 invalid: ...`.
    pub flags: Vec<String>,
    /// Position of the earlier entry that matches every request this one matches.
    pub shadowed_by: Option<usize>,
}

impl ListingEntry {
    /// `HTTPRoute ns/name rule 1 (name) match 0`: the entry's provenance, as explanations
    /// name it.
    pub fn label(&self) -> String {
        match &self.rule_name {
            Some(name) => format!(
                "{} rule {} ({name}) match {}",
                self.route, self.rule_index, self.match_index
            ),
            None => format!(
                "{} rule {} match {}",
                self.route, self.rule_index, self.match_index
            ),
        }
    }

    /// The entry in one line, without its position:
    /// `foo.com PathPrefix /v2 -> Service ns/v2:8080 w1  [HTTPRoute ns/a rule 0 match 0]`.
    pub fn line(&self) -> String {
        let backends = if self.backends.is_empty() {
            "(no backends)".to_string()
        } else {
            self.backends
                .iter()
                .map(|b| format!("{} w{}", b.target, b.weight))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{} {} -> {}  [{}]",
            self.hostname,
            self.description,
            backends,
            self.label()
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedBackend {
    pub index: usize,
    pub target: String,
    pub weight: u32,
}

impl RoutingTable {
    /// The effective table, per Gateway (key order) and listener (`spec.listeners` order).
    pub fn listing(&self) -> Listing {
        Listing {
            gateways: self
                .compiled
                .iter()
                .zip(&self.gateways)
                .map(|(gw, config)| GatewayListing {
                    gateway: gw.key.clone(),
                    listeners: gw
                        .listeners
                        .iter()
                        .zip(&config.listeners)
                        .map(|(l, c)| match l.protocol {
                            Protocol::Tls | Protocol::Tcp | Protocol::Udp => {
                                list_connection_listener(l, c)
                            }
                            _ => list_listener(l, |_| true),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn filter_name(f: &Filter) -> String {
    match f {
        Filter::RequestHeaderModifier(_) => "RequestHeaderModifier".to_string(),
        Filter::ResponseHeaderModifier(_) => "ResponseHeaderModifier".to_string(),
        Filter::RequestRedirect(r) => format!("RequestRedirect {}", r.status_code),
        Filter::UrlRewrite(_) => "URLRewrite".to_string(),
        Filter::RequestMirror(m) => format!("RequestMirror to {}", describe_target(&m.backend)),
        Filter::Cors(_) => "CORS".to_string(),
        Filter::Unsupported { kind, .. } => format!("{kind} (unsupported)"),
    }
}

impl RoutingTable {
    /// One listener of the listing, keeping only the entries whose route hostname (`*` for
    /// any) is in `hostnames` (every entry when `None`). Positions and `shadowed_by` are those
    /// of the whole listener; shadowing is only looked for within one hostname, so it is
    /// complete for the kept entries. `None` when the table has no such listener. For
    /// `gwsim diff`, which lists only the hostnames a change touches.
    pub fn listener_listing(
        &self,
        gateway: &ObjectKey,
        listener: &str,
        hostnames: Option<&BTreeSet<String>>,
    ) -> Option<ListenerListing> {
        let gw = self.compiled.iter().find(|g| &g.key == gateway)?;
        let l = gw.listeners.iter().find(|l| l.name == listener)?;
        if matches!(l.protocol, Protocol::Tls | Protocol::Tcp | Protocol::Udp) {
            let config = self.gateways.iter().find(|g| &g.key == gateway)?;
            let c = config.listeners.iter().find(|c| c.name == listener)?;
            let mut listing = list_connection_listener(l, c);
            if let Some(kept) = hostnames {
                listing.entries.retain(|e| kept.contains(&e.hostname));
            }
            return Some(listing);
        }
        Some(match hostnames {
            None => list_listener(l, |_| true),
            Some(kept) => list_listener(l, |e| kept.contains(e.hostname_text())),
        })
    }
}

fn list_listener(listener: &CompiledListener, keep: impl Fn(&Entry) -> bool) -> ListenerListing {
    listing_of(listener, list_routes(&listener.routes, keep))
}

/// The entries of a listener's (or a mesh Service port's) routes in precedence order, with
/// their flags.
pub(super) fn list_routes(
    routes: &ListenerRoutes,
    keep: impl Fn(&Entry) -> bool,
) -> Vec<ListingEntry> {
    let mut order: Vec<usize> = (0..routes.entries.len()).collect();
    order.sort_by(|a, b| {
        let (a, b) = (&routes.entries[*a], &routes.entries[*b]);
        (a.route.kind, &a.key.host, &a.hostname, &a.key).cmp(&(
            b.route.kind,
            &b.key.host,
            &b.hostname,
            &b.key,
        ))
    });
    let shadows = find_shadows(routes, &order, &keep);
    order
        .iter()
        .enumerate()
        .filter(|(_, id)| keep(&routes.entries[**id]))
        .map(|(pos, &id)| {
            let e = &routes.entries[id];
            let rule = e.rule();
            let mut flags = Vec::new();
            let shadowed_by = shadows[pos].map(|earlier| earlier + 1);
            if let Some(by) = shadowed_by {
                flags.push(format!(
                    "shadowed by #{by} ({}): never wins",
                    routes.entries[order[by - 1]].label
                ));
            }
            if let Some(why) = &rule.invalid {
                flags.push(format!("rule invalid, answers 500: {why}"));
            }
            let redirects = rule
                .filters
                .iter()
                .any(|f| matches!(f, Filter::RequestRedirect(_)));
            if rule.backends.is_empty() && !redirects {
                // HTTPRouteNoBackendRefs: nothing to forward to, and no redirect answers.
                flags.push("no backendRefs: answers 500".to_string());
            } else if !rule.backends.is_empty() && rule.backends.iter().all(|b| b.weight == 0) {
                flags.push("every backendRef has weight 0: answers 500".to_string());
            }
            for b in &rule.backends {
                if let crate::config::BackendTarget::Invalid { reason, .. } = &b.target {
                    flags.push(format!(
                        "backendRef {} invalid ({reason}): its share answers 500",
                        b.index
                    ));
                }
            }
            if matches!(e.matcher().path, PathMatch::RegularExpression(_)) {
                flags.push("regular expression: precedence implementation-specific".to_string());
            }
            ListingEntry {
                position: pos + 1,
                route: e.route.key.clone(),
                rule_index: rule.index,
                rule_name: rule.name.clone(),
                match_index: e.matcher().index,
                hostname: e.hostname_text().to_string(),
                description: e.description.to_string(),
                backends: listed_backends(&rule.backends),
                filters: rule.filters.iter().map(filter_name).collect(),
                flags,
                shadowed_by,
            }
        })
        .collect()
}

/// A listener's listing around its entries.
fn listing_of(listener: &CompiledListener, entries: Vec<ListingEntry>) -> ListenerListing {
    ListenerListing {
        name: listener.name.clone(),
        port: listener.port,
        protocol: listener.protocol.as_str().to_string(),
        hostname: listener.hostname.clone(),
        usable: listener.usable,
        unusable_reason: listener.unusable_reason.clone(),
        entries,
    }
}

/// The backends of a listing entry.
fn listed_backends(backends: &[crate::config::WeightedBackend]) -> Vec<ListedBackend> {
    backends
        .iter()
        .map(|b| ListedBackend {
            index: b.index,
            target: describe_target(&b.target),
            weight: b.weight,
        })
        .collect()
}

/// A TLS, TCP or UDP listener: its routes in the order connections prefer them
/// ([`crate::connection::ordered_routes`]); an entry whose hostname an earlier entry has too
/// never wins (for TCP and UDP: every route but the oldest).
fn list_connection_listener(
    listener: &CompiledListener,
    config: &ListenerConfig,
) -> ListenerListing {
    let ordered = crate::connection::ordered_routes(&config.routes);
    let mut first_with: HashMap<&str, usize> = HashMap::new();
    let entries = ordered
        .iter()
        .enumerate()
        .map(|(pos, (route, hostname))| {
            let mut flags = Vec::new();
            let shadowed_by = match first_with.get(hostname) {
                Some(&earlier) => {
                    let (winner, _) = ordered[earlier];
                    flags.push(format!(
                        "shadowed by #{} ({}): never wins",
                        earlier + 1,
                        winner.key
                    ));
                    Some(earlier + 1)
                }
                None => {
                    first_with.insert(hostname, pos);
                    None
                }
            };
            let rule = route.rules.first();
            let backends = rule.map_or(&[][..], |r| &r.backends[..]);
            if backends.iter().all(|b| b.weight == 0) {
                flags.push("no backendRef with weight: connections are rejected".to_string());
            }
            for b in backends {
                if let crate::config::BackendTarget::Invalid { reason, .. } = &b.target {
                    flags.push(format!(
                        "backendRef {} invalid ({reason}): its share is rejected",
                        b.index
                    ));
                }
            }
            ListingEntry {
                position: pos + 1,
                route: route.key.clone(),
                rule_index: rule.map_or(0, |r| r.index),
                rule_name: rule.and_then(|r| r.name.clone()),
                match_index: 0,
                hostname: (*hostname).to_string(),
                description: crate::connection::takes(&listener.protocol).to_string(),
                backends: listed_backends(backends),
                filters: Vec::new(),
                flags,
                shadowed_by,
            }
        })
        .collect();
    listing_of(listener, entries)
}

/// Whether every request `later` matches is also matched by `earlier`.
fn covers(earlier: &RouteMatch, later: &RouteMatch) -> bool {
    let path = match (&earlier.path, &later.path) {
        (PathMatch::Exact(a), PathMatch::Exact(b)) => a == b,
        (PathMatch::Prefix(a), PathMatch::Exact(b) | PathMatch::Prefix(b)) => prefix_matches(a, b),
        (PathMatch::Prefix(a), PathMatch::RegularExpression(_)) => prefix_key(a).is_empty(),
        (PathMatch::RegularExpression(a), PathMatch::RegularExpression(b)) => {
            a.as_str() == b.as_str()
        }
        _ => false,
    };
    path && earlier
        .method
        .as_ref()
        .is_none_or(|m| later.method.as_ref() == Some(m))
        && earlier
            .headers
            .iter()
            .all(|h| later.headers.iter().any(|l| l == h))
        && earlier
            .query_params
            .iter()
            .all(|q| later.query_params.iter().any(|l| l == q))
}

/// For each position of `order`, the earlier position (same kind and hostname) that shadows
/// it. Only entries whose path can cover are compared, through a map of paths. Groups whose
/// first entry `keep` refuses are skipped (a group shares one hostname).
fn find_shadows(
    routes: &ListenerRoutes,
    order: &[usize],
    keep: &impl Fn(&Entry) -> bool,
) -> Vec<Option<usize>> {
    let mut out = vec![None; order.len()];
    let mut group_start = 0;
    while group_start < order.len() {
        let first = &routes.entries[order[group_start]];
        let same_group =
            |e: &Entry| e.route.kind == first.route.kind && e.hostname == first.hostname;
        let mut group_end = group_start;
        while group_end < order.len() && same_group(&routes.entries[order[group_end]]) {
            group_end += 1;
        }
        if !keep(first) {
            group_start = group_end;
            continue;
        }
        // Earlier entries by the path they can cover: Exact values and prefix keys.
        let mut exact: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut prefixes: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut regexes: Vec<usize> = Vec::new();
        for pos in group_start..group_end {
            let e = &routes.entries[order[pos]];
            let m = e.matcher();
            let path_value: Option<&str> = match &m.path {
                PathMatch::Exact(p) | PathMatch::Prefix(p) => Some(p),
                PathMatch::RegularExpression(_) => None,
            };
            let mut candidates: Vec<usize> = Vec::new();
            if let PathMatch::Exact(p) = &m.path
                && let Some(list) = exact.get(p.as_str())
            {
                candidates.extend(list);
            }
            match path_value {
                Some(p) => {
                    let key = if matches!(m.path, PathMatch::Prefix(_)) {
                        prefix_key(p)
                    } else {
                        p
                    };
                    let mut end = key.len();
                    loop {
                        if let Some(list) = prefixes.get(&key[..end]) {
                            candidates.extend(list);
                        }
                        match key[..end].rfind('/') {
                            Some(slash) => end = slash,
                            None => break,
                        }
                    }
                }
                None => {
                    candidates.extend(&regexes);
                    if let Some(list) = prefixes.get("") {
                        candidates.extend(list);
                    }
                }
            }
            candidates.sort_unstable();
            out[pos] = candidates
                .into_iter()
                .find(|&earlier| covers(routes.entries[order[earlier]].matcher(), m));
            match &m.path {
                PathMatch::Exact(p) => exact.entry(p.as_str()).or_default().push(pos),
                PathMatch::Prefix(p) => prefixes.entry(prefix_key(p)).or_default().push(pos),
                PathMatch::RegularExpression(_) => regexes.push(pos),
            }
        }
        group_start = group_end;
    }
    out
}

impl Listing {
    /// The listing as text for people.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        for gw in &self.gateways {
            writeln!(out, "{}", gw.gateway)?;
            for l in &gw.listeners {
                write!(
                    out,
                    "  listener {} ({} :{}, {})",
                    l.name,
                    l.protocol,
                    l.port,
                    l.hostname.as_deref().unwrap_or("any hostname")
                )?;
                if !l.usable {
                    write!(
                        out,
                        ": not usable: {}",
                        l.unusable_reason.as_deref().unwrap_or("not programmed")
                    )?;
                }
                writeln!(out)?;
                write_entries(out, &l.entries)?;
            }
        }
        Ok(())
    }
}

/// A listener's (or mesh port's) entries, one per line under it, with filters and flags.
pub(super) fn write_entries(out: &mut String, entries: &[ListingEntry]) -> std::fmt::Result {
    if entries.is_empty() {
        writeln!(out, "    (no routes)")?;
    }
    for e in entries {
        writeln!(out, "    {:>3}. {}", e.position, e.line())?;
        if !e.filters.is_empty() {
            writeln!(out, "         filters: {}", e.filters.join(", "))?;
        }
        for flag in &e.flags {
            writeln!(out, "         ! {flag}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::config::Protocol;

    #[test]
    fn listing_orders_entries_and_flags_shadows() {
        let a = route(
            "a",
            1,
            vec![
                rule(vec![prefix("/v2")], "v2"),
                rule(vec![prefix("/v2/deeper").header("x", "1")], "v3"),
                rule(vec![exact("/exact")], "v1"),
                rule(vec![prefix("/")], "v1"),
            ],
        );
        let b = route("b", 2, vec![rule(vec![prefix("/v2/")], "v4")]);
        let c = route(
            "c",
            3,
            vec![rule_to(vec![exact("/none")], vec![invalid_ref(0, 1)])],
        );
        let mut broken = listener("broken", 80, Protocol::Http, Some("foo.com"), Vec::new());
        broken.usable = false;
        broken.unusable_reason = Some("HostnameConflict".to_string());
        let table = RoutingTable::build(&[gateway(
            "gw",
            vec![
                http(
                    "http",
                    None,
                    vec![attach(&a, &[]), attach(&b, &[]), attach(&c, &["foo.com"])],
                ),
                broken,
            ],
        )]);
        let listing = table.listing();
        let text = listing.render_text();
        let expected = "\
Gateway infra/gw
  listener http (HTTP :80, any hostname)
      1. foo.com Exact /none -> invalid Service infra/missing (BackendNotFound) w1  [HTTPRoute infra/c rule 0 match 0]
         ! backendRef 0 invalid (BackendNotFound): its share answers 500
      2. * Exact /exact -> Service infra/v1:8080 w1  [HTTPRoute infra/a rule 2 match 0]
      3. * PathPrefix /v2/deeper, header x=1 -> Service infra/v3:8080 w1  [HTTPRoute infra/a rule 1 match 0]
      4. * PathPrefix /v2 -> Service infra/v2:8080 w1  [HTTPRoute infra/a rule 0 match 0]
      5. * PathPrefix /v2/ -> Service infra/v4:8080 w1  [HTTPRoute infra/b rule 0 match 0]
         ! shadowed by #4 (HTTPRoute infra/a rule 0 match 0): never wins
      6. * PathPrefix / -> Service infra/v1:8080 w1  [HTTPRoute infra/a rule 3 match 0]
  listener broken (HTTP :80, foo.com): not usable: HostnameConflict
    (no routes)
";
        assert_eq!(text, expected);
        let entries = &listing.gateways[0].listeners[0].entries;
        assert_eq!(entries[4].shadowed_by, Some(4));
        assert_eq!(
            entries[2].shadowed_by, None,
            "a deeper prefix is not shadowed"
        );
        assert!(serde_json::to_string(&listing).is_ok());
    }

    #[test]
    fn coverage_rules() {
        let cases = [
            (prefix("/"), exact("/x"), true),
            (prefix("/a"), prefix("/a/b"), true),
            (prefix("/a/b"), prefix("/a"), false),
            (prefix("/a"), prefix("/ab"), false),
            (exact("/a"), exact("/a"), true),
            (exact("/a"), prefix("/a"), false),
            (prefix("/"), regex_path("/x.*"), true),
            (prefix("/a").method("GET"), prefix("/a"), false),
            (prefix("/a"), prefix("/a").method("GET"), true),
            (
                prefix("/a").header("h", "1"),
                prefix("/a").header("h", "1").header("i", "2"),
                true,
            ),
            (
                prefix("/a").header("h", "1"),
                prefix("/a").header("h", "2"),
                false,
            ),
            (prefix("/a").query("q", "1"), prefix("/a"), false),
        ];
        for (i, (earlier, later, expected)) in cases.iter().enumerate() {
            assert_eq!(covers(earlier, later), *expected, "case {i}");
        }
    }
}
