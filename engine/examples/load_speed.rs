//! Reading speed of one file: the YAML fast path against the full parser alone (best of 3
//! each, same process, so a loaded machine slows both alike), then load + admission +
//! reconcile as `gwsim check` does it on one thread.
//!
//! `cargo run --release -p gwsim-engine --example load_speed -- target/synth/synth-10000.yaml`

#![allow(clippy::print_stdout, clippy::print_stderr)]
use std::time::{Duration, Instant};

use gwsim_engine::diff::{ChangeSet, Settled, apply_change};
use gwsim_engine::load::{Budgets, YamlReader, load_with_reader};
use gwsim_engine::object::Snapshot;
use k8s_openapi::jiff::Timestamp;

fn best_of_3(mut run: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let budgets = Budgets::default();
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path)?;
        let read = |reader| load_with_reader(&path, &text, &budgets, 1, reader);
        let fast = read(YamlReader::BlockFastPath)?;
        let full = read(YamlReader::Full)?;
        assert_eq!(fast, full, "both readers read {path} alike");
        let fast_time = best_of_3(|| drop(read(YamlReader::BlockFastPath)));
        let full_time = best_of_3(|| drop(read(YamlReader::Full)));
        let now = Timestamp::constant(1_767_225_600, 0);
        let whole = best_of_3(|| {
            let loaded = read(YamlReader::BlockFastPath).expect("loads");
            let applied = apply_change(
                Snapshot::new(),
                &ChangeSet {
                    documents: loaded.documents,
                    deletions: Vec::new(),
                },
                now,
            );
            drop(Settled::new(applied.snapshot, now));
        });
        println!(
            "{path} ({:.1} MB, {} objects): read on one thread: fast path {:.0} ms, full parser {:.0} ms; read + admit + reconcile: {:.0} ms",
            text.len() as f64 / 1e6,
            fast.documents.len(),
            fast_time.as_secs_f64() * 1e3,
            full_time.as_secs_f64() * 1e3,
            whole.as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
