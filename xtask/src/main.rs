//! Project tasks: `cargo xtask bench`, `cargo xtask bless`, `cargo xtask synth`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  bench          run every benchmark and scale measurement in release mode and print the figures
  bench-quick    the scale measurements only (no criterion runs)
  bless          re-write golden files from current output (GWSIM_BLESS=1 cargo test)
  synth-files [ROUTES] [DIR]
                 write the synthetic state (default 10000 routes) as YAML and JSON files for
                 measuring `gwsim check` (default DIR target/synth)";

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
        "synth-files" => synth_files(),
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

/// The synthetic state as files (`engine/examples/synth_files.rs`): the input-speed figures of
/// the README are measured on them with `/usr/bin/time -v gwsim check -f FILE`.
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
