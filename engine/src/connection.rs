//! Connection routing: Gateway listeners that route whole connections rather than requests.
//!
//! TLS listeners route by the ClientHello's SNI to the TLSRoutes attached to them (Gateway API
//! `TLSRouteSpec.hostnames`); TCP and UDP listeners route by port alone through the same
//! steps, with no name to match: every TCPRoute (UDPRoute) attached to the listener takes
//! everything, so the oldest wins.
//!
//! The steps, each explained with the existing explanation types: the Gateway; the listener
//! on the port (TLS: of those that take connections, the most specific one whose hostname
//! covers the SNI, as for HTTPS; TCP and UDP: the usable listener of that protocol); the route
//! (of those attached to it, the one with the most specific hostname that covers the SNI; a
//! tie goes to the oldest route, then to the first in namespace/name order, the conflict rules
//! of the Gateway API route docs); the weighted backend. Anything that fails closes the
//! connection, or drops the datagram ([`ConnectionOutcome::Reset`]): the spec's "reject the
//! connection" (TCP) and "drop the packets" (UDP) for invalid backends, and what upstream's
//! tests expect for an SNI nothing takes.

use std::sync::Arc;

use rand::{Rng, RngCore};
use serde::Serialize;

use crate::config::{
    BackendTarget, BackendTls, GatewayConfig, ListenerConfig, Protocol, RouteAttachment,
    RouteConfig, RuleConfig, TlsMode, WeightedBackend,
};
use crate::decision::{Provenance, ServiceRef};
use crate::explain::{BackendStep, Candidate, Explanation, ListenerVerdict, Verdict};
use crate::filters::{describe_target, service_ref};
use crate::object::ObjectKey;
use crate::table::PrecedenceStep;
use crate::table::hostname::{
    ListenerSpecificity, listener_covers, normalize_host, pattern_covers,
};

/// A connection a client opens to a Gateway port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// The Gateway the client connects to; `None` when the table has only one.
    pub gateway: Option<ObjectKey>,
    pub port: u16,
    pub protocol: ConnectionProtocol,
    /// The server name of the ClientHello; `None` for a TLS client that sends none, and for
    /// TCP and UDP.
    pub sni: Option<String>,
}

/// What the client speaks to the Gateway port, which picks the listener protocol that takes
/// it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ConnectionProtocol {
    /// A TLS handshake (TLS and HTTPS listeners; TLSRoutes).
    #[default]
    Tls,
    /// A plain TCP stream (TCP listeners; TCPRoutes).
    Tcp,
    /// UDP datagrams (UDP listeners; UDPRoutes).
    Udp,
}

impl ConnectionProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionProtocol::Tls => "TLS",
            ConnectionProtocol::Tcp => "TCP",
            ConnectionProtocol::Udp => "UDP",
        }
    }

    /// The route kind a listener hands such connections to.
    fn route_kind(self) -> &'static str {
        match self {
            ConnectionProtocol::Tls => "TLSRoute",
            ConnectionProtocol::Tcp => "TCPRoute",
            ConnectionProtocol::Udp => "UDPRoute",
        }
    }
}

/// What the Gateway does with a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ConnectionOutcome {
    /// The stream goes to a Service port.
    Forward(ConnectionForward),
    /// The Gateway closes (or resets) the connection.
    Reset,
}

/// A forwarded connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionForward {
    pub backend: ServiceRef,
    /// What the Gateway did with the client's TLS: Passthrough forwards it untouched (the
    /// backend completes the handshake), Terminate completes it with the listener's
    /// certificate and forwards the plain stream. `None` for TCP and UDP, forwarded as they
    /// came.
    pub tls: Option<TlsMode>,
    /// Terminate only: the Gateway opens TLS of its own to the backend, as the
    /// BackendTLSPolicy of the Service port says (GEP-1897: SNI and certificate check by
    /// `validation`). Passthrough forwards the client's own TLS, and TCP and UDP their bytes,
    /// so no policy applies to them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_tls: Option<Arc<BackendTls>>,
}

/// The decision for one connection, with its provenance and explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionDecision {
    pub outcome: ConnectionOutcome,
    /// The listener and route that took the connection (rule index; match index 0).
    pub provenance: Option<Provenance>,
    pub explanation: Explanation,
}

