//! Connections from the Gateway to backends: HTTP/1.1 (pooled, upgrades allowed) or HTTP/2
//! with prior knowledge (one multiplexed connection per address), as the Service port's
//! appProtocol says (GEP-1911).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::Poll;

use bytes::Bytes;
use gwsim_engine::decision::Request;
use gwsim_sim::echo::HttpVersion;
use gwsim_sim::network::is_connection_specific;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::{http1, http2};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioExecutor, TokioIo};
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
}

impl AttemptError {
    /// Whether the backend answered, but not with a usable HTTP answer (a malformed or cut
    /// short response, or one over the body limit): the Gateway's 502. A connection refused,
    /// or reset before any answer, is not (503, as the engine's runtime rules say and as
    /// upstream's HTTPRouteRetryConnectionError expects).
    pub fn is_bad_answer(&self) -> bool {
        match self {
            AttemptError::Connect(_) | AttemptError::Request(_) | AttemptError::Closed => false,
            AttemptError::TooLarge(_) | AttemptError::Body(_) => true,
            AttemptError::Http(e) => e.is_parse() || e.is_parse_status(),
        }
    }
}

#[derive(Default)]
pub struct Client {
    idle: Mutex<HashMap<SocketAddr, Vec<Kept>>>,
    h2: Mutex<HashMap<SocketAddr, http2::SendRequest<Full<Bytes>>>>,
    max_body: usize,
}

impl Client {
    pub fn new(max_body: usize) -> Client {
        Client {
            max_body,
            ..Client::default()
        }
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
        let req = build(request, version, body)?;
        // The rare paths are boxed: the future of every request stays small (it is moved
        // into hyper's connection state on every request).
        match version {
            HttpVersion::Http11 => self.send_http1(addr, req).await,
            HttpVersion::H2c => Box::pin(self.send_h2(addr, req)).await,
        }
    }

