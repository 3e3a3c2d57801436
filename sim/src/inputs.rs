//! What the command line hands over: files into a reconciled cluster state, without a
//! simulator (each document admitted as the API server would, then one reconcile), and URLs
//! into requests. `gwsim check`, `routes` and `explain` and the terminal UI's `-f PATH` mode
//! and Ask pane read their input this way.

use std::path::PathBuf;

use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::diff::{ChangeSet, Settled, apply_change};
use gwsim_engine::load::{Document, LoadError, Origin, parse_documents};
use gwsim_engine::object::Snapshot;
use gwsim_engine::{Rejection, RoutingTable};
use k8s_openapi::jiff::Timestamp;

use crate::files::{ReadError, read_sources};

/// The time files are loaded at: objects without a creationTimestamp were created then, and
/// conditions that change are stamped with it. Fixed, so output is stable.
pub const EPOCH_SECONDS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// [`EPOCH_SECONDS`] as a timestamp.
pub fn epoch() -> Timestamp {
    Timestamp::constant(EPOCH_SECONDS, 0)
}

/// Everything read from the command line's files.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Admitted objects with their statuses as the controller wrote them.
    pub snapshot: Snapshot,
    /// Documents the API server would refuse.
    pub rejected: Vec<(Origin, Rejection)>,
    /// Documents of kinds gwsim does not model.
    pub ignored: Vec<(Origin, String)>,
    pub table: RoutingTable,
}

/// Admitted objects, not yet reconciled, and what was not admitted.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub rejected: Vec<(Origin, Rejection)>,
    pub ignored: Vec<(Origin, String)>,
}

/// Files that cannot be used at all: unreadable, or not YAML. (Refused documents are data,
/// in [`Inputs::rejected`].)
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Parse(#[from] LoadError),
}

/// Every document of the files and folders, in order.
pub fn read_documents(paths: &[PathBuf]) -> Result<Vec<Document>, InputsError> {
    let mut out = Vec::new();
    for source in read_sources(paths)? {
        out.extend(parse_documents(&source.name, &source.text)?);
    }
    Ok(out)
}

/// Reads and admits every document into one snapshot, as a series of `kubectl apply`: a later
/// document with the key of an earlier one updates it.
pub fn load_snapshot(paths: &[PathBuf]) -> Result<Loaded, InputsError> {
    let change = ChangeSet {
        documents: read_documents(paths)?,
        deletions: Vec::new(),
    };
    let applied = apply_change(Snapshot::new(), &change, epoch());
    Ok(Loaded {
        snapshot: applied.snapshot,
        rejected: applied.rejected,
        ignored: applied.ignored,
    })
}

/// Reads, admits and reconciles.
pub fn load(paths: &[PathBuf]) -> Result<Inputs, InputsError> {
    let loaded = load_snapshot(paths)?;
    let settled = Settled::new(loaded.snapshot, epoch());
    let table = settled.table();
    Ok(Inputs {
        snapshot: settled.snapshot,
        rejected: loaded.rejected,
        ignored: loaded.ignored,
        table,
    })
}

/// A URL that cannot be turned into a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL must start with http:// or https://, got {0:?}")]
    Scheme(String),
    #[error("the URL has no host: {0:?}")]
    NoHost(String),
    #[error("bad port in {0:?}")]
    Port(String),
    #[error("{url:?} is not a URL: {reason}")]
    Invalid { url: String, reason: String },
}

