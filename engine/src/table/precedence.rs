//! The order in which route entries compete for a request.

use std::cmp::{Ordering, Reverse};

use serde::Serialize;

use super::hostname::HostRank;
use crate::config::{PathMatch, RouteConfig, RouteMatch};

/// Path kinds in precedence order. Regular expressions rank after Exact and PathPrefix:
/// their precedence is implementation-specific.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PathRank {
    Exact,
    Prefix,
    Regex,
}

/// The precedence of one table entry; smaller sorts first and wins. Field order is the order
/// of the tie-breakers.
///
/// Gateway API `HTTPRouteSpec.hostnames`: "If there are multiple Routes with matching
/// hostnames, the Route whose matching hostname has the most characters in a non-wildcard
/// hostname [wins], then the most characters in the matching hostname".
///
/// Gateway API `HTTPRouteRule`: "Proxy or Load Balancer routing configuration generated from
/// HTTPRoutes MUST prioritize matches based on the following criteria, continuing on ties:
/// Exact path match; Prefix path match with largest number of characters; Method match;
/// Largest number of header matches; Largest number of query param matches. [...] If ties
/// still exist across multiple Routes, matching precedence MUST be determined in order of the
/// following criteria, continuing on ties: The oldest Route based on creation timestamp; The
/// Route appearing first in alphabetical order by {namespace}/{name}. If ties still exist
/// within an HTTPRoute, matching precedence MUST be granted to the FIRST matching rule (in
/// list order) with a match meeting the above criteria."
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PrecedenceKey {
    pub(crate) host: HostRank,
    pub(crate) path_rank: PathRank,
    pub(crate) path_chars: Reverse<usize>,
    pub(crate) has_method: Reverse<bool>,
    pub(crate) headers: Reverse<usize>,
    pub(crate) query_params: Reverse<usize>,
    pub(crate) created: i64,
    /// `namespace/name`, compared as one string as the spec says.
    pub(crate) route: String,
    pub(crate) rule_index: usize,
    pub(crate) match_index: usize,
}

impl PrecedenceKey {
    pub(crate) fn new(
        host: HostRank,
        route: &RouteConfig,
        rule_index: usize,
        m: &RouteMatch,
    ) -> PrecedenceKey {
        let (path_rank, path_chars) = match &m.path {
            PathMatch::Exact(p) => (PathRank::Exact, p.len()),
            // Characters of the value without a trailing `/`; the root `/` counts one.
            PathMatch::Prefix(p) => (
                PathRank::Prefix,
                super::matching::prefix_key(p).len().max(1),
            ),
            PathMatch::RegularExpression(re) => (PathRank::Regex, re.as_str().len()),
        };
        PrecedenceKey {
            host,
            path_rank,
            path_chars: Reverse(path_chars),
            has_method: Reverse(m.method.is_some()),
            headers: Reverse(m.headers.len()),
            query_params: Reverse(m.query_params.len()),
            created: route.created,
            route: route.key.namespaced_name(),
            rule_index,
            match_index: m.index,
        }
    }
}

/// The tie-breaker that put one entry before another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PrecedenceStep {
    /// The winner's matching hostname is more specific.
    MoreSpecificHostname {
        winner: String,
        loser: String,
    },
    /// Exact beats PathPrefix; both beat RegularExpression.
    PathType {
        winner: String,
        loser: String,
    },
    /// Longer PathPrefix (characters).
    LongerPrefix {
        winner: usize,
        loser: usize,
    },
    /// Longer regular expression (implementation-specific).
    LongerRegex {
        winner: usize,
        loser: usize,
    },
    MethodMatch,
    MoreHeaderMatches {
        winner: usize,
        loser: usize,
    },
    MoreQueryParamMatches {
        winner: usize,
        loser: usize,
    },
    /// Older route (creation timestamps in seconds; RFC 3339 in JSON, as Kubernetes writes
    /// `creationTimestamp`).
    OlderRoute {
        #[serde(serialize_with = "ser_rfc3339")]
        winner: i64,
        #[serde(serialize_with = "ser_rfc3339")]
        loser: i64,
    },
    NamespaceNameOrder {
        winner: String,
        loser: String,
    },
    EarlierRule {
        winner: usize,
        loser: usize,
    },
    EarlierMatch {
        winner: usize,
        loser: usize,
    },
    /// The same entry, reached through another hostname.
    Same,
}

