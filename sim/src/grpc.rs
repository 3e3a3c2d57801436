//! gRPC as the conformance suite speaks it: status codes, the status a client reads from an
//! answer, the echo service the gRPC echo backends implement, and the few protobuf messages of
//! that service, encoded and decoded by hand (they are small and fixed; no code generator).
//!
//! Pure: framing and messages as bytes, no I/O. The simulator uses the codes and the echo
//! logic; the proxy's echo servers and its client use the framing and the messages.

use std::fmt;

use crate::cluster::{GrpcEcho, join_header};

/// The echo service of upstream's gRPC echo server (package and service of its proto).
pub const ECHO_SERVICE: &str = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";
/// The methods the echo service declares, and whether the server implements each: `EchoThree`
/// is declared and deliberately left unimplemented.
pub const ECHO_METHODS: [(&str, bool); 3] =
    [("Echo", true), ("EchoTwo", true), ("EchoThree", false)];
/// The content type of a gRPC request and answer (gRPC over HTTP/2, protobuf).
pub const CONTENT_TYPE: &str = "application/grpc";
/// The Pod environment variable that makes upstream's echo image serve gRPC instead of HTTP.
pub const ECHO_SERVER_ENV: &str = "GRPC_ECHO_SERVER";

/// The status codes of gRPC, by number (index) and canonical name.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A gRPC status code (0 to 16 are defined; others can arrive and are kept as numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(pub u32);

impl Code {
    pub const OK: Code = Code(0);
    pub const UNKNOWN: Code = Code(2);
    pub const PERMISSION_DENIED: Code = Code(7);
    pub const UNIMPLEMENTED: Code = Code(12);
    pub const INTERNAL: Code = Code(13);
    pub const UNAVAILABLE: Code = Code(14);
    pub const UNAUTHENTICATED: Code = Code(16);

    /// The canonical name (`UNIMPLEMENTED`), or `CODE(n)` for a number gRPC does not define.
    pub fn name(self) -> String {
        match CODES.get(self.0 as usize) {
            Some(name) => (*name).to_string(),
            None => format!("CODE({})", self.0),
        }
    }

    /// Reads a code as a scenario writes it: a number from 0 to 16, the canonical name
    /// (`UNIMPLEMENTED`, `DEADLINE_EXCEEDED`) or Go's spelling (`Unimplemented`,
    /// `DeadlineExceeded`), case-insensitively.
    pub fn parse(text: &str) -> Result<Code, String> {
        if let Ok(n) = text.trim().parse::<u32>() {
            return if (n as usize) < CODES.len() {
                Ok(Code(n))
            } else {
                Err(format!("gRPC status code {n} is not one of 0 to 16"))
            };
        }
        let squeezed = |s: &str| s.replace('_', "").to_ascii_lowercase();
        let wanted = squeezed(text.trim());
        CODES
            .iter()
            .position(|name| squeezed(name) == wanted)
            .map(|n| Code(n as u32))
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a gRPC status code; give a number from 0 to 16 or a name: {}",
                    CODES.join(", ")
                )
            })
    }
}

