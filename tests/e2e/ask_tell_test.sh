#!/usr/bin/env bash
# Ask/tell from the CLI for an external objective: the caller evaluates each
# asked trial itself and tells the value back; the study completes.
source "$(dirname "$0")/lib.sh"

DB="$TMP/trials.db"
start_controller "$DB"
cat >"$TMP/spec.json" <<JSON
{"name": "external", "direction": "minimize",
 "space": {"x": {"type": "float", "low": -3, "high": 3},
           "opt": {"type": "categorical", "choices": ["a", "b"]}},
 "sampler": {"type": "tpe", "seed": 5, "n_startup_trials": 3},
 "objective": {"type": "external"}, "max_trials": 8}
JSON
cli submit "$TMP/spec.json" >/dev/null
for i in $(seq 0 7); do
  cli ask external >"$TMP/ask.out"
  number=$(awk 'NR==1 {print $2}' "$TMP/ask.out")
  [[ "$number" == "$i" ]] || fail "asked trial $number, want $i: $(cat "$TMP/ask.out")"
  value=$(sed -n 2p "$TMP/ask.out" | /usr/bin/python3 -c \
    'import json,sys; p=json.load(sys.stdin); print((p["x"]-1)**2 + (0 if p["opt"]=="b" else 1))')
  cli tell external "$number" "$value" | tee -a "$TMP/tell.out"
  # Telling the same value again is harmless (idempotent).
  cli tell external "$number" "$value" >/dev/null
done
wait_study_complete external 10
check_exactly_once "$DB" external 8
set +e
cli ask external >"$TMP/ask9.out" 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a ninth ask should be refused"
grep -qi "FAILED_PRECONDITION" "$TMP/ask9.out" || fail "ninth ask: $(cat "$TMP/ask9.out")"
echo PASS
