//! What a request gets in one state, as comparable data, and the comparison of two states.
//!
//! A weighted choice is not drawn: each backendRef with a weight is followed on its own (its
//! filters applied as if it had been chosen), so a request's behaviour is every way it can
//! go, with its weight. A weight change is then found whatever a random draw would have
//! picked. Every other draw (mirror percentages) comes from [`FixedDraws`], which mirrors
//! whenever the share is above zero.

use std::collections::HashMap;

use rand::RngCore;
use serde::Serialize;

use crate::config::{GatewayConfig, HeaderModifier, RouteConfig, RouteMatch, RuleConfig};
use crate::decision::{Outcome, Provenance, Request, ServiceRef};
use crate::object::ObjectKey;
use crate::table::RoutingTable;

use super::RequestChange;

/// One way a request can go.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// The connection is refused (no listener on the port, no certificate for the SNI).
    Refused,
    /// The Gateway answers by itself.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
    },
    Redirect {
        status: u16,
        location: String,
        headers: Vec<(String, String)>,
    },
    Forward(ForwardEffect),
}

/// A request forwarded to a backend, as it leaves the Gateway.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ForwardEffect {
    /// `Service ns/name:port`.
    pub backend: String,
    /// The Host and path (with query) the backend receives.
    pub host: String,
    pub path: String,
    /// Request headers the backend receives that the client did not send (set or added).
    pub added_request_headers: Vec<(String, String)>,
    /// Request headers the client sent that the backend does not receive.
    pub removed_request_headers: Vec<String>,
    /// What happens to the response's headers: `set x: 1`, `add x: 1`, `remove x`, and
    /// headers the Gateway adds (`access-control-allow-origin: *`).
    pub response_headers: Vec<String>,
    /// Backends that get a copy.
    pub mirrors: Vec<String>,
}

impl Effect {
    fn of(outcome: &Outcome, sent: &Request) -> Effect {
        match outcome {
            Outcome::ConnectionRefused => Effect::Refused,
            Outcome::Respond {
                status, headers, ..
            } => Effect::Respond {
                status: *status,
                headers: headers.clone(),
            },
            Outcome::Redirect {
                status,
                location,
                headers,
            } => Effect::Redirect {
                status: *status,
                location: location.clone(),
                headers: headers.clone(),
            },
            Outcome::Forward(f) => {
                let received = &f.request.headers;
                let same = |(n, v): &(String, String), (m, w): &(String, String)| {
                    n.eq_ignore_ascii_case(m) && v == w
                };
                let added = received
                    .iter()
                    .filter(|h| !sent.headers.iter().any(|s| same(h, s)))
                    .cloned()
                    .collect();
                let mut removed: Vec<String> = sent
                    .headers
                    .iter()
                    .filter(|(n, _)| !received.iter().any(|(m, _)| m.eq_ignore_ascii_case(n)))
                    .map(|(n, _)| n.to_ascii_lowercase())
                    .collect();
                removed.dedup();
                let mut response_headers: Vec<String> = f
                    .response_modifiers
                    .iter()
                    .flat_map(describe_modifier)
                    .collect();
                response_headers
                    .extend(f.response_headers.iter().map(|(n, v)| format!("{n}: {v}")));
                Effect::Forward(ForwardEffect {
                    backend: describe_service(&f.backend),
                    host: f.request.host.clone(),
                    path: f.request.path.clone(),
                    added_request_headers: added,
                    removed_request_headers: removed,
                    response_headers,
                    mirrors: f.mirrors.iter().map(describe_service).collect(),
                })
            }
        }
    }

    /// An error answer: a refused connection or a status of 400 and up.
    pub fn is_error(&self) -> bool {
        match self {
            Effect::Refused => true,
            Effect::Respond { status, .. } => *status >= 400,
            Effect::Redirect { .. } | Effect::Forward(_) => false,
        }
    }

