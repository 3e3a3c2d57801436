//! Echo backends: every ready pod answers like the upstream conformance echo server.
//!
//! - `200` with a JSON description of the request (built lazily by the network, from the
//!   request itself, so no JSON is made per request);
//! - `?delay=DURATION` (Go duration syntax) answers after that much simulated time; a delay
//!   that does not parse answers 400, as the echo server does;
//! - `X-Echo-Set-Header: Name:value,Other:value` adds those response headers (entries split on
//!   commas, name and value on the first colon, spaces trimmed; a repeated name is appended
//!   to with `,`);
//! - `/status/NNN` answers with status NNN and no body;
//! - `/retry/?uuid=U&succeedAfter=N[&responseCode=C][&delayRetry=D]`: the first N attempts
//!   for U fail (with status C, or by resetting the connection when C is absent), each after
//!   D; later attempts echo. Attempts are counted per pod, in memory, as the echo server does.
//! - `/ws` accepts a WebSocket upgrade (101) and echoes every message back unchanged; a `/ws`
//!   request that is not a WebSocket handshake answers 400;
//! - Every request received is logged (this is how mirroring is observed), in a ring buffer of
//!   [`ECHO_LOG_PER_POD`] entries indexed by request id: a check costs the same however long
//!   the run, and a check that needs an evicted entry says so.
//!
//! Ports (as the echo server listens): 3000 speaks HTTP/1.1, 3001 speaks only h2c (HTTP/2 with
//! prior knowledge). A connection in the other protocol fails before any request is read (a
//! reset, nothing logged). Other target ports answer as 3000 does.
//!
//! A pod whose container sets `GRPC_ECHO_SERVER` is upstream's gRPC echo instead: it speaks
//! only h2c, on every port, and serves the echo service ([`crate::grpc`]): `Echo` and
//! `EchoTwo` answer OK with a report of the call (method, metadata, authority, namespace,
//! Service, pod), `EchoThree` and anything else UNIMPLEMENTED; a request that is not a gRPC
//! POST is refused as grpc-go refuses it (405, 415). Its calls are logged like requests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use gwsim_engine::decision::Request;
use serde::Serialize;

use crate::cluster::{RequestId, WebSocketMessage};
use crate::grpc::Code;
use crate::limits::ECHO_LOG_PER_POD;
use crate::time::{SimTime, parse_go_duration};

/// The header that asks the echo server to set response headers.
pub const SET_HEADER: &str = "X-Echo-Set-Header";
/// The port the echo server speaks HTTP/1.1 on.
pub const HTTP_PORT: u16 = 3000;
/// The port the echo server speaks h2c (and nothing else) on.
pub const H2C_PORT: u16 = 3001;
/// The path of the WebSocket echo.
pub const WEBSOCKET_PATH: &str = "/ws";

/// The HTTP version spoken on a connection to a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum HttpVersion {
    /// HTTP/1.1, where an upgrade (WebSocket) can take the connection over.
    Http11,
    /// HTTP/2 over cleartext with prior knowledge (RFC 9113 §3.3).
    H2c,
}

impl HttpVersion {
    /// What the echo server reports as the request's `proto`.
    pub fn proto(self) -> &'static str {
        match self {
            HttpVersion::Http11 => "HTTP/1.1",
            HttpVersion::H2c => "HTTP/2.0",
        }
    }
}

/// One line of a pod's request log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub id: RequestId,
    pub at: SimTime,
    pub method: String,
    /// Path with query, as received.
    pub path: String,
}

/// What an echo pod does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EchoReply {
    /// An HTTP answer after `delay`. `echo` says whether the body is the JSON echo of the
    /// request.
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        echo: bool,
        delay: Duration,
    },
    /// The connection is reset after `delay`.
    Reset { delay: Duration },
    /// A gRPC echo's answer to a call: HTTP 200, and `code` with `message` as its status;
    /// with `code` OK, the body is the echo report.
    Grpc { code: Code, message: String },
}

