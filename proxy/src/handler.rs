//! One request through the Gateway (or the mesh, [`crate::mesh`]): the engine decides
//! (`decide_fast` on the current table), the runtime rules of the engine drive attempts, and
//! the answer goes back with the response filters applied.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gwsim_engine::decision::{Forward, Outcome, Provenance, Request, Scheme, ServiceRef};
use gwsim_engine::filters::apply_header_modifier;
use gwsim_engine::object::ObjectKey;
use gwsim_engine::runtime::{Attempt, AttemptOutcome, Exchange, Final, Step};
use gwsim_sim::echo::HttpVersion;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Sleep;

use crate::backends::Endpoint;
use crate::body::Reply;
use crate::client::Answer;
use crate::error::{RequestError, local_response};
use crate::{Shared, State};

/// The header `--explain-header` adds.
pub const EXPLAIN_HEADER: &str = "x-gwsim-decision";

/// Where a connection arrived.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub gateway: ObjectKey,
    pub port: u16,
    pub scheme: Scheme,
    pub sni: Option<String>,
}

/// The engine decided the connection is refused (no usable listener): hyper closes it.
#[derive(Debug, thiserror::Error)]
#[error("connection refused: {0}")]
pub struct Refused(String);

pub async fn handle(
    shared: Arc<Shared>,
    arrival: Arc<Arrival>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Reply>, Refused> {
    let request = match gateway_request(&req, &arrival) {
        Ok(r) => r,
        Err(e) => return Ok(e.into_response()),
    };
    let (body, client_upgrade) = hyper_body(req);
    decide_and_answer(&shared, &arrival, &request, body, client_upgrade).await
}

/// The engine's decision about a request that arrived at a Gateway listener, on the table
/// in service.
pub(crate) struct Decided {
    /// The state the decision was made on; the request is carried out on it too.
    pub(crate) state: Arc<State>,
    pub(crate) outcome: Outcome,
    /// Only when the access log or the explain header reads it (it copies names).
    pub(crate) provenance: Option<Provenance>,
    /// Seeded by the request's sequence number, for the choices still to come (endpoints).
    pub(crate) rng: SmallRng,
}

/// Decides `request`, arrived at a Gateway listener: only the outcome and provenance go on,
/// the explanation is not made.
pub(crate) fn decide(shared: &Shared, request: &Request) -> Decided {
    let state = shared.state.borrow().clone();
    let sequence = shared.sequence.fetch_add(1, Ordering::Relaxed);
    let mut rng = SmallRng::seed_from_u64(sequence);
    let described = shared.explain_header || access_logged();
    let (outcome, provenance) = match described {
        true => {
            let decision = state.table.decide_fast(request, &mut rng);
            (decision.outcome, decision.provenance)
        }
        false => (state.table.decide_outcome(request, &mut rng), None),
    };
    Decided {
        state,
        outcome,
        provenance,
        rng,
    }
}

/// `request`, arrived at a Gateway listener, decided by the table in service and answered.
async fn decide_and_answer(
    shared: &Arc<Shared>,
    arrival: &Arrival,
    request: &Request,
    body: Incoming,
    client_upgrade: Option<OnUpgrade>,
) -> Result<hyper::Response<Reply>, Refused> {
    let Decided {
        state,
        outcome,
        provenance,
        mut rng,
    } = decide(shared, request);
    let place = Place::Gateway {
        gateway: &arrival.gateway,
        port: arrival.port,
    };
    answer(
        shared,
        &state,
        place,
        request,
        outcome,
        provenance.as_ref(),
        body,
        client_upgrade,
        None,
        &mut rng,
    )
    .await
}

/// The body of a request hyper read, and its upgrade when it asks for one.
pub fn hyper_body(mut req: hyper::Request<Incoming>) -> (Incoming, Option<OnUpgrade>) {
    let client_upgrade = req
        .headers()
        .contains_key(hyper::header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut req));
    (req.into_body(), client_upgrade)
}

