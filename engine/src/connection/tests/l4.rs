//! TCP and UDP: TCPRoutes and UDPRoutes on TCP and UDP listeners, decided by port and
//! protocol alone.

use super::*;

const L4_LISTENERS: &str = "  - {name: tcp, port: 9000, protocol: TCP}\n  - {name: udp, port: 9000, protocol: UDP}\n  - {name: http, port: 80, protocol: HTTP}\n";

/// A TCPRoute or UDPRoute `infra/NAME` created at `created` seconds: parentRef `parent`
/// (YAML flow mapping) and backendRefs `backends` (YAML flow list).
fn l4_route(kind: &str, name: &str, created: i64, parent: &str, backends: &str) -> String {
    let time = Timestamp::from_second(created).expect("valid time");
    format!(
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: {kind}\nmetadata: {{name: {name}, namespace: infra, creationTimestamp: '{time}'}}\nspec:\n  parentRefs: [{parent}]\n  rules:\n  - backendRefs: {backends}\n"
    )
}

fn open(
    r: &Reconciliation,
    port: u16,
    protocol: ConnectionProtocol,
    seed: u64,
) -> ConnectionDecision {
    let connection = Connection {
        gateway: None,
        port,
        protocol,
        sni: None,
    };
    decide(
        &r.gateways,
        &connection,
        &mut ChaCha8Rng::seed_from_u64(seed),
    )
}

/// `type=status/reason` of each condition of an L4 route's first parent.
fn l4_conditions(r: &Reconciliation, kind: Kind, name: &str) -> Vec<String> {
    let key = crate::object::ObjectKey::new(kind, "infra", name);
    let conditions = match r.statuses.get(&key) {
        Some(StatusUpdate::TcpRoute(s)) => &s.parents[0].conditions,
        Some(StatusUpdate::UdpRoute(s)) => &s.parents[0].conditions,
        _ => panic!("no {kind} status for {name}"),
    };
    conditions
        .iter()
        .map(|c| format!("{}={}/{}", c.type_, c.status, c.reason))
        .collect()
}

#[test]
fn tcp_and_udp_connections_pick_listener_by_protocol_and_the_oldest_route() {
    let (_, r) = state(&[
        &gateway(L4_LISTENERS),
        &l4_route(
            "TCPRoute",
            "newer",
            200,
            "{name: gw, sectionName: tcp}",
            "[{name: two, port: 8443}]",
        ),
        &l4_route(
            "TCPRoute",
            "older",
            100,
            "{name: gw, port: 9000}",
            "[{name: tcp, port: 3000}]",
        ),
        &l4_route(
            "UDPRoute",
            "dns",
            100,
            "{name: gw, sectionName: udp}",
            "[{name: three, port: 8443}]",
        ),
    ]);
    for name in ["newer", "older"] {
        assert_eq!(
            l4_conditions(&r, Kind::TcpRoute, name),
            ["Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"]
        );
    }
    assert_eq!(
        listener_status(&r, "tcp"),
        "kinds TCPRoute routes 2 Accepted=True/Accepted Programmed=True/Programmed ResolvedRefs=True/ResolvedRefs Conflicted=False/NoConflicts"
    );
    assert!(listener_status(&r, "udp").starts_with("kinds UDPRoute routes 1 Accepted=True"));
    // Whatever the seed, the oldest TCPRoute takes every connection.
    for seed in 0..20 {
        let d = open(&r, 9000, ConnectionProtocol::Tcp, seed);
        assert_eq!(outcome(&d), "infra/tcp:3000 (plain)");
    }
    let d = open(&r, 9000, ConnectionProtocol::Tcp, 1);
    assert_eq!(
        d.provenance.expect("provenance").route.to_string(),
        "TCPRoute infra/older"
    );
    let d = open(&r, 9000, ConnectionProtocol::Udp, 1);
    assert_eq!(outcome(&d), "infra/three:8443 (plain)");
    assert_eq!(d.explanation.listener.as_deref(), Some("udp"));
    assert!(d.explanation.outcome.contains("the datagram as it came"));
    // A TLS client on the TCP port finds no TLS listener; TCP to the HTTP port no TCP one.
    let d = connect(&r, 9000, Some("a.example.com"));
    assert_eq!(outcome(&d), "reset");
    let d = open(&r, 80, ConnectionProtocol::Tcp, 1);
    assert_eq!(outcome(&d), "reset");
    assert!(
        d.explanation
            .outcome
            .contains("has no TCP listener on port 80"),
        "{}",
        d.explanation.outcome
    );
}

