#!/usr/bin/env bash
# The hybrid PEFT search with real training: a controller and two workers
# running peftsearch-train, a 3 + 3 study on tiny mini-VTAB tasks with a small
# random-init Vim. Every trial is stored with its phase, step 2 starts from
# step 1's best combination, and the final trial is scored on the test split.
source "$(dirname "$0")/lib.sh"

TRAIN="$BIN/worker/train/peftsearch-train"
MAKER="$BIN/tools/make_mini_vtab"
DATA="$TMP/mini_vtab"
/usr/bin/python3 "$MAKER" --root "$DATA" --train 24 --val 12 --test 12 --pretrain-train 10 --pretrain-val 10 >/dev/null

DB="$TMP/trials.db"
start_controller "$DB"
for w in t1 t2; do
  "$WRK" --controller "$ADDR" --slots 1 --workdir "$TMP/work-$w" --name "$w" --trainer "$TRAIN" \
    >>"$TMP/worker-$w.log" 2>&1 &
  PIDS+=($!)
done
# write_spec FILE NAME SEED STRATEGY_JSON: a hybrid study on the tiny tasks
# (one epoch, a random-init 2-layer Vim); the studies differ in strategy.
write_spec() {
  cat >"$1" <<JSON
{"name": "$2", "direction": "maximize",
 "strategy": $4,
 "sampler": {"type": "tpe", "seed": $3},
 "objective": {"type": "peft_vim", "trial": {
   "backbone": {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2},
   "weights": {"random_init": 7},
   "data_root": "$DATA",
   "recipe": {"epochs": 1, "warmup_epochs": 0, "batch_size": 8, "drop_path": 0.0},
   "threads": 1}},
 "parallelism": 2, "lease_seconds": 60}
JSON
}

write_spec "$TMP/spec.json" hybrid-e2e 2 '{"type": "hybrid_peft", "n1": 3, "n2": 3, "final": true,
  "methods": ["cls_token", "a", "lora_p_x", "lora_out_proj", "prompt", "bias"]}'
cli submit "$TMP/spec.json" >/dev/null
wait_study_complete hybrid-e2e 240

phases=$(sqlite3 "$DB" "SELECT group_concat(phase, '') FROM (SELECT phase FROM trials ORDER BY number)")
[[ "$phases" == "1112223" ]] || fail "phases by trial number: $phases, want 1112223"
complete=$(sqlite3 "$DB" "SELECT COUNT(*) FROM trials WHERE state=3")
[[ "$complete" == 7 ]] || fail "$complete of 7 trials complete: $(sqlite3 "$DB" "SELECT number, state, message FROM trials")"
# Search trials are scored on val200, the final one on test.
search_splits=$(sqlite3 "$DB" "SELECT DISTINCT json_extract(result_json, '$.split') FROM trials WHERE phase < 3")
[[ "$search_splits" == "val200" ]] || fail "search trials scored on: $search_splits"
final_split=$(sqlite3 "$DB" "SELECT json_extract(result_json, '$.split') FROM trials WHERE phase = 3")
[[ "$final_split" == "test" ]] || fail "final trial scored on: $final_split"
# Step 2's first trial is step 1's best combination with nothing removed.
best1=$(sqlite3 "$DB" "SELECT json_extract(params_json, '$.peft') FROM trials WHERE phase=1 AND state=3 \
        ORDER BY value DESC, number LIMIT 1")
