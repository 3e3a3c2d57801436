//! HTTP/1.1 on the Gateway's plain sockets, read and written here for the requests nearly all
//! traffic is made of: HTTP/1.1 in origin form with one Host header, no body or one sized by
//! Content-Length, no upgrade and no `Expect`. The first request that is anything else (h2c's
//! preface, an upgrade, a chunked body, HTTP/1.0, a malformed or oversized head) goes to
//! hyper's server with the rest of its connection and the bytes already read, so it is
//! answered exactly as before. hyper's dispatcher, header maps and per-request timers cost
//! more than the exchange itself on a proxy (docs/serve.md, "Speed"); what the front writes
//! follows hyper's server byte for byte where it matters (status line, Content-Length, Date,
//! `connection: close`).

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Poll, Waker};
use std::time::{Duration, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use gwsim_engine::decision::{Request, Scheme};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::Shared;
use crate::body::Reply;
use crate::handler::{self, Arrival, Begun, Lent, Place};
use crate::http1::has_token;
use crate::replay::Replay;

/// The most header fields a request may have here (hyper's default; beyond, hyper answers).
const MAX_HEADERS: usize = 100;
/// How much room a read is given.
const READ_CHUNK: usize = 8 * 1024;
/// A body up to this size is written with its head in one piece.
const COPY_BODY: usize = 16 * 1024;

/// The connections the front serves itself, for the drain at shutdown (hyper's are watched by
/// its graceful shutdown). Each connection's task leaves its waker here once, so that waiting
/// for a request registers nothing: the drain wakes every task and each looks at the flag.
#[derive(Default)]
pub(crate) struct Connections {
    draining: AtomicBool,
    next: AtomicU64,
    wakers: std::sync::Mutex<HashMap<u64, Waker>>,
    gone: Notify,
}

impl Connections {
    /// No new request is read: idle connections close now, busy ones after their answer.
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        if let Ok(wakers) = self.wakers.lock() {
            for waker in wakers.values() {
                waker.wake_by_ref();
            }
        }
    }

    /// Waits until every connection of the front has closed (or gone to hyper).
    pub(crate) async fn closed(&self) {
        loop {
            let gone = self.gone.notified();
            tokio::pin!(gone);
            gone.as_mut().enable();
            if self.wakers.lock().map_or(true, |w| w.is_empty()) {
                return;
            }
            gone.await;
        }
    }

    fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// A connection of the front, known to the drain while it lives.
struct Live {
    shared: Arc<Shared>,
    id: u64,
}

impl Live {
    /// Registers the calling task's waker. The connection is then served in this same task
    /// (`serve` is the spawned future itself), so that waker is the one the drain must wake.
    async fn new(shared: &Arc<Shared>) -> Live {
        let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let id = shared.front.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut wakers) = shared.front.wakers.lock() {
            wakers.insert(id, waker);
        }
        Live {
            shared: shared.clone(),
            id,
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(mut wakers) = self.shared.front.wakers.lock() {
            wakers.remove(&self.id);
        }
        self.shared.front.gone.notify_waiters();
    }
}

/// Ready once the proxy drains; registers nothing (the connection's task was woken by
/// [`Connections::drain`]).
fn drained(connections: &Connections) -> impl Future<Output = ()> + '_ {
    std::future::poll_fn(move |_| match connections.draining() {
        true => Poll::Ready(()),
        false => Poll::Pending,
    })
}

/// Serves a plain connection to a Gateway listener: here while its requests are simple, then
/// by hyper (`builder`, watched by `watcher` for the drain) if one is not.
pub(crate) async fn serve(
    stream: TcpStream,
    arrival: Arc<Arrival>,
    shared: Arc<Shared>,
    builder: auto::Builder<TokioExecutor>,
    watcher: Watcher,
) {
    let mut front = Front {
        stream,
        buf: BytesMut::with_capacity(READ_CHUNK),
        out: Vec::with_capacity(1024),
        request: unfilled(&arrival),
    };
    let live = Live::new(&shared).await;
    let end = front.run(&shared, &arrival).await;
    drop(live);
    if let End::HandOver = end {
        // hyper reads what the front read first, then the socket.
        let io = Replay::new(front.buf.freeze(), front.stream);
        let service = service_fn(move |req| handler::handle(shared.clone(), arrival.clone(), req));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let _ = watcher.watch(conn).await;
    }
}

