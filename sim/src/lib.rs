//! gwsim's deterministic cluster and network simulator, and the scenario runner.

pub mod files;
