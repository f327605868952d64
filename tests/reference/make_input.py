#!/usr/bin/env python3
"""make_input.py OUT BATCH SIZE SEED: random 'images' [B,3,S,S] float32."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

out, batch, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
g = torch.Generator().manual_seed(seed)
st_io.save(out, {"images": torch.randn(batch, 3, size, size, generator=g)})