/// A connection's request before its first head: the Gateway and port it arrived at.
fn unfilled(arrival: &Arrival) -> Request {
    Request {
        gateway: Some(arrival.gateway.clone()),
        scheme: Scheme::Http,
        port: arrival.port,
        method: String::new(),
        host: String::new(),
        path: String::new(),
        headers: Vec::new(),
        sni: None,
    }
}

/// How the front is done with a connection.
enum End {
    Closed,
    /// hyper serves the rest, starting with what is in the buffer.
    HandOver,
}

/// What a read brought.
enum Read {
    More,
    /// End of stream, an error, the header read timeout, or the drain of an idle connection.
    Done,
}

struct Front {
    stream: TcpStream,
    /// Read and not used yet.
    buf: BytesMut,
    /// The answer being written, reused.
    out: Vec<u8>,
    /// The request as the engine sees it, refilled for every head: its strings keep their
    /// room from one request to the next.
    request: Request,
}

impl Front {
    async fn run(&mut self, shared: &Arc<Shared>, arrival: &Arrival) -> End {
        let limits = &shared.limits;
        // One timer for the connection, moved on for every head (a later deadline costs no
        // timer-wheel work); as hyper's, it runs from when a head is awaited, idle included.
        let timer = tokio::time::sleep(limits.header_read_timeout);
        tokio::pin!(timer);
        // And one for the deadlines of the exchanges with backends.
        let attempt_timer = tokio::time::sleep(limits.backend_timeout);
        tokio::pin!(attempt_timer);
        loop {
            let mut timed = false;
            let head = loop {
                match parse(&self.buf, &mut self.request, limits.max_body_bytes) {
                    Parsed::Complete(head) => break head,
                    Parsed::HandOver => return End::HandOver,
                    Parsed::Partial if self.buf.len() >= limits.max_header_bytes => {
                        return End::HandOver;
                    }
                    Parsed::Partial => {}
                }
                if !timed {
                    timer
                        .as_mut()
                        .reset(Instant::now() + limits.header_read_timeout);
                    timed = true;
                }
                if let Read::Done = self.read_head_bytes(timer.as_mut(), shared).await {
                    return End::Closed;
                }
            };
            while self.buf.len() < head.len + head.body_len {
                if let Read::Done = self.read_body_bytes().await {
                    return End::Closed;
                }
            }
            self.buf.advance(head.len);
            let body = self.buf.split_to(head.body_len).freeze();
            // The decision and the answer's steps are called from here, not through one
            // async function for all: each level of future would be copied on every request.
            let decided = handler::decide(shared, &self.request);
            let place = Place::Gateway {
                gateway: &arrival.gateway,
                port: arrival.port,
            };
            let started = handler::log_started();
            let response = match handler::begin(place, decided.outcome) {
                Begun::Answered(response) => response,
                // The engine found no usable listener: the connection closes unanswered.
                Begun::Refused(_) => return End::Closed,
                Begun::Forward(forward) => {
                    let lent = Lent {
                        client_upgrade: None,
                        attempt_timer: Some(attempt_timer.as_mut()),
                    };
                    let mut rng = decided.rng;
                    let state = &decided.state;
                    handler::deliver(shared, state, place, forward, body, lent, &mut rng).await
                }
            };
            let provenance = decided.provenance.as_ref();
            let response =
                handler::finish(shared, place, &self.request, provenance, started, response);
            let close = head.close || shared.front.draining();
            let (close, body) = encode(&mut self.out, &response, head.head_method, close);
            if self.write(body).await.is_err() || close {
                let _ = self.stream.shutdown().await;
                return End::Closed;
            }
        }
    }

