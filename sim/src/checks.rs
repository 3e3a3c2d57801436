//! Comparing what came back with what a scenario expects: responses, distributions and
//! statuses. Each check writes an "expected" and an "actual" line per field; a field that
//! holds gets the same line on both sides, so the diff of the two shows only what is wrong.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gwsim_engine::object::{Kind, ObjectKey};
use serde_json::Value;
use similar::TextDiff;

use gwsim_engine::decision::Request;

use crate::cluster::{Cluster, EchoedRequest, GrpcEcho, RequestId, Response, WebSocketMessage};
use crate::echo::Receipt;
use crate::scenario::{
    Expect, ExpectedCondition, ExpectedGrpc, ExpectedInfrastructure, ExpectedListener,
    ExpectedParent, ExpectedRedirect, ExpectedRequest, MirrorTarget, StatusCheck,
};

/// Expected and actual lines, and the fields that did not hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    expected: String,
    actual: String,
    failed: Vec<String>,
}

impl Comparison {
    pub fn new() -> Comparison {
        Comparison::default()
    }

    /// Records one field. When `ok`, the actual side repeats the expected value.
    pub fn field(&mut self, field: &str, expected: &str, actual: &str, ok: bool) {
        let _ = writeln!(self.expected, "{field}: {expected}");
        let _ = writeln!(
            self.actual,
            "{field}: {}",
            if ok { expected } else { actual }
        );
        if !ok {
            self.failed.push(field.to_string());
        }
    }

    /// A heading line, the same on both sides.
    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.expected, "{text}");
        let _ = writeln!(self.actual, "{text}");
    }

    pub fn passed(&self) -> bool {
        self.failed.is_empty()
    }

    /// Appends another comparison's lines and failures.
    pub fn merge(&mut self, other: Comparison) {
        self.expected.push_str(&other.expected);
        self.actual.push_str(&other.actual);
        self.failed.extend(other.failed);
    }

    /// The fields that did not hold, in order.
    pub fn failed_fields(&self) -> &[String] {
        &self.failed
    }

    /// A unified diff of expected against actual.
    pub fn diff(&self) -> String {
        TextDiff::from_lines(&self.expected, &self.actual)
            .unified_diff()
            .context_radius(3)
            .header("expected", "actual")
            .to_string()
    }
}

/// The Deployment a pod belongs to: its name without the last two `-` segments.
pub fn backend_of_pod(pod: &str) -> &str {
    let mut parts = pod.rsplitn(3, '-');
    let (Some(_), Some(_), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return pod;
    };
    rest
}

/// The Services in `namespace` that have `pod` as an endpoint: those with an EndpointSlice
/// (labelled `kubernetes.io/service-name`) listing a Pod targetRef of that name. Read through
/// the cluster's objects, so a real cluster answers the same way; a Service is identified
/// exactly, never by a pod-name prefix.
pub fn services_of_pod<C: Cluster + ?Sized>(
    cluster: &C,
    namespace: &str,
    pod: &str,
) -> Vec<String> {
    let mut services = Vec::new();
    for key in cluster.list(Kind::EndpointSlice) {
        if key.namespace != namespace {
            continue;
        }
        let Some(slice) = cluster.get(&key) else {
            continue;
        };
        let Some(service) = slice
            .pointer("/metadata/labels/kubernetes.io~1service-name")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let lists_pod = slice
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("targetRef"))
            .any(|r| {
                r.get("kind").and_then(Value::as_str) == Some("Pod")
                    && r.get("name").and_then(Value::as_str) == Some(pod)
            });
        if lists_pod && !services.iter().any(|s| s == service) {
            services.push(service.to_string());
        }
    }
    services.sort();
    services
}

