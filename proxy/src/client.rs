//! Connections from the Gateway to backends: HTTP/1.1 (kept in pools, written and read by
//! `http1`; an upgrade through hyper on a connection of its own) or HTTP/2 with prior
//! knowledge (one multiplexed connection per address, through hyper), as the Service port's
//! appProtocol says (GEP-1911); over TLS where a BackendTLSPolicy applies, kept per address
//! and TLS configuration.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;

use bytes::Bytes;
use gwsim_engine::config::{BackendClientCertificate, BackendTls};
use gwsim_engine::decision::Request;
use gwsim_sim::echo::HttpVersion;
use gwsim_sim::network::is_connection_specific;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::{http1, http2};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::http1::Connection;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Idle HTTP/1.1 connections kept per backend address.
const IDLE_PER_ADDRESS: usize = 64;

/// What a backend answered.
pub struct Answer {
    pub status: u16,
    /// Without the hop-by-hop headers the Gateway sets itself.
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    /// The trailers that followed the body (a gRPC answer's status).
    pub trailers: Option<hyper::HeaderMap>,
    /// The backend's side of an accepted upgrade (101).
    pub upgrade: Option<OnUpgrade>,
}

/// Why an attempt got no answer.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("{0}")]
    Http(hyper::Error),
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    #[error("response body cut short: {0}")]
    Body(hyper::Error),
    #[error("{0}")]
    Request(String),
    #[error("the backend closed the connection before answering")]
    Closed,
    /// A read or write failed before an answer (a reset connection).
    #[error("{0}")]
    Io(std::io::Error),
    /// The backend answered something that is not HTTP/1.1.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The answer's body ended before its framing said it would.
    #[error("response body cut short: {0}")]
    CutShort(String),
}

impl AttemptError {
    /// Whether the backend answered, but not with a usable HTTP answer (a malformed or cut
    /// short response, or one over the body limit): the Gateway's 502. A connection refused,
    /// or reset before any answer, is not (503, as the engine's runtime rules say and as
    /// upstream's HTTPRouteRetryConnectionError expects).
    pub fn is_bad_answer(&self) -> bool {
        match self {
            AttemptError::Connect(_)
            | AttemptError::Request(_)
            | AttemptError::Closed
            | AttemptError::Io(_) => false,
            AttemptError::TooLarge(_)
            | AttemptError::Body(_)
            | AttemptError::Malformed(_)
            | AttemptError::CutShort(_) => true,
            AttemptError::Http(e) => e.is_parse() || e.is_parse_status(),
        }
    }
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// Connections to backends kept between requests: HTTP/1.1 ones idle in pools, HTTP/2 ones
/// shared; plain ones by address, TLS ones by address and the TLS they were checked with.
#[derive(Default)]
pub struct Client {
    idle: Pool<SocketAddr, TcpStream>,
    idle_tls: Pool<(SocketAddr, TlsKey), Tls>,
    h2: Shared<SocketAddr>,
    h2_tls: Shared<(SocketAddr, TlsKey)>,
    /// Client configurations, built once for each policy and client certificate.
    tls_configs: Mutex<HashMap<TlsKey, TlsClient>>,
    max_body: usize,
}

/// Which TLS a backend connection was made with: the policy's checks (compared by what they
/// check, so a reload that keeps the policy keeps the connections), the Gateway's client
/// certificate, and HTTP/2 (a gRPC call) or HTTP/1.1.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TlsKey {
    policy: Arc<BackendTls>,
    client_certificate: Option<String>,
    h2: bool,
}

/// A TLS client for one [`TlsKey`]: the rustls configuration and the server name sent.
#[derive(Clone)]
pub(crate) struct TlsClient {
    key: TlsKey,
    config: Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
}

/// The most distinct keys a pool or cache holds; past it, it starts again empty (reloads
/// that change policies leave keys nobody asks for).
const MAX_KEYS: usize = 1024;

/// Idle HTTP/1.1 connections by key, the most recently used last.
struct Pool<K, S> {
    idle: Mutex<HashMap<K, Vec<Connection<S>>>>,
}

