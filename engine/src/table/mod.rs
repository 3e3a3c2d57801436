//! The compiled routing table: per Gateway and port, listeners by hostname, and per listener
//! the route entries in precedence order, indexed by host and path so that a decision does
//! not scan every route.
//!
//! A decision runs in this order: Gateway (named by the request, or the only one), port,
//! listener (GEP-1713 listener isolation: the single most specific listener that takes the
//! Host; for HTTPS also the SNI, with 421 for misdirected requests), then the first entry of
//! that listener in precedence order that matches, then the rule's filters and backends
//! ([`crate::filters`]).
//!
//! Route hostname precedence and match precedence form one ordered list per listener: when no
//! entry of the routes with the most specific matching hostname matches, the request falls
//! through to routes of less specific hostnames (a wildcard, then routes without hostnames).
//! The spec's wording reads as one list; explanations note when a fall-through happened.

pub(crate) mod hostname;
mod index;
mod listing;
pub(crate) mod matching;
mod mesh;
mod precedence;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rand::RngCore;

use crate::config::{GatewayConfig, PathMatch, Protocol, RouteKind, ValueMatch};
use crate::decision::{Decision, Outcome, Provenance, Request, Scheme};
use crate::explain::{Candidate, Explanation, ListenerVerdict, Verdict};
use crate::object::ObjectKey;
use hostname::{ListenerSpecificity, listener_covers, normalize_host};
use index::{Bucket, ListenerRoutes};
use matching::{MatchMiss, RequestView, check_match, check_rest, describe_miss};

pub use listing::{GatewayListing, ListedBackend, ListenerListing, Listing, ListingEntry};
pub use matching::regex_as_written;
pub use mesh::{
    MeshDestination, MeshListing, MeshRoutesListing, MeshServiceListing, MeshTable, split_authority,
};
pub use precedence::PrecedenceStep;

/// At most this many non-matching candidates are listed in an explanation; the rest are
/// counted.
const LISTED_NON_MATCHING: usize = 20;

/// Routing state of every Gateway.
#[derive(Clone, Debug, Default)]
pub struct RoutingTable {
    gateways: Vec<GatewayConfig>,
    compiled: Arc<Vec<CompiledGateway>>,
    /// The mesh's table, carried along so that a data plane given the routing state serves
    /// both (empty when gwsim is not the mesh).
    mesh: MeshTable,
}

#[derive(Debug)]
struct CompiledGateway {
    key: ObjectKey,
    /// In `spec.listeners` order.
    listeners: Vec<CompiledListener>,
    /// Listener positions by port, each list in `spec.listeners` order.
    by_port: BTreeMap<u16, Vec<usize>>,
}

#[derive(Debug)]
struct CompiledListener {
    name: String,
    port: u16,
    protocol: Protocol,
    /// Lower case.
    hostname: Option<String>,
    usable: bool,
    unusable_reason: Option<String>,
    routes: ListenerRoutes,
}

impl CompiledListener {
    fn serves(&self, scheme: Scheme) -> bool {
        matches!(
            (scheme, &self.protocol),
            (Scheme::Http, Protocol::Http) | (Scheme::Https, Protocol::Https)
        )
    }

    fn specificity(&self) -> ListenerSpecificity {
        ListenerSpecificity::of(self.hostname.as_deref())
    }
}

/// The listener chosen for a request, or the answer when none can be.
enum ListenerChoice {
    Chosen(usize),
    Refused(String),
    Respond(u16, String),
}

impl RoutingTable {
    /// Compiles the table from the controller's output.
    pub fn build(gateways: &[GatewayConfig]) -> RoutingTable {
        let mut gateways = gateways.to_vec();
        gateways.sort_by(|a, b| a.key.cmp(&b.key));
        let compiled = gateways
            .iter()
            .map(|gw| {
                let listeners: Vec<CompiledListener> = gw
                    .listeners
                    .iter()
                    .map(|l| CompiledListener {
                        name: l.name.clone(),
                        port: l.port,
                        protocol: l.protocol.clone(),
                        hostname: l.hostname.as_ref().map(|h| h.to_ascii_lowercase()),
                        usable: l.usable,
                        unusable_reason: l.unusable_reason.clone(),
                        routes: ListenerRoutes::build(&l.routes),
                    })
                    .collect();
                let mut by_port: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
                for (i, l) in listeners.iter().enumerate() {
                    by_port.entry(l.port).or_default().push(i);
                }
                CompiledGateway {
                    key: gw.key.clone(),
                    listeners,
                    by_port,
                }
            })
            .collect();
        RoutingTable {
            gateways,
            compiled: Arc::new(compiled),
            mesh: MeshTable::default(),
        }
    }

