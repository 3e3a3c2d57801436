//! Routing table decisions: listener selection, matching, precedence, backends.

use std::sync::Arc;

use super::testutil::*;
use super::*;
use crate::config::{Protocol, RouteAttachment, RouteMatch};
use crate::explain::Verdict;

fn single(attachments: Vec<RouteAttachment>) -> RoutingTable {
    RoutingTable::build(&[gateway("gw", vec![http("http", None, attachments)])])
}

fn get(host: &str, path: &str) -> Request {
    Request::get(host, path)
}

/// Runs `(request, expected verdict)` pairs against a table.
fn expect_all(table: &RoutingTable, cases: &[(Request, &str)]) {
    for (request, expected) in cases {
        let decision = decide(table, request);
        assert_eq!(
            verdict(&decision),
            *expected,
            "{} {}{} {:?}\n{}",
            request.method,
            request.host,
            request.path,
            request.headers,
            decision.explanation.render_text()
        );
    }
}

#[test]
fn matching_rules_or_their_matches_and_prefix_is_per_segment() {
    // HTTPRouteMatching.
    let r = route(
        "matching",
        1,
        vec![
            rule(
                vec![prefix("/"), prefix("/").header("version", "one")],
                "v1",
            ),
            rule(
                vec![prefix("/v2"), prefix("/").header("version", "two")],
                "v2",
            ),
        ],
    );
    let table = single(vec![attach(&r, &[])]);
    expect_all(
        &table,
        &[
            (get("example.com", "/"), "v1"),
            (get("example.com", "/example"), "v1"),
            (get("example.com", "/").with_header("Version", "one"), "v1"),
            (get("example.com", "/v2"), "v2"),
            (get("example.com", "/v2/"), "v2"),
            (get("example.com", "/v2/example"), "v2"),
            (get("example.com", "/").with_header("Version", "two"), "v2"),
            (get("example.com", "/v2example"), "v1"),
            (get("example.com", "/foo/v2/example"), "v1"),
        ],
    );
}

#[test]
fn exact_path_is_whole_and_case_sensitive() {
    // HTTPRouteExactPathMatching.
    let r = route(
        "exact",
        1,
        vec![
            rule(vec![exact("/one")], "v1"),
            rule(vec![exact("/two")], "v2"),
        ],
    );
    let table = single(vec![attach(&r, &[])]);
    expect_all(
        &table,
        &[
            (get("x", "/one"), "v1"),
            (get("x", "/two"), "v2"),
            (get("x", "/"), "404"),
            (get("x", "/one/example"), "404"),
            (get("x", "/two/"), "404"),
            (get("x", "/Two"), "404"),
            (get("x", "/one?x=1"), "v1"),
        ],
    );
}

#[test]
fn path_match_order_exact_then_longest_prefix() {
    // HTTPRoutePathMatchOrder.
    let r = route(
        "order",
        1,
        vec![
            rule(vec![exact("/match")], "v1"),
            rule(vec![exact("/match/exact")], "v2"),
            rule(vec![exact("/match/exact/one")], "v3"),
            rule(vec![prefix("/match/")], "v3"),
            rule(vec![prefix("/match/prefix/")], "v1"),
            rule(vec![prefix("/match/prefix/one")], "v2"),
        ],
    );
    let table = single(vec![attach(&r, &[])]);
    expect_all(
        &table,
        &[
            (get("x", "/match"), "v1"),
            (get("x", "/match/exact"), "v2"),
            (get("x", "/match/exact/one"), "v3"),
            (get("x", "/match/prefix/one/any"), "v2"),
            (get("x", "/match/prefix/any"), "v1"),
            (get("x", "/match/any"), "v3"),
            (get("x", "/match/prefix"), "v1"),
            (get("x", "/other"), "404"),
        ],
    );
}

#[test]
fn header_matching() {
    // HTTPRouteHeaderMatching.
    let r = route(
        "headers",
        1,
        vec![
            rule(vec![prefix("/").header("version", "one")], "v1"),
            rule(vec![prefix("/").header("version", "two")], "v2"),
            rule(
                vec![
                    prefix("/")
                        .header("version", "two")
                        .header("color", "orange"),
                ],
                "v1",
            ),
            rule(
                vec![
                    prefix("/").header("color", "blue"),
                    prefix("/").header("color", "green"),
                ],
                "v1",
            ),
            rule(
                vec![
                    prefix("/").header("color", "red"),
                    prefix("/").header("color", "yellow"),
                ],
                "v2",
            ),
        ],
    );
    let table = single(vec![attach(&r, &[])]);
    let h = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .fold(get("x", "/"), |req, (n, v)| req.with_header(n, v))
    };
    expect_all(
        &table,
        &[
            (h(&[("version", "one")]), "v1"),
            (h(&[("VERSION", "two")]), "v2"),
            (h(&[("version", "two"), ("color", "orange")]), "v1"),
            (h(&[("color", "blue")]), "v1"),
            (h(&[("color", "green")]), "v1"),
            (h(&[("color", "red")]), "v2"),
            (h(&[("color", "yellow")]), "v2"),
            (h(&[("color", "orange")]), "404"),
            (h(&[("some-other-header", "one")]), "404"),
            (h(&[("color", "purple")]), "404"),
            (h(&[("version", "One")]), "404"),
        ],
    );
}

