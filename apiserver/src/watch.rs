//! WATCH: newline-delimited `WatchEvent`s streamed from the store's change log.
//!
//! Nothing is buffered per watcher: the stream is pulled by the connection, and each pull
//! reads the log from the watcher's resourceVersion. A watcher that falls so far behind that
//! the log was compacted past it gets an ERROR event with a 410 `Expired` Status and the
//! stream ends (the client lists again), as kube-apiserver does.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gwsim_engine::object::Object;
use gwsim_sim::store::ChangeKind;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::resources::Resource;
use crate::select::Selector;
use crate::server::{App, Query, TargetInfo};
use crate::shared::SharedCluster;

/// Most events read from the log per pull.
const BATCH: usize = 512;
/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);
/// The longest a watch stays open (kube-apiserver: `--min-request-timeout` 1800 s).
const MAX_TIMEOUT: u64 = 1800;

enum Wake {
    Changed,
    Closed,
    Bookmark,
}

struct Watcher {
    cluster: Arc<SharedCluster>,
    resource: &'static Resource,
    api_version: String,
    namespace: Option<String>,
    selector: Selector,
    table: bool,
    bookmarks: bool,
    rv: u64,
    revisions: tokio::sync::watch::Receiver<u64>,
    pending: VecDeque<Bytes>,
    deadline: Instant,
    done: bool,
}

pub fn serve(
    app: &App,
    target: &TargetInfo,
    query: &Query,
    table: bool,
) -> Result<Response, ApiError> {
    let selector = Selector::parse(
        query.get("labelSelector").map(String::as_str),
        query.get("fieldSelector").map(String::as_str),
    )?;
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(MAX_TIMEOUT)
        .min(MAX_TIMEOUT);
    let from = match query.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let mut watcher = Watcher {
        cluster: app.cluster.clone(),
        resource: target.resource,
        api_version: target.api_version.clone(),
        namespace: target.namespace.clone(),
        selector,
        table,
        bookmarks: query
            .get("allowWatchBookmarks")
            .is_some_and(|b| b == "true"),
        rv: 0,
        revisions: app.cluster.revisions(),
        pending: VecDeque::new(),
        deadline: Instant::now() + Duration::from_secs(timeout),
        done: false,
    };
    match from {
        Some(rv) => watcher.rv = rv,
        // No resourceVersion: the current state as ADDED events, then changes.
        None => watcher.initial_state(),
    }
    let stream = futures_util::stream::unfold(watcher, |mut w| async move {
        w.next().await.map(|chunk| (Ok::<_, Infallible>(chunk), w))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}

impl Watcher {
    fn selected(&self, object: &Object) -> Option<Value> {
        if object.kind() != self.resource.kind {
            return None;
        }
        if let Some(ns) = &self.namespace
            && object.meta().namespace.as_ref() != Some(ns)
        {
            return None;
        }
        let value = crate::server::in_version(object.to_value(), &self.api_version);
        self.selector.matches(&value).then_some(value)
    }

    fn event(&self, kind: &str, object: Value) -> Bytes {
        let object = if self.table && kind != "BOOKMARK" && kind != "ERROR" {
            crate::printing::table(
                self.resource,
                &[object],
                self.rv,
                crate::shared::wall_clock().timestamp(),
            )
        } else {
            object
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn initial_state(&mut self) {
        let cluster = self.cluster.clone();
        let (objects, rv) = cluster.read(|c| {
            let objects: Vec<Value> = c
                .store()
                .list(self.resource.kind)
                .filter_map(|o| self.selected(o))
                .collect();
            (objects, c.store().resource_version())
        });
        self.rv = rv;
        for o in objects {
            let e = self.event("ADDED", o);
            self.pending.push_back(e);
        }
    }

    /// Reads new changes into `pending`.
    fn collect(&mut self) {
        let cluster = self.cluster.clone();
        let result = cluster.read(|c| {
            c.store().history_since(self.rv).map(|changes| {
                let mut last = self.rv;
                let mut events = Vec::new();
                for change in changes.iter().take(BATCH) {
                    last = change.resource_version;
                    let Some(object) = &change.object else {
                        continue;
                    };
                    if let Some(value) = self.selected(object) {
                        let kind = match change.kind {
                            ChangeKind::Created => "ADDED",
                            ChangeKind::Updated | ChangeKind::StatusUpdated => "MODIFIED",
                            ChangeKind::Deleted => "DELETED",
                        };
                        events.push((kind, value));
                    }
                }
                (events, last)
            })
        });
        match result {
            Ok((events, last)) => {
                self.rv = last;
                for (kind, value) in events {
                    let e = self.event(kind, value);
                    self.pending.push_back(e);
                }
            }
            Err(compacted) => {
                let status = ApiError::Gone {
                    requested: compacted.requested,
                    oldest: compacted.oldest,
                }
                .status();
                let e = self.event("ERROR", status);
                self.pending.push_back(e);
                self.done = true;
            }
        }
    }

    fn bookmark(&self) -> Bytes {
        let object = json!({
            "kind": self.resource.kind.as_str(),
            "apiVersion": self.api_version,
            "metadata": {"resourceVersion": self.rv.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}},
        });
        self.event("BOOKMARK", object)
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            self.collect();
            if !self.pending.is_empty() || self.done {
                continue;
            }
            let seen = self.rv;
            let bookmark_at = Instant::now() + BOOKMARK_EVERY;
            let deadline = self.deadline;
            let bookmarks = self.bookmarks;
            let woke = tokio::select! {
                changed = self.revisions.wait_for(|rv| *rv > seen) => {
                    if changed.is_err() { Wake::Closed } else { Wake::Changed }
                }
                () = tokio::time::sleep_until(deadline) => Wake::Closed,
                () = tokio::time::sleep_until(bookmark_at), if bookmarks => Wake::Bookmark,
            };
            match woke {
                Wake::Changed => {}
                Wake::Closed => self.done = true,
                Wake::Bookmark => {
                    let b = self.bookmark();
                    self.pending.push_back(b);
                }
            }
        }
    }
}
