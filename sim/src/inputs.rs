//! What the command line hands over: files into a reconciled cluster state, without a
//! simulator (each document admitted as the API server would, then one reconcile), and URLs
//! into requests. `gwsim check`, `routes` and `explain` and the terminal UI's `-f PATH` mode
//! and Ask pane read their input this way.

use std::path::PathBuf;

use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::diff::{ChangeSet, Settled, apply_change};
use gwsim_engine::load::{self, Budgets, Document, LoadError, Origin, Warning};
use gwsim_engine::object::Snapshot;
use gwsim_engine::{Rejection, RoutingTable};
use k8s_openapi::jiff::Timestamp;

use crate::files::{ReadError, read_sources_limited};

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
    /// Documents that are not Kubernetes objects (Helm values, empty documents...), with the
    /// reason.
    pub skipped: Vec<(Origin, String)>,
    /// Duplicate keys and the like, with file:line:column.
    pub warnings: Vec<Warning>,
    pub table: RoutingTable,
}

/// Admitted objects, not yet reconciled, and what was not admitted.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub rejected: Vec<(Origin, Rejection)>,
    pub ignored: Vec<(Origin, String)>,
    /// Documents that are not Kubernetes objects, with the reason.
    pub skipped: Vec<(Origin, String)>,
    pub warnings: Vec<Warning>,
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

/// Every object of the files and folders, in order (skipped documents and warnings dropped;
/// [`read_inputs`] keeps them).
pub fn read_documents(paths: &[PathBuf]) -> Result<Vec<Document>, InputsError> {
    Ok(read_inputs(paths, &Budgets::default())?.documents)
}

/// Every document of the files and folders (`-`: standard input), in order, within `budgets`:
/// objects, documents skipped with the reason, and warnings.
pub fn read_inputs(paths: &[PathBuf], budgets: &Budgets) -> Result<load::Loaded, InputsError> {
    let mut out = load::Loaded::default();
    for source in read_sources_limited(paths, budgets.max_input_bytes)? {
        out.append(load::load(&source.name, &source.text, budgets)?);
    }
    Ok(out)
}

/// Reads and admits every document into one snapshot, as a series of `kubectl apply`: a later
/// document with the key of an earlier one updates it.
pub fn load_snapshot(paths: &[PathBuf]) -> Result<Loaded, InputsError> {
    load_snapshot_within(paths, &Budgets::default())
}

/// [`load_snapshot`] within `budgets` (`--max-input-size`).
pub fn load_snapshot_within(paths: &[PathBuf], budgets: &Budgets) -> Result<Loaded, InputsError> {
    let read = read_inputs(paths, budgets)?;
    let change = ChangeSet {
        documents: read.documents,
        deletions: Vec::new(),
    };
    let applied = apply_change(Snapshot::new(), &change, epoch());
    Ok(Loaded {
        snapshot: applied.snapshot,
        rejected: applied.rejected,
        ignored: applied.ignored,
        skipped: read.skipped,
        warnings: read.warnings,
    })
}

/// Reads, admits and reconciles.
pub fn load(paths: &[PathBuf]) -> Result<Inputs, InputsError> {
    load_within(paths, &Budgets::default())
}

/// [`load`] within `budgets` (`--max-input-size`).
pub fn load_within(paths: &[PathBuf], budgets: &Budgets) -> Result<Inputs, InputsError> {
    let loaded = load_snapshot_within(paths, budgets)?;
    let settled = Settled::new(loaded.snapshot, epoch());
    let table = settled.table();
    Ok(Inputs {
        snapshot: settled.snapshot,
        rejected: loaded.rejected,
        ignored: loaded.ignored,
        skipped: loaded.skipped,
        warnings: loaded.warnings,
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
}

/// `http://host[:port]/path?query` (or https) into a GET to the only Gateway. The Host header
/// keeps an explicit port; the request goes to that port, or the scheme's default.
pub fn parse_url(url: &str) -> Result<Request, UrlError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return Err(UrlError::Scheme(url.to_string()));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    if authority.is_empty() {
        return Err(UrlError::NoHost(url.to_string()));
    }
    let port = match authority.rsplit_once(':') {
        Some((_, p)) => p
            .parse::<u16>()
            .map_err(|_| UrlError::Port(url.to_string()))?,
        None => scheme.default_port(),
    };
    let mut request = Request::get(authority, &path);
    request.scheme = scheme;
    request.port = port;
    Ok(request)
}

/// `example.com:8080` -> `example.com`: the TLS server name a client sends for a Host.
pub fn host_without_port(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
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
        assert!(matches!(parse_url("http:///a"), Err(UrlError::NoHost(_))));
        assert!(matches!(
            parse_url("http://x:99999/"),
            Err(UrlError::Port(_))
        ));
        assert_eq!(host_without_port("a.example:8443"), "a.example");
        assert_eq!(host_without_port("a.example"), "a.example");
    }
}
