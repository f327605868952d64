#!/usr/bin/env bash
# The controller SIGKILLed mid-study and restarted on the same address: the
# workers reconnect, the study completes, every trial number exactly once,
# and PRAGMA integrity_check is ok.
source "$(dirname "$0")/lib.sh"

DB="$TMP/trials.db"
start_controller "$DB"
PORT="${ADDR##*:}"
start_worker a 2
start_worker b 2
cat >"$TMP/spec.json" <<JSON
{"name": "restart", "direction": "minimize",
 "space": {"x": {"type": "float", "low": -5, "high": 10},
           "y": {"type": "float", "low": 0, "high": 15}},
 "sampler": {"type": "tpe", "seed": 3},
 "objective": {"type": "builtin", "function": "branin", "sleep_ms": 400, "steps": 2},
 "max_trials": 24, "parallelism": 4, "lease_seconds": 5}
JSON
cli submit "$TMP/spec.json" >/dev/null
for round in 1 2; do
  want=$((round * 6))
  wait_for "[[ \$(sqlite3 '$DB' 'SELECT COUNT(*) FROM trials WHERE state=3') -ge $want ]]" 60
  kill -9 "$CTL_PID"
  echo "round $round: controller SIGKILLed with $(sqlite3 "$DB" 'SELECT COUNT(*) FROM trials WHERE state=3') complete"
  sleep 1
  start_controller "$DB" "$PORT"
done
wait_study_complete restart 120
check_exactly_once "$DB" restart 24
echo PASS
