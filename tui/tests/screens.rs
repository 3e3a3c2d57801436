//! Whole screens: the application driven by keys (through the same key map as the terminal)
//! and drawn into ratatui's `TestBackend`, compared with insta snapshots under
//! `tests/snapshots/`. A changed screen fails; review the new `.snap.new` file and accept it
//! with `INSTA_UPDATE=always cargo test -p gwsim-tui` (or `cargo insta review`).

use std::path::{Path, PathBuf};

use gwsim_tui::app::{Action, App, Pane, RequestRow};
use gwsim_tui::keys::action_for;
use gwsim_tui::timeline::{Frame, FrameStatus, Timeline};
use gwsim_tui::ui::draw;
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

/// The store scenario: two passing requests, a backend broken, a failing step, one not run.
fn store() -> App {
    App::new(Timeline::from_scenario_file(&testdata("tui/store.yaml")).expect("runs"))
}

/// The files fixture, by a relative path (tests run in the crate's folder) so that the
/// screens do not depend on where the checkout is.
fn files() -> App {
    let paths = vec![PathBuf::from("../testdata/tui/files")];
    let inputs = gwsim_sim::inputs::load(&paths).expect("loads");
    App::new(Timeline::from_files(paths, &inputs))
}

fn terminal(width: u16, height: u16) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(width, height)).expect("test backend")
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut t = terminal(width, height);
    t.draw(|f| draw(app, f)).expect("draws");
    t.backend().to_string()
}

fn press(app: &mut App, code: KeyCode) {
    press_with(app, code, KeyModifiers::NONE);
}

fn press_with(app: &mut App, code: KeyCode, modifiers: KeyModifiers) {
    if let Some(action) = action_for(app, KeyEvent::new(code, modifiers)) {
        app.update(action);
    }
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

#[test]
fn opens_on_the_state_before_the_first_step() {
    let app = store();
    assert_eq!(app.step, 0);
    assert_snapshot!("start_80x24", screen(&app, 80, 24));
}

#[test]
fn stepping_forward_shows_the_request_the_step_sent() {
    let mut app = store();
    press(&mut app, KeyCode::Right);
    assert_eq!(app.frame().number, 1);
    assert_snapshot!("step1_80x24", screen(&app, 80, 24));
    press(&mut app, KeyCode::Char('n'));
    assert_snapshot!("step2_120x40", screen(&app, 120, 40));
    // Back is instant and shows the same screen as before.
    press(&mut app, KeyCode::Left);
    assert_eq!(screen(&app, 80, 24), screen(&store_at(1), 80, 24));
    // Run to the end: the last step that ran (the sixth did not).
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.frame().number, 5);
    press(&mut app, KeyCode::Right);
    assert_eq!(
        app.frame().number,
        5,
        "nothing after the last step that ran"
    );
    press(&mut app, KeyCode::Home);
    assert_eq!(app.frame().number, 0);
}

fn store_at(step: usize) -> App {
    let mut app = store();
    for _ in 0..step {
        app.update(Action::StepForward);
    }
    app
}

