#!/usr/bin/env python3
"""make_input.py OUT BATCH SIZE SEED [OUT BATCH SIZE SEED ...]: random
'images' [B,3,S,S] float32, one file per quadruple (one interpreter start for
many files keeps the tests fast). A negative SIZE -V writes 'input_ids'
[B, 11] int64 in [0, V) instead (Mamba LM)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

args = sys.argv[1:]
if not args or len(args) % 4:
    sys.exit("usage: make_input.py OUT BATCH SIZE SEED [...]")
for i in range(0, len(args), 4):
    out, batch, size, seed = args[i], int(args[i + 1]), int(args[i + 2]), int(args[i + 3])
    g = torch.Generator().manual_seed(seed)
    if size < 0:
        st_io.save(out, {"input_ids": torch.randint(0, -size, (batch, 11), generator=g)})
    else:
        st_io.save(out, {"images": torch.randn(batch, 3, size, size, generator=g)})