#[test]
fn query_param_matching() {
    // HTTPRouteQueryParamMatching.
    let r = route(
        "query",
        1,
        vec![
            rule(vec![prefix("/").query("animal", "whale")], "v1"),
            rule(vec![prefix("/").query("animal", "dolphin")], "v2"),
            rule(
                vec![
                    prefix("/")
                        .query("animal", "dolphin")
                        .query("color", "blue"),
                    prefix("/").query("ANIMAL", "Whale"),
                ],
                "v3",
            ),
            rule(vec![prefix("/path5")], "v1"),
            rule(vec![prefix("/").header("version", "four")], "v2"),
        ],
    );
    let table = single(vec![attach(&r, &[])]);
    expect_all(
        &table,
        &[
            (get("x", "/?animal=whale"), "v1"),
            (get("x", "/?animal=dolphin"), "v2"),
            (get("x", "/?animal=dolphin&color=blue"), "v3"),
            (get("x", "/?ANIMAL=Whale"), "v3"),
            (get("x", "/?animal=whale&extra=1"), "v1"),
            (get("x", "/?color=blue"), "404"),
            (get("x", "/?animal=dog"), "404"),
            (get("x", "/?animal=whaledolphin"), "404"),
            (get("x", "/"), "404"),
            (get("x", "/?animal=whale&animal=dolphin"), "v1"),
            (get("x", "/path5?animal=hydra"), "v1"),
            (
                get("x", "/?animal=hydra").with_header("version", "four"),
                "v2",
            ),
        ],
    );
}

#[test]
fn method_matching() {
    // HTTPRouteMethodMatching.
    let r = route(
        "method",
        1,
        vec![
            rule(vec![prefix("/").method("POST")], "v1"),
            rule(vec![prefix("/").method("GET")], "v2"),
            rule(vec![prefix("/path5")], "v1"),
            rule(vec![prefix("/").method("PATCH")], "v2"),
            rule(
                vec![prefix("/").method("PUT").header("version", "one")],
                "v1",
            ),
            rule(
                vec![prefix("/path4").method("DELETE").header("version", "two")],
                "v2",
            ),
        ],
    );
    let table = single(vec![attach(&r, &[])]);
    expect_all(
        &table,
        &[
            (get("x", "/").with_method("POST"), "v1"),
            (get("x", "/"), "v2"),
            (get("x", "/").with_method("HEAD"), "404"),
            (get("x", "/path5").with_method("PATCH"), "v1"),
            (
                get("x", "/")
                    .with_method("PATCH")
                    .with_header("version", "four"),
                "v2",
            ),
            (get("x", "/").with_method("PUT"), "404"),
            (get("x", "/path4").with_method("DELETE"), "404"),
            (
                get("x", "/path4")
                    .with_method("DELETE")
                    .with_header("version", "two"),
                "v2",
            ),
        ],
    );
}

#[test]
fn matches_merge_across_routes_per_hostname() {
    // HTTPRouteMatchingAcrossRoutes.
    let part1 = route(
        "part1",
        1,
        vec![
            rule(vec![prefix("/")], "v1"),
            rule(vec![prefix("/").header("version", "one")], "v1"),
        ],
    );
    let part2 = route(
        "part2",
        2,
        vec![
            rule(vec![prefix("/v2")], "v2"),
            rule(vec![prefix("/").header("version", "two")], "v2"),
        ],
    );
    let table = single(vec![
        attach(&part1, &["example.com", "example.net"]),
        attach(&part2, &["example.com"]),
    ]);
    expect_all(
        &table,
        &[
            (get("example.com", "/"), "v1"),
            (get("example.com", "/v2"), "v2"),
            (get("example.net", "/v2"), "v1"),
            (get("example.com", "/").with_header("version", "two"), "v2"),
            (get("example.net", "/").with_header("version", "two"), "v1"),
            (get("example.org", "/"), "404"),
        ],
    );
}

/// One precedence step: `a` must win against `b` (listed first in the configuration), with
/// every earlier step tied, and the explanation must name `step`.
struct StepCase {
    name: &'static str,
    attachments: Vec<RouteAttachment>,
    request: Request,
    step: &'static str,
}

