#!/usr/bin/env bash
# The whole C++ preprocessing (stb decode, bicubic resize to 224, ImageNet
# normalisation) against the Pillow pipeline MambaPEFT uses, on mini-VTAB
# PNGs (RGB and grayscale), value for value. Skipped without python3-pil.
set -euo pipefail
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
if ! /usr/bin/python3 -c 'import PIL' 2> /dev/null; then
  echo "SKIP: python3-pil not installed"
  exit 0
fi
/usr/bin/python3 tools/make_mini_vtab --root "$TMP/m" --tasks fashion_mnist shapes_loc \
  --train 8 --val 24 --test 8 > /dev/null
worker/data/vtab_inspect --root "$TMP/m" --task fashion_mnist --task shapes_loc --split val200 \
  --size 224 --cache_dir "$TMP/cache" > /dev/null
for task in fashion_mnist shapes_loc; do
  /usr/bin/python3 worker/data/testdata/pil_parity.py "$TMP"/cache/"$task".val200.224.*.split \
    "$TMP/m/$task" val200
done
echo PASS
