//! `gwsim tui`: routing decisions to watch and question, in the terminal.
//!
//! Modules, in the order data flows through them:
//!
//! - [`timeline`]: a scenario run once, step by step, on the simulator (or files loaded from
//!   disk), kept as frames: the resource tree and routing table after each step, and every
//!   request sent with its decision;
//! - [`tree`]: the Resources pane's tree with each node's health, from a frame's objects;
//! - [`ask`]: the Ask line's request syntax;
//! - [`app`]: the state, changed only by [`app::App::update`] with an [`app::Action`];
//! - [`keys`]: keys into actions, and the key lists;
//! - [`ui`]: pure drawing of an `&App`;
//! - [`terminal`]: the event loop, the terminal's setup and restoring (also on error and
//!   panic), and watching files.
//!
//! Tests drive `App::update` and draw into ratatui's `TestBackend` (see `tests/screens.rs`).

pub mod app;
pub mod ask;
pub mod keys;
pub mod terminal;
pub mod timeline;
pub mod tree;
pub mod ui;

use gwsim_sim::inputs::LoadOptions;
use std::path::{Path, PathBuf};

pub use app::{Action, App, Pane};
pub use timeline::Timeline;

/// Why the terminal UI could not start or stopped early. The messages of unreadable input
/// are complete (file, line, cause), so they are not chained as sources again.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("{0}")]
    Scenario(timeline::TimelineError),
    #[error("{0}")]
    Inputs(gwsim_sim::inputs::InputsError),
    #[error("cannot use the terminal")]
    Terminal(#[from] std::io::Error),
    #[error(
        "the terminal UI needs a terminal: standard input and output must both be one (for output to a pipe or a file, use gwsim check, routes or explain)"
    )]
    NoTerminal,
}

/// `gwsim tui SCENARIO`: runs the scenario, then shows it step by step.
pub fn run_scenario(path: &Path) -> Result<(), TuiError> {
    let timeline = Timeline::from_scenario_file(path).map_err(TuiError::Scenario)?;
    terminal::run(App::new(timeline), None)
}

/// `gwsim tui -f PATH...`: shows the files' resources, reloading them when they change.
pub fn run_files(paths: &[PathBuf]) -> Result<(), TuiError> {
    run_files_with(paths, &LoadOptions::default())
}

/// [`run_files`] with load `options` (the Gateway API release whose rules apply, the classes
/// gwsim stands in for).
pub fn run_files_with(paths: &[PathBuf], options: &LoadOptions) -> Result<(), TuiError> {
    let inputs = gwsim_sim::inputs::load_with(paths, options).map_err(TuiError::Inputs)?;
    let timeline = Timeline::from_files(paths.to_vec(), &inputs);
    let watcher = terminal::FileWatcher::new(paths.to_vec()).with_options(options.clone());
    terminal::run(App::new(timeline), Some(watcher))
}
