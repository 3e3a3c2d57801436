//! The echo pods' logs: per pod, the newest lines its echo server printed, as upstream's
//! conformance echo server prints them (what `kubectl logs` shows of a real echo pod, and what
//! upstream's suite reads to see mirrored requests). `gwsim serve --api` serves them as the
//! `pods/{name}/log` subresource.
//!
//! Upstream's echo server prints one line when each of its servers starts listening, and one
//! line per request its echo handler answers (every path but `/health`, `/status/...`,
//! `/retry/...` and `/ws`, which have handlers of their own that print nothing):
//!
//! ```text
//! Starting server, listening on port 3000 (http)
//! Echoing back request made to /mirror?a=1 to client (10.0.0.7:51234)
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use gwsim_sim::echo::{H2C_PORT, HTTP_PORT};

/// Lines each pod's log keeps (a ring buffer: the oldest go first), as a kubelet rotates a
/// container's log.
pub const LOG_LINES_PER_POD: usize = 20_000;

/// One line of a pod's log and when it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub at: SystemTime,
    pub text: String,
}

/// Each pod's lines, by (namespace, name).
type PodLines = HashMap<(String, String), VecDeque<LogLine>>;

/// Every echo pod's log, shared by the echo servers that write it and whoever reads it (the
/// API's `pods/{name}/log`); cloning shares the same logs. Pods keep their logs while the
/// data plane follows changes; a pod that goes away keeps its log until it is started again.
#[derive(Clone)]
pub struct EchoLogs {
    pods: Arc<Mutex<PodLines>>,
    capacity: usize,
}

impl Default for EchoLogs {
    fn default() -> EchoLogs {
        EchoLogs::with_capacity(LOG_LINES_PER_POD)
    }
}

impl std::fmt::Debug for EchoLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoLogs")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl EchoLogs {
    /// Logs keeping the newest `capacity` lines per pod (at least one).
    pub fn with_capacity(capacity: usize) -> EchoLogs {
        EchoLogs {
            pods: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// A pod's echo server starts: the lines upstream's server prints as it starts listening,
    /// written once per pod (its HTTP/1.1 port and its h2c port).
    pub fn start(&self, namespace: &str, pod: &str) {
        let Ok(mut pods) = self.pods.lock() else {
            return;
        };
        let key = (namespace.to_string(), pod.to_string());
        if pods.contains_key(&key) {
            return;
        }
        let log = pods.entry(key).or_default();
        let now = SystemTime::now();
        for line in [
            format!("Starting server, listening on port {HTTP_PORT} (http)"),
            format!("Starting server, listening on port {H2C_PORT} (h2c)"),
        ] {
            log.push_back(LogLine {
                at: now,
                text: line,
            });
        }
    }

    /// Appends a line to a pod's log, now.
    pub fn write(&self, namespace: &str, pod: &str, text: String) {
        self.write_at(namespace, pod, SystemTime::now(), text);
    }

    fn write_at(&self, namespace: &str, pod: &str, at: SystemTime, text: String) {
        let Ok(mut pods) = self.pods.lock() else {
            return;
        };
        let log = pods
            .entry((namespace.to_string(), pod.to_string()))
            .or_default();
        while log.len() >= self.capacity {
            log.pop_front();
        }
        log.push_back(LogLine { at, text });
    }

    /// A pod's log, oldest line first; `None` when the pod's echo server never started.
    pub fn lines(&self, namespace: &str, pod: &str) -> Option<Vec<LogLine>> {
        let pods = self.pods.lock().ok()?;
        pods.get(&(namespace.to_string(), pod.to_string()))
            .map(|log| log.iter().cloned().collect())
    }
}

/// Whether upstream's echo server answers `path` (with query) with its echo handler, the one
/// that logs: its other handlers are `/health`, `/ws` (exact paths) and the `/status/` and
/// `/retry/` subtrees (whose bare names redirect to the subtree).
pub fn logged_by_echo_handler(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    !matches!(path, "/health" | "/ws" | "/status" | "/retry")
        && !path.starts_with("/status/")
        && !path.starts_with("/retry/")
}

/// The line upstream's echo handler prints for a request: its request target as received and
/// the client's address.
pub fn echo_line(request_uri: &str, client: SocketAddr) -> String {
    format!("Echoing back request made to {request_uri} to client ({client})")
}

/// The request target of an echo line (`None`: not an echo line). Reads the line with or
/// without the timestamp `kubectl logs --timestamps` puts first.
pub fn echoed_uri(line: &str) -> Option<&str> {
    const PREFIX: &str = "Echoing back request made to ";
    let at = line.find(PREFIX)?;
    let rest = &line[at + PREFIX.len()..];
    let end = rest.rfind(" to client (")?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_upstreams_echo_server_prints_them() {
        let client: SocketAddr = "10.0.0.7:51234".parse().expect("an address");
        let line = echo_line("/mirror?a=1", client);
        assert_eq!(
            line,
            "Echoing back request made to /mirror?a=1 to client (10.0.0.7:51234)"
        );
        assert_eq!(echoed_uri(&line), Some("/mirror?a=1"));
        let stamped = format!("2026-12-02T10:21:26.123456789Z {line}");
        assert_eq!(echoed_uri(&stamped), Some("/mirror?a=1"));
        assert_eq!(
            echoed_uri("Starting server, listening on port 3000 (http)"),
            None
        );
    }

    #[test]
    fn only_the_echo_handler_logs() {
        for path in ["/", "/mirror", "/a?b=c", "/healthz", "/statuses", "/wsx"] {
            assert!(logged_by_echo_handler(path), "{path}");
        }
        for path in ["/health", "/ws", "/status/500", "/retry/?uuid=1", "/status"] {
            assert!(!logged_by_echo_handler(path), "{path}");
        }
    }

    #[test]
    fn each_pod_keeps_its_newest_lines() {
        let logs = EchoLogs::with_capacity(3);
        assert_eq!(logs.lines("ns", "a"), None);
        logs.start("ns", "a");
        logs.start("ns", "a");
        let started = logs.lines("ns", "a").expect("a log");
        assert_eq!(started.len(), 2, "started once: {started:?}");
        assert!(started[0].text.contains("port 3000 (http)"));
        assert!(started[1].text.contains("port 3001 (h2c)"));
        let client: SocketAddr = "127.0.0.1:1".parse().expect("an address");
        for n in 0..3 {
            logs.write("ns", "a", echo_line(&format!("/{n}"), client));
        }
        let texts: Vec<String> = logs
            .lines("ns", "a")
            .expect("a log")
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(texts.len(), 3);
        assert!(texts[0].contains("made to /0 "), "{texts:?}");
        assert!(texts[2].contains("made to /2 "), "{texts:?}");
        // Another pod's log is its own.
        assert_eq!(logs.lines("ns", "b"), None);
        assert_eq!(logs.lines("other", "a"), None);
    }
}