/// Where a request arrived, for the access log and for the client certificate the data plane
/// presents to backends (a Gateway's).
#[derive(Clone, Copy, Debug)]
pub enum Place<'a> {
    Gateway {
        gateway: &'a ObjectKey,
        port: u16,
    },
    /// A Service port of the mesh, and the pod that sent the request (`None`: a client
    /// outside the mesh).
    Mesh {
        service: &'a ObjectKey,
        port: u16,
        client: Option<&'a ObjectKey>,
    },
}

/// Carries out `outcome`, the engine's decision (`provenance`: the entry it matched), about
/// `request` (what arrived with `body`, as the engine sees it): a local answer, a redirect, or
/// the exchange with the backend, with the explain header and the access log line.
#[allow(clippy::too_many_arguments)] // one request's parts, each from a different place
pub async fn answer(
    shared: &Arc<Shared>,
    state: &State,
    place: Place<'_>,
    request: &Request,
    outcome: Outcome,
    provenance: Option<&Provenance>,
    body: Incoming,
    client_upgrade: Option<OnUpgrade>,
    attempt_timer: Option<Pin<&mut Sleep>>,
    rng: &mut SmallRng,
) -> Result<hyper::Response<Reply>, Refused> {
    let started = log_started();
    let response = match begin(place, outcome) {
        Begun::Answered(response) => response,
        Begun::Refused(refused) => return Err(refused),
        Begun::Forward(forward) => {
            // Most requests have no body: nothing to wait for or collect.
            let body = match hyper::body::Body::is_end_stream(&body) {
                true => Bytes::new(),
                false => {
                    let limited = Limited::new(body, shared.limits.max_body_bytes);
                    match limited.collect().await {
                        Ok(b) => b.to_bytes(),
                        Err(e) if e.downcast_ref::<hyper::Error>().is_some() => {
                            return Ok(RequestError::BadRequest(e.to_string()).into_response());
                        }
                        Err(_) => {
                            return Ok(RequestError::BodyTooLarge(shared.limits.max_body_bytes)
                                .into_response());
                        }
                    }
                }
            };
            let lent = Lent {
                client_upgrade,
                attempt_timer,
            };
            deliver(shared, state, place, forward, body, lent, rng).await
        }
    };
    Ok(finish(
        shared, place, request, provenance, started, response,
    ))
}

/// An outcome carried out as far as it goes without waiting.
#[allow(clippy::large_enum_variant)] // one per request, matched at once, never stored
pub(crate) enum Begun {
    /// Answered by the Gateway itself (a local answer or a redirect).
    Answered(hyper::Response<Reply>),
    Refused(Refused),
    /// For [`deliver`].
    Forward(Box<Forward>),
}

/// The part of carrying out `outcome` that needs no waiting: everything but a forward.
pub(crate) fn begin(place: Place<'_>, outcome: Outcome) -> Begun {
    match outcome {
        Outcome::ConnectionRefused => {
            let port = match place {
                Place::Gateway { gateway, port } => {
                    tracing::info!(target: "gwsim::access", gateway = %gateway, port,
                        "connection refused: no usable listener");
                    port
                }
                Place::Mesh { service, port, .. } => {
                    tracing::info!(target: "gwsim::access", service = %service, port,
                        "connection refused: the Service port is not in the mesh");
                    port
                }
            };
            Begun::Refused(Refused(format!("port {port}")))
        }
        Outcome::Respond {
            status,
            headers,
            reason,
        } => Begun::Answered(local_response(status, &headers, &reason)),
        Outcome::Redirect {
            status,
            location,
            mut headers,
        } => {
            headers.push(("Location".into(), location));
            Begun::Answered(local_response(status, &headers, ""))
        }
        Outcome::Forward(forward) => Begun::Forward(forward),
    }
}

/// When a request's handling started, if the access log is written (it says how long).
pub(crate) fn log_started() -> Option<Instant> {
    access_logged().then(Instant::now)
}