#[test]
fn jumps_to_the_failed_step() {
    let mut app = store();
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.frame().number, 5);
    assert_eq!(app.frame().status, FrameStatus::Failed);
    assert_snapshot!("failure_80x24", screen(&app, 80, 24));
    assert_snapshot!("failure_120x40", screen(&app, 120, 40));

    // The failed step's glyph is red in the Timeline pane.
    let mut t = terminal(120, 40);
    t.draw(|f| draw(&app, f)).expect("draws");
    let buffer = t.backend().buffer();
    let row = (0..40u16)
        .find(|&y| {
            (0..60u16)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .contains("expects the API to still answer")
        })
        .expect("the failed step is listed");
    let mark = (0..60u16)
        .find(|&x| buffer[(x, row)].symbol() == "✗")
        .expect("marked failed");
    assert_eq!(buffer[(mark, row)].fg, Color::Red);
    // Selected, and the pane has the focus: reversed and bold.
    assert!(buffer[(mark, row)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn selecting_a_request_shows_its_decision() {
    let mut app = store_at(2);
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.focus, Pane::Requests);
    assert_eq!(app.request, Some(1), "the step's newest request");
    press(&mut app, KeyCode::Up);
    assert_eq!(app.request, Some(0));
    assert_snapshot!("select_request_80x24", screen(&app, 80, 24));
    press(&mut app, KeyCode::Up);
    assert_eq!(app.request, Some(0), "stays on the first");
}

#[test]
fn selecting_a_resource_shows_its_conditions() {
    let mut app = store_at(3);
    press(&mut app, KeyCode::Char('1'));
    // GatewayClass, Gateway, listener, route: the route reports the missing Service.
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    let node = app.selected_node().expect("a node").clone();
    assert_eq!(node.label, "HTTPRoute store");
    assert!(node.reason.contains("BackendNotFound"), "{}", node.reason);
    assert_snapshot!("select_resource_80x24", screen(&app, 80, 24));
    // The selection stays on the same node when stepping.
    press(&mut app, KeyCode::Left);
    assert_eq!(
        app.selected_node().map(|n| n.label.as_str()),
        Some("HTTPRoute store")
    );
    assert_snapshot!("select_resource_before_120x40", screen(&app, 120, 40));
}

#[test]
fn each_pane_zoomed() {
    let mut app = store_at(5);
    for (key, pane, name) in [
        ('1', Pane::Resources, "zoom_resources_80x24"),
        ('2', Pane::Requests, "zoom_requests_80x24"),
        ('3', Pane::Decision, "zoom_decision_80x24"),
        ('4', Pane::Timeline, "zoom_timeline_80x24"),
    ] {
        press(&mut app, KeyCode::Char(key));
        press(&mut app, KeyCode::Char('z'));
        assert_eq!(app.focus, pane);
        assert_snapshot!(name, screen(&app, 80, 24));
        press(&mut app, KeyCode::Char('z'));
    }
}

#[test]
fn scrolls_the_decision() {
    let mut app = store_at(5);
    press(&mut app, KeyCode::Char('3'));
    let before = screen(&app, 80, 24);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.decision_scroll, 2);
    assert_ne!(before, screen(&app, 80, 24));
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.decision_scroll, 0);
    // Not past the end.
    for _ in 0..10 {
        press(&mut app, KeyCode::PageDown);
    }
    let at_end = app.decision_scroll;
    press(&mut app, KeyCode::Down);
    assert_eq!(app.decision_scroll, at_end, "not past the last line");
    let text = screen(&app, 80, 24);
    assert!(text.contains("of 1)"), "the last line shows:\n{text}");
    press(&mut app, KeyCode::Up);
    assert_eq!(app.decision_scroll, at_end - 1, "one press scrolls back");
    // A larger screen needs less scrolling.
    app.update(Action::Resize(120, 40));
    assert!(app.decision_scroll < at_end - 1);
}

#[test]
fn asking_decides_as_you_type_and_follows_the_steps() {
    let mut app = store_at(5);
    press(&mut app, KeyCode::Char('a'));
    assert!(app.ask.is_some());
    assert_snapshot!("ask_empty_80x24", screen(&app, 80, 24));
    type_text(
        &mut app,
        "GET http://store.example/api/cart -H 'x-user: ann'",
    );
    assert_snapshot!("ask_typing_80x24", screen(&app, 80, 24));
    press(&mut app, KeyCode::Enter);
    assert!(app.ask.is_none());
    assert_eq!(app.focus, Pane::Requests);
    let Some(RequestRow::Asked(asked)) = app.selected_request() else {
        panic!("the asked request is selected");
    };
    assert!(asked.decision.explanation.outcome.starts_with("500"));
    assert_snapshot!("asked_at_step5_80x24", screen(&app, 80, 24));

    // Two steps back, the api backend still existed: the same request is forwarded.
    press(&mut app, KeyCode::Char('p'));
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(app.frame().number, 3);
    let Some(RequestRow::Asked(asked)) = app.selected_request() else {
        panic!("the asked request stays selected");
    };
    assert!(asked.decision.explanation.outcome.starts_with("500"));
    press(&mut app, KeyCode::Char('p'));
    let Some(RequestRow::Asked(asked)) = app.selected_request() else {
        panic!("the asked request stays selected");
    };
    assert!(
        asked.decision.explanation.outcome.starts_with("forwarded"),
        "{}",
        asked.decision.explanation.outcome
    );
    assert_snapshot!("asked_at_step2_120x40", screen(&app, 120, 40));
}

#[test]
fn asking_says_what_is_wrong_with_the_line() {
    let mut app = store_at(1);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "GET store.example/");
    assert_snapshot!("ask_error_80x24", screen(&app, 80, 24));
    // Enter keeps the line open while it is wrong; Ctrl-U clears it; Esc closes it.
    press(&mut app, KeyCode::Enter);
    assert!(app.ask.is_some());
    press_with(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(app.ask.as_ref().map(|a| a.text.as_str()), Some(""));
    type_text(&mut app, "q");
    assert!(!app.quit, "q is text in the Ask line");
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Esc);
    assert!(app.ask.is_none());
    assert!(app.asked.is_empty());
}

