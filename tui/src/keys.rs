//! Keys into actions, and the key list the help line and the `?` page show.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::{Action, App, Pane};

/// Rows a page key moves.
const PAGE: i32 = 10;

/// Every key, for the `?` page: (keys, what they do), grouped under headings.
pub const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Timeline",
        &[
            ("→ l n", "step forward"),
            ("← h p", "step back"),
            ("g Home", "first step"),
            ("G End e", "run to the end"),
            ("f", "jump to the next failed step"),
        ],
    ),
    (
        "Panes",
        &[
            ("Tab S-Tab", "next / previous pane"),
            ("1 2 3 4", "Resources, Requests, Decision, Timeline"),
            ("↑↓ j k", "select in the pane (scroll Decision)"),
            ("PgUp PgDn", "ten rows at a time"),
            ("z", "zoom the pane to the whole screen"),
        ],
    ),
    (
        "Ask",
        &[
            ("a /", "type a request: GET http://host/path -H 'x: y'"),
            ("", "  -g NS/NAME picks the Gateway (default: selected)"),
            ("Enter", "keep it in Requests (it follows the steps)"),
            ("Esc", "close the line; Ctrl-U clears it"),
        ],
    ),
    (
        "",
        &[("?", "this page (Esc closes it)"), ("q Ctrl-C", "quit")],
    ),
];

/// The one-line reminder at the bottom of the screen.
pub const HELP_LINE: &str =
    "q quit  ? keys  ←→ step  G end  f failure  Tab pane  ↑↓ select  a ask  z zoom";

/// The reminder while the Ask line is open.
pub const ASK_HELP_LINE: &str = "Enter keep  Esc close  Ctrl-U clear  -H 'name: value'  -g NS/NAME";

/// The action for a key, if any.
pub fn action_for(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if app.ask.is_some() {
        return match key.code {
            KeyCode::Enter => Some(Action::AskSubmit),
            KeyCode::Esc => Some(Action::AskCancel),
            KeyCode::Backspace => Some(Action::AskBackspace),
            KeyCode::Char('u') if ctrl => Some(Action::AskClear),
            KeyCode::Char(c) if !ctrl => Some(Action::AskType(c)),
            _ => None,
        };
    }
    if app.help {
        return match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            // Any other key closes the page.
            _ => Some(Action::ToggleHelp),
        };
    }
    let action = match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrevious,
        KeyCode::Char('1') => Action::Focus(Pane::Resources),
        KeyCode::Char('2') => Action::Focus(Pane::Requests),
        KeyCode::Char('3') => Action::Focus(Pane::Decision),
        KeyCode::Char('4') => Action::Focus(Pane::Timeline),
        KeyCode::Char('z') => Action::ToggleZoom,
        KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('n') => Action::StepForward,
        KeyCode::Left | KeyCode::Char('h') | KeyCode::Char('p') => Action::StepBack,
        KeyCode::Home | KeyCode::Char('g') => Action::FirstStep,
        KeyCode::End | KeyCode::Char('G') | KeyCode::Char('e') => Action::LastStep,
        KeyCode::Char('f') => Action::NextFailure,
        KeyCode::Up | KeyCode::Char('k') => Action::Move(-1),
        KeyCode::Down | KeyCode::Char('j') => Action::Move(1),
        KeyCode::PageUp => Action::Move(-PAGE),
        KeyCode::PageDown => Action::Move(PAGE),
        KeyCode::Char('a') | KeyCode::Char('/') => Action::AskOpen,
        _ => return None,
    };
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Timeline;

    fn app() -> App {
        let paths = vec![std::path::PathBuf::from("../testdata/tui/files")];
        let inputs = gwsim_sim::inputs::load(&paths).expect("loads");
        App::new(Timeline::from_files(paths, &inputs))
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    /// The action as text: actions carry frames, which do not compare.
    fn mapped(app: &App, code: KeyCode) -> String {
        format!("{:?}", action_for(app, key(code)))
    }

    #[test]
    fn keys_map_to_actions_by_mode() {
        let mut app = app();
        let normal = [
            (KeyCode::Char('l'), "Some(StepForward)"),
            (KeyCode::Char('h'), "Some(StepBack)"),
            (KeyCode::Char('g'), "Some(FirstStep)"),
            (KeyCode::End, "Some(LastStep)"),
            (KeyCode::Char('e'), "Some(LastStep)"),
            (KeyCode::Char('j'), "Some(Move(1))"),
            (KeyCode::Char('k'), "Some(Move(-1))"),
            (KeyCode::PageDown, "Some(Move(10))"),
            (KeyCode::Char('3'), "Some(Focus(Decision))"),
            (KeyCode::Char('x'), "None"),
            (KeyCode::Enter, "None"),
        ];
        for (code, expected) in normal {
            assert_eq!(mapped(&app, code), expected, "{code:?}");
        }
        // In the Ask line, letters are text.
        app.update(Action::AskOpen);
        assert_eq!(mapped(&app, KeyCode::Char('l')), "Some(AskType('l'))");
        assert_eq!(mapped(&app, KeyCode::Left), "None");
        assert_eq!(mapped(&app, KeyCode::Enter), "Some(AskSubmit)");
        app.update(Action::AskCancel);
        // On the help page, any key closes it.
        app.update(Action::ToggleHelp);
        assert_eq!(mapped(&app, KeyCode::Right), "Some(ToggleHelp)");
        // Key releases are not presses.
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert!(action_for(&app, release).is_none());
    }

    #[test]
    fn the_help_page_lists_every_key_of_the_help_line() {
        let listed: Vec<&str> = HELP
            .iter()
            .flat_map(|(_, keys)| keys.iter())
            .flat_map(|(keys, _)| keys.split(' '))
            .collect();
        for word in HELP_LINE.split("  ") {
            let key = word.split(' ').next().unwrap_or_default();
            // The help line shows a pair where the page shows each arrow.
            let key = if key == "←→" { "→" } else { key };
            assert!(listed.contains(&key), "{key} is not on the help page");
        }
    }
}
