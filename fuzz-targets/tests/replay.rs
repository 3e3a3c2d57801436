//! The fuzz targets on stable: every seed (testdata/, and fuzz/corpus/<target>/ when a fuzzing
//! run left one) and a fixed number of inputs from a seeded generator (mutated seeds, random
//! bytes). The same inputs on every run; `cargo xtask fuzz` runs the targets under libFuzzer.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Generated inputs per target: enough to reach every branch of the generators, few enough for
/// a debug build in CI.
const GENERATED: usize = 300;
/// Configurations for the decide target (each is reconciled twice, so fewer).
const GENERATED_CONFIGURATIONS: usize = 200;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The seed corpus of a target: its testdata folders, and what fuzzing left in its corpus.
fn seeds(target: &str, testdata: &[&str]) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    for dir in testdata {
        files_under(&root().join("testdata").join(dir), &mut paths);
    }
    files_under(&root().join("fuzz/corpus").join(target), &mut paths);
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// A seed changed the way a fuzzer would: bytes flipped, cut, repeated or spliced.
fn mutate(rng: &mut ChaCha8Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..6) {
        if data.is_empty() {
            data.push(b'a');
        }
        let at = rng.random_range(0..data.len());
        match rng.random_range(0..5) {
            0 => {
                const SYNTAX: &[u8] = b"{}[]:-,&*!|>'\"\n #/0123456789.";
                data[at] = SYNTAX[rng.random_range(0..SYNTAX.len())];
            }
            1 => data.truncate(at),
            2 => {
                let end = (at + rng.random_range(1..64)).min(data.len());
                let piece = data[at..end].to_vec();
                data.splice(at..at, piece);
            }
            3 => data[at] = rng.random(),
            _ => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let from = rng.random_range(0..other.len().max(1));
                let piece = other
                    .get(from..(from + 200).min(other.len()))
                    .unwrap_or(&[]);
                data.splice(at..at, piece.iter().copied());
            }
        }
    }
    data
}

fn replay(target: &str, testdata: &[&str], body: fn(&[u8])) -> usize {
    let seeds = seeds(target, testdata);
    assert!(!seeds.is_empty(), "{target}: no seeds in {testdata:?}");
    let mut rng = ChaCha8Rng::seed_from_u64(0x0067_7773_696d);
    let mut runs = 0;
    for seed in &seeds {
        body(seed);
        runs += 1;
    }
    for _ in 0..GENERATED {
        body(&mutate(&mut rng, &seeds));
        runs += 1;
    }
    runs
}

#[test]
fn load_admit_replays() {
    let runs = replay(
        "load_admit",
        &["base", "conformance", "malformed", "golden", "tui"],
        gwsim_fuzz_targets::load_admit,
    );
    assert!(runs > GENERATED);
}

#[test]
fn scenario_replays() {
    let runs = replay(
        "scenario",
        &["scenarios", "conformance", "malformed"],
        gwsim_fuzz_targets::scenario,
    );
    assert!(runs > GENERATED);
}

/// Random bytes are already a structured configuration: every byte string is one. The count
/// of forwarded requests shows the target is not vacuous: its configurations are admitted,
/// attach and route, so its determinism and agreement checks run on real decisions.
#[test]
fn decide_replays() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6465_6369_6465);
    let mut forwarded = 0;
    for _ in 0..GENERATED_CONFIGURATIONS {
        let data: Vec<u8> = (0..512).map(|_| rng.random()).collect();
        forwarded += gwsim_fuzz_targets::forwarded_requests(&data);
    }
    assert!(
        forwarded > 50,
        "generated configurations route requests: {forwarded}"
    );
    for seed in seeds("decide", &[]) {
        gwsim_fuzz_targets::decide(&seed);
    }
}
