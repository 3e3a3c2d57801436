//! HTTP/1.1 to a backend on a kept connection, written and read here rather than through
//! hyper's client: the request is written in one piece from the engine's request, the answer
//! read with `httparse` and framed as RFC 9112 section 6.3 says. hyper's client hands every
//! request and answer through channels between its dispatcher and the connection, which
//! costs more than the exchange itself on a proxy (docs/serve.md, "Speed").

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::Context;

use bytes::{Buf, Bytes, BytesMut};
use gwsim_engine::decision::Request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::client::{Answer, AttemptError};

/// The most an answer's status line and headers (or its trailers) may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most header fields an answer (or its trailers) may carry.
const MAX_HEADERS: usize = 128;
/// The most a chunk-size line may take (size, extensions, CRLF).
const MAX_CHUNK_LINE: usize = 4096;
/// How much is read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A connection to a backend and what has been read from it but not used yet.
pub(crate) struct Connection<S> {
    io: S,
    buf: BytesMut,
    /// The request written, reused for the next one.
    out: Vec<u8>,
}

/// An answer's status line and headers: the end-to-end ones in a map, the ones that frame
/// the body or govern the connection apart (the Gateway sets its own).
struct Head {
    status: u16,
    headers: hyper::HeaderMap,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: u8,
    /// What the Content-Length fields say, read as [`framing`] needs them.
    content_length: ContentLength,
    /// Whether the last coding of the last Transfer-Encoding field is chunked; `None`: no
    /// Transfer-Encoding.
    chunked: Option<bool>,
    /// The Connection fields name `close` / `keep-alive`.
    close: bool,
    keep_alive: bool,
}

/// The Content-Length fields of an answer, in order: every comma-separated part must be a
/// number and all numbers the same.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ContentLength {
    Absent,
    Is(u64),
    /// The first fault, in field order.
    Bad(&'static str),
}

impl ContentLength {
    fn read(self, value: &[u8]) -> ContentLength {
        let mut length = self;
        for part in value.split(|b| *b == b',') {
            let length_so_far = match length {
                ContentLength::Bad(_) => return length,
                ContentLength::Absent => None,
                ContentLength::Is(n) => Some(n),
            };
            let part = part.trim_ascii();
            let n = (!part.is_empty() && part.len() <= 19 && part.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(part).ok()?.parse::<u64>().ok())
                .flatten();
            length = match (n, length_so_far) {
                (None, _) => ContentLength::Bad("a Content-Length that is not a number"),
                (Some(n), Some(l)) if l != n => {
                    ContentLength::Bad("Content-Length values that differ")
                }
                (Some(n), _) => ContentLength::Is(n),
            };
        }
        length
    }
}