impl<K, S> Default for Pool<K, S> {
    fn default() -> Self {
        Pool {
            idle: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, S: AsyncRead + AsyncWrite + Unpin> Pool<K, S> {
    /// An idle connection for `key` that can take a request, the most recently used first.
    fn take(&self, key: &K) -> Option<Connection<S>> {
        loop {
            let mut kept = self.idle.lock().ok()?.get_mut(key)?.pop()?;
            if kept.reusable() {
                return Some(kept);
            }
        }
    }

    fn put(&self, key: &K, kept: Connection<S>) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() >= MAX_KEYS && !idle.contains_key(key) {
                idle.clear();
            }
            let list = idle.entry(key.clone()).or_default();
            if list.len() < IDLE_PER_ADDRESS {
                list.push(kept);
            }
        }
    }
}

/// Open HTTP/2 connections by key, one each, shared by every request to it.
struct Shared<K> {
    senders: Mutex<HashMap<K, http2::SendRequest<Full<Bytes>>>>,
}

impl<K> Default for Shared<K> {
    fn default() -> Self {
        Shared {
            senders: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Shared<K> {
    fn get(&self, key: &K) -> Option<http2::SendRequest<Full<Bytes>>> {
        self.senders
            .lock()
            .ok()?
            .get(key)
            .filter(|s| !s.is_closed())
            .cloned()
    }

    fn put(&self, key: &K, sender: http2::SendRequest<Full<Bytes>>) {
        if let Ok(mut senders) = self.senders.lock() {
            if senders.len() >= MAX_KEYS && !senders.contains_key(key) {
                senders.clear();
            }
            senders.insert(key.clone(), sender);
        }
    }
}

impl Client {
    pub fn new(max_body: usize) -> Client {
        Client {
            max_body,
            ..Client::default()
        }
    }

    /// The TLS client for a backend under `policy`: the policy's checks, the Gateway's
    /// client certificate when it has one, `h2` for a gRPC call. Built once per key.
    pub(crate) fn tls_client(
        &self,
        policy: &Arc<BackendTls>,
        client_certificate: Option<&BackendClientCertificate>,
        h2: bool,
    ) -> Result<TlsClient, String> {
        let key = TlsKey {
            policy: policy.clone(),
            client_certificate: client_certificate.map(|c| c.pem.clone()),
            h2,
        };
        if let Some(found) = self
            .tls_configs
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return Ok(found);
        }
        let (config, name) = crate::backend_tls::client_config(policy, client_certificate, h2)?;
        let made = TlsClient { key, config, name };
        if let Ok(mut configs) = self.tls_configs.lock() {
            if configs.len() >= MAX_KEYS {
                configs.clear();
            }
            configs.insert(made.key.clone(), made.clone());
        }
        Ok(made)
    }

    /// Sends `request` with `body` to `addr` and reads the whole answer (bodies are buffered
    /// up to the body limit).
    pub async fn send(
        &self,
        addr: SocketAddr,
        version: HttpVersion,
        request: &Request,
        body: Bytes,
    ) -> Result<Answer, AttemptError> {
        // The rare paths are boxed: the future of every request stays small.
        match version {
            HttpVersion::Http11 if !wants_upgrade(request) => {
                let connection = match self.idle.take(&addr) {
                    Some(kept) => kept,
                    None => Connection::new(connect(addr).await?),
                };
                exchange_and_keep(&self.idle, &addr, connection, request, &body, self.max_body)
                    .await
            }
            HttpVersion::Http11 => {
                Box::pin(self.send_upgrade(addr, build(request, version, body)?)).await
            }
            HttpVersion::H2c => {
                let req = build(request, version, body)?;
                Box::pin(async {
                    let sender = match self.h2.get(&addr) {
                        Some(sender) => sender,
                        None => {
                            let sender = h2_handshake(connect(addr).await?).await?;
                            self.h2.put(&addr, sender.clone());
                            sender
                        }
                    };
                    send_h2(sender, req, self.max_body).await
                })
                .await
            }
        }
    }

    /// A request asking for an upgrade goes on a connection of its own, run by its own task
    /// (after a 101 the connection is the client's).
    async fn send_upgrade(
        &self,
        addr: SocketAddr,
        req: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, AttemptError> {
        let stream = connect(addr).await?;
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(AttemptError::Http)?;
        tokio::spawn(conn.with_upgrades());
        let mut response = sender.send_request(req).await.map_err(AttemptError::Http)?;
        let status = response.status().as_u16();
        let headers = answer_headers(response.headers_mut());
        if status == 101 {
            let upgrade = hyper::upgrade::on(&mut response);
            return Ok(Answer {
                status,
                headers,
                body: Bytes::new(),
                trailers: None,
                upgrade: Some(upgrade),
            });
        }
        let (body, trailers) = read_body(response.into_body(), self.max_body).await?;
        Ok(Answer {
            status,
            headers,
            body,
            trailers,
            upgrade: None,
        })
    }

    /// Sends `request` over TLS (BackendTLSPolicy) made with `tls`: on a kept connection made
    /// with the same TLS when there is one, else after a new handshake; then HTTP/1.1 or HTTP/2
    /// as `version` says. A refused handshake is a connection error.
    pub async fn send_tls(
        &self,
        addr: SocketAddr,
        tls: &TlsClient,
        version: HttpVersion,
        request: &Request,
        body: Bytes,
    ) -> Result<Answer, AttemptError> {
        let key = (addr, tls.key.clone());
        match version {
            HttpVersion::Http11 => {
                let connection = match self.idle_tls.take(&key) {
                    Some(kept) => kept,
                    None => Connection::new(handshake(addr, tls).await?),
                };
                exchange_and_keep(
                    &self.idle_tls,
                    &key,
                    connection,
                    request,
                    &body,
                    self.max_body,
                )
                .await
            }
            HttpVersion::H2c => {
                let req = build(request, version, body)?;
                let sender = match self.h2_tls.get(&key) {
                    Some(sender) => sender,
                    None => {
                        let sender = h2_handshake(handshake(addr, tls).await?).await?;
                        self.h2_tls.put(&key, sender.clone());
                        sender
                    }
                };
                send_h2(sender, req, self.max_body).await
            }
        }
    }
}

/// One exchange on `connection`, kept in `pool` under `key` afterwards unless the answer
/// closes it.
async fn exchange_and_keep<K, S>(
    pool: &Pool<K, S>,
    key: &K,
    mut connection: Connection<S>,
    request: &Request,
    body: &Bytes,
    max_body: usize,
) -> Result<Answer, AttemptError>
where
    K: std::hash::Hash + Eq + Clone,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (answer, open) = connection.exchange(request, body, max_body).await?;
    if open {
        pool.put(key, connection);
    }
    Ok(answer)
}

/// A TLS session with a backend over a new connection.
async fn handshake(addr: SocketAddr, tls: &TlsClient) -> Result<Tls, AttemptError> {
    let stream = connect(addr).await?;
    tokio_rustls::TlsConnector::from(tls.config.clone())
        .connect(tls.name.clone(), stream)
        .await
        .map_err(AttemptError::Connect)
}

/// An HTTP/2 connection over `io`, run by a task of its own.
async fn h2_handshake<S>(io: S) -> Result<http2::SendRequest<Full<Bytes>>, AttemptError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
        .await
        .map_err(AttemptError::Http)?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send_h2(
    mut sender: http2::SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
    max_body: usize,
) -> Result<Answer, AttemptError> {
    let response = sender.send_request(req).await.map_err(AttemptError::Http)?;
    whole_answer(response, max_body).await
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, AttemptError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(AttemptError::Connect)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// A backend's answer read whole: status, headers without the hop-by-hop ones, body and
/// trailers.
async fn whole_answer(
    mut response: hyper::Response<hyper::body::Incoming>,
    max_body: usize,
) -> Result<Answer, AttemptError> {
    let status = response.status().as_u16();
    let headers = answer_headers(response.headers_mut());
    let (body, trailers) = read_body(response.into_body(), max_body).await?;
    Ok(Answer {
        status,
        headers,
        body,
        trailers,
        upgrade: None,
    })
}

/// The whole body and its trailers.
async fn read_body(
    body: hyper::body::Incoming,
    max_body: usize,
) -> Result<(Bytes, Option<hyper::HeaderMap>), AttemptError> {
    match Limited::new(body, max_body).collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            Ok((collected.to_bytes(), trailers))
        }
        Err(e) => match e.downcast::<hyper::Error>() {
            Ok(e) => Err(AttemptError::Body(*e)),
            Err(_) => Err(AttemptError::TooLarge(max_body)),
        },
    }
}

/// Whether the request asks for a protocol upgrade (a WebSocket handshake).
fn wants_upgrade(request: &Request) -> bool {
    request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("upgrade"))
}

/// The request a backend receives: method, path, Host (the authority on HTTP/2) and the
/// headers the filters left; a body length hyper sets itself. Built in place rather than with
/// `Request::builder`, whose every step moves the whole builder (a cost per request).
fn build(
    request: &Request,
    version: HttpVersion,
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, AttemptError> {
    let invalid = |e: &dyn std::fmt::Display| AttemptError::Request(e.to_string());
    let mut req = hyper::Request::new(Full::new(body));
    *req.method_mut() =
        hyper::Method::from_bytes(request.method.as_bytes()).map_err(|e| invalid(&e))?;
    let headers = req.headers_mut();
    headers.reserve(request.headers.len() + 1);
    match version {
        HttpVersion::Http11 => {
            let host =
                hyper::header::HeaderValue::from_str(&request.host).map_err(|e| invalid(&e))?;
            headers.insert(hyper::header::HOST, host);
        }
        HttpVersion::H2c => {}
    }
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("host")
            || (version == HttpVersion::H2c && is_connection_specific(name, value))
        {
            continue;
        }
        let name =
            hyper::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(&e))?;
        let value = hyper::header::HeaderValue::from_str(value).map_err(|e| invalid(&e))?;
        headers.append(name, value);
    }
    *req.uri_mut() = match version {
        HttpVersion::Http11 => hyper::Uri::try_from(request.path.as_str()),
        HttpVersion::H2c => {
            *req.version_mut() = hyper::Version::HTTP_2;
            hyper::Uri::try_from(format!("http://{}{}", request.host, request.path))
        }
    }
    .map_err(|e| invalid(&e))?;
    Ok(req)
}

