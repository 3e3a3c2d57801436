//! gwsim against a real Kubernetes cluster (`--cluster`, `--target cluster`).
//!
//! [`LiveCluster`] implements the scenario runner's [`Cluster`](gwsim_sim::cluster::Cluster)
//! trait over kube-rs (objects: server-side apply with field manager `gwsim`, delete, get,
//! list) and real sockets (requests to the Gateway's address from its status, through the
//! proxy crate's wire client). The trait stays synchronous: the cluster owns a current-thread
//! tokio runtime and blocks on each call. [`read_state`] reads the live state for the
//! read-only commands (check, routes, explain, audit, diff) and never writes.
//!
//! Invariant: gwsim writes only objects it labels with its run ([`RUN_LABEL`]), into
//! namespaces that hold nothing it did not create (unless `--force`), and removes them
//! afterwards (unless `--keep`), also on Ctrl-C.

mod cluster;
mod connect;
mod footprint;
mod kinds;
mod mirror;
mod state;
mod target;

pub use cluster::{LiveCluster, MAX_ADVANCE, MIRROR_GRACE, RUN_LABEL, RunSettings};
pub use connect::{ClusterOptions, connect};
pub use kinds::api_resource;
pub use state::{labelled, read_state};
pub use target::{
    ClusterReport, LiveTarget, NOT_ON_CLUSTER, NotOnCluster, cannot_run_on_cluster,
    run_scenarios_live,
};

use std::time::Duration;

/// How long a status check is polled, and a request step tried, before it fails: upstream's
/// default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `--timeout` accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// What can go wrong talking to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot configure a client for the cluster: {0}")]
    Config(String),
    /// The API server refused or could not be reached.
    #[error("{0}")]
    Api(String),
    /// A write that would touch objects gwsim did not create.
    #[error("{0} (pass --force to write there anyway)")]
    NotOurs(String),
    /// The runtime could not start.
    #[error("cannot start the client's runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The scenario runner could not start (a scenario or the base does not load).
    #[error("{0}")]
    Run(#[from] gwsim_sim::runner::RunError),
}

/// The API server's message for a failed call: its `Status.message` when it sent one.
pub(crate) fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Whether a failed call was a 404.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
