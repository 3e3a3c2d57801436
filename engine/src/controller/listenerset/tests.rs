//! ListenerSet tests: documents admitted as the API server would (defaults applied), then
//! reconciled; statuses and the data plane's listeners checked.

use gateway_api::apis::experimental::listenersets::ListenerSetStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

use crate::admission::admit;
use crate::controller::{ControllerConfig, Reconciliation, StatusUpdate, reconcile};
use crate::object::{Kind, ObjectKey, Snapshot};

/// A snapshot from `---`-separated YAML documents, each admitted.
fn snapshot(docs: &[String]) -> Snapshot {
    let mut s = Snapshot::new();
    for doc in docs {
        let value: serde_json::Value = serde_saphyr::from_str(doc).expect("fixture is YAML");
        match admit(&value, None) {
            Ok(object) => s.insert(object),
            Err(e) => panic!("fixture refused: {e}\n{doc}"),
        }
    }
    s
}

fn run(docs: &[String]) -> Reconciliation {
    let now = Timestamp::from_second(1_700_000_000).expect("valid time");
    reconcile(&snapshot(docs), &ControllerConfig::default(), now)
}

fn base() -> Vec<String> {
    vec![
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gwsim}\nspec: {controllerName: gateway.gwsim.dev/controller}\n".to_string(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: infra}\n".to_string(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {sets: allowed}}\n".to_string(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n".to_string(),
        "apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: infra}\nspec: {ports: [{port: 8080}]}\n".to_string(),
    ]
}

/// Gateway `infra/gw`; `allowed` is the `allowedListeners` value in flow style (empty: none).
fn gateway(allowed: &str, listeners: &str) -> String {
    let allowed = if allowed.is_empty() {
        String::new()
    } else {
        format!("  allowedListeners: {allowed}\n")
    };
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: gwsim\n{allowed}  listeners: {listeners}\n"
    )
}

/// A ListenerSet of `infra/gw` created at `created` (seconds past a fixed instant).
fn set(ns: &str, name: &str, created: i64, listeners: &str) -> String {
    let time = Timestamp::from_second(1_600_000_000 + created).expect("valid time");
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {{name: {name}, namespace: {ns}, creationTimestamp: \"{time}\"}}\nspec:\n  parentRef: {{name: gw, namespace: infra}}\n  listeners: {listeners}\n"
    )
}

/// An HTTPRoute in `infra` to `svc` with the given parentRefs (flow style).
fn route(name: &str, parents: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: infra}}\nspec:\n  parentRefs: {parents}\n  rules: [{{backendRefs: [{{name: svc, port: 8080}}]}}]\n"
    )
}

const HTTP_ALL: &str = "allowedRoutes: {namespaces: {from: All}}";

fn http(name: &str, host: &str) -> String {
    format!("{{name: {name}, port: 80, protocol: HTTP, hostname: {host}, {HTTP_ALL}}}")
}

fn set_status<'r>(r: &'r Reconciliation, ns: &str, name: &str) -> &'r ListenerSetStatus {
    match r.statuses.get(&ObjectKey::new(Kind::ListenerSet, ns, name)) {
        Some(StatusUpdate::ListenerSet(s)) => s,
        other => panic!("no ListenerSet status for {ns}/{name}: {other:?}"),
    }
}

/// `(status, reason)` of one condition.
fn cond(conditions: &[Condition], type_: &str) -> (String, String) {
    let c = conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} in {conditions:?}"));
    (c.status.clone(), c.reason.clone())
}

fn is(status: &str, reason: &str) -> (String, String) {
    (status.to_string(), reason.to_string())
}

fn set_accepted(r: &Reconciliation, ns: &str, name: &str) -> (String, String) {
    cond(
        set_status(r, ns, name)
            .conditions
            .as_deref()
            .unwrap_or_default(),
        "Accepted",
    )
}

