//! Unix manners of the binary: output into a pipe the reader closed early ends quietly with
//! exit 0 (`gwsim routes -o json | head -1`), and the terminal UI without a terminal says so
//! before writing anything.

use std::io::Read;
use std::process::{Command, Stdio};

/// A Gateway and `n` routes: `routes -o json` of it is far larger than a pipe's buffer, so
/// the writer meets the closed pipe.
fn many_routes(n: usize) -> String {
    let mut text = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\n\
         spec:\n  gatewayClassName: gwsim\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
             metadata: {{name: r{i}, namespace: default}}\n\
             spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [host{i}.example.com]\n\
             \x20 rules:\n  - matches: [{{path: {{type: PathPrefix, value: /p{i}}}}}]\n\
             \x20   backendRefs: [{{name: svc, port: 80}}]\n"
        ));
    }
    text
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    let dir = std::env::temp_dir().join(format!("gwsim-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("routes.yaml");
    std::fs::write(&input, many_routes(400)).expect("write input");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gwsim"))
        .args(["routes", "-o", "json", "-f"])
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gwsim binary runs");
    // Read the first line, as `head -1` does, then close the pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 2];
    stdout.read_exact(&mut first).expect("output starts");
    drop(stdout);
    let out = child.wait_with_output().expect("gwsim ends");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(&first, b"{\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "stderr: {stderr}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_terminal_ui_without_a_terminal_writes_no_escape_sequence() {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/scenarios/weights.yaml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gwsim"))
        .args(["tui", scenario])
        .stdin(Stdio::null())
        .output()
        .expect("the gwsim binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!out.stderr.contains(&0x1b), "escape sequence in stderr");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}

#[test]
fn no_progress_output_when_piped() {
    let out = Command::new(env!("CARGO_BIN_EXE_gwsim"))
        .args(["conformance", "--run", "HTTPRouteSimpleSameNamespace"])
        .stdin(Stdio::null())
        .output()
        .expect("the gwsim binary runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.contains(&0x1b),
        "escape sequence in piped output"
    );
}
