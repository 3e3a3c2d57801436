//! gwsim's deterministic cluster and network simulator, and the scenario runner.
//!
//! Modules, in the order data flows through them:
//!
//! - [`scenario`]: scenario files (the contract's format) into a checked model; [`files`]
//!   reads files and folders; [`base`] holds the built-in conformance base; [`inputs`] loads
//!   plain resource files into a reconciled state without a simulator;
//! - [`cluster`]: the [`cluster::Cluster`] trait the runner drives, and what a request returns;
//! - [`sim`]: the simulated cluster behind that trait, made of [`store`] (the API server),
//!   [`time`] and [`queue`] (virtual clock and events), [`workloads`] (pods and endpoints),
//!   [`provision`] (the Deployment and Service generated for each accepted Gateway),
//!   [`network`] and [`echo`] (delivery to echo backends), [`backend_tls`] (TLS from the
//!   Gateway to backends: BackendTLSPolicy), [`grpc`] (gRPC codes, framing and the echo
//!   service's messages);
//! - [`runner`] and [`checks`]: running scenarios, comparing results, reporting.

pub mod backend_tls;
pub mod base;
pub mod checks;
pub mod cluster;
pub mod connect;
pub mod echo;
pub mod files;
pub mod grpc;
pub mod inputs;
pub mod limits;
pub mod network;
pub mod provision;
pub mod queue;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod store;
pub mod time;
pub mod tls;
pub mod workloads;

pub use cluster::{Cluster, RequestId, Response};
pub use runner::{RunError, RunOptions, RunReport, ScenarioResult, run_paths, run_scenarios};
pub use scenario::{Scenario, ScenarioError, load_paths};
pub use sim::SimCluster;
