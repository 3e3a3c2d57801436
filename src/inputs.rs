//! Files on the command line into a reconciled state: the simulator's loader, shared with the
//! terminal UI.

pub use gwsim_sim::inputs::{
    Inputs, LoadOptions, Loaded, epoch, load_snapshot_with, load_with, read_documents,
};