    /// `forwarded to Service ns/name:8080`, `404`, `301 redirect to http://...`.
    pub fn describe(&self) -> String {
        match self {
            Effect::Refused => "connection refused".to_string(),
            Effect::Respond { status, .. } => status.to_string(),
            Effect::Redirect {
                status, location, ..
            } => format!("{status} redirect to {location}"),
            Effect::Forward(f) => format!("forwarded to {}", f.backend),
        }
    }

    /// In a word or two: `forwarded`, `404`, `301 redirect`, `connection refused`.
    fn kind(&self) -> String {
        match self {
            Effect::Refused => "connection refused".to_string(),
            Effect::Respond { status, .. } => status.to_string(),
            Effect::Redirect { status, .. } => format!("{status} redirect"),
            Effect::Forward(_) => "forwarded".to_string(),
        }
    }

    /// The backend of a forward, else as [`Effect::describe`].
    fn target(&self) -> String {
        match self {
            Effect::Forward(f) => f.backend.clone(),
            other => other.describe(),
        }
    }
}

fn describe_service(s: &ServiceRef) -> String {
    format!("Service {}/{}:{}", s.namespace, s.name, s.port)
}

fn describe_modifier(m: &HeaderModifier) -> Vec<String> {
    let mut out: Vec<String> = m.set.iter().map(|(n, v)| format!("set {n}: {v}")).collect();
    out.extend(m.add.iter().map(|(n, v)| format!("add {n}: {v}")));
    out.extend(m.remove.iter().map(|n| format!("remove {n}")));
    out
}

/// One way a request can go, with its weight among the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Branch {
    /// The backendRef followed (index in the rule's `backendRefs`), when the matched rule
    /// makes a weighted choice; `None` for the single branch of any other request.
    pub backend_ref: Option<usize>,
    pub weight: u64,
    pub effect: Effect,
    /// Why the Gateway answered by itself (`no route matched`), when it did. Not compared.
    pub reason: Option<String>,
}

impl Branch {
    /// The effect, with the reason of an answer: `404: no route matched`.
    fn describe(&self) -> String {
        match (&self.effect, &self.reason) {
            (Effect::Respond { .. }, Some(reason)) => {
                format!("{}: {reason}", self.effect.describe())
            }
            (effect, _) => effect.describe(),
        }
    }
}

/// What a request gets in one state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Behaviour {
    /// The entry that matched: `HTTPRoute ns/name rule 0 match 0`.
    pub matched: Option<String>,
    /// The listener that took the request.
    pub listener: Option<String>,
    /// Every way the request can go: one branch per backendRef with a weight (in
    /// `backendRefs` order) when the matched rule makes a weighted choice, else one.
    pub branches: Vec<Branch>,
}

impl Behaviour {
    fn total(&self) -> u128 {
        self.branches.iter().map(|b| u128::from(b.weight)).sum()
    }

    fn errors(&self) -> u128 {
        self.branches
            .iter()
            .filter(|b| b.effect.is_error())
            .map(|b| u128::from(b.weight))
            .sum()
    }

    /// Branches with the same effect taken together, in order of first appearance.
    fn merged(&self) -> Vec<(&Branch, u128)> {
        let mut out: Vec<(&Branch, u128)> = Vec::new();
        for b in &self.branches {
            match out.iter_mut().find(|(first, _)| first.effect == b.effect) {
                Some((_, weight)) => *weight += u128::from(b.weight),
                None => out.push((b, u128::from(b.weight))),
            }
        }
        out
    }

    /// The same effects in the same proportions.
    fn same_as(&self, other: &Behaviour) -> bool {
        let (ta, tb) = (self.total(), other.total());
        let (a, b) = (self.merged(), other.merged());
        a.len() == b.len()
            && a.iter().all(|(x, wa)| {
                b.iter()
                    .any(|(y, wb)| y.effect == x.effect && wa * tb == wb * ta)
            })
    }