/// Whether `value` (a comma-separated list) has `token`, in any case.
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The header fields of an answer whose names and values are kept (as offsets into its
/// head) until the head's bytes are frozen: the first few on the stack.
struct Kept {
    first: [(Span, Span); KEPT_INLINE],
    len: usize,
    more: Vec<(Span, Span)>,
}

/// Where a name or value is in the head.
type Span = (u32, u32);

const KEPT_INLINE: usize = 16;

impl Kept {
    fn new() -> Kept {
        Kept {
            first: [((0, 0), (0, 0)); KEPT_INLINE],
            len: 0,
            more: Vec::new(),
        }
    }

    /// A field's name and value.
    fn push(&mut self, field: (Span, Span)) {
        match self.first.get_mut(self.len) {
            Some(slot) => *slot = field,
            None => self.more.push(field),
        }
        self.len += 1;
    }

    fn iter(&self) -> impl Iterator<Item = &(Span, Span)> {
        self.first[..self.len.min(KEPT_INLINE)]
            .iter()
            .chain(&self.more)
    }
}

/// What becomes of an answer's header field.
enum Field {
    ContentLength,
    TransferEncoding,
    Connection,
    /// Hop-by-hop and dropped (`Keep-Alive`, `Proxy-Connection`).
    Dropped,
    EndToEnd,
}

impl Field {
    fn of(name: &str) -> Field {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        match name.len() {
            14 if is("content-length") => Field::ContentLength,
            17 if is("transfer-encoding") => Field::TransferEncoding,
            10 if is("connection") => Field::Connection,
            10 if is("keep-alive") => Field::Dropped,
            16 if is("proxy-connection") => Field::Dropped,
            _ => Field::EndToEnd,
        }
    }
}

/// How an answer's body is delimited (RFC 9112 section 6.3).
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the backend closes the connection.
    Close,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub(crate) fn new(io: S) -> Connection<S> {
        Connection {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            out: Vec::with_capacity(1024),
        }
    }

    /// Whether an idle connection can take another request: the backend has not closed it
    /// and sent nothing unasked. Reads only what is already there; never waits.
    pub(crate) fn reusable(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [0u8; 1];
        let mut read = ReadBuf::new(&mut byte);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        // Ready means closed (nothing read), unasked bytes, or an error: not usable.
        Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut read)
            .is_pending()
    }

    /// Sends `request` with `body`, reads the whole answer (the body up to `max_body` bytes);
    /// whether the connection can carry another request after it.
    pub(crate) async fn exchange(
        &mut self,
        request: &Request,
        body: &Bytes,
        max_body: usize,
    ) -> Result<(Answer, bool), AttemptError> {
        self.out.clear();
        write_head(&mut self.out, request, body.len())?;
        self.out.extend_from_slice(body);
        self.io
            .write_all(&self.out)
            .await
            .map_err(AttemptError::Io)?;
        let head_request = request.method.eq_ignore_ascii_case("HEAD");
        let mut head = loop {
            let head = self.read_head().await?;
            // Interim answers (100 Continue, 103 Early Hints) are not forwarded; a 101 was not
            // asked for on this path (upgrades go on a connection of their own).
            match head.status {
                101 => return Err(malformed("a 101 answer to a request that asked no upgrade")),
                100..=199 => continue,
                _ => break head,
            }
        };
        let framing = framing(&head, head_request)?;
        let keep_alive = keeps_alive(&head);
        let mut answer = Answer {
            status: head.status,
            headers: std::mem::take(&mut head.headers),
            body: Bytes::new(),
            trailers: None,
            upgrade: None,
        };
        let mut open = keep_alive;
        match framing {
            Framing::None => {}
            Framing::Length(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|n| *n <= max_body)
                    .ok_or(AttemptError::TooLarge(max_body))?;
                answer.body = self.read_exact_body(n).await?;
            }
            Framing::Chunked => {
                let (body, trailers) = self.read_chunked(max_body).await?;
                answer.body = body;
                answer.trailers = trailers;
            }
            Framing::Close => {
                answer.body = self.read_to_close(max_body).await?;
                open = false;
            }
        }
        // Bytes beyond the answer were never asked for: the connection is not trusted again.
        Ok((answer, open && self.buf.is_empty()))
    }

    /// Reads more from the socket into the buffer; `Ok(false)` when the backend closed it.
    async fn fill(&mut self) -> std::io::Result<bool> {
        self.buf.reserve(READ_CHUNK);
        Ok(self.io.read_buf(&mut self.buf).await? > 0)
    }

    /// The status line and headers.
    async fn read_head(&mut self) -> Result<Head, AttemptError> {
        loop {
            if let Some(head) = parse_head(&mut self.buf)? {
                return Ok(head);
            }
            if self.buf.len() >= MAX_HEAD_BYTES {
                return Err(malformed(&format!(
                    "the answer's head is longer than {MAX_HEAD_BYTES} bytes"
                )));
            }
            // Closed or reset before a whole head: no answer, as when nothing was sent back.
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => return Err(AttemptError::Closed),
                Err(e) => return Err(AttemptError::Io(e)),
            }
        }
    }

    async fn read_exact_body(&mut self, n: usize) -> Result<Bytes, AttemptError> {
        while self.buf.len() < n {
            if !self.fill().await.map_err(cut_short)? {
                return Err(cut_short("the backend closed the connection"));
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }

    async fn read_to_close(&mut self, max_body: usize) -> Result<Bytes, AttemptError> {
        while self.fill().await.map_err(cut_short)? {
            if self.buf.len() > max_body {
                return Err(AttemptError::TooLarge(max_body));
            }
        }
        Ok(self.buf.split().freeze())
    }

    /// A chunked body (RFC 9112 section 7.1) and the trailer fields after it.
    async fn read_chunked(
        &mut self,
        max_body: usize,
    ) -> Result<(Bytes, Option<hyper::HeaderMap>), AttemptError> {
        let mut body = BytesMut::new();
        loop {
            let size = self.read_chunk_size().await?;
            if size == 0 {
                let trailers = self.read_trailers().await?;
                return Ok((body.freeze(), trailers));
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|s| body.len().saturating_add(*s) <= max_body)
                .ok_or(AttemptError::TooLarge(max_body))?;
            let data = self.read_exact_body(size + 2).await?;
            if &data[size..] != b"\r\n" {
                return Err(malformed("a chunk not followed by CRLF"));
            }
            body.extend_from_slice(&data[..size]);
        }
    }

    /// One chunk-size line: the size in hex, extensions ignored.
    async fn read_chunk_size(&mut self) -> Result<u64, AttemptError> {
        let line = self.read_line(MAX_CHUNK_LINE).await?;
        let digits = line.split(|b| *b == b';').next().unwrap_or_default();
        let digits = digits.trim_ascii();
        if digits.is_empty() || digits.len() > 16 {
            return Err(malformed("a chunk size that is not a hexadecimal number"));
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u64::from_str_radix(d, 16).ok())
            .ok_or_else(|| malformed("a chunk size that is not a hexadecimal number"))
    }

    /// A line up to CRLF, without it.
    async fn read_line(&mut self, limit: usize) -> Result<Bytes, AttemptError> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(end + 2).freeze();
                return Ok(line.slice(..end));
            }
            if self.buf.len() > limit {
                return Err(malformed("a chunk-size line too long"));
            }
            if !self.fill().await.map_err(cut_short)? {
                return Err(cut_short("the backend closed the connection"));
            }
        }
    }

    /// The trailer section after the last chunk: fields, then an empty line.
    async fn read_trailers(&mut self) -> Result<Option<hyper::HeaderMap>, AttemptError> {
        loop {
            if let Some(trailers) = parse_trailers(&mut self.buf)? {
                return Ok((!trailers.is_empty()).then_some(trailers));
            }
            if self.buf.len() >= MAX_HEAD_BYTES {
                return Err(malformed("the answer's trailers are too long"));
            }
            if !self.fill().await.map_err(cut_short)? {
                return Err(cut_short("the backend closed the connection"));
            }
        }
    }
}