/// The answer to `request` as it goes back: with the explain header (`--explain-header`) and
/// the access log line, each only when asked for (no per-request text otherwise).
pub(crate) fn finish(
    shared: &Shared,
    place: Place<'_>,
    request: &Request,
    provenance: Option<&Provenance>,
    started: Option<Instant>,
    mut response: hyper::Response<Reply>,
) -> hyper::Response<Reply> {
    let logging = started.is_some();
    if !shared.explain_header && !logging {
        return response;
    }
    let decided = describe(provenance);
    if shared.explain_header
        && let Ok(value) = hyper::header::HeaderValue::from_str(&decided)
    {
        response.headers_mut().insert(EXPLAIN_HEADER, value);
    }
    if let Some(started) = started {
        let micros = started.elapsed().as_micros() as u64;
        log_access(place, request, response.status().as_u16(), &decided, micros);
    }
    response
}

/// Whether the access log is written (`RUST_LOG`).
fn access_logged() -> bool {
    tracing::enabled!(target: "gwsim::access", tracing::Level::INFO)
}

/// The access log's line for one answered request.
fn log_access(place: Place<'_>, request: &Request, status: u16, decided: &str, micros: u64) {
    match place {
        Place::Gateway { gateway, port } => tracing::info!(
            target: "gwsim::access",
            gateway = %gateway,
            port,
            method = %request.method,
            host = %request.host,
            path = %request.path,
            status,
            decided = %decided,
            micros,
        ),
        Place::Mesh {
            service,
            port,
            client,
        } => tracing::info!(
            target: "gwsim::access",
            service = %service,
            port,
            client = %client.map_or("outside the mesh".to_string(), ObjectKey::namespaced_name),
            method = %request.method,
            host = %request.host,
            path = %request.path,
            status,
            decided = %decided,
            micros,
        ),
    }
}

/// `route=ns/name rule=0 (name) match=0 listener=http`, or `no route`.
fn describe(provenance: Option<&Provenance>) -> String {
    match provenance {
        Some(p) => {
            let rule = match &p.rule_name {
                Some(name) => format!("{} ({name})", p.rule_index),
                None => p.rule_index.to_string(),
            };
            format!(
                "route={} rule={rule} match={} listener={}",
                p.route.namespaced_name(),
                p.match_index,
                p.listener
            )
        }
        None => "no route".to_string(),
    }
}

/// The engine's request for what arrived: the Gateway and port of the socket, Host from the
/// header (HTTP/1.1) or the authority (HTTP/2), the path as sent.
fn gateway_request(
    req: &hyper::Request<Incoming>,
    arrival: &Arrival,
) -> Result<Request, RequestError> {
    let mut request = received_request(req, arrival.port)?;
    request.gateway = Some(arrival.gateway.clone());
    request.scheme = arrival.scheme;
    request.sni.clone_from(&arrival.sni);
    Ok(request)
}

/// The engine's request for what arrived on `port` over cleartext, to no Gateway: Host from
/// the header (HTTP/1.1) or the authority (HTTP/2), the path as sent.
pub fn received_request(
    req: &hyper::Request<Incoming>,
    port: u16,
) -> Result<Request, RequestError> {
    let host = match req.uri().authority() {
        Some(a) => a.as_str().to_string(),
        None => req
            .headers()
            .get(hyper::header::HOST)
            .ok_or_else(|| RequestError::BadRequest("no Host header".into()))?
            .to_str()
            .map_err(|_| RequestError::BadRequest("the Host header is not text".into()))?
            .to_string(),
    };
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let mut headers = Vec::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        if name == hyper::header::HOST {
            continue;
        }
        let value = value.to_str().map_err(|_| {
            RequestError::BadRequest(format!("the value of header {name} is not text"))
        })?;
        headers.push((name.as_str().to_string(), value.to_string()));
    }
    Ok(Request {
        gateway: None,
        scheme: Scheme::Http,
        port,
        method: req.method().as_str().to_string(),
        host,
        path,
        headers,
        sni: None,
    })
}

/// Whether a request is a gRPC call (`content-type: application/grpc...`).
fn is_grpc_call(request: &Request) -> bool {
    request.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("content-type")
            && v.to_ascii_lowercase().starts_with("application/grpc")
    })
}

/// The HTTP version the Gateway speaks to a Service port (GEP-1911).
fn backend_version(backend: &ServiceRef) -> HttpVersion {
    match backend.app_protocol.as_deref() {
        Some("kubernetes.io/h2c") => HttpVersion::H2c,
        _ => HttpVersion::Http11,
    }
}