impl ConnectionDecision {
    fn reset(mut explanation: Explanation, protocol: ConnectionProtocol, why: String) -> Self {
        explanation.outcome = match protocol {
            ConnectionProtocol::Udp => format!("datagram dropped: {why}"),
            _ => format!("connection reset: {why}"),
        };
        ConnectionDecision {
            outcome: ConnectionOutcome::Reset,
            provenance: None,
            explanation,
        }
    }
}

/// `TLS connection to port 443, SNI abc.example.com`, `UDP datagram to port 5300`.
fn describe(c: &Connection) -> String {
    match (c.protocol, &c.sni) {
        (ConnectionProtocol::Udp, _) => format!("UDP datagram to port {}", c.port),
        (ConnectionProtocol::Tcp, _) => format!("TCP connection to port {}", c.port),
        (ConnectionProtocol::Tls, Some(sni)) => {
            format!("TLS connection to port {}, SNI {sni}", c.port)
        }
        (ConnectionProtocol::Tls, None) => format!("TLS connection to port {}, no SNI", c.port),
    }
}

/// Whether a listener protocol takes part in the listener choice for a connection. HTTPS
/// listeners share the TLS port family (they may sit on the same port), so they take part
/// for TLS; TCP and UDP listeners have a port to themselves.
fn takes_part(protocol: &Protocol, connection: ConnectionProtocol) -> bool {
    match connection {
        ConnectionProtocol::Tls => matches!(protocol, Protocol::Tls | Protocol::Https),
        ConnectionProtocol::Tcp => *protocol == Protocol::Tcp,
        ConnectionProtocol::Udp => *protocol == Protocol::Udp,
    }
}

/// Decides a connection against the Gateways' configurations. `rng` is used only for the
/// weighted backend choice.
pub fn decide(
    gateways: &[GatewayConfig],
    connection: &Connection,
    rng: &mut dyn RngCore,
) -> ConnectionDecision {
    let protocol = connection.protocol;
    let mut ex = Explanation {
        detailed: true,
        request: describe(connection),
        ..Explanation::default()
    };
    let gateway = match select_gateway(gateways, connection.gateway.as_ref()) {
        Ok((g, why)) => {
            ex.gateway = Some(format!("{} ({why})", g.key));
            g
        }
        Err(why) => return ConnectionDecision::reset(ex, protocol, why),
    };
    let sni = match protocol {
        ConnectionProtocol::Tls => connection.sni.as_deref().map(normalize_host),
        ConnectionProtocol::Tcp | ConnectionProtocol::Udp => None,
    };
    let listener =
        match select_listener(gateway, connection.port, protocol, sni.as_deref(), &mut ex) {
            Ok(l) => l,
            Err(why) => return ConnectionDecision::reset(ex, protocol, why),
        };
    ex.listener = Some(listener.name.clone());
    let tls = match (protocol, &listener.protocol, listener.tls_mode) {
        (ConnectionProtocol::Tls, Protocol::Tls, Some(mode)) => Some(mode),
        (ConnectionProtocol::Tcp, Protocol::Tcp, _)
        | (ConnectionProtocol::Udp, Protocol::Udp, _) => None,
        _ => {
            let why = format!(
                "listener {} is {}: it answers HTTP requests, not {} connections",
                listener.name,
                listener.protocol.as_str(),
                protocol.route_kind()
            );
            return ConnectionDecision::reset(ex, protocol, why);
        }
    };
    let Some((route, hostname)) = select_route(&listener.routes, protocol, sni.as_deref(), &mut ex)
    else {
        let why = no_route(protocol, &listener.name, sni.as_deref());
        return ConnectionDecision::reset(ex, protocol, why);
    };
    let Some(rule) = route.rules.first() else {
        return ConnectionDecision::reset(ex, protocol, format!("{} has no rule", route.key));
    };
    let provenance = Provenance {
        gateway: gateway.key.clone(),
        listener: listener.name.clone(),
        route: route.key.clone(),
        rule_index: rule.index,
        rule_name: rule.name.clone(),
        match_index: 0,
    };
    ex.notes.push(match protocol {
        ConnectionProtocol::Tls => {
            format!("{} takes the SNI by its hostname {hostname}", route.key)
        }
        ConnectionProtocol::Tcp => {
            format!("{} takes every TCP connection to the listener", route.key)
        }
        ConnectionProtocol::Udp => {
            format!("{} takes every UDP datagram to the listener", route.key)
        }
    });
    let chosen = match pick_backend(rule, rng, &mut ex) {
        Ok(b) => b,
        Err(why) => return ConnectionDecision::reset(ex, protocol, why),
    };
    let Some(backend) = service_ref(&chosen.target) else {
        let why = match &chosen.target {
            BackendTarget::Invalid {
                reason, reference, ..
            } => format!(
                "backendRef {} ({reference}) is invalid: {reason}; the {} is rejected",
                chosen.index,
                match protocol {
                    ConnectionProtocol::Udp => "datagram",
                    _ => "connection",
                }
            ),
            BackendTarget::Service { .. } => "invalid backendRef".to_string(),
        };
        let mut decision = ConnectionDecision::reset(ex, protocol, why);
        decision.provenance = Some(provenance);
        return decision;
    };
    let backend_tls = match (&chosen.target, tls) {
        (BackendTarget::Service { tls: policy, .. }, Some(TlsMode::Terminate)) => policy.clone(),
        _ => None,
    };
    ex.outcome = format!(
        "forwarded to {} ({})",
        describe_target(&chosen.target),
        forwarded_as(tls, protocol)
    );
    if let Some(policy) = &backend_tls {
        ex.notes.push(format!(
            "BackendTLSPolicy {} applies to the backend port: the Gateway re-encrypts the stream, SNI {}",
            policy.policy.namespaced_name(),
            policy.hostname
        ));
    }
    ConnectionDecision {
        outcome: ConnectionOutcome::Forward(ConnectionForward {
            backend,
            tls,
            backend_tls,
        }),
        provenance: Some(provenance),
        explanation: ex,
    }
}

