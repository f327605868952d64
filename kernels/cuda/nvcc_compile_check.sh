#!/usr/bin/env bash
# Compiles every kernels/cuda/*.cu for the H100 (sm_90) with the CUDA
# Toolkit's nvcc, warnings as errors; each .cu instantiates its float32 and
# bfloat16 kernels, so both are compiled. No GPU is needed. Exits 0 with a
# "skipped" line when nvcc is absent (CI machines without the toolkit), 1 on
# any error or warning.
#   kernels/cuda/nvcc_compile_check.sh [OUT_DIR]     (run from anywhere)
# NVCC overrides the compiler path (default /usr/local/cuda/bin/nvcc).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
nvcc="${NVCC:-/usr/local/cuda/bin/nvcc}"
if [[ ! -x "$nvcc" ]]; then
  echo "nvcc_compile_check: skipped: no nvcc at $nvcc (set NVCC or install the CUDA Toolkit)"
  exit 0
fi
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
status=0
for cu in "$root"/kernels/cuda/*.cu; do
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
