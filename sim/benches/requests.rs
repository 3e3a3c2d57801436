//! Simulator benchmarks (figures, not timed tests):
//!
//! - `requests/*`: simulated requests per second through the whole path (routing decision,
//!   filters, endpoint choice, echo backend, response filters) on the conformance base;
//! - `start/*`: loading the conformance base from its YAML, and starting a scenario on it.
//!
//! Run with `cargo bench -p gwsim-sim --bench requests`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gwsim_engine::decision::Request;
use gwsim_engine::load::parse_documents;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_sim::base::{CONFORMANCE_BASE_NAME, CONFORMANCE_BASE_YAML};
use gwsim_sim::cluster::{Cluster, RequestId};
use gwsim_sim::runner::{RunOptions, run_scenarios, start_cluster};
use gwsim_sim::scenario::{Base, load_scenario};
use gwsim_sim::{SimCluster, files::Source};

const ROUTES: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bench, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [bench.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches:
    - path: {type: PathPrefix, value: /api}
      headers: [{name: x-tier, value: gold}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-set, value: v}], remove: [x-drop]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: x-resp, value: r}]}
    backendRefs:
    - {name: infra-backend-v1, port: 8080, weight: 70}
    - {name: infra-backend-v2, port: 8080, weight: 30}
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
";

const SCENARIO: &str = "
name: bench-start
base: conformance
features: [Gateway, HTTPRoute]
steps:
- request: {gateway: gateway-conformance-infra/same-namespace, path: /}
  expect: {status: 404}
";

fn prepared() -> SimCluster {
    let mut cluster = start_cluster(Base::Conformance, 1).expect("base");
    let docs = parse_documents("bench.yaml", ROUTES).expect("parses");
    for outcome in cluster.apply(&docs) {
        assert!(outcome.result.is_ok(), "{outcome:?}");
    }
    cluster
}

fn request(path: &str, headers: &[(&str, &str)]) -> Request {
    let mut r = Request::get("bench.example.com", path);
    r.gateway = Some(ObjectKey::new(
        Kind::Gateway,
        "gateway-conformance-infra",
        "same-namespace",
    ));
    r.headers = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    r
}

fn requests(c: &mut Criterion) {
    const BATCH: u64 = 1_000;
    let cluster = prepared();
    let cases = [
        ("exact", request("/exact", &[])),
        (
            "filters-and-weights",
            request("/api/orders?id=7", &[("x-tier", "gold"), ("x-drop", "1")]),
        ),
        ("prefix-fallback", request("/anything/else", &[])),
    ];
    let mut group = c.benchmark_group("requests");
    group.throughput(Throughput::Elements(BATCH));
    for (name, req) in cases {
        let mut check = cluster.clone();
        let answer = check.send(&req, RequestId(0)).expect("sent");
        assert_eq!(answer.status, 200, "{name}");
        group.bench_function(name, |b| {
            b.iter_batched(
                || cluster.clone(),
                |mut cluster| {
                    for id in 0..BATCH {
                        black_box(cluster.send(&req, RequestId(id)).ok());
                    }
                    cluster
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn start(c: &mut Criterion) {
    let mut group = c.benchmark_group("start");
    group.bench_function("load-conformance-base", |b| {
        b.iter(|| {
            let docs =
                parse_documents(CONFORMANCE_BASE_NAME, CONFORMANCE_BASE_YAML).expect("parses");
            let mut cluster = SimCluster::new(0);
            black_box(cluster.apply(&docs));
            cluster
        })
    });
    // The base is prepared once per process, then each scenario starts from a copy.
    let _ = start_cluster(Base::Conformance, 0);
    group.bench_function("start-scenario-on-base", |b| {
        b.iter(|| black_box(start_cluster(Base::Conformance, 3).expect("base")))
    });
    let scenario = load_scenario(&Source {
        name: "bench.yaml".into(),
        path: "bench.yaml".into(),
        text: SCENARIO.into(),
    })
    .expect("loads");
    group.bench_function("run-small-scenario-on-base", |b| {
        b.iter(|| {
            let report = run_scenarios(std::slice::from_ref(&scenario), &RunOptions::default())
                .expect("runs");
            assert_eq!(report.summary.passed, 1);
            report
        })
    });
    group.finish();
}

criterion_group!(benches, requests, start);
criterion_main!(benches);
