//! Decision speed over synthetic tables of 1k, 10k and 100k routes: one HTTP listener, one
//! hostname per five routes, five rules per route (Exact, PathPrefix, method, header and
//! query matches mixed), requests drawn from the table's own hostnames and paths.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gwsim_engine::config::{
    BackendTarget, GatewayConfig, HeaderMatch, ListenerConfig, PathMatch, Protocol,
    QueryParamMatch, RouteAttachment, RouteConfig, RouteKind, RouteMatch, RuleConfig, Timeouts,
    ValueMatch, WeightedBackend,
};
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_engine::{Request, RoutingTable};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const ROUTES_PER_HOST: usize = 5;
const RULES_PER_ROUTE: usize = 5;

fn backend(i: usize) -> WeightedBackend {
    WeightedBackend {
        index: 0,
        weight: 1,
        target: BackendTarget::Service {
            namespace: "bench".to_string(),
            name: format!("svc-{}", i % 50),
            port: 8080,
            app_protocol: None,
            tls: None,
        },
        filters: Vec::new(),
    }
}

fn rule(route: usize, index: usize) -> RuleConfig {
    let base = format!("/api/r{route}/k{index}");
    let mut m = RouteMatch {
        index: 0,
        path: PathMatch::Prefix(base.clone()),
        method: None,
        headers: Vec::new(),
        query_params: Vec::new(),
    };
    match index {
        0 => m.path = PathMatch::Exact(base),
        1 => m.method = Some("GET".to_string()),
        2 => m.headers.push(HeaderMatch {
            name: "version".to_string(),
            value: ValueMatch::Exact("two".to_string()),
        }),
        3 => m.query_params.push(QueryParamMatch {
            name: "animal".to_string(),
            value: ValueMatch::Exact("whale".to_string()),
        }),
        _ => {}
    }
    RuleConfig {
        index,
        name: None,
        matches: vec![m],
        filters: Vec::new(),
        backends: vec![backend(route + index)],
        timeouts: Timeouts::default(),
        retry: None,
        invalid: None,
    }
}

fn hostname(i: usize) -> String {
    format!("host{i}.example.com")
}

/// `routes` routes over `routes / 5` hostnames, plus one catch-all route.
fn config(routes: usize) -> GatewayConfig {
    let mut attachments: Vec<RouteAttachment> = (0..routes)
        .map(|r| RouteAttachment {
            route: Arc::new(RouteConfig {
                key: ObjectKey::new(Kind::HttpRoute, "bench", format!("route-{r}")),
                kind: RouteKind::Http,
                created: i64::try_from(r).unwrap_or(0),
                generation: 1,
                rules: (0..RULES_PER_ROUTE).map(|i| rule(r, i)).collect(),
            }),
            hostnames: vec![hostname(r / ROUTES_PER_HOST)],
        })
        .collect();
    attachments.push(RouteAttachment {
        route: Arc::new(RouteConfig {
            key: ObjectKey::new(Kind::HttpRoute, "bench", "catch-all"),
            kind: RouteKind::Http,
            created: 0,
            generation: 1,
            rules: vec![rule(routes, 4)],
        }),
        hostnames: Vec::new(),
    });
    GatewayConfig {
        key: ObjectKey::new(Kind::Gateway, "bench", "gw"),
        addresses: vec!["10.0.0.1".to_string()],
        listeners: vec![ListenerConfig {
            name: "http".to_string(),
            port: 80,
            protocol: Protocol::Http,
            hostname: None,
            usable: true,
            unusable_reason: None,
            routes: attachments,
            listener_set: None,
            certificate: None,
            client_validation: None,
            tls_mode: None,
        }],
        backend_client_certificate: None,
    }
}

/// Requests that hit rules of every kind, and some that match nothing.
fn requests(routes: usize, count: usize) -> Vec<Request> {
    (0..count)
        .map(|i| {
            let route = (i * 7919) % routes;
            let rule = i % (RULES_PER_ROUTE + 1);
            let host = hostname(route / ROUTES_PER_HOST);
            let mut request = match rule {
                0 => Request::get(&host, &format!("/api/r{route}/k0")),
                3 => Request::get(&host, &format!("/api/r{route}/k3/x?animal=whale")),
                RULES_PER_ROUTE => Request::get(&host, "/nothing/here"),
                k => Request::get(&host, &format!("/api/r{route}/k{k}/deeper/path")),
            };
            if rule == 2 {
                request
                    .headers
                    .push(("Version".to_string(), "two".to_string()));
            }
            request
        })
        .collect()
}

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for routes in [1_000, 10_000, 100_000] {
        let table = RoutingTable::build(&[config(routes)]);
        let reqs = requests(routes, 1024);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        group.bench_with_input(BenchmarkId::new("fast", routes), &routes, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % reqs.len();
                black_box(table.decide_fast(&reqs[i], &mut rng))
            })
        });
        group.bench_with_input(BenchmarkId::new("explained", routes), &routes, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % reqs.len();
                black_box(table.decide(&reqs[i], &mut rng))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