#[test]
fn each_precedence_step_decides_when_earlier_steps_tie() {
    let one = |name: &str, created: i64, m: RouteMatch, backend: &str| {
        route(name, created, vec![rule(vec![m], backend)])
    };
    let cases = vec![
        StepCase {
            name: "exact hostname beats wildcard",
            attachments: vec![
                attach(
                    &one("b", 1, exact("/x").header("h", "1"), "b"),
                    &["*.example.com"],
                ),
                attach(&one("a", 2, prefix("/"), "a"), &["foo.example.com"]),
            ],
            request: get("foo.example.com", "/x").with_header("h", "1"),
            step: "more specific hostname (foo.example.com over *.example.com)",
        },
        StepCase {
            name: "longer wildcard beats shorter",
            attachments: vec![
                attach(&one("b", 1, exact("/x"), "b"), &["*.example.com"]),
                attach(&one("a", 2, prefix("/"), "a"), &["*.foo.example.com"]),
            ],
            request: get("a.foo.example.com", "/x"),
            step: "more specific hostname (*.foo.example.com over *.example.com)",
        },
        StepCase {
            name: "any hostname loses to a named one",
            attachments: vec![
                attach(&one("b", 1, exact("/x"), "b"), &[]),
                attach(&one("a", 2, prefix("/"), "a"), &["*.example.com"]),
            ],
            request: get("foo.example.com", "/x"),
            step: "more specific hostname (*.example.com over *)",
        },
        StepCase {
            name: "Exact beats PathPrefix",
            attachments: vec![
                attach(
                    &one("b", 1, prefix("/x").method("GET").header("h", "1"), "b"),
                    &[],
                ),
                attach(&one("a", 2, exact("/x"), "a"), &[]),
            ],
            request: get("x", "/x").with_header("h", "1"),
            step: "Exact beats PathPrefix",
        },
        StepCase {
            name: "PathPrefix beats RegularExpression",
            attachments: vec![
                attach(&one("b", 1, regex_path("/x.*").method("GET"), "b"), &[]),
                attach(&one("a", 2, prefix("/"), "a"), &[]),
            ],
            request: get("x", "/xyz"),
            step: "PathPrefix beats RegularExpression",
        },
        StepCase {
            name: "longer prefix",
            attachments: vec![
                attach(
                    &one("b", 1, prefix("/x").method("GET").header("h", "1"), "b"),
                    &[],
                ),
                attach(&one("a", 2, prefix("/x/yz/"), "a"), &[]),
            ],
            request: get("x", "/x/yz/w").with_header("h", "1"),
            step: "longer prefix (5 > 2 characters)",
        },
        StepCase {
            name: "method match",
            attachments: vec![
                attach(
                    &one("b", 1, prefix("/x").header("h", "1").header("i", "2"), "b"),
                    &[],
                ),
                attach(&one("a", 2, prefix("/x").method("GET"), "a"), &[]),
            ],
            request: get("x", "/x").with_header("h", "1").with_header("i", "2"),
            step: "method match",
        },
        StepCase {
            name: "more header matches",
            attachments: vec![
                attach(
                    &one(
                        "b",
                        1,
                        prefix("/x")
                            .header("h", "1")
                            .query("q", "1")
                            .query("r", "2"),
                        "b",
                    ),
                    &[],
                ),
                attach(
                    &one("a", 2, prefix("/x").header("h", "1").header("i", "2"), "a"),
                    &[],
                ),
            ],
            request: get("x", "/x?q=1&r=2")
                .with_header("h", "1")
                .with_header("i", "2"),
            step: "more header matches (2 > 1)",
        },
        StepCase {
            name: "more query param matches",
            attachments: vec![
                attach(&one("b", 1, prefix("/x").query("q", "1"), "b"), &[]),
                attach(
                    &one("a", 2, prefix("/x").query("q", "1").query("r", "2"), "a"),
                    &[],
                ),
            ],
            request: get("x", "/x?q=1&r=2"),
            step: "more query param matches (2 > 1)",
        },
        StepCase {
            name: "older route",
            attachments: vec![
                attach(&one("a-newer", 20, prefix("/x"), "b"), &[]),
                attach(&one("z-older", 10, prefix("/x"), "a"), &[]),
            ],
            request: get("x", "/x"),
            step: "older route (created 1970-01-01T00:00:10Z, the other 1970-01-01T00:00:20Z)",
        },
        StepCase {
            name: "namespace/name order",
            attachments: vec![
                attach(&one("beta", 10, prefix("/x"), "b"), &[]),
                attach(&one("alpha", 10, prefix("/x"), "a"), &[]),
            ],
            request: get("x", "/x"),
            step: "namespace/name order (infra/alpha < infra/beta)",
        },
        StepCase {
            name: "namespace/name compares the joined string",
            attachments: vec![
                attach(
                    &route_in("a", "y", 10, vec![rule(vec![prefix("/x")], "b")]),
                    &[],
                ),
                attach(
                    &route_in("a-b", "x", 10, vec![rule(vec![prefix("/x")], "a")]),
                    &[],
                ),
            ],
            request: get("x", "/x"),
            step: "namespace/name order (a-b/x < a/y)",
        },
        StepCase {
            name: "earlier rule",
            attachments: vec![attach(
                &route(
                    "r",
                    1,
                    vec![rule(vec![prefix("/x")], "a"), rule(vec![prefix("/x")], "b")],
                ),
                &[],
            )],
            request: get("x", "/x"),
            step: "earlier rule (0 < 1)",
        },
        StepCase {
            name: "earlier match",
            attachments: vec![attach(
                &route("r", 1, vec![rule(vec![prefix("/x"), prefix("/x")], "a")]),
                &[],
            )],
            request: get("x", "/x"),
            step: "earlier match (0 < 1)",
        },
    ];
    for case in cases {
        let table = single(case.attachments);
        let decision = decide(&table, &case.request);
        let text = decision.explanation.render_text();
        assert_eq!(verdict(&decision), "a", "{}:\n{text}", case.name);
        let steps: Vec<String> = decision
            .explanation
            .candidates
            .iter()
            .filter_map(|c| match &c.verdict {
                Verdict::Lost { step, .. } => Some(step.describe()),
                _ => None,
            })
            .collect();
        assert_eq!(steps, vec![case.step.to_string()], "{}:\n{text}", case.name);
    }
}

#[test]
fn fall_through_to_less_specific_hostname() {
    let specific = route(
        "specific",
        1,
        vec![rule(vec![exact("/only")], "exact-host")],
    );
    let wildcard = route("wild", 2, vec![rule(vec![prefix("/")], "wildcard-host")]);
    let table = single(vec![
        attach(&specific, &["foo.example.com"]),
        attach(&wildcard, &["*.example.com"]),
    ]);
    expect_all(
        &table,
        &[
            (get("foo.example.com", "/only"), "exact-host"),
            (get("foo.example.com", "/other"), "wildcard-host"),
            (get("bar.example.com", "/only"), "wildcard-host"),
            (get("example.com", "/only"), "404"),
        ],
    );
    let d = decide(&table, &get("foo.example.com", "/other"));
    assert!(
        d.explanation
            .notes
            .iter()
            .any(|n| n.contains("fell through")),
        "{}",
        d.explanation.render_text()
    );
}