/// Whether a backend logged a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    Received,
    NotReceived,
    /// Not in the log, but the log has dropped entries as old as this request: the answer is
    /// unknown. `kept` is the log's capacity.
    Evicted {
        kept: usize,
    },
}

impl Receipt {
    /// The more telling of two pods' answers: received, then unknown, then not received.
    pub fn or(self, other: Receipt) -> Receipt {
        match (self, other) {
            (Receipt::Received, _) | (_, Receipt::Received) => Receipt::Received,
            (Receipt::Evicted { kept }, _) | (_, Receipt::Evicted { kept }) => {
                Receipt::Evicted { kept }
            }
            _ => Receipt::NotReceived,
        }
    }
}

/// One echo pod and its in-memory state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EchoPod {
    pub namespace: String,
    pub name: String,
    pub ip: String,
    /// Upstream's gRPC echo (the Pod sets `GRPC_ECHO_SERVER`) rather than its HTTP echo.
    pub grpc: bool,
    /// The one port where an HTTP echo serves upstream's gRPC echo too: the container port
    /// named `grpc` (as upstream's mesh echo takes `--grpc=7070`).
    pub grpc_port: Option<u16>,
    /// HTTPS on one port (the Pod gives the echo `TLS_SERVER_CERT`; see `backend_tls`).
    pub tls: Option<std::sync::Arc<crate::backend_tls::ServingTls>>,
    /// `/retry/` attempts seen, by uuid.
    retry_attempts: BTreeMap<String, u32>,
    /// The newest requests received, oldest first; at most `capacity`.
    log: VecDeque<LogEntry>,
    capacity: usize,
    /// How many entries of `log` each request id has.
    logged: HashMap<RequestId, u32>,
    /// The highest id of an evicted entry. Ids grow as requests are sent, so an id at or below
    /// it that is not in the log may have been evicted.
    evicted_through: Option<RequestId>,
}

impl EchoPod {
    pub fn new(namespace: &str, name: &str, ip: &str) -> EchoPod {
        EchoPod::with_log_capacity(namespace, name, ip, ECHO_LOG_PER_POD)
    }

    /// A pod whose log keeps the newest `capacity` entries (at least one).
    pub fn with_log_capacity(namespace: &str, name: &str, ip: &str, capacity: usize) -> EchoPod {
        EchoPod {
            namespace: namespace.to_string(),
            name: name.to_string(),
            ip: ip.to_string(),
            grpc: false,
            grpc_port: None,
            tls: None,
            retry_attempts: BTreeMap::new(),
            log: VecDeque::new(),
            capacity: capacity.max(1),
            logged: HashMap::new(),
            evicted_through: None,
        }
    }

    /// The newest requests received, oldest first.
    pub fn log(&self) -> &VecDeque<LogEntry> {
        &self.log
    }

    /// How many entries the log keeps.
    pub fn log_capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the request `id` is in the log.
    pub fn received(&self, id: RequestId) -> bool {
        self.logged.contains_key(&id)
    }

    /// Whether the request `id` is in the log, or may have been evicted from it.
    pub fn receipt(&self, id: RequestId) -> Receipt {
        if self.logged.contains_key(&id) {
            Receipt::Received
        } else if self.evicted_through.is_some_and(|last| id <= last) {
            Receipt::Evicted {
                kept: self.capacity,
            }
        } else {
            Receipt::NotReceived
        }
    }

    /// The same pod as upstream's gRPC echo.
    pub fn serving_grpc(mut self) -> EchoPod {
        self.grpc = true;
        self
    }

    /// The same pod serving gRPC on `port` (and HTTP on its other ports).
    pub fn serving_grpc_on(mut self, port: Option<u16>) -> EchoPod {
        self.grpc_port = port;
        self
    }

    /// Whether the pod answers as the gRPC echo on `port`.
    fn grpc_on(&self, port: u16) -> bool {
        self.grpc || self.grpc_port == Some(port)
    }

