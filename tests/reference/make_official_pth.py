#!/usr/bin/env python3
"""make_official_pth.py WEIGHTS.safetensors OUT.pth [--prefix module.]:
writes a checkpoint shaped like hustvl/Vim vim/main.py's torch.save: a dict
with 'model', 'optimizer', 'lr_scheduler', 'epoch', 'model_ema', 'scaler' and
an argparse.Namespace under 'args'."""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("weights")
ap.add_argument("out")
ap.add_argument("--prefix", default="")
a = ap.parse_args()
sd, meta = st_io.load(a.weights)
cfg = json.loads(meta["peftsearch.vim_config"])
model = {a.prefix + k: v for k, v in sd.items()}
ns = argparse.Namespace(model="vim_custom", input_size=cfg["img_size"], drop_path=0.1,
                        lr=5e-4, batch_size=128, epochs=300, output_dir="/tmp/out")
torch.save({"model": model, "optimizer": {"state": {}, "param_groups": []},
            "lr_scheduler": {"last_epoch": 3}, "epoch": 3, "model_ema": model,
            "scaler": {}, "args": ns}, a.out)