#[test]
fn listener_hostname_matching_picks_most_specific_listener() {
    // HTTPRouteListenerHostnameMatching.
    let v1 = route("v1", 1, vec![rule(vec![], "v1")]);
    let v2 = route("v2", 1, vec![rule(vec![], "v2")]);
    let v3 = route("v3", 1, vec![rule(vec![], "v3")]);
    let table = RoutingTable::build(&[gateway(
        "gw",
        vec![
            http(
                "listener-1",
                Some("bar.com"),
                vec![attach(&v1, &["bar.com"])],
            ),
            http(
                "listener-2",
                Some("foo.bar.com"),
                vec![attach(&v2, &["foo.bar.com"])],
            ),
            http(
                "listener-3",
                Some("*.bar.com"),
                vec![attach(&v3, &["*.bar.com"])],
            ),
            http(
                "listener-4",
                Some("*.foo.com"),
                vec![attach(&v3, &["*.foo.com"])],
            ),
        ],
    )]);
    expect_all(
        &table,
        &[
            (get("bar.com", "/"), "v1"),
            (get("foo.bar.com", "/"), "v2"),
            (get("baz.bar.com", "/"), "v3"),
            (get("boo.bar.com", "/"), "v3"),
            (get("multiple.prefixes.bar.com", "/"), "v3"),
            (get("multiple.prefixes.foo.com", "/"), "v3"),
            (get("foo.com", "/"), "404"),
            (get("no.matching.host", "/"), "404"),
            (get("BAR.com:80", "/"), "v1"),
            (get("Foo.Bar.Com:8080", "/"), "v2"),
        ],
    );
}

#[test]
fn listener_isolation_has_no_fallback() {
    // GatewayHTTPListenerIsolation: the wildcard listener's routes never serve a host that the
    // exact listener takes, even when the exact listener has no matching route.
    let exact_routes = route("exact", 1, vec![rule(vec![exact("/exact")], "exact")]);
    let wildcard_routes = route("wildcard", 1, vec![rule(vec![prefix("/")], "wildcard")]);
    let any_routes = route("any", 1, vec![rule(vec![prefix("/")], "any")]);
    let table = RoutingTable::build(&[gateway(
        "gw",
        vec![
            http("empty", None, vec![attach(&any_routes, &[])]),
            http(
                "wild",
                Some("*.example.com"),
                vec![attach(&wildcard_routes, &["*.example.com"])],
            ),
            http(
                "abc",
                Some("abc.example.com"),
                vec![attach(&exact_routes, &["abc.example.com"])],
            ),
        ],
    )]);
    expect_all(
        &table,
        &[
            (get("abc.example.com", "/exact"), "exact"),
            (get("abc.example.com", "/other"), "404"),
            (get("x.example.com", "/exact"), "wildcard"),
            (get("example.com", "/"), "any"),
            (get("other.org", "/"), "any"),
        ],
    );
    let d = decide(&table, &get("abc.example.com", "/other"));
    let text = d.explanation.render_text();
    assert!(
        text.contains("wild (HTTP, *.example.com): passed over: listener abc is more specific for host abc.example.com (hostname abc.example.com exactly; this one: hostname *.example.com, any subdomain of example.com)"),
        "{text}"
    );
    assert!(
        text.contains("empty (HTTP, any hostname): passed over: listener abc is more specific for host abc.example.com (hostname abc.example.com exactly; this one: no hostname, so any host)"),
        "{text}"
    );
}

#[test]
fn hostless_listener_serves_route_hostnames_only() {
    // HTTPRouteHostnameIntersection, second Gateway.
    let r = route("r", 1, vec![rule(vec![], "v2")]);
    let table = single(vec![attach(
        &r,
        &["first.com", "sub.first.com", "second.com", "sub.second.com"],
    )]);
    expect_all(
        &table,
        &[
            (get("first.com", "/"), "v2"),
            (get("sub.first.com", "/"), "v2"),
            (get("second.com:8080", "/"), "v2"),
            (get("sub.second.com", "/"), "v2"),
            (get("third.com", "/"), "404"),
            (get("other.first.com", "/"), "404"),
        ],
    );
}

#[test]
fn gateway_and_port_selection() {
    let r = route("r", 1, vec![rule(vec![], "v1")]);
    let one = gateway("one", vec![http("http", None, vec![attach(&r, &[])])]);
    let two = gateway("two", vec![http("http", None, vec![attach(&r, &[])])]);
    let table = RoutingTable::build(std::slice::from_ref(&one));
    expect_all(
        &table,
        &[
            (get("x", "/"), "v1"),
            (get("x", "/").on_port(8080), "refused"),
        ],
    );
    let d = decide(&table, &get("x", "/").on_port(8080));
    assert!(
        d.explanation
            .outcome
            .contains("has no listener on port 8080 (ports: 80)"),
        "{}",
        d.explanation.outcome
    );

    let both = RoutingTable::build(&[two.clone(), one.clone()]);
    let d = decide(&both, &get("x", "/"));
    assert_eq!(verdict(&d), "refused");
    assert!(
        d.explanation
            .outcome
            .contains("names no Gateway and the table has 2: infra/one, infra/two")
    );
    let mut named = get("x", "/");
    named.gateway = Some(two.key.clone());
    let d = decide(&both, &named);
    assert_eq!(verdict(&d), "v1");
    assert_eq!(d.provenance.map(|p| p.gateway), Some(two.key.clone()));

    let empty = RoutingTable::build(&[]);
    let d = decide(&empty, &get("x", "/"));
    assert_eq!(verdict(&d), "refused");
    assert!(d.explanation.outcome.contains("no Gateway"));
}

#[test]
fn unusable_listeners_never_take_requests() {
    let r = route("r", 1, vec![rule(vec![], "v1")]);
    let mut broken = http("broken", Some("foo.com"), vec![attach(&r, &["foo.com"])]);
    broken.usable = false;
    broken.unusable_reason = Some("HostnameConflict".to_string());
    let table = RoutingTable::build(&[gateway(
        "gw",
        vec![broken.clone(), http("any", None, vec![attach(&r, &[])])],
    )]);
    let d = decide(&table, &get("foo.com", "/"));
    assert_eq!(verdict(&d), "v1");
    assert_eq!(d.provenance.map(|p| p.listener), Some("any".to_string()));
    assert!(
        d.explanation
            .render_text()
            .contains("broken (HTTP, foo.com): passed over: not usable: HostnameConflict")
    );

    let only_broken = RoutingTable::build(&[gateway("gw", vec![broken])]);
    assert_eq!(
        verdict(&decide(&only_broken, &get("foo.com", "/"))),
        "refused"
    );
}

