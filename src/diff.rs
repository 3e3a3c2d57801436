//! `gwsim diff`: the two states read from files (a before and an after state, or a before
//! state and a change to apply to it), the user's requests, and the engine's comparison.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use gwsim_engine::Rejection;
use gwsim_engine::admission::AdmissionOptions;
use gwsim_engine::controller::{ControllerConfig, standin};
use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::diff::{
    BehaviourDiff, ChangeSet, DiffOptions, IgnoredDocument, RejectedChange, Settled, UserRequest,
    apply_change_with, diff,
};
use gwsim_engine::load::Origin;
use gwsim_engine::object::{Kind, ObjectKey, Snapshot};
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use crate::inputs::{self, Loaded, epoch};

/// The command's inputs.
pub struct DiffArgs {
    /// The Gateway API release whose admission rules apply to both states.
    pub admission: AdmissionOptions,
    /// Input size and YAML budgets (`--max-input-size`).
    pub budgets: gwsim_engine::load::Budgets,
    pub before: Vec<PathBuf>,
    /// `--cluster`: the before state read from a cluster instead of `before`.
    pub before_documents: Option<Vec<gwsim_engine::load::Document>>,
    pub after: Vec<PathBuf>,
    pub change: Vec<PathBuf>,
    /// `KIND/NAMESPACE/NAME`, or `KIND/NAME` for cluster-scoped kinds.
    pub delete: Vec<String>,
    pub requests: Option<PathBuf>,
    /// `--gateway-class`: the classes gwsim stands in for (empty: every class).
    pub gateway_classes: Vec<String>,
}

impl DiffArgs {
    /// How both states' files are read: the admission release; every class stood in for at
    /// load time (the stand-in set is applied when the states are settled).
    fn load_options(&self) -> inputs::LoadOptions {
        inputs::LoadOptions {
            admission: self.admission,
            budgets: self.budgets,
            ..inputs::LoadOptions::default()
        }
    }
}

/// Reconciles one state, gwsim standing in for its classes.
fn settle(snapshot: Snapshot, classes: &[String], now: Timestamp) -> Settled {
    let plan = standin::plan(&snapshot, classes);
    Settled::with_config(snapshot, &ControllerConfig::stand_in(plan), now)
}

/// Loads both states and compares them. Errors (exit code 2) for unreadable files, bad flags
/// and bad request files.
pub fn run(args: &DiffArgs) -> anyhow::Result<BehaviourDiff> {
    let now = epoch();
    let deletions = args
        .delete
        .iter()
        .map(|d| parse_delete(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let requests = match &args.requests {
        Some(path) => read_requests(path)?,
        None => Vec::new(),
    };
    if args.after.is_empty() && args.change.is_empty() && deletions.is_empty() {
        bail!("give the after state (--after) or a change (--change, --delete)");
    }

    let Loaded {
        snapshot,
        rejected: rejected_before,
        ignored: ignored_before,
        ..
    } = inputs::load_snapshot_with(
        &args.before,
        &inputs::LoadOptions {
            documents: args.before_documents.clone(),
            ..args.load_options()
        },
    )?;
    let classes = &args.gateway_classes;
    let before = settle(snapshot, classes, now);
    let (after, rejections, ignored) = if !args.after.is_empty() {
        let loaded_after = inputs::load_snapshot_with(&args.after, &args.load_options())?;
        let (rejections, ignored) = new_problems(&rejected_before, &ignored_before, &loaded_after);
        (
            settle(loaded_after.snapshot, classes, now),
            rejections,
            ignored,
        )
    } else {
        let change = ChangeSet {
            documents: inputs::read_documents(&args.change)?,
            deletions,
        };
        // Admitted against the reconciled before state, as against a live cluster.
        let applied = apply_change_with(before.snapshot.clone(), &change, now, &args.admission);
        let mut rejections: Vec<RejectedChange> = applied
            .missing
            .iter()
            .map(RejectedChange::not_found)
            .collect();
        rejections.extend(
            applied
                .rejected
                .iter()
                .map(|(origin, r)| RejectedChange::from_rejection(origin, r)),
        );
        let ignored = applied.ignored.iter().map(ignored_document).collect();
        (settle(applied.snapshot, classes, now), rejections, ignored)
    };
    Ok(diff(
        before.state(),
        after.state(),
        DiffOptions {
            rejections,
            ignored,
            requests,
        },
    ))
}

fn ignored_document((origin, what): &(Origin, String)) -> IgnoredDocument {
    IgnoredDocument {
        origin: origin.to_string(),
        what: what.clone(),
    }
}

/// Rejected and ignored documents of the after files that the before files do not have too
/// (compared by message: the files differ).
fn new_problems(
    rejected_before: &[(Origin, Rejection)],
    ignored_before: &[(Origin, String)],
    after: &Loaded,
) -> (Vec<RejectedChange>, Vec<IgnoredDocument>) {
    let known: BTreeSet<String> = rejected_before.iter().map(|(_, r)| r.to_string()).collect();
    let rejections = after
        .rejected
        .iter()
        .filter(|(_, r)| !known.contains(&r.to_string()))
        .map(|(origin, r)| RejectedChange::from_rejection(origin, r))
        .collect();
    let known: BTreeSet<&String> = ignored_before.iter().map(|(_, what)| what).collect();
    let ignored = after
        .ignored
        .iter()
        .filter(|(_, what)| !known.contains(what))
        .map(ignored_document)
        .collect();
    (rejections, ignored)
}

/// `HTTPRoute/shop/web`, or `GatewayClass/gwsim` for a cluster-scoped kind. The kind is
/// matched case-insensitively.
fn parse_delete(text: &str) -> anyhow::Result<ObjectKey> {
    let parts: Vec<&str> = text.split('/').collect();
    let Some(kind) = parts.first().and_then(|k| Kind::from_name(k)) else {
        bail!("--delete {text:?}: the kind is not one gwsim models");
    };
    match (kind.namespaced(), parts.as_slice()) {
        (true, [_, ns, name]) if !ns.is_empty() && !name.is_empty() => {
            Ok(ObjectKey::new(kind, *ns, *name))
        }
        (false, [_, name]) if !name.is_empty() => Ok(ObjectKey::new(kind, "", *name)),
        (true, _) => bail!("--delete {text:?}: {kind} objects are named KIND/NAMESPACE/NAME"),
        (false, _) => bail!("--delete {text:?}: {kind} objects are cluster-scoped: KIND/NAME"),
    }
}

/// One request of a `--requests` file: the keys of a scenario's `request` step.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestEntry {
    /// `NAMESPACE/NAME`; the only Gateway when absent.
    gateway: Option<String>,
    scheme: Option<String>,
    port: Option<u16>,
    method: Option<String>,
    host: String,
    path: Option<String>,
    /// A map of name to value, or a list of `[name, value]` pairs.
    headers: Option<Value>,
    sni: Option<String>,
}

/// Reads a YAML list of requests.
fn read_requests(path: &Path) -> anyhow::Result<Vec<UserRequest>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let value: Value =
        serde_saphyr::from_str(&text).with_context(|| format!("{name}: not YAML"))?;
    let Value::Array(items) = value else {
        bail!("{name}: a list of requests is expected");
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let label = format!("{name} #{}", i + 1);
            let entry: RequestEntry =
                serde_json::from_value(item).with_context(|| label.clone())?;
            let request = to_request(entry).with_context(|| label.clone())?;
            Ok(UserRequest { label, request })
        })
        .collect()
}