impl fmt::Display for Code {
    /// `UNIMPLEMENTED (12)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// The status a gRPC client reads from an answer, as grpc-go's client reads it: `grpc-status`
/// from the trailers, or from the headers of a trailers-only answer; an answer that is not
/// gRPC (another content type, or an HTTP status other than 200) gets the code the HTTP
/// status maps to (gRPC's "HTTP to gRPC status code mapping": 400 INTERNAL, 401
/// UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429, 502, 503 and 504
/// UNAVAILABLE, anything else UNKNOWN); a gRPC answer without `grpc-status` is INTERNAL.
pub fn client_status(
    status: u16,
    headers: &[(String, String)],
    trailers: &[(String, String)],
) -> (Code, String) {
    let is_grpc =
        join_header(headers, "content-type").is_some_and(|ct| ct.trim().starts_with(CONTENT_TYPE));
    if status != 200 || !is_grpc {
        let code = match status {
            400 => Code::INTERNAL,
            401 => Code::UNAUTHENTICATED,
            403 => Code::PERMISSION_DENIED,
            404 => Code::UNIMPLEMENTED,
            429 | 502 | 503 | 504 => Code::UNAVAILABLE,
            _ => Code::UNKNOWN,
        };
        let why = if status == 200 {
            "the answer is not gRPC (content type is not application/grpc)".to_string()
        } else {
            format!("HTTP status {status} instead of a gRPC answer")
        };
        return (code, why);
    }
    let from = if join_header(trailers, "grpc-status").is_some() {
        trailers
    } else {
        headers
    };
    match join_header(from, "grpc-status") {
        Some(text) => match text.trim().parse::<u32>() {
            Ok(n) => (
                Code(n),
                join_header(from, "grpc-message").unwrap_or_default(),
            ),
            Err(_) => (
                Code::UNKNOWN,
                format!("grpc-status {text:?} is not a number"),
            ),
        },
        None => (
            Code::INTERNAL,
            "the server closed the stream without a grpc-status".to_string(),
        ),
    }
}

/// What the echo service answers to a call of `path` (`/SERVICE/METHOD`): `Ok(())` to echo,
/// or the status the server (grpc-go) ends the call with.
pub fn echo_call(path: &str) -> Result<(), (Code, String)> {
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .unwrap_or(("", path));
    if service != ECHO_SERVICE {
        // Server reflection is registered as well but not modelled: it answers as unknown.
        return Err((Code::UNIMPLEMENTED, format!("unknown service {service}")));
    }
    match ECHO_METHODS.iter().find(|(name, _)| *name == method) {
        Some((_, true)) => Ok(()),
        Some((_, false)) => Err((
            Code::UNIMPLEMENTED,
            format!("method {method} not implemented"),
        )),
        None => Err((
            Code::UNIMPLEMENTED,
            format!("unknown method {method} for service {service}"),
        )),
    }
}

/// The metadata the echo server reports: `:authority`, then every header it received but the
/// reserved ones grpc-go keeps to itself (`te`, `grpc-*` transport headers and pseudo-headers);
/// `content-type` and `user-agent` are reported, as grpc-go does.
pub fn reported_metadata(authority: &str, headers: &[(String, String)]) -> Vec<(String, String)> {
    const RESERVED: [&str; 8] = [
        "te",
        "grpc-message-type",
        "grpc-encoding",
        "grpc-message",
        "grpc-status",
        "grpc-timeout",
        "grpc-status-details-bin",
        "grpc-accept-encoding",
    ];
    let mut out = vec![(":authority".to_string(), authority.to_string())];
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(':') || RESERVED.contains(&lower.as_str()) {
            continue;
        }
        out.push((lower, value.clone()));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Framing (gRPC over HTTP/2: each message is a compressed flag, a 4-byte big-endian length
// and the message).

/// One uncompressed message, framed.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// The messages of a body, in order; an error when the framing is cut short or a message is
/// compressed (no compression is negotiated here).
pub fn unframe(mut body: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !body.is_empty() {
        if body.len() < 5 {
            return Err(format!(
                "a gRPC message prefix needs 5 bytes, {} left",
                body.len()
            ));
        }
        if body[0] != 0 {
            return Err("a compressed gRPC message, though no compression was agreed".into());
        }
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let rest = &body[5..];
        if rest.len() < len {
            return Err(format!(
                "a gRPC message of {len} bytes is cut short at {}",
                rest.len()
            ));
        }
        out.push(&rest[..len]);
        body = &rest[len..];
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The echo service's messages (proto3): EchoRequest is empty; EchoResponse carries
// `assertions` (1): fully_qualified_method (1), headers (2, repeated {key 1, value 2}),
// authority (3), context (4: namespace 1, ingress 2, service_name 3, pod 4).

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A length-delimited field (wire type 2); proto3 leaves out empty strings.
fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8], keep_empty: bool) {
    if bytes.is_empty() && !keep_empty {
        return;
    }
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// An EchoResponse for `echo` (no TLS assertions: the echo serves plaintext only).
pub fn encode_echo_response(echo: &GrpcEcho) -> Vec<u8> {
    let mut context = Vec::new();
    put_bytes(&mut context, 1, echo.namespace.as_bytes(), false);
    put_bytes(&mut context, 3, echo.service_name.as_bytes(), false);
    put_bytes(&mut context, 4, echo.pod.as_bytes(), false);
    let mut assertions = Vec::new();
    put_bytes(
        &mut assertions,
        1,
        echo.fully_qualified_method.as_bytes(),
        false,
    );
    for (key, value) in &echo.headers {
        let mut header = Vec::new();
        put_bytes(&mut header, 1, key.as_bytes(), false);
        put_bytes(&mut header, 2, value.as_bytes(), false);
        put_bytes(&mut assertions, 2, &header, true);
    }
    put_bytes(&mut assertions, 3, echo.authority.as_bytes(), false);
    put_bytes(&mut assertions, 4, &context, true);
    let mut out = Vec::new();
    put_bytes(&mut out, 1, &assertions, true);
    // `request`: the (empty) EchoRequest, as the server leaves it unset.
    out
}

/// One field of a protobuf message: field number, wire type, the value's bytes (for a varint,
/// its bytes as read).
type Field<'a> = (u32, u8, &'a [u8]);

/// A protobuf message's fields, in order.
fn fields(mut bytes: &[u8]) -> Result<Vec<Field<'_>>, String> {
    fn varint(bytes: &mut &[u8]) -> Result<u64, String> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = bytes
                .split_first()
                .ok_or_else(|| "a protobuf varint is cut short".to_string())?;
            *bytes = rest;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("a protobuf varint is longer than 10 bytes".into())
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let tag = varint(&mut bytes)?;
        let (field, wire) = ((tag >> 3) as u32, (tag & 7) as u8);
        fn take<'a>(bytes: &mut &'a [u8], n: usize, field: u32) -> Result<&'a [u8], String> {
            if bytes.len() < n {
                return Err(format!("protobuf field {field} is cut short"));
            }
            let (value, rest) = bytes.split_at(n);
            *bytes = rest;
            Ok(value)
        }
        let value = match wire {
            0 => {
                let start = bytes;
                varint(&mut bytes)?;
                &start[..start.len() - bytes.len()]
            }
            1 => take(&mut bytes, 8, field)?,
            2 => {
                let len = varint(&mut bytes)? as usize;
                take(&mut bytes, len, field)?
            }
            5 => take(&mut bytes, 4, field)?,
            other => return Err(format!("protobuf wire type {other} is not supported")),
        };
        out.push((field, wire, value));
    }
    Ok(out)
}