    /// `404: no route matched`; `forwarded to A (90%), B (10%)`.
    pub fn describe(&self) -> String {
        let merged = self.merged();
        match merged.as_slice() {
            [(only, _)] => only.describe(),
            many => {
                let total = self.total().max(1);
                let all_forward = many
                    .iter()
                    .all(|(b, _)| matches!(b.effect, Effect::Forward(_)));
                let shares = many
                    .iter()
                    .map(|(b, weight)| {
                        let what = match &b.effect {
                            Effect::Forward(f) if all_forward => f.backend.clone(),
                            _ => b.describe(),
                        };
                        format!("{what} ({})", percent(*weight, total))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                if all_forward {
                    format!("forwarded to {shares}")
                } else {
                    shares
                }
            }
        }
    }
}

/// `90%`, or `16.7%` (rounded to the nearest tenth) when not whole.
fn percent(part: u128, total: u128) -> String {
    let tenths = (part * 1000 + total / 2) / total;
    if tenths.is_multiple_of(10) {
        format!("{}%", tenths / 10)
    } else {
        format!("{}.{}%", tenths / 10, tenths % 10)
    }
}

/// A random source whose every draw is 0: the first backendRef with a weight, every mirror
/// with a share. Deterministic by construction; weighted choices are enumerated separately.
struct FixedDraws;

impl RngCore for FixedDraws {
    fn next_u32(&mut self) -> u32 {
        0
    }

    fn next_u64(&mut self) -> u64 {
        0
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.fill(0);
    }
}

/// A listener's port and its routes by key.
type ListenerRoutes<'a> = (u16, HashMap<&'a ObjectKey, &'a RouteConfig>);

/// Finds the rule a decision matched, from the configuration the table was built from.
struct RuleLookup<'a> {
    gateways: &'a [GatewayConfig],
    /// Per (Gateway, listener), filled on demand.
    listeners: HashMap<(&'a ObjectKey, &'a str), ListenerRoutes<'a>>,
}

impl<'a> RuleLookup<'a> {
    fn new(gateways: &'a [GatewayConfig]) -> RuleLookup<'a> {
        RuleLookup {
            gateways,
            listeners: HashMap::new(),
        }
    }

    fn rule(&mut self, p: &Provenance) -> Option<(&'a RuleConfig, &'a RouteMatch, u16)> {
        let gateways = self.gateways;
        let gw = gateways.iter().find(|g| g.key == p.gateway)?;
        let listener = gw.listeners.iter().find(|l| l.name == p.listener)?;
        let (port, routes) = self
            .listeners
            .entry((&gw.key, listener.name.as_str()))
            .or_insert_with(|| {
                let routes = listener
                    .routes
                    .iter()
                    .map(|a| (&a.route.key, a.route.as_ref()))
                    .collect();
                (listener.port, routes)
            });
        let route = routes.get(&p.route)?;
        let rule = route.rules.iter().find(|r| r.index == p.rule_index)?;
        let m = rule.matches.iter().find(|m| m.index == p.match_index)?;
        Some((rule, m, *port))
    }
}

fn provenance_label(p: &Provenance) -> String {
    match &p.rule_name {
        Some(name) => format!(
            "{} rule {} ({name}) match {}",
            p.route, p.rule_index, p.match_index
        ),
        None => format!("{} rule {} match {}", p.route, p.rule_index, p.match_index),
    }
}

fn observe(table: &RoutingTable, lookup: &mut RuleLookup<'_>, request: &Request) -> Behaviour {
    let decision = table.decide_fast(request, &mut FixedDraws);
    let mut behaviour = Behaviour {
        matched: decision.provenance.as_ref().map(provenance_label),
        listener: decision.provenance.as_ref().map(|p| p.listener.clone()),
        branches: Vec::new(),
    };
    let weighted = decision
        .provenance
        .as_ref()
        .and_then(|p| lookup.rule(p))
        .filter(|(rule, _, _)| {
            rule.invalid.is_none() && rule.backends.iter().filter(|b| b.weight > 0).count() > 1
        });
    match weighted {
        None => behaviour.branches.push(Branch {
            backend_ref: None,
            weight: 1,
            effect: Effect::of(&decision.outcome, request),
            reason: reason(&decision.outcome),
        }),
        Some((rule, m, port)) => {
            for backend in rule.backends.iter().filter(|b| b.weight > 0) {
                let only = RuleConfig {
                    backends: vec![backend.clone()],
                    ..rule.clone()
                };
                let applied =
                    crate::filters::apply_rule(&only, m, request, port, &mut FixedDraws, false);
                behaviour.branches.push(Branch {
                    backend_ref: Some(backend.index),
                    weight: u64::from(backend.weight),
                    effect: Effect::of(&applied.outcome, request),
                    reason: reason(&applied.outcome),
                });
            }
        }
    }
    behaviour
}

fn reason(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Respond { reason, .. } => Some(reason.clone()),
        _ => None,
    }
}

/// Sends every probe through both tables; returns the requests whose behaviour differs, with
/// both explanations.
pub(super) fn compare_all(
    before: &RoutingTable,
    after: &RoutingTable,
    probes: Vec<(Request, String)>,
) -> Vec<RequestChange> {
    let mut lookup_before = RuleLookup::new(before.gateways());
    let mut lookup_after = RuleLookup::new(after.gateways());
    let mut out = Vec::new();
    for (request, origin) in probes {
        let old = observe(before, &mut lookup_before, &request);
        let new = observe(after, &mut lookup_after, &request);
        if old.same_as(&new) {
            continue;
        }
        let differences = differences(&old, &new);
        // Regression: a larger share of errors (compared as fractions).
        let regression = old.errors() * new.total() < new.errors() * old.total();
        let before_explanation = before.decide(&request, &mut FixedDraws).explanation;
        let after_explanation = after.decide(&request, &mut FixedDraws).explanation;
        out.push(RequestChange {
            description: describe_request(&request),
            request,
            origin,
            before: old,
            after: new,
            differences,
            regression,
            before_explanation,
            after_explanation,
        });
    }
    out
}

/// `GET http://foo.com/v2 (port 80), Gateway infra/gw, header x: 1`.
pub(super) fn describe_request(r: &Request) -> String {
    let mut out = format!(
        "{} {}://{}{} (port {})",
        r.method,
        r.scheme.as_str(),
        r.host,
        r.path,
        r.port
    );
    if let Some(gateway) = &r.gateway {
        out.push_str(&format!(", {gateway}"));
    }
    for (n, v) in &r.headers {
        out.push_str(&format!(", header {n}: {v}"));
    }
    if let Some(sni) = &r.sni
        && !sni.eq_ignore_ascii_case(&r.host)
    {
        out.push_str(&format!(", SNI {sni}"));
    }
    out
}

/// What differs, in a few words each.
fn differences(old: &Behaviour, new: &Behaviour) -> Vec<String> {
    let mut out = Vec::new();
    let (a, b) = (old.merged(), new.merged());
    let same_effects = a.len() == b.len()
        && a.iter()
            .all(|(x, _)| b.iter().any(|(y, _)| y.effect == x.effect));
    if let ([(x, _)], [(y, _)]) = (a.as_slice(), b.as_slice()) {
        effect_differences(x, y, false, &mut out);
    } else if same_effects {
        let join = |ws: Vec<u128>| ws.iter().map(u128::to_string).collect::<Vec<_>>().join("/");
        let before = join(a.iter().map(|(_, w)| *w).collect());
        let after = join(
            a.iter()
                .map(|(x, _)| {
                    b.iter()
                        .find(|(y, _)| y.effect == x.effect)
                        .map_or(0, |(_, w)| *w)
                })
                .collect(),
        );
        let names: Vec<String> = a.iter().map(|(x, _)| x.effect.target()).collect();
        out.push(format!(
            "weights changed {before} → {after} ({})",
            names.join(", ")
        ));
    } else if old.matched.is_some()
        && old.matched == new.matched
        && old
            .branches
            .iter()
            .chain(&new.branches)
            .all(|b| b.backend_ref.is_some())
    {
        backend_ref_differences(old, new, &mut out);
    } else {
        out.push(format!("{} → {}", old.describe(), new.describe()));
    }
    if old.matched != new.matched {
        let name = |m: &Option<String>| m.clone().unwrap_or_else(|| "no route".to_string());
        out.push(format!(
            "matched {} → {}",
            name(&old.matched),
            name(&new.matched)
        ));
    }
    out
}

/// The same rule in both states, with a weighted choice: what differs per backendRef. When
/// every backendRef changed the same way, that is said once.
fn backend_ref_differences(old: &Behaviour, new: &Behaviour, out: &mut Vec<String>) {
    let mut refs: Vec<usize> = old
        .branches
        .iter()
        .chain(&new.branches)
        .filter_map(|b| b.backend_ref)
        .collect();
    refs.sort_unstable();
    refs.dedup();
    let find = |bh: &'_ Behaviour, i: usize| {
        bh.branches
            .iter()
            .find(|b| b.backend_ref == Some(i))
            .cloned()
    };
    let mut per_ref: Vec<(usize, Vec<String>)> = Vec::new();
    let mut uniform = true;
    for &i in &refs {
        let mut lines = Vec::new();
        match (find(old, i), find(new, i)) {
            (Some(x), Some(y)) => {
                if x.weight != y.weight {
                    uniform = false;
                    lines.push(format!("weight {} → {}", x.weight, y.weight));
                }
                if x.effect != y.effect {
                    effect_differences(&x, &y, true, &mut lines);
                }
            }
            (Some(x), None) => {
                uniform = false;
                lines.push(format!(
                    "no longer chosen (was weight {}: {})",
                    x.weight,
                    x.describe()
                ));
            }
            (None, Some(y)) => {
                uniform = false;
                lines.push(format!(
                    "now chosen (weight {}: {})",
                    y.weight,
                    y.describe()
                ));
            }
            (None, None) => {}
        }
        per_ref.push((i, lines));
    }
    let first = per_ref.first().map(|(_, l)| l.clone()).unwrap_or_default();
    if uniform && per_ref.len() > 1 && per_ref.iter().all(|(_, l)| *l == first) {
        out.extend(first);
        return;
    }
    for (i, lines) in per_ref {
        for line in lines {
            out.push(format!("backendRef {i}: {line}"));
        }
    }
}

