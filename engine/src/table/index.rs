//! Per listener, route entries indexed by hostname and path so that a decision visits only
//! entries that can match.
//!
//! Hostnames: exact names in a hash map, wildcard suffixes in a hash map keyed by the part
//! after `*.` (looked up once per suffix of the Host, longest first), and a bucket for routes
//! without hostnames. Visiting buckets in that order is the hostname precedence of
//! `HTTPRouteSpec.hostnames` (exact before wildcard, more characters first).
//!
//! Paths, within a bucket: Exact paths in a hash map, PathPrefix values in a hash map keyed by
//! the value without its trailing `/` (looked up once per `/`-prefix of the request path,
//! longest first), regular expressions in a list. Each list is sorted by the precedence key,
//! so visiting Exact, then prefixes from longest to shortest, then expressions, visits
//! path-matching entries in precedence order.

use std::collections::HashMap;
use std::sync::Arc;

use super::hostname::HostRank;
use super::matching::prefix_key;
use super::precedence::PrecedenceKey;
use crate::config::{PathMatch, RouteConfig, RouteKind, RouteMatch, RuleConfig};

/// One (route, rule, match, hostname) of a listener.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) route: Arc<RouteConfig>,
    /// Position in `route.rules`.
    pub(crate) rule_pos: usize,
    /// Position in the rule's `matches`.
    pub(crate) match_pos: usize,
    /// The route hostname this entry serves (lower case); `None`: any host the listener takes.
    pub(crate) hostname: Option<String>,
    pub(crate) key: PrecedenceKey,
}

impl Entry {
    pub(crate) fn rule(&self) -> &RuleConfig {
        &self.route.rules[self.rule_pos]
    }

    pub(crate) fn matcher(&self) -> &RouteMatch {
        &self.rule().matches[self.match_pos]
    }

    /// `HTTPRoute ns/name rule 1 (name) match 0`.
    pub(crate) fn label(&self) -> String {
        let rule = self.rule();
        match &rule.name {
            Some(name) => format!(
                "{} rule {} ({name}) match {}",
                self.route.key,
                rule.index,
                self.matcher().index
            ),
            None => format!(
                "{} rule {} match {}",
                self.route.key,
                rule.index,
                self.matcher().index
            ),
        }
    }

    pub(crate) fn hostname_text(&self) -> &str {
        self.hostname.as_deref().unwrap_or("*")
    }
}

/// Entries of one hostname, by path.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Every entry, in precedence order.
    pub(crate) entries: Vec<u32>,
    exact_paths: HashMap<String, Vec<u32>>,
    prefixes: HashMap<String, Vec<u32>>,
    regexes: Vec<u32>,
}

impl Bucket {
    fn add(&mut self, id: u32, entry: &Entry) {
        self.entries.push(id);
        match &entry.matcher().path {
            PathMatch::Exact(p) => self.exact_paths.entry(p.clone()).or_default().push(id),
            PathMatch::Prefix(p) => self
                .prefixes
                .entry(prefix_key(p).to_string())
                .or_default()
                .push(id),
            PathMatch::RegularExpression(_) => self.regexes.push(id),
        }
    }

    fn sort(&mut self, entries: &[Entry]) {
        let by_key = |a: &u32, b: &u32| entries[*a as usize].key.cmp(&entries[*b as usize].key);
        self.entries.sort_by(by_key);
        for list in self.exact_paths.values_mut() {
            list.sort_by(by_key);
        }
        for list in self.prefixes.values_mut() {
            list.sort_by(by_key);
        }
        self.regexes.sort_by(by_key);
    }

    /// Calls `visit` with every entry whose path can match `path`, in precedence order, until
    /// it returns `true`. Returns whether it did.
    pub(crate) fn visit_path_candidates(
        &self,
        path: &str,
        mut visit: impl FnMut(u32) -> bool,
    ) -> bool {
        if let Some(list) = self.exact_paths.get(path) {
            for id in list {
                if visit(*id) {
                    return true;
                }
            }
        }
        if !self.prefixes.is_empty() {
            // The whole path, then every prefix ending before a `/`, longest first.
            let mut end = path.len();
            loop {
                if let Some(list) = self.prefixes.get(&path[..end]) {
                    for id in list {
                        if visit(*id) {
                            return true;
                        }
                    }
                }
                match path[..end].rfind('/') {
                    Some(slash) => end = slash,
                    None => break,
                }
            }
        }
        for id in &self.regexes {
            if visit(*id) {
                return true;
            }
        }
        false
    }
}