/// The request line and headers for `request`, whose body is `body_len` bytes: Host first,
/// the request's headers in order (names lower-cased, as hyper writes them) without the
/// framing headers, which are the Gateway's to set. An empty body gets no Content-Length.
fn write_head(out: &mut Vec<u8>, request: &Request, body_len: usize) -> Result<(), AttemptError> {
    if request.method.is_empty() || !request.method.bytes().all(is_token) {
        return Err(invalid(&format!("method {:?}", request.method)));
    }
    if request.path.is_empty() || !request.path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(&format!("path {:?}", request.path)));
    }
    out.extend_from_slice(request.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    push_value(out, &request.host)?;
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("host")
        {
            continue;
        }
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(invalid(&format!("header name {name:?}")));
        }
        out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
        out.extend_from_slice(b": ");
        push_value(out, value)?;
    }
    if body_len > 0 {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body_len.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// A field value and its CRLF: visible ASCII, spaces and tabs only (what `HeaderValue`
/// accepts from text), so nothing can end the field early.
fn push_value(out: &mut Vec<u8>, value: &str) -> Result<(), AttemptError> {
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(invalid(&format!("header value {value:?}")));
    }
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// RFC 9110 section 5.6.2: token characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A whole head at the start of `buf`, taken out of it; `None` while it is partial. The
/// header array lives here, not in the reading future (whose every copy would carry it).
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, AttemptError> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        buf,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(malformed(&format!("the answer's head: {e}"))),
    };
    let status = parsed
        .code
        .ok_or_else(|| malformed("the answer's head has no status"))?;
    let version = parsed.version.unwrap_or(1);
    let mut head = Head {
        status,
        headers: hyper::HeaderMap::new(),
        version,
        content_length: ContentLength::Absent,
        chunked: None,
        close: false,
        keep_alive: false,
    };
    // The framing fields are read here; the end-to-end ones kept as places in the head's
    // bytes (a head is far below 4 GiB), their values then shared, not copied.
    let start = buf.as_ptr() as usize;
    let span = |bytes: &[u8]| match bytes.is_empty() {
        // An empty value need not point into the buffer.
        true => (0, 0),
        false => {
            let at = (bytes.as_ptr() as usize - start) as u32;
            (at, at + bytes.len() as u32)
        }
    };
    let mut kept = Kept::new();
    for field in parsed.headers.iter() {
        match Field::of(field.name) {
            Field::ContentLength => head.content_length = head.content_length.read(field.value),
            Field::TransferEncoding => {
                let last = field.value.rsplit(|b| *b == b',').next();
                head.chunked =
                    Some(last.is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked")));
            }
            Field::Connection => {
                head.close |= has_token(field.value, b"close");
                head.keep_alive |= has_token(field.value, b"keep-alive");
            }
            Field::Dropped => {}
            Field::EndToEnd => kept.push((span(field.name.as_bytes()), span(field.value))),
        }
    }
    let bytes = buf.split_to(len).freeze();
    head.headers.reserve(kept.len);
    for &((from, to), (value_from, value_to)) in kept.iter() {
        let name = &bytes[from as usize..to as usize];
        let name = hyper::header::HeaderName::from_bytes(name)
            .map_err(|_| malformed(&format!("header name {:?}", String::from_utf8_lossy(name))))?;
        let value = bytes.slice(value_from as usize..value_to as usize);
        let value = hyper::header::HeaderValue::from_maybe_shared(value)
            .map_err(|_| malformed(&format!("the value of header {name}")))?;
        head.headers.append(name, value);
    }
    Ok(Some(head))
}

