//! The application state and the one place it changes: [`App::update`] with an [`Action`].
//!
//! Nothing here touches the terminal or the disk: keys become actions in [`crate::keys`],
//! reloads become actions in the event loop, and [`crate::ui`] draws an `&App`.

use gwsim_engine::decision::{Decision, Request};
use gwsim_engine::object::ObjectKey;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ask::parse_request_line;
use crate::timeline::{Frame, Origin, SentRecord, Timeline};
use crate::tree::TreeNode;

/// The panes, in focus order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Resources,
    Requests,
    Decision,
    Timeline,
}

impl Pane {
    pub const ALL: [Pane; 4] = [
        Pane::Resources,
        Pane::Requests,
        Pane::Decision,
        Pane::Timeline,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Resources => "Resources",
            Pane::Requests => "Requests",
            Pane::Decision => "Decision",
            Pane::Timeline => "Timeline",
        }
    }

    fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    fn previous(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// Everything that can happen to the application.
#[derive(Clone, Debug)]
pub enum Action {
    Quit,
    ToggleHelp,
    FocusNext,
    FocusPrevious,
    Focus(Pane),
    /// The focused pane fills the screen, or stops filling it.
    ToggleZoom,
    StepForward,
    StepBack,
    FirstStep,
    /// Run to the end: the last step that ran.
    LastStep,
    /// The next failed step, wrapping around.
    NextFailure,
    /// Move the focused pane's selection (or scroll) by this many rows.
    Move(i32),
    /// Open the Ask line.
    AskOpen,
    AskType(char),
    AskBackspace,
    AskClear,
    /// Keep the asked request in the Requests pane.
    AskSubmit,
    AskCancel,
    /// Files were read again (`-f PATH`).
    Loaded(Box<Frame>),
    /// Files could not be read again; the last good state stays.
    LoadFailed(String),
    /// The terminal's size, in columns and rows (how far the Decision pane scrolls depends on it).
    Resize(u16, u16),
}

/// A request typed in the Ask line, decided against the selected step's table.
#[derive(Clone, Debug)]
pub struct Asked {
    /// As typed.
    pub line: String,
    pub request: Request,
    pub decision: Decision,
}

/// The Ask line while it is open.
#[derive(Clone, Debug, Default)]
pub struct AskInput {
    pub text: String,
    /// The line's decision as typed so far, or why it does not parse.
    pub preview: Option<Result<Asked, String>>,
}

/// One row of the Requests pane.
#[derive(Clone, Copy, Debug)]
pub enum RequestRow<'a> {
    Sent(&'a SentRecord),
    Asked(&'a Asked),
}

/// The whole state of the terminal UI.
#[derive(Clone, Debug)]
pub struct App {
    pub timeline: Timeline,
    /// The selected frame.
    pub step: usize,
    pub focus: Pane,
    pub zoom: bool,
    pub help: bool,
    /// Selected node of the Resources pane.
    pub resource: usize,
    /// Selected row of the Requests pane (sent rows, then asked rows).
    pub request: Option<usize>,
    pub decision_scroll: u16,
    pub ask: Option<AskInput>,
    pub asked: Vec<Asked>,
    /// The last reload's error, shown until a load succeeds.
    pub load_error: Option<String>,
    /// The terminal's size: columns, rows.
    pub size: (u16, u16),
    pub quit: bool,
}

impl App {
    /// Opens on the first frame, or on the first failure when there is one: that is what
    /// one wants to look at.
    pub fn new(timeline: Timeline) -> App {
        let mut app = App {
            timeline,
            step: 0,
            focus: Pane::Timeline,
            zoom: false,
            help: false,
            resource: 0,
            request: None,
            decision_scroll: 0,
            ask: None,
            asked: Vec::new(),
            load_error: None,
            size: (80, 24),
            quit: false,
        };
        app.select_step(0);
        app
    }

    pub fn frame(&self) -> &Frame {
        // A timeline always has a frame; `step` is kept in range by `select_step`.
        &self.timeline.frames[self.step.min(self.timeline.frames.len().saturating_sub(1))]
    }

    /// Rows of the Requests pane for the selected step.
    pub fn request_rows(&self) -> Vec<RequestRow<'_>> {
        self.timeline
            .sent_by(self.step)
            .iter()
            .map(RequestRow::Sent)
            .chain(self.asked.iter().map(RequestRow::Asked))
            .collect()
    }

    pub fn selected_request(&self) -> Option<RequestRow<'_>> {
        let rows = self.request_rows();
        self.request.and_then(|i| rows.get(i).copied())
    }

    pub fn selected_node(&self) -> Option<&TreeNode> {
        self.frame().tree.nodes.get(self.resource)
    }

    /// What a frame is called: a scenario's `step`, or a `load` of files.
    pub fn frame_word(&self) -> &'static str {
        if self.watching_files() {
            "load"
        } else {
            "step"
        }
    }

    /// Whether files or folders are being watched (`-f PATH`) rather than a scenario shown.
    pub fn watching_files(&self) -> bool {
        matches!(self.timeline.origin, Origin::Files { .. })
    }

    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.help = !self.help,
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrevious => self.focus = self.focus.previous(),
            Action::Focus(pane) => self.focus = pane,
            Action::ToggleZoom => self.zoom = !self.zoom,
            Action::StepForward => self.select_step(self.step.saturating_add(1)),
            Action::StepBack => self.select_step(self.step.saturating_sub(1)),
            Action::FirstStep => self.select_step(0),
            Action::LastStep => self.select_step(usize::MAX),
            Action::NextFailure => {
                let from = (self.step + 1) % self.timeline.frames.len().max(1);
                if let Some(i) = self.timeline.next_failure(from) {
                    self.select_step(i);
                }
            }
            Action::Move(by) => self.move_selection(by),
            Action::AskOpen => {
                if self.ask.is_none() {
                    self.ask = Some(AskInput::default());
                }
                self.decision_scroll = 0;
            }
            Action::AskType(c) => self.edit_ask(|text| text.push(c)),
            Action::AskBackspace => self.edit_ask(|text| {
                text.pop();
            }),
            Action::AskClear => self.edit_ask(String::clear),
            Action::AskSubmit => self.submit_ask(),
            Action::AskCancel => self.ask = None,
            Action::Loaded(frame) => self.loaded(*frame),
            Action::LoadFailed(error) => self.load_error = Some(error),
            Action::Resize(width, height) => {
                self.size = (width, height);
                self.decision_scroll = self
                    .decision_scroll
                    .min(crate::ui::decision_max_scroll(self));
            }
        }
    }

    /// Selects a frame (clamped). The selected resource is kept when it still exists; a
    /// selected asked request stays selected (to watch its decision change), else the newest
    /// request the step sent is selected.
    fn select_step(&mut self, index: usize) {
        let node_id = self.selected_node().map(|n| n.id.clone());
        let previous_sent = self.timeline.sent_by(self.step).len();
        let asked = self
            .request
            .and_then(|i| i.checked_sub(previous_sent))
            .filter(|&i| i < self.asked.len());

        self.step = index.min(self.timeline.frames.len().saturating_sub(1));
        let frame = self.frame();
        self.resource = node_id
            .and_then(|id| frame.tree.position(&id))
            .unwrap_or(self.resource)
            .min(frame.tree.nodes.len().saturating_sub(1));
        let sent = self.timeline.sent_by(self.step);
        let sent_here = sent.last().is_some_and(|r| r.frame == self.step);
        self.request = match (asked, self.request) {
            (Some(i), _) => Some(sent.len() + i),
            _ if sent_here => Some(sent.len() - 1),
            (None, Some(i)) => Some(i.min(sent.len().saturating_sub(1))),
            (None, None) => sent.len().checked_sub(1),
        };
        self.redecide_asked();
        self.clamp_request();
        self.decision_scroll = 0;
    }

    fn clamp_request(&mut self) {
        let rows = self.timeline.sent_by(self.step).len() + self.asked.len();
        self.request = match (self.request, rows) {
            (_, 0) => None,
            (Some(i), n) => Some(i.min(n - 1)),
            (None, _) => None,
        };
    }

    fn move_selection(&mut self, by: i32) {
        let step = |value: usize, len: usize| -> usize {
            let moved = if by < 0 {
                value.saturating_sub(by.unsigned_abs() as usize)
            } else {
                value.saturating_add(by as usize)
            };
            moved.min(len.saturating_sub(1))
        };
        match self.focus {
            Pane::Resources => {
                self.resource = step(self.resource, self.frame().tree.nodes.len());
            }
            Pane::Requests => {
                let rows = self.timeline.sent_by(self.step).len() + self.asked.len();
                if rows > 0 {
                    self.request = Some(step(self.request.unwrap_or(0), rows));
                    self.decision_scroll = 0;
                }
            }
            Pane::Decision => {
                let end = usize::from(crate::ui::decision_max_scroll(self)) + 1;
                self.decision_scroll = step(usize::from(self.decision_scroll), end)
                    .try_into()
                    .unwrap_or(u16::MAX);
            }
            Pane::Timeline => {
                let target = step(self.step, self.timeline.frames.len());
                self.select_step(target);
            }
        }
    }

    fn edit_ask(&mut self, edit: impl FnOnce(&mut String)) {
        let Some(mut input) = self.ask.take() else {
            return;
        };
        edit(&mut input.text);
        input.preview = if input.text.trim().is_empty() {
            None
        } else {
            Some(self.decide_line(&input.text))
        };
        self.ask = Some(input);
        self.decision_scroll = 0;
    }

    fn submit_ask(&mut self) {
        let Some(input) = self.ask.take() else {
            return;
        };
        match self.decide_line(&input.text) {
            Ok(asked) => {
                self.asked.push(asked);
                self.request = Some(self.timeline.sent_by(self.step).len() + self.asked.len() - 1);
                self.focus = Pane::Requests;
                self.decision_scroll = 0;
            }
            // Keep the line open with its error.
            Err(error) => {
                self.ask = Some(AskInput {
                    preview: Some(Err(error)),
                    ..input
                })
            }
        }
    }

    /// The Gateway an asked request goes to when it names none: the one of the selected
    /// resource, else the one of the selected sent request.
    fn default_gateway(&self) -> Option<ObjectKey> {
        if let Some(gw) = self.selected_node().and_then(|n| n.gateway.clone()) {
            return Some(gw);
        }
        match self.selected_request() {
            Some(RequestRow::Sent(r)) => r.request.gateway.clone(),
            Some(RequestRow::Asked(a)) => a.request.gateway.clone(),
            None => None,
        }
    }

    fn decide_line(&self, line: &str) -> Result<Asked, String> {
        let mut request = parse_request_line(line).map_err(|e| e.to_string())?;
        if request.gateway.is_none() {
            request.gateway = self.default_gateway();
        }
        let decision = self.decide(&request);
        Ok(Asked {
            line: line.to_string(),
            request,
            decision,
        })
    }

    /// Decides against the selected frame's table, with the run's seed: the same request
    /// gets the same weighted choice every time.
    fn decide(&self, request: &Request) -> Decision {
        let mut rng = ChaCha8Rng::seed_from_u64(self.timeline.seed);
        self.frame().table.decide(request, &mut rng)
    }

    /// Asked requests follow the selected step: each is decided again against its table.
    fn redecide_asked(&mut self) {
        let decisions: Vec<Decision> = self.asked.iter().map(|a| self.decide(&a.request)).collect();
        for (asked, decision) in self.asked.iter_mut().zip(decisions) {
            asked.decision = decision;
        }
        if let Some(input) = self.ask.take() {
            let preview = match input.preview {
                Some(_) => Some(self.decide_line(&input.text)),
                None => None,
            };
            self.ask = Some(AskInput { preview, ..input });
        }
    }

    /// A reload: a new frame, selected when the last one was.
    fn loaded(&mut self, mut frame: Frame) {
        self.load_error = None;
        let following = self.step + 1 == self.timeline.frames.len();
        frame.number = self.timeline.frames.last().map_or(1, |f| f.number + 1);
        self.timeline.frames.push(frame);
        if following {
            self.select_step(self.timeline.frames.len() - 1);
        }
    }
}
