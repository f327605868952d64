#!/usr/bin/env bash
# Regenerates the gRPC/protobuf stubs of the Python client from
# proto/peftsearch.proto with Debian's protoc and grpc_python_plugin.
# Usage: clients/python/regen.sh [OUT_DIR]   (default: clients/python/peftsearch)
# stubs_current_test runs it into a temporary folder and compares.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/clients/python/peftsearch}"
PROTOC="${PROTOC:-/usr/bin/protoc}"
PLUGIN="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PROTOC" -I "$ROOT/proto" --python_out="$TMP" --grpc_out="$TMP" \
  --plugin=protoc-gen-grpc="$PLUGIN" "$ROOT/proto/peftsearch.proto"
# The plugin imports the message module as a top-level module; inside the
# package it must be relative.
sed -i 's/^import peftsearch_pb2 as peftsearch__pb2$/from . import peftsearch_pb2 as peftsearch__pb2/' \
  "$TMP/peftsearch_pb2_grpc.py"
grep -q '^from . import peftsearch_pb2 as peftsearch__pb2$' "$TMP/peftsearch_pb2_grpc.py"
cp "$TMP/peftsearch_pb2.py" "$TMP/peftsearch_pb2_grpc.py" "$OUT/"