/// Why no route took the connection on `listener`.
fn no_route(protocol: ConnectionProtocol, listener: &str, sni: Option<&str>) -> String {
    let kind = protocol.route_kind();
    match (sni, protocol) {
        (Some(sni), _) => format!("no {kind} on listener {listener} takes SNI {sni}"),
        (None, ConnectionProtocol::Tls) => {
            format!("the client sent no SNI and no {kind} on listener {listener} takes every name")
        }
        (None, _) => format!("no {kind} is attached to listener {listener}"),
    }
}

/// What the Gateway sends the backend, in words.
fn forwarded_as(tls: Option<TlsMode>, protocol: ConnectionProtocol) -> &'static str {
    match (tls, protocol) {
        (Some(TlsMode::Passthrough), _) => {
            "TLS passed through: the backend completes the handshake"
        }
        (Some(TlsMode::Terminate), _) => {
            "TLS terminated with the listener's certificate; plain stream"
        }
        (None, ConnectionProtocol::Udp) => "the datagram as it came",
        (None, _) => "the TCP stream as it came",
    }
}

/// The weighted choice among a rule's backendRefs, recorded in the explanation; an error when
/// no backendRef has weight.
fn pick_backend<'r>(
    rule: &'r RuleConfig,
    rng: &mut dyn RngCore,
    ex: &mut Explanation,
) -> Result<&'r WeightedBackend, String> {
    let total: u64 = rule.backends.iter().map(|b| u64::from(b.weight)).sum();
    if total == 0 {
        let why = if rule.backends.is_empty() {
            "the rule has no backendRefs"
        } else {
            "every backendRef has weight 0"
        };
        ex.backend = Some(BackendStep {
            index: None,
            target: why.to_string(),
            weight: 0,
            total_weight: 0,
        });
        return Err(why.to_string());
    }
    let mut pick = rng.random_range(0..total);
    let mut chosen = &rule.backends[rule.backends.len() - 1];
    for b in &rule.backends {
        if pick < u64::from(b.weight) {
            chosen = b;
            break;
        }
        pick -= u64::from(b.weight);
    }
    ex.backend = Some(BackendStep {
        index: Some(chosen.index),
        target: describe_target(&chosen.target),
        weight: chosen.weight,
        total_weight: total,
    });
    Ok(chosen)
}

