//! Property tests (proptest): the precedence order is a strict total order that does not
//! depend on the order routes come in, and hostname intersection is symmetric and agrees with
//! its definition over concrete hosts.

use proptest::prelude::*;

use super::RoutingTable;
use super::hostname::{HostRank, pattern_covers};
use super::precedence::PrecedenceKey;
use super::testutil::*;
use crate::config::{RouteAttachment, RouteMatch};
use crate::controller::routes::effective_hostnames;
use crate::decision::Request;

const PATHS: [&str; 8] = ["/", "/a", "/a/", "/a/b", "/ab", "//", "/a//b", "/a/b/c"];
const HOSTNAMES: [&str; 6] = [
    "a.example.com",
    "*.example.com",
    "b.a.example.com",
    "*.a.example.com",
    "example.com",
    "*.com",
];

/// One match from a few numbers: path kind and value, and optional conditions.
fn a_match() -> impl Strategy<Value = RouteMatch> {
    (0..3u8, 0..PATHS.len(), any::<bool>(), 0..3u8, any::<bool>()).prop_map(
        |(kind, path, method, headers, query)| {
            let path = PATHS[path];
            let mut m = match kind {
                0 => exact(path),
                1 => prefix(path),
                _ => regex_path(&format!("^(?:{}.*)$", regex::escape(path))),
            };
            if method {
                m = m.method("GET");
            }
            for h in 0..headers {
                m = m.header(&format!("h{h}"), "1");
            }
            if query {
                m = m.query("q", "1");
            }
            m
        },
    )
}

/// Routes with distinct names, each with rules of matches, creation times that often tie,
/// and some hostnames.
fn routes() -> impl Strategy<Value = Vec<RouteAttachment>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(proptest::collection::vec(a_match(), 1..3), 1..3),
            0..3i64,
            proptest::collection::vec(0..HOSTNAMES.len(), 0..3),
        ),
        1..8,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (rules, created, hosts))| {
                let rules = rules
                    .into_iter()
                    .enumerate()
                    .map(|(r, matches)| {
                        let matches = matches
                            .into_iter()
                            .enumerate()
                            .map(|(index, mut m)| {
                                m.index = index;
                                m
                            })
                            .collect();
                        rule(matches, &format!("b{i}-{r}"))
                    })
                    .collect();
                let hostnames: Vec<&str> = hosts.into_iter().map(|h| HOSTNAMES[h]).collect();
                attach(&route(&format!("r{i}"), created, rules), &hostnames)
            })
            .collect()
    })
}

fn keys(attachments: &[RouteAttachment]) -> Vec<PrecedenceKey> {
    let mut out = Vec::new();
    for a in attachments {
        let names: Vec<Option<&str>> = if a.hostnames.is_empty() {
            vec![None]
        } else {
            a.hostnames.iter().map(|h| Some(h.as_str())).collect()
        };
        for name in names {
            for rule in &a.route.rules {
                for m in &rule.matches {
                    out.push(PrecedenceKey::new(
                        HostRank::of(name),
                        &a.route,
                        rule.index,
                        m,
                    ));
                }
            }
        }
    }
    out
}