fn to_request(entry: RequestEntry) -> anyhow::Result<Request> {
    let scheme = match entry.scheme.as_deref() {
        None | Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        Some(other) => bail!("scheme {other:?}: http or https"),
    };
    let gateway = entry
        .gateway
        .as_deref()
        .map(crate::parse_gateway)
        .transpose()?;
    let headers = match entry.headers {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(n, v)| Ok((n, scalar(&v)?)))
            .collect::<anyhow::Result<_>>()?,
        Some(Value::Array(pairs)) => pairs
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([n, v]) => Ok((scalar(n)?, scalar(v)?)),
                _ => bail!("headers: each pair is [name, value]"),
            })
            .collect::<anyhow::Result<_>>()?,
        Some(_) => bail!("headers: a map of name to value, or a list of [name, value] pairs"),
    };
    let sni = match scheme {
        Scheme::Https => Some(
            entry
                .sni
                .unwrap_or_else(|| gwsim_sim::inputs::host_without_port(&entry.host)),
        ),
        Scheme::Http => None,
    };
    Ok(Request {
        gateway,
        scheme,
        port: entry.port.unwrap_or(scheme.default_port()),
        method: entry
            .method
            .unwrap_or_else(|| "GET".to_string())
            .to_ascii_uppercase(),
        host: entry.host,
        path: entry.path.unwrap_or_else(|| "/".to_string()),
        headers,
        sni,
    })
}

/// A YAML scalar as text (`2` and `"2"` alike).
fn scalar(v: &Value) -> anyhow::Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => bail!("header names and values are scalars"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_deletions() {
        let ok = [
            (
                "HTTPRoute/shop/web",
                ObjectKey::new(Kind::HttpRoute, "shop", "web"),
            ),
            (
                "httproute/shop/web",
                ObjectKey::new(Kind::HttpRoute, "shop", "web"),
            ),
            (
                "GatewayClass/gwsim",
                ObjectKey::new(Kind::GatewayClass, "", "gwsim"),
            ),
        ];
        for (text, key) in ok {
            assert_eq!(parse_delete(text).expect(text), key);
        }
        for bad in [
            "HTTPRoute/web",
            "Widget/a/b",
            "GatewayClass/a/b",
            "Service//x",
        ] {
            assert!(parse_delete(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_entries_default_like_scenario_requests() {
        let entry: RequestEntry = serde_json::from_value(serde_json::json!({
            "host": "www.example.com:8443", "scheme": "https", "headers": {"x-n": 2}
        }))
        .expect("valid entry");
        let r = to_request(entry).expect("valid request");
        assert_eq!(r.port, 443);
        assert_eq!(r.sni.as_deref(), Some("www.example.com"));
        assert_eq!(r.headers, vec![("x-n".to_string(), "2".to_string())]);
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/"));
    }
}
