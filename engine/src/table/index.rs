//! Per listener, route entries indexed by hostname and path so that a decision visits only
//! entries that can match.
//!
//! Hostnames: exact names in a hash map, wildcard suffixes in a hash map keyed by the part
//! after `*.` (looked up once per suffix of the Host, longest first), and a bucket for routes
//! without hostnames. Visiting buckets in that order is the hostname precedence of
//! `HTTPRouteSpec.hostnames` (exact before wildcard, more characters first).
//!
//! Paths, within a bucket: Exact paths in a hash map, PathPrefix values in a trie of their
//! `/`-separated segments (the value without its trailing `/`), regular expressions in a list.
//! A request path walks the trie once, segment by segment, so a lookup is linear in the path's
//! length however many `/` it has; wildcard hostnames longer than any in the index are never
//! hashed, so host lookups are linear too. Each list is sorted by the precedence key, so
//! visiting Exact, then prefixes from longest to shortest, then expressions, visits
//! path-matching entries in precedence order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::hostname::HostRank;
use super::matching::{describe_match, prefix_key};
use super::precedence::PrecedenceKey;
use crate::config::{PathMatch, RouteConfig, RouteKind, RouteMatch, RuleConfig};

/// A multiply-rotate hasher (the FxHash scheme): keys are hostnames and paths from the
/// configuration, and SipHash's flooding resistance buys nothing in a simulator while it
/// costs a good share of a decision.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

#[cfg(test)]
thread_local! {
    /// Bytes hashed on this thread: tests bound the work a lookup does with it.
    pub(crate) static HASHED_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        #[cfg(test)]
        HASHED_BYTES.with(|n| n.set(n.get() + bytes.len()));
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

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
    /// Text for explanations, made once at build time so that explaining costs little:
    /// `HTTPRoute ns/name rule 1 (name) match 0`.
    pub(crate) label: Arc<str>,
    /// The hostname, `*` for any.
    pub(crate) hostname_label: Arc<str>,
    /// The match in one line.
    pub(crate) description: Arc<str>,
    /// Position in its bucket's precedence order (each entry is in one bucket).
    pub(crate) rank: u32,
    /// Whether the match has a method, header or query part: without one, a path match is
    /// a match and the decision need not read the match again.
    pub(crate) has_conditions: bool,
}

impl Entry {
    pub(crate) fn rule(&self) -> &RuleConfig {
        &self.route.rules[self.rule_pos]
    }

    pub(crate) fn matcher(&self) -> &RouteMatch {
        &self.rule().matches[self.match_pos]
    }

    /// `HTTPRoute ns/name rule 1 (name) match 0`.
    fn make_label(route: &RouteConfig, rule: &RuleConfig, m: &RouteMatch) -> String {
        match &rule.name {
            Some(name) => format!(
                "{} rule {} ({name}) match {}",
                route.key, rule.index, m.index
            ),
            None => format!("{} rule {} match {}", route.key, rule.index, m.index),
        }
    }

    pub(crate) fn hostname_text(&self) -> &str {
        self.hostname.as_deref().unwrap_or("*")
    }
}

/// PathPrefix keys as a trie of `/`-separated segments: the key `/a/b` is the path root →
/// `""` → `a` → `b`. Nodes live in one vector; node 0 is the root (no segment, no key).
#[derive(Debug)]
struct PrefixTrie {
    nodes: Vec<PrefixNode>,
}

/// A path segment of at most 16 bytes as two words and its length: nearly every segment is
/// one, and a lookup then compares words instead of following a pointer to the key's bytes.
type ShortSegment = (u64, u64, u8);

fn short_segment(segment: &str) -> Option<ShortSegment> {
    let bytes = segment.as_bytes();
    if bytes.len() > 16 {
        return None;
    }
    let mut words = [0u8; 16];
    words[..bytes.len()].copy_from_slice(bytes);
    let (low, high) = words.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or([0; 8]));
    // The length tells "a" from "a\0": the padding is zeros.
    Some((word(low), word(high), bytes.len() as u8))
}

#[derive(Debug, Default)]
struct PrefixNode {
    children: FastMap<ShortSegment, u32>,
    long_children: FastMap<Box<str>, u32>,
    /// Entries whose key ends at this node, in precedence order.
    entries: Vec<u32>,
    /// The nearest proper ancestor with entries: the next shorter key to visit.
    shorter: Option<u32>,
}