fn table(attachments: Vec<RouteAttachment>) -> RoutingTable {
    RoutingTable::build(&[gateway("gw", vec![http("http", None, attachments)])])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Two entries compare equal only when they are the same (hostname, route, rule, match),
    /// and the order is transitive: a strict total order, so sorting has one answer.
    #[test]
    fn precedence_is_a_strict_total_order(attachments in routes()) {
        let keys = keys(&attachments);
        for a in &keys {
            for b in &keys {
                let same = (a.host, &a.route, a.rule_index, a.match_index)
                    == (b.host, &b.route, b.rule_index, b.match_index);
                prop_assert_eq!(a.cmp(b) == std::cmp::Ordering::Equal, same);
                prop_assert_eq!(a.cmp(b), b.cmp(a).reverse());
                for c in &keys {
                    if a < b && b < c {
                        prop_assert!(a < c);
                    }
                }
            }
        }
    }

    /// The order routes are given in changes nothing: the sorted keys and every decision are
    /// the same for a shuffled input.
    #[test]
    fn precedence_does_not_depend_on_input_order(
        attachments in routes(),
        seed in any::<u64>(),
        requests in proptest::collection::vec(
            (0..HOSTNAMES.len(), 0..PATHS.len(), 0..3usize, any::<bool>(), any::<bool>()),
            1..12,
        ),
    ) {
        let mut shuffled = attachments.clone();
        // A Fisher-Yates shuffle driven by the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut first = keys(&attachments);
        let mut second = keys(&shuffled);
        first.sort();
        second.sort();
        prop_assert_eq!(&first, &second);

        let (one, two) = (table(attachments), table(shuffled));
        for (host, path, headers, get, query) in requests {
            let host = HOSTNAMES[host].replace('*', "x");
            let path = format!("{}{}", PATHS[path], if query { "?q=1" } else { "" });
            let mut request = Request::get(&host, &path);
            if !get {
                request = request.with_method("POST");
            }
            for h in 0..headers {
                request = request.with_header(&format!("H{h}"), "1");
            }
            let a = decide(&one, &request);
            let b = decide(&two, &request);
            prop_assert_eq!(&a.provenance, &b.provenance);
            prop_assert_eq!(&a.outcome, &b.outcome);
        }
    }

    /// Listener and route hostname intersection: symmetric in what it admits, and the result
    /// covers exactly the concrete hosts both patterns cover.
    #[test]
    fn hostname_intersection_is_symmetric_and_agrees_with_its_definition(
        listener in hostname(),
        route_host in hostname(),
    ) {
        let forward = effective_hostnames(Some(&listener), std::slice::from_ref(&route_host));
        let backward = effective_hostnames(Some(&route_host), std::slice::from_ref(&listener));
        prop_assert_eq!(&forward, &backward);

        let both = |host: &str| pattern_covers(&listener, host) && pattern_covers(&route_host, host);
        let hosts = concrete_hosts();
        match forward.as_deref() {
            Some([one]) => {
                for host in &hosts {
                    prop_assert_eq!(pattern_covers(one, host), both(host), "{} on {}", one, host);
                }
            }
            Some(other) => prop_assert!(false, "one hostname expected, got {:?}", other),
            None => {
                for host in &hosts {
                    prop_assert!(!both(host), "{} and {} both cover {}", listener, route_host, host);
                }
            }
        }
    }
}

const LABELS: [&str; 3] = ["a", "b", "example"];

/// `*.` or not, then one to three labels from a small alphabet, so patterns often overlap.
fn hostname() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::collection::vec(0..LABELS.len(), 1..4),
    )
        .prop_map(|(wild, labels)| {
            let name = labels
                .iter()
                .map(|l| LABELS[*l])
                .collect::<Vec<_>>()
                .join(".");
            if wild { format!("*.{name}") } else { name }
        })
}

/// Every host of one to five labels from the alphabet: the universe the definition is
/// checked over (a wildcard covers one or more labels, so five reach past any pattern).
fn concrete_hosts() -> Vec<String> {
    let mut out: Vec<String> = LABELS.iter().map(|l| l.to_string()).collect();
    let mut last = out.clone();
    for _ in 1..5 {
        let next: Vec<String> = last
            .iter()
            .flat_map(|h| LABELS.iter().map(move |l| format!("{l}.{h}")))
            .collect();
        out.extend(next.iter().cloned());
        last = next;
    }
    out
}

#[test]
fn properties_see_failures() {
    // A negative check of the definition itself: a wrong "intersection" is caught.
    let hosts = concrete_hosts();
    let wrong = "*.example";
    let (l, r) = ("*.a.example", "b.a.example");
    assert!(
        hosts
            .iter()
            .any(|h| pattern_covers(wrong, h) != (pattern_covers(l, h) && pattern_covers(r, h))),
        "the universe tells a wrong intersection from the right one"
    );
}
