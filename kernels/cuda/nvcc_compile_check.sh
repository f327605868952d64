#!/usr/bin/env bash
# Compiles every kernels/cuda/*.cu for the H100 (sm_90) with the CUDA
# Toolkit's nvcc, warnings as errors; each .cu instantiates its float32 and
# bfloat16 kernels, so both are compiled. No GPU is needed. Exits 0 with a
# "skipped" line when nvcc is absent (CI machines without the toolkit), 1 on
# any error or warning.
#   kernels/cuda/nvcc_compile_check.sh [OUT_DIR]     (run from anywhere)
# NVCC overrides the compiler path (default /usr/local/cuda/bin/nvcc).
set -euo pipefail
if [[ -n ${TEST_SRCDIR:-} ]]; then  # under `bazel test`: the runfiles tree
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-peftsearch}"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
nvcc="${NVCC:-/usr/local/cuda/bin/nvcc}"
if [[ ! -x "$nvcc" ]]; then
  echo "nvcc_compile_check: skipped: no nvcc at $nvcc (set NVCC or install the CUDA Toolkit)"
  exit 0
fi
out="${1:-$(mktemp -d)}"
shopt -s nullglob
sources=("$root"/kernels/cuda/*.cu)
if [[ ${#sources[@]} -eq 0 ]]; then
  echo "nvcc_compile_check: FAILED: no .cu files under $root/kernels/cuda"
  exit 1
fi
mkdir -p "$out"
status=0
for cu in "${sources[@]}"; do
  name="$(basename "$cu" .cu)"
  # -Werror all-warnings: nvcc's own diagnostics; -Xcompiler: the host compiler's.
  if ! "$nvcc" -arch=sm_90 -std=c++17 -O3 -I"$root" -Werror all-warnings \
      -Xcompiler -Wall,-Wextra,-Werror -c "$cu" -o "$out/$name.o"; then
    echo "nvcc_compile_check: FAILED: kernels/cuda/$name.cu"
    status=1
  else
    echo "nvcc_compile_check: ok: kernels/cuda/$name.cu"
  fi
done
exit $status