fn status_text(codes: &[u16]) -> String {
    match codes {
        [one] => one.to_string(),
        many => format!(
            "one of {}",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Upstream's comparator treats 408 and 504 as the same timeout.
fn status_matches(expected: &[u16], got: u16) -> bool {
    let timeout = |c: u16| c == 408 || c == 504;
    expected.contains(&got) || (timeout(got) && expected.iter().any(|c| timeout(*c)))
}

const NO_BACKEND: &str = "(answered by the gateway, no backend)";
/// An accepted upgrade has no echo body: the connection carries WebSocket messages instead.
const NO_REPORT: &str = "(a WebSocket session: the backend sends no echo report)";
const ABSENT: &str = "(absent)";

/// Checks one response against every part of `expect` but the distribution.
///
/// `sent` is the request as the scenario sent it: it gives the implicit expectations (format
/// 1.1, as upstream's comparison): on a 2xx a backend answered, it received the request's own
/// method, host and path unless `expect.request` names another; on a 3xx, the `Location`'s
/// scheme and path default to the request's and its port must be absent or the scheme's
/// default unless `expect.redirect` names them.
pub fn check_response<C: Cluster + ?Sized>(
    expect: &Expect,
    response: &Response,
    sent: &Request,
    cluster: &C,
    id: RequestId,
) -> Comparison {
    let mut c = Comparison::new();
    if let Some(codes) = &expect.status {
        c.field(
            "status",
            &status_text(codes),
            &response.status.to_string(),
            status_matches(codes, response.status),
        );
    }
    if let Some(code) = expect.grpc_status {
        let (got, message) = response.grpc_status();
        let actual = if message.is_empty() {
            got.to_string()
        } else {
            format!("{got}: {message}")
        };
        c.field("grpcStatus", &code.to_string(), &actual, got == code);
    }
    let echo = response.echo.as_ref();
    let answered_by = response.answered_by();
    let no_echo = if response.status == 101 {
        NO_REPORT
    } else {
        NO_BACKEND
    };
    if let Some(backend) = &expect.backend {
        let (actual, ok) = match answered_by {
            Some((namespace, pod)) => {
                let services = cluster.services_of_pod(namespace, pod);
                let named = if services.is_empty() {
                    "(no Service has it as an endpoint)".to_string()
                } else {
                    services.join(", ")
                };
                (
                    format!("{named} (pod {pod})"),
                    services.iter().any(|s| s == backend),
                )
            }
            None => (no_echo.to_string(), false),
        };
        c.field("backend", backend, &actual, ok);
    }
    if let Some(namespace) = &expect.namespace {
        let actual = answered_by.map_or(no_echo, |(ns, _)| ns);
        c.field(
            "namespace",
            namespace,
            actual,
            answered_by.is_some() && actual == namespace,
        );
    }
    if let Some(report) = &response.grpc_echo {
        check_grpc_as_sent(&mut c, expect.grpc.as_ref(), report, sent);
    }
    if let Some(want) = &expect.grpc {
        check_grpc(&mut c, want, response.grpc_echo.as_ref());
    }
    if let Some(e) = echo.filter(|_| (200..300).contains(&response.status)) {
        check_as_sent(&mut c, expect.request.as_ref(), e, sent);
    }
    if let Some(req) = &expect.request {
        let pairs = [
            (
                "request.method",
                &req.method,
                echo.map(|e| e.method.as_str()),
            ),
            ("request.host", &req.host, echo.map(|e| e.host.as_str())),
            ("request.path", &req.path, echo.map(|e| e.path.as_str())),
            ("request.proto", &req.proto, echo.map(|e| e.proto.as_str())),
        ];
        reported_fields(&mut c, &pairs, no_echo);
        if let Some(want) = &req.sni {
            let got = match echo {
                None => no_echo,
                Some(e) => e.tls.as_ref().map_or(NO_TLS, |t| t.server_name.as_str()),
            };
            c.field("request.sni", want, got, got == want);
        }
        if let Some((namespace, name)) = &req.peer_certificate {
            check_peer_certificate(&mut c, namespace, name, echo, cluster);
        }
        let header = echo.map(|e| move |name: &str| e.header(name));
        let report = Reported {
            prefix: "request.headers",
            header: header
                .as_ref()
                .map(|h| h as &dyn Fn(&str) -> Option<String>),
            missing: no_echo,
        };
        report.headers(&mut c, &req.headers);
        if let Some(name) = &req.backend_header {
            check_backend_header(&mut c, name, echo, cluster);
        }
        report.absent(&mut c, &req.absent_headers);
    }
    let squeeze = |v: &str| {
        if expect.ignore_whitespace {
            v.replace(' ', "")
        } else {
            v.to_string()
        }
    };
    for (name, want) in &expect.headers {
        let got = response.header(name);
        c.field(
            &format!("headers.{name}"),
            want,
            got.as_deref().unwrap_or(ABSENT),
            got.as_deref().map(squeeze) == Some(squeeze(want)),
        );
    }
    for (name, allowed) in &expect.header_values {
        let got = response.header(name);
        let ok = got
            .as_deref()
            .is_some_and(|g| allowed.iter().any(|a| squeeze(a) == squeeze(g)));
        c.field(
            &format!("headerValues.{name}"),
            &format!("one of {}", allowed.join(" | ")),
            got.as_deref().unwrap_or(ABSENT),
            ok,
        );
    }
    if let Some(forwarded) = expect.forwarded {
        let text = |by_backend: bool| {
            if by_backend {
                "forwarded: a backend answered"
            } else {
                "not forwarded: the Gateway answered itself"
            }
        };
        let got = answered_by.is_some() || response.status == 101;
        c.field("forwarded", text(forwarded), text(got), got == forwarded);
    }
    for name in &expect.absent_headers {
        let got = response.header(name);
        c.field(
            &format!("headers.{name}"),
            ABSENT,
            got.as_deref().unwrap_or(ABSENT),
            got.is_none(),
        );
    }
    if let Some(messages) = &expect.messages {
        check_messages(&mut c, messages, response);
    }
    let location = response.header("location");
    if (300..400).contains(&response.status) && (expect.redirect.is_some() || location.is_some()) {
        let given = expect.redirect.clone().unwrap_or_default();
        check_redirect(&mut c, &given, location.as_deref(), Some(sent));
    } else if let Some(redirect) = &expect.redirect {
        check_redirect(&mut c, redirect, location.as_deref(), None);
    }
    for target in expect.mirrored_to.iter().filter(|t| t.share.is_none()) {
        let label = mirror_label(target);
        let receipt = cluster.receipt(target.namespace.as_deref(), &target.backend, id);
        let actual = match receipt {
            Receipt::Evicted { kept } => evicted_text(kept),
            Receipt::Received | Receipt::NotReceived => "received nothing".to_string(),
        };
        c.field(
            &format!("mirroredTo.{label}"),
            "received a copy",
            &actual,
            receipt == Receipt::Received,
        );
    }
    c
}

/// The implicit checks of a 2xx a backend answered: the method, host and path (with query) it
/// received are the request's own, for each of them `expect.request` leaves unsaid.
fn check_as_sent(
    c: &mut Comparison,
    given: Option<&ExpectedRequest>,
    echo: &EchoedRequest,
    sent: &Request,
) {
    let fields = [
        (
            "request.method",
            given.and_then(|g| g.method.as_ref()),
            &sent.method,
            &echo.method,
        ),
        (
            "request.host",
            given.and_then(|g| g.host.as_ref()),
            &sent.host,
            &echo.host,
        ),
        (
            "request.path",
            given.and_then(|g| g.path.as_ref()),
            &sent.path,
            &echo.path,
        ),
    ];
    for (field, stated, own, got) in fields {
        if stated.is_none() {
            c.field(&format!("{field} (as sent)"), own, got, got == own);
        }
    }
}

/// The implicit check of a gRPC call a backend answered with its report, as upstream's
/// comparison makes it: the backend received the call's own method, unless `expect.grpc`
/// names another.
fn check_grpc_as_sent(
    c: &mut Comparison,
    given: Option<&ExpectedGrpc>,
    report: &GrpcEcho,
    sent: &Request,
) {
    if given.is_none_or(|g| g.method.is_none()) {
        let got = &report.fully_qualified_method;
        c.field("grpc.method (as sent)", &sent.path, got, *got == sent.path);
    }
}

/// `expect.grpc`: what the gRPC echo reported about the call.
fn check_grpc(c: &mut Comparison, want: &ExpectedGrpc, report: Option<&GrpcEcho>) {
    const NO_GRPC_REPORT: &str = "(no gRPC echo report came back)";
    let pairs = [
        (
            "grpc.method",
            &want.method,
            report.map(|r| r.fully_qualified_method.as_str()),
        ),
        (
            "grpc.authority",
            &want.authority,
            report.map(|r| r.authority.as_str()),
        ),
    ];
    reported_fields(c, &pairs, NO_GRPC_REPORT);
    let header = report.map(|r| move |name: &str| r.header(name));
    let reported = Reported {
        prefix: "grpc.headers",
        header: header
            .as_ref()
            .map(|h| h as &dyn Fn(&str) -> Option<String>),
        missing: NO_GRPC_REPORT,
    };
    reported.headers(c, &want.headers);
    reported.absent(c, &want.absent_headers);
}

/// Expected fields of a backend's report: each given one must equal what was reported;
/// `missing` stands for the value when no report came back.
fn reported_fields(
    c: &mut Comparison,
    pairs: &[(&str, &Option<String>, Option<&str>)],
    missing: &str,
) {
    for (field, want, got) in pairs {
        if let Some(want) = want {
            c.field(
                field,
                want,
                got.unwrap_or(missing),
                *got == Some(want.as_str()),
            );
        }
    }
}

/// A report's header by name.
type HeaderLookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The headers a backend reported (an HTTP echo's request headers, a gRPC echo's metadata).
struct Reported<'a> {
    /// The field path the headers are checked under (`request.headers`).
    prefix: &'a str,
    /// Looks a header up in the report; `None`: no report came back.
    header: Option<&'a HeaderLookup<'a>>,
    /// What stands for a header's value when no report came back.
    missing: &'a str,
}

impl Reported<'_> {
    fn got(&self, name: &str) -> (Option<String>, String) {
        let got = self.header.and_then(|h| h(name));
        let actual = match (&got, self.header) {
            (_, None) => self.missing.to_string(),
            (Some(v), _) => v.clone(),
            (None, _) => ABSENT.to_string(),
        };
        (got, actual)
    }

    /// Each header must have been reported with exactly this value.
    fn headers(&self, c: &mut Comparison, want: &[(String, String)]) {
        for (name, value) in want {
            let (got, actual) = self.got(name);
            let ok = got.as_deref() == Some(value.as_str());
            c.field(&format!("{}.{name}", self.prefix), value, &actual, ok);
        }
    }

    /// A report came back, without these headers.
    fn absent(&self, c: &mut Comparison, names: &[String]) {
        for name in names {
            let (got, actual) = self.got(name);
            let ok = self.header.is_some() && got.is_none();
            c.field(&format!("{}.{name}", self.prefix), ABSENT, &actual, ok);
        }
    }
}

/// `expect.request.backendHeader`: the backend received header `name` exactly once, and its
/// value is a Service that has the answering pod as an endpoint.
fn check_backend_header<C: Cluster + ?Sized>(
    c: &mut Comparison,
    name: &str,
    echo: Option<&EchoedRequest>,
    cluster: &C,
) {
    let field = format!("request.headers.{name}");
    let want = "one value, naming the Service whose pod answered";
    let Some(e) = echo else {
        c.field(&field, want, NO_BACKEND, false);
        return;
    };
    let values: Vec<&str> = e
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    let services = cluster.services_of_pod(&e.namespace, &e.pod);
    let (actual, ok) = match values.as_slice() {
        [] => (ABSENT.to_string(), false),
        [one] => (
            format!(
                "{one} (pod {} is an endpoint of {})",
                e.pod,
                if services.is_empty() {
                    "no Service".to_string()
                } else {
                    services.join(", ")
                }
            ),
            services.iter().any(|s| s == one),
        ),
        many => (format!("{} values: {}", many.len(), many.join(",")), false),
    };
    c.field(&field, want, &actual, ok);
}

/// The messages that came back, in order; they need an accepted upgrade.
fn check_messages(c: &mut Comparison, want: &[WebSocketMessage], response: &Response) {
    if response.status != 101 {
        c.field(
            "upgrade",
            "accepted (101 Switching Protocols)",
            &format!("refused: the Gateway answered {}", response.status),
            false,
        );
    }
    let got = &response.messages;
    for i in 0..want.len().max(got.len()) {
        let text = |m: Option<&WebSocketMessage>| m.map_or(ABSENT.to_string(), |m| m.to_string());
        c.field(
            &format!("messages[{i}]"),
            &text(want.get(i)),
            &text(got.get(i)),
            want.get(i) == got.get(i),
        );
    }
}

fn evicted_text(kept: usize) -> String {
    format!(
        "unknown: the request left the backend's request log (gwsim keeps the newest {kept} requests per echo pod, docs/limits.md)"
    )
}

fn mirror_label(target: &MirrorTarget) -> String {
    match &target.namespace {
        Some(ns) => format!("{ns}/{}", target.backend),
        None => target.backend.clone(),
    }
}

/// How many of a `count` run's requests each share-checked mirror target received. The
/// requests are noted as they are sent and looked up in the backends' logs when the run is
/// checked: a real cluster's mirror copies land after the answers, and one read of its logs
/// then covers the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirrorTally {
    ids: Vec<RequestId>,
}

impl MirrorTally {
    /// Notes request `id` of a run checked against `expect`.
    pub fn add(&mut self, expect: &Expect, id: RequestId) {
        if expect.mirrored_to.iter().any(|t| t.share.is_some()) {
            self.ids.push(id);
        }
    }