#[test]
fn weighted_backends_follow_weights_and_never_pick_zero() {
    // HTTPRouteWeight: 70/30/0.
    let r = route(
        "weights",
        1,
        vec![rule_to(
            vec![],
            vec![
                backend_ref(0, "v1", 70),
                backend_ref(1, "v2", 30),
                backend_ref(2, "v3", 0),
            ],
        )],
    );
    let table = single(vec![attach(&r, &[])]);
    let mut rng = rng();
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..10_000 {
        let d = table.decide_fast(&get("x", "/"), &mut rng);
        *counts.entry(verdict(&d)).or_default() += 1;
    }
    assert_eq!(counts.get("v3"), None);
    let v1 = f64::from(counts.get("v1").copied().unwrap_or(0)) / 10_000.0;
    assert!((v1 - 0.7).abs() < 0.02, "v1 share {v1}: {counts:?}");
    assert_eq!(counts.values().sum::<u32>(), 10_000);
}

#[test]
fn server_errors_for_missing_or_invalid_backends() {
    let mut invalid_rule = rule(vec![exact("/invalid-rule")], "v1");
    invalid_rule.invalid = Some("unsupported filter".to_string());
    let r = route(
        "errors",
        1,
        vec![
            rule_to(vec![exact("/none")], vec![]),
            rule_to(vec![exact("/zero")], vec![backend_ref(0, "v1", 0)]),
            rule_to(vec![exact("/invalid")], vec![invalid_ref(0, 1)]),
            invalid_rule,
            rule(vec![prefix("/")], "v1"),
        ],
    );
    let table = single(vec![attach(&r, &[])]);
    expect_all(
        &table,
        &[
            (get("x", "/none"), "500"),
            (get("x", "/zero"), "500"),
            (get("x", "/invalid"), "500"),
            (get("x", "/invalid-rule"), "500"),
            (get("x", "/forward"), "v1"),
        ],
    );
}

#[test]
fn invalid_backend_gets_its_weight_share_of_errors() {
    let r = route(
        "mixed",
        1,
        vec![rule_to(
            vec![],
            vec![backend_ref(0, "v1", 1), invalid_ref(1, 1)],
        )],
    );
    let table = single(vec![attach(&r, &[])]);
    let mut rng = rng();
    let errors = (0..2_000)
        .filter(|_| verdict(&table.decide_fast(&get("x", "/"), &mut rng)) == "500")
        .count();
    assert!((900..1100).contains(&errors), "{errors} of 2000 were 500");
}

#[test]
fn decide_fast_and_decide_agree() {
    let r = route(
        "r",
        1,
        vec![rule_to(
            vec![prefix("/")],
            vec![backend_ref(0, "v1", 1), backend_ref(1, "v2", 1)],
        )],
    );
    let table = single(vec![attach(&r, &[])]);
    let mut full_rng = rng();
    let mut fast_rng = rng();
    let mut outcome_rng = rng();
    for i in 0..50 {
        let req = get("x", &format!("/{i}"));
        let full = table.decide(&req, &mut full_rng);
        let fast = table.decide_fast(&req, &mut fast_rng);
        assert_eq!(full.outcome, fast.outcome);
        assert_eq!(full.provenance, fast.provenance);
        assert!(full.provenance.is_some());
        assert!(full.explanation.detailed && !fast.explanation.detailed);
        // The outcome alone: the same, drawn the same way (the weighted backends above).
        assert_eq!(table.decide_outcome(&req, &mut outcome_rng), full.outcome);
    }
}

#[test]
fn decisions_are_deterministic_and_independent_of_input_order() {
    let a = route(
        "a",
        1,
        vec![
            rule(vec![prefix("/a")], "va"),
            rule(vec![prefix("/")], "root"),
        ],
    );
    let b = route("b", 1, vec![rule(vec![prefix("/a")], "vb")]);
    let forward = single(vec![attach(&a, &[]), attach(&b, &[])]);
    let backward = single(vec![attach(&b, &[]), attach(&a, &[])]);
    for path in ["/", "/a", "/a/b", "/b"] {
        let x = decide(&forward, &get("x", path));
        let y = decide(&backward, &get("x", path));
        assert_eq!(x, y, "{path}");
        assert_eq!(x.explanation.render_text(), y.explanation.render_text());
    }
    // A clone decides the same.
    let clone = forward.clone();
    assert_eq!(
        decide(&clone, &get("x", "/a")),
        decide(&forward, &get("x", "/a"))
    );
    let _ = Arc::strong_count(&a);
    let _ = Protocol::Http;
}

fn misdirected_table() -> RoutingTable {
    // HTTPRouteHTTPSListenerDetectMisdirectedRequests: four HTTPS listeners on 443, one route
    // each.
    let one = |name: &str, backend: &str| {
        route(
            name,
            1,
            vec![rule(vec![prefix("/detect-misdirected-requests")], backend)],
        )
    };
    RoutingTable::build(&[gateway(
        "gw",
        vec![
            https(
                "https",
                None,
                vec![attach(&one("test-1", "v1"), &["example.org"])],
            ),
            https(
                "https-with-hostname",
                Some("second-example.org"),
                vec![attach(&one("test-2", "v2"), &["second-example.org"])],
            ),
            https(
                "https-wildcard",
                Some("*.wildcard.org"),
                vec![attach(&one("test-3", "v3"), &["*.wildcard.org"])],
            ),
            https(
                "https-fourth",
                Some("fourth-example.wildcard.org"),
                vec![attach(
                    &one("test-4", "v1"),
                    &["fourth-example.wildcard.org"],
                )],
            ),
        ],
    )])
}

