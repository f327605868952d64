#!/usr/bin/env bash
# Renders deploy/k8s with `kubectl kustomize` when kubectl is installed
# (Debian: kubernetes-client) and checks the objects; without kubectl the
# checker renders the kustomization itself (and says so). Also checks the
# systemd units (restart policies, TLS, no tokens on command lines) and that
# the Slurm scripts are valid bash.
set -euo pipefail
ROOT="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/peftsearch"
[[ -d "$ROOT/deploy" ]] || ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${TEST_TMPDIR:-$(mktemp -d)}"
# Runfiles are symlinks; kustomize refuses files outside its root, so copy.
rm -rf "$OUT/k8s" && cp -rL "$ROOT/deploy/k8s" "$OUT/k8s"
for f in "$ROOT"/deploy/slurm/*.sbatch; do bash -n "$f"; done
if command -v kubectl >/dev/null 2>&1 && kubectl kustomize "$OUT/k8s" >"$OUT/rendered.yaml"; then
  /usr/bin/python3 "$ROOT/tests/deploy/check_deploy.py" "$OUT/k8s" "$ROOT/deploy/systemd" \
    "$ROOT/deploy/slurm" "$OUT/rendered.yaml"
else
  /usr/bin/python3 "$ROOT/tests/deploy/check_deploy.py" "$OUT/k8s" "$ROOT/deploy/systemd" \
    "$ROOT/deploy/slurm"
fi
echo PASS
