//! Project tasks: `cargo xtask bench`, `cargo xtask bless`, `cargo xtask fuzz`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Command;

use anyhow::{Context, bail};

mod bench_proxy;
mod tidy;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  bench          run every benchmark and scale measurement in release mode and print the figures
  bench-quick    the scale measurements only (no criterion runs)
  bless          re-write golden files from current output (GWSIM_BLESS=1 cargo test)
  fuzz [SECONDS] run every fuzz target under libFuzzer for SECONDS each (default 300), seeded
                 from testdata/; without nightly and cargo-fuzz, the stable corpus replay
  synth-files [ROUTES] [DIR]
                 write the synthetic state (default 10000 routes) as YAML and JSON files for
                 measuring `gwsim check` (default DIR target/synth)

  tidy           check that engine/ and sim/ depend on no runtime or network client
  bench-proxy [--quick]
                 gwsim serve beside nginx under wrk (installs nginx and wrk with apt-get);
                 --quick: a few seconds per run
  bench-api      gwsim serve --api under kubectl: start to ready, kubectl apply of 1,000
                 routes, memory at 10,000 routes, watch fan-out to 100 watchers
                 (apiserver/figures.sh; needs kubectl, curl and python3)";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "bench" => {
            scale()?;
            cargo(&["bench", "-p", "gwsim-engine"])?;
            cargo(&["bench", "-p", "gwsim-sim"])?;
            Ok(())
        }
        "bench-quick" => scale(),
        "fuzz" => fuzz(std::env::args().nth(2).as_deref()),
        "synth-files" => synth_files(),
        "tidy" => {
            let mut problems = Vec::new();
            for root in tidy::PURE {
                let tree = tidy::normal_tree(&env_cargo(), root).map_err(anyhow::Error::msg)?;
                problems.extend(tidy::forbidden_in(root, &tree));
            }
            if !problems.is_empty() {
                bail!("{}", problems.join("\n"));
            }
            println!("tidy: engine and sim depend on no runtime or network client");
            Ok(())
        }
        "bench-proxy" => bench_proxy::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        "bench-api" => bench_api(),
        "bless" => {
            let status = Command::new(env_cargo())
                .args(["test", "--workspace"])
                .env("GWSIM_BLESS", "1")
                .status()
                .context("running cargo test")?;
            if !status.success() {
                bail!("cargo test failed while blessing");
            }
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown task {task:?}")
        }
    }
}

/// The engine's scale measurement at the sizes: 1,000, 10,000 and 100,000 routes.
fn scale() -> anyhow::Result<()> {
    for routes in ["1000", "10000", "100000"] {
        println!("== scale: {routes} routes");
        cargo(&[
            "run",
            "--quiet",
            "--release",
            "-p",
            "gwsim-engine",
            "--example",
            "scale",
            "--",
            routes,
        ])?;
    }
    Ok(())
}

/// Fuzz targets and the testdata folders that seed each (fuzz-targets/tests/replay.rs replays
/// the same seeds on stable).
const FUZZ_TARGETS: [(&str, &[&str]); 3] = [
    (
        "load_admit",
        &["base", "conformance", "malformed", "golden", "tui"],
    ),
    ("scenario", &["scenarios", "conformance", "malformed"]),
    ("decide", &[]),
];

/// `cargo xtask fuzz [SECONDS]`: copies the seeds into fuzz/corpus/<target>/ (ignored by git),
/// then runs each target for SECONDS with cargo-fuzz on nightly. Without nightly or cargo-fuzz
/// it says so and runs the stable replay instead.
fn fuzz(seconds: Option<&str>) -> anyhow::Result<()> {
    let seconds: u64 = seconds
        .unwrap_or("300")
        .parse()
        .context("fuzz takes a number of seconds per target")?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (target, dirs) in FUZZ_TARGETS {
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus).with_context(|| format!("creating {corpus:?}"))?;
        for dir in dirs {
            copy_yaml(&root.join("testdata").join(dir), &corpus, dir)?;
        }
    }
    let has_nightly = Command::new("rustup")
        .args(["run", "nightly", "cargo", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nightly {
        eprintln!(
            "cargo-fuzz on a nightly toolchain is not installed (`rustup toolchain install nightly`, \
             `cargo install cargo-fuzz`); running the stable replay of the corpus instead"
        );
        return cargo(&["test", "--release", "-p", "gwsim-fuzz-targets"]);
    }
    let mut figures = Vec::new();
    for (target, _) in FUZZ_TARGETS {
        println!("== fuzz {target} for {seconds}s");
        let mut child = Command::new("rustup")
            .current_dir(root.join("fuzz"))
            .args(["run", "nightly", "cargo", "fuzz", "run", target])
            .arg(format!("corpus/{target}"))
            .args(["--", "-rss_limit_mb=4096", "-timeout=20"])
            .arg(format!("-max_total_time={seconds}"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        // libFuzzer reports on standard error; pass it through and keep its closing line.
        let mut done = None;
        if let Some(stderr) = child.stderr.take() {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let line = line.context("reading the fuzzer's output")?;
                eprintln!("{line}");
                if let Some(runs) = fuzz_done(&line) {
                    done = Some(runs);
                }
            }
        }
        let status = child.wait().context("waiting for cargo fuzz")?;
        if !status.success() {
            bail!(
                "fuzz target {target} failed: a build error above, or a crash saved in fuzz/artifacts/{target}/"
            );
        }
        figures.push((target, done));
    }
    println!("\n| target | executions | time | executions/s |\n|---|---:|---:|---:|");
    for (target, done) in figures {
        match done {
            Some((runs, secs)) => {
                println!("| {target} | {runs} | {secs} s | {} |", runs / secs.max(1))
            }
            None => println!("| {target} | (libFuzzer printed no total) | | |"),
        }
    }
    Ok(())
}

/// libFuzzer's closing line, `Done 123456 runs in 61 second(s)`: (runs, seconds).
fn fuzz_done(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("Done ")?;
    let (runs, rest) = rest.split_once(" runs in ")?;
    let (secs, _) = rest.split_once(' ')?;
    Some((runs.parse().ok()?, secs.parse().ok()?))
}

/// Copies every file under `from` into `to`, named after its path (`conformance-x.yaml`).
fn copy_yaml(from: &std::path::Path, to: &std::path::Path, prefix: &str) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            copy_yaml(&path, to, &format!("{prefix}-{name}"))?;
        } else {
            std::fs::copy(&path, to.join(format!("{prefix}-{name}")))
                .with_context(|| format!("copying {path:?}"))?;
        }
    }
    Ok(())
}

fn env_cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(env_cargo())
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// The synthetic state as files (`engine/examples/synth_files.rs`): the input-speed figures of
/// the README are measured on them with `/usr/bin/time -v gwsim check -f FILE`.
/// `cargo xtask bench-api`: the release binary under apiserver/figures.sh.
fn bench_api() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--quiet", "--bin", "gwsim"])?;
    let status = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../apiserver/figures.sh"
        ))
        .arg("target/release/gwsim")
        .status()
        .context("running apiserver/figures.sh")?;
    if !status.success() {
        bail!("apiserver/figures.sh failed");
    }
    Ok(())
}

fn synth_files() -> anyhow::Result<()> {
    let rest: Vec<String> = std::env::args().skip(2).collect();
    let mut args = vec![
        "run",
        "--quiet",
        "--release",
        "-p",
        "gwsim-engine",
        "--example",
        "synth_files",
        "--",
    ];
    args.extend(rest.iter().map(String::as_str));
    cargo(&args)
}