impl PrefixNode {
    fn child(&self, segment: &str) -> Option<u32> {
        match short_segment(segment) {
            Some(short) => self.children.get(&short),
            None => self.long_children.get(segment),
        }
        .copied()
    }
}

impl Default for PrefixTrie {
    fn default() -> PrefixTrie {
        PrefixTrie {
            nodes: vec![PrefixNode::default()],
        }
    }
}

impl PrefixTrie {
    fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    fn insert(&mut self, key: &str, id: u32) {
        let mut at = 0usize;
        for segment in key.split('/') {
            at = match self.nodes[at].child(segment) {
                Some(child) => child as usize,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(PrefixNode::default());
                    let child_id = u32::try_from(child).unwrap_or(u32::MAX);
                    let node = &mut self.nodes[at];
                    match short_segment(segment) {
                        Some(short) => node.children.insert(short, child_id),
                        None => node.long_children.insert(segment.into(), child_id),
                    };
                    child
                }
            };
        }
        self.nodes[at].entries.push(id);
    }

    /// Sorts every node's entries and links each node to its nearest ancestor with entries.
    fn finish(&mut self, by_key: impl Fn(&u32, &u32) -> std::cmp::Ordering) {
        let mut stack: Vec<(u32, Option<u32>)> = vec![(0, None)];
        while let Some((at, shorter)) = stack.pop() {
            let node = &mut self.nodes[at as usize];
            node.entries.sort_by(&by_key);
            node.shorter = shorter;
            let below = if node.entries.is_empty() {
                shorter
            } else {
                Some(at)
            };
            let children = node.children.values().chain(node.long_children.values());
            stack.extend(children.map(|child| (*child, below)));
        }
    }

    /// The node of the longest key that is the whole path or the path up to one of its `/`,
    /// after one walk over the path's segments.
    fn longest(&self, path: &str) -> Option<u32> {
        let mut at = 0u32;
        let mut found = None;
        for segment in path.split('/') {
            match self.nodes[at as usize].child(segment) {
                Some(child) => at = child,
                None => break,
            }
            if !self.nodes[at as usize].entries.is_empty() {
                found = Some(at);
            }
        }
        found
    }
}

/// Entries of one hostname, by path.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Every entry, in precedence order.
    pub(crate) entries: Vec<u32>,
    exact_paths: FastMap<String, Vec<u32>>,
    prefixes: PrefixTrie,
    regexes: Vec<u32>,
}

impl Bucket {
    fn add(&mut self, id: u32, entry: &Entry) {
        self.entries.push(id);
        match &entry.matcher().path {
            PathMatch::Exact(p) => self.exact_paths.entry(p.clone()).or_default().push(id),
            PathMatch::Prefix(p) => self.prefixes.insert(prefix_key(p), id),
            PathMatch::RegularExpression(_) => self.regexes.push(id),
        }
    }

    fn sort(&mut self, entries: &[Entry]) {
        let by_key = |a: &u32, b: &u32| entries[*a as usize].key.cmp(&entries[*b as usize].key);
        self.entries.sort_by(by_key);
        for list in self.exact_paths.values_mut() {
            list.sort_by(by_key);
        }
        self.prefixes.finish(by_key);
        self.regexes.sort_by(by_key);
    }

    /// Calls `visit` with every entry whose path can match `path`, in precedence order, until
    /// it returns `true`. Returns whether it did. The flag says whether the index has already
    /// established that the path matches (Exact and PathPrefix entries) or not (regular
    /// expressions).
    pub(crate) fn visit_path_candidates(
        &self,
        path: &str,
        mut visit: impl FnMut(u32, bool) -> bool,
    ) -> bool {
        if let Some(list) = self.exact_paths.get(path) {
            for id in list {
                if visit(*id, true) {
                    return true;
                }
            }
        }
        if !self.prefixes.is_empty() {
            // The whole path, then every prefix ending before a `/`, longest first.
            let mut node = self.prefixes.longest(path);
            while let Some(at) = node {
                let node_ref = &self.prefixes.nodes[at as usize];
                for id in &node_ref.entries {
                    if visit(*id, true) {
                        return true;
                    }
                }
                node = node_ref.shorter;
            }
        }
        for id in &self.regexes {
            if visit(*id, false) {
                return true;
            }
        }
        false
    }
}

