#!/usr/bin/env bash
# Load: 64 workers (own channels and threads) for 60 s against a real
# controller, through consecutive 500-trial studies (short, so that a leak per
# study shows within the minute). Fails on any RPC error
# or if the controller's RSS keeps growing after warm-up; prints p50/p99 RPC
# latency. The 10-minute run: controller_throughput --seconds 600.
set -euo pipefail
R="$TEST_SRCDIR/peftsearch"
cd "$R/tests/bench"
RUNFILES_DIR="$R/.." ./controller_throughput --trials 500 --workers 64 --seconds "${LOAD_SECONDS:-60}" \
  --dir "$TEST_TMPDIR/load"