fn select_gateway<'g>(
    gateways: &'g [GatewayConfig],
    named: Option<&ObjectKey>,
) -> Result<(&'g GatewayConfig, &'static str), String> {
    match named {
        Some(key) => gateways
            .iter()
            .find(|g| g.key.namespace == key.namespace && g.key.name == key.name)
            .map(|g| (g, "named by the connection"))
            .ok_or_else(|| format!("no Gateway {} in the routing table", key.namespaced_name())),
        None => match gateways {
            [only] => Ok((only, "the only Gateway")),
            [] => Err("the routing table has no Gateway".to_string()),
            many => Err(format!(
                "the connection names no Gateway and the table has {}",
                many.len()
            )),
        },
    }
}

/// The listener that takes the connection. TLS: the most specific usable listener of the TLS
/// family on `port` whose hostname covers the SNI (without an SNI, only a listener without
/// hostname takes the connection); equally specific listeners cannot both be valid (they
/// would conflict), so the first wins. TCP and UDP: the usable listener of that protocol on
/// the port (two would conflict; neither is then usable).
fn select_listener<'g>(
    gateway: &'g GatewayConfig,
    port: u16,
    protocol: ConnectionProtocol,
    sni: Option<&str>,
    ex: &mut Explanation,
) -> Result<&'g ListenerConfig, String> {
    let on_port: Vec<&ListenerConfig> = gateway
        .listeners
        .iter()
        .filter(|l| l.port == port && takes_part(&l.protocol, protocol))
        .collect();
    if on_port.is_empty() {
        let family = match protocol {
            ConnectionProtocol::Tls => "TLS or HTTPS",
            ConnectionProtocol::Tcp => "TCP",
            ConnectionProtocol::Udp => "UDP",
        };
        return Err(format!(
            "{} has no {family} listener on port {port}",
            gateway.key
        ));
    }
    let by_name = protocol == ConnectionProtocol::Tls;
    let mut best: Option<(ListenerSpecificity, &ListenerConfig)> = None;
    for l in &on_port {
        let covers = match sni {
            _ if !by_name => true,
            Some(name) => listener_covers(l.hostname.as_deref(), name),
            None => l.hostname.is_none(),
        };
        if covers && l.usable {
            let s = ListenerSpecificity::of(l.hostname.as_deref());
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, l));
            }
        }
    }
    for l in &on_port {
        let chosen = best.is_some_and(|(_, b)| std::ptr::eq(b, *l));
        let spec = ListenerSpecificity::of(l.hostname.as_deref()).describe(l.hostname.as_deref());
        let reason = if chosen && !by_name {
            format!("the {} listener on the port", protocol.as_str())
        } else if chosen {
            format!("most specific listener for the SNI ({spec})")
        } else if !l.usable {
            format!(
                "not usable ({})",
                l.unusable_reason.as_deref().unwrap_or("not programmed")
            )
        } else if sni.is_some_and(|n| listener_covers(l.hostname.as_deref(), n)) {
            format!("a more specific listener takes the SNI ({spec})")
        } else {
            format!("does not take the SNI ({spec})")
        };
        ex.listeners.push(ListenerVerdict {
            name: l.name.clone(),
            protocol: l.protocol.as_str().to_string(),
            hostname: l.hostname.clone(),
            chosen,
            reason,
        });
    }
    best.map(|(_, l)| l).ok_or_else(|| match sni {
        _ if !by_name => format!("no usable {} listener on port {port}", protocol.as_str()),
        Some(name) => format!("no usable listener on port {port} takes SNI {name}"),
        None => {
            format!("the client sent no SNI and no usable listener on port {port} takes every name")
        }
    })
}

/// How specifically a route hostname covers the SNI: an exact name beats every wildcard, a
/// longer wildcard beats a shorter one. Greater is more specific.
fn hostname_rank(pattern: &str) -> (bool, usize) {
    (!pattern.starts_with("*."), pattern.len())
}

/// The routes of a TLS, TCP or UDP listener as `gwsim routes` lists them: one entry per route
/// hostname (`*` for a route that takes every name the listener takes), most specific
/// hostname first, then the oldest route, then namespace/name: the order in which
/// [`decide`] prefers them. For TCP and UDP every entry is `*`, so the first takes every
/// connection.
pub fn ordered_routes(routes: &[RouteAttachment]) -> Vec<(&RouteConfig, &str)> {
    let mut out: Vec<(&RouteConfig, &str)> = Vec::new();
    for a in routes {
        if a.hostnames.is_empty() {
            out.push((&a.route, "*"));
        }
        out.extend(a.hostnames.iter().map(|h| (&*a.route, h.as_str())));
    }
    out.sort_by(|(ra, ha), (rb, hb)| {
        hostname_rank(hb)
            .cmp(&hostname_rank(ha))
            .then_with(|| ha.cmp(hb))
            .then(ra.created.cmp(&rb.created))
            .then_with(|| ra.key.namespace.cmp(&rb.key.namespace))
            .then_with(|| ra.key.name.cmp(&rb.key.name))
    });
    out
}

