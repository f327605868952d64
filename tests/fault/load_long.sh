#!/usr/bin/env bash
# The scripted long load run of issue 11: 64 simulated workers (own channels
# and threads) against a real controller for 10 minutes, through consecutive
# 2,000-trial studies. The same binary and checks as //tests/fault:load_test
# (60 s in CI): fails on any RPC error or if the controller's RSS keeps growing
# after warm-up; prints an RSS sample every minute and p50/p99 RPC latency.
#
#   tests/fault/load_long.sh [SECONDS=600] [WORKERS=64]
#
# Builds with Bazel first; BAZEL_OUTPUT_BASE picks an output base.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-600}
WORKERS=${2:-64}
BAZEL=(bazel)
[[ -n "${BAZEL_OUTPUT_BASE:-}" ]] && BAZEL+=(--output_base="$BAZEL_OUTPUT_BASE")
"${BAZEL[@]}" build --jobs=2 //tests/bench:controller_throughput >&2
BIN="$("${BAZEL[@]}" info bazel-bin 2>/dev/null)/tests/bench/controller_throughput"
DIR=$(mktemp -d /tmp/peftsearch_load.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
echo "load_long: ${SECONDS_TO_RUN} s, ${WORKERS} workers, $(date -u +%FT%TZ), load: $(uptime | sed 's/.*load average: //')"
"$BIN" --trials 2000 --workers "$WORKERS" --seconds "$SECONDS_TO_RUN" --dir "$DIR"
echo "load_long: passed, load at the end: $(uptime | sed 's/.*load average: //')"
