# Shared helpers for the end-to-end tests: real controller and worker
# processes on loopback, a real SQLite file, the real CLI. Sourced by each
# *_test.sh; every process started here is SIGKILLed on exit.
set -euo pipefail

RUNFILES_ROOT="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)/bazel-bin/tests/e2e/$(basename "$0" .sh).runfiles}"
BIN="$RUNFILES_ROOT/peftsearch"
CTL="$BIN/controller/peftsearch-controller"
WRK="$BIN/worker/daemon/peftsearch-worker"
CLI="$BIN/controller/cli/peftsearch"
TMP="${TEST_TMPDIR:-$(mktemp -d)}/$(basename "$0" .sh)"
rm -rf "$TMP" && mkdir -p "$TMP"
PIDS=()

cleanup() {
  local status=$?
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill -9 -- "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    echo "---- controller log (tail) ----"; tail -n 40 "$TMP"/controller*.log 2>/dev/null || true
    echo "---- worker logs (tail) ----"; tail -n 20 "$TMP"/worker*.log 2>/dev/null || true
  fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_for "command" seconds: polls until the command succeeds.
wait_for() {
  local cmd="$1" limit="$2" start=$SECONDS
  until eval "$cmd" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || fail "timed out after ${limit}s waiting for: $cmd"
    sleep 0.2
  done
}

# start_controller DB [PORT]: starts a controller; sets CTL_PID and ADDR.
start_controller() {
  local db="$1" port="${2:-0}"
  rm -f "$TMP/addr"
  "$CTL" --listen "127.0.0.1:$port" --db "$db" --address-file "$TMP/addr" \
    --sweep-interval-ms 200 --heartbeat-interval-ms 300 --restart-grace-ms 3000 \
    >>"$TMP/controller.log" 2>&1 &
  CTL_PID=$!
  PIDS+=("$CTL_PID")
  wait_for "test -s '$TMP/addr'" 20
  ADDR=$(cat "$TMP/addr")
  export PEFTSEARCH_CONTROLLER="$ADDR"
}

# start_worker NAME [SLOTS]: starts a worker daemon; sets WORKER_PID.
start_worker() {
  local name="$1" slots="${2:-1}"
  "$WRK" --controller "$ADDR" --slots "$slots" --workdir "$TMP/work-$name" --name "$name" \
    >>"$TMP/worker-$name.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
}

cli() { "$CLI" --controller "$ADDR" "$@"; }

# study_state NAME: prints RUNNING / COMPLETE / CANCELLED from the store.
study_state() { sqlite3 "$DB" "SELECT state FROM studies WHERE name='$1'" 2>/dev/null; }

wait_study_complete() {
  local name="$1" limit="$2"
  wait_for "[[ \$(study_state '$name') == 2 ]]" "$limit"
}

# check_exactly_once DB STUDY N: trial numbers 0..N-1 each present once and
# COMPLETE, one "complete" event per trial, and an intact file.
check_exactly_once() {
  local db="$1" study="$2" n="$3"
  local sid
  sid=$(sqlite3 "$db" "SELECT id FROM studies WHERE name='$study'")
  local rows distinct complete max_number events integrity
  rows=$(sqlite3 "$db" "SELECT COUNT(*) FROM trials WHERE study_id=$sid")
  distinct=$(sqlite3 "$db" "SELECT COUNT(DISTINCT number) FROM trials WHERE study_id=$sid")
  complete=$(sqlite3 "$db" "SELECT COUNT(*) FROM trials WHERE study_id=$sid AND state=3")
  max_number=$(sqlite3 "$db" "SELECT MAX(number) FROM trials WHERE study_id=$sid")
  events=$(sqlite3 "$db" "SELECT COUNT(*) FROM (SELECT trial_number, COUNT(*) c FROM events \
            WHERE study_id=$sid AND kind='complete' GROUP BY trial_number HAVING c = 1)")
  integrity=$(sqlite3 "$db" "PRAGMA integrity_check")
  [[ "$rows" == "$n" ]] || fail "$study: $rows trial rows, want $n"
  [[ "$distinct" == "$n" ]] || fail "$study: $distinct distinct numbers, want $n"
  [[ "$max_number" == "$((n - 1))" ]] || fail "$study: max trial number $max_number, want $((n - 1))"
  [[ "$complete" == "$n" ]] || fail "$study: $complete COMPLETE trials, want $n"
  [[ "$events" == "$n" ]] || fail "$study: $events trials with exactly one complete event, want $n"
  [[ "$integrity" == "ok" ]] || fail "integrity_check: $integrity"
}
