//! Project tasks: `cargo xtask bench`, `cargo xtask bless`, `cargo xtask synth`.
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
  tidy           check that engine/ and sim/ depend on no runtime or network client
  bench-proxy    gwsim serve beside nginx under wrk (installs nginx and wrk with apt-get)";

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
        "tidy" => {
            let lock = std::fs::read_to_string("Cargo.lock").context("reading Cargo.lock")?;
            let problems = tidy::pure_crates(&lock);
            if !problems.is_empty() {
                bail!("{}", problems.join("\n"));
            }
            println!("tidy: engine and sim depend on no runtime or network client");
            Ok(())
        }
        "bench-proxy" => bench_proxy::run(),
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