fn set_listener_conditions(
    r: &Reconciliation,
    ns: &str,
    set: &str,
    listener: &str,
) -> Vec<Condition> {
    set_status(r, ns, set)
        .listeners
        .iter()
        .flatten()
        .find(|l| l.name == listener)
        .unwrap_or_else(|| panic!("no listener {listener} in {ns}/{set}"))
        .conditions
        .clone()
}

fn attached_listener_sets(r: &Reconciliation) -> Option<i32> {
    match r
        .statuses
        .get(&ObjectKey::new(Kind::Gateway, "infra", "gw"))
    {
        Some(StatusUpdate::Gateway(s)) => s.attached_listener_sets,
        other => panic!("no Gateway status: {other:?}"),
    }
}

#[test]
fn allowed_listeners_decides_which_sets_attach() {
    struct Case {
        name: &'static str,
        allowed: &'static str,
        set_namespace: &'static str,
        /// Set Accepted (status, reason) and the Gateway's attachedListenerSets.
        expected: (&'static str, &'static str, i32),
    }
    let cases = [
        Case {
            name: "absent: none",
            allowed: "",
            set_namespace: "infra",
            expected: ("False", "NotAllowed", 0),
        },
        Case {
            name: "from None",
            allowed: "{namespaces: {from: None}}",
            set_namespace: "infra",
            expected: ("False", "NotAllowed", 0),
        },
        Case {
            name: "defaulted namespaces (None)",
            allowed: "{}",
            set_namespace: "infra",
            expected: ("False", "NotAllowed", 0),
        },
        Case {
            name: "Same, same namespace",
            allowed: "{namespaces: {from: Same}}",
            set_namespace: "infra",
            expected: ("True", "Accepted", 1),
        },
        Case {
            name: "Same, other namespace",
            allowed: "{namespaces: {from: Same}}",
            set_namespace: "apps",
            expected: ("False", "NotAllowed", 0),
        },
        Case {
            name: "Selector, labelled namespace",
            allowed: "{namespaces: {from: Selector, selector: {matchLabels: {sets: allowed}}}}",
            set_namespace: "apps",
            expected: ("True", "Accepted", 1),
        },
        Case {
            name: "Selector, unlabelled namespace",
            allowed: "{namespaces: {from: Selector, selector: {matchLabels: {sets: allowed}}}}",
            set_namespace: "other",
            expected: ("False", "NotAllowed", 0),
        },
        Case {
            name: "Selector without selector selects nothing",
            allowed: "{namespaces: {from: Selector}}",
            set_namespace: "apps",
            expected: ("False", "NotAllowed", 0),
        },
        Case {
            name: "All",
            allowed: "{namespaces: {from: All}}",
            set_namespace: "other",
            expected: ("True", "Accepted", 1),
        },
    ];
    for case in cases {
        let mut docs = base();
        docs.push(gateway(
            case.allowed,
            &format!("[{}]", http("gw-http", "gw.example")),
        ));
        docs.push(set(
            case.set_namespace,
            "s",
            0,
            &format!("[{}]", http("set-http", "set.example")),
        ));
        let r = run(&docs);
        let (status, reason, count) = case.expected;
        assert_eq!(
            set_accepted(&r, case.set_namespace, "s"),
            is(status, reason),
            "{}",
            case.name
        );
        let programmed = cond(
            set_status(&r, case.set_namespace, "s")
                .conditions
                .as_deref()
                .unwrap_or_default(),
            "Programmed",
        );
        let want_programmed = if status == "True" {
            "Programmed"
        } else {
            reason
        };
        assert_eq!(programmed, is(status, want_programmed), "{}", case.name);
        assert_eq!(attached_listener_sets(&r), Some(count), "{}", case.name);
        // Only an attached set's listeners reach the data plane, marked with the set.
        let set_key = ObjectKey::new(Kind::ListenerSet, case.set_namespace, "s");
        let from_set: Vec<&str> = r.gateways[0]
            .listeners
            .iter()
            .filter(|l| l.listener_set.as_ref() == Some(&set_key))
            .map(|l| l.name.as_str())
            .collect();
        let want: &[&str] = if status == "True" { &["set-http"] } else { &[] };
        assert_eq!(from_set, want, "{}", case.name);
        let listed = set_status(&r, case.set_namespace, "s")
            .listeners
            .as_ref()
            .map(Vec::len);
        assert_eq!(listed, Some(want.len()), "{}", case.name);
    }
}