#[test]
fn l4_routes_attach_only_to_their_protocol() {
    let (_, r) = state(&[
        &gateway(L4_LISTENERS),
        &l4_route(
            "TCPRoute",
            "to-http",
            100,
            "{name: gw, sectionName: http}",
            "[{name: tcp, port: 3000}]",
        ),
        &l4_route(
            "UDPRoute",
            "to-tcp",
            100,
            "{name: gw, sectionName: tcp}",
            "[{name: tcp, port: 3000}]",
        ),
    ]);
    assert_eq!(
        l4_conditions(&r, Kind::TcpRoute, "to-http")[0],
        "Accepted=False/NotAllowedByListeners"
    );
    assert_eq!(
        l4_conditions(&r, Kind::UdpRoute, "to-tcp")[0],
        "Accepted=False/NotAllowedByListeners"
    );
    assert!(listener_status(&r, "tcp").starts_with("kinds TCPRoute routes 0"));
    assert_eq!(
        outcome(&open(&r, 9000, ConnectionProtocol::Tcp, 1)),
        "reset"
    );
    // A TCP listener asked for a kind it cannot take keeps the one it can.
    let (_, r) = state(&[&gateway(
        "  - name: tcp\n    port: 9000\n    protocol: TCP\n    allowedRoutes: {kinds: [{kind: TCPRoute}, {kind: UDPRoute}]}\n",
    )]);
    assert_eq!(
        listener_status(&r, "tcp"),
        "kinds TCPRoute routes 0 Accepted=True/Accepted Programmed=True/Programmed ResolvedRefs=False/InvalidRouteKinds Conflicted=False/NoConflicts"
    );
}

#[test]
fn l4_invalid_backends_and_weights() {
    let (_, r) = state(&[
        &gateway(L4_LISTENERS),
        &l4_route(
            "TCPRoute",
            "missing",
            100,
            "{name: gw, sectionName: tcp}",
            "[{name: nowhere, port: 3000}]",
        ),
        &l4_route(
            "UDPRoute",
            "split",
            100,
            "{name: gw, sectionName: udp}",
            "[{name: two, port: 8443, weight: 70}, {name: three, port: 8443, weight: 30}, {name: tcp, port: 3000, weight: 0}]",
        ),
    ]);
    assert_eq!(
        l4_conditions(&r, Kind::TcpRoute, "missing"),
        [
            "Accepted=True/Accepted",
            "ResolvedRefs=False/BackendNotFound"
        ]
    );
    let d = open(&r, 9000, ConnectionProtocol::Tcp, 1);
    assert_eq!(outcome(&d), "reset");
    assert!(
        d.explanation
            .outcome
            .starts_with("connection reset: backendRef 0"),
        "{}",
        d.explanation.outcome
    );
    let mut counts = std::collections::BTreeMap::new();
    for seed in 0..1000 {
        *counts
            .entry(outcome(&open(&r, 9000, ConnectionProtocol::Udp, seed)))
            .or_insert(0) += 1;
    }
    let two = counts.get("infra/two:8443 (plain)").copied().unwrap_or(0);
    let three = counts.get("infra/three:8443 (plain)").copied().unwrap_or(0);
    assert_eq!(two + three, 1000, "{counts:?}");
    assert!((650..750).contains(&two), "{counts:?}");
}

#[test]
fn l4_cross_namespace_backends_need_a_grant_for_their_own_kind() {
    let other = "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n";
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: other}\nspec:\n  ports: [{port: 3000}]\n";
    let grant = |from: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: other}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: {from}, namespace: infra}}]\n  to: [{{group: '', kind: Service}}]\n"
        )
    };
    let tcp = l4_route(
        "TCPRoute",
        "x",
        100,
        "{name: gw, sectionName: tcp}",
        "[{name: echo, namespace: other, port: 3000}]",
    );
    // A grant for UDPRoutes (or none) does not let a TCPRoute in.
    for g in [String::new(), grant("UDPRoute")] {
        let (_, r) = state(&[other, service, &g, &gateway(L4_LISTENERS), &tcp]);
        assert_eq!(
            l4_conditions(&r, Kind::TcpRoute, "x"),
            [
                "Accepted=True/Accepted",
                "ResolvedRefs=False/RefNotPermitted"
            ],
            "grant {g:?}"
        );
        assert_eq!(
            outcome(&open(&r, 9000, ConnectionProtocol::Tcp, 1)),
            "reset"
        );
    }
    let (_, r) = state(&[
        other,
        service,
        &grant("TCPRoute"),
        &gateway(L4_LISTENERS),
        &tcp,
    ]);
    assert_eq!(
        l4_conditions(&r, Kind::TcpRoute, "x"),
        ["Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"]
    );
    assert_eq!(
        outcome(&open(&r, 9000, ConnectionProtocol::Tcp, 1)),
        "other/echo:3000 (plain)"
    );
}