#[test]
fn https_misdirected_requests() {
    let table = misdirected_table();
    let cases = [
        ("example.org", "example.org", "v1"),
        ("example.org", "second-example.org", "421"),
        ("example.org", "unknown-example.org", "404"),
        ("second-example.org", "second-example.org", "v2"),
        ("second-example.org", "example.org", "421"),
        ("second-example.org", "unknown-example.org", "421"),
        (
            "third-example.wildcard.org",
            "third-example.wildcard.org",
            "v3",
        ),
        (
            "third-example.wildcard.org",
            "fith-example.wildcard.org",
            "v3",
        ),
        (
            "third-example.wildcard.org",
            "fourth-example.wildcard.org",
            "421",
        ),
        ("third-example.wildcard.org", "second-example.org", "421"),
        ("third-example.wildcard.org", "unknown-example.org", "421"),
        (
            "fourth-example.wildcard.org",
            "fourth-example.wildcard.org",
            "v1",
        ),
        (
            "fourth-example.wildcard.org",
            "fith-example.wildcard.org",
            "421",
        ),
        ("unknown-example.org", "example.org", "v1"),
        ("unknown-example.org", "unknown-example.org", "404"),
    ];
    for (sni, host, expected) in cases {
        let request = get(host, "/detect-misdirected-requests").tls(sni);
        let d = decide(&table, &request);
        assert_eq!(
            verdict(&d),
            expected,
            "SNI {sni} Host {host}\n{}",
            d.explanation.render_text()
        );
    }
}

#[test]
fn https_listener_selection_edge_cases() {
    let table = misdirected_table();
    // Without SNI the Host (without port) stands in for it.
    let mut request = get("second-example.org:443", "/detect-misdirected-requests").tls("x");
    request.sni = None;
    assert_eq!(verdict(&decide(&table, &request)), "v2");
    // A plain-text request on the HTTPS port finds no HTTP listener.
    let d = decide(&table, &get("example.org", "/").on_port(443));
    assert_eq!(verdict(&d), "refused");
    assert!(
        d.explanation
            .outcome
            .contains("no usable HTTP listener on port 443")
    );

    // An SNI no listener serves fails the handshake.
    let only_named = RoutingTable::build(&[gateway(
        "gw",
        vec![https("named", Some("a.example.com"), Vec::new())],
    )]);
    let d = decide(&only_named, &get("a.example.com", "/").tls("b.example.com"));
    assert_eq!(verdict(&d), "refused");
    assert!(d.explanation.outcome.contains("TLS handshake fails"));

    // The explanation says why a 421 happened.
    let d = decide(
        &table,
        &get("fourth-example.wildcard.org", "/").tls("third-example.wildcard.org"),
    );
    let text = d.explanation.render_text();
    assert!(
        text.contains("https-wildcard (HTTPS, *.wildcard.org): passed over: selected by SNI third-example.wildcard.org, but another listener matches host fourth-example.wildcard.org more specifically"),
        "{text}"
    );
    assert!(text.contains("outcome: 421: misdirected request"), "{text}");
}

#[test]
fn grpc_requests_use_grpc_routes_when_the_listener_has_them() {
    let http_route = route("web", 1, vec![rule(vec![prefix("/")], "web")]);
    let mut grpc_config = (*route(
        "grpc",
        1,
        vec![rule(vec![exact("/echo.Echo/Say")], "grpc-echo")],
    ))
    .clone();
    grpc_config.kind = RouteKind::Grpc;
    grpc_config.key.kind = crate::object::Kind::GrpcRoute;
    let grpc_route = Arc::new(grpc_config);
    let both = single(vec![attach(&http_route, &[]), attach(&grpc_route, &[])]);
    let grpc_call = |path: &str| {
        get("x", path)
            .with_method("POST")
            .with_header("Content-Type", "application/grpc")
    };
    expect_all(
        &both,
        &[
            (grpc_call("/echo.Echo/Say"), "grpc-echo"),
            (grpc_call("/echo.Echo/Other"), "404"),
            (get("x", "/echo.Echo/Say"), "web"),
        ],
    );
    let http_only = single(vec![attach(&http_route, &[])]);
    expect_all(&http_only, &[(grpc_call("/echo.Echo/Say"), "web")]);
}

#[test]
fn listener_wildcard_depth_decides() {
    let deep = route("deep", 1, vec![rule(vec![], "deep")]);
    let shallow = route("shallow", 1, vec![rule(vec![], "shallow")]);
    let table = RoutingTable::build(&[gateway(
        "gw",
        vec![
            http(
                "shallow",
                Some("*.example.com"),
                vec![attach(&shallow, &["*.example.com"])],
            ),
            http(
                "deep",
                Some("*.foo.example.com"),
                vec![attach(&deep, &["*.foo.example.com"])],
            ),
        ],
    )]);
    expect_all(
        &table,
        &[
            (get("a.foo.example.com", "/"), "deep"),
            (get("a.b.foo.example.com", "/"), "deep"),
            (get("foo.example.com", "/"), "shallow"),
            (get("a.bar.example.com", "/"), "shallow"),
            (get("example.com", "/"), "404"),
        ],
    );
}

#[test]
fn long_candidate_lists_are_bounded() {
    let rules: Vec<_> = (0..60)
        .map(|i| rule(vec![exact(&format!("/p{i}"))], "v1"))
        .collect();
    let r = route("many", 1, rules);
    let other = route("other", 1, vec![rule(vec![prefix("/")], "v2")]);
    let table = single(vec![attach(&r, &[]), attach(&other, &["elsewhere.com"])]);
    let d = decide(&table, &get("x", "/nothing"));
    assert_eq!(verdict(&d), "404");
    let ex = &d.explanation;
    assert_eq!(ex.candidates.len(), LISTED_NON_MATCHING);
    assert_eq!(ex.unlisted_candidates, 60 - LISTED_NON_MATCHING);
    assert_eq!(ex.other_hostname_entries, 1);
    let text = ex.render_text();
    assert!(
        text.contains("... and 40 more that did not match"),
        "{text}"
    );
    assert!(
        text.contains("(1 entry of the listener serves other hostnames, not listed)"),
        "{text}"
    );

    let d = decide(&table, &get("x", "/p59"));
    assert_eq!(verdict(&d), "v1");
    assert!(
        d.explanation
            .candidates
            .iter()
            .any(|c| c.verdict == Verdict::Won && c.description.as_ref() == "Exact /p59"),
        "the winner is always listed"
    );
}

