# Helpers for the dashboard tests: a real controller serving --http, real
# workers, the Python client, all on loopback. Every process started here is
# SIGKILLed on exit.
set -euo pipefail

RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)/bazel-bin/tests/dashboard/$(basename "$0" .sh).runfiles}/peftsearch"
CTL="$RUNFILES/controller/peftsearch-controller"
WRK="$RUNFILES/worker/daemon/peftsearch-worker"
TMP="${TEST_TMPDIR:-$(mktemp -d)}/$(basename "$0" .sh)"
OUTPUTS="${TEST_UNDECLARED_OUTPUTS_DIR:-$TMP/outputs}"
rm -rf "$TMP" && mkdir -p "$TMP" "$OUTPUTS"
# Debian's interpreter has python3-grpcio; another python3 may come first on PATH.
PY=/usr/bin/python3
export PYTHONPATH="$RUNFILES/clients/python" PYTHONDONTWRITEBYTECODE=1
PIDS=()

cleanup() {
  local status=$?
  for pid in "${PIDS[@]:-}"; do [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 ]]; then
    echo "---- controller log (tail) ----"; tail -n 30 "$TMP"/controller.log 2>/dev/null || true
    echo "---- worker logs (tail) ----"; tail -n 10 "$TMP"/worker-*.log 2>/dev/null || true
  fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

wait_for() {
  local cmd="$1" limit="$2" start=$SECONDS
  until eval "$cmd" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || fail "timed out after ${limit}s waiting for: $cmd"
    sleep 0.2
  done
}

# start_controller: sets ADDR (gRPC) and HTTP (dashboard) from the address files.
start_controller() {
  "$CTL" --listen 127.0.0.1:0 --db "$TMP/trials.db" --address-file "$TMP/addr" \
    --http 127.0.0.1:0 --http-address-file "$TMP/http" \
    --sweep-interval-ms 200 --heartbeat-interval-ms 300 >>"$TMP/controller.log" 2>&1 &
  PIDS+=($!)
  wait_for "test -s '$TMP/addr' && test -s '$TMP/http'" 20
  ADDR=$(cat "$TMP/addr")
  HTTP=$(cat "$TMP/http")
  export PEFTSEARCH_CONTROLLER="$ADDR"
}

# start_worker NAME [SLOTS]: sets WORKER_PID.
start_worker() {
  "$WRK" --controller "$ADDR" --slots "${2:-1}" --workdir "$TMP/work-$1" --name "$1" \
    >>"$TMP/worker-$1.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
}

# http_get PATH: prints the body of http://$HTTP/PATH (fails on non-200).
http_get() {
  "$PY" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://" + sys.argv[1] + sys.argv[2], timeout=10).read().decode())' \
    "$HTTP" "$1"
}

# metric TEXT NAME_WITH_LABELS: the value of one sample line, or empty.
metric() { grep -F "$2 " <<<"$1" | grep -v '^#' | awk '{print $NF}' | head -n1; }

# http_status PATH [TOKEN]: prints the HTTP status of GET http://$HTTP/PATH,
# sending "Authorization: Bearer TOKEN" when a token is given.
http_status() {
  "$PY" -c 'import sys, urllib.request, urllib.error
req = urllib.request.Request("http://" + sys.argv[1] + sys.argv[2])
if len(sys.argv) > 3: req.add_header("Authorization", "Bearer " + sys.argv[3])
try: print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e: print(e.code)' "$HTTP" "$@"
}
