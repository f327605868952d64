#!/usr/bin/env bash
# The committed stubs equal what regen.sh generates from the proto now.
set -euo pipefail
HERE="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)/..}/peftsearch/clients/python"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
"$HERE/regen.sh" "$OUT"
for f in peftsearch_pb2.py peftsearch_pb2_grpc.py; do
  if ! cmp -s "$OUT/$f" "$HERE/peftsearch/$f"; then
    echo "FAIL: clients/python/peftsearch/$f is stale; run clients/python/regen.sh" >&2
    diff "$OUT/$f" "$HERE/peftsearch/$f" | head -20 >&2 || true
    exit 1
  fi
done
echo PASS