/// What differs between two effects. `full`: name both sides of a change of kind in full
/// (`forwarded to X → 500: ...`); otherwise briefly (`forwarded → 404`), as the before and
/// after lines already say it.
fn effect_differences(x: &Branch, y: &Branch, full: bool, out: &mut Vec<String>) {
    match (&x.effect, &y.effect) {
        (Effect::Forward(a), Effect::Forward(b)) => {
            if a.backend != b.backend {
                out.push(format!("backend {} → {}", a.backend, b.backend));
            }
            if a.host != b.host {
                out.push(format!("host {} → {}", a.host, b.host));
            }
            if a.path != b.path {
                out.push(format!("path {} → {}", a.path, b.path));
            }
            list_changes(
                "request header",
                &pairs(&a.added_request_headers),
                &pairs(&b.added_request_headers),
                "added",
                out,
            );
            list_changes(
                "request header",
                &a.removed_request_headers,
                &b.removed_request_headers,
                "removed",
                out,
            );
            list_changes(
                "response header",
                &a.response_headers,
                &b.response_headers,
                "changed",
                out,
            );
            list_changes("mirror to", &a.mirrors, &b.mirrors, "made", out);
        }
        (
            Effect::Redirect {
                status: s1,
                location: l1,
                headers: h1,
            },
            Effect::Redirect {
                status: s2,
                location: l2,
                headers: h2,
            },
        ) => {
            if s1 != s2 {
                out.push(format!("redirect status {s1} → {s2}"));
            }
            if l1 != l2 {
                out.push(format!("Location {l1} → {l2}"));
            }
            list_changes("response header", &pairs(h1), &pairs(h2), "sent", out);
        }
        (
            Effect::Respond {
                status: s1,
                headers: h1,
            },
            Effect::Respond {
                status: s2,
                headers: h2,
            },
        ) => {
            if s1 != s2 {
                out.push(format!("status {s1} → {s2}"));
            }
            list_changes("response header", &pairs(h1), &pairs(h2), "sent", out);
        }
        (_, _) if full => out.push(format!("{} → {}", x.describe(), y.describe())),
        (a, b) => out.push(format!("{} → {}", a.kind(), b.kind())),
    }
}