/// A whole trailer section at the start of `buf`, taken out of it; `None` while partial.
fn parse_trailers(buf: &mut BytesMut) -> Result<Option<hyper::HeaderMap>, AttemptError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete((len, fields))) => {
            let trailers = header_map(fields)?;
            buf.advance(len);
            Ok(Some(trailers))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(malformed(&format!("the answer's trailers: {e}"))),
    }
}

fn header_map(fields: &[httparse::Header]) -> Result<hyper::HeaderMap, AttemptError> {
    let mut map = hyper::HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = hyper::header::HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| malformed(&format!("header name {:?}", field.name)))?;
        let value = hyper::header::HeaderValue::from_bytes(field.value)
            .map_err(|_| malformed(&format!("the value of header {name}")))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Whether the connection stays open after this answer: HTTP/1.1 unless `Connection: close`,
/// HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 section 9.3).
fn keeps_alive(head: &Head) -> bool {
    match head.version {
        0 => head.keep_alive,
        _ => !head.close,
    }
}

/// RFC 9112 section 6.3: no body for a HEAD request, 1xx, 204 and 304; chunked when it is
/// the last transfer coding; otherwise Content-Length, which must be one number; otherwise
/// until the connection closes.
fn framing(head: &Head, head_request: bool) -> Result<Framing, AttemptError> {
    if head_request || matches!(head.status, 100..=199 | 204 | 304) {
        return Ok(Framing::None);
    }
    if let Some(chunked) = head.chunked {
        return Ok(match chunked {
            true => Framing::Chunked,
            false => Framing::Close,
        });
    }
    match head.content_length {
        ContentLength::Absent => Ok(Framing::Close),
        ContentLength::Is(n) => Ok(Framing::Length(n)),
        ContentLength::Bad(why) => Err(malformed(why)),
    }
}

fn malformed(why: &str) -> AttemptError {
    AttemptError::Malformed(why.to_string())
}

fn cut_short(why: impl std::fmt::Display) -> AttemptError {
    AttemptError::CutShort(why.to_string())
}