#[test]
fn conflicts_follow_listener_precedence() {
    struct Case {
        name: &'static str,
        gateway: String,
        /// (name, created, listeners)
        sets: Vec<(&'static str, i64, String)>,
        /// (set, listener, Accepted status, reason)
        listeners: Vec<(&'static str, &'static str, &'static str, &'static str)>,
        /// (set, Accepted status, reason)
        sets_accepted: Vec<(&'static str, &'static str, &'static str)>,
        attached: i32,
    }
    let gw = || {
        gateway(
            "{namespaces: {from: Same}}",
            &format!("[{}]", http("gw-a", "a.example")),
        )
    };
    let cases = [
        Case {
            name: "same hostname as the Gateway's listener loses",
            gateway: gw(),
            sets: vec![(
                "s",
                0,
                format!(
                    "[{}, {}]",
                    http("dup", "a.example"),
                    http("own", "own.example")
                ),
            )],
            listeners: vec![
                ("s", "dup", "False", "HostnameConflict"),
                ("s", "own", "True", "Accepted"),
            ],
            sets_accepted: vec![("s", "True", "ListenersNotValid")],
            attached: 1,
        },
        Case {
            name: "older set wins even when its name sorts later",
            gateway: gw(),
            sets: vec![
                ("z-old", 0, format!("[{}]", http("x", "x.example"))),
                ("a-new", 5, format!("[{}]", http("x", "x.example"))),
            ],
            listeners: vec![
                ("z-old", "x", "True", "Accepted"),
                ("a-new", "x", "False", "HostnameConflict"),
            ],
            sets_accepted: vec![
                ("z-old", "True", "Accepted"),
                ("a-new", "False", "ListenersNotValid"),
            ],
            attached: 1,
        },
        Case {
            name: "same creation time: namespace/name order",
            gateway: gw(),
            sets: vec![
                ("b", 0, format!("[{}]", http("x", "x.example"))),
                ("a", 0, format!("[{}]", http("x", "x.example"))),
            ],
            listeners: vec![
                ("a", "x", "True", "Accepted"),
                ("b", "x", "False", "HostnameConflict"),
            ],
            sets_accepted: vec![
                ("a", "True", "Accepted"),
                ("b", "False", "ListenersNotValid"),
            ],
            attached: 1,
        },
        Case {
            name: "TCP next to the Gateway's HTTP port loses on protocol; the set's HTTP listeners stay",
            gateway: gw(),
            sets: vec![(
                "s",
                0,
                format!(
                    "[{}, {{name: tcp, port: 80, protocol: TCP, {HTTP_ALL}}}]",
                    http("own", "own.example")
                ),
            )],
            listeners: vec![
                ("s", "own", "True", "Accepted"),
                ("s", "tcp", "False", "ProtocolConflict"),
            ],
            sets_accepted: vec![("s", "True", "ListenersNotValid")],
            attached: 1,
        },
        Case {
            name: "inside one set no winner is picked",
            gateway: gw(),
            sets: vec![(
                "s",
                0,
                format!(
                    "[{}, {{name: tcp, port: 9000, protocol: TCP, {HTTP_ALL}}}]",
                    "{name: h, port: 9000, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}"
                ),
            )],
            listeners: vec![
                ("s", "h", "False", "ProtocolConflict"),
                ("s", "tcp", "False", "ProtocolConflict"),
            ],
            sets_accepted: vec![("s", "False", "ListenersNotValid")],
            attached: 0,
        },
        Case {
            name: "a listener of a set that was not accepted holds nothing",
            gateway: gw(),
            sets: vec![
                ("first", 0, format!("[{}]", http("gw-copy", "a.example"))),
                (
                    "second",
                    1,
                    "[{name: h, port: 8080, protocol: HTTP}]".to_string(),
                ),
                (
                    "third",
                    2,
                    "[{name: h, port: 8080, protocol: HTTP, hostname: b.example}]".to_string(),
                ),
            ],
            listeners: vec![
                ("first", "gw-copy", "False", "HostnameConflict"),
                ("second", "h", "True", "Accepted"),
                ("third", "h", "True", "Accepted"),
            ],
            sets_accepted: vec![
                ("first", "False", "ListenersNotValid"),
                ("second", "True", "Accepted"),
                ("third", "True", "Accepted"),
            ],
            attached: 2,
        },
        Case {
            name: "conflicted Gateway listeners do not hold their hostname",
            gateway: gateway(
                "{namespaces: {from: Same}}",
                "[{name: p, port: 80, protocol: HTTP, hostname: a.example}, {name: q, port: 80, protocol: HTTPS, hostname: a.example, tls: {certificateRefs: [{name: c}]}}, {name: r, port: 8000, protocol: HTTP}]",
            ),
            // Would lose to p (hostname) or q (protocol) if either held port 80.
            sets: vec![("s", 0, format!("[{}]", http("h", "a.example")))],
            listeners: vec![("s", "h", "True", "Accepted")],
            sets_accepted: vec![("s", "True", "Accepted")],
            attached: 1,
        },
    ];
    for case in cases {
        let mut docs = base();
        docs.push(case.gateway.clone());
        for (name, created, listeners) in &case.sets {
            docs.push(set("infra", name, *created, listeners));
        }
        let r = run(&docs);
        for (s, l, status, reason) in &case.listeners {
            let conditions = set_listener_conditions(&r, "infra", s, l);
            assert_eq!(
                cond(&conditions, "Accepted"),
                is(status, reason),
                "{} / {s}/{l}",
                case.name
            );
            if *status == "False" {
                assert_eq!(
                    cond(&conditions, "Conflicted"),
                    is("True", reason),
                    "{} / {s}/{l}",
                    case.name
                );
                assert_eq!(
                    cond(&conditions, "Programmed"),
                    is("False", reason),
                    "{} / {s}/{l}",
                    case.name
                );
            }
        }
        for (s, status, reason) in &case.sets_accepted {
            assert_eq!(
                set_accepted(&r, "infra", s),
                is(status, reason),
                "{} / {s}",
                case.name
            );
        }
        assert_eq!(
            attached_listener_sets(&r),
            Some(case.attached),
            "{}",
            case.name
        );
        // The Gateway's own listeners are never beaten by a set's.
        if let Some(StatusUpdate::Gateway(g)) =
            r.statuses
                .get(&ObjectKey::new(Kind::Gateway, "infra", "gw"))
            && case.name.starts_with("same hostname")
        {
            let own = g
                .listeners
                .iter()
                .flatten()
                .find(|l| l.name == "gw-a")
                .expect("gw-a");
            assert_eq!(cond(&own.conditions, "Accepted"), is("True", "Accepted"));
            assert_eq!(
                g.listeners.as_ref().map(Vec::len),
                Some(1),
                "set listeners stay off the Gateway status"
            );
        }
    }
}

fn secret(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: cert, namespace: {ns}}}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ2RENDQVdHZ0F3SUJBZ0lVT1ZMM0EyWnpKWUdGdEo3M2p5TVFlQjRPWUY0d0NnWUlLb1pJemowRUF3SXcKTkRFYU1CZ0dBMVVFQ2d3UlozZHphVzBnWTI5dVptOXliV0Z1WTJVeEZqQVVCZ05WQkFNTURXRXVaWGhoYlhCcwpaUzVqYjIwd0lCY05NalV3TVRBeE1EQXdNREF3V2hnUE1qRXlOVEF4TURFd01EQXdNREJhTURReEdqQVlCZ05WCkJBb01FV2QzYzJsdElHTnZibVp2Y20xaGJtTmxNUll3RkFZRFZRUUREQTFoTG1WNFlXMXdiR1V1WTI5dE1Ga3cKRXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUVqbm9hUkV1OFFHRE5Yb3duTzJxc2kwZkNoN3VxNVg2RAoxYnlTRG9PM1JjUExlUFA2bXNraEtacGlNaVZvbXdvQlVjc0NQejZONWRtQmpORTY2Z05KcWFOUE1FMHdEQVlEClZSMFRBUUgvQkFJd0FEQU9CZ05WSFE4QkFmOEVCQU1DQmFBd0V3WURWUjBsQkF3d0NnWUlLd1lCQlFVSEF3RXcKR0FZRFZSMFJCQkV3RDRJTllTNWxlR0Z0Y0d4bExtTnZiVEFLQmdncWhrak9QUVFEQWdOSkFEQkdBaUVBOVZPSQpGZFc3U1dxZ2toRnFBaGFING9lcE9JYWN6Yk5DK1Jib250NUtpTzhDSVFDT0o2RkhYZmNISnhiTUc3RUMvWitsCjZZWStmemhmRHJheHFDeUNjZFZ5dXc9PQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==\n  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ3RoUnR3RjNJeEk2Tk1oVnMKY2huaXZlS0hEK3crUCt5QnlVZkJ2MWY2MVZlaFJBTkNBQVNPZWhwRVM3eEFZTTFlakNjN2FxeUxSOEtIdTZybApmb1BWdkpJT2c3ZEZ3OHQ0OC9xYXlTRXBtbUl5SldpYkNnRlJ5d0kvUG8zbDJZR00wVHJxQTBtcAotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==\n"
    )
}

