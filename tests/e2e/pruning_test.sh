#!/usr/bin/env bash
# The median pruner, fed by progress lines that real workers forward, prunes
# bad trials mid-run; their worker kills the child and reports nothing more.
source "$(dirname "$0")/lib.sh"

DB="$TMP/trials.db"
start_controller "$DB"
start_worker p1 2
start_worker p2 2
cat >"$TMP/spec.json" <<JSON
{"name": "pruned", "direction": "minimize",
 "space": {"x0": {"type": "float", "low": -5, "high": 5},
           "x1": {"type": "float", "low": -5, "high": 5}},
 "sampler": {"type": "random", "seed": 11},
 "pruner": {"type": "median", "n_startup_trials": 3, "n_warmup_steps": 0},
 "objective": {"type": "builtin", "function": "sphere", "sleep_ms": 1500, "steps": 5},
 "max_trials": 16, "parallelism": 4}
JSON
cli submit "$TMP/spec.json" >/dev/null
wait_study_complete pruned 120
pruned=$(sqlite3 "$DB" "SELECT COUNT(*) FROM trials WHERE state=4")
complete=$(sqlite3 "$DB" "SELECT COUNT(*) FROM trials WHERE state=3")
echo "complete=$complete pruned=$pruned"
[[ "$pruned" -ge 2 ]] || fail "only $pruned trials pruned"
[[ $((pruned + complete)) -eq 16 ]] || fail "complete+pruned = $((pruned + complete)), want 16"
# A pruned trial keeps its last reported value and says why.
sqlite3 "$DB" "SELECT message FROM trials WHERE state=4 LIMIT 1" | grep -q "median pruner" \
  || fail "pruned trial has no reason"
# Its child was stopped early: fewer progress values than steps.
short=$(sqlite3 "$DB" "SELECT COUNT(*) FROM trials t WHERE state=4 AND \
  (SELECT COUNT(*) FROM intermediate_values i WHERE i.trial_id=t.id) < 5")
[[ "$short" -ge 1 ]] || fail "no pruned trial stopped before its last step"
grep -q "reason=pruned" "$TMP"/worker-*.log || fail "workers did not log stopping a pruned trial"
echo PASS