    async fn send_http1(
        &self,
        addr: SocketAddr,
        req: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, AttemptError> {
        if req.headers().contains_key(hyper::header::UPGRADE) {
            return Box::pin(self.send_upgrade(addr, req)).await;
        }
        let mut kept = loop {
            match self.take_idle(addr) {
                Some(mut kept) => {
                    if kept.ready().await {
                        break kept;
                    }
                }
                None => break Box::pin(Kept::connect(addr)).await?,
            }
        };
        let (answer, open) = kept.exchange(req, self.max_body).await?;
        if open {
            self.put_idle(addr, kept);
        }
        Ok(answer)
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

    async fn send_h2(
        &self,
        addr: SocketAddr,
        req: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, AttemptError> {
        let existing = self
            .h2
            .lock()
            .ok()
            .and_then(|m| m.get(&addr).filter(|s| !s.is_closed()).cloned());
        let mut sender = match existing {
            Some(s) => s,
            None => {
                let stream = TcpStream::connect(addr)
                    .await
                    .map_err(AttemptError::Connect)?;
                let _ = stream.set_nodelay(true);
                let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .map_err(AttemptError::Http)?;
                tokio::spawn(conn);
                if let Ok(mut m) = self.h2.lock() {
                    m.insert(addr, sender.clone());
                }
                sender
            }
        };
        let response = sender.send_request(req).await.map_err(AttemptError::Http)?;
        whole_answer(response, self.max_body).await
    }

    /// Sends `request` over a TLS connection of its own (BackendTLSPolicy): the handshake
    /// with `config` for `name`, then HTTP/1.1 or HTTP/2 as `version` says. A refused
    /// handshake is a connection error.
    pub async fn send_tls(
        &self,
        addr: SocketAddr,
        tls: (
            Arc<rustls::ClientConfig>,
            rustls::pki_types::ServerName<'static>,
        ),
        version: HttpVersion,
        request: &Request,
        body: Bytes,
    ) -> Result<Answer, AttemptError> {
        let req = build(request, version, body)?;
        let stream = connect(addr).await?;
        let (config, name) = tls;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(AttemptError::Connect)?;
        let io = TokioIo::new(stream);
        let response = match version {
            HttpVersion::H2c => {
                let (mut sender, conn) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(AttemptError::Http)?;
                tokio::spawn(conn);
                sender.send_request(req).await.map_err(AttemptError::Http)?
            }
            HttpVersion::Http11 => {
                let (mut sender, conn) = http1::handshake(io).await.map_err(AttemptError::Http)?;
                tokio::spawn(conn);
                sender.send_request(req).await.map_err(AttemptError::Http)?
            }
        };
        whole_answer(response, self.max_body).await
    }

    /// An idle connection to `addr`, the most recently used first.
    fn take_idle(&self, addr: SocketAddr) -> Option<Kept> {
        self.idle.lock().ok()?.get_mut(&addr)?.pop()
    }

    fn put_idle(&self, addr: SocketAddr, kept: Kept) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(addr).or_default();
            if list.len() < IDLE_PER_ADDRESS {
                list.push(kept);
            }
        }
    }
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

type Http1Connection = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// A kept HTTP/1.1 connection to a backend. It has no task of its own: the request that uses
/// it polls it (in the client connection's task), so a request crosses no task boundary and
/// wakes no other task; an idle one waits in the pool, polled by nobody.
struct Kept {
    sender: http1::SendRequest<Full<Bytes>>,
    connection: Http1Connection,
}

/// Whether a kept connection is still up.
enum Link {
    Open,
    /// The backend closed it, or hyper ended it after an answer that closes it.
    Closed,
    Failed(hyper::Error),
}

impl Link {
    fn error(&mut self) -> AttemptError {
        match std::mem::replace(self, Link::Closed) {
            Link::Failed(e) => AttemptError::Http(e),
            Link::Open | Link::Closed => AttemptError::Closed,
        }
    }
}

/// Polls `work` and, first, the connection that feeds it, in the calling task. Once the
/// connection has ended nothing else moves `work`: still pending then, it is an error.
async fn drive<F: Future>(
    connection: &mut Http1Connection,
    link: &mut Link,
    work: F,
) -> Result<F::Output, AttemptError> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Link::Open = link
            && let Poll::Ready(ended) = Pin::new(&mut *connection).poll(cx)
        {
            *link = match ended {
                Ok(()) => Link::Closed,
                Err(e) => Link::Failed(e),
            };
        }
        match work.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Ok(out)),
            Poll::Pending => match link {
                Link::Open => Poll::Pending,
                _ => Poll::Ready(Err(link.error())),
            },
        }
    })
    .await
}

impl Kept {
    async fn connect(addr: SocketAddr) -> Result<Kept, AttemptError> {
        let stream = connect(addr).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(AttemptError::Http)?;
        Ok(Kept { sender, connection })
    }

    /// Whether the connection is open and ready for a request: an idle connection the
    /// backend closed is found out here, before anything is sent on it.
    async fn ready(&mut self) -> bool {
        let Kept { sender, connection } = self;
        let mut link = Link::Open;
        let ready = drive(
            connection,
            &mut link,
            std::future::poll_fn(|cx| sender.poll_ready(cx)),
        )
        .await;
        matches!((ready, link), (Ok(Ok(())), Link::Open))
    }

    /// Sends `req` and reads the whole answer, polling the connection meanwhile; whether
    /// the connection is still open after it.
    async fn exchange(
        &mut self,
        req: hyper::Request<Full<Bytes>>,
        max_body: usize,
    ) -> Result<(Answer, bool), AttemptError> {
        let Kept { sender, connection } = self;
        let mut link = Link::Open;
        let mut response = drive(connection, &mut link, sender.send_request(req))
            .await?
            .map_err(AttemptError::Http)?;
        let status = response.status().as_u16();
        let headers = answer_headers(response.headers_mut());
        let (body, trailers) = drive(
            connection,
            &mut link,
            read_body(response.into_body(), max_body),
        )
        .await??;
        let open = matches!(link, Link::Open);
        Ok((
            Answer {
                status,
                headers,
                body,
                trailers,
                upgrade: None,
            },
            open,
        ))
    }
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
fn answer_headers(headers: &mut hyper::HeaderMap) -> hyper::HeaderMap {
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
