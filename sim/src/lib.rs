//! gwsim's deterministic cluster and network simulator, and the scenario runner.

pub mod base;
pub mod cluster;
pub mod echo;
pub mod files;
pub mod network;
pub mod queue;
pub mod scenario;
pub mod store;
pub mod time;
pub mod workloads;
