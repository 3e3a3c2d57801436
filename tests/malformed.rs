//! Every command exits 0, 1 or 2 on every malformed input: never 101 (a panic), never a signal,
//! never a hang. The corpus is testdata/malformed/ (issue 10); each run has a time limit.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous for a debug build on a loaded two-core machine; a hang is minutes or forever.
const PER_RUN: Duration = Duration::from_secs(120);

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

fn gwsim(args: &[&str]) -> Outcome {
    run(env!("CARGO_BIN_EXE_gwsim"), args, PER_RUN)
}

/// Whether an outcome is one the corpus allows: an exit code of 0, 1 or 2 in time.
fn allowed(out: &Outcome) -> bool {
    !out.timed_out && matches!(out.code, Some(0..=2))
}

fn run(program: &str, args: &[&str], limit: Duration) -> Outcome {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gwsim starts");
    // Read the pipes on threads so a chatty child cannot block on a full pipe.
    fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    }
    let stdout = drain(child.stdout.take().expect("stdout piped"));
    let stderr = drain(child.stderr.take().expect("stderr piped"));
    let started = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break (Some(status), false);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        timed_out,
    }
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/malformed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata/malformed exists")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_command_exits_0_1_or_2_on_every_malformed_input() {
    let files = corpus();
    assert!(files.len() >= 30, "the corpus is there: {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let f = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(file)
            .to_str()
            .expect("utf-8 path");
        let runs: [Vec<&str>; 5] = [
            vec!["check", "-f", f],
            vec!["routes", "-f", f],
            vec!["explain", "-f", f, "http://example.com/a/b?x=1"],
            vec!["diff", "--before", f, "--after", f],
            vec!["run", f],
        ];
        for args in runs {
            let out = gwsim(&args);
            if !allowed(&out) {
                failures.push(format!(
                    "gwsim {}: {}\n{}",
                    args.join(" "),
                    if out.timed_out {
                        format!("no exit within {PER_RUN:?}")
                    } else {
                        format!("exit {:?}", out.code)
                    },
                    out.stderr.lines().take(5).collect::<Vec<_>>().join("\n")
                ));
            }
            assert!(
                !out.stderr.contains("panicked"),
                "gwsim {}: {}",
                args.join(" "),
                out.stderr
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The harness catches what it is there to catch: a panic's 101, a signal, a hang.
#[test]
fn the_harness_refuses_panics_signals_and_hangs() {
    let limit = Duration::from_millis(500);
    assert!(allowed(&run("sh", &["-c", "exit 1"], limit)));
    assert!(!allowed(&run("sh", &["-c", "exit 101"], limit)));
    let killed = run("sh", &["-c", "kill -SEGV $$"], limit);
    assert!(!allowed(&killed) && killed.code.is_none() && !killed.timed_out);
    let hung = run("sleep", &["30"], limit);
    assert!(!allowed(&hung) && hung.timed_out);
}

/// Issue 10, finding 10: the OS error and the UTF-8 error were printed twice.
#[test]
fn read_errors_name_the_file_and_the_cause_once() {
    let out = gwsim(&["check", "-f", "testdata/malformed/does-not-exist.yaml"]);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr.trim_end(),
        "gwsim: testdata/malformed/does-not-exist.yaml: No such file or directory"
    );
    let out = gwsim(&["check", "-f", "testdata/malformed/not-utf8.yaml"]);
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stderr.matches("not UTF-8").count(), 1, "{}", out.stderr);
}

/// The corpus exercises what it is meant to: each finding's input is refused or survived with
/// the message gwsim means to give, so the exit codes above are not vacuous.
#[test]
fn corpus_inputs_get_their_intended_messages() {
    let cases = [
        (
            vec!["run", "testdata/malformed/scenario-count-overflow.yaml"],
            2,
            "gwsim's limit of requests per step (docs/limits.md)",
        ),
        (
            vec!["run", "testdata/malformed/scenario-max-replicas.yaml"],
            1,
            "gwsim's limit of replicas per Deployment (docs/limits.md)",
        ),
        (
            vec!["run", "testdata/malformed/scenario-huge-advance.yaml"],
            2,
            "number too large",
        ),
        (
            vec!["run", "testdata/malformed/scenario-huge-delay.yaml"],
            0,
            "",
        ),
        (
            vec!["run", "testdata/malformed/scenario-long-path.yaml"],
            0,
            "",
        ),
        (
            vec![
                "explain",
                "-f",
                "testdata/malformed/empty.yaml",
                "http://h:80:80/",
            ],
            2,
            "is not a URL",
        ),
    ];
    for (args, code, message) in cases {
        let out = gwsim(&args);
        assert_eq!(
            out.code,
            Some(code),
            "gwsim {}: {}",
            args.join(" "),
            out.stderr
        );
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(said.contains(message), "gwsim {}: {said}", args.join(" "));
    }
}