    /// The table with `mesh` as its mesh's table.
    pub fn with_mesh(mut self, mesh: MeshTable) -> RoutingTable {
        self.mesh = mesh;
        self
    }

    /// Replaces the mesh's table (the Gateways' part stays).
    pub fn set_mesh(&mut self, mesh: MeshTable) {
        self.mesh = mesh;
    }

    /// The mesh's table (GAMMA): requests from pods to Services.
    pub fn mesh(&self) -> &MeshTable {
        &self.mesh
    }

    /// The configurations the table was built from, in key order.
    pub fn gateways(&self) -> &[GatewayConfig] {
        &self.gateways
    }

    /// Decides what happens to `request`, with the full explanation. `rng` is used only for
    /// weighted backends and mirror percentages.
    pub fn decide(&self, request: &Request, rng: &mut dyn RngCore) -> Decision {
        self.decide_with(request, rng, Detail::Explained)
    }

    /// The same decision as [`RoutingTable::decide`] (same outcome, provenance and use of
    /// `rng`) without an explanation: its `detailed` is false and every field is empty. For
    /// callers that route many requests and show few explanations (the simulator under load,
    /// benchmarks); call [`RoutingTable::decide`] again for the reasons.
    pub fn decide_fast(&self, request: &Request, rng: &mut dyn RngCore) -> Decision {
        self.decide_with(request, rng, Detail::Provenance)
    }

    /// The outcome of [`RoutingTable::decide_fast`] (same use of `rng`) and nothing else: no
    /// copy of the names of the entry that matched. For a data plane that neither logs nor
    /// explains the request.
    pub fn decide_outcome(&self, request: &Request, rng: &mut dyn RngCore) -> Outcome {
        self.decide_with(request, rng, Detail::Outcome).outcome
    }

    /// The HTTPS listener of `gateway` on `port` whose certificate a TLS handshake for `sni`
    /// presents: the listener [`RoutingTable::decide`] selects by SNI. `None`: no listener
    /// serves that name and the handshake fails. For a data plane choosing certificates.
    pub fn tls_listener(&self, gateway: &ObjectKey, port: u16, sni: &str) -> Option<&str> {
        let compiled = self.compiled.iter().find(|g| &g.key == gateway)?;
        let on_port = compiled.by_port.get(&port)?;
        let sni = normalize_host(sni);
        best_listener(compiled, on_port, Scheme::Https, &sni)
            .map(|i| compiled.listeners[i].name.as_str())
    }

    fn decide_with(&self, request: &Request, rng: &mut dyn RngCore, detail: Detail) -> Decision {
        let detailed = detail == Detail::Explained;
        let mut ex = Explanation {
            detailed,
            ..Explanation::default()
        };
        if detailed {
            ex.request = describe_request(request);
        }

        let gateway = match self.select_gateway(request) {
            Ok((gateway, why)) => {
                if detailed {
                    ex.gateway = Some(format!("{} ({why})", gateway.key));
                }
                gateway
            }
            Err(why) => return refused(ex, why),
        };

        let Some(on_port) = gateway.by_port.get(&request.port) else {
            let ports: Vec<String> = gateway.by_port.keys().map(u16::to_string).collect();
            let why = format!(
                "{} has no listener on port {} (ports: {})",
                gateway.key,
                request.port,
                if ports.is_empty() {
                    "none".to_string()
                } else {
                    ports.join(", ")
                }
            );
            return refused(ex, why);
        };

        let view = RequestView::new(request);
        let choice = select_listener(gateway, on_port, request, &view.host, &mut ex);
        let listener = match choice {
            ListenerChoice::Chosen(i) => &gateway.listeners[i],
            ListenerChoice::Refused(why) => return refused(ex, why),
            ListenerChoice::Respond(status, why) => {
                if detailed {
                    ex.outcome = format!("{status}: {why}");
                }
                return Decision {
                    outcome: Outcome::Respond {
                        status,
                        headers: Vec::new(),
                        reason: why,
                    },
                    provenance: None,
                    explanation: ex,
                };
            }
        };
        if detailed {
            ex.listener = Some(listener.name.clone());
        }

        let origin = Origin {
            parent: &gateway.key,
            listener: &listener.name,
            port: listener.port,
            noun: "listener",
        };
        let provenance = detail != Detail::Outcome;
        decide_in(
            &listener.routes,
            request,
            &view,
            origin,
            ex,
            provenance,
            rng,
        )
    }

