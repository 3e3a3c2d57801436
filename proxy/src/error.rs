//! The proxy's errors: what stops it from starting, and what a request ends in when the
//! Gateway answers by itself. Every request error becomes a response in one place,
//! [`RequestError::into_response`].

use std::net::SocketAddr;

use crate::body::Reply;
use bytes::Bytes;
use hyper::Response;

/// Why the proxy cannot start or reload.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "cannot listen on {addr} for listener {listener} (port {port}) of Gateway {gateway}: {source}"
    )]
    Bind {
        gateway: String,
        listener: String,
        port: u16,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "listener {listener} (port {port}) of Gateway {gateway}: port {port} + offset {offset} is past 65535"
    )]
    PortRange {
        gateway: String,
        listener: String,
        port: u16,
        offset: u16,
    },
    #[error("cannot listen on {addr} for port {port} of Service {service} (mesh): {source}")]
    MeshBind {
        service: String,
        port: u16,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("port {port} of Service {service} (mesh): port {port} + offset {offset} is past 65535")]
    MeshPortRange {
        service: String,
        port: u16,
        offset: u16,
    },
    #[error("cannot start echo backend {service} for pod {pod}: {source}")]
    Echo {
        service: String,
        pod: String,
        source: std::io::Error,
    },
    #[error("--backend {0}: expected NAMESPACE/SERVICE=http://HOST:PORT")]
    BackendSpec(String),
    #[error("--backend {spec}: cannot resolve {authority}: {reason}")]
    BackendAddress {
        spec: String,
        authority: String,
        reason: String,
    },
    #[error("cannot write {path}: {source}")]
    ReadyFile {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Inputs(#[from] gwsim_sim::inputs::InputsError),
    #[error("{0}")]
    Refused(String),
}

/// How a request ends when no backend answer is passed on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("no ready endpoint")]
    NoEndpoints,
    #[error("connection to the backend failed")]
    ConnectionFailed,
    #[error("backend timeout")]
    Timeout,
    #[error("bad answer from the backend: {0}")]
    BadGateway(String),
}

impl RequestError {
    /// The status the Gateway answers with.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::BadRequest(_) => 400,
            RequestError::BodyTooLarge(_) => 413,
            RequestError::NoEndpoints | RequestError::ConnectionFailed => 503,
            RequestError::Timeout => 504,
            RequestError::BadGateway(_) => 502,
        }
    }

    /// The response: the status, and the reason as a short text body.
    pub fn into_response(self) -> Response<Reply> {
        local_response(self.status(), &[], &self.to_string())
    }
}

/// A response the Gateway makes by itself.
pub fn local_response(status: u16, headers: &[(String, String)], text: &str) -> Response<Reply> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = if text.is_empty() {
        Bytes::new()
    } else {
        Bytes::from(format!("{text}\n"))
    };
    if !text.is_empty() {
        builder = builder.header("content-type", "text/plain; charset=utf-8");
    }
    builder.body(Reply::new(body)).unwrap_or_else(|_| {
        // A header the filters produced that HTTP cannot carry: answer without headers.
        let mut response = Response::new(Reply::default());
        *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}