    /// Checks each share-checked target's share of the noted requests it received.
    pub fn check<C: Cluster + ?Sized>(&self, expect: &Expect, cluster: &C) -> Comparison {
        let mut c = Comparison::new();
        let total = self.ids.len().max(1) as f64;
        let targets = expect.mirrored_to.iter().filter(|t| t.share.is_some());
        for t in targets {
            let share = t.share.unwrap_or(0.0);
            let (mut count, mut evicted, mut kept) = (0usize, 0usize, 0usize);
            for id in &self.ids {
                match cluster.receipt(t.namespace.as_deref(), &t.backend, *id) {
                    Receipt::Received => count += 1,
                    Receipt::NotReceived => {}
                    Receipt::Evicted { kept: k } => (evicted, kept) = (evicted + 1, k),
                }
            }
            let got = count as f64 / total;
            let actual = if evicted > 0 {
                format!("{evicted} of {} {}", self.ids.len(), evicted_text(kept))
            } else {
                format!("{got:.3} ({count} of {})", self.ids.len())
            };
            c.field(
                &format!("mirroredTo.{}", mirror_label(t)),
                &format!("{share:.3} of requests ± {}", t.tolerance),
                &actual,
                evicted == 0 && (got - share).abs() <= t.tolerance + 1e-9,
            );
        }
        c
    }
}

/// Parts of a `Location` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub scheme: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Without the query.
    pub path: String,
}

/// Splits a Location into scheme, host, port and path. A relative Location has only a path.
pub fn parse_location(location: &str) -> Location {
    let (scheme, rest) = match location.split_once("://") {
        Some((s, rest)) => (Some(s.to_ascii_lowercase()), rest),
        None => (None, location),
    };
    let (authority, path) = if scheme.is_some() {
        match rest.find(['/', '?', '#']) {
            Some(i) => (Some(&rest[..i]), &rest[i..]),
            None => (Some(rest), ""),
        }
    } else {
        (None, rest)
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let (host, port) = match authority {
        None => (None, None),
        Some(a) => match a.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || a.starts_with('[') => match p.parse::<u16>() {
                Ok(port) => (Some(h.to_string()), Some(port)),
                Err(_) => (Some(a.to_string()), None),
            },
            _ => (Some(a.to_string()), None),
        },
    };
    Location {
        scheme,
        host,
        port,
        path: if path.is_empty() && authority.is_some() {
            "/".to_string()
        } else {
            path.to_string()
        },
    }
}

/// Compares the `Location` with the parts `want` gives. With `sent` (a 3xx answer), the parts
/// it leaves out default as upstream's comparison defaults them: scheme and path are the
/// request's, and the port must be absent or the Location scheme's well-known port.
fn check_redirect(
    c: &mut Comparison,
    want: &ExpectedRedirect,
    location: Option<&str>,
    sent: Option<&Request>,
) {
    let Some(location) = location else {
        let mut any = false;
        for (field, given) in [
            ("redirect.scheme", want.scheme.clone()),
            ("redirect.host", want.host.clone()),
            ("redirect.port", want.port.map(|p| p.to_string())),
            ("redirect.path", want.path.clone()),
        ] {
            if let Some(given) = given {
                any = true;
                c.field(field, &given, "(no Location header)", false);
            }
        }
        if !any {
            c.field(
                "redirect",
                "a Location header",
                "(no Location header)",
                false,
            );
        }
        return;
    };
    let got = parse_location(location);
    let implicit = |field: &str| format!("{field} (as sent)");
    let scheme = match (&want.scheme, sent) {
        (Some(s), _) => Some(("redirect.scheme".to_string(), s.clone())),
        (None, Some(r)) => Some((implicit("redirect.scheme"), r.scheme.as_str().to_string())),
        (None, None) => None,
    };
    if let Some((field, scheme)) = scheme {
        let actual = got.scheme.as_deref().unwrap_or("(none)");
        c.field(&field, &scheme, actual, actual == scheme);
    }
    if let Some(host) = &want.host {
        let actual = got.host.as_deref().unwrap_or("(none)");
        c.field(
            "redirect.host",
            host,
            actual,
            actual.eq_ignore_ascii_case(host),
        );
    }
    // A port absent from the Location is the scheme's well-known port.
    let well_known = match got.scheme.as_deref() {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    };
    if let Some(port) = want.port {
        let effective = got.port.or(well_known);
        let actual = match (got.port, effective) {
            (Some(p), _) => p.to_string(),
            (None, Some(p)) => format!("{p} (none in Location)"),
            (None, None) => "(none)".to_string(),
        };
        c.field(
            "redirect.port",
            &port.to_string(),
            &actual,
            effective == Some(port),
        );
    } else if sent.is_some() {
        let ok = got.port.is_none() || got.port == well_known;
        let actual = got
            .port
            .map_or("(none in Location)".to_string(), |p| p.to_string());
        c.field(
            "redirect.port (default)",
            "absent or the scheme's well-known port",
            &actual,
            ok,
        );
    }
    let path = match (&want.path, sent) {
        (Some(p), _) => Some(("redirect.path".to_string(), p.clone())),
        (None, Some(r)) => {
            let own = r.path.split(['?', '#']).next().unwrap_or("");
            Some((implicit("redirect.path"), own.to_string()))
        }
        (None, None) => None,
    };
    if let Some((field, path)) = path {
        c.field(&field, &path, &got.path, got.path == path);
    }
}

/// Which backend served each response of a `count` run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    by_backend: BTreeMap<String, usize>,
    unserved: usize,
    total: usize,
}

impl Tally {
    pub fn add(&mut self, response: &Response) {
        self.add_answer(response.answered_by().map(|(_, pod)| pod));
    }

    /// Counts one answer by the pod that gave it (`None`: nothing answered).
    pub fn add_answer(&mut self, pod: Option<&str>) {
        self.total += 1;
        match pod {
            Some(pod) => {
                *self
                    .by_backend
                    .entry(backend_of_pod(pod).to_string())
                    .or_default() += 1
            }
            None => self.unserved += 1,
        }
    }

    /// Checks the shares against `expected` (backend → share) within `tolerance`.
    pub fn check(&self, expected: &[(String, f64)], tolerance: f64) -> Comparison {
        let mut c = Comparison::new();
        let total = self.total.max(1) as f64;
        for (backend, share) in expected {
            let count = self.by_backend.get(backend).copied().unwrap_or(0);
            let got = count as f64 / total;
            c.field(
                &format!("distribution.{backend}"),
                &format!("{share:.3} ± {tolerance}"),
                &format!("{got:.3} ({count} of {})", self.total),
                (got - share).abs() <= tolerance + 1e-9,
            );
        }
        for (backend, count) in &self.by_backend {
            if expected.iter().any(|(b, _)| b == backend) {
                continue;
            }
            c.field(
                &format!("distribution.{backend}"),
                "0 (not in the expected distribution)",
                &format!("{:.3} ({count} of {})", *count as f64 / total, self.total),
                false,
            );
        }
        if self.unserved > 0 {
            c.field(
                "distribution.(no backend)",
                "0",
                &format!(
                    "{} of {} responses came from no backend",
                    self.unserved, self.total
                ),
                false,
            );
        }
        c
    }
}