    /// Reads more of a head, within the header read timeout; an idle connection (nothing
    /// read) closes when the proxy drains.
    async fn read_head_bytes(&mut self, timer: Pin<&mut Sleep>, shared: &Shared) -> Read {
        let idle = self.buf.is_empty();
        if idle && shared.front.draining() {
            return Read::Done;
        }
        self.buf.reserve(READ_CHUNK);
        tokio::select! {
            biased;
            read = self.stream.read_buf(&mut self.buf) => match read {
                Ok(0) | Err(_) => Read::Done,
                Ok(_) => Read::More,
            },
            () = timer => Read::Done,
            () = drained(&shared.front), if idle => Read::Done,
        }
    }

    /// Reads more of a body (hyper's server has no timeout there either).
    async fn read_body_bytes(&mut self) -> Read {
        self.buf.reserve(READ_CHUNK);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) | Err(_) => Read::Done,
            Ok(_) => Read::More,
        }
    }

    /// Writes the encoded head and `body` (when it was not copied after the head).
    async fn write(&mut self, body: Option<Bytes>) -> std::io::Result<()> {
        self.stream.write_all(&self.out).await?;
        if let Some(body) = body {
            self.stream.write_all(&body).await?;
        }
        Ok(())
    }
}

/// A request head the front serves itself.
struct Head {
    /// Bytes of the request line and headers.
    len: usize,
    /// Bytes of the body (Content-Length).
    body_len: usize,
    /// The client asked to close after this request (`Connection: close`).
    close: bool,
    /// A HEAD request: the answer has no body.
    head_method: bool,
}

#[allow(clippy::large_enum_variant)] // one per head read, never stored
enum Parsed {
    Complete(Head),
    Partial,
    HandOver,
}

/// Reads a head out of `buf` if it is one the front serves, into `request` (whose gateway,
/// scheme and port are the connection's); anything else is hyper's.
fn parse(buf: &[u8], request: &mut Request, max_body: usize) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::HandOver,
    };
    match head(&parsed, len, request, max_body) {
        Some(head) => Parsed::Complete(head),
        None => Parsed::HandOver,
    }
}

/// Fills `request` with a parsed head as [`handler::received_request`] makes the engine's
/// request from hyper's; `None` (and `request` left half filled) when the head is not one the
/// front serves.
fn head(
    parsed: &httparse::Request<'_, '_>,
    len: usize,
    request: &mut Request,
    max_body: usize,
) -> Option<Head> {
    if parsed.version != Some(1) {
        return None;
    }
    let method = parsed.method?;
    let path = parsed.path?;
    if method == "CONNECT" || !origin_form(path.as_bytes()) {
        return None;
    }
    let mut host = None;
    let mut body_len = None;
    let mut close = false;
    let mut kept = 0;
    for field in parsed.headers.iter() {
        if !field
            .value
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return None; // hyper's path answers 400 ("not text")
        }
        let value = std::str::from_utf8(field.value).ok()?;
        let name = field.name;
        if name.eq_ignore_ascii_case("host") {
            if host.replace(value).is_some() {
                return None;
            }
            continue;
        }
        if name.eq_ignore_ascii_case("content-length") {
            let n = content_length(value)?;
            if body_len.replace(n).is_some() || n > max_body {
                return None;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
        {
            return None;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("upgrade") {
                    return None;
                }
            }
        }
        // The strings of the previous request's fields are written over.
        match request.headers.get_mut(kept) {
            Some((n, v)) => {
                refill(n, name);
                n.make_ascii_lowercase();
                refill(v, value);
            }
            None => request
                .headers
                .push((name.to_ascii_lowercase(), value.to_string())),
        }
        kept += 1;
    }
    request.headers.truncate(kept);
    group_like_header_map(&mut request.headers);
    refill(&mut request.host, host?);
    refill(&mut request.method, method);
    refill(&mut request.path, path);
    Some(Head {
        len,
        body_len: body_len.unwrap_or(0),
        close,
        head_method: method == "HEAD",
    })
}

/// `to` holds `text` now, in the room it had.
fn refill(to: &mut String, text: &str) {
    to.clear();
    to.push_str(text);
}

