#!/usr/bin/env bash
# CI size of the chaos run (tests/fault/chaos.py): 100 trials, 16 workers,
# 20 worker SIGKILLs and 5 controller SIGKILLs at random moments.
set -euo pipefail
R="$TEST_SRCDIR/peftsearch"
PEFTSEARCH_PROTO_DIR="$R/proto" /usr/bin/python3 "$R/tests/fault/chaos.py" \
  --controller-bin "$R/controller/peftsearch-controller" \
  --worker-bin "$R/worker/daemon/peftsearch-worker" \
  --trials 100 --workers 16 --worker-kills 20 --controller-kills 5 --trial-ms 150 \
  --dir "$TEST_TMPDIR/chaos"
