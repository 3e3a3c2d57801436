//! Files on the command line into a reconciled cluster state: the shared loader in
//! [`gwsim_sim::inputs`], which the terminal UI's `-f PATH` mode uses too.

pub use gwsim_sim::inputs::{Inputs, load};
