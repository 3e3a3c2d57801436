//! Input speed: the 10,000-route synthetic state (the reconcile benchmark's shape, about 14 MB
//! as YAML) read from text, admitted and reconciled, as `gwsim check` does after reading the
//! file. YAML as users write it (documents separated by `---`), and the same objects as one
//! `kind: List` in JSON as `kubectl get -o json` prints it. The goal: the whole
//! command under one second, JSON at least as fast as YAML (see README, Benchmarks).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gwsim_engine::diff::{ChangeSet, Settled, apply_change};
use gwsim_engine::load::{Budgets, load};
use gwsim_engine::object::Snapshot;
use gwsim_engine::synth::SynthSpec;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

fn yaml_stream(spec: &SynthSpec) -> String {
    let mut text = String::new();
    for doc in spec.documents() {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(&doc).expect("serializes"));
    }
    text
}

fn kubectl_json(spec: &SynthSpec) -> String {
    let list = serde_json::json!({
        "apiVersion": "v1", "kind": "List", "items": spec.documents(),
        "metadata": {"resourceVersion": ""}
    });
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    list.serialize(&mut serializer).expect("serializes");
    String::from_utf8(out).expect("UTF-8")
}

/// What `gwsim check` does with the text: load, admit every document, reconcile, build the
/// routing table.
fn check(name: &str, text: &str) -> gwsim_engine::RoutingTable {
    let now = Timestamp::constant(1_767_225_600, 0);
    let loaded = load(name, text, &Budgets::default()).expect("loads");
    let applied = apply_change(
        Snapshot::new(),
        &ChangeSet {
            documents: loaded.documents,
            deletions: Vec::new(),
        },
        now,
    );
    assert!(applied.rejected.is_empty(), "synthetic documents are valid");
    let settled = Settled::new(applied.snapshot, now);
    settled.table()
}

fn bench(c: &mut Criterion) {
    let spec = SynthSpec::reconcile_benchmark();
    let yaml = yaml_stream(&spec);
    let json = kubectl_json(&spec);
    let mut group = c.benchmark_group("input 10,000 routes");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(
        format!("load YAML ({:.1} MB)", yaml.len() as f64 / 1e6),
        |b| b.iter(|| black_box(load("synth.yaml", &yaml, &Budgets::default()).expect("loads"))),
    );
    group.bench_function(
        format!("load JSON ({:.1} MB)", json.len() as f64 / 1e6),
        |b| b.iter(|| black_box(load("synth.json", &json, &Budgets::default()).expect("loads"))),
    );
    group.bench_function("load+admit+reconcile+table YAML", |b| {
        b.iter(|| black_box(check("synth.yaml", &yaml)))
    });
    group.bench_function("load+admit+reconcile+table JSON", |b| {
        b.iter(|| black_box(check("synth.json", &json)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
