#!/usr/bin/env python3
"""Converts an official Vim / Mamba PyTorch checkpoint (.pth, a pickled dict
with 'model' and an argparse.Namespace under 'args', as saved by hustvl/Vim
vim/main.py) into safetensors, which the C++ side reads
(worker/model/safetensors.h). Needs python3-torch only; the safetensors
package is not required.

  /usr/bin/python3 tools/convert_checkpoint.py IN.pth OUT.safetensors [--drop-head]

The tensors of the state dict keep their names (a leading 'module.' from
DistributedDataParallel is stripped), are made contiguous and written in name
order. Metadata records the source file, the Namespace (as JSON strings) and,
for Vim checkpoints, the configuration derived from the shapes
('peftsearch.vim_config'), which the Python reference reads.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


class ConvertError(Exception):
    pass


def load_checkpoint(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only
        return torch.load(path, map_location="cpu")


def pick_state_dict(ckpt, key):
    if not isinstance(ckpt, dict):
        raise ConvertError(f"checkpoint is a {type(ckpt).__name__}, expected a dict")
    if key:
        if key not in ckpt:
            raise ConvertError(f"checkpoint has no key '{key}' (keys: {sorted(map(str, ckpt))})")
        sd = ckpt[key]
    elif "model" in ckpt:
        sd = ckpt["model"]
    elif "state_dict" in ckpt:
        sd = ckpt["state_dict"]
    elif ckpt and all(torch.is_tensor(v) for v in ckpt.values()):
        sd = ckpt
    else:
        raise ConvertError("checkpoint has neither 'model' nor 'state_dict' and is not a plain "
                           f"state dict (keys: {sorted(map(str, ckpt))[:10]})")
    if not isinstance(sd, dict):
        raise ConvertError(f"state dict is a {type(sd).__name__}, expected a dict")
    out = {}
    for name, t in sd.items():
        if not torch.is_tensor(t):
            continue
        if name.startswith("module."):
            name = name[len("module."):]
        if name in out:
            raise ConvertError(f"duplicate key '{name}' after stripping 'module.'")
        if t.dtype not in DTYPE_NAMES:
            raise ConvertError(f"tensor '{name}' has unsupported dtype {t.dtype}")
        out[name] = t.detach().cpu().contiguous()
    if not out:
        raise ConvertError("state dict holds no tensors")
    return out


def namespace_metadata(args):
    if args is None:
        return {}
    d = vars(args) if isinstance(args, argparse.Namespace) else args
    if not isinstance(d, dict):
        return {"peftsearch.args": str(d)}
    return {"peftsearch.args": json.dumps(d, default=str, sort_keys=True)}


def vim_config(sd, args):
    """Vim configuration from shapes (research note §2.2); None if not a Vim."""
    need = ("patch_embed.proj.weight", "pos_embed", "layers.0.mixer.A_log", "layers.0.mixer.A_b_log")
    if not all(k in sd for k in need):
        return None
    w = sd["patch_embed.proj.weight"]
    D, in_chans, patch = w.shape[0], w.shape[1], w.shape[2]
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("layers."))
    M = sd["pos_embed"].shape[1] - 1
    grid = math.isqrt(M)
    if grid * grid != M:
        raise ConvertError(f"pos_embed has {M} patch positions, not a square grid")
    img = getattr(args, "input_size", None) or 224
    stride = patch if grid == 1 else (img - patch) // (grid - 1)
    if (img - patch) // stride + 1 != grid:
        raise ConvertError(f"cannot derive the patch stride: img {img}, patch {patch}, grid {grid}")
    return {
        "img_size": img, "patch_size": patch, "stride": stride, "in_chans": in_chans,
        "embed_dim": D, "depth": depth, "d_state": sd["layers.0.mixer.A_log"].shape[1],
        "d_conv": sd["layers.0.mixer.conv1d.weight"].shape[-1],
        "expand": sd["layers.0.mixer.in_proj.weight"].shape[0] // (2 * D),
        "num_classes": sd["head.weight"].shape[0] if "head.weight" in sd else 0,
        "drop_path_rate": float(getattr(args, "drop_path", 0.1) or 0.0), "norm_eps": 1e-5,
    }


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        n = t.numel() * t.element_size()
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name in sorted(tensors):
            t = tensors[name]
            if t.numel():
                f.write(t.view(torch.uint8).numpy().tobytes() if t.dim() else
                        t.reshape(1).view(torch.uint8).numpy().tobytes())
    os.replace(tmp, path)


def convert(src, dst, key=None, drop_head=False):
    ckpt = load_checkpoint(src)
    sd = pick_state_dict(ckpt, key)
    args = ckpt.get("args") if isinstance(ckpt, dict) else None
    if drop_head:
        sd = {k: v for k, v in sd.items() if not k.startswith("head.")}
    meta = {"format": "pt", "peftsearch.source": os.path.basename(src)}
    meta.update(namespace_metadata(args))
    if args is not None and getattr(args, "model", None):
        meta["peftsearch.model"] = str(args.model)
    cfg = vim_config(sd, args)
    if cfg is not None:
        meta["peftsearch.vim_config"] = json.dumps(cfg)
    write_safetensors(dst, sd, meta)
    return sd, meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="official .pth checkpoint")
    ap.add_argument("output", help="output .safetensors")
    ap.add_argument("--key", default=None, help="state-dict key (default: 'model', then 'state_dict')")
    ap.add_argument("--drop-head", action="store_true", help="omit head.* (1000-class ImageNet head)")
    a = ap.parse_args(argv)
    try:
        sd, _ = convert(a.input, a.output, a.key, a.drop_head)
    except (ConvertError, OSError, RuntimeError) as e:
        print(f"convert_checkpoint: {a.input}: {e}", file=sys.stderr)
        return 1
    total = sum(t.numel() for t in sd.values())
    print(f"wrote {a.output}: {len(sd)} tensors, {total} elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