fn pick(state: &State, backend: &ServiceRef, rng: &mut SmallRng) -> Option<Endpoint> {
    if let Some(addr) = state.backends.user(backend) {
        return Some(Endpoint::Addr(addr));
    }
    let list = state.backends.endpoints(backend);
    if list.is_empty() {
        return None;
    }
    list.get(rng.random_range(0..list.len())).cloned()
}

/// What the connection a request came on lends its exchange with the backend.
pub(crate) struct Lent<'a> {
    /// The client's side of an upgrade it asked for.
    pub(crate) client_upgrade: Option<OnUpgrade>,
    /// A timer for the attempts' deadlines kept from one request to the next (moving a
    /// deadline later costs no timer-wheel work); `None`: one for this request.
    pub(crate) attempt_timer: Option<Pin<&'a mut Sleep>>,
}

/// `place`: a Gateway's backend client certificate is presented (none for the mesh).
pub(crate) async fn deliver(
    shared: &Arc<Shared>,
    state: &State,
    place: Place<'_>,
    forward: Box<Forward>,
    body: Bytes,
    lent: Lent<'_>,
    rng: &mut SmallRng,
) -> hyper::Response<Reply> {
    let gateway = match place {
        Place::Gateway { gateway, .. } => Some(gateway),
        Place::Mesh { .. } => None,
    };
    let Lent {
        client_upgrade,
        attempt_timer,
    } = lent;
    // The connection's timer when it lends one, else one for this request. The clock is read
    // once for both the timer and the first attempt's start.
    let first_attempt = tokio::time::Instant::now();
    let own_timer = tokio::time::sleep_until(first_attempt + shared.limits.backend_timeout);
    tokio::pin!(own_timer);
    let mut timer = attempt_timer.unwrap_or(own_timer);
    let mut version = backend_version(&forward.backend);
    // TLS to the backend when a BackendTLSPolicy applies (HTTP/2 for a gRPC call, negotiated
    // by ALPN), with the Gateway's client certificate when it has one.
    // (Looked up only then: most requests have no TLS to their backend.)
    let client = || {
        state
            .table
            .gateways()
            .iter()
            .find(|g| Some(&g.key) == gateway)
            .and_then(|g| g.backend_client_certificate.as_ref())
    };
    let tls = match &forward.backend.tls {
        None => None,
        Some(policy) => {
            let grpc = is_grpc_call(&forward.request);
            if grpc {
                version = HttpVersion::H2c;
            }
            match shared.client.tls_client(policy, client(), grpc) {
                Ok(config) => Some(config),
                Err(why) => {
                    tracing::debug!(target: "gwsim::backend", "no TLS client: {why}");
                    return local_response(503, &[], &why);
                }
            }
        }
    };
    // Mirrors get their copy; their answers are dropped.
    for mirror in &forward.mirror_requests {
        if let Some(Endpoint::Addr(addr)) = pick(state, &mirror.backend, rng) {
            let shared = shared.clone();
            let request = mirror.request.clone();
            let body = body.clone();
            let mut mirror_version = backend_version(&mirror.backend);
            // A mirror to a port a BackendTLSPolicy covers gets its copy over TLS too; one
            // whose TLS client cannot be made gets nothing.
            let mirror_tls = match &mirror.backend.tls {
                None => None,
                Some(policy) => {
                    let grpc = is_grpc_call(&request);
                    if grpc {
                        mirror_version = HttpVersion::H2c;
                    }
                    match shared.client.tls_client(policy, client(), grpc) {
                        Ok(config) => Some(config),
                        Err(_) => continue,
                    }
                }
            };
            shared.mirrors_in_flight.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(async move {
                let send = async {
                    match mirror_tls {
                        Some(config) => {
                            let send = shared.client.send_tls(
                                addr,
                                &config,
                                mirror_version,
                                &request,
                                body,
                            );
                            Box::pin(send).await
                        }
                        None => {
                            shared
                                .client
                                .send(addr, mirror_version, &request, body)
                                .await
                        }
                    }
                };
                let _ = tokio::time::timeout(shared.limits.backend_timeout, send).await;
                shared.mirrors_in_flight.fetch_sub(1, Ordering::AcqRel);
                shared.mirror_done.notify_waiters();
            });
        }
    }

    let mut exchange = Exchange::new(&forward.timeouts, forward.retry.as_ref());
    let mut last: Option<Answer> = None;
    // Why the last failed attempt failed, when the backend answered something that is not a
    // usable HTTP answer (502 rather than 503 if the exchange ends on it).
    let mut bad_answer: Option<String> = None;
    let mut next_start = Some(first_attempt);
    let end = loop {
        let attempt_started = next_start.take().unwrap_or_else(tokio::time::Instant::now);
        let outcome = match pick(state, &forward.backend, rng) {
            None => AttemptOutcome::NoEndpoints,
            Some(Endpoint::Unreachable) => AttemptOutcome::Reset,
            Some(Endpoint::Addr(addr)) => {
                let deadline = exchange
                    .attempt_deadline()
                    .unwrap_or(shared.limits.backend_timeout)
                    .min(shared.limits.backend_timeout);
                let send = async {
                    match &tls {
                        Some(config) => {
                            let send = shared.client.send_tls(
                                addr,
                                config,
                                version,
                                &forward.request,
                                body.clone(),
                            );
                            Box::pin(send).await
                        }
                        None => {
                            shared
                                .client
                                .send(addr, version, &forward.request, body.clone())
                                .await
                        }
                    }
                };
                timer.as_mut().reset(attempt_started + deadline);
                let sent = tokio::select! {
                    biased;
                    sent = send => Ok(sent),
                    () = timer.as_mut() => Err(()),
                };
                match sent {
                    Err(()) => AttemptOutcome::Unanswered,
                    Ok(Err(e)) => {
                        tracing::debug!(target: "gwsim::backend", %addr, "attempt failed: {e}");
                        bad_answer = e.is_bad_answer().then(|| e.to_string());
                        AttemptOutcome::Reset
                    }
                    Ok(Ok(answer)) => {
                        let status = answer.status;
                        bad_answer = None;
                        last = Some(answer);
                        AttemptOutcome::Answered { status }
                    }
                }
            }
        };
        // How long it took counts only under a timeout (a clock read saved otherwise).
        let took = match exchange.times_attempts() {
            true => attempt_started.elapsed(),
            false => Duration::ZERO,
        };
        let attempt = Attempt { outcome, took };
        match exchange.record(attempt) {
            Step::Retry { backoff } => Box::pin(tokio::time::sleep(backoff)).await,
            Step::Finish(end) => break end,
        }
    };

    let (status, headers, body, trailers, upgrade) = match (end, last) {
        (Final::Answered { status }, Some(answer)) => (
            status,
            answer.headers,
            answer.body,
            answer.trailers,
            answer.upgrade,
        ),
        (end, _) => {
            let error = match (end, bad_answer) {
                (Final::NoEndpoints, _) => RequestError::NoEndpoints,
                (Final::TimedOut, _) => RequestError::Timeout,
                (_, Some(why)) => RequestError::BadGateway(why),
                (_, None) => RequestError::ConnectionFailed,
            };
            let status = error.status();
            let body = Bytes::from(format!("{error}\n"));
            (status, hyper::HeaderMap::new(), body, None, None)
        }
    };
    if let (Some(backend_side), Some(client_side)) = (upgrade, client_upgrade) {
        tokio::spawn(async move {
            if let (Ok(backend), Ok(client)) = (backend_side.await, client_side.await) {
                let mut backend = TokioIo::new(backend);
                let mut client = TokioIo::new(client);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
            }
        });
    }
    if forward.response_modifiers.is_empty() && forward.response_headers.is_empty() {
        // Nothing to change: the answer's headers go back as they came, without a copy.
        let mut response = hyper::Response::new(Reply::with_trailers(body, trailers));
        *response.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
        *response.headers_mut() = headers;
        return response;
    }
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                crate::backends::canonical_name(n.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    for modifier in &forward.response_modifiers {
        apply_header_modifier(&mut headers, modifier);
    }
    headers.extend(forward.response_headers);
    let mut response = local_response(status, &headers, "");
    *response.body_mut() = Reply::with_trailers(body, trailers);
    response
}