first2=$(sqlite3 "$DB" "SELECT json_extract(params_json, '$.remove') FROM trials WHERE phase=2 ORDER BY number LIMIT 1")
[[ "$first2" == "none" ]] || fail "first step-2 trial removes $first2"
/usr/bin/python3 - "$DB" <<'PY'
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
summary = json.loads(con.execute("SELECT summary_json FROM studies WHERE name='hybrid-e2e'").fetchone()[0])
assert summary["phase"] == 3, summary
assert "test_value" in summary["final"], summary["final"]
assert set(summary["final"]["test_tasks"]) == {"fashion_mnist", "digits", "shapes_count", "shapes_loc", "shapes_ori"}
assert summary["final"]["trainable_params"] > 0
rows = con.execute("SELECT number, json_extract(params_json, '$.peft') FROM trials WHERE phase=1 AND state=3 ORDER BY value DESC, number").fetchall()
step2_first = json.loads(con.execute("SELECT json_extract(params_json, '$.peft') FROM trials WHERE phase=2 ORDER BY number LIMIT 1").fetchone()[0])
assert sorted(step2_first) == sorted(summary["step1"]["combination"]), (step2_first, summary["step1"])
print("final test accuracy", summary["final"]["test_value"], "C* =", summary["final"]["combination"])
PY
/usr/bin/python3 "$RUNFILES_ROOT/peftsearch/tools/hybrid_summary.py" "$DB" hybrid-e2e

# The extended set (issue 13): ProDiaL, SDLoRA, Memba and DoRA join step 1
# with one field; a small study runs end to end with every trial COMPLETE and
# at least one step-1 trial training a new method.
write_spec "$TMP/ext.json" hybrid-ext-e2e 3 '{"type": "hybrid_peft", "n1": 2, "n2": 1, "final": true,
  "methods": ["lora_p_x"], "extended_methods": true}'
cli submit "$TMP/ext.json" >/dev/null
wait_study_complete hybrid-ext-e2e 240
/usr/bin/python3 - "$DB" <<'PY'
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
rows = con.execute("SELECT t.phase, t.state, t.message, t.params_json FROM trials t JOIN studies s "
                   "ON s.id=t.study_id WHERE s.name='hybrid-ext-e2e' ORDER BY t.number").fetchall()
assert [r[0] for r in rows] == [1, 1, 2, 3], rows
assert all(r[1] == 3 for r in rows), [(r[1], r[2]) for r in rows]
new = {"prodial", "sdlora", "memba", "dora"}
step1 = [json.loads(r[3]) for r in rows if r[0] == 1]
assert all(new <= set(p) for p in step1), step1  # a boolean per new method
used = set().union(*(set(p["peft"]) for p in step1)) & new
assert used, "no step-1 trial trained a new method: %s" % step1
summary = json.loads(con.execute("SELECT summary_json FROM studies WHERE name='hybrid-ext-e2e'").fetchone()[0])
assert "test_value" in summary["final"], summary
print("extended study: step-1 trials trained", sorted(used), "; C* =", summary["final"]["combination"])
PY

# A trial the trainer cannot run (unknown PEFT method; missing data) ends
# FAILED with the trainer's message in the store, and the study ends.
cat >"$TMP/bad.json" <<JSON
{"name": "bad-trials", "direction": "maximize",
 "space": {"lr": {"type": "float", "low": 0.0001, "high": 0.01, "log": true}},
 "sampler": {"type": "random", "seed": 1},
 "objective": {"type": "peft_vim", "trial": {
   "backbone": {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2},
   "weights": {"random_init": 7}, "data_root": "$TMP/no-such-dir",
   "peft": {"lora_q": {}}, "recipe": {"epochs": 1, "warmup_epochs": 0}, "threads": 1}},
 "max_trials": 2, "parallelism": 2, "max_attempts": 1}
JSON
cli submit "$TMP/bad.json" >/dev/null
wait_study_complete bad-trials 60
failed=$(sqlite3 "$DB" "SELECT COUNT(*) FROM trials t JOIN studies s ON s.id=t.study_id WHERE s.name='bad-trials' AND t.state=5")
[[ "$failed" == 2 ]] || fail "$failed of 2 bad trials FAILED"
msg=$(sqlite3 "$DB" "SELECT t.message FROM trials t JOIN studies s ON s.id=t.study_id WHERE s.name='bad-trials' LIMIT 1")
echo "stored failure: $msg"
[[ "$msg" == *"no-such-dir"* || "$msg" == *"lora_q"* ]] || fail "the failure message names neither the data_root nor the method: $msg"
echo PASS
