//! `gwsim diff` at scale: two configurations of 10,000 HTTPRoutes (the reconcile benchmark's
//! shape: 5 rules each, 2,000 hostnames, 3 Gateways) that differ in one route.
//!
//! `whole diff` measures what the command does after admission: reconcile both states (with
//! the statuses written back), build the tables of the touched Gateway, compare statuses and
//! tables, derive the probes and send them through both tables. `compare only` measures
//! [`diff`] alone on reconciled states. The goal: the whole diff under one second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gwsim_engine::diff::{ChangeSet, DiffOptions, Settled, apply_change, diff};
use gwsim_engine::load::{Document, Origin};
use gwsim_engine::object::Snapshot;
use gwsim_engine::synth::SynthSpec;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

/// The route that changes.
const CHANGED_ROUTE: usize = 5_000;

fn snapshot(docs: Vec<serde_json::Value>) -> Snapshot {
    let docs: Vec<Document> = docs
        .into_iter()
        .enumerate()
        .map(|(i, value)| Document {
            origin: Origin::new("synth", i + 1, 1),
            value,
        })
        .collect();
    let applied = apply_change(
        Snapshot::new(),
        &ChangeSet {
            documents: docs,
            deletions: Vec::new(),
        },
        Timestamp::constant(1_767_225_600, 0),
    );
    assert!(applied.rejected.is_empty(), "synthetic documents are valid");
    applied.snapshot
}

/// Both states: the synthetic configuration, and the same with one route's second rule
/// re-weighted and a new prefix added to it.
fn states() -> (Snapshot, Snapshot) {
    let spec = SynthSpec::reconcile_benchmark();
    let before = spec.documents();
    let mut after = before.clone();
    let name = format!("route-{CHANGED_ROUTE}");
    let route = after
        .iter_mut()
        .find(|d| d["kind"] == "HTTPRoute" && d["metadata"]["name"] == name.as_str())
        .expect("the changed route exists");
    route["spec"]["rules"][1]["backendRefs"][0]["weight"] = json!(50);
    route["spec"]["rules"][0]["matches"][0]["path"] =
        json!({"type": "PathPrefix", "value": format!("/r{CHANGED_ROUTE}")});
    (snapshot(before), snapshot(after))
}

fn bench_diff(c: &mut Criterion) {
    let now = Timestamp::from_second(1_767_225_600).expect("valid epoch");
    let (before, after) = states();

    let mut group = c.benchmark_group("diff_10k_routes_one_changed");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("whole diff", |b| {
        b.iter_batched(
            || (before.clone(), after.clone()),
            |(before, after)| {
                let before = Settled::new(before, now);
                let after = Settled::new(after, now);
                let result = diff(before.state(), after.state(), DiffOptions::default());
                // Returned, so that freeing the states is not timed (the command exits).
                black_box((before, after, result))
            },
            BatchSize::LargeInput,
        );
    });

    let settled_before = Settled::new(before, now);
    let settled_after = Settled::new(after, now);
    let result = diff(
        settled_before.state(),
        settled_after.state(),
        DiffOptions::default(),
    );
    assert!(
        !result.behaviour_changes.is_empty(),
        "the changed route changes behaviour"
    );
    group.bench_function("compare only", |b| {
        b.iter(|| {
            black_box(diff(
                settled_before.state(),
                settled_after.state(),
                DiffOptions::default(),
            ))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_diff);
criterion_main!(benches);