#[test]
fn explanation_text_for_a_404() {
    let r = route(
        "matching",
        100,
        vec![
            rule(vec![prefix("/v2").header("version", "two")], "v2"),
            rule(vec![exact("/v1").method("POST")], "v1"),
        ],
    );
    let table = single(vec![attach(&r, &["example.com"])]);
    let d = decide(
        &table,
        &get("Example.com:80", "/v2/x").with_header("Version", "three"),
    );
    let expected = "\
request: GET http://Example.com:80/v2/x (port 80)
gateway: Gateway infra/gw (the only Gateway)
listeners:
  http (HTTP, any hostname): chosen: the most specific listener for host example.com (no hostname, so any host)
candidates, in precedence order:
  1. HTTPRoute infra/matching rule 1 match 0 [example.com] Exact /v1, method POST: did not match: path: Exact /v1 does not match /v2/x
  2. HTTPRoute infra/matching rule 0 match 0 [example.com] PathPrefix /v2, header version=two: did not match: header `version` differs: \"two\" wanted, request has \"three\"
outcome: 404: no route matched on listener http
";
    assert_eq!(d.explanation.render_text(), expected);
}

#[test]
fn explanation_text_for_a_forward_with_filters() {
    let mut rewrite_rule = rule_to(
        vec![prefix("/api")],
        vec![backend_ref(0, "v1", 3), backend_ref(1, "v2", 1)],
    );
    rewrite_rule.name = Some("api".to_string());
    rewrite_rule.filters = vec![
        crate::config::Filter::RequestHeaderModifier(crate::config::HeaderModifier {
            set: vec![("X-Env".to_string(), "prod".to_string())],
            add: Vec::new(),
            remove: Vec::new(),
        }),
        crate::config::Filter::UrlRewrite(crate::config::UrlRewrite {
            hostname: Some("internal.example".to_string()),
            path: Some(crate::config::PathModifier::ReplacePrefixMatch(
                "/".to_string(),
            )),
        }),
    ];
    let r = route(
        "api",
        100,
        vec![rule(vec![prefix("/")], "web"), rewrite_rule],
    );
    let table = single(vec![attach(&r, &[])]);
    let d = decide(&table, &get("example.com", "/api/users?id=1"));
    let expected = "\
request: GET http://example.com/api/users?id=1 (port 80)
gateway: Gateway infra/gw (the only Gateway)
listeners:
  http (HTTP, any hostname): chosen: the most specific listener for host example.com (no hostname, so any host)
candidates, in precedence order:
  1. HTTPRoute infra/api rule 1 (api) match 0 [*] PathPrefix /api: matched and won
  2. HTTPRoute infra/api rule 0 match 0 [*] PathPrefix /: matched, lost to #1: longer prefix (4 > 1 characters)
filters:
  rule RequestHeaderModifier: header x-env (none) -> prod
  rule URLRewrite: host example.com -> internal.example
  rule URLRewrite: path /api/users?id=1 -> /users?id=1
backend: Service infra/v1:8080 (backendRef 0, weight 3 of 4)
outcome: forwarded to Service infra/v1:8080
";
    assert_eq!(d.explanation.render_text(), expected);
    assert_eq!(
        d.provenance,
        Some(Provenance {
            gateway: crate::object::ObjectKey::new(crate::object::Kind::Gateway, NS, "gw"),
            listener: "http".to_string(),
            route: r.key.clone(),
            rule_index: 1,
            rule_name: Some("api".to_string()),
            match_index: 0,
        })
    );
}

#[test]
fn explanation_text_for_a_misdirected_request() {
    let table = misdirected_table();
    let d = decide(
        &table,
        &get("second-example.org", "/detect-misdirected-requests").tls("example.org"),
    );
    let expected = "\
request: GET https://second-example.org/detect-misdirected-requests (port 443), SNI example.org
gateway: Gateway infra/gw (the only Gateway)
listeners:
  https (HTTPS, any hostname): passed over: selected by SNI example.org, but another listener matches host second-example.org more specifically
  https-with-hostname (HTTPS, second-example.org): passed over: the most specific listener for host second-example.org (hostname second-example.org exactly), but SNI example.org selected listener https
  https-wildcard (HTTPS, *.wildcard.org): passed over: hostname *.wildcard.org does not cover host second-example.org
  https-fourth (HTTPS, fourth-example.wildcard.org): passed over: hostname fourth-example.wildcard.org does not cover host second-example.org
outcome: 421: misdirected request: SNI example.org selected listener https, but Host second-example.org belongs to listener https-with-hostname
";
    assert_eq!(d.explanation.render_text(), expected);
}

#[test]
fn regex_matches_are_noted_as_implementation_specific() {
    let r = route("re", 1, vec![rule(vec![regex_path("/v[0-9]+")], "v1")]);
    let table = single(vec![attach(&r, &[])]);
    let d = decide(&table, &get("x", "/v12"));
    assert_eq!(verdict(&d), "v1");
    assert!(
        d.explanation
            .notes
            .iter()
            .any(|n| n.contains("implementation-specific"))
    );
    assert_eq!(verdict(&decide(&table, &get("x", "/v12/x"))), "404");
}