/// What a route of a listener of `protocol` takes, in words.
pub fn takes(protocol: &Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "every TCP connection",
        Protocol::Udp => "every UDP datagram",
        _ => "TLS connections by SNI",
    }
}

/// The route that takes the SNI, with the hostname it matched by, recording every attached
/// route as a candidate. TCP and UDP routes have no hostnames (and connections no SNI), so
/// every one takes the connection and the oldest wins.
fn select_route<'r>(
    routes: &'r [RouteAttachment],
    protocol: ConnectionProtocol,
    sni: Option<&str>,
    ex: &mut Explanation,
) -> Option<(&'r RouteConfig, String)> {
    let description = match protocol {
        ConnectionProtocol::Tls => "connection by SNI",
        ConnectionProtocol::Tcp => "every TCP connection",
        ConnectionProtocol::Udp => "every UDP datagram",
    };
    // (route, best matching hostname) of each route that takes the SNI.
    let mut matching: Vec<(&RouteConfig, &str)> = Vec::new();
    let mut misses: Vec<(&RouteConfig, String)> = Vec::new();
    for a in routes {
        let best = sni.and_then(|name| {
            a.hostnames
                .iter()
                .filter(|h| pattern_covers(h, name))
                .max_by_key(|h| hostname_rank(h))
        });
        match (best, a.hostnames.is_empty()) {
            (Some(h), _) => matching.push((&a.route, h.as_str())),
            // A route whose hostnames are all the listener's (none on either side) takes
            // every name, also a connection without SNI.
            (None, true) => matching.push((&a.route, "*")),
            (None, false) => misses.push((
                &a.route,
                match sni {
                    Some(name) => {
                        format!("no hostname of {} covers {name}", a.hostnames.join(", "))
                    }
                    None => "the client sent no SNI".to_string(),
                },
            )),
        }
    }
    matching.sort_by(|(ra, ha), (rb, hb)| {
        hostname_rank(hb)
            .cmp(&hostname_rank(ha))
            .then(ra.created.cmp(&rb.created))
            .then_with(|| ra.key.namespace.cmp(&rb.key.namespace))
            .then_with(|| ra.key.name.cmp(&rb.key.name))
    });
    let winner = matching.first().copied();
    for (i, (route, hostname)) in matching.iter().enumerate() {
        let verdict = match winner {
            Some((w, wh)) if i > 0 => Verdict::Lost {
                winner: w.key.to_string().into(),
                step: tie_breaker(w, wh, route, hostname),
            },
            _ => Verdict::Won,
        };
        ex.candidates.push(Candidate {
            entry: route.key.to_string().into(),
            hostname: (*hostname).into(),
            description: description.into(),
            verdict,
        });
    }
    for (route, why) in misses {
        ex.candidates.push(Candidate {
            entry: route.key.to_string().into(),
            hostname: "-".into(),
            description: description.into(),
            verdict: Verdict::NoMatch { reason: why.into() },
        });
    }
    winner.map(|(r, h)| (r, h.to_string()))
}

/// Which step decided between the winner and a loser.
fn tie_breaker(
    winner: &RouteConfig,
    winner_host: &str,
    loser: &RouteConfig,
    loser_host: &str,
) -> PrecedenceStep {
    if hostname_rank(winner_host) != hostname_rank(loser_host) {
        PrecedenceStep::MoreSpecificHostname {
            winner: winner_host.to_string(),
            loser: loser_host.to_string(),
        }
    } else if winner.created != loser.created {
        PrecedenceStep::OlderRoute {
            winner: winner.created,
            loser: loser.created,
        }
    } else {
        PrecedenceStep::NamespaceNameOrder {
            winner: winner.key.namespaced_name(),
            loser: loser.key.namespaced_name(),
        }
    }
}

#[cfg(test)]
mod tests;