/// `request.peerCertificate`: the backend received the Secret's `tls.crt` as a client
/// certificate, as upstream compares it (the PEM text, exactly).
fn check_peer_certificate<C: Cluster + ?Sized>(
    c: &mut Comparison,
    namespace: &str,
    name: &str,
    echo: Option<&EchoedRequest>,
    cluster: &C,
) {
    let field = "request.peerCertificate";
    let want = format!("the tls.crt of Secret {namespace}/{name}");
    let secret = cluster.get(&ObjectKey::new(Kind::Secret, namespace, name));
    let pem = secret
        .as_ref()
        .and_then(|s| s.pointer("/data/tls.crt"))
        .and_then(Value::as_str)
        .and_then(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let Some(pem) = pem else {
        c.field(
            field,
            &want,
            "(the Secret or its tls.crt does not exist)",
            false,
        );
        return;
    };
    let (actual, ok) = match echo.map(|e| e.tls.as_ref()) {
        None => (NO_BACKEND.to_string(), false),
        Some(None) => (NO_TLS.to_string(), false),
        Some(Some(tls)) if tls.peer_certificates.contains(&pem) => (want.clone(), true),
        Some(Some(tls)) => (
            format!(
                "{} other client certificate(s), not that one",
                tls.peer_certificates.len()
            ),
            false,
        ),
    };
    c.field(field, &want, &actual, ok);
}

/// What `request.sni` reads when the backend received the request over plain HTTP.
const NO_TLS: &str = "(no TLS: the backend received plain HTTP)";

/// Checks one object's status.
pub fn check_status<C: Cluster + ?Sized>(check: &StatusCheck, cluster: &C) -> Comparison {
    let mut c = Comparison::new();
    c.heading(&format!("{}:", check.target));
    let Some(key) = check.target.key() else {
        c.field(
            "  object",
            "exists",
            &format!("(kind {} is not known to this cluster)", check.target.kind),
            false,
        );
        return c;
    };
    let Some(object) = cluster.get(&key) else {
        c.field("  object", "exists", "not found", false);
        return c;
    };
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = object.get("status").cloned().unwrap_or(Value::Null);
    check_observed_generations(&mut c, &status, generation, cluster.controller_name());

    let conditions = status.get("conditions");
    check_conditions(&mut c, "  conditions", &check.conditions, conditions);

    let parents = status
        .get("parents")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for parent in &check.parents {
        check_parent(&mut c, parent, parents, &key.namespace);
    }
    let ancestors = status
        .get("ancestors")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for ancestor in &check.ancestors {
        check_entry(&mut c, ancestor, ancestors, &key.namespace, ANCESTORS);
    }
    if let Some(want) = check.accepted_parents {
        let got = parents
            .iter()
            .filter(|p| condition_status(p.get("conditions"), "Accepted") == Some("True"))
            .count();
        c.field(
            "  acceptedParents",
            &want.to_string(),
            &got.to_string(),
            got == want,
        );
    }
    if let Some(want) = check.parent_count {
        c.field(
            "  parentCount",
            &want.to_string(),
            &parents.len().to_string(),
            parents.len() == want,
        );
    }
    if let Some(want) = check.attached_listener_sets {
        let got = status.get("attachedListenerSets").and_then(Value::as_i64);
        c.field(
            "  attachedListenerSets",
            &want.to_string(),
            &got.map_or_else(|| ABSENT.to_string(), |n| n.to_string()),
            got == Some(want),
        );
    }
    if let Some(want) = check.addresses {
        let got = status
            .get("addresses")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let text = |b: bool| if b { "non-empty" } else { "empty" };
        c.field("  addresses", text(want), text(got), got == want);
    }
    if let Some(want) = &check.address_list {
        let got: Vec<(&str, &str)> = status
            .get("addresses")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|a| {
                let field = |name: &str| a.get(name).and_then(Value::as_str).unwrap_or(ABSENT);
                (field("type"), field("value"))
            })
            .collect();
        // A wanted entry without a value takes any value of its type.
        let same = got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|((gt, gv), (wt, wv))| gt == wt && wv.as_deref().is_none_or(|wv| wv == *gv));
        let text = |list: Vec<String>| {
            if list.is_empty() {
                "(none)".to_string()
            } else {
                list.join(", ")
            }
        };
        let want = text(
            want.iter()
                .map(|(t, v)| format!("{t} {}", v.as_deref().unwrap_or("(any value)")))
                .collect(),
        );
        let got = text(got.iter().map(|(t, v)| format!("{t} {v}")).collect());
        c.field("  addressList", &want, &got, same);
    }
    let listeners = status
        .get("listeners")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for listener in &check.listeners {
        check_listener(&mut c, listener, listeners);
    }
    if let Some(want) = &check.infrastructure {
        check_infrastructure(&mut c, want, &key, cluster);
    }
    if let Some(want) = check.listener_count {
        let got = listeners.len();
        c.field(
            "  listenerCount",
            &want.to_string(),
            &got.to_string(),
            got == want,
        );
    }
    c
}

/// The label a Gateway's generated objects carry (GEP-1762).
const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

/// `infrastructure`, as upstream's GatewayInfrastructure checks it: Pods and Services of the
/// Gateway's namespace labelled with its name must exist, and the first of each kind must carry
/// every label and annotation given.
fn check_infrastructure<C: Cluster + ?Sized>(
    c: &mut Comparison,
    want: &ExpectedInfrastructure,
    gateway: &ObjectKey,
    cluster: &C,
) {
    let mut found = 0;
    for kind in [Kind::Pod, Kind::Service] {
        let first = cluster
            .list(kind)
            .into_iter()
            .filter(|k| k.namespace == gateway.namespace)
            .filter_map(|k| cluster.get(&k).map(|o| (k, o)))
            .find(|(_, o)| {
                o.pointer("/metadata/labels")
                    .and_then(|l| l.get(GATEWAY_NAME_LABEL))
                    .and_then(Value::as_str)
                    == Some(gateway.name.as_str())
            });
        let Some((key, object)) = first else {
            continue;
        };
        found += 1;
        for (field, wanted) in [("labels", &want.labels), ("annotations", &want.annotations)] {
            let got = object.pointer(&format!("/metadata/{field}"));
            for (name, value) in wanted {
                let actual = got.and_then(|m| m.get(name)).and_then(Value::as_str);
                c.field(
                    &format!("  infrastructure.{}/{}.{field}.{name}", key.kind, key.name),
                    value,
                    actual.unwrap_or(ABSENT),
                    actual == Some(value.as_str()),
                );
            }
        }
    }
    if found == 0 {
        c.field(
            "  infrastructure",
            &format!(
                "a Pod or Service labelled {GATEWAY_NAME_LABEL}={}",
                gateway.name
            ),
            "(none: nothing generated for this Gateway)",
            false,
        );
    }
}

/// Every condition the controller wrote must carry the object's current generation: the
/// object's own conditions, its listeners', its route parent entries and its policy ancestor
/// entries of this controller (entries of other controllers are theirs).
fn check_observed_generations(
    c: &mut Comparison,
    status: &Value,
    generation: i64,
    controller: &str,
) {
    let mut lists: Vec<(String, &Value)> = Vec::new();
    if let Some(conds) = status.get("conditions") {
        lists.push(("conditions".to_string(), conds));
    }
    for listener in status
        .get("listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = listener.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(conds) = listener.get("conditions") {
            lists.push((format!("listeners[{name}].conditions"), conds));
        }
    }
    for entries in [PARENTS, ANCESTORS] {
        for entry in status
            .get(entries.list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if entry.get("controllerName").and_then(Value::as_str) != Some(controller) {
                continue;
            }
            if let Some(conds) = entry.get("conditions") {
                let at = entry_ref_text(entry, entries.reference);
                lists.push((format!("{}[{at}]", entries.list), conds));
            }
        }
    }
    for (place, conds) in lists {
        for cond in conds.as_array().into_iter().flatten() {
            let observed = cond.get("observedGeneration").and_then(Value::as_i64);
            if observed != Some(generation) {
                let type_ = cond.get("type").and_then(Value::as_str).unwrap_or("?");
                c.field(
                    &format!("  {place}[{type_}].observedGeneration"),
                    &generation.to_string(),
                    &observed.map_or("(unset)".to_string(), |g| g.to_string()),
                    false,
                );
            }
        }
    }
}

fn condition<'a>(conditions: Option<&'a Value>, type_: &str) -> Option<&'a Value> {
    conditions?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

fn condition_status<'a>(conditions: Option<&'a Value>, type_: &str) -> Option<&'a str> {
    condition(conditions, type_)?.get("status")?.as_str()
}

fn condition_holds(want: &ExpectedCondition, conditions: Option<&Value>) -> bool {
    let Some(got) = condition(conditions, &want.type_) else {
        return false;
    };
    let field = |name: &str| got.get(name).and_then(Value::as_str);
    want.status
        .as_deref()
        .is_none_or(|s| field("status") == Some(s))
        && want
            .reason
            .as_deref()
            .is_none_or(|r| field("reason") == Some(r))
}

/// `status=True reason=Accepted`, with only the parts the expectation gives.
fn condition_text(want: &ExpectedCondition, got: Option<&Value>) -> String {
    let Some(got) = got else {
        return "(missing)".to_string();
    };
    let field = |name: &str| got.get(name).and_then(Value::as_str).unwrap_or("(unset)");
    let mut parts = Vec::new();
    if want.status.is_some() {
        parts.push(format!("status={}", field("status")));
    }
    if want.reason.is_some() {
        parts.push(format!("reason={}", field("reason")));
    }
    if parts.is_empty() {
        "present".to_string()
    } else {
        parts.join(" ")
    }
}

fn expected_condition_text(want: &ExpectedCondition) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &want.status {
        parts.push(format!("status={s}"));
    }
    if let Some(r) = &want.reason {
        parts.push(format!("reason={r}"));
    }
    if parts.is_empty() {
        "present".to_string()
    } else {
        parts.join(" ")
    }
}

fn check_conditions(
    c: &mut Comparison,
    place: &str,
    wanted: &[ExpectedCondition],
    conditions: Option<&Value>,
) {
    for want in wanted {
        c.field(
            &format!("{place}[{}]", want.type_),
            &expected_condition_text(want),
            &condition_text(want, condition(conditions, &want.type_)),
            condition_holds(want, conditions),
        );
    }
}

/// `gw`, `ns/gw`, `ns/gw/http`, `ns/gw:80` — a parentRef in one word.
/// `ns/name/section:port` of a route parent entry (`parentRef`) or a policy ancestor entry
/// (`ancestorRef`).
fn entry_ref_text(entry: &Value, reference: &str) -> String {
    let r = entry.get(reference).unwrap_or(&Value::Null);
    let s = |f: &str| r.get(f).and_then(Value::as_str);
    let mut out = String::new();
    if let Some(ns) = s("namespace") {
        out.push_str(ns);
        out.push('/');
    }
    out.push_str(s("name").unwrap_or("?"));
    if let Some(section) = s("sectionName") {
        out.push('/');
        out.push_str(section);
    }
    if let Some(port) = r.get("port").and_then(Value::as_u64) {
        let _ = write!(out, ":{port}");
    }
    out
}

/// Where the entries a [`check_entry`] looks at live: `status.parents[].parentRef` of a route,
/// or `status.ancestors[].ancestorRef` of a policy.
#[derive(Clone, Copy)]
struct EntryList {
    list: &'static str,
    reference: &'static str,
}

