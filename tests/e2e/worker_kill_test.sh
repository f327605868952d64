#!/usr/bin/env bash
# A worker SIGKILLed mid-trial: its lease expires, the trial is retried by
# another worker, and the study completes with every trial exactly once.
source "$(dirname "$0")/lib.sh"

DB="$TMP/trials.db"
start_controller "$DB"
cat >"$TMP/spec.json" <<JSON
{"name": "kill-worker", "direction": "minimize",
 "space": {"x": {"type": "float", "low": -5, "high": 10},
           "y": {"type": "float", "low": 0, "high": 15}},
 "sampler": {"type": "random", "seed": 1},
 "objective": {"type": "builtin", "function": "branin", "sleep_ms": 3000, "steps": 3},
 "max_trials": 4, "parallelism": 1, "lease_seconds": 2, "max_attempts": 3}
JSON
cli submit "$TMP/spec.json" >/dev/null
start_worker victim
VICTIM=$WORKER_PID
# Wait until the victim holds trial 0 and has reported progress.
wait_for "[[ \$(sqlite3 '$DB' \"SELECT COUNT(*) FROM events WHERE kind='leased'\") -ge 1 ]]" 20
sleep 1.2
kill -9 "$VICTIM"
echo "killed worker $VICTIM mid-trial"
start_worker rescuer
wait_study_complete kill-worker 90
check_exactly_once "$DB" kill-worker 4
attempt=$(sqlite3 "$DB" "SELECT attempt FROM trials WHERE number=0")
[[ "$attempt" -ge 1 ]] || fail "trial 0 attempt $attempt, want >= 1 (it should have been retried)"
expired=$(sqlite3 "$DB" "SELECT COUNT(*) FROM events WHERE kind='expired' AND trial_number=0")
[[ "$expired" -ge 1 ]] || fail "no expiry event for trial 0"
echo PASS
