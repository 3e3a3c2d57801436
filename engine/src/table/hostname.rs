//! Hostnames: normalising the Host header, matching listener and route hostnames, and how
//! specific a match is.

use std::borrow::Cow;
use std::cmp::Ordering;

/// The Host header (or SNI) as matching sees it: `:port` removed, lower case, no trailing dot.
/// Gateway API `HTTPRouteSpec.hostnames`: "the port of the Host header is ignored".
/// Borrows when the Host is already in that form (the common case).
pub(crate) fn normalize_host(host: &str) -> Cow<'_, str> {
    let bare = host_without_port(host.trim()).trim_end_matches('.');
    if bare.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(bare.to_ascii_lowercase())
    } else {
        Cow::Borrowed(bare)
    }
}

/// The Host header without its `:port` suffix, as written.
pub(crate) fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal: `[::1]:8080`.
        match rest.find(']') {
            Some(end) => &host[..end + 2],
            None => host,
        }
    } else {
        match host.rfind(':') {
            Some(colon) if host[colon + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..colon],
            _ => host,
        }
    }
}

/// Whether `pattern` (a listener or route hostname, `*.example.com` or `foo.example.com`)
/// covers `host` (already normalised). A wildcard covers one or more labels and never the bare
/// parent (Gateway API `Listener.hostname`).
pub(crate) fn pattern_covers(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// How specifically a listener hostname matches a host. Greater is more specific:
/// "exact hostname first, then wildcards from most to least specific (more labels to the right
/// of `*`), then the hostless listener" (GEP-1713, Gateway API `Listener.hostname`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ListenerSpecificity {
    Hostless,
    /// Labels to the right of the `*`.
    Wildcard(usize),
    Exact,
}

impl ListenerSpecificity {
    pub(crate) fn of(hostname: Option<&str>) -> ListenerSpecificity {
        match hostname {
            None => ListenerSpecificity::Hostless,
            Some(h) => match h.strip_prefix("*.") {
                Some(suffix) => ListenerSpecificity::Wildcard(suffix.split('.').count()),
                None => ListenerSpecificity::Exact,
            },
        }
    }

    /// In words for people, given the listener's hostname: what makes it (less) specific.
    pub(crate) fn describe(self, hostname: Option<&str>) -> String {
        let hostname = hostname.unwrap_or("*");
        match self {
            ListenerSpecificity::Hostless => "no hostname, so any host".to_string(),
            ListenerSpecificity::Wildcard(_) => format!(
                "hostname {hostname}, any subdomain of {}",
                hostname.trim_start_matches("*.")
            ),
            ListenerSpecificity::Exact => format!("hostname {hostname} exactly"),
        }
    }
}

/// Whether a listener with `hostname` takes `host`.
pub(crate) fn listener_covers(hostname: Option<&str>, host: &str) -> bool {
    hostname.is_none_or(|pattern| pattern_covers(pattern, host))
}

/// The hostname rank of a route entry (Gateway API `HTTPRouteSpec.hostnames`): "the Route whose
/// matching hostname has the most characters in a non-wildcard hostname" wins, then "the most
/// characters in the matching hostname". Greater is more specific. An entry of a route without
/// hostnames ranks (0, 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct HostRank {
    pub(crate) exact_chars: usize,
    pub(crate) chars: usize,
}

impl HostRank {
    pub(crate) fn of(pattern: Option<&str>) -> HostRank {
        match pattern {
            None => HostRank {
                exact_chars: 0,
                chars: 0,
            },
            Some(p) if p.starts_with("*.") => HostRank {
                exact_chars: 0,
                chars: p.len(),
            },
            Some(p) => HostRank {
                exact_chars: p.len(),
                chars: p.len(),
            },
        }
    }
}

impl PartialOrd for HostRank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HostRank {
    /// More specific sorts first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .exact_chars
            .cmp(&self.exact_chars)
            .then(other.chars.cmp(&self.chars))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_host_strips_port_case_and_dot() {
        let cases = [
            ("Foo.Example.COM", "foo.example.com"),
            ("foo.example.com:8080", "foo.example.com"),
            ("foo.example.com.", "foo.example.com"),
            ("[::1]:80", "[::1]"),
            ("[::1]", "[::1]"),
            ("10.0.0.1:443", "10.0.0.1"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_host(input), expected, "{input}");
        }
    }

    #[test]
    fn wildcard_covers_one_or_more_labels_never_the_parent() {
        let cases = [
            ("*.example.com", "foo.example.com", true),
            ("*.example.com", "foo.bar.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "fooexample.com", false),
            ("*.example.com", "FOO.EXAMPLE.COM", true),
            ("foo.example.com", "foo.example.com", true),
            ("Foo.example.com", "foo.example.com", true),
            ("foo.example.com", "bar.example.com", false),
            ("*.wildcard.io", "wildcard.io", false),
        ];
        for (pattern, host, expected) in cases {
            assert_eq!(
                pattern_covers(pattern, host),
                expected,
                "{pattern} vs {host}"
            );
        }
    }

    #[test]
    fn listener_specificity_orders_exact_wildcards_by_labels_then_hostless() {
        let exact = ListenerSpecificity::of(Some("foo.example.com"));
        let deep = ListenerSpecificity::of(Some("*.foo.example.com"));
        let shallow = ListenerSpecificity::of(Some("*.example.com"));
        let hostless = ListenerSpecificity::of(None);
        assert!(exact > deep && deep > shallow && shallow > hostless);
    }

    #[test]
    fn host_rank_prefers_exact_then_longer() {
        let mut ranks = [
            HostRank::of(None),
            HostRank::of(Some("*.example.com")),
            HostRank::of(Some("a.example.com")),
            HostRank::of(Some("*.foo.example.com")),
            HostRank::of(Some("long.example.com")),
        ];
        ranks.sort();
        assert_eq!(ranks[0], HostRank::of(Some("long.example.com")));
        assert_eq!(ranks[1], HostRank::of(Some("a.example.com")));
        assert_eq!(ranks[2], HostRank::of(Some("*.foo.example.com")));
        assert_eq!(ranks[3], HostRank::of(Some("*.example.com")));
        assert_eq!(ranks[4], HostRank::of(None));
    }
}