    /// The same pod serving TLS as `tls` says.
    pub fn serving_tls(
        mut self,
        tls: Option<std::sync::Arc<crate::backend_tls::ServingTls>>,
    ) -> EchoPod {
        self.tls = tls;
        self
    }

    /// The one protocol the HTTP echo server speaks on `port`.
    pub fn speaks(port: u16) -> HttpVersion {
        if port == H2C_PORT {
            HttpVersion::H2c
        } else {
            HttpVersion::Http11
        }
    }

    /// The one protocol this pod speaks on `port`: the gRPC echo speaks h2c on every port.
    pub fn speaks_on(&self, port: u16) -> HttpVersion {
        if self.grpc_on(port) {
            HttpVersion::H2c
        } else {
            Self::speaks(port)
        }
    }

    /// Logs a request without answering it (a mirrored copy: the gateway drops the answer).
    pub fn record(&mut self, request: &Request, id: RequestId, now: SimTime) {
        if self.log.len() >= self.capacity
            && let Some(old) = self.log.pop_front()
        {
            if let Some(count) = self.logged.get_mut(&old.id) {
                *count -= 1;
                if *count == 0 {
                    self.logged.remove(&old.id);
                }
            }
            self.evicted_through = self.evicted_through.max(Some(old.id));
        }
        self.log.push_back(LogEntry {
            id,
            at: now,
            method: request.method.clone(),
            path: request.path.clone(),
        });
        *self.logged.entry(id).or_insert(0) += 1;
    }

    /// Receives and answers a request that arrived on `port` over `version`.
    pub fn serve(
        &mut self,
        request: &Request,
        version: HttpVersion,
        port: u16,
        id: RequestId,
        now: SimTime,
    ) -> EchoReply {
        if self.speaks_on(port) != version {
            // An HTTP/1.1 request line on an h2c port is not the connection preface, and an
            // HTTP/2 preface is not an HTTP/1.1 request: the server drops the connection.
            return EchoReply::Reset {
                delay: Duration::ZERO,
            };
        }
        self.record(request, id, now);
        if self.grpc_on(port) {
            return serve_grpc(request);
        }
        let (path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));

        let mut delay = Duration::ZERO;
        if !query.is_empty()
            && let Some(text) = query_param(query, "delay")
        {
            match parse_go_duration(text) {
                Ok(d) => delay = d,
                Err(_) => {
                    return EchoReply::Answer {
                        status: 400,
                        headers: Vec::new(),
                        echo: false,
                        delay: Duration::ZERO,
                    };
                }
            }
        }

        if let Some(code) = path.strip_prefix("/status/") {
            let status = code.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
            return EchoReply::Answer {
                status: status.unwrap_or(400),
                headers: Vec::new(),
                echo: false,
                delay,
            };
        }

        if (path == "/retry" || path.starts_with("/retry/"))
            && let Some(reply) = self.retry(query)
        {
            return reply;
        }

        if path == WEBSOCKET_PATH {
            // An upgrade exists only in HTTP/1.1 (RFC 9110 §7.8); anything else is refused.
            if version == HttpVersion::Http11 && is_websocket_handshake(request) {
                return EchoReply::Answer {
                    status: 101,
                    headers: vec![
                        ("Upgrade".to_string(), "websocket".to_string()),
                        ("Connection".to_string(), "Upgrade".to_string()),
                    ],
                    echo: false,
                    delay,
                };
            }
            return EchoReply::Answer {
                status: 400,
                headers: Vec::new(),
                echo: false,
                delay: Duration::ZERO,
            };
        }

        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case(SET_HEADER) {
                add_set_headers(&mut headers, value);
            }
        }
        EchoReply::Answer {
            status: 200,
            headers,
            echo: true,
            delay,
        }
    }

    /// Answers one message on an upgraded `/ws` connection: the same message, unchanged.
    pub fn echo_message(&mut self, message: &WebSocketMessage) -> WebSocketMessage {
        message.clone()
    }

    /// The retry simulator: `None` once the attempt should succeed.
    fn retry(&mut self, query: &str) -> Option<EchoReply> {
        let uuid = query_param(query, "uuid").unwrap_or("");
        let succeed_after: u32 = query_param(query, "succeedAfter")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let delay = query_param(query, "delayRetry")
            .and_then(|d| parse_go_duration(d).ok())
            .unwrap_or(Duration::ZERO);
        let attempts = self.retry_attempts.entry(uuid.to_string()).or_insert(0);
        let attempt = *attempts;
        *attempts = attempts.saturating_add(1);
        if attempt >= succeed_after {
            return None;
        }
        match query_param(query, "responseCode").and_then(|c| c.parse::<u16>().ok()) {
            Some(status) if (100..=599).contains(&status) => Some(EchoReply::Answer {
                status,
                headers: Vec::new(),
                echo: false,
                delay,
            }),
            _ => Some(EchoReply::Reset { delay }),
        }
    }
}

