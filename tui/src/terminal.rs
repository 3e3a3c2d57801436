//! The event loop and everything that touches the terminal or the disk.
//!
//! The terminal is put back as it was (raw mode off, main screen, cursor shown) on quit, on
//! error and on panic: [`TerminalGuard`] does it when dropped, and a panic hook does it before
//! the panic message is printed, so the message lands on a usable screen.

use gwsim_sim::inputs::LoadOptions;
use std::io::{IsTerminal, Stdout, stdout};
use std::panic::PanicHookInfo;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use crate::TuiError;
use crate::app::{Action, App};
use crate::keys::action_for;
use crate::timeline::Frame;
use crate::ui::draw;

/// How long to wait for a key before looking at the files again.
const POLL: Duration = Duration::from_millis(100);
/// How often files are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Raw mode and the alternate screen, for as long as it lives.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    previous_hook: Arc<PanicHook>,
}

/// Puts the terminal back. Errors are ignored: this runs on the way out, and there is
/// nothing better to do.
fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
}

impl TerminalGuard {
    fn enter() -> Result<TerminalGuard, TuiError> {
        // Nothing is written before both ends are a terminal: no escape sequences into a
        // pipe or a file.
        if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            return Err(TuiError::NoTerminal);
        }
        let previous_hook: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&previous_hook);
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            chained(info);
        }));
        let setup = || -> std::io::Result<Terminal<CrosstermBackend<Stdout>>> {
            enable_raw_mode()?;
            execute!(stdout(), EnterAlternateScreen, Hide)?;
            Terminal::new(CrosstermBackend::new(stdout()))
        };
        match setup() {
            Ok(terminal) => Ok(TerminalGuard {
                terminal,
                previous_hook,
            }),
            Err(e) => {
                restore_terminal();
                reinstate_hook(previous_hook);
                Err(e.into())
            }
        }
    }
}

/// Puts back the panic hook that was there before ours (not while panicking: the hook cannot
/// change then, and ours must run).
fn reinstate_hook(previous: Arc<PanicHook>) {
    if std::thread::panicking() {
        return;
    }
    let _ours = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| previous(info)));
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        reinstate_hook(Arc::clone(&self.previous_hook));
    }
}

/// Runs the application until it quits.
pub fn run(mut app: App, watcher: Option<FileWatcher>) -> Result<(), TuiError> {
    let mut guard = TerminalGuard::enter()?;
    let result = event_loop(&mut guard.terminal, &mut app, watcher);
    drop(guard);
    result
}

/// Draws when something changed, maps keys to actions, and polls the watched files.
fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut watcher: Option<FileWatcher>,
) -> Result<(), TuiError> {
    let size = terminal.size()?;
    app.update(Action::Resize(size.width, size.height));
    let mut dirty = true;
    while !app.quit {
        if dirty {
            terminal.draw(|frame| draw(app, frame))?;
            dirty = false;
        }
        if event::poll(POLL)? {
            match event::read()? {
                Event::Key(key) => {
                    if let Some(action) = action_for(app, key) {
                        app.update(action);
                        dirty = true;
                    }
                }
                // The next draw fits the new size.
                Event::Resize(width, height) => {
                    app.update(Action::Resize(width, height));
                    dirty = true;
                }
                _ => {}
            }
        }
        if let Some(action) = watcher.as_mut().and_then(|w| w.poll(Instant::now())) {
            app.update(action);
            dirty = true;
        }
    }
    Ok(())
}

/// What identifies a version of the files: each file's path, modification time and size.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// Reloads files (`-f PATH`) when they change, polling their modification times.
pub struct FileWatcher {
    paths: Vec<PathBuf>,
    last: Option<Fingerprint>,
    /// The last error reported, so that it is reported once.
    failing: Option<String>,
    next_check: Option<Instant>,
    /// How reloads read the files.
    options: LoadOptions,
}

impl FileWatcher {
    /// Watches `paths` as they are now.
    pub fn new(paths: Vec<PathBuf>) -> FileWatcher {
        let last = fingerprint(&paths).ok();
        FileWatcher {
            paths,
            last,
            failing: None,
            next_check: None,
            options: LoadOptions::default(),
        }
    }

    /// Reloads with these options.
    pub fn with_options(mut self, options: LoadOptions) -> FileWatcher {
        self.options = options;
        self
    }

    /// Looks at the files when it is time to: a new frame when they changed, an error
    /// (once) when they cannot be read.
    pub fn poll(&mut self, now: Instant) -> Option<Action> {
        if self.next_check.is_some_and(|at| now < at) {
            return None;
        }
        self.next_check = Some(now + WATCH_INTERVAL);
        self.check()
    }

    /// Compares the files with the last version seen, and reloads them if they differ.
    pub fn check(&mut self) -> Option<Action> {
        let error = match fingerprint(&self.paths) {
            Ok(print) if self.last.as_ref() == Some(&print) => return None,
            Ok(print) => {
                self.last = Some(print);
                match gwsim_sim::inputs::load_with(&self.paths, &self.options) {
                    Ok(inputs) => {
                        self.failing = None;
                        let frame = Frame::from_inputs(&inputs, 0, "reloaded".to_string());
                        return Some(Action::Loaded(Box::new(frame)));
                    }
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => {
                self.last = None;
                e.to_string()
            }
        };
        if self.failing.as_deref() == Some(error.as_str()) {
            return None;
        }
        self.failing = Some(error.clone());
        Some(Action::LoadFailed(error))
    }
}

fn fingerprint(paths: &[PathBuf]) -> Result<Fingerprint, gwsim_sim::files::ReadError> {
    let files = gwsim_sim::files::source_paths(paths)?;
    Ok(files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (path, modified, len)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gwsim-tui-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    const CLASS: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim}
spec: {controllerName: gateway.gwsim.dev/controller}
";

    #[test]
    fn reloads_changed_files_and_reports_errors_once() {
        let dir = temp_dir("watch");
        let file = dir.join("a.yaml");
        std::fs::write(&file, CLASS).expect("write");
        let mut watcher = FileWatcher::new(vec![dir.clone()]);
        assert!(watcher.check().is_none(), "nothing changed");

        // A new file in the folder is a change.
        std::fs::write(dir.join("b.yaml"), CLASS.replace("gwsim}", "other-class}")).expect("write");
        match watcher.check() {
            Some(Action::Loaded(frame)) => {
                assert!(
                    frame
                        .tree
                        .nodes
                        .iter()
                        .any(|n| n.label.contains("other-class"))
                );
            }
            other => panic!("expected a reload, got {other:?}"),
        }
        assert!(watcher.check().is_none());

        // Broken YAML: reported once, then silence until it changes again.
        std::fs::write(&file, "kind: [unclosed").expect("write");
        assert!(matches!(watcher.check(), Some(Action::LoadFailed(_))));
        assert!(watcher.check().is_none());

        std::fs::write(&file, CLASS).expect("write");
        assert!(matches!(watcher.check(), Some(Action::Loaded(_))));

        // Poll waits between looks.
        let now = Instant::now();
        std::fs::write(&file, CLASS.replace("gwsim}", "third-class}")).expect("write");
        assert!(watcher.poll(now).is_some());
        std::fs::write(&file, CLASS).expect("write");
        assert!(watcher.poll(now).is_none(), "too soon");
        assert!(watcher.poll(now + WATCH_INTERVAL).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
