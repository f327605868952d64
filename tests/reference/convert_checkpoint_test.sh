#!/bin/bash
# tools/convert_checkpoint.py on a checkpoint shaped like hustvl/Vim's
# (torch.save of a dict with 'model' and an argparse.Namespace): tensors and
# metadata survive, the C++ model loads the result and gives the same logits.
set -euo pipefail
PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "SKIPPED: torch is not importable by $PY (install python3-torch)"
  exit 0
fi
BIN=worker/model/peftsearch-model
REF=tests/reference
CONVERT=tools/convert_checkpoint.py
T="${TEST_TMPDIR:-$(mktemp -d)}"
M=(--model vim_custom --img-size 32 --patch-size 8 --embed-dim 32 --depth 2 --num-classes 4)

"$BIN" init "${M[@]}" --seed 5 --output "$T/w.safetensors"
"$PY" "$REF/make_input.py" "$T/x.safetensors" 2 32 1
"$BIN" forward "${M[@]}" --weights "$T/w.safetensors" --input "$T/x.safetensors" --output "$T/y.safetensors"
for prefix in "" "module."; do
  "$PY" "$REF/make_official_pth.py" "$T/w.safetensors" "$T/official.pth" --prefix "$prefix"
  "$PY" "$CONVERT" "$T/official.pth" "$T/conv.safetensors"
  "$PY" "$REF/convert_check.py" "$T/w.safetensors" "$T/conv.safetensors"
  "$BIN" forward "${M[@]}" --weights "$T/conv.safetensors" --input "$T/x.safetensors" \
    --output "$T/yc.safetensors"
  cmp "$T/yc.safetensors" "$T/y.safetensors"  # bit-identical logits
done
# --drop-head: the C++ model without a head (--num-classes 0) loads it.
"$PY" "$CONVERT" "$T/official.pth" "$T/nohead.safetensors" --drop-head
"$BIN" info "${M[@]}" --num-classes 0 >/dev/null
"$PY" - "$T/nohead.safetensors" <<'PYEOF'
import sys
sys.path.insert(0, "tests/reference")
import st_io
sd, _ = st_io.load(sys.argv[1])
assert not any(k.startswith("head.") for k in sd), sorted(sd)[:5]
PYEOF
# Not a checkpoint dict: a clear error, non-zero exit.
"$PY" -c "import torch; torch.save([1, 2], '$T/list.pth')"
if "$PY" "$CONVERT" "$T/list.pth" "$T/bad.safetensors" 2>"$T/err"; then
  echo "FAIL: converter accepted a list"; exit 1
fi
grep -q "expected a dict" "$T/err" || { cat "$T/err"; exit 1; }
echo "PASS"
