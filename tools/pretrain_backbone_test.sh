#!/usr/bin/env bash
# End-to-end: mini-VTAB's source task -> pretrain_backbone -> safetensors.
set -euo pipefail

TMP="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 tools/make_mini_vtab --root "$TMP/data" --tasks shapes_kind \
  --pretrain-train 64 --pretrain-val 16 --size 16
worker/data/pretrain/pretrain_backbone --data_root "$TMP/data" --out "$TMP/vim.safetensors" \
  --img_size 16 --patch_size 8 --stride 8 --embed_dim 32 --depth 1 --epochs 2 \
  --warmup_epochs 1 --batch_size 16 --threads 1 | tee "$TMP/log"
[[ $(grep -c '"event":"epoch"' "$TMP/log") == 2 ]] || fail "expected 2 epoch lines"
grep -q '"event":"done"' "$TMP/log" || fail "no done line"
[[ -s "$TMP/vim.safetensors" ]] || fail "no checkpoint written"
# The header (JSON after an 8-byte length) carries the architecture.
head -c 4096 "$TMP/vim.safetensors" | grep -aq '"vim_config"' || fail "no vim_config metadata"
head -c 4096 "$TMP/vim.safetensors" | grep -aq 'layers.0.mixer.in_proj.weight' || fail "official key names"

# A missing data root is an error naming it, not a crash.
if worker/data/pretrain/pretrain_backbone --data_root "$TMP/nowhere" --out "$TMP/x.safetensors" \
  2> "$TMP/err"; then
  fail "missing data root accepted"
fi
grep -q "$TMP/nowhere" "$TMP/err" || { cat "$TMP/err"; fail "error does not name the path"; }
echo PASS