#[test]
fn survives_resizing() {
    let mut app = store_at(5);
    // Scrolled to the end of the decision: a resize keeps the scroll within the new end.
    app.update(Action::Focus(Pane::Decision));
    app.update(Action::Move(100));
    let mut t = terminal(80, 24);
    for (width, height, name) in [
        (80, 24, Some("resize_80x24")),
        (120, 40, None),
        (50, 16, Some("resize_50x16")),
        (20, 5, Some("resize_20x5")),
        (1, 1, None),
        (200, 60, None),
        (80, 24, None),
    ] {
        // As the event loop does on a resize event.
        t.backend_mut().resize(width, height);
        app.update(Action::Resize(width, height));
        t.draw(|f| draw(&app, f)).expect("draws at any size");
        let text = t.backend().to_string();
        if let Some(name) = name {
            assert_snapshot!(name, text);
        }
    }
    assert_eq!(t.backend().to_string(), screen(&app, 80, 24));
}

#[test]
fn help_lists_every_key() {
    let mut app = store_at(1);
    press(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    assert_snapshot!("help_80x24", screen(&app, 80, 24));
    // Any key closes it; q still quits.
    press(&mut app, KeyCode::Char('x'));
    assert!(!app.help);
    press(&mut app, KeyCode::Char('?'));
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn focus_cycles_through_the_panes() {
    let mut app = store();
    assert_eq!(app.focus, Pane::Timeline);
    let mut seen = Vec::new();
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
        seen.push(app.focus);
    }
    assert_eq!(
        seen,
        [
            Pane::Resources,
            Pane::Requests,
            Pane::Decision,
            Pane::Timeline
        ]
    );
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Pane::Decision);
    press_with(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.quit);
}

#[test]
fn files_show_refused_and_ignored_documents() {
    let app = files();
    assert!(app.watching_files());
    assert_snapshot!("files_100x30", screen(&app, 100, 30));
    assert_snapshot!("files_80x24", screen(&app, 80, 24));
}

/// A long line of the Decision pane goes on indented under its text, never from the pane's
/// left edge.
#[test]
fn the_decision_pane_wraps_with_indented_continuations() {
    let mut app = store();
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('z'));
    press(&mut app, KeyCode::Char('3'));
    let text = screen(&app, 80, 24);
    assert!(
        text.contains("┃      store.example (no hostname, so any host)"),
        "{text}"
    );
}

#[test]
fn files_reloaded_become_new_frames() {
    let mut app = files();
    type_text(&mut app, "a");
    type_text(&mut app, "GET http://store.example/api");
    press(&mut app, KeyCode::Enter);
    let outcome = |app: &App| match app.selected_request() {
        Some(RequestRow::Asked(a)) => a.decision.explanation.outcome.clone(),
        _ => String::new(),
    };
    assert!(outcome(&app).starts_with("500"), "{}", outcome(&app));

    // The files changed on disk: the api Service now exists.
    let mut paths = vec![PathBuf::from("../testdata/tui/files")];
    let dir = std::env::temp_dir().join(format!("gwsim-tui-screens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let api = dir.join("api.yaml");
    std::fs::write(
        &api,
        "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: default}\n\
         spec: {ports: [{port: 8080}]}\n",
    )
    .expect("write");
    paths.push(api);
    let inputs = gwsim_sim::inputs::load(&paths).expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    app.update(Action::Loaded(Box::new(Frame::from_inputs(
        &inputs,
        0,
        "reloaded".to_string(),
    ))));
    assert_eq!(app.step, 1, "the new frame is shown");
    assert_eq!(app.frame().number, 2);
    assert!(outcome(&app).starts_with("forwarded"), "{}", outcome(&app));
    assert_snapshot!("files_reloaded_100x30", screen(&app, 100, 30));

    // A broken reload keeps the last good state and says why.
    app.update(Action::LoadFailed(
        "routes.yaml:3:1: document 0: mapping values are not allowed here".to_string(),
    ));
    assert_eq!(app.timeline.frames.len(), 2);
    assert_snapshot!("files_reload_failed_100x30", screen(&app, 100, 30));
    // At 80x24 too, a long error is shown whole, wrapped in its box.
    app.update(Action::LoadFailed(
        "routes.yaml:21:9: document 2: HTTPRoute \"bad-path\" is invalid: spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']".to_string(),
    ));
    let small = screen(&app, 80, 24);
    assert!(small.contains("when type one of"), "{small}");
    assert_snapshot!("files_reload_failed_80x24", small);
    press(&mut app, KeyCode::Left);
    assert!(outcome(&app).starts_with("500"), "back to the first load");
}
