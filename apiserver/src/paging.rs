//! Lists in pages (`limit` and `continue`), as kube-apiserver pages them over etcd.
//!
//! A continue token names the resourceVersion the first page was read at and the last key
//! served. Later pages are read at that resourceVersion, so the pages together are one
//! consistent list: objects changed since are taken as they were, from the store's change
//! log. When the log no longer reaches back far enough, the token is expired (410), and the
//! answer carries a token that continues from the current state instead (inconsistently),
//! as kube-apiserver's does after a compaction. The token's format is kube-apiserver's:
//! base64url JSON `{"v":"meta.k8s.io/v1","rv":N,"start":"KEY"}`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gwsim_engine::object::{Kind, Object, ObjectKey};
use gwsim_sim::store::{ChangeKind, Store};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

#[derive(Serialize, Deserialize)]
struct Token {
    #[serde(rename = "v")]
    version: String,
    #[serde(rename = "rv")]
    resource_version: i64,
    start: String,
}

/// Where a page starts: the resourceVersion the list is read at (`None`: the current state)
/// and the key after which items start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continue {
    pub resource_version: Option<u64>,
    pub after: String,
}

/// The key a token carries for an object: `namespace/name` (`name` when cluster-scoped).
pub fn token_key(key: &ObjectKey) -> String {
    if key.namespace.is_empty() {
        key.name.clone()
    } else {
        format!("{}/{}", key.namespace, key.name)
    }
}

impl Continue {
    /// Whether an object comes after the token's key, in the order the store lists objects
    /// (by namespace, then name: not the order of the `namespace/name` strings).
    pub fn precedes(&self, key: &ObjectKey) -> bool {
        let (namespace, name) = self.after.split_once('/').unwrap_or(("", &self.after));
        (key.namespace.as_str(), key.name.as_str()) > (namespace, name)
    }
}

/// A token continuing after `key`, at `rv` (`None`: from the current state, rv -1).
pub fn encode(rv: Option<u64>, key: &ObjectKey) -> String {
    let token = Token {
        version: TOKEN_VERSION.into(),
        resource_version: rv.map_or(-1, |rv| i64::try_from(rv).unwrap_or(i64::MAX)),
        // kube-apiserver's start key is the last key with a NUL after it: the next one up.
        start: format!("{}\u{0}", token_key(key)),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn invalid(detail: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "invalid continue token: continue key is not valid{detail}"
    ))
}

/// Reads a `continue` parameter; a malformed one is 400 BadRequest, worded as
/// kube-apiserver words it.
pub fn decode(text: &str) -> Result<Continue, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| invalid(&format!(": {e}")))?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|e| invalid(&format!(": {e}")))?;
    if token.version != TOKEN_VERSION {
        return Err(invalid(": server does not recognize this encoded version"));
    }
    if token.resource_version == 0 || token.resource_version < -1 {
        return Err(invalid(
            ": incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let Some(after) = token.start.strip_suffix('\u{0}').map(str::to_string) else {
        return Err(invalid(""));
    };
    if after.is_empty() {
        return Err(invalid(
            ": encoded start key empty (version meta.k8s.io/v1)",
        ));
    }
    Ok(Continue {
        resource_version: u64::try_from(token.resource_version).ok(),
        after,
    })
}

/// The objects of `kind` as they were at resourceVersion `rv`, in key order; `None` when
/// the change log no longer reaches back that far for some object (the token expired).
pub fn objects_at(store: &Store, kind: Kind, rv: u64) -> Option<Vec<Arc<Object>>> {
    if rv >= store.resource_version() {
        return Some(store.list(kind).cloned().map(Arc::new).collect());
    }
    let later = store.history_since(rv).ok()?;
    // Objects changed after `rv`, and whether their first change since was a creation.
    let mut touched: BTreeMap<&ObjectKey, bool> = BTreeMap::new();
    for change in later.iter().filter(|c| c.key.kind == kind) {
        touched
            .entry(&change.key)
            .or_insert(change.kind == ChangeKind::Created);
    }
    // Their bodies as of `rv`: the last change at or before it.
    let mut before: BTreeMap<&ObjectKey, Option<Arc<Object>>> = BTreeMap::new();
    let earlier = &store.changes()[..store.changes().len() - later.len()];
    for change in earlier.iter().filter(|c| touched.contains_key(&c.key)) {
        let body = match change.kind {
            ChangeKind::Deleted => None,
            _ => Some(change.object.clone()?),
        };
        before.insert(&change.key, body);
    }
    let mut out: BTreeMap<ObjectKey, Arc<Object>> = store
        .list(kind)
        .filter(|o| !touched.contains_key(&o.key()))
        .map(|o| (o.key(), Arc::new(o.clone())))
        .collect();
    let missing: BTreeSet<_> = touched.keys().collect();
    for key in missing {
        match before.get(*key) {
            Some(Some(body)) => {
                out.insert((*key).clone(), body.clone());
            }
            Some(None) => {}
            // Not in the log before `rv`: absent then if it was created since; otherwise
            // its state at `rv` was compacted away.
            None if touched[*key] => {}
            None => return None,
        }
    }
    Some(out.into_values().collect())
}

/// The 410 for a token whose resourceVersion the log no longer reaches, with a token that
/// continues from the current state.
pub fn expired(after: &str) -> ApiError {
    ApiError::ContinueExpired {
        token: URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Token {
                version: TOKEN_VERSION.into(),
                resource_version: -1,
                start: format!("{after}\u{0}"),
            })
            .unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_ones_are_refused() {
        let key = ObjectKey::new(Kind::HttpRoute, "default", "r1");
        let token = decode(&encode(Some(42), &key)).expect("valid");
        assert_eq!(
            token,
            Continue {
                resource_version: Some(42),
                after: "default/r1".into()
            }
        );
        assert_eq!(
            decode(&encode(None, &key)).expect("valid").resource_version,
            None
        );
        for (bad, message) in [
            ("!!!", "invalid continue token: continue key is not valid: "),
            (
                &URL_SAFE_NO_PAD.encode(br#"{"v":"meta.k8s.io/v1","rv":0,"start":"a\u0000"}"#),
                "invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ),
            (
                &URL_SAFE_NO_PAD.encode(br#"{"v":"x/v9","rv":3,"start":"a\u0000"}"#),
                "invalid continue token: continue key is not valid: server does not recognize this encoded version",
            ),
            (
                &URL_SAFE_NO_PAD.encode(br#"{"v":"meta.k8s.io/v1","rv":3,"start":"\u0000"}"#),
                "invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)",
            ),
        ] {
            let err = decode(bad).expect_err(bad);
            assert_eq!(err.code(), axum::http::StatusCode::BAD_REQUEST);
            assert!(err.to_string().starts_with(message), "{err}");
        }
    }
}
