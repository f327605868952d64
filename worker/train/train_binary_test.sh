#!/usr/bin/env bash
# The binary as the worker daemon runs it: exit codes, {"error"} as the last
# stdout line, and a bounded run time (never a hang), on a tiny mini-VTAB.
set -euo pipefail

TRAIN=worker/train/peftsearch-train
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 tools/make_mini_vtab --root "$TMP/mv" --train 64 --val 32 --test 16 --size 16 \
  --tasks digits shapes_ori > /dev/null

trial() {  # name extra-json-fields
  cat > "$TMP/$1.json" <<JSON
{"backbone": {"img_size": 16, "patch_size": 4, "stride": 4, "embed_dim": 32, "depth": 2},
 "weights": {"random_init": 0}, "tasks": ["digits", "shapes_ori"], "data_root": "$TMP/mv",
 "recipe": {"epochs": 1, "warmup_epochs": 0, "drop_path": 0.0, "batch_size": 16}, "threads": 2 $2}
JSON
}

expect_exit() {  # name code substring
  local rc=0
  timeout 60 "$TRAIN" --trial "$TMP/$1.json" --output-dir "$TMP/out_$1" > "$TMP/$1.out" 2> "$TMP/$1.err" || rc=$?
  [[ $rc == "$2" ]] || { cat "$TMP/$1.out" "$TMP/$1.err"; fail "$1: exit $rc, want $2"; }
  tail -n 1 "$TMP/$1.out" | grep -q -- "$3" || { cat "$TMP/$1.out"; fail "$1: last line lacks $3"; }
}

trial ok ""
expect_exit ok 0 '"value":'
grep -q '"step":1' "$TMP/ok.out" || fail "ok: no progress line"
[[ -f "$TMP/out_ok/digits.safetensors" && -f "$TMP/out_ok/result.json" ]] || fail "ok: outputs missing"

trial bad_field ', "mode": "tune"'
expect_exit bad_field 2 '"error":"mode: '
grep -q 'mode' "$TMP/bad_field.err" || fail "bad_field: stderr lacks the message"

sed "s#$TMP/mv#$TMP/missing#" "$TMP/ok.json" > "$TMP/no_data.json"
expect_exit no_data 2 "no such directory: $TMP/missing"

trial method ', "peft": {"lora_everything": {}}'
expect_exit method 2 'lora_everything'

echo '{"trial": ' > "$TMP/malformed.json"
expect_exit malformed 2 'malformed JSON'

rc=0; "$TRAIN" > "$TMP/noargs.out" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "no --trial: exit $rc, want 2"
echo PASS
