//! `gwsim serve` as a user runs it: start, ready file, one request, Ctrl-C, exit 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ready_file() -> PathBuf {
    std::env::temp_dir().join(format!("gwsim-serve-ready-{}.json", std::process::id()))
}

#[test]
fn serve_answers_and_exits_0_on_ctrl_c() {
    let ready = ready_file();
    let _ = std::fs::remove_file(&ready);
    let mut child = Command::new(env!("CARGO_BIN_EXE_gwsim"))
        .args([
            "serve",
            "-f",
            "testdata/golden/inputs/shop.yaml",
            "--explain-header",
        ])
        .args(["--port-offset", "21000", "--ready-file"])
        .arg(&ready)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && text.ends_with("]\n")
        {
            break text;
        }
        if Instant::now() > deadline || child.try_wait().expect("status").is_some() {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "no ready file; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let listeners: serde_json::Value = serde_json::from_str(&text).expect("ready file is JSON");
    let url = listeners[0]["url"].as_str().expect("url");
    assert_eq!(listeners[0]["listener"], "http");
    assert!(
        url.starts_with("http://127.") && url.ends_with(":21080"),
        "{url}"
    );

    let mut stream = TcpStream::connect(url.trim_start_matches("http://")).expect("connects");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: www.shop.example\r\nConnection: close\r\n\r\n")
        .expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("x-gwsim-decision: route=shop/storefront"),
        "{answer}"
    );

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("exits");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("gateway infra/edge listener http (HTTP) at http://127."),
        "{stdout}"
    );
    // The mesh: a line and an entry per Service port, after the Gateways' listeners.
    assert!(
        stdout.contains("mesh service shop/storefront port "),
        "{stdout}"
    );
    let entries = listeners.as_array().expect("a list");
    let storefront = entries
        .iter()
        .find(|e| e["service"] == "shop/storefront")
        .expect("a mesh entry");
    assert!(
        storefront["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.255.")),
        "{storefront}"
    );
    let _ = std::fs::remove_file(&ready);
}
