//! gwsim's deterministic cluster and network simulator, and the scenario runner.

pub mod files;
pub mod queue;
pub mod store;
pub mod time;
pub mod workloads;