/// A request target in origin form that `http`'s URI parser takes as it is (its path and
/// query character classes, no fragment, no bytes beyond ASCII): the path the engine sees is
/// then the same on both servers.
fn origin_form(target: &[u8]) -> bool {
    if target.first() != Some(&b'/') || target.len() >= usize::from(u16::MAX) - 1 {
        return false;
    }
    let mut query = false;
    target.iter().all(|&b| {
        if b == b'?' {
            query = true;
            return true;
        }
        matches!(
            (query, b),
            (false, b'"' | b'{' | b'}')
                | (false, 0x21 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7A | 0x7C | 0x7E)
                | (true, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E)
        )
    })
}

/// A Content-Length value: digits only, as hyper reads it.
fn content_length(value: &str) -> Option<usize> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// hyper's header map yields a name's later values right after its first: the engine sees
/// the same order from both servers.
fn group_like_header_map(headers: &mut Vec<(String, String)>) {
    let repeated = headers
        .iter()
        .enumerate()
        .any(|(i, (n, _))| headers[..i].iter().any(|(m, _)| m == n));
    if !repeated {
        return;
    }
    let mut grouped: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers.drain(..) {
        match grouped.iter().rposition(|(n, _)| *n == name) {
            Some(last) => grouped.insert(last + 1, (name, value)),
            None => grouped.push((name, value)),
        }
    }
    *headers = grouped;
}

