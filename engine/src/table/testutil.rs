//! Builders for routing table tests: configuration values written the short way.

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{
    BackendTarget, Filter, GatewayConfig, HeaderMatch, ListenerConfig, PathMatch, Protocol,
    QueryParamMatch, RouteAttachment, RouteConfig, RouteKind, RouteMatch, RuleConfig, Timeouts,
    ValueMatch, WeightedBackend,
};
use crate::decision::{Decision, Outcome, Request, Scheme};
use crate::object::{Kind, ObjectKey};

use super::RoutingTable;

pub(crate) const NS: &str = "infra";

pub(crate) fn gateway(name: &str, listeners: Vec<ListenerConfig>) -> GatewayConfig {
    GatewayConfig {
        key: ObjectKey::new(Kind::Gateway, NS, name),
        addresses: vec!["10.0.0.1".to_string()],
        listeners,
        backend_client_certificate: None,
    }
}

pub(crate) fn listener(
    name: &str,
    port: u16,
    protocol: Protocol,
    hostname: Option<&str>,
    routes: Vec<RouteAttachment>,
) -> ListenerConfig {
    ListenerConfig {
        name: name.to_string(),
        port,
        protocol,
        hostname: hostname.map(str::to_string),
        usable: true,
        unusable_reason: None,
        routes,
        listener_set: None,
        certificate: None,
        client_validation: None,
        tls_mode: None,
    }
}

pub(crate) fn http(
    name: &str,
    hostname: Option<&str>,
    routes: Vec<RouteAttachment>,
) -> ListenerConfig {
    listener(name, 80, Protocol::Http, hostname, routes)
}

pub(crate) fn https(
    name: &str,
    hostname: Option<&str>,
    routes: Vec<RouteAttachment>,
) -> ListenerConfig {
    listener(name, 443, Protocol::Https, hostname, routes)
}

pub(crate) fn route(name: &str, created: i64, rules: Vec<RuleConfig>) -> Arc<RouteConfig> {
    route_in(NS, name, created, rules)
}

pub(crate) fn route_in(
    ns: &str,
    name: &str,
    created: i64,
    rules: Vec<RuleConfig>,
) -> Arc<RouteConfig> {
    let rules = rules
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.index = i;
            r
        })
        .collect();
    Arc::new(RouteConfig {
        key: ObjectKey::new(Kind::HttpRoute, ns, name),
        kind: RouteKind::Http,
        created,
        generation: 1,
        rules,
    })
}

pub(crate) fn attach(route: &Arc<RouteConfig>, hostnames: &[&str]) -> RouteAttachment {
    RouteAttachment {
        route: Arc::clone(route),
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
    }
}

/// A rule with `matches` forwarding to Service `backend` (weight 1).
pub(crate) fn rule(matches: Vec<RouteMatch>, backend: &str) -> RuleConfig {
    rule_to(matches, vec![backend_ref(0, backend, 1)])
}

pub(crate) fn rule_to(matches: Vec<RouteMatch>, backends: Vec<WeightedBackend>) -> RuleConfig {
    let matches = if matches.is_empty() {
        vec![prefix("/")]
    } else {
        matches
    };
    RuleConfig {
        index: 0,
        name: None,
        matches: matches
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                m.index = i;
                m
            })
            .collect(),
        filters: Vec::new(),
        backends,
        timeouts: Timeouts::default(),
        retry: None,
        invalid: None,
    }
}

pub(crate) fn with_filters(mut rule: RuleConfig, filters: Vec<Filter>) -> RuleConfig {
    rule.filters = filters;
    rule
}

pub(crate) fn backend_ref(index: usize, name: &str, weight: u32) -> WeightedBackend {
    WeightedBackend {
        index,
        weight,
        target: service(name),
        filters: Vec::new(),
    }
}

pub(crate) fn service(name: &str) -> BackendTarget {
    BackendTarget::Service {
        namespace: NS.to_string(),
        name: name.to_string(),
        port: 8080,
        app_protocol: None,
        tls: None,
    }
}

pub(crate) fn invalid_ref(index: usize, weight: u32) -> WeightedBackend {
    WeightedBackend {
        index,
        weight,
        target: BackendTarget::Invalid {
            reason: "BackendNotFound".to_string(),
            reference: "Service infra/missing".to_string(),
            message: "service not found".to_string(),
        },
        filters: Vec::new(),
    }
}

fn bare(path: PathMatch) -> RouteMatch {
    RouteMatch {
        index: 0,
        path,
        method: None,
        headers: Vec::new(),
        query_params: Vec::new(),
    }
}

pub(crate) fn prefix(p: &str) -> RouteMatch {
    bare(PathMatch::Prefix(p.to_string()))
}

pub(crate) fn exact(p: &str) -> RouteMatch {
    bare(PathMatch::Exact(p.to_string()))
}

pub(crate) fn regex_path(p: &str) -> RouteMatch {
    bare(PathMatch::RegularExpression(Arc::new(
        regex::Regex::new(p).expect("test regex"),
    )))
}

/// Chainable additions to a match.
pub(crate) trait MatchExt {
    fn method(self, m: &str) -> Self;
    fn header(self, name: &str, value: &str) -> Self;
    fn query(self, name: &str, value: &str) -> Self;
}

impl MatchExt for RouteMatch {
    fn method(mut self, m: &str) -> Self {
        self.method = Some(m.to_string());
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(HeaderMatch {
            name: name.to_ascii_lowercase(),
            value: ValueMatch::Exact(value.to_string()),
        });
        self
    }

    fn query(mut self, name: &str, value: &str) -> Self {
        self.query_params.push(QueryParamMatch {
            name: name.to_string(),
            value: ValueMatch::Exact(value.to_string()),
        });
        self
    }
}

/// Chainable additions to a request.
pub(crate) trait RequestExt {
    fn with_header(self, name: &str, value: &str) -> Self;
    fn with_method(self, m: &str) -> Self;
    fn tls(self, sni: &str) -> Self;
    fn on_port(self, port: u16) -> Self;
}

impl RequestExt for Request {
    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn with_method(mut self, m: &str) -> Self {
        self.method = m.to_string();
        self
    }

    fn tls(mut self, sni: &str) -> Self {
        self.scheme = Scheme::Https;
        self.port = 443;
        self.sni = Some(sni.to_string());
        self
    }

    fn on_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}

pub(crate) fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

pub(crate) fn decide(table: &RoutingTable, request: &Request) -> Decision {
    table.decide(request, &mut rng())
}

/// The status of a decision: the backend Service name for a forward, `"404"` style for a
/// Gateway answer, `"refused"`.
pub(crate) fn verdict(decision: &Decision) -> String {
    match &decision.outcome {
        Outcome::ConnectionRefused => "refused".to_string(),
        Outcome::Respond { status, .. } => status.to_string(),
        Outcome::Redirect { status, .. } => status.to_string(),
        Outcome::Forward(f) => f.backend.name.clone(),
    }
}
