#!/bin/bash
# Parity of the C++ Vim (peftsearch-model forward) with the independent Python
# reference (vim_ref.py) on the same safetensors weights and input: logits max
# abs error <= 1e-4 (fp32), for small custom Vims, Vim-T at 224² and a small
# Mamba LM. Also:
# bad checkpoints fail with errors naming the key or byte offset.
set -euo pipefail
PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "SKIPPED: torch is not importable by $PY (install python3-torch)"
  exit 0
fi
BIN=worker/model/peftsearch-model
REF=tests/reference
T="${TEST_TMPDIR:-$(mktemp -d)}"

SMALL=(--model vim_custom --img-size 32 --patch-size 8 --embed-dim 64 --depth 3 --num-classes 10)
OVERLAP=(--model vim_custom --img-size 32 --patch-size 8 --stride 4 --embed-dim 48 --depth 2
  --num-classes 7)
ODD=(--model vim_custom --img-size 48 --patch-size 16 --embed-dim 40 --depth 2 --num-classes 3)
TINY=(--model vim_tiny)
# A small Mamba LM (unidirectional mixer, embedding, tied head, vocab 101 -> 104).
LM=(--model mamba_130m --embed-dim 48 --depth 2 --vocab-size 101)
"$PY" "$REF/make_input.py" "$T/small.x.safetensors" 2 32 3 "$T/overlap.x.safetensors" 3 32 4 \
  "$T/odd.x.safetensors" 1 48 5 "$T/tiny.x.safetensors" 2 224 6 "$T/lm.x.safetensors" 2 -101 7

run_case() {  # run_case NAME FLAGS...: C++ init + forward, Python reference, compare
  local name=$1
  shift
  "$BIN" init "$@" --seed 11 --output "$T/$name.w.safetensors"
  "$BIN" forward "$@" --weights "$T/$name.w.safetensors" --input "$T/$name.x.safetensors" \
    --output "$T/$name.y.safetensors"
  echo -n "$name: "
  "$PY" "$REF/vim_ref.py" forward --weights "$T/$name.w.safetensors" \
    --input "$T/$name.x.safetensors" --output "$T/$name.yref.safetensors" \
    --compare "$T/$name.y.safetensors" --tol 1e-4
}

run_case small "${SMALL[@]}"
run_case overlap "${OVERLAP[@]}"
run_case odd "${ODD[@]}"
run_case tiny "${TINY[@]}"
run_case lm "${LM[@]}"

expect_error() {  # expect_error NEEDLE CMD...: CMD fails and stderr holds NEEDLE
  local needle=$1
  shift
  if "$@" 2>"$T/err"; then
    echo "FAIL: expected an error containing '$needle': $*"
    exit 1
  fi
  if ! grep -qF -- "$needle" "$T/err"; then
    echo "FAIL: error lacks '$needle':"
    cat "$T/err"
    exit 1
  fi
  echo "error ok: $(head -c 300 "$T/err")"
}
W="$T/small.w.safetensors"
head -c 20000 "$W" >"$T/trunc.safetensors"
expect_error "truncated: tensor '" "$BIN" forward "${SMALL[@]}" --weights "$T/trunc.safetensors" \
  --input "$T/small.x.safetensors" --output "$T/o.safetensors"
expect_error "unexpected keys: layers.2." "$BIN" forward "${SMALL[@]}" --depth 2 --weights "$W" \
  --input "$T/small.x.safetensors" --output "$T/o.safetensors"
expect_error "layers.0.mixer.A_log: file [128,16] vs model [128,8]" "$BIN" forward "${SMALL[@]}" \
  --d-state 8 --weights "$W" --input "$T/small.x.safetensors" --output "$T/o.safetensors"
expect_error "images must be [B, 3, 32, 32]" "$BIN" forward "${SMALL[@]}" --weights "$W" \
  --input "$T/odd.x.safetensors" --output "$T/o.safetensors"
"$PY" - "$W" "$T/missing.safetensors" <<'PYEOF'
import sys
sys.path.insert(0, "tests/reference")
import st_io
sd, meta = st_io.load(sys.argv[1])
del sd["layers.1.mixer.x_proj_b.weight"]
st_io.save(sys.argv[2], sd, meta)
PYEOF
expect_error "1 missing keys: layers.1.mixer.x_proj_b.weight" "$BIN" forward "${SMALL[@]}" \
  --weights "$T/missing.safetensors" --input "$T/small.x.safetensors" --output "$T/o.safetensors"
echo "PASS"