/// A backend's response headers (taken, not copied) without the hop-by-hop ones the Gateway
/// sets itself.
pub(crate) fn answer_headers(headers: &mut hyper::HeaderMap) -> hyper::HeaderMap {
    let mut out = std::mem::take(headers);
    for name in [
        "content-length",
        "transfer-encoding",
        "keep-alive",
        "proxy-connection",
    ] {
        out.remove(name);
    }
    // `Connection` is hop-by-hop, except on a 101 where it carries the upgrade.
    let upgrade = out
        .get(hyper::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("upgrade"));
    if !upgrade {
        out.remove(hyper::header::CONNECTION);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use gwsim_engine::config::BackendTrust;
    use gwsim_engine::object::{Kind, ObjectKey};
    use gwsim_engine::x509::TrustAnchors;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A backend on loopback that counts the connections it accepts and answers every
    /// request 200 (closing after each answer when `close`), over TLS with `tls`.
    async fn backend(
        tls: Option<Arc<rustls::ServerConfig>>,
        close: bool,
    ) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(config) => {
                            if let Ok(stream) =
                                tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                            {
                                answer_each(stream, close).await;
                            }
                        }
                        None => answer_each(stream, close).await,
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn answer_each<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, close: bool) {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&buf[..n]);
            while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                seen.drain(..end + 4);
                let connection = if close { "close" } else { "keep-alive" };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nconnection: {connection}\r\ncontent-length: 2\r\n\r\nok"
                );
                if stream.write_all(answer.as_bytes()).await.is_err() || close {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        }
    }

    fn request() -> Request {
        Request::get("backend.example", "/")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn plain_connections_are_kept_unless_the_answer_closes_them() {
        for (close, connections) in [(false, 1), (true, 3)] {
            let (addr, accepted) = backend(None, close).await;
            let client = Client::new(1024);
            for _ in 0..3 {
                let answer = client
                    .send(addr, HttpVersion::Http11, &request(), Bytes::new())
                    .await
                    .unwrap();
                assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
            }
            assert_eq!(
                accepted.load(Ordering::SeqCst),
                connections,
                "close: {close}"
            );
        }
    }

    fn policy(name: &str, ca_pem: &str) -> Arc<BackendTls> {
        Arc::new(BackendTls {
            policy: ObjectKey::new(Kind::BackendTlsPolicy, "default", name),
            hostname: "backend.example".into(),
            subject_alt_names: Vec::new(),
            trust: BackendTrust::Certificates(TrustAnchors::from_pem(ca_pem.as_bytes()).unwrap()),
            ca_digest: 1,
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tls_connections_are_kept_for_the_tls_they_were_checked_with() {
        let certified = rcgen::generate_simple_self_signed(vec!["backend.example".into()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .unwrap();
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let (addr, accepted) = backend(Some(Arc::new(server)), false).await;
        let client = Client::new(1024);
        let ca = certified.cert.pem();
        let first = client.tls_client(&policy("a", &ca), None, false).unwrap();
        for _ in 0..3 {
            let answer = client
                .send_tls(addr, &first, HttpVersion::Http11, &request(), Bytes::new())
                .await
                .unwrap();
            assert_eq!(answer.status, 200);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // Another policy checks differently: its own handshake, its own connection.
        let second = client.tls_client(&policy("b", &ca), None, false).unwrap();
        client
            .send_tls(addr, &second, HttpVersion::Http11, &request(), Bytes::new())
            .await
            .unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
}