/// Buckets of one route kind.
#[derive(Debug, Default)]
pub(crate) struct HostIndex {
    exact: FastMap<String, Bucket>,
    /// Keyed by the suffix after `*.`.
    wildcard: FastMap<String, Bucket>,
    /// The longest key of `wildcard`: longer suffixes of a host cannot be in it.
    longest_wildcard: usize,
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
            .filter(move |(dot, _)| host.len() - (dot + 1) <= self.longest_wildcard)
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
            // Labels and descriptions are shared by the entries of every hostname.
            let texts: Vec<Vec<(Arc<str>, Arc<str>)>> = route
                .rules
                .iter()
                .map(|rule| {
                    rule.matches
                        .iter()
                        .map(|m| {
                            (
                                Arc::from(Entry::make_label(route, rule, m)),
                                Arc::from(describe_match(m)),
                            )
                        })
                        .collect()
                })
                .collect();
            for hostname in hostnames {
                let rank = HostRank::of(hostname.as_deref());
                let hostname_label: Arc<str> = Arc::from(hostname.as_deref().unwrap_or("*"));
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
                            label: Arc::clone(&texts[rule_pos][match_pos].0),
                            hostname_label: Arc::clone(&hostname_label),
                            description: Arc::clone(&texts[rule_pos][match_pos].1),
                            rank: 0,
                            has_conditions: m.method.is_some()
                                || !m.headers.is_empty()
                                || !m.query_params.is_empty(),
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
                // Connection routes have no matches, so no entries to place.
                RouteKind::Tls | RouteKind::Tcp | RouteKind::Udp => continue,
            };
            let bucket = match &entry.hostname {
                None => &mut index.any,
                Some(h) => match h.strip_prefix("*.") {
                    Some(suffix) => {
                        index.longest_wildcard = index.longest_wildcard.max(suffix.len());
                        index.wildcard.entry(suffix.to_string()).or_default()
                    }
                    None => index.exact.entry(h.clone()).or_default(),
                },
            };
            bucket.add(id, entry);
            index.total += 1;
        }
        let entries = &mut self.entries;
        for index in [&mut self.http, &mut self.grpc] {
            for bucket in index
                .exact
                .values_mut()
                .chain(index.wildcard.values_mut())
                .chain(Some(&mut index.any))
            {
                bucket.sort(entries);
                for (rank, id) in bucket.entries.iter().enumerate() {
                    entries[*id as usize].rank = u32::try_from(rank).unwrap_or(u32::MAX);
                }
            }
        }
        self
    }

    pub(crate) fn entry(&self, id: u32) -> &Entry {
        &self.entries[id as usize]
    }

    pub(crate) fn index(&self, kind: RouteKind) -> &HostIndex {
        match kind {
            // Connection routes are never indexed here: asking for them gives the HTTP index,
            // which holds none of them.
            RouteKind::Http | RouteKind::Tls | RouteKind::Tcp | RouteKind::Udp => &self.http,
            RouteKind::Grpc => &self.grpc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trie_finds_the_longest_prefix_of_short_and_long_segments() {
        let mut trie = PrefixTrie::default();
        let long = "/a-segment-longer-than-sixteen-bytes";
        for (id, key) in ["/a", "/a/b", long, "/sixteen-bytes-ab"]
            .into_iter()
            .enumerate()
        {
            trie.insert(key, id as u32);
        }
        trie.finish(|a, b| a.cmp(b));
        let found = |path: &str| {
            trie.longest(path)
                .map(|at| trie.nodes[at as usize].entries[0])
        };
        assert_eq!(found("/a/b/c"), Some(1));
        assert_eq!(found("/a/bc"), Some(0));
        assert_eq!(found("/a"), Some(0));
        assert_eq!(found(&format!("{long}/x")), Some(2));
        assert_eq!(found("/a-segment-longer-than-sixteen-byte"), None);
        assert_eq!(found("/sixteen-bytes-ab/c"), Some(3));
        assert_eq!(found("/sixteen-bytes-a"), None);
        // Zero bytes in a segment are not the padding of a shorter one.
        assert_eq!(found("/a\0"), None);
        assert_eq!(found("/b"), None);
    }
}
