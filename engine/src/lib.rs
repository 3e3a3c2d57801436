//! gwsim's pure core.
//!
//! Data flows through the modules in this order:
//!
//! - [`load`]: YAML files and folders into documents, with file, line and column on errors;
//! - [`admission`]: each document validated and defaulted as the API server would, into an
//!   [`object::Object`];
//! - [`controller`]: a [`object::Snapshot`] of objects into statuses and [`config`] (the data
//!   plane's view);
//! - [`table`]: the configuration compiled into a routing table;
//! - [`filters`]: a matched rule's filters and weighted backends applied to a request;
//! - [`decision`] and [`explain`]: a request routed, and the reasons;
//! - [`runtime`]: retries and timeouts of a forwarded request, attempt by attempt;
//! - [`diff`]: two states compared: statuses, tables, and the outcome of probe requests;
//! - [`audit`]: the installed controller's statuses against a conforming controller's.
//!
//! No I/O but reading the files [`load`] is asked to read, no clock, no randomness of its own.

pub mod admission;
pub mod audit;
pub mod config;
pub mod connection;
pub mod controller;
pub mod decision;
pub mod diff;
pub mod duration;
pub mod explain;
pub mod filters;
pub mod load;
pub mod object;
pub mod runtime;
pub mod synth;
pub mod table;
pub mod x509;

pub use admission::{AdmitError, Rejection, admit};
pub use controller::{ControllerConfig, Reconciliation, reconcile};
pub use decision::{Decision, Outcome, Request};
pub use object::{Kind, Object, ObjectKey, Snapshot};
pub use table::RoutingTable;