fn grant(from_kind: &str, from_ns: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\nmetadata: {{name: from-{}, namespace: other}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: {from_kind}, namespace: {from_ns}}}]\n  to: [{{group: \"\", kind: Secret}}]\n",
        from_kind.to_lowercase()
    )
}

#[test]
fn set_certificates_need_grants_from_listener_sets() {
    struct Case {
        name: &'static str,
        grants: Vec<String>,
        /// Listener ResolvedRefs and set Accepted (status, reason).
        expected: ((&'static str, &'static str), (&'static str, &'static str)),
    }
    let cases = [
        Case {
            name: "grant from ListenerSets of the set's namespace",
            grants: vec![grant("ListenerSet", "infra")],
            expected: (("True", "ResolvedRefs"), ("True", "Accepted")),
        },
        Case {
            name: "a grant to the Gateway is not inherited",
            grants: vec![grant("Gateway", "infra")],
            expected: (("False", "RefNotPermitted"), ("False", "ListenersNotValid")),
        },
        Case {
            name: "grant from ListenerSets of another namespace",
            grants: vec![grant("ListenerSet", "apps")],
            expected: (("False", "RefNotPermitted"), ("False", "ListenersNotValid")),
        },
        Case {
            name: "no grant",
            grants: vec![],
            expected: (("False", "RefNotPermitted"), ("False", "ListenersNotValid")),
        },
    ];
    for case in cases {
        let mut docs = base();
        docs.push(secret("other"));
        docs.extend(case.grants.iter().cloned());
        docs.push(gateway(
            "{namespaces: {from: All}}",
            &format!("[{}]", http("gw-http", "gw.example")),
        ));
        docs.push(set(
            "infra",
            "s",
            0,
            "[{name: https, port: 443, protocol: HTTPS, hostname: s.example, tls: {certificateRefs: [{name: cert, namespace: other}]}}]",
        ));
        let r = run(&docs);
        let (refs, accepted) = case.expected;
        let conditions = set_listener_conditions(&r, "infra", "s", "https");
        assert_eq!(
            cond(&conditions, "ResolvedRefs"),
            is(refs.0, refs.1),
            "{}",
            case.name
        );
        assert_eq!(
            set_accepted(&r, "infra", "s"),
            is(accepted.0, accepted.1),
            "{}",
            case.name
        );
        let attached = if accepted.0 == "True" { 1 } else { 0 };
        assert_eq!(attached_listener_sets(&r), Some(attached), "{}", case.name);
    }
}

#[test]
fn routes_attach_through_listener_set_parent_refs() {
    const SET_REF: &str = "{group: gateway.networking.k8s.io, kind: ListenerSet, name: s}";
    struct Case {
        name: &'static str,
        parents: String,
        /// Accepted (status, reason) of each parent entry, in parentRefs order.
        parents_accepted: Vec<(&'static str, &'static str)>,
        /// attachedRoutes of gw-http, set listeners one and two.
        attached: (i32, i32, i32),
    }
    let cases = [
        Case {
            name: "ListenerSet parentRef: every listener of the set",
            parents: format!("[{SET_REF}]"),
            parents_accepted: vec![("True", "Accepted")],
            attached: (0, 1, 1),
        },
        Case {
            name: "ListenerSet parentRef with sectionName",
            parents: "[{group: gateway.networking.k8s.io, kind: ListenerSet, name: s, sectionName: two}]".into(),
            parents_accepted: vec![("True", "Accepted")],
            attached: (0, 0, 1),
        },
        Case {
            name: "ListenerSet parentRef naming a Gateway listener",
            parents: "[{group: gateway.networking.k8s.io, kind: ListenerSet, name: s, sectionName: gw-http}]".into(),
            parents_accepted: vec![("False", "NoMatchingParent")],
            attached: (0, 0, 0),
        },
        Case {
            name: "Gateway parentRef sees only the Gateway's listeners",
            parents: "[{name: gw}]".into(),
            parents_accepted: vec![("True", "Accepted")],
            attached: (1, 0, 0),
        },
        Case {
            name: "Gateway parentRef naming a set listener",
            parents: "[{name: gw, sectionName: one}]".into(),
            parents_accepted: vec![("False", "NoMatchingParent")],
            attached: (0, 0, 0),
        },
        Case {
            name: "both parents, each evaluated on its own",
            parents: format!("[{{name: gw, sectionName: nope}}, {SET_REF}]"),
            parents_accepted: vec![("False", "NoMatchingParent"), ("True", "Accepted")],
            attached: (0, 1, 1),
        },
    ];
    for case in cases {
        let mut docs = base();
        docs.push(gateway(
            "{namespaces: {from: Same}}",
            &format!("[{}]", http("gw-http", "gw.example")),
        ));
        docs.push(set(
            "infra",
            "s",
            0,
            &format!(
                "[{}, {}]",
                http("one", "one.example"),
                http("two", "two.example")
            ),
        ));
        docs.push(route("r", &case.parents));
        let r = run(&docs);
        let parents = match r
            .statuses
            .get(&ObjectKey::new(Kind::HttpRoute, "infra", "r"))
        {
            Some(StatusUpdate::HttpRoute(s)) => &s.parents,
            other => panic!("{}: no route status: {other:?}", case.name),
        };
        let got: Vec<(String, String)> = parents
            .iter()
            .map(|p| cond(&p.conditions, "Accepted"))
            .collect();
        let want: Vec<(String, String)> = case
            .parents_accepted
            .iter()
            .map(|(s, r)| is(s, r))
            .collect();
        assert_eq!(got, want, "{}", case.name);
        for p in parents {
            let expected_kind = if p.parent_ref.name == "s" {
                "ListenerSet"
            } else {
                "Gateway"
            };
            assert_eq!(
                p.parent_ref.kind.as_deref(),
                Some(expected_kind),
                "{}",
                case.name
            );
            assert_eq!(
                p.parent_ref.namespace.as_deref(),
                Some("infra"),
                "{}",
                case.name
            );
        }
        let gateway_attached = match r
            .statuses
            .get(&ObjectKey::new(Kind::Gateway, "infra", "gw"))
        {
            Some(StatusUpdate::Gateway(g)) => g
                .listeners
                .iter()
                .flatten()
                .find(|l| l.name == "gw-http")
                .map(|l| l.attached_routes),
            _ => None,
        };
        let set_attached = |name: &str| {
            set_status(&r, "infra", "s")
                .listeners
                .iter()
                .flatten()
                .find(|l| l.name == name)
                .map(|l| l.attached_routes)
        };
        assert_eq!(
            (gateway_attached, set_attached("one"), set_attached("two")),
            (
                Some(case.attached.0),
                Some(case.attached.1),
                Some(case.attached.2)
            ),
            "{}",
            case.name
        );
        // The data plane carries the same attachments.
        let config: Vec<(String, usize)> = r.gateways[0]
            .listeners
            .iter()
            .map(|l| (l.name.clone(), l.routes.len()))
            .collect();
        let want = vec![
            ("gw-http".to_string(), case.attached.0 as usize),
            ("one".to_string(), case.attached.1 as usize),
            ("two".to_string(), case.attached.2 as usize),
        ];
        assert_eq!(config, want, "{}", case.name);
    }
}

#[test]
fn same_on_a_set_listener_means_the_sets_namespace() {
    let mut docs = base();
    docs.push(gateway(
        "{namespaces: {from: All}}",
        &format!("[{}]", http("gw-http", "gw.example")),
    ));
    docs.push(set(
        "apps",
        "s",
        0,
        "[{name: same, port: 80, protocol: HTTP, hostname: s.example}]",
    ));
    docs.push(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: in-apps, namespace: apps}\nspec:\n  parentRefs: [{kind: ListenerSet, name: s}]\n".to_string(),
    );
    docs.push(route(
        "in-infra",
        "[{kind: ListenerSet, name: s, namespace: apps}]",
    ));
    let r = run(&docs);
    let accepted =
        |ns: &str, name: &str| match r.statuses.get(&ObjectKey::new(Kind::HttpRoute, ns, name)) {
            Some(StatusUpdate::HttpRoute(s)) => cond(&s.parents[0].conditions, "Accepted"),
            other => panic!("no status for {ns}/{name}: {other:?}"),
        };
    assert_eq!(accepted("apps", "in-apps"), is("True", "Accepted"));
    assert_eq!(
        accepted("infra", "in-infra"),
        is("False", "NotAllowedByListeners")
    );
}

