#!/usr/bin/env bash
# Smoke test of `gwsim tui` in a real terminal: the binary runs in a detached tmux session at
# 80x24; keys are sent (step forward, select a request, ask, help, resize, quit) and the screen
# is read back. Checks that the expected text appears, that q ends the process with status 0,
# and that the terminal is restored: main screen, cursor shown, raw mode off.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null 2>&1 || { echo "smoke: tmux is missing" >&2; exit 1; }
# The binary cargo builds, wherever CARGO_TARGET_DIR puts it; release, the profile CI builds.
bin=$(cargo build --release --quiet --bin gwsim --message-format=json \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "smoke: cargo did not report the gwsim binary" >&2; exit 1; }
scenario=testdata/scenarios/change-over-time.yaml

work=$(mktemp -d)
session="gwsim-smoke-$$"
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "smoke: $1" >&2
  echo "---- screen ----" >&2
  tmux capture-pane -p -t "$session" >&2 || true
  exit 1
}

# Waits up to 10 s for the screen to contain a text.
wait_for() {
  local text=$1
  for _ in $(seq 100); do
    if tmux capture-pane -p -t "$session" | grep -qF -- "$text"; then
      return 0
    fi
    sleep 0.1
  done
  fail "never saw: $text"
}

screen_lacks() {
  if tmux capture-pane -p -t "$session" | grep -qF -- "$1"; then
    fail "still showing: $1"
  fi
}

# After the program ends, the shell records its status and the terminal's modes.
tmux new-session -d -s "$session" -x 80 -y 24 \
  "$bin tui $scenario; echo \$? > $work/status; stty -a > $work/stty; echo SHELL-IS-BACK; sleep 60"

wait_for "manifests applied"
wait_for "q quit  ? keys"
[ "$(tmux display-message -p -t "$session" '#{alternate_on}')" = 1 ] \
  || fail "the UI is not on the alternate screen"

# Step forward to the first request step (step 4 sends req-000001).
for _ in 1 2 3 4; do tmux send-keys -t "$session" Right; done
wait_for "step 4/9"
wait_for "req-000001"

# Run to the end, focus Requests, select the one before the newest.
tmux send-keys -t "$session" G
wait_for "step 9/9"
tmux send-keys -t "$session" 2 Up
wait_for "Decision: req-000002"
wait_for "response 200 from pod"

# Ask a request and keep it.
tmux send-keys -t "$session" a
wait_for "ask>"
tmux send-keys -t "$session" -l "GET http://x.example/app -g gateway-conformance-infra/all-namespaces"
wait_for "the request being typed"
tmux send-keys -t "$session" Enter
wait_for "Decision: asked, at step 9"

# The key page, and any key closes it.
tmux send-keys -t "$session" '?'
wait_for "Keys (any key closes)"
tmux send-keys -t "$session" x
sleep 0.3
screen_lacks "Keys (any key closes)"

# Survives resizing.
tmux resize-window -t "$session" -x 120 -y 40
wait_for "4 Timeline"
tmux resize-window -t "$session" -x 24 -y 6
wait_for "gwsim tui: make the"
tmux resize-window -t "$session" -x 80 -y 24
wait_for "4 Timeline"

tmux send-keys -t "$session" q
for _ in $(seq 100); do
  [ -s "$work/status" ] && break
  sleep 0.1
done
[ -s "$work/status" ] || fail "q did not end the program"
[ "$(cat "$work/status")" = 0 ] || fail "exit status $(cat "$work/status")"
wait_for "SHELL-IS-BACK"
screen_lacks "4 Timeline"
[ "$(tmux display-message -p -t "$session" '#{alternate_on}')" = 0 ] \
  || fail "still on the alternate screen"
[ "$(tmux display-message -p -t "$session" '#{cursor_flag}')" = 1 ] \
  || fail "the cursor is hidden"
grep -qE '(^| )icanon( |$)' "$work/stty" || fail "raw mode is still on (no icanon)"
grep -qE '(^| )echo( |$)' "$work/stty" || fail "raw mode is still on (no echo)"

echo "tui smoke test: ok"