fn invalid(what: &str) -> AttemptError {
    AttemptError::Request(format!("cannot send {what} over HTTP/1.1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut request = Request::get("example.com", path);
        request.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        request
    }

    /// Runs one exchange against a backend that answers `answer` (then closes if `close`);
    /// what the backend received, and the result.
    async fn exchange_with(
        request: &Request,
        body: &[u8],
        answer: &[u8],
        close: bool,
    ) -> (
        Vec<u8>,
        Result<(Answer, bool), AttemptError>,
        Connection<DuplexStream>,
    ) {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let mut connection = Connection::new(ours);
        theirs.write_all(answer).await.unwrap();
        if close {
            theirs.shutdown().await.unwrap();
        }
        let result = connection
            .exchange(request, &Bytes::copy_from_slice(body), 1024)
            .await;
        drop(connection.io.shutdown().await);
        let mut received = Vec::new();
        theirs.read_to_end(&mut received).await.unwrap();
        (received, result, connection)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn writes_the_request_and_reads_a_sized_answer() {
        let request = Request {
            method: "POST".into(),
            ..get(
                "/a?b=c",
                &[("X-Echo", "1"), ("Content-Length", "99"), ("Host", "x")],
            )
        };
        let (sent, result, _) = exchange_with(
            &request,
            b"hello",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\nX-Empty:\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\n\r\nok",
            false,
        )
        .await;
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            "POST /a?b=c HTTP/1.1\r\nhost: example.com\r\nx-echo: 1\r\ncontent-length: 5\r\n\r\nhello"
        );
        let (answer, open) = result.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, Bytes::from_static(b"ok"));
        assert_eq!(answer.headers.get("x-a").unwrap(), "b");
        assert_eq!(answer.headers.get("x-empty").unwrap(), "");
        // The framing and connection headers are the Gateway's own.
        assert!(answer.headers.get("content-length").is_none());
        assert!(answer.headers.get("connection").is_none());
        assert!(answer.headers.get("keep-alive").is_none());
        assert!(answer.headers.get("proxy-connection").is_none());
        assert_eq!(answer.headers.len(), 2);
        assert!(open);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_empty_body_has_no_content_length() {
        let (sent, result, _) = exchange_with(
            &get("/", &[]),
            b"",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            false,
        )
        .await;
        assert_eq!(sent, b"GET / HTTP/1.1\r\nhost: example.com\r\n\r\n");
        let (answer, open) = result.unwrap();
        assert_eq!((answer.status, answer.body.len(), open), (204, 0, true));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn reads_chunks_and_trailers() {
        let (_, result, _) = exchange_with(
            &get("/", &[]),
            b"",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\ngrpc-status: 0\r\n\r\n",
            false,
        )
        .await;
        let (answer, open) = result.unwrap();
        assert_eq!(answer.body, Bytes::from_static(b"abc0123456789"));
        assert_eq!(answer.trailers.unwrap().get("grpc-status").unwrap(), "0");
        assert!(answer.headers.get("transfer-encoding").is_none());
        assert!(open);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connection_close_and_http_1_0_end_the_connection() {
        let cases: [(&[u8], &[u8], bool); 4] = [
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
                b"x",
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
                b"x",
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx",
                b"x",
                true,
            ),
            // No length: the body runs to the end of the connection.
            (b"HTTP/1.1 200 OK\r\n\r\nto the end", b"to the end", false),
        ];
        for (answer, body, keep) in cases {
            let (_, result, _) = exchange_with(&get("/", &[]), b"", answer, true).await;
            let (answer, open) = result.unwrap();
            assert_eq!((&answer.body[..], open), (body, keep));
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn skips_interim_answers_and_reads_no_body_after_head() {
        let (_, result, _) = exchange_with(
            &get("/", &[]),
            b"",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
            false,
        )
        .await;
        let (answer, _) = result.unwrap();
        assert_eq!((answer.status, &answer.body[..]), (404, &b"no"[..]));
        let head = Request {
            method: "HEAD".into(),
            ..get("/", &[])
        };
        let (_, result, _) = exchange_with(
            &head,
            b"",
            b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n",
            false,
        )
        .await;
        let (answer, open) = result.unwrap();
        assert_eq!((answer.body.len(), open), (0, true));
    }

    /// Each failure and whether it is the Gateway's 502 (a bad answer) or a connection
    /// failure (503).
    #[test]
    fn content_length_fields_are_read_in_order_and_the_first_fault_stays() {
        let read = |values: &[&str]| {
            values
                .iter()
                .fold(ContentLength::Absent, |l, v| l.read(v.as_bytes()))
        };
        let not_a_number = ContentLength::Bad("a Content-Length that is not a number");
        let differ = ContentLength::Bad("Content-Length values that differ");
        assert_eq!(read(&[]), ContentLength::Absent);
        assert_eq!(read(&["12"]), ContentLength::Is(12));
        assert_eq!(read(&["12 , 12", "12"]), ContentLength::Is(12));
        assert_eq!(read(&["12", "13"]), differ);
        assert_eq!(read(&["12,13", "x"]), differ);
        assert_eq!(read(&["x", "12"]), not_a_number);
        assert_eq!(read(&["12,"]), not_a_number);
        assert_eq!(read(&["+1"]), not_a_number);
        assert_eq!(read(&["99999999999999999999"]), not_a_number);
    }

    #[test]
    fn a_head_keeps_every_end_to_end_field_in_order_and_reads_the_framing_ones() {
        let many: String = (0..40).map(|i| format!("X-F{i}: v{i}\r\n")).collect();
        let text = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=5\r\n{many}Connection: keep-alive, Close\r\nTransfer-Encoding: gzip, chunked\r\nX-Empty:\r\n\r\nabc"
        );
        let mut buf = BytesMut::from(text.as_bytes());
        let head = parse_head(&mut buf).expect("parses").expect("whole");
        assert_eq!(&buf[..], b"abc");
        let fields: Vec<(String, String)> = head
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().expect("text").to_string()))
            .collect();
        let mut expected: Vec<(String, String)> = (0..40)
            .map(|i| (format!("x-f{i}"), format!("v{i}")))
            .collect();
        expected.push(("x-empty".to_string(), String::new()));
        assert_eq!(fields, expected);
        assert_eq!(head.content_length, ContentLength::Is(3));
        assert_eq!(head.chunked, Some(true));
        assert!(head.close && head.keep_alive);
        assert!(matches!(framing(&head, false), Ok(Framing::Chunked)));
        assert!(!keeps_alive(&head));
        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX: 1\r\n"[..]);
        assert!(parse_head(&mut partial).expect("parses").is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failures_are_told_apart() {
        let cases: [(&[u8], &str, bool); 7] = [
            (b"", "closed the connection before answering", false),
            (
                b"HTTP/1.1 200 OK\r\nContent-Le",
                "closed the connection before answering",
                false,
            ),
            (b"SMTP ready\r\n\r\n", "malformed answer", true),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
                "cut short",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                "differ",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
                "larger than 1024",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "hexadecimal",
                true,
            ),
        ];
        for (answer, says, bad) in cases {
            let (_, result, _) = exchange_with(&get("/", &[]), b"", answer, true).await;
            let error = result.err().expect("an error");
            assert!(error.to_string().contains(says), "{error} for {answer:?}");
            assert_eq!(error.is_bad_answer(), bad, "{error}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn refuses_to_write_what_would_change_the_framing() {
        for request in [
            get("/", &[("x-a", "b\r\nx-injected: 1")]),
            get("/a b", &[]),
            get("/", &[("bad name", "1")]),
        ] {
            let (sent, result, _) =
                exchange_with(&request, b"", b"HTTP/1.1 200 OK\r\n\r\n", true).await;
            assert!(matches!(result, Err(AttemptError::Request(_))));
            assert!(sent.is_empty(), "nothing is written: {sent:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_idle_connection_the_backend_closed_is_not_reused() {
        let (ours, theirs) = tokio::io::duplex(1024);
        let mut connection = Connection::new(ours);
        assert!(connection.reusable());
        drop(theirs);
        assert!(!connection.reusable());
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut connection = Connection::new(ours);
        theirs.write_all(b"unasked").await.unwrap();
        assert!(!connection.reusable());
    }
}