    fn select_gateway(
        &self,
        request: &Request,
    ) -> Result<(&CompiledGateway, &'static str), String> {
        match &request.gateway {
            Some(key) => self
                .compiled
                .iter()
                .find(|g| {
                    &g.key == key || (g.key.namespace == key.namespace && g.key.name == key.name)
                })
                .map(|g| (g, "named by the request"))
                .ok_or_else(|| {
                    format!("no Gateway {} in the routing table", key.namespaced_name())
                }),
            None => match self.compiled.as_slice() {
                [only] => Ok((only, "the only Gateway")),
                [] => Err("the routing table has no Gateway".to_string()),
                many => Err(format!(
                    "the request names no Gateway and the table has {}: {}",
                    many.len(),
                    many.iter()
                        .map(|g| g.key.namespaced_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        }
    }
}

/// How much a decision carries besides its outcome.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    Outcome,
    Provenance,
    /// Provenance and the explanation.
    Explained,
}

/// Where a request is routed: a Gateway listener, or a Service port of the mesh. `noun` names
/// it in explanations.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'o> {
    /// The Gateway, or the Service the request was sent to.
    pub(crate) parent: &'o ObjectKey,
    /// The listener's name, or the mesh's label for the Service port.
    pub(crate) listener: &'o str,
    /// The listener's or the Service's port (redirects default to it).
    pub(crate) port: u16,
    pub(crate) noun: &'static str,
}

/// The route half of a decision, shared by Gateway listeners and the mesh: the first entry of
/// `routes` in precedence order that matches, then its rule's filters and backends.
pub(crate) fn decide_in(
    routes: &ListenerRoutes,
    request: &Request,
    view: &RequestView<'_>,
    origin: Origin<'_>,
    mut ex: Explanation,
    provenance: bool,
    rng: &mut dyn RngCore,
) -> Decision {
    let detailed = ex.detailed;
    // GRPCRoutes and HTTPRoutes are never merged: a gRPC request is routed by the
    // listener's GRPCRoutes when it has any, else by its HTTPRoutes.
    let grpc = request
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/grpc"));
    let kind = if grpc && routes.index(RouteKind::Grpc).total() > 0 {
        RouteKind::Grpc
    } else {
        RouteKind::Http
    };
    if detailed && grpc {
        ex.notes.push(match kind {
            RouteKind::Grpc => format!(
                "gRPC request: only GRPCRoutes of the {} are considered",
                origin.noun
            ),
            RouteKind::Http | RouteKind::Tls | RouteKind::Tcp | RouteKind::Udp => format!(
                "gRPC request on a {} without GRPCRoutes: its HTTPRoutes are considered",
                origin.noun
            ),
        });
    }
    let index = routes.index(kind);
    let mut winner: Option<(usize, u32)> = None;
    for (bucket_pos, bucket) in index.buckets_for(&view.host).enumerate() {
        let found = bucket.visit_path_candidates(view.path, |id, path_matched| {
            let entry = routes.entry(id);
            let matched = match (path_matched, entry.has_conditions) {
                (true, false) => true,
                (true, true) => check_rest(entry.matcher(), view).is_ok(),
                (false, _) => check_match(entry.matcher(), view).is_ok(),
            };
            if matched {
                winner = Some((bucket_pos, id));
                true
            } else {
                false
            }
        });
        if found {
            break;
        }
    }
    if detailed {
        explain_candidates(routes, kind, view, winner, &mut ex);
    }

    let Some((_, winner_id)) = winner else {
        let why = "no route matched".to_string();
        if detailed {
            ex.outcome = format!("404: {why} on {} {}", origin.noun, origin.listener);
        }
        return Decision {
            outcome: Outcome::Respond {
                status: 404,
                headers: Vec::new(),
                reason: why,
            },
            provenance: None,
            explanation: ex,
        };
    };

    let entry = routes.entry(winner_id);
    let rule = entry.rule();
    let provenance = provenance.then(|| Provenance {
        gateway: origin.parent.clone(),
        listener: origin.listener.to_string(),
        route: entry.route.key.clone(),
        rule_index: rule.index,
        rule_name: rule.name.clone(),
        match_index: entry.matcher().index,
    });
    let applied =
        crate::filters::apply_rule(rule, entry.matcher(), request, origin.port, rng, detailed);
    if detailed {
        ex.filters = applied.filters;
        ex.backend = applied.backend;
        ex.notes.extend(applied.notes);
        ex.outcome = match &applied.outcome {
            Outcome::Respond { status, .. } => format!("{status}: {}", applied.summary),
            _ => applied.summary,
        };
    }
    Decision {
        outcome: applied.outcome,
        provenance,
        explanation: ex,
    }
}

fn refused(mut ex: Explanation, why: String) -> Decision {
    if ex.detailed {
        ex.outcome = format!("connection refused: {why}");
    }
    Decision {
        outcome: Outcome::ConnectionRefused,
        provenance: None,
        explanation: ex,
    }
}

/// `GET http://foo.com/v2 (port 80)`, with the SNI when it differs from the Host.
fn describe_request(request: &Request) -> String {
    let mut out = format!(
        "{} {}://{}{} (port {})",
        request.method,
        request.scheme.as_str(),
        request.host,
        request.path,
        request.port
    );
    if let Some(sni) = &request.sni
        && !sni.eq_ignore_ascii_case(hostname::host_without_port(&request.host))
    {
        out.push_str(&format!(", SNI {sni}"));
    }
    out
}

/// The most specific usable listener of `scheme` on the port that covers `name`; the first in
/// `spec.listeners` order on a tie.
fn best_listener(
    gateway: &CompiledGateway,
    on_port: &[usize],
    scheme: Scheme,
    name: &str,
) -> Option<usize> {
    let mut best: Option<usize> = None;
    for &i in on_port {
        let l = &gateway.listeners[i];
        if !l.usable || !l.serves(scheme) || !listener_covers(l.hostname.as_deref(), name) {
            continue;
        }
        if best.is_none_or(|b| l.specificity() > gateway.listeners[b].specificity()) {
            best = Some(i);
        }
    }
    best
}

/// GEP-1713 listener isolation: the single most specific listener takes the request. For
/// HTTPS the SNI picks the listener (TLS), and a Host that another listener matches better, or
/// that the SNI's listener does not cover, is misdirected (421).
fn select_listener(
    gateway: &CompiledGateway,
    on_port: &[usize],
    request: &Request,
    host: &str,
    ex: &mut Explanation,
) -> ListenerChoice {
    let scheme = request.scheme;
    let wanted = match scheme {
        Scheme::Http => Protocol::Http,
        Scheme::Https => Protocol::Https,
    };
    let by_host = best_listener(gateway, on_port, scheme, host);
    let sni = match scheme {
        Scheme::Https => Some(
            request
                .sni
                .as_deref()
                .map(normalize_host)
                .unwrap_or(std::borrow::Cow::Borrowed(host)),
        ),
        Scheme::Http => None,
    };
    let by_sni = sni
        .as_deref()
        .and_then(|sni| best_listener(gateway, on_port, scheme, sni));

    let choice = if !on_port.iter().any(|&i| gateway.listeners[i].usable) {
        ListenerChoice::Refused(format!(
            "no usable listener on port {} of {}",
            request.port, gateway.key
        ))
    } else if !on_port
        .iter()
        .any(|&i| gateway.listeners[i].usable && gateway.listeners[i].serves(scheme))
    {
        ListenerChoice::Refused(format!(
            "no usable {} listener on port {} for a {} request",
            wanted.as_str(),
            request.port,
            scheme.as_str()
        ))
    } else if let Some(sni) = &sni
        && by_sni.is_none()
    {
        ListenerChoice::Refused(format!(
            "no HTTPS listener on port {} serves SNI {sni}: the TLS handshake fails",
            request.port
        ))
    } else {
        match by_host {
            None => ListenerChoice::Respond(
                404,
                format!("no listener on port {} covers host {host}", request.port),
            ),
            Some(h) => match by_sni {
                Some(s) if s != h => ListenerChoice::Respond(
                    421,
                    format!(
                        "misdirected request: SNI {} selected listener {}, but Host {host} belongs to listener {}",
                        sni.as_deref().unwrap_or(""),
                        gateway.listeners[s].name,
                        gateway.listeners[h].name
                    ),
                ),
                _ => ListenerChoice::Chosen(h),
            },
        }
    };

    if ex.detailed {
        let chosen = match &choice {
            ListenerChoice::Chosen(i) => Some(*i),
            _ => None,
        };
        for &i in on_port {
            let l = &gateway.listeners[i];
            let covers = listener_covers(l.hostname.as_deref(), host);
            let reason = if !l.usable {
                format!(
                    "not usable: {}",
                    l.unusable_reason.as_deref().unwrap_or("not programmed")
                )
            } else if !l.serves(scheme) {
                format!(
                    "protocol {} does not serve {} requests",
                    l.protocol.as_str(),
                    scheme.as_str()
                )
            } else if Some(i) == chosen {
                let mut why = format!(
                    "the most specific listener for host {host} ({})",
                    l.specificity().describe(l.hostname.as_deref())
                );
                if let Some(sni) = &sni {
                    why.push_str(&format!(", also selected by SNI {sni}"));
                }
                why
            } else if Some(i) == by_host && by_sni.is_some() && by_sni != by_host {
                format!(
                    "the most specific listener for host {host} ({}), but SNI {} selected listener {}",
                    l.specificity().describe(l.hostname.as_deref()),
                    sni.as_deref().unwrap_or(""),
                    by_sni
                        .map(|s| gateway.listeners[s].name.as_str())
                        .unwrap_or("")
                )
            } else if Some(i) == by_sni && by_host != by_sni {
                format!(
                    "selected by SNI {}, but {}",
                    sni.as_deref().unwrap_or(""),
                    if covers {
                        format!("another listener matches host {host} more specifically")
                    } else {
                        format!("hostname does not cover host {host}")
                    }
                )
            } else if !covers {
                format!(
                    "hostname {} does not cover host {host}",
                    l.hostname.as_deref().unwrap_or("*")
                )
            } else if let Some(b) = by_host.filter(|b| *b != i) {
                format!(
                    "listener {} is more specific for host {host} ({}; this one: {})",
                    gateway.listeners[b].name,
                    gateway.listeners[b]
                        .specificity()
                        .describe(gateway.listeners[b].hostname.as_deref()),
                    l.specificity().describe(l.hostname.as_deref())
                )
            } else {
                "covers the host, but the request was not served".to_string()
            };
            ex.listeners.push(ListenerVerdict {
                name: l.name.clone(),
                protocol: l.protocol.as_str().to_string(),
                hostname: l.hostname.clone(),
                chosen: Some(i) == chosen,
                reason,
            });
        }
        let others_cover = on_port.iter().any(|&i| {
            let l = &gateway.listeners[i];
            Some(i) != chosen
                && l.usable
                && l.serves(scheme)
                && listener_covers(l.hostname.as_deref(), host)
        });
        if chosen.is_some() && others_cover {
            ex.notes.push(
                "listener isolation (GEP-1713): only routes of the chosen listener are considered"
                    .to_string(),
            );
        }
    }
    choice
}

/// Fills in the candidate list: every entry of the matching hostnames whose path can match
/// (with its verdict), then entries whose path does not match, up to a bound.
fn explain_candidates(
    routes: &ListenerRoutes,
    kind: RouteKind,
    view: &RequestView<'_>,
    winner: Option<(usize, u32)>,
    ex: &mut Explanation,
) {
    let index = routes.index(kind);
    let buckets: Vec<&Bucket> = index.buckets_for(&view.host).collect();
    // (bucket position, entry, failure) of listed entries.
    let mut listed: Vec<(usize, u32, Option<MatchMiss>)> = Vec::new();
    let mut unlisted = 0usize;
    let mut non_matching = 0usize;
    let mut serving = 0usize;
    for (pos, bucket) in buckets.iter().enumerate() {
        serving += bucket.entries.len();
        let mut path_candidates: Vec<u32> = Vec::new();
        bucket.visit_path_candidates(view.path, |id, _| {
            path_candidates.push(id);
            false
        });
        for &id in &path_candidates {
            let result = check_match(routes.entry(id).matcher(), view);
            match result {
                Ok(()) => listed.push((pos, id, None)),
                Err(miss) if non_matching < LISTED_NON_MATCHING => {
                    non_matching += 1;
                    listed.push((pos, id, Some(miss)));
                }
                Err(_) => unlisted += 1,
            }
        }
        // Entries whose path cannot match: the first few, in precedence order.
        let path_failures = bucket.entries.len() - path_candidates.len();
        let mut shown = 0;
        if non_matching < LISTED_NON_MATCHING {
            for &id in &bucket.entries {
                if non_matching >= LISTED_NON_MATCHING {
                    break;
                }
                if path_candidates.contains(&id) {
                    continue;
                }
                non_matching += 1;
                shown += 1;
                listed.push((pos, id, Some(MatchMiss::Path)));
            }
        }
        unlisted += path_failures - shown;
    }
    listed.sort_unstable_by_key(|(pos, id, _)| (*pos, routes.entry(*id).rank));

    let winner_entry = winner.map(|(_, id)| routes.entry(id));
    let mut regex_seen = false;
    for (_, id, miss) in &listed {
        let entry = routes.entry(*id);
        let m = entry.matcher();
        regex_seen |= matches!(m.path, PathMatch::RegularExpression(_))
            || m.headers
                .iter()
                .any(|h| matches!(h.value, ValueMatch::RegularExpression(_)))
            || m.query_params
                .iter()
                .any(|q| matches!(q.value, ValueMatch::RegularExpression(_)));
        let verdict = match (miss, winner_entry) {
            (Some(miss), _) => Verdict::NoMatch {
                reason: Cow::Owned(describe_miss(m, *miss, view)),
            },
            (None, Some(w)) if std::ptr::eq(w, entry) => Verdict::Won,
            (None, Some(w)) => Verdict::Lost {
                winner: Arc::clone(&w.label),
                step: PrecedenceStep::between(
                    &w.key,
                    w.hostname_text(),
                    &entry.key,
                    entry.hostname_text(),
                ),
            },
            // Unreachable: a matching entry exists, so there is a winner.
            (None, None) => Verdict::NoMatch {
                reason: Cow::Borrowed("not reached"),
            },
        };
        ex.candidates.push(Candidate {
            entry: Arc::clone(&entry.label),
            hostname: Arc::clone(&entry.hostname_label),
            description: Arc::clone(&entry.description),
            verdict,
        });
    }
    ex.unlisted_candidates = unlisted;
    ex.other_hostname_entries = index.total().saturating_sub(serving);

    if let Some((winner_bucket, _)) = winner
        && buckets[..winner_bucket]
            .iter()
            .any(|b| !b.entries.is_empty())
    {
        ex.notes.push(
            "no entry of a more specific route hostname matched, so the request fell through to \
             less specific hostnames of the same listener: gwsim reads the hostname and match \
             precedence as one ordered list (implementation-specific)"
                .to_string(),
        );
    }
    if regex_seen {
        ex.notes.push(
            "regular expressions are implementation-specific: gwsim uses RE2 syntax anchored to \
             the whole value, and ranks RegularExpression paths after Exact and PathPrefix"
                .to_string(),
        );
    }
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