fn pairs(headers: &[(String, String)]) -> Vec<String> {
    headers.iter().map(|(n, v)| format!("{n}: {v}")).collect()
}

/// `request header x: 1 added` / `... no longer added`, for items in one list only.
fn list_changes(what: &str, old: &[String], new: &[String], verb: &str, out: &mut Vec<String>) {
    for item in new.iter().filter(|i| !old.contains(i)) {
        out.push(format!("{what} `{item}` {verb}"));
    }
    for item in old.iter().filter(|i| !new.contains(i)) {
        out.push(format!("{what} `{item}` no longer {verb}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(backend: &str) -> Effect {
        Effect::Forward(ForwardEffect {
            backend: backend.to_string(),
            host: "h".to_string(),
            path: "/".to_string(),
            added_request_headers: Vec::new(),
            removed_request_headers: Vec::new(),
            response_headers: Vec::new(),
            mirrors: Vec::new(),
        })
    }

    fn behaviour(branches: &[(u64, Effect)]) -> Behaviour {
        Behaviour {
            matched: Some("HTTPRoute ns/r rule 0 match 0".to_string()),
            listener: None,
            branches: branches
                .iter()
                .enumerate()
                .map(|(i, (weight, effect))| Branch {
                    backend_ref: Some(i),
                    weight: *weight,
                    effect: effect.clone(),
                    reason: None,
                })
                .collect(),
        }
    }

    #[test]
    fn proportional_weights_are_the_same_behaviour() {
        let (a, b) = (forward("a"), forward("b"));
        let refused = Effect::Refused;
        let cases = [
            (
                vec![(90, a.clone()), (10, b.clone())],
                vec![(9, a.clone()), (1, b.clone())],
                true,
            ),
            (
                vec![(90, a.clone()), (10, b.clone())],
                vec![(80, a.clone()), (20, b.clone())],
                false,
            ),
            (
                vec![(1, a.clone())],
                vec![(1, a.clone()), (1, a.clone())],
                true,
            ),
            (vec![(1, a.clone())], vec![(1, b.clone())], false),
            (
                vec![(1, a.clone())],
                vec![(1, a.clone()), (1, refused.clone())],
                false,
            ),
        ];
        for (i, (x, y, same)) in cases.into_iter().enumerate() {
            assert_eq!(behaviour(&x).same_as(&behaviour(&y)), same, "case {i}");
        }
    }

    #[test]
    fn weight_changes_are_named_and_errors_are_counted() {
        let old = behaviour(&[(90, forward("a")), (10, forward("b"))]);
        let new = behaviour(&[(80, forward("a")), (20, forward("b"))]);
        assert_eq!(
            differences(&old, &new),
            vec!["weights changed 90/10 → 80/20 (a, b)"]
        );
        let broken = behaviour(&[
            (80, forward("a")),
            (
                20,
                Effect::Respond {
                    status: 500,
                    headers: Vec::new(),
                },
            ),
        ]);
        assert!(old.errors() * broken.total() < broken.errors() * old.total());
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 2), "50%");
    }
}
