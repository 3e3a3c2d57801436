//! Scale measurement: admits a synthetic configuration, reconciles it, builds the routing table
//! and routes requests, printing the median times and the process's peak memory.
//!
//! `cargo run --release -p gwsim-engine --example scale -- [ROUTES]` (default 10000), or
//! `cargo xtask bench`, which runs it for the sizes. Figures, not assertions: timing
//! goals live here and in the criterion benches, never in tests.

#![allow(clippy::print_stdout, clippy::print_stderr)]
use std::time::{Duration, Instant};

use gwsim_engine::controller::{ControllerConfig, reconcile};
use gwsim_engine::decision::Request;
use gwsim_engine::diff::{ChangeSet, apply_change};
use gwsim_engine::object::Snapshot;
use gwsim_engine::synth::SynthSpec;
use gwsim_engine::{Outcome, RoutingTable};
use k8s_openapi::jiff::Timestamp;
use rand::SeedableRng;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A field of /proc/self/status (Linux), in MiB: `VmHWM` (peak) or `VmRSS` (current).
fn proc_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak RSS to the current RSS (Linux: `echo 5 > /proc/self/clear_refs`), so that
/// the next reading of `VmHWM` is the peak of what follows.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn main() {
    let routes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let spec = if routes == 10_000 {
        SynthSpec::reconcile_benchmark()
    } else {
        SynthSpec::with_routes(routes)
    };
    let docs = spec.loaded_documents();

    let started = Instant::now();
    let now = Timestamp::from_second(1_767_225_600).expect("valid epoch");
    let admitted = apply_change(
        Snapshot::new(),
        &ChangeSet {
            documents: docs,
            deletions: Vec::new(),
        },
        now,
    );
    let admit_time = started.elapsed();
    assert!(
        admitted.rejected.is_empty(),
        "synthetic documents must be valid: {:?}",
        admitted.rejected.first()
    );
    let snapshot = admitted.snapshot;
    let before_reconcile = proc_mib("VmRSS:");
    let peak_reset = reset_peak();

    let config = ControllerConfig::default();
    let mut reconcile_times = Vec::new();
    let mut reconciliation = None;
    for _ in 0..5 {
        let t = Instant::now();
        let r = reconcile(&snapshot, &config, now);
        reconcile_times.push(t.elapsed());
        reconciliation = Some(r);
    }
    let reconciliation = reconciliation.expect("ran");
    let reconcile_peak = proc_mib("VmHWM:");

    let t = Instant::now();
    let table = RoutingTable::build(&reconciliation.gateways);
    let build_time = t.elapsed();

    // Requests that hit rules of every shape, spread over the hostname pool.
    let requests: Vec<Request> = (0..2_000)
        .map(|i| {
            let r = (i * 7919) % spec.routes.max(1);
            let host = spec.hostname(r % spec.hostnames.max(1));
            let mut req = Request::get(&host, &format!("/r{r}/s{}", i % 5));
            req.gateway = Some(gwsim_engine::ObjectKey::new(
                gwsim_engine::Kind::Gateway,
                "synth-0",
                spec.gateway_name(r),
            ));
            req
        })
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut forwarded = 0usize;
    let mut per_request = Vec::new();
    for round in 0..5 {
        let t = Instant::now();
        for req in &requests {
            let d = table.decide(req, &mut rng);
            if round == 0 && matches!(d.outcome, Outcome::Forward(_)) {
                forwarded += 1;
            }
        }
        per_request.push(t.elapsed() / requests.len() as u32);
    }

    let mut fast = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for req in &requests {
            std::hint::black_box(table.decide_fast(req, &mut rng));
        }
        fast.push(t.elapsed() / requests.len() as u32);
    }

    println!("routes                 {}", spec.routes);
    println!("rules per route        {}", spec.rules_per_route);
    println!("hostnames              {}", spec.hostnames);
    println!("gateways               {}", spec.gateways);
    println!("admit (all documents)  {:?}", admit_time);
    println!("reconcile, median of 5 {:?}", median(reconcile_times));
    println!("table build            {:?}", build_time);
    println!(
        "decide with explanation, mean per request (median of 5 rounds) {:?}  ({} of {} forwarded)",
        median(per_request),
        forwarded,
        requests.len()
    );
    println!(
        "decide_fast, mean per request (median of 5 rounds) {:?}",
        median(fast)
    );
    if let (Some(before), Some(peak), true) = (before_reconcile, reconcile_peak, peak_reset) {
        println!(
            "RSS before reconcile   {before:.1} MiB (the admitted snapshot)\n\
             peak RSS in reconcile  {peak:.1} MiB (+{:.1} MiB)",
            peak - before
        );
    }
    if let Some(mib) = proc_mib("VmHWM:") {
        println!("peak RSS at the end    {mib:.1} MiB (since the reset, with the table)");
    }
}