impl PrecedenceStep {
    /// Which tie-breaker decides between `winner` and `loser` (winner sorts first).
    pub(crate) fn between(
        winner: &PrecedenceKey,
        winner_host: &str,
        loser: &PrecedenceKey,
        loser_host: &str,
    ) -> PrecedenceStep {
        if winner.host != loser.host {
            return PrecedenceStep::MoreSpecificHostname {
                winner: winner_host.to_string(),
                loser: loser_host.to_string(),
            };
        }
        if winner.path_rank != loser.path_rank {
            return PrecedenceStep::PathType {
                winner: path_rank_name(winner.path_rank).to_string(),
                loser: path_rank_name(loser.path_rank).to_string(),
            };
        }
        if winner.path_chars != loser.path_chars {
            return match winner.path_rank {
                PathRank::Regex => PrecedenceStep::LongerRegex {
                    winner: winner.path_chars.0,
                    loser: loser.path_chars.0,
                },
                _ => PrecedenceStep::LongerPrefix {
                    winner: winner.path_chars.0,
                    loser: loser.path_chars.0,
                },
            };
        }
        if winner.has_method != loser.has_method {
            return PrecedenceStep::MethodMatch;
        }
        if winner.headers != loser.headers {
            return PrecedenceStep::MoreHeaderMatches {
                winner: winner.headers.0,
                loser: loser.headers.0,
            };
        }
        if winner.query_params != loser.query_params {
            return PrecedenceStep::MoreQueryParamMatches {
                winner: winner.query_params.0,
                loser: loser.query_params.0,
            };
        }
        if winner.created != loser.created {
            return PrecedenceStep::OlderRoute {
                winner: winner.created,
                loser: loser.created,
            };
        }
        if winner.route != loser.route {
            return PrecedenceStep::NamespaceNameOrder {
                winner: winner.route.clone(),
                loser: loser.route.clone(),
            };
        }
        match winner.rule_index.cmp(&loser.rule_index) {
            Ordering::Equal if winner.match_index != loser.match_index => {
                PrecedenceStep::EarlierMatch {
                    winner: winner.match_index,
                    loser: loser.match_index,
                }
            }
            Ordering::Equal => PrecedenceStep::Same,
            _ => PrecedenceStep::EarlierRule {
                winner: winner.rule_index,
                loser: loser.rule_index,
            },
        }
    }

    /// In words: `Exact beats PathPrefix`, `longer prefix (12 > 4 characters)`.
    pub fn describe(&self) -> String {
        match self {
            PrecedenceStep::MoreSpecificHostname { winner, loser } => {
                format!("more specific hostname ({winner} over {loser})")
            }
            PrecedenceStep::PathType { winner, loser } => format!("{winner} beats {loser}"),
            PrecedenceStep::LongerPrefix { winner, loser } => {
                format!("longer prefix ({winner} > {loser} characters)")
            }
            PrecedenceStep::LongerRegex { winner, loser } => format!(
                "longer regular expression ({winner} > {loser} characters, implementation-specific)"
            ),
            PrecedenceStep::MethodMatch => "method match".to_string(),
            PrecedenceStep::MoreHeaderMatches { winner, loser } => {
                format!("more header matches ({winner} > {loser})")
            }
            PrecedenceStep::MoreQueryParamMatches { winner, loser } => {
                format!("more query param matches ({winner} > {loser})")
            }
            PrecedenceStep::OlderRoute { winner, loser } => format!(
                "older route (created {}, the other {})",
                rfc3339(*winner),
                rfc3339(*loser)
            ),
            PrecedenceStep::NamespaceNameOrder { winner, loser } => {
                format!("namespace/name order ({winner} < {loser})")
            }
            PrecedenceStep::EarlierRule { winner, loser } => {
                format!("earlier rule ({winner} < {loser})")
            }
            PrecedenceStep::EarlierMatch { winner, loser } => {
                format!("earlier match ({winner} < {loser})")
            }
            PrecedenceStep::Same => "same entry through a less specific hostname".to_string(),
        }
    }
}

fn ser_rfc3339<S: serde::Serializer>(seconds: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*seconds))
}

/// A creation timestamp (seconds) as RFC 3339, as `kubectl get -o yaml` writes it.
fn rfc3339(seconds: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{seconds} seconds after 1970"))
}

fn path_rank_name(rank: PathRank) -> &'static str {
    match rank {
        PathRank::Exact => "Exact",
        PathRank::Prefix => "PathPrefix",
        PathRank::Regex => "RegularExpression",
    }
}