/// Writes `response` into `out` as hyper's HTTP/1.1 server does for a body of known length:
/// the status line (canonical reason), the headers in the map's order (names lower case),
/// `connection: close` when the connection ends, `content-length` where a body may be, and
/// `date` unless the answer has one. Returns whether the connection closes after it and the
/// body when it is too big to copy after the head.
fn encode(
    out: &mut Vec<u8>,
    response: &hyper::Response<Reply>,
    head_method: bool,
    mut close: bool,
) -> (bool, Option<Bytes>) {
    out.clear();
    let status = response.status();
    if status == hyper::StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        let reason = status.canonical_reason().unwrap_or("<none>");
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut date = false;
    let mut connection: Vec<&[u8]> = Vec::new();
    // The answer's own Connection fields say `close`.
    let mut says_close = false;
    for (name, value) in response.headers() {
        match name.as_str() {
            // The body's own length is written below; the front never chunks.
            "content-length" | "transfer-encoding" => continue,
            "connection" => {
                says_close |= has_token(value.as_bytes(), b"close");
                connection.push(value.as_bytes());
                continue;
            }
            "date" => date = true,
            _ => {}
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    close |= says_close;
    if close && !says_close {
        connection.push(b"close");
    }
    if !connection.is_empty() {
        out.extend_from_slice(b"connection: ");
        out.extend_from_slice(&connection.join(&b", "[..]));
        out.extend_from_slice(b"\r\n");
    }
    let data = response.body().data();
    let bodiless = status.is_informational()
        || status == hyper::StatusCode::NO_CONTENT
        || status == hyper::StatusCode::NOT_MODIFIED;
    if !bodiless && (!data.is_empty() || !head_method) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(data.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !date {
        out.extend_from_slice(b"date: ");
        http_date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if bodiless || head_method || data.is_empty() {
        return (close, None);
    }
    if data.len() <= COPY_BODY {
        out.extend_from_slice(data);
        return (close, None);
    }
    (close, Some(data.clone()))
}

/// The current time as an HTTP date, formatted once a second.
fn http_date(out: &mut Vec<u8>) {
    thread_local! {
        static CACHED: std::cell::RefCell<(SystemTime, String)> =
            const { std::cell::RefCell::new((SystemTime::UNIX_EPOCH, String::new())) };
    }
    let now = SystemTime::now();
    CACHED.with_borrow_mut(|(until, text)| {
        if now >= *until {
            *text = httpdate::fmt_http_date(now);
            let secs = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            *until = SystemTime::UNIX_EPOCH + Duration::from_secs(secs + 1);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use gwsim_engine::object::{Kind, ObjectKey};
    use hyper::service::service_fn;
    use tokio::net::TcpListener;

    use super::*;

    fn arrival() -> Arrival {
        Arrival {
            gateway: ObjectKey::new(Kind::Gateway, "infra", "gw"),
            port: 80,
            scheme: Scheme::Http,
            sni: None,
        }
    }

    fn fresh() -> Request {
        unfilled(&arrival())
    }

    fn parsed(text: &str) -> Parsed {
        parse(text.as_bytes(), &mut fresh(), 1000)
    }

    fn served_into(request: &mut Request, text: &str) -> Head {
        match parse(text.as_bytes(), request, 1000) {
            Parsed::Complete(head) => head,
            Parsed::Partial => panic!("partial: {text:?}"),
            Parsed::HandOver => panic!("handed over: {text:?}"),
        }
    }

    fn served(text: &str) -> (Head, Request) {
        let mut request = fresh();
        (served_into(&mut request, text), request)
    }

    fn handed_over(text: &str) -> bool {
        matches!(parsed(text), Parsed::HandOver)
    }

    #[test]
    fn a_simple_head_becomes_the_request_hyper_would_give_the_engine() {
        let (head, request) = served(
            "GET /a?b=1 HTTP/1.1\r\nHost: a.example\r\nX-One: 1\r\nAccept: */*\r\nx-one: 2\r\nConnection: keep-alive, Close\r\n\r\n",
        );
        assert_eq!(request.host, "a.example");
        assert_eq!(request.path, "/a?b=1");
        assert_eq!(request.method, "GET");
        assert_eq!(request.port, 80);
        assert!(head.close && !head.head_method && head.body_len == 0);
        // As hyper's header map yields them: lower case, a name's values together.
        let mut map = hyper::HeaderMap::new();
        for (n, v) in [
            ("x-one", "1"),
            ("accept", "*/*"),
            ("x-one", "2"),
            ("connection", "keep-alive, Close"),
        ] {
            map.append(
                hyper::header::HeaderName::from_static(n),
                hyper::header::HeaderValue::from_static(v),
            );
        }
        let expected: Vec<(String, String)> = map
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().expect("text").to_string()))
            .collect();
        assert_eq!(request.headers, expected);

        let (head, _) = served("POST /p HTTP/1.1\r\nhost: h\r\ncontent-length: 12\r\n\r\n");
        assert_eq!((head.body_len, head.close), (12, false));
        assert!(served("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n").0.head_method);
        assert!(matches!(
            parsed("GET / HTTP/1.1\r\nHost: h\r\n"),
            Parsed::Partial
        ));
        assert!(matches!(parsed(""), Parsed::Partial));
    }

    /// A connection's request is written over by each head: nothing of an earlier request
    /// stays (fewer, shorter or longer fields, repeated names).
    #[test]
    fn a_refilled_request_is_the_one_a_fresh_connection_reads() {
        let heads = [
            "POST /a/long/path?with=query HTTP/1.1\r\nHost: first.example\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\nContent-Length: 0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "DELETE /b HTTP/1.1\r\nx-c: a-longer-value-than-before\r\nHost: second.example:8080\r\n\r\n",
            "PUT /c HTTP/1.1\r\nHost: third\r\nX-D: 1\r\nX-E: 2\r\nX-F: 3\r\nX-D: 4\r\nContent-Length: 0\r\n\r\n",
            "GET /d HTTP/1.1\r\nHOST: fourth\r\nAccept: */*\r\n\r\n",
        ];
        let mut reused = fresh();
        for text in heads.iter().chain(heads.iter().rev()) {
            served_into(&mut reused, text);
            let (_, alone) = served(text);
            assert_eq!(reused, alone, "{text:?}");
        }
        // A head handed over leaves the request unused; the next one fills it whole again.
        let mut request = fresh();
        served_into(&mut request, heads[0]);
        assert!(matches!(
            parse(
                b"GET / HTTP/1.1\r\nX-A: 1\r\nHost: a\r\nHost: b\r\n\r\n",
                &mut request,
                1000
            ),
            Parsed::HandOver
        ));
        served_into(&mut request, heads[1]);
        assert_eq!(request, served(heads[1]).1);
    }

    #[test]
    fn every_other_head_goes_to_hyper() {
        for text in [
            "GET / HTTP/1.0\r\nHost: h\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
            "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /a<b HTTP/1.1\r\nHost: h\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Bytes: caf\u{e9}\r\n\r\n",
            "GET / HTTP/1.1\r\nHost h\r\n\r\n",
            "NOT HTTP AT ALL\r\n\r\n",
        ] {
            assert!(handed_over(text), "served here: {text:?}");
        }
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(handed_over(&format!(
            "GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n"
        )));
    }

    #[test]
    fn targets_served_here_are_the_ones_http_parses_as_they_are() {
        let mut served = 0;
        for query in [false, true] {
            for b in 0..=255u8 {
                let mut target = if query {
                    b"/a?q=".to_vec()
                } else {
                    b"/a".to_vec()
                };
                target.push(b);
                target.push(b'z');
                if !origin_form(&target) {
                    continue;
                }
                served += 1;
                let parsed = hyper::http::uri::PathAndQuery::try_from(target.as_slice())
                    .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&target)));
                assert_eq!(parsed.as_str().as_bytes(), target.as_slice());
            }
        }
        assert!(served > 150, "{served}");
        assert!(!origin_form(b"*") && !origin_form(b"") && !origin_form(b"a/b"));
    }

    type MakeResponse = fn() -> hyper::Response<Reply>;

    /// What hyper's HTTP/1.1 server writes for `response` to `request`, and what the front
    /// writes, both without their date line.
    async fn both(request: &str, response: MakeResponse) -> (String, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let service =
                service_fn(
                    move |_req| async move { Ok::<_, std::convert::Infallible>(response()) },
                );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        let mut client = TcpStream::connect(addr).await.expect("connects");
        client.write_all(request.as_bytes()).await.expect("writes");
        let mut from_hyper = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut from_hyper))
            .await
            .expect("answers")
            .expect("reads");
        from_hyper.truncate(n);
        let (head, _) = served(request);
        let mut out = Vec::new();
        let (_, rest) = encode(&mut out, &response(), head.head_method, head.close);
        assert!(rest.is_none());
        let without_date = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .split("\r\n")
                .filter(|l| !l.starts_with("date: "))
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        (without_date(&from_hyper), without_date(&out))
    }

    fn ok_with_headers() -> hyper::Response<Reply> {
        let mut r = hyper::Response::new(Reply::new(Bytes::from_static(b"hello")));
        let h = r.headers_mut();
        h.append("x-b", hyper::header::HeaderValue::from_static("1"));
        h.append("x-a", hyper::header::HeaderValue::from_static("2"));
        h.append("x-b", hyper::header::HeaderValue::from_static("3"));
        r
    }

    fn with_status(status: u16) -> hyper::Response<Reply> {
        let mut r = hyper::Response::new(Reply::new(Bytes::from_static(b"body")));
        *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
        r
    }

    #[tokio::test(flavor = "current_thread")]
    async fn answers_are_written_as_hyper_writes_them() {
        const GET: &str = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let cases: [(&str, MakeResponse); 7] = [
            (GET, ok_with_headers),
            (GET, || hyper::Response::new(Reply::default())),
            ("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", ok_with_headers),
            ("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", || {
                hyper::Response::new(Reply::default())
            }),
            (GET, || with_status(204)),
            (GET, || with_status(599)),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                || with_status(404),
            ),
        ];
        for (request, response) in cases {
            let (hyper, front) = both(request, response).await;
            assert_eq!(front, hyper, "{request:?}");
        }
        // A negative: a different answer is told apart.
        let (hyper, front) = both(GET, ok_with_headers).await;
        assert_ne!(front.replace("hello", "hellp"), hyper);
    }

    #[test]
    fn the_date_is_an_http_date_of_now() {
        let mut out = Vec::new();
        http_date(&mut out);
        let text = String::from_utf8(out).expect("text");
        let parsed = httpdate::parse_http_date(&text).expect("an HTTP date");
        let off = SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(off < Duration::from_secs(3), "{text}");
    }
}
