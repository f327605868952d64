#!/usr/bin/env bash
# End-to-end: make_mini_vtab writes NOAH-layout tasks that the C++ loader reads.
set -euo pipefail

MAKER=tools/make_mini_vtab
INSPECT=worker/data/vtab_inspect
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

small=(--train 40 --val 10 --test 30 --pretrain-train 60 --pretrain-val 10 --size 24)

# 1. Generate, then load all six tasks, every split, at the stored size and at
#    another size (the loader resizes).
/usr/bin/python3 "$MAKER" --root "$TMP/a" --seed 3 "${small[@]}" > "$TMP/make.log"
cat "$TMP/make.log"
tasks=(fashion_mnist digits shapes_count shapes_loc shapes_ori shapes_kind)
args=()
for t in "${tasks[@]}"; do args+=(--task "$t"); done
"$INSPECT" --root "$TMP/a" "${args[@]}" --size 24 > "$TMP/inspect.log"
cat "$TMP/inspect.log"
[[ $(grep -c '^task=' "$TMP/inspect.log") == 24 ]] || fail "expected 24 task/split lines"

expect() {  # task split n classes
  grep -q "^task=$1 split=$2 n=$3 classes=$4 " "$TMP/inspect.log" \
    || fail "$1/$2: want n=$3 classes=$4"
}
for t in fashion_mnist digits shapes_count shapes_loc shapes_ori; do
  expect "$t" train800 40 '[0-9]*'
  expect "$t" val200 10 '[0-9]*'
  expect "$t" train800val200 50 '[0-9]*'
  expect "$t" test 30 '[0-9]*'
done
expect fashion_mnist test 30 10
expect digits test 30 10
expect shapes_count train800 40 8
expect shapes_loc train800 40 16
expect shapes_ori train800 40 8
expect shapes_kind train800 60 10
expect shapes_kind test 10 10
grep -q 'shape=\[40,3,24,24\]' "$TMP/inspect.log" || fail "tensor shape"

"$INSPECT" --root "$TMP/a" --task shapes_ori --split val200 --size 56 \
  | grep 'shape=\[10,3,56,56\]' >/dev/null || fail "resize at load time"

# 2. Deterministic from --seed: same seed, same bytes; another seed differs.
/usr/bin/python3 "$MAKER" --root "$TMP/b" --seed 3 "${small[@]}" > /dev/null
diff -r -x mini_vtab.json "$TMP/a" "$TMP/b" > /dev/null || fail "same seed gave different data"
/usr/bin/python3 "$MAKER" --root "$TMP/c" --seed 4 "${small[@]}" --tasks shapes_loc > /dev/null
if cmp -s "$TMP/a/shapes_loc/images/train800/000000.png" "$TMP/c/shapes_loc/images/train800/000000.png"; then
  fail "seed 4 gave the same image as seed 3"
fi

# 3. A rerun with the same flags is a no-op.
/usr/bin/python3 "$MAKER" --root "$TMP/a" --seed 3 "${small[@]}" | grep "up to date" >/dev/null \
  || fail "rerun was not a no-op"

# 4. NOAH layout: train800val200 = train800 then val200 (labels in order).
cat "$TMP/a/digits/train800.txt" "$TMP/a/digits/val200.txt" | awk '{print $2}' > "$TMP/u1"
awk '{print $2}' "$TMP/a/digits/train800val200.txt" > "$TMP/u2"
cmp -s "$TMP/u1" "$TMP/u2" || fail "train800val200 is not train800 + val200"
head -1 "$TMP/a/digits/test.txt" | grep -qx 'images/test/000000.png [0-9]*' || fail "list line format"

# 5. A broken image is reported with the list path and line.
printf 'junk' > "$TMP/a/shapes_count/images/val200/000004.png"
if "$INSPECT" --root "$TMP/a" --task shapes_count --split val200 --size 24 2> "$TMP/err.log"; then
  fail "corrupt image was accepted"
fi
grep -q "shapes_count/val200.txt:5: .*images/val200/000004.png" "$TMP/err.log" \
  || { cat "$TMP/err.log"; fail "error does not name list line and image"; }

echo PASS