/// The gRPC echo's answer to a request (logged already): grpc-go refuses what is not a gRPC
/// POST with an HTTP status, and answers a call with a gRPC status.
fn serve_grpc(request: &Request) -> EchoReply {
    let refuse = |status: u16| EchoReply::Answer {
        status,
        headers: Vec::new(),
        echo: false,
        delay: Duration::ZERO,
    };
    if request.method != "POST" {
        return refuse(405);
    }
    let is_grpc = request
        .header("content-type")
        .is_some_and(|ct| ct.trim().starts_with(crate::grpc::CONTENT_TYPE));
    if !is_grpc {
        return refuse(415);
    }
    match crate::grpc::echo_call(&request.path) {
        Ok(()) => EchoReply::Grpc {
            code: Code::OK,
            message: String::new(),
        },
        Err((code, message)) => EchoReply::Grpc { code, message },
    }
}

/// Whether a request is a WebSocket opening handshake (RFC 6455 §4.2.1): a GET whose
/// `Upgrade` names `websocket`, whose `Connection` names `upgrade`, and whose
/// `Sec-WebSocket-Version` is 13. (The key and its digest are not modelled.)
pub fn is_websocket_handshake(request: &Request) -> bool {
    let has_token = |name: &str, token: &str| {
        request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    request.method == "GET"
        && has_token("Upgrade", "websocket")
        && has_token("Connection", "upgrade")
        && request.header("Sec-WebSocket-Version").map(str::trim) == Some("13")
}

/// The first value of a query parameter (no percent-decoding: the values the echo server's
/// knobs take need none).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Adds the headers an `X-Echo-Set-Header` value asks for.
fn add_set_headers(headers: &mut Vec<(String, String)>, value: &str) {
    for entry in value.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (name, value) = entry.split_once(':').unwrap_or((entry, ""));
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            continue;
        }
        match headers.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            None => headers.push((name.to_string(), value.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut r = Request::get("example.com", path);
        r.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        r
    }

    fn serve(pod: &mut EchoPod, request: &Request, id: RequestId, now: SimTime) -> EchoReply {
        pod.serve(request, HttpVersion::Http11, HTTP_PORT, id, now)
    }

    fn answer(reply: EchoReply) -> (u16, Vec<(String, String)>, bool, u64) {
        match reply {
            EchoReply::Answer {
                status,
                headers,
                echo,
                delay,
            } => (status, headers, echo, delay.as_millis() as u64),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn echoes_and_logs() {
        let mut pod = EchoPod::new("ns", "web-abc-def", "10.244.0.1");
        let (status, headers, echo, delay) = answer(serve(
            &mut pod,
            &req("/a?x=1", &[]),
            RequestId(1),
            SimTime::START,
        ));
        assert_eq!((status, echo, delay), (200, true, 0));
        assert_eq!(
            headers,
            vec![("Content-Type".to_string(), "application/json".to_string())]
        );
        assert!(pod.received(RequestId(1)));
        assert!(!pod.received(RequestId(2)));
        assert_eq!(pod.log()[0].path, "/a?x=1");
    }

    #[test]
    fn delay_status_and_set_header() {
        let mut pod = EchoPod::new("ns", "p", "ip");
        let cases: Vec<(Request, u16, bool, u64)> = vec![
            (req("/?delay=1s", &[]), 200, true, 1000),
            (req("/x?a=b&delay=250ms", &[]), 200, true, 250),
            (req("/?delay=1.5s", &[]), 200, true, 1500),
            (req("/?delay=soon", &[]), 400, false, 0),
            // Issue 10, finding 2: too long for Go's ParseDuration, so the echo server's 400,
            // never a wrapped delay or a panic.
            (
                req("/?delay=94522879700260684295381835.9h", &[]),
                400,
                false,
                0,
            ),
            (req("/?delay=4000000000000000h", &[]), 400, false, 0),
            (
                req("/?delay=2562047h", &[]),
                200,
                true,
                2_562_047 * 3_600_000,
            ),
            (req("/status/503", &[]), 503, false, 0),
            (req("/status/204?delay=2s", &[]), 204, false, 2000),
            (req("/status/abc", &[]), 400, false, 0),
        ];
        for (r, want_status, want_echo, want_delay) in cases {
            let path = r.path.clone();
            let (status, _, echo, delay) =
                answer(serve(&mut pod, &r, RequestId(0), SimTime::START));
            assert_eq!(
                (status, echo, delay),
                (want_status, want_echo, want_delay),
                "{path}"
            );
        }

        let r = req(
            "/",
            &[
                ("x-echo-set-header", " X-A : 1 , X-B:two:parts,,X-A:3"),
                (SET_HEADER, "X-C:"),
            ],
        );
        let (_, headers, _, _) = answer(serve(&mut pod, &r, RequestId(0), SimTime::START));
        assert_eq!(
            headers[1..].to_vec(),
            vec![
                ("X-A".to_string(), "1,3".to_string()),
                ("X-B".to_string(), "two:parts".to_string()),
                ("X-C".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn retry_simulator_counts_attempts_per_uuid() {
        let mut pod = EchoPod::new("ns", "p", "ip");
        let code = req(
            "/retry/?uuid=a&succeedAfter=2&responseCode=503&delayRetry=100ms",
            &[],
        );
        let reset = req("/retry/?uuid=b&succeedAfter=1", &[]);
        assert_eq!(
            answer(serve(&mut pod, &code, RequestId(0), SimTime::START)).0,
            503
        );
        assert_eq!(
            serve(&mut pod, &reset, RequestId(0), SimTime::START),
            EchoReply::Reset {
                delay: Duration::ZERO
            }
        );
        let (status, _, _, delay) = answer(serve(&mut pod, &code, RequestId(0), SimTime::START));
        assert_eq!((status, delay), (503, 100));
        assert_eq!(
            answer(serve(&mut pod, &code, RequestId(0), SimTime::START)).0,
            200
        );
        assert_eq!(
            answer(serve(&mut pod, &reset, RequestId(0), SimTime::START)).0,
            200
        );
        // Another pod has its own counts.
        let mut other = EchoPod::new("ns", "q", "ip2");
        assert_eq!(
            answer(serve(&mut other, &code, RequestId(0), SimTime::START)).0,
            503
        );
    }

    #[test]
    fn the_log_is_a_ring_buffer_indexed_by_request_id() {
        // Issue 10, finding 7: every mirror check scanned the whole log, and the log grew
        // without end. Now it keeps the newest entries and answers by id without a scan.
        let mut pod = EchoPod::with_log_capacity("ns", "p", "ip", 3);
        let r = req("/", &[]);
        for id in 1..=5 {
            pod.record(&r, RequestId(id), SimTime::START);
        }
        // A retried request is logged once per attempt, under one id.
        pod.record(&r, RequestId(5), SimTime::START);
        let ids: Vec<u64> = pod.log().iter().map(|e| e.id.0).collect();
        assert_eq!(ids, [4, 5, 5]);
        assert_eq!(pod.receipt(RequestId(5)), Receipt::Received);
        assert_eq!(pod.receipt(RequestId(4)), Receipt::Received);
        assert_eq!(pod.receipt(RequestId(2)), Receipt::Evicted { kept: 3 });
        assert_eq!(pod.receipt(RequestId(6)), Receipt::NotReceived);
        assert!(pod.received(RequestId(5)) && !pod.received(RequestId(2)));
        pod.record(&r, RequestId(6), SimTime::START);
        pod.record(&r, RequestId(7), SimTime::START);
        assert_eq!(pod.receipt(RequestId(4)), Receipt::Evicted { kept: 3 });
        assert_eq!(
            pod.receipt(RequestId(5)),
            Receipt::Received,
            "one attempt is left"
        );
        pod.record(&r, RequestId(8), SimTime::START);
        assert_eq!(pod.receipt(RequestId(5)), Receipt::Evicted { kept: 3 });
        assert_eq!(pod.log().len(), 3);
        // A fresh pod keeps gwsim's limit.
        assert_eq!(
            EchoPod::new("ns", "q", "ip").log_capacity(),
            crate::limits::ECHO_LOG_PER_POD
        );
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param("a=1&b=2&a=3", "a"), Some("1"));
        assert_eq!(query_param("flag&b=2", "flag"), Some(""));
        assert_eq!(query_param("b=2", "a"), None);
    }

    fn handshake(path: &str, extra: &[(&str, &str)]) -> Request {
        let mut headers = vec![
            ("Connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("Sec-WebSocket-Version", "13"),
        ];
        headers.extend_from_slice(extra);
        req(path, &headers)
    }

    #[test]
    fn each_port_speaks_one_protocol() {
        use HttpVersion::{H2c, Http11};
        // (version, port, answered): a mismatch resets the connection before any request.
        let cases = [
            (Http11, HTTP_PORT, true),
            (H2c, H2C_PORT, true),
            (Http11, H2C_PORT, false),
            (H2c, HTTP_PORT, false),
            (Http11, 8080, true),
            (H2c, 8080, false),
        ];
        for (n, (version, port, answered)) in cases.into_iter().enumerate() {
            let mut pod = EchoPod::new("ns", "p", "ip");
            let id = RequestId(n as u64);
            let reply = pod.serve(&req("/", &[]), version, port, id, SimTime::START);
            match (answered, reply) {
                (true, EchoReply::Answer { status, echo, .. }) => {
                    assert_eq!((status, echo), (200, true), "{version:?} {port}");
                }
                (false, EchoReply::Reset { delay }) => assert_eq!(delay, Duration::ZERO),
                (_, other) => panic!("{version:?} on {port}: {other:?}"),
            }
            assert_eq!(pod.received(id), answered, "{version:?} {port}: logged");
        }
        assert_eq!(HttpVersion::Http11.proto(), "HTTP/1.1");
        assert_eq!(HttpVersion::H2c.proto(), "HTTP/2.0");
    }

    #[test]
    fn ws_accepts_only_a_websocket_handshake_over_http11() {
        use HttpVersion::{H2c, Http11};
        let mut post = handshake("/ws", &[]);
        post.method = "POST".into();
        let cases: Vec<(&str, Request, HttpVersion, u16, u16, bool)> = vec![
            (
                "handshake",
                handshake("/ws", &[]),
                Http11,
                HTTP_PORT,
                101,
                false,
            ),
            (
                "not an upgrade",
                req("/ws", &[]),
                Http11,
                HTTP_PORT,
                400,
                false,
            ),
            (
                "old version",
                req(
                    "/ws",
                    &[
                        ("Connection", "Upgrade"),
                        ("Upgrade", "websocket"),
                        ("Sec-WebSocket-Version", "8"),
                    ],
                ),
                Http11,
                HTTP_PORT,
                400,
                false,
            ),
            (
                "no Connection: upgrade",
                req(
                    "/ws",
                    &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")],
                ),
                Http11,
                HTTP_PORT,
                400,
                false,
            ),
            ("a POST", post, Http11, HTTP_PORT, 400, false),
            (
                "over HTTP/2",
                handshake("/ws", &[]),
                H2c,
                H2C_PORT,
                400,
                false,
            ),
            (
                "another path ignores the upgrade",
                handshake("/", &[]),
                Http11,
                HTTP_PORT,
                200,
                true,
            ),
        ];
        for (what, request, version, port, want_status, want_echo) in cases {
            let mut pod = EchoPod::new("ns", "p", "ip");
            let reply = pod.serve(&request, version, port, RequestId(0), SimTime::START);
            let (status, headers, echo, _) = answer(reply);
            assert_eq!((status, echo), (want_status, want_echo), "{what}");
            if status == 101 {
                assert_eq!(
                    headers,
                    vec![
                        ("Upgrade".to_string(), "websocket".to_string()),
                        ("Connection".to_string(), "Upgrade".to_string()),
                    ]
                );
            }
        }
    }

    #[test]
    fn the_grpc_echo_answers_calls_as_grpc_go_does() {
        use crate::grpc::{CONTENT_TYPE, ECHO_SERVICE};
        let call = |method: &str, content_type: &str, http_method: &str| {
            let mut r = req(
                &format!("/{ECHO_SERVICE}/{method}"),
                &[("content-type", content_type), ("te", "trailers")],
            );
            r.method = http_method.into();
            r
        };
        let echo = call("Echo", CONTENT_TYPE, "POST");
        let cases: Vec<(&str, Request, HttpVersion, Option<EchoReply>)> = vec![
            (
                "Echo",
                echo.clone(),
                HttpVersion::H2c,
                Some(EchoReply::Grpc {
                    code: Code::OK,
                    message: String::new(),
                }),
            ),
            (
                "EchoTwo",
                call("EchoTwo", "application/grpc+proto", "POST"),
                HttpVersion::H2c,
                Some(EchoReply::Grpc {
                    code: Code::OK,
                    message: String::new(),
                }),
            ),
            (
                "EchoThree",
                call("EchoThree", CONTENT_TYPE, "POST"),
                HttpVersion::H2c,
                Some(EchoReply::Grpc {
                    code: Code::UNIMPLEMENTED,
                    message: "method EchoThree not implemented".into(),
                }),
            ),
            ("over HTTP/1.1", echo.clone(), HttpVersion::Http11, None),
            (
                "a GET",
                call("Echo", CONTENT_TYPE, "GET"),
                HttpVersion::H2c,
                Some(EchoReply::Answer {
                    status: 405,
                    headers: Vec::new(),
                    echo: false,
                    delay: Duration::ZERO,
                }),
            ),
            (
                "not gRPC",
                call("Echo", "application/json", "POST"),
                HttpVersion::H2c,
                Some(EchoReply::Answer {
                    status: 415,
                    headers: Vec::new(),
                    echo: false,
                    delay: Duration::ZERO,
                }),
            ),
        ];
        for (what, request, version, want) in cases {
            let mut pod = EchoPod::new("ns", "g", "ip").serving_grpc();
            assert_eq!(pod.speaks_on(HTTP_PORT), HttpVersion::H2c);
            let got = pod.serve(&request, version, HTTP_PORT, RequestId(1), SimTime::START);
            match want {
                Some(want) => {
                    assert_eq!(got, want, "{what}");
                    assert!(pod.received(RequestId(1)), "{what}: logged");
                }
                None => assert!(matches!(got, EchoReply::Reset { .. }), "{what}: {got:?}"),
            }
        }
    }

    #[test]
    fn messages_come_back_unchanged() {
        let mut pod = EchoPod::new("ns", "p", "ip");
        let messages = [
            WebSocketMessage::Text("Websocket Support!".into()),
            WebSocketMessage::Text(String::new()),
            WebSocketMessage::Binary(vec![1, 2, 3, 4, 5, 6, 7]),
            WebSocketMessage::Binary(vec![0, 0xff, 0x80]),
        ];
        for m in &messages {
            assert_eq!(&pod.echo_message(m), m);
        }
    }
}
