#!/usr/bin/env bash
# The long fuzz run of issue 11: each libFuzzer target for a fixed number of
# executions (10^6 by default) instead of a time budget, one after another.
#
#   tests/fuzz/long_run.sh [RUNS=1000000] [TARGET...]
#
# Prints, per target, the executions, the wall time and whether it crashed
# (run.sh's line), and exits non-zero on any crash or sanitizer report.
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-1000000}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(spec_fuzz create_study_fuzz safetensors_fuzz vtab_list_fuzz trial_spec_fuzz)
status=0
for t in "${TARGETS[@]}"; do
  start=$(date +%s)
  out=$(tests/fuzz/run.sh 0 "$t" "-runs=$RUNS")
  rc=$?
  # The time includes building the target when its objects are out of date.
  echo "$(grep "^$t: " <<<"$out") ($(( $(date +%s) - start )) s, -runs=$RUNS)"
  ((rc == 0)) || { status=1; echo "$out" | tail -n 30; }
done
exit $status