#[test]
fn routes_to_a_set_the_gateway_refused_are_not_attached() {
    let mut docs = base();
    docs.push(gateway("", &format!("[{}]", http("gw-http", "gw.example"))));
    docs.push(set(
        "infra",
        "s",
        0,
        &format!("[{}]", http("one", "one.example")),
    ));
    docs.push(route("r", "[{kind: ListenerSet, name: s}]"));
    let r = run(&docs);
    let parents = match r
        .statuses
        .get(&ObjectKey::new(Kind::HttpRoute, "infra", "r"))
    {
        Some(StatusUpdate::HttpRoute(s)) => &s.parents,
        other => panic!("no route status: {other:?}"),
    };
    assert_eq!(
        cond(&parents[0].conditions, "Accepted"),
        is("False", "NoMatchingParent")
    );
    assert!(
        parents[0].conditions[0].message.contains("NotAllowed"),
        "{:?}",
        parents[0].conditions
    );
    assert_eq!(r.gateways[0].listeners.len(), 1);
}

#[test]
fn sets_of_other_controllers_gateways_get_no_status() {
    let mut docs = base();
    docs.push(set(
        "infra",
        "orphan",
        0,
        &format!("[{}]", http("one", "one.example")),
    ));
    let r = run(&docs);
    assert!(
        !r.statuses
            .contains_key(&ObjectKey::new(Kind::ListenerSet, "infra", "orphan"))
    );
}
