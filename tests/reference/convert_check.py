#!/usr/bin/env python3
"""convert_check.py ORIG.safetensors CONVERTED.safetensors: every tensor equal,
no extra keys, Namespace and Vim config recorded in the metadata."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

a, ma = st_io.load(sys.argv[1])
b, mb = st_io.load(sys.argv[2])
assert sorted(a) == sorted(b), (set(a) ^ set(b))
for k in a:
    assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
args = json.loads(mb["peftsearch.args"])
assert args["model"] == "vim_custom" and args["epochs"] == 300, args
assert json.loads(mb["peftsearch.vim_config"]) == json.loads(ma["peftsearch.vim_config"]), (
    mb["peftsearch.vim_config"], ma["peftsearch.vim_config"])
print(f"converted checkpoint matches: {len(a)} tensors, metadata ok")
