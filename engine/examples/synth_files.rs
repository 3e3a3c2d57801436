//! Writes a synthetic state as files, for measuring `gwsim check` on real-shaped input:
//!
//! - `synth-N.yaml`: the documents as a user keeps them, separated by `---`;
//! - `synth-N-list.yaml`: the same objects as `kubectl get -o yaml` prints them from a cluster
//!   (one `kind: List`, server-set metadata, another controller's statuses);
//! - `synth-N-list.json`: that List as `kubectl get -o json` prints it (4-space indentation).
//!
//! `cargo run --release -p gwsim-engine --example synth_files -- [ROUTES] [DIR]` (default
//! 10000 routes, into `target/synth`), or `cargo xtask synth-files [ROUTES]`. Same ROUTES,
//! byte-identical files.

#![allow(clippy::print_stdout, clippy::print_stderr)]
use std::path::{Path, PathBuf};

use gwsim_engine::synth::SynthSpec;
use serde::Serialize;
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let routes: usize = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("ROUTES must be a number, got {a:?}"))?,
        None => 10_000,
    };
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from("target/synth"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    let spec = if routes == 10_000 {
        SynthSpec::reconcile_benchmark()
    } else {
        SynthSpec::with_routes(routes)
    };

    let mut stream = String::new();
    for doc in spec.documents() {
        stream.push_str("---\n");
        stream.push_str(&serde_saphyr::to_string(&doc)?);
    }
    write(&dir.join(format!("synth-{routes}.yaml")), stream.as_bytes())?;

    let list = spec.dumped_list();
    write(
        &dir.join(format!("synth-{routes}-list.yaml")),
        serde_saphyr::to_string(&list)?.as_bytes(),
    )?;
    write(
        &dir.join(format!("synth-{routes}-list.json")),
        &kubectl_json(&list)?,
    )?;
    Ok(())
}

/// JSON as kubectl prints it: 4-space indentation, a final newline.
fn kubectl_json(value: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer)?;
    out.push(b'\n');
    Ok(out)
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)?;
    println!("{} ({:.1} MB)", path.display(), bytes.len() as f64 / 1e6);
    Ok(())
}