fn text(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

/// Reads an EchoResponse; unknown fields are skipped, as protobuf readers do.
pub fn decode_echo_response(bytes: &[u8]) -> Result<GrpcEcho, String> {
    let mut echo = GrpcEcho::default();
    for (field, wire, value) in fields(bytes)? {
        if (field, wire) != (1, 2) {
            continue;
        }
        for (field, wire, value) in fields(value)? {
            match (field, wire) {
                (1, 2) => echo.fully_qualified_method = text(value, "fully_qualified_method")?,
                (2, 2) => {
                    let (mut key, mut val) = (String::new(), String::new());
                    for (f, w, v) in fields(value)? {
                        match (f, w) {
                            (1, 2) => key = text(v, "a header key")?,
                            (2, 2) => val = text(v, "a header value")?,
                            _ => {}
                        }
                    }
                    echo.headers.push((key, val));
                }
                (3, 2) => echo.authority = text(value, "authority")?,
                (4, 2) => {
                    for (f, w, v) in fields(value)? {
                        match (f, w) {
                            (1, 2) => echo.namespace = text(v, "context.namespace")?,
                            (3, 2) => echo.service_name = text(v, "context.service_name")?,
                            (4, 2) => echo.pod = text(v, "context.pod")?,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(echo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn codes_read_as_scenarios_write_them() {
        for text in ["12", "UNIMPLEMENTED", "Unimplemented", "unimplemented"] {
            assert_eq!(Code::parse(text), Ok(Code::UNIMPLEMENTED), "{text}");
        }
        assert_eq!(Code::parse("DeadlineExceeded"), Ok(Code(4)));
        assert_eq!(Code::parse("DEADLINE_EXCEEDED"), Ok(Code(4)));
        assert_eq!(Code::parse("0"), Ok(Code::OK));
        assert!(Code::parse("17").is_err());
        assert!(
            Code::parse("Nope")
                .expect_err("unknown")
                .contains("UNIMPLEMENTED")
        );
        assert_eq!(Code(14).to_string(), "UNAVAILABLE (14)");
        assert_eq!(Code(99).name(), "CODE(99)");
    }

    #[test]
    fn the_client_reads_the_status_as_grpc_go_does() {
        let grpc = h(&[("content-type", "application/grpc")]);
        let ok = h(&[("grpc-status", "0"), ("grpc-message", "")]);
        assert_eq!(client_status(200, &grpc, &ok).0, Code::OK);
        // Trailers-only: the status is in the headers.
        let only = h(&[
            ("content-type", "application/grpc"),
            ("grpc-status", "12"),
            ("grpc-message", "method EchoThree not implemented"),
        ]);
        assert_eq!(
            client_status(200, &only, &[]),
            (
                Code::UNIMPLEMENTED,
                "method EchoThree not implemented".into()
            )
        );
        // The Gateway's own answers, not gRPC.
        let cases = [
            (404, Code::UNIMPLEMENTED),
            (503, Code::UNAVAILABLE),
            (502, Code::UNAVAILABLE),
            (504, Code::UNAVAILABLE),
            (400, Code::INTERNAL),
            (401, Code::UNAUTHENTICATED),
            (403, Code::PERMISSION_DENIED),
            (500, Code::UNKNOWN),
        ];
        for (status, want) in cases {
            assert_eq!(client_status(status, &[], &[]).0, want, "{status}");
        }
        // 200 that is not gRPC, and gRPC without a status.
        let json = h(&[("content-type", "application/json")]);
        assert_eq!(client_status(200, &json, &[]).0, Code::UNKNOWN);
        assert_eq!(client_status(200, &grpc, &[]).0, Code::INTERNAL);
        let bad = h(&[("grpc-status", "x")]);
        assert_eq!(client_status(200, &grpc, &bad).0, Code::UNKNOWN);
    }

    #[test]
    fn the_echo_service_answers_its_methods() {
        assert_eq!(echo_call(&format!("/{ECHO_SERVICE}/Echo")), Ok(()));
        assert_eq!(echo_call(&format!("/{ECHO_SERVICE}/EchoTwo")), Ok(()));
        let three = echo_call(&format!("/{ECHO_SERVICE}/EchoThree")).expect_err("unimplemented");
        assert_eq!(three.0, Code::UNIMPLEMENTED);
        assert!(three.1.contains("EchoThree not implemented"));
        let other = echo_call(&format!("/{ECHO_SERVICE}/EchoFour")).expect_err("unknown");
        assert!(other.1.contains("unknown method EchoFour"), "{}", other.1);
        let svc = echo_call("/other.Svc/Echo").expect_err("unknown service");
        assert_eq!(
            svc,
            (Code::UNIMPLEMENTED, "unknown service other.Svc".into())
        );
        assert_eq!(
            echo_call("/").expect_err("no method").0,
            Code::UNIMPLEMENTED
        );
    }

    #[test]
    fn reported_metadata_keeps_what_grpc_go_reports() {
        let got = reported_metadata(
            "bar.com",
            &h(&[
                ("Content-Type", "application/grpc"),
                ("te", "trailers"),
                ("grpc-timeout", "1S"),
                ("Version", "one"),
                ("x-a", "1"),
                ("x-a", "2"),
            ]),
        );
        assert_eq!(
            got,
            h(&[
                (":authority", "bar.com"),
                ("content-type", "application/grpc"),
                ("version", "one"),
                ("x-a", "1"),
                ("x-a", "2"),
            ])
        );
    }

    #[test]
    fn frames_round_trip_and_bad_framing_is_refused() {
        let body = [frame(b""), frame(b"abc")].concat();
        assert_eq!(body[..5], [0, 0, 0, 0, 0]);
        assert_eq!(unframe(&body), Ok(vec![&b""[..], &b"abc"[..]]));
        assert!(unframe(&[0, 0, 0]).is_err());
        assert!(unframe(&[0, 0, 0, 0, 9, 1]).is_err());
        assert!(unframe(&[1, 0, 0, 0, 0]).is_err());
        assert_eq!(unframe(&[]), Ok(vec![]));
    }

    #[test]
    fn echo_responses_round_trip() {
        let echo = GrpcEcho {
            fully_qualified_method: format!("/{ECHO_SERVICE}/Echo"),
            headers: h(&[(":authority", "a.example"), ("x-empty", ""), ("k", "v")]),
            authority: "a.example".into(),
            namespace: "gateway-conformance-infra".into(),
            service_name: "grpc-infra-backend-v1".into(),
            pod: "grpc-infra-backend-v1-abc-def".into(),
        };
        let bytes = encode_echo_response(&echo);
        assert_eq!(decode_echo_response(&bytes), Ok(echo.clone()));
        // Known bytes: assertions (field 1, length-delimited) holding the method (field 1).
        let small = GrpcEcho {
            fully_qualified_method: "/s/m".into(),
            ..GrpcEcho::default()
        };
        assert_eq!(
            encode_echo_response(&small),
            [0x0a, 8, 0x0a, 4, b'/', b's', b'/', b'm', 0x22, 0]
        );
        // Unknown fields of every wire type are skipped.
        let mut extra = bytes.clone();
        extra.extend_from_slice(&[
            0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4,
        ]);
        assert_eq!(decode_echo_response(&extra), Ok(echo));
        assert!(decode_echo_response(&[0x0a, 9, 1]).is_err(), "cut short");
        assert!(decode_echo_response(&[0x0b]).is_err(), "wire type 3");
        assert!(decode_echo_response(&[0x80]).is_err(), "varint cut short");
    }
}
