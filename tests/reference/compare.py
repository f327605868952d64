#!/usr/bin/env python3
"""compare.py A B TENSOR TOL: max abs difference of TENSOR in two safetensors
files; exit 1 if it exceeds TOL (or shapes differ)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

a = st_io.load(sys.argv[1])[0][sys.argv[3]]
b = st_io.load(sys.argv[2])[0][sys.argv[3]]
tol = float(sys.argv[4])
if a.shape != b.shape:
    print(f"shape mismatch {tuple(a.shape)} vs {tuple(b.shape)}")
    sys.exit(1)
err = (a.double() - b.double()).abs().max().item()
scale = b.double().abs().max().item()
print(f"{sys.argv[3]} {tuple(a.shape)}: max abs err {err:.3e} (max |ref| {scale:.3e}, tol {tol:g})")
sys.exit(0 if err <= tol else 1)