const PARENTS: EntryList = EntryList {
    list: "parents",
    reference: "parentRef",
};
const ANCESTORS: EntryList = EntryList {
    list: "ancestors",
    reference: "ancestorRef",
};

fn check_parent(c: &mut Comparison, want: &ExpectedParent, parents: &[Value], route_ns: &str) {
    check_entry(c, want, parents, route_ns, PARENTS);
}

/// One expected route parent or policy ancestor entry against the entries present.
fn check_entry(
    c: &mut Comparison,
    want: &ExpectedParent,
    parents: &[Value],
    route_ns: &str,
    entries: EntryList,
) {
    let w = &want.parent_ref;
    let mut label = String::new();
    if let Some(ns) = &w.namespace {
        label.push_str(ns);
        label.push('/');
    }
    label.push_str(&w.name);
    if let Some(s) = &w.section_name {
        label.push('/');
        label.push_str(s);
    }
    if let Some(p) = w.port {
        let _ = write!(label, ":{p}");
    }
    let candidates: Vec<&Value> = parents
        .iter()
        .filter(|p| {
            let r = p.get(entries.reference).unwrap_or(&Value::Null);
            let s = |f: &str| r.get(f).and_then(Value::as_str);
            s("name") == Some(w.name.as_str())
                && w.namespace
                    .as_deref()
                    .is_none_or(|ns| s("namespace").unwrap_or(route_ns) == ns)
                && w.section_name
                    .as_deref()
                    .is_none_or(|x| s("sectionName") == Some(x))
                && w.port.is_none_or(|port| {
                    r.get("port").and_then(Value::as_u64) == Some(u64::from(port))
                })
                && w.group
                    .as_deref()
                    .is_none_or(|g| s("group").unwrap_or("gateway.networking.k8s.io") == g)
                && w.kind
                    .as_deref()
                    .is_none_or(|k| s("kind").unwrap_or("Gateway") == k)
        })
        .collect();
    let place = format!("  {}[{label}]", entries.list);
    if candidates.is_empty() {
        let present: Vec<String> = parents
            .iter()
            .map(|p| entry_ref_text(p, entries.reference))
            .collect();
        let actual = if present.is_empty() {
            format!("(no entry; status.{} is empty)", entries.list)
        } else {
            format!("(no entry; entries: {})", present.join(", "))
        };
        c.field(&place, "present", &actual, false);
        return;
    }
    let holds = |p: &Value| {
        want.controller_name
            .as_deref()
            .is_none_or(|n| p.get("controllerName").and_then(Value::as_str) == Some(n))
            && want
                .conditions
                .iter()
                .all(|cond| condition_holds(cond, p.get("conditions")))
    };
    let chosen = candidates
        .iter()
        .find(|p| holds(p))
        .copied()
        .unwrap_or(candidates[0]);
    if let Some(name) = &want.controller_name {
        let got = chosen
            .get("controllerName")
            .and_then(Value::as_str)
            .unwrap_or("(unset)");
        c.field(&format!("{place}.controllerName"), name, got, got == name);
    }
    check_conditions(
        c,
        &format!("{place}.conditions"),
        &want.conditions,
        chosen.get("conditions"),
    );
}

