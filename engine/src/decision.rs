//! Requests and the decisions the data plane makes about them.
//!
//! A decision is pure: the same table, request and random source give the same decision.
//! The caller (the simulator) delivers the request, enforces timeouts in virtual time and
//! applies the response-side filters to what the backend answers.

use serde::Serialize;

use crate::config::{HeaderModifier, Retry, Timeouts};
use crate::explain::Explanation;
use crate::object::ObjectKey;

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An HTTP request as it arrives at a Gateway, or as a backend receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The Gateway whose address received the request. `None`: the table's only Gateway.
    pub gateway: Option<ObjectKey>,
    pub scheme: Scheme,
    /// The Gateway port the request was sent to.
    pub port: u16,
    /// Upper case.
    pub method: String,
    /// The Host header, possibly with a `:port` suffix (ignored by matching).
    pub host: String,
    /// Path and optional `?query`, as sent.
    pub path: String,
    /// Headers in order, names as sent; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// TLS server name, for https.
    pub sni: Option<String>,
}

impl Request {
    /// A GET for `path` on port 80 of the only Gateway, with `host` as Host.
    pub fn get(host: &str, path: &str) -> Request {
        Request {
            gateway: None,
            scheme: Scheme::Http,
            port: 80,
            method: "GET".to_string(),
            host: host.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            sni: None,
        }
    }

    /// The first value of a header, name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A Service port chosen as a backend.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    pub port: u16,
    pub app_protocol: Option<String>,
    /// TLS to the backend (BackendTLSPolicy), when a policy applies to the port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<std::sync::Arc<crate::config::BackendTls>>,
}

/// Where a decision came from: the table entry that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The Gateway; for a request from a pod through the mesh, the destination Service.
    pub gateway: ObjectKey,
    /// The listener; in the mesh, the Service port and whose routes applied
    /// (`port 80, producer routes`).
    pub listener: String,
    pub route: ObjectKey,
    pub rule_index: usize,
    pub rule_name: Option<String>,
    pub match_index: usize,
}

/// What happens to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// No listener on that port of the Gateway: the connection is refused.
    ConnectionRefused,
    /// The Gateway answers by itself: 404 (no listener or route), 500 (invalid backend, no
    /// backendRefs), 421 (misdirected), a CORS preflight.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        /// Why, in a few words (`no route matched`, `backend not found`).
        reason: String,
    },
    /// A RequestRedirect filter answered.
    Redirect {
        status: u16,
        location: String,
        headers: Vec<(String, String)>,
    },
    /// Sent on to a backend.
    Forward(Box<Forward>),
}

/// A request forwarded to a backend, after request filters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Forward {
    pub backend: ServiceRef,
    /// What the backend receives (rewritten host and path, modified headers).
    pub request: Request,
    /// Response header modifiers to apply, in order, to what the backend answers.
    pub response_modifiers: Vec<HeaderModifier>,
    /// Headers the Gateway adds to the response (CORS on simple requests).
    pub response_headers: Vec<(String, String)>,
    /// Mirrors chosen for this request (percentages already sampled), in filter order.
    pub mirrors: Vec<ServiceRef>,
    /// The same mirrors with the request each receives: as modified by the filters listed
    /// before its RequestMirror filter.
    pub mirror_requests: Vec<MirroredRequest>,
    pub timeouts: Timeouts,
    pub retry: Option<Retry>,
}

impl Forward {
    /// `request` sent to `backend` unchanged: no filters, mirrors, timeouts or retries (the
    /// mesh's forward when no route applies).
    pub fn unfiltered(backend: ServiceRef, request: Request) -> Forward {
        Forward {
            backend,
            request,
            response_modifiers: Vec::new(),
            response_headers: Vec::new(),
            mirrors: Vec::new(),
            mirror_requests: Vec::new(),
            timeouts: Timeouts::default(),
            retry: None,
        }
    }
}

/// A copy of a request sent to a mirror backend; its answer is discarded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MirroredRequest {
    pub backend: ServiceRef,
    pub request: Request,
}

/// A decision and the reasoning behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// The matched entry, when a route matched.
    pub provenance: Option<Provenance>,
    pub explanation: Explanation,
}

impl Decision {
    /// The chosen Service port has no ready endpoint (the caller knows the endpoints): the
    /// Gateway answers 503 itself instead of forwarding, and the explanation says why.
    pub fn no_ready_endpoints(&mut self) {
        self.answered_by_gateway(|b| {
            format!(
                "Service {}/{} port {} has no ready endpoints",
                b.namespace, b.name, b.port
            )
        });
    }

    /// The Gateway could not open a connection to the chosen backend (a TLS handshake a
    /// BackendTLSPolicy makes failed, `why`): the data plane answers 503. Explanations only.
    pub fn backend_refused(&mut self, why: &str) {
        self.answered_by_gateway(|b| {
            format!(
                "the TLS handshake with Service {}/{} port {} failed: {why}",
                b.namespace, b.name, b.port
            )
        });
    }

    /// A forward the Gateway answers itself with 503, for the reason `reason` gives about
    /// the chosen backend; other outcomes stay as they are.
    fn answered_by_gateway(&mut self, reason: impl FnOnce(&ServiceRef) -> String) {
        let Outcome::Forward(forward) = &self.outcome else {
            return;
        };
        let reason = reason(&forward.backend);
        self.explanation.outcome = format!("answered 503 by the Gateway: {reason}");
        self.outcome = Outcome::Respond {
            status: 503,
            headers: Vec::new(),
            reason,
        };
    }
}