/// Issue 10, finding 6: a lookup hashed every `/`-prefix of the path (and every `.`-suffix of
/// the host) whole, quadratic in their length: 100,000 slashes took 5.8 s. The bytes the index
/// hashes must grow linearly.
#[test]
fn index_lookups_are_linear_in_path_and_host_length() {
    use super::index::HASHED_BYTES;

    let r = route(
        "deep",
        1,
        vec![
            rule(vec![prefix("/a/b")], "ab"),
            rule(vec![prefix("/"), exact("/x")], "root"),
        ],
    );
    let table = single(vec![attach(&r, &["*.example.com", "*.com"])]);
    for slashes in [1_000usize, 20_000] {
        let path = format!("/a/b{}", "/".repeat(slashes));
        let host = format!("{}example.com", "a.".repeat(slashes));
        HASHED_BYTES.with(|n| n.set(0));
        let decision = decide(&table, &get(&host, &path));
        let fast = table.decide_fast(&get(&host, &path), &mut rng());
        let hashed = HASHED_BYTES.with(|n| n.get());
        assert_eq!(verdict(&decision), "ab");
        assert_eq!(verdict(&fast), "ab");
        let input = path.len() + host.len();
        assert!(
            hashed <= 8 * input + 4096,
            "{slashes} slashes: {hashed} bytes hashed for {input} bytes of input"
        );
    }
}

/// The index must pick what a plain scan over every entry, sorted by the precedence key,
/// picks.
#[test]
fn index_agrees_with_a_linear_scan() {
    use rand::{Rng, SeedableRng};

    use super::hostname::{HostRank, pattern_covers};
    use super::matching::RequestView;
    use super::precedence::PrecedenceKey;

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let hostnames = [
        "a.example.com",
        "*.example.com",
        "b.a.example.com",
        "*.a.example.com",
    ];
    // Deep, doubled and trailing slashes: the prefix trie walks segments, so empty segments
    // and keys that are prefixes of one another must come out as a plain scan has them.
    let paths = [
        "/",
        "/a",
        "/a/b",
        "/a/b/c",
        "/ab",
        "/b",
        "/a/",
        "/a//b",
        "//",
        "/a/b/c/d/e",
        "/a/b//",
    ];
    let mut attachments = Vec::new();
    for r in 0..60 {
        let rules = (0..rng.random_range(1..4))
            .map(|i| {
                let path = paths[rng.random_range(0..paths.len())];
                let mut m = match rng.random_range(0..3) {
                    0 => exact(path),
                    1 => prefix(path),
                    _ => regex_path(&format!("{path}.*")),
                };
                if rng.random_bool(0.3) {
                    m = m.method(if rng.random_bool(0.5) { "GET" } else { "POST" });
                }
                // A bare prefix `/` would match every request: give those a condition, so some
                // requests match nothing.
                let catch_all = path == "/"
                    || matches!(&m.path, crate::config::PathMatch::Prefix(p) if p.trim_end_matches('/').is_empty());
                if catch_all || rng.random_bool(0.3) {
                    m = m.header("v", if rng.random_bool(0.5) { "1" } else { "2" });
                }
                if rng.random_bool(0.2) {
                    m = m.query("q", "1");
                }
                rule(vec![m], &format!("r{r}-{i}"))
            })
            .collect();
        let route = route(&format!("route-{r:02}"), rng.random_range(0..5), rules);
        let chosen: Vec<&str> = hostnames
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.3))
            .collect();
        attachments.push(attach(&route, &chosen));
    }
    let table = single(attachments.clone());

    let hosts = [
        "a.example.com",
        "b.a.example.com",
        "c.example.com",
        "x.b.a.example.com",
        "other.org",
        "x.y.z.w.b.a.example.com",
        "example.com",
    ];
    let (mut matched, mut unmatched) = (0, 0);
    for _ in 0..4_000 {
        let host = hosts[rng.random_range(0..hosts.len())];
        let path = format!(
            "{}{}",
            paths[rng.random_range(0..paths.len())],
            ["", "/x", "?q=1", "x", "/", "//", "/a/b", "/c/d/e/f"][rng.random_range(0..8)]
        );
        let mut request = get(host, &path);
        if rng.random_bool(0.5) {
            request = request.with_method("POST");
        }
        if rng.random_bool(0.5) {
            request = request.with_header("V", if rng.random_bool(0.5) { "1" } else { "2" });
        }

        let view = RequestView::new(&request);
        let mut all = Vec::new();
        for a in &attachments {
            let names: Vec<Option<&str>> = if a.hostnames.is_empty() {
                vec![None]
            } else {
                a.hostnames.iter().map(|h| Some(h.as_str())).collect()
            };
            for name in names {
                if name.is_some_and(|n| !pattern_covers(n, &view.host)) {
                    continue;
                }
                for rule in &a.route.rules {
                    for m in &rule.matches {
                        let key = PrecedenceKey::new(HostRank::of(name), &a.route, rule.index, m);
                        all.push((key, a.route.key.clone(), rule.index, m));
                    }
                }
            }
        }
        all.sort_by(|x, y| x.0.cmp(&y.0));
        let expected = all
            .iter()
            .find(|(_, _, _, m)| check_match(m, &view).is_ok())
            .map(|(_, route, rule, _)| (route.clone(), *rule));

        let got = decide(&table, &request)
            .provenance
            .map(|p| (p.route, p.rule_index));
        assert_eq!(
            got, expected,
            "{host}{path} {:?} {:?}",
            request.method, request.headers
        );
        let fast = table
            .decide_fast(&request, &mut super::testutil::rng())
            .provenance
            .map(|p| (p.route, p.rule_index));
        assert_eq!(fast, expected);
        if expected.is_some() {
            matched += 1;
        } else {
            unmatched += 1;
        }
    }
    assert!(
        matched > 500 && unmatched > 100,
        "{matched} matched, {unmatched} not"
    );
}
