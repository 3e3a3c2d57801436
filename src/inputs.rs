//! Files on the command line into a reconciled state: the simulator's loader, shared with the
//! terminal UI.

pub use gwsim_sim::inputs::{Inputs, Loaded, epoch, load_snapshot, load_within, read_documents};
