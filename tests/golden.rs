//! Golden tests of the command line: every `testdata/golden/*.yaml` file lists command runs
//! (arguments, expected exit code, expected standard output), run from `testdata/golden/`.
//! `GWSIM_BLESS=1 cargo test --test golden` (or `cargo xtask bless`) rewrites the expected
//! outputs from what the binary prints now; review the diff before committing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GoldenFile {
    description: String,
    runs: Vec<Run>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Run {
    args: Vec<String>,
    exit: i32,
    stdout: String,
    /// Compared when given (error messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stderr: Option<String>,
    /// A file (relative to testdata/golden) piped to standard input, for `-f -`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdin: Option<String>,
}

/// The same file with block scalars for outputs, for blessing.
#[derive(Serialize)]
struct BlessedFile<'a> {
    description: &'a str,
    runs: Vec<BlessedRun<'a>>,
}

#[derive(Serialize)]
struct BlessedRun<'a> {
    args: serde_saphyr::FlowSeq<&'a [String]>,
    exit: i32,
    stdout: serde_saphyr::LitString,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<serde_saphyr::LitString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdin: Option<&'a str>,
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden")
}

fn run_gwsim(args: &[String], dir: &Path) -> (i32, String, String) {
    run_gwsim_with_stdin(args, dir, None)
}

fn run_gwsim_with_stdin(args: &[String], dir: &Path, stdin: Option<&str>) -> (i32, String, String) {
    let input = match stdin {
        Some(path) => std::fs::File::open(dir.join(path))
            .unwrap_or_else(|e| panic!("stdin file {path}: {e}"))
            .into(),
        None => std::process::Stdio::null(),
    };
    let out = Command::new(env!("CARGO_BIN_EXE_gwsim"))
        .args(args)
        .current_dir(dir)
        .env_remove("GWSIM_LOG")
        .stdin(input)
        .output()
        .expect("the gwsim binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn golden_command_outputs() {
    let dir = golden_dir();
    let bless = std::env::var_os("GWSIM_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata/golden exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no golden files in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable golden file");
        let mut golden: GoldenFile =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut changed = false;
        for run in &golden.runs {
            failures.extend(lines_too_wide(file, run));
        }
        for run in &mut golden.runs {
            let (exit, stdout, stderr) =
                run_gwsim_with_stdin(&run.args, &dir, run.stdin.as_deref());
            let stderr_differs = run.stderr.as_ref().is_some_and(|e| *e != stderr);
            if exit != run.exit || stdout != run.stdout || stderr_differs {
                if bless {
                    run.exit = exit;
                    run.stdout = stdout;
                    if run.stderr.is_some() {
                        run.stderr = Some(stderr);
                    }
                    changed = true;
                    continue;
                }
                let diff = similar::TextDiff::from_lines(&run.stdout, &stdout)
                    .unified_diff()
                    .header("expected", "actual")
                    .to_string();
                failures.push(format!(
                    "{}: gwsim {}\nexit: expected {}, got {exit}\nstderr: {stderr}\n{diff}",
                    file.display(),
                    run.args.join(" "),
                    run.exit
                ));
            }
        }
        if changed {
            let blessed = BlessedFile {
                description: &golden.description,
                runs: golden
                    .runs
                    .iter()
                    .map(|r| BlessedRun {
                        args: serde_saphyr::FlowSeq(&r.args),
                        exit: r.exit,
                        stdout: serde_saphyr::LitString(r.stdout.clone()),
                        stderr: r.stderr.clone().map(serde_saphyr::LitString),
                        stdin: r.stdin.as_deref(),
                    })
                    .collect(),
            };
            let text = serde_saphyr::to_string(&blessed).expect("serializable");
            std::fs::write(file, text).expect("writable golden file");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The width a text run's output must fit: `--width N`, else 80 (standard output is not a
/// terminal); `None` for runs that do not print wrapped text (`-o wide|name|yaml|json`,
/// `run`, `conformance`, `version`, `completion`, `man`).
fn text_width(args: &[String]) -> Option<usize> {
    let wrapped = ["check", "routes", "explain", "audit", "diff"];
    if !args.first().is_some_and(|c| wrapped.contains(&c.as_str())) {
        return None;
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(format) = value("-o").or_else(|| value("--output"))
        && format != "text"
        && format != "table"
    {
        return None;
    }
    Some(value("--width").and_then(|w| w.parse().ok()).unwrap_or(80))
}

/// Lines of a text run's expected output wider than its width. A line of one word (and a
/// list marker) may be wider: names are never broken.
fn lines_too_wide(file: &Path, run: &Run) -> Vec<String> {
    let Some(width) = text_width(&run.args) else {
        return Vec::new();
    };
    run.stdout
        .lines()
        .filter(|line| line.chars().count() > width && line.split_whitespace().count() > 2)
        .map(|line| {
            format!(
                "{}: gwsim {}: a line wider than {width} columns: {line:?}",
                file.display(),
                run.args.join(" ")
            )
        })
        .collect()
}

#[test]
fn the_width_check_finds_wide_lines() {
    let run = |args: &[&str], stdout: &str| Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        exit: 0,
        stdout: stdout.to_string(),
        stderr: None,
        stdin: None,
    };
    let wide = format!("{}\n", "word ".repeat(20));
    let file = Path::new("x.yaml");
    assert_eq!(
        lines_too_wide(file, &run(&["routes", "-f", "a"], &wide)).len(),
        1
    );
    assert!(lines_too_wide(file, &run(&["routes", "-f", "a", "--width", "120"], &wide)).is_empty());
    assert!(lines_too_wide(file, &run(&["routes", "-f", "a", "-o", "wide"], &wide)).is_empty());
    let one_word = format!("    {}\n", "x".repeat(100));
    assert!(lines_too_wide(file, &run(&["check", "-f", "a"], &one_word)).is_empty());
}

/// Shuffled input, identical output: the documents of each input file in reverse order must
/// give the same `check` and `routes` output as in file order.
#[test]
fn shuffled_documents_give_identical_output() {
    let dir = golden_dir();
    let tmp = std::env::temp_dir().join(format!("gwsim-shuffle-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    for name in ["shop.yaml"] {
        let text = std::fs::read_to_string(dir.join("inputs").join(name)).expect("input");
        let mut docs: Vec<&str> = text.split("\n---\n").collect();
        docs.reverse();
        std::fs::write(tmp.join(name), docs.join("\n---\n")).expect("write shuffled");
        for command in ["check", "routes"] {
            let args = |d: &Path| {
                vec![
                    command.to_string(),
                    "-f".into(),
                    d.join(name).display().to_string(),
                ]
            };
            let (code_a, out_a, _) = run_gwsim(&args(&dir.join("inputs")), &dir);
            let (code_b, out_b, _) = run_gwsim(&args(&tmp), &dir);
            assert_eq!(code_a, code_b, "{command} exit code");
            assert_eq!(
                out_a, out_b,
                "{command} output differs when documents are reversed"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