/// Buckets of one route kind.
#[derive(Debug, Default)]
pub(crate) struct HostIndex {
    exact: HashMap<String, Bucket>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<String, Bucket>,
    any: Bucket,
    /// Entries in all buckets.
    total: usize,
}

impl HostIndex {
    /// The buckets that serve `host`, in hostname precedence order, each with the hostname
    /// pattern it stands for.
    pub(crate) fn buckets_for<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Bucket> {
        let exact = self.exact.get(host);
        let wildcards = host
            .match_indices('.')
            .filter_map(move |(dot, _)| self.wildcard.get(&host[dot + 1..]));
        exact.into_iter().chain(wildcards).chain(Some(&self.any))
    }

    /// Entries in all buckets.
    pub(crate) fn total(&self) -> usize {
        self.total
    }
}

/// The compiled routes of one listener.
#[derive(Debug, Default)]
pub(crate) struct ListenerRoutes {
    pub(crate) entries: Vec<Entry>,
    pub(crate) http: HostIndex,
    pub(crate) grpc: HostIndex,
}

impl ListenerRoutes {
    pub(crate) fn build(attachments: &[crate::config::RouteAttachment]) -> ListenerRoutes {
        let mut out = ListenerRoutes::default();
        // (entry id, kind, hostname) to place once the entries exist.
        let mut placements: Vec<(u32, RouteKind)> = Vec::new();
        for attachment in attachments {
            let route = &attachment.route;
            let mut hostnames: Vec<Option<String>> = attachment
                .hostnames
                .iter()
                .map(|h| Some(h.to_ascii_lowercase()))
                .collect();
            hostnames.sort();
            hostnames.dedup();
            if hostnames.is_empty() {
                hostnames.push(None);
            }
            for hostname in hostnames {
                let rank = HostRank::of(hostname.as_deref());
                for (rule_pos, rule) in route.rules.iter().enumerate() {
                    for (match_pos, m) in rule.matches.iter().enumerate() {
                        let Ok(id) = u32::try_from(out.entries.len()) else {
                            tracing::warn!("routing table entry limit reached; entries dropped");
                            return out.finish(placements);
                        };
                        out.entries.push(Entry {
                            route: Arc::clone(route),
                            rule_pos,
                            match_pos,
                            hostname: hostname.clone(),
                            key: PrecedenceKey::new(rank, route, rule.index, m),
                        });
                        placements.push((id, route.kind));
                    }
                }
            }
        }
        out.finish(placements)
    }

    fn finish(mut self, placements: Vec<(u32, RouteKind)>) -> ListenerRoutes {
        for (id, kind) in placements {
            let entry = &self.entries[id as usize];
            let index = match kind {
                RouteKind::Http => &mut self.http,
                RouteKind::Grpc => &mut self.grpc,
            };
            let bucket = match &entry.hostname {
                None => &mut index.any,
                Some(h) => match h.strip_prefix("*.") {
                    Some(suffix) => index.wildcard.entry(suffix.to_string()).or_default(),
                    None => index.exact.entry(h.clone()).or_default(),
                },
            };
            bucket.add(id, entry);
            index.total += 1;
        }
        let entries = &self.entries;
        for index in [&mut self.http, &mut self.grpc] {
            for bucket in index
                .exact
                .values_mut()
                .chain(index.wildcard.values_mut())
                .chain(Some(&mut index.any))
            {
                bucket.sort(entries);
            }
        }
        self
    }

    pub(crate) fn entry(&self, id: u32) -> &Entry {
        &self.entries[id as usize]
    }

    pub(crate) fn index(&self, kind: RouteKind) -> &HostIndex {
        match kind {
            RouteKind::Http => &self.http,
            RouteKind::Grpc => &self.grpc,
        }
    }
}