/// `http://host[:port]/path?query` (or https) into a GET to the only Gateway, read by the
/// `http` crate's URI parser (RFC 3986): IPv6 literals in brackets, user information and a
/// fragment (never sent) are understood; anything else malformed is refused. The Host header
/// keeps an explicit port; the request goes to that port, or the scheme's default.
pub fn parse_url(url: &str) -> Result<Request, UrlError> {
    // The fragment is the client's alone: it is not part of the request (RFC 9110 §7.1).
    let sent = url.split_once('#').map_or(url, |(before, _)| before);
    let uri: http::Uri = sent
        .parse()
        .map_err(|e: http::uri::InvalidUri| UrlError::Invalid {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
        Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
        _ => return Err(UrlError::Scheme(url.to_string())),
    };
    let authority = uri
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| UrlError::NoHost(url.to_string()))?;
    let host = authority.host();
    // What follows the host: nothing, or `:` and a port from 1 to 65535 (`http` lets an
    // empty or out-of-range port through).
    let host_and_port = authority
        .as_str()
        .rsplit_once('@')
        .map_or(authority.as_str(), |(_, after)| after);
    let written_port = host_and_port.get(host.len()..).unwrap_or("");
    let (host_header, port) = match written_port.strip_prefix(':') {
        None if written_port.is_empty() => (host.to_string(), scheme.default_port()),
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                (format!("{host}:{port}"), port)
            }
            _ => return Err(UrlError::Port(url.to_string())),
        },
        None => return Err(UrlError::Port(url.to_string())),
    };
    let path = match uri.query() {
        Some(query) => format!("{}?{query}", uri.path()),
        None => uri.path().to_string(),
    };
    let mut request = Request::get(&host_header, &path);
    request.scheme = scheme;
    request.port = port;
    Ok(request)
}

/// `example.com:8080` -> `example.com`, `[::1]:8443` -> `[::1]`: the TLS server name a client
/// sends for a Host.
pub fn host_without_port(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((h, port))
            if port.chars().all(|c| c.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            h.to_string()
        }
        _ => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let r = parse_url("http://example.com/a/b?x=1").expect("parses");
        assert_eq!(
            (r.host.as_str(), r.path.as_str(), r.port),
            ("example.com", "/a/b?x=1", 80)
        );
        let r = parse_url("https://foo.example.com:8443").expect("parses");
        assert_eq!(
            (r.scheme, r.port, r.path.as_str()),
            (Scheme::Https, 8443, "/")
        );
        assert_eq!(r.host, "foo.example.com:8443");
        assert_eq!(parse_url("http://x?q=1").expect("parses").path, "/?q=1");
        assert!(matches!(parse_url("ftp://x/"), Err(UrlError::Scheme(_))));
        assert!(parse_url("http:///a").is_err());
        assert!(matches!(
            parse_url("http://x:99999/"),
            Err(UrlError::Port(_))
        ));
        assert_eq!(host_without_port("a.example:8443"), "a.example");
        assert_eq!(host_without_port("a.example"), "a.example");
        assert_eq!(host_without_port("[::1]:8443"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }

    /// Issue 10, finding 11: the hand-written parser refused IPv6 literals as a bad port, took
    /// a fragment into the host, and accepted two ports.
    #[test]
    fn urls_are_parsed_as_rfc_3986_says() {
        let r = parse_url("http://[::1]/").expect("an IPv6 literal");
        assert_eq!(
            (r.host.as_str(), r.port, r.path.as_str()),
            ("[::1]", 80, "/")
        );
        let r = parse_url("https://[fd00::1]:8443/a").expect("an IPv6 literal and a port");
        assert_eq!(
            (r.host.as_str(), r.port, r.path.as_str()),
            ("[fd00::1]:8443", 8443, "/a")
        );
        // A fragment never leaves the client.
        let r = parse_url("http://example.com#top").expect("a fragment");
        assert_eq!((r.host.as_str(), r.path.as_str()), ("example.com", "/"));
        let r = parse_url("http://example.com/a?x=1#top").expect("a fragment");
        assert_eq!(
            (r.host.as_str(), r.path.as_str()),
            ("example.com", "/a?x=1")
        );
        // User information is not part of the Host.
        let r = parse_url("http://user:secret@example.com:8080/").expect("userinfo");
        assert_eq!((r.host.as_str(), r.port), ("example.com:8080", 8080));
        for bad in [
            "http://host:80:80/",
            "http://exa mple.com/",
            "http://[::1/",
            "http://:80/",
            "http://",
            "example.com/path",
            "http://x:99999/",
            "http://x:/",
        ] {
            let err = parse_url(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        assert_eq!(
            parse_url("http://host:80:80/")
                .expect_err("two ports")
                .to_string(),
            "\"http://host:80:80/\" is not a URL: invalid authority"
        );
    }
}
