#!/usr/bin/env bash
# Runs the client's pytest suite against a real controller with two workers.
set -euo pipefail
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)/bazel-bin/clients/python/client_test.runfiles}/peftsearch"
TMP="${TEST_TMPDIR:-$(mktemp -d)}/client_test"
rm -rf "$TMP" && mkdir -p "$TMP"
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]:-}"; do [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 ]]; then tail -n 30 "$TMP"/*.log 2>/dev/null || true; fi
}
trap cleanup EXIT

"$RUNFILES/controller/peftsearch-controller" --listen 127.0.0.1:0 --db "$TMP/trials.db" \
  --address-file "$TMP/addr" --sweep-interval-ms 200 --heartbeat-interval-ms 300 \
  >"$TMP/controller.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$TMP/addr" ]] && break; sleep 0.2; done
[[ -s "$TMP/addr" ]] || { echo "FAIL: controller did not start"; exit 1; }
export PEFTSEARCH_CONTROLLER="$(cat "$TMP/addr")"
for w in w1 w2; do
  "$RUNFILES/worker/daemon/peftsearch-worker" --controller "$PEFTSEARCH_CONTROLLER" --slots 2 \
    --workdir "$TMP/work-$w" --name "$w" >"$TMP/worker-$w.log" 2>&1 &
  PIDS+=($!)
done

# Debian's interpreter: it has python3-grpcio (another python3 may come first
# on PATH). pytest exits 5 when it collects nothing, which fails this test.
cd "$RUNFILES/clients/python"
PYTHONPATH="$RUNFILES/clients/python" PYTHONDONTWRITEBYTECODE=1 \
  /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/test_client.py