fn check_listener(c: &mut Comparison, want: &ExpectedListener, listeners: &[Value]) {
    let place = format!("  listeners[{}]", want.name);
    let Some(got) = listeners
        .iter()
        .find(|l| l.get("name").and_then(Value::as_str) == Some(want.name.as_str()))
    else {
        let names: Vec<&str> = listeners
            .iter()
            .filter_map(|l| l.get("name").and_then(Value::as_str))
            .collect();
        c.field(
            &place,
            "present",
            &format!("(no entry; listeners: {})", names.join(", ")),
            false,
        );
        return;
    };
    if let Some(attached) = want.attached_routes {
        let actual = got.get("attachedRoutes").and_then(Value::as_i64);
        c.field(
            &format!("{place}.attachedRoutes"),
            &attached.to_string(),
            &actual.map_or("(unset)".to_string(), |n| n.to_string()),
            actual == Some(attached),
        );
    }
    if let Some(kinds) = &want.supported_kinds {
        let actual: Vec<&str> = got
            .get("supportedKinds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|k| k.get("kind").and_then(Value::as_str))
            .collect();
        // Each listed kind present; an empty list means none at all.
        let ok = if kinds.is_empty() {
            actual.is_empty()
        } else {
            kinds.iter().all(|k| actual.contains(&k.as_str()))
        };
        let expected = if kinds.is_empty() {
            "[] (none)".to_string()
        } else {
            format!("[{}]", kinds.join(", "))
        };
        c.field(
            &format!("{place}.supportedKinds"),
            &expected,
            &format!("[{}]", actual.join(", ")),
            ok,
        );
    }
    check_conditions(
        c,
        &format!("{place}.conditions"),
        &want.conditions,
        got.get("conditions"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_map_to_their_deployment() {
        assert_eq!(
            backend_of_pod("infra-backend-v1-7b9c5d-xk2p4"),
            "infra-backend-v1"
        );
        assert_eq!(backend_of_pod("web-a-b"), "web");
        assert_eq!(backend_of_pod("solo"), "solo");
    }

    #[test]
    fn timeouts_are_interchangeable() {
        assert!(status_matches(&[504], 408));
        assert!(status_matches(&[408], 504));
        assert!(status_matches(&[200, 404], 404));
        assert!(!status_matches(&[200], 504));
        assert!(!status_matches(&[500], 504));
    }

    #[test]
    fn locations() {
        let cases = [
            (
                "https://example.com:8443/a/b?x=1",
                ("https", "example.com", Some(8443), "/a/b"),
            ),
            ("http://example.com", ("http", "example.com", None, "/")),
            ("http://example.com?q", ("http", "example.com", None, "/")),
            ("/relative?q=1", ("", "", None, "/relative")),
        ];
        for (text, (scheme, host, port, path)) in cases {
            let l = parse_location(text);
            assert_eq!(l.scheme.as_deref().unwrap_or(""), scheme, "{text}");
            assert_eq!(l.host.as_deref().unwrap_or(""), host, "{text}");
            assert_eq!(l.port, port, "{text}");
            assert_eq!(l.path, path, "{text}");
        }
    }

    #[test]
    fn redirect_port_defaults_to_the_schemes() {
        let want = ExpectedRedirect {
            port: Some(443),
            ..ExpectedRedirect::default()
        };
        let mut c = Comparison::new();
        check_redirect(&mut c, &want, Some("https://example.com/"), None);
        assert!(c.passed());
        let mut c = Comparison::new();
        check_redirect(&mut c, &want, Some("http://example.com/"), None);
        assert!(!c.passed());
        assert!(
            c.diff().contains("+redirect.port: 80 (none in Location)"),
            "{}",
            c.diff()
        );
        let mut c = Comparison::new();
        check_redirect(&mut c, &want, None, None);
        assert!(c.diff().contains("(no Location header)"));
    }

    #[test]
    fn diff_shows_only_failing_fields() {
        let mut c = Comparison::new();
        c.field("status", "200", "200", true);
        c.field("backend", "a", "b", false);
        assert!(!c.passed());
        assert_eq!(c.failed_fields(), ["backend"]);
        let diff = c.diff();
        assert!(
            diff.contains("-backend: a") && diff.contains("+backend: b"),
            "{diff}"
        );
        assert!(diff.contains(" status: 200"), "{diff}");
    }

    fn sent() -> Request {
        Request::get("h", "/")
    }

    fn echoed(method: &str, host: &str, path: &str) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            echo: Some(crate::cluster::EchoedRequest {
                path: path.into(),
                host: host.into(),
                method: method.into(),
                proto: "HTTP/1.1".into(),
                headers: Vec::new(),
                namespace: "ns".into(),
                pod: "web-x-y".into(),
                service: "web".into(),
                http_port: 3000,
                tls: None,
            }),
            messages: Vec::new(),
            trailers: Vec::new(),
            grpc_echo: None,
        }
    }

    #[test]
    fn a_2xx_from_a_backend_must_have_received_the_request_as_sent() {
        let mut request = Request::get("a.example", "/x?q=1");
        request.method = "PUT".into();
        let cluster = Canned(BTreeMap::new());
        let check = |expect: &Expect, response: &Response| {
            check_response(expect, response, &request, &cluster, RequestId(1))
        };
        let none = Expect::default();
        assert!(check(&none, &echoed("PUT", "a.example", "/x?q=1")).passed());
        let cases = [
            (
                echoed("GET", "a.example", "/x?q=1"),
                "request.method (as sent)",
            ),
            (
                echoed("PUT", "b.example", "/x?q=1"),
                "request.host (as sent)",
            ),
            (echoed("PUT", "a.example", "/x"), "request.path (as sent)"),
            (
                echoed("PUT", "a.example", "/y?q=1"),
                "request.path (as sent)",
            ),
        ];
        for (response, field) in &cases {
            let c = check(&none, response);
            assert_eq!(c.failed_fields(), [*field], "{}", c.diff());
        }
        // A field `expect.request` gives replaces the implicit one.
        let rewritten = Expect {
            request: Some(ExpectedRequest {
                path: Some("/y?q=1".into()),
                host: Some("b.example".into()),
                ..ExpectedRequest::default()
            }),
            ..Expect::default()
        };
        assert!(check(&rewritten, &echoed("PUT", "b.example", "/y?q=1")).passed());
        let c = check(&rewritten, &echoed("PUT", "a.example", "/x?q=1"));
        assert_eq!(c.failed_fields(), ["request.host", "request.path"]);
        // Not a 2xx, or no backend answered: nothing implicit.
        let mut not_found = echoed("GET", "b.example", "/");
        not_found.status = 404;
        assert!(check(&none, &not_found).passed());
        assert!(check(&none, &Response::local(200, Vec::new())).passed());
    }

    fn grpc_call() -> Request {
        let mut r = Request::get("a.example", "/pkg.Svc/Echo");
        r.method = "POST".into();
        r.headers = vec![
            ("content-type".into(), crate::grpc::CONTENT_TYPE.into()),
            ("te".into(), "trailers".into()),
        ];
        r
    }

    /// A gRPC echo's OK answer from pod `pod` (of `service`) reporting `method`.
    fn grpc_answer(service: &str, pod: &str, method: &str) -> Response {
        let (headers, trailers) = crate::network::grpc_answer(crate::grpc::Code::OK, "");
        Response {
            trailers,
            grpc_echo: Some(GrpcEcho {
                fully_qualified_method: method.into(),
                headers: vec![
                    (":authority".into(), "a.example".into()),
                    ("version".into(), "one".into()),
                ],
                authority: "a.example".into(),
                namespace: "ns".into(),
                service_name: service.into(),
                pod: pod.into(),
            }),
            ..Response::local(200, headers)
        }
    }

    /// An EndpointSlice of Service `service` in `ns` listing `pod`.
    fn slice(service: &str, pod: &str) -> (ObjectKey, Value) {
        (
            ObjectKey::new(Kind::EndpointSlice, "ns", format!("{service}-1")),
            serde_json::json!({
                "metadata": {"labels": {"kubernetes.io/service-name": service}},
                "endpoints": [{"targetRef": {"kind": "Pod", "name": pod}}],
            }),
        )
    }

    #[test]
    fn grpc_calls_check_status_report_and_backend() {
        let request = grpc_call();
        let cluster = Canned(BTreeMap::from([
            slice("grpc-v1", "grpc-v1-a-b"),
            slice("grpc-v1-canary", "grpc-v1-canary-c-d"),
        ]));
        let check = |expect: &Expect, response: &Response| {
            check_response(expect, response, &request, &cluster, RequestId(1))
        };
        let ok = grpc_answer("grpc-v1", "grpc-v1-a-b", "/pkg.Svc/Echo");
        let full = Expect {
            grpc_status: Some(crate::grpc::Code::OK),
            backend: Some("grpc-v1".into()),
            namespace: Some("ns".into()),
            grpc: Some(ExpectedGrpc {
                method: None,
                authority: Some("a.example".into()),
                headers: vec![("Version".into(), "one".into())],
                absent_headers: vec!["x-gone".into()],
            }),
            ..Expect::default()
        };
        let c = check(&full, &ok);
        assert!(c.passed(), "{}", c.diff());
        // Each part fails on its own.
        let unimplemented = Expect {
            grpc_status: Some(crate::grpc::Code::UNIMPLEMENTED),
            ..Expect::default()
        };
        let c = check(&unimplemented, &ok);
        assert_eq!(c.failed_fields(), ["grpcStatus"]);
        assert!(c.diff().contains("+grpcStatus: OK (0)"), "{}", c.diff());
        // The Gateway's 404 reads as UNIMPLEMENTED, so OK fails on it.
        let ok_status = Expect {
            grpc_status: Some(crate::grpc::Code::OK),
            ..Expect::default()
        };
        let c = check(&ok_status, &Response::local(404, Vec::new()));
        assert!(
            c.diff()
                .contains("+grpcStatus: UNIMPLEMENTED (12): HTTP status 404"),
            "{}",
            c.diff()
        );
        assert!(check(&unimplemented, &Response::local(404, Vec::new())).passed());
        // The backend is the Service exactly: a canary's pod does not pass for grpc-v1.
        let canary = grpc_answer("grpc-v1-canary", "grpc-v1-canary-c-d", "/pkg.Svc/Echo");
        let backend = Expect {
            backend: Some("grpc-v1".into()),
            ..Expect::default()
        };
        assert_eq!(check(&backend, &canary).failed_fields(), ["backend"]);
        let wrong = |change: &dyn Fn(&mut GrpcEcho)| {
            let mut r = ok.clone();
            if let Some(e) = r.grpc_echo.as_mut() {
                change(e);
            }
            check(&full, &r).failed_fields().to_vec()
        };
        assert_eq!(
            wrong(&|e| e.authority = "b.example".into()),
            ["grpc.authority"]
        );
        assert_eq!(
            wrong(&|e| e.headers[1].1 = "two".into()),
            ["grpc.headers.Version"]
        );
        assert_eq!(
            wrong(&|e| e.headers.push(("x-gone".into(), "1".into()))),
            ["grpc.headers.x-gone"]
        );
        // Another namespace: its Services do not have the pod either.
        assert_eq!(
            wrong(&|e| e.namespace = "other".into()),
            ["backend", "namespace"]
        );
        // Implicit, as upstream: the backend received the call's own method.
        let moved = grpc_answer("grpc-v1", "grpc-v1-a-b", "/pkg.Svc/EchoTwo");
        assert_eq!(
            check(&Expect::default(), &moved).failed_fields(),
            ["grpc.method (as sent)"]
        );
        // ... unless expect.grpc.method names the one it must receive.
        let stated = Expect {
            grpc: Some(ExpectedGrpc {
                method: Some("/pkg.Svc/EchoTwo".into()),
                ..ExpectedGrpc::default()
            }),
            ..Expect::default()
        };
        assert!(check(&stated, &moved).passed());
        assert_eq!(check(&stated, &ok).failed_fields(), ["grpc.method"]);
        // No report (the backend's UNIMPLEMENTED): report checks fail, saying so.
        let (headers, _) = crate::network::grpc_answer(crate::grpc::Code::UNIMPLEMENTED, "no");
        let c = check(&full, &Response::local(200, headers));
        assert_eq!(
            c.failed_fields(),
            [
                "grpcStatus",
                "backend",
                "namespace",
                "grpc.authority",
                "grpc.headers.Version",
                "grpc.headers.x-gone"
            ]
        );
        assert!(
            c.diff().contains("(no gRPC echo report came back)"),
            "{}",
            c.diff()
        );
    }

    #[test]
    fn a_grpc_distribution_counts_the_pods_that_answered() {
        let mut tally = Tally::default();
        for _ in 0..3 {
            tally.add(&grpc_answer("grpc-v1", "grpc-v1-a-b", "/pkg.Svc/Echo"));
        }
        tally.add(&Response::local(503, Vec::new()));
        let c = tally.check(&[("grpc-v1".to_string(), 0.75)], 0.01);
        assert_eq!(c.failed_fields(), ["distribution.(no backend)"]);
        let c = tally.check(&[("grpc-v1".to_string(), 1.0)], 0.01);
        assert!(
            c.failed_fields()
                .contains(&"distribution.grpc-v1".to_string())
        );
    }

    #[test]
    fn a_redirect_defaults_scheme_and_path_to_the_requests_and_the_port_to_none() {
        let request = Request::get("a.example", "/old?q=1");
        let cluster = Canned(BTreeMap::new());
        let redirect = |location: &str, want: Option<ExpectedRedirect>| {
            let expect = Expect {
                status: Some(vec![302]),
                redirect: want,
                ..Expect::default()
            };
            let response = Response::local(302, vec![("Location".into(), location.into())]);
            check_response(&expect, &response, &request, &cluster, RequestId(1))
        };
        for ok in ["http://b.example/old", "http://b.example:80/old"] {
            let c = redirect(ok, None);
            assert!(c.passed(), "{ok}: {}", c.diff());
        }
        let cases = [
            ("https://b.example/old", vec!["redirect.scheme (as sent)"]),
            ("http://b.example:8080/old", vec!["redirect.port (default)"]),
            ("http://b.example:443/old", vec!["redirect.port (default)"]),
            ("http://b.example/new", vec!["redirect.path (as sent)"]),
            ("/old", vec!["redirect.scheme (as sent)"]),
        ];
        for (location, failed) in cases {
            let c = redirect(location, None);
            assert_eq!(c.failed_fields(), failed, "{location}: {}", c.diff());
        }
        // Given parts replace the defaults; a given port compares with the scheme's default.
        let https = ExpectedRedirect {
            scheme: Some("https".into()),
            path: Some("/new".into()),
            ..ExpectedRedirect::default()
        };
        assert!(redirect("https://b.example:443/new", Some(https.clone())).passed());
        assert_eq!(
            redirect("https://b.example:8443/new", Some(https)).failed_fields(),
            ["redirect.port (default)"]
        );
        let port = ExpectedRedirect {
            port: Some(8080),
            ..ExpectedRedirect::default()
        };
        assert!(redirect("http://b.example:8080/old", Some(port)).passed());
        // A 3xx without a Location, where the scenario expects a redirect, fails.
        let expect = Expect {
            redirect: Some(ExpectedRedirect::default()),
            ..Expect::default()
        };
        let c = check_response(
            &expect,
            &Response::local(302, Vec::new()),
            &request,
            &cluster,
            RequestId(1),
        );
        assert_eq!(c.failed_fields(), ["redirect"]);
    }

    #[test]
    fn distribution_tally() {
        let response = |pod: Option<&str>| Response {
            status: 200,
            headers: Vec::new(),
            echo: pod.map(|p| crate::cluster::EchoedRequest {
                path: "/".into(),
                host: "h".into(),
                method: "GET".into(),
                proto: "HTTP/1.1".into(),
                headers: Vec::new(),
                namespace: "ns".into(),
                pod: p.into(),
                service: "s".into(),
                http_port: 3000,
                tls: None,
            }),
            messages: Vec::new(),
            trailers: Vec::new(),
            grpc_echo: None,
        };
        let mut t = Tally::default();
        for _ in 0..7 {
            t.add(&response(Some("a-x-y")));
        }
        for _ in 0..3 {
            t.add(&response(Some("b-x-y")));
        }
        let ok = t.check(&[("a".into(), 0.7), ("b".into(), 0.3)], 0.05);
        assert!(ok.passed(), "{}", ok.diff());
        let off = t.check(&[("a".into(), 0.5), ("b".into(), 0.5)], 0.05);
        assert_eq!(off.failed_fields(), ["distribution.a", "distribution.b"]);
        let missing = t.check(&[("a".into(), 1.0)], 0.5);
        assert_eq!(missing.failed_fields(), ["distribution.b"]);
        t.add(&response(None));
        let unserved = t.check(&[("a".into(), 0.7), ("b".into(), 0.3)], 0.1);
        assert_eq!(unserved.failed_fields(), ["distribution.(no backend)"]);
    }

    #[test]
    fn messages_need_an_upgrade_and_match_in_order() {
        use WebSocketMessage::{Binary, Text};
        let want = vec![Text("hi".into()), Binary(vec![1, 2, 3])];
        let session = |status: u16, messages: Vec<WebSocketMessage>| Response {
            messages,
            ..Response::local(status, Vec::new())
        };
        let cases: Vec<(Response, &[&str], &[&str])> = vec![
            (session(101, want.clone()), &[], &[]),
            (
                session(404, Vec::new()),
                &["upgrade", "messages[0]", "messages[1]"],
                &[
                    "+upgrade: refused: the Gateway answered 404",
                    "+messages[0]: (absent)",
                ],
            ),
            (
                session(101, vec![Text("hi".into()), Binary(vec![1, 2])]),
                &["messages[1]"],
                &[
                    "-messages[1]: binary AQID (3 bytes)",
                    "+messages[1]: binary AQI= (2 bytes)",
                ],
            ),
            (
                session(
                    101,
                    vec![Text("hi".into()), Binary(vec![1, 2, 3]), Text("x".into())],
                ),
                &["messages[2]"],
                &["-messages[2]: (absent)", "+messages[2]: text \"x\""],
            ),
            (
                session(101, vec![Binary(b"hi".to_vec()), Binary(vec![1, 2, 3])]),
                &["messages[0]"],
                &[
                    "-messages[0]: text \"hi\"",
                    "+messages[0]: binary aGk= (2 bytes)",
                ],
            ),
        ];
        for (response, failed, lines) in cases {
            let mut c = Comparison::new();
            check_messages(&mut c, &want, &response);
            assert_eq!(c.failed_fields(), failed, "{}", c.diff());
            for line in lines {
                assert!(c.diff().contains(line), "{line}\n{}", c.diff());
            }
        }
    }

    #[test]
    fn a_session_has_no_echo_report() {
        let expect = Expect {
            backend: Some("web".into()),
            ..Expect::default()
        };
        let cluster = Canned(BTreeMap::new());
        let c = check_response(
            &expect,
            &Response::local(101, Vec::new()),
            &sent(),
            &cluster,
            RequestId(1),
        );
        assert!(c.diff().contains(NO_REPORT), "{}", c.diff());
        let c = check_response(
            &expect,
            &Response::local(404, Vec::new()),
            &sent(),
            &cluster,
            RequestId(1),
        );
        assert!(c.diff().contains(NO_BACKEND), "{}", c.diff());
    }

    #[test]
    fn clusters_without_other_protocols_say_so() {
        use crate::cluster::{ClientProtocol, SendError};
        let mut cluster = Canned(BTreeMap::new());
        let request = gwsim_engine::decision::Request::get("h", "/");
        let plain = cluster.send_over(&request, ClientProtocol::Http1, &[], RequestId(1));
        assert_eq!(plain.map(|r| r.status), Ok(404));
        for protocol in [ClientProtocol::H2c, ClientProtocol::WebSocket] {
            assert_eq!(
                cluster.send_over(&request, protocol, &[], RequestId(1)),
                Err(SendError::UnsupportedProtocol(protocol))
            );
        }
    }

    /// A cluster that only answers `get`, with canned objects.
    struct Canned(BTreeMap<ObjectKey, Value>);

    impl Cluster for Canned {
        fn apply(
            &mut self,
            _: &[gwsim_engine::load::Document],
        ) -> Vec<crate::cluster::ApplyOutcome> {
            Vec::new()
        }
        fn delete(&mut self, _: &ObjectKey) -> Result<(), crate::cluster::ClusterError> {
            Ok(())
        }
        fn get(&self, key: &ObjectKey) -> Option<Value> {
            self.0.get(key).cloned()
        }
        fn list(&self, _: Kind) -> Vec<ObjectKey> {
            self.0.keys().cloned().collect()
        }
        fn send(
            &mut self,
            _: &gwsim_engine::decision::Request,
            _: RequestId,
        ) -> Result<Response, crate::cluster::SendError> {
            Ok(Response::local(404, Vec::new()))
        }
        fn received(&self, _: Option<&str>, _: &str, _: RequestId) -> bool {
            false
        }
        fn advance(&mut self, _: std::time::Duration) {}
        fn controller_name(&self) -> &str {
            "gateway.gwsim.dev/controller"
        }
    }

    /// A cluster whose request logs have dropped everything.
    struct Evicted(Canned);

    impl Cluster for Evicted {
        fn apply(
            &mut self,
            docs: &[gwsim_engine::load::Document],
        ) -> Vec<crate::cluster::ApplyOutcome> {
            self.0.apply(docs)
        }
        fn delete(&mut self, key: &ObjectKey) -> Result<(), crate::cluster::ClusterError> {
            self.0.delete(key)
        }
        fn get(&self, key: &ObjectKey) -> Option<Value> {
            self.0.get(key)
        }
        fn list(&self, kind: Kind) -> Vec<ObjectKey> {
            self.0.list(kind)
        }
        fn send(
            &mut self,
            request: &gwsim_engine::decision::Request,
            id: RequestId,
        ) -> Result<Response, crate::cluster::SendError> {
            self.0.send(request, id)
        }
        fn received(&self, _: Option<&str>, _: &str, _: RequestId) -> bool {
            false
        }
        fn receipt(&self, _: Option<&str>, _: &str, _: RequestId) -> crate::echo::Receipt {
            crate::echo::Receipt::Evicted { kept: 7 }
        }
        fn advance(&mut self, by: std::time::Duration) {
            self.0.advance(by)
        }
        fn controller_name(&self) -> &str {
            self.0.controller_name()
        }
    }

    #[test]
    fn a_mirror_check_on_an_evicted_log_entry_says_so() {
        let target = |share: Option<f64>| crate::scenario::MirrorTarget {
            backend: "mirror".into(),
            namespace: None,
            share,
            tolerance: 0.1,
        };
        let expect = Expect {
            mirrored_to: vec![target(None), target(Some(0.5))],
            ..Expect::default()
        };
        let cluster = Evicted(Canned(BTreeMap::new()));
        let response = Response::local(200, Vec::new());
        let c = check_response(&expect, &response, &sent(), &cluster, RequestId(1));
        assert_eq!(c.failed_fields(), ["mirroredTo.mirror"]);
        let evicted = "unknown: the request left the backend's request log \
                       (gwsim keeps the newest 7 requests per echo pod, docs/limits.md)";
        assert!(c.diff().contains(evicted), "{}", c.diff());

        let mut tally = MirrorTally::default();
        tally.add(&expect, RequestId(1));
        let c = tally.check(&expect, &cluster);
        assert!(!c.passed());
        assert!(
            c.diff().contains("1 of 1 unknown: the request left"),
            "{}",
            c.diff()
        );

        // The same checks on logs that still hold the entry pass (not received fails).
        let c = check_response(
            &expect,
            &response,
            &sent(),
            &Canned(BTreeMap::new()),
            RequestId(1),
        );
        assert!(c.diff().contains("received nothing"), "{}", c.diff());
    }

    fn check(kind: Kind, namespace: &str, name: &str) -> StatusCheck {
        StatusCheck {
            target: crate::scenario::ObjectRef::from_key(&ObjectKey::new(kind, namespace, name)),
            conditions: Vec::new(),
            parents: Vec::new(),
            accepted_parents: None,
            ancestors: Vec::new(),
            addresses: None,
            address_list: None,
            listeners: Vec::new(),
            listener_count: None,
            attached_listener_sets: None,
            parent_count: None,
            infrastructure: None,
        }
    }

    #[test]
    fn observed_generation_is_checked_on_every_condition() {
        let route = ObjectKey::new(Kind::HttpRoute, "ns", "r");
        let gateway = ObjectKey::new(Kind::Gateway, "ns", "gw");
        let cluster = Canned(
            [
                (
                    route.clone(),
                    serde_json::json!({
                        "metadata": {"generation": 2},
                        "status": {"parents": [
                            {"parentRef": {"name": "gw"}, "controllerName": "gateway.gwsim.dev/controller",
                             "conditions": [
                                {"type": "Accepted", "status": "True", "observedGeneration": 2},
                                {"type": "ResolvedRefs", "status": "True", "observedGeneration": 1}]},
                            {"parentRef": {"name": "other"}, "controllerName": "example.com/else",
                             "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 1}]}
                        ]}
                    }),
                ),
                (
                    gateway.clone(),
                    serde_json::json!({
                        "metadata": {"generation": 3},
                        "status": {
                            "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 3}],
                            "listeners": [{"name": "http", "conditions": [{"type": "Programmed", "status": "True"}]}]
                        }
                    }),
                ),
            ]
            .into(),
        );
        let c = check_status(&check(Kind::HttpRoute, "ns", "r"), &cluster);
        assert_eq!(
            c.failed_fields(),
            ["  parents[gw][ResolvedRefs].observedGeneration"],
            "another controller's entries are not checked"
        );
        assert!(
            c.diff()
                .contains("+  parents[gw][ResolvedRefs].observedGeneration: 1"),
            "{}",
            c.diff()
        );
        let c = check_status(&check(Kind::Gateway, "ns", "gw"), &cluster);
        assert_eq!(
            c.failed_fields(),
            ["  listeners[http].conditions[Programmed].observedGeneration"]
        );
        assert!(
            c.diff().contains("observedGeneration: (unset)"),
            "{}",
            c.diff()
        );
    }
    #[test]
    fn policy_ancestors_are_matched_by_ancestor_ref_and_checked() {
        use crate::scenario::{ExpectedCondition, ExpectedParent, ExpectedParentRef};
        let key = ObjectKey::new(Kind::BackendTlsPolicy, "ns", "p");
        let cluster = Canned(
            [(
                key.clone(),
                serde_json::json!({
                    "metadata": {"generation": 2},
                    "status": {"ancestors": [
                        {"ancestorRef": {"name": "gw", "namespace": "ns"},
                         "controllerName": "gateway.gwsim.dev/controller",
                         "conditions": [
                            {"type": "Accepted", "status": "False", "reason": "Conflicted", "observedGeneration": 2},
                            {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs", "observedGeneration": 1}]}
                    ]}
                }),
            )]
            .into(),
        );
        let ancestor = |name: &str, status: &str, reason: &str| ExpectedParent {
            parent_ref: ExpectedParentRef {
                name: name.into(),
                namespace: Some("ns".into()),
                section_name: None,
                port: None,
                group: None,
                kind: None,
            },
            controller_name: Some("gateway.gwsim.dev/controller".into()),
            conditions: vec![ExpectedCondition {
                type_: "Accepted".into(),
                status: Some(status.into()),
                reason: Some(reason.into()),
            }],
        };
        let mut want = check(Kind::BackendTlsPolicy, "ns", "p");
        want.ancestors = vec![ancestor("gw", "False", "Conflicted")];
        let c = check_status(&want, &cluster);
        assert_eq!(
            c.failed_fields(),
            ["  ancestors[ns/gw][ResolvedRefs].observedGeneration"],
            "{}",
            c.diff()
        );
        want.ancestors = vec![ancestor("gw", "True", "Accepted")];
        let c = check_status(&want, &cluster);
        assert!(
            c.failed_fields()
                .contains(&"  ancestors[ns/gw].conditions[Accepted]".to_string()),
            "{}",
            c.diff()
        );
        want.ancestors = vec![ancestor("other", "True", "Accepted")];
        let c = check_status(&want, &cluster);
        assert!(
            c.diff().contains("(no entry; entries: ns/gw)"),
            "{}",
            c.diff()
        );
    }

    #[test]
    fn an_address_list_entry_without_value_takes_any_value_of_its_type() {
        let gw = ObjectKey::new(Kind::Gateway, "ns", "gw");
        let cluster = Canned(
            [(
                gw.clone(),
                serde_json::json!({"metadata": {"generation": 1}, "status": {"addresses": [
                    {"type": "IPAddress", "value": "10.0.0.7"}
                ]}}),
            )]
            .into(),
        );
        let mut want = check(Kind::Gateway, "ns", "gw");
        let entry = |t: &str, v: Option<&str>| (t.to_string(), v.map(str::to_string));
        for (list, passes) in [
            (vec![entry("IPAddress", None)], true),
            (vec![entry("IPAddress", Some("10.0.0.7"))], true),
            (vec![entry("IPAddress", Some("10.0.0.8"))], false),
            (vec![entry("Hostname", None)], false),
            (
                vec![entry("IPAddress", None), entry("IPAddress", None)],
                false,
            ),
            (vec![], false),
        ] {
            want.address_list = Some(list.clone());
            let c = check_status(&want, &cluster);
            assert_eq!(c.passed(), passes, "{list:?}: {}", c.diff());
        }
    }

    #[test]
    fn attached_listener_sets_and_parent_count_can_fail() {
        let gw = ObjectKey::new(Kind::Gateway, "ns", "gw");
        let route = ObjectKey::new(Kind::HttpRoute, "ns", "r");
        let cluster = Canned(
            [
                (
                    gw.clone(),
                    serde_json::json!({"metadata": {"generation": 1},
                                       "status": {"attachedListenerSets": 2}}),
                ),
                (
                    route.clone(),
                    serde_json::json!({"metadata": {"generation": 1}, "status": {"parents": [
                        {"parentRef": {"name": "gw"}, "controllerName": "a", "conditions": []},
                        {"parentRef": {"name": "set", "kind": "ListenerSet"}, "controllerName": "a", "conditions": []}
                    ]}}),
                ),
            ]
            .into(),
        );
        let mut want = check(Kind::Gateway, "ns", "gw");
        want.attached_listener_sets = Some(2);
        assert!(check_status(&want, &cluster).passed());
        want.attached_listener_sets = Some(1);
        assert_eq!(
            check_status(&want, &cluster).failed_fields(),
            ["  attachedListenerSets"]
        );
        let mut want = check(Kind::HttpRoute, "ns", "r");
        want.parent_count = Some(2);
        assert!(check_status(&want, &cluster).passed());
        want.parent_count = Some(1);
        assert_eq!(
            check_status(&want, &cluster).failed_fields(),
            ["  parentCount"]
        );
    }

    #[test]
    fn listener_set_status_takes_conditions_listeners_and_count() {
        let key = ObjectKey::new(Kind::ListenerSet, "ns", "set");
        let cluster = Canned(
            [(
                key.clone(),
                serde_json::json!({
                    "metadata": {"generation": 1},
                    "status": {
                        "conditions": [{"type": "Accepted", "status": "False", "reason": "NotAllowed", "observedGeneration": 1}],
                        "listeners": [{"name": "a", "attachedRoutes": 2, "supportedKinds": [{"kind": "HTTPRoute"}],
                                       "conditions": [{"type": "Programmed", "status": "True", "observedGeneration": 1}]}]
                    }
                }),
            )]
            .into(),
        );
        let condition = |status: &str| ExpectedCondition {
            type_: "Accepted".into(),
            status: Some(status.into()),
            reason: Some("NotAllowed".into()),
        };
        let listener = |attached: i64| ExpectedListener {
            name: "a".into(),
            attached_routes: Some(attached),
            supported_kinds: Some(vec!["HTTPRoute".into()]),
            conditions: Vec::new(),
        };
        let mut want = check(Kind::ListenerSet, "ns", "set");
        want.conditions = vec![condition("False")];
        want.listeners = vec![listener(2)];
        want.listener_count = Some(1);
        assert!(check_status(&want, &cluster).passed());
        want.conditions = vec![condition("True")];
        want.listeners = vec![listener(1)];
        want.listener_count = Some(2);
        assert_eq!(
            check_status(&want, &cluster).failed_fields(),
            [
                "  conditions[Accepted]",
                "  listeners[a].attachedRoutes",
                "  listenerCount"
            ]
        );
    }
}
