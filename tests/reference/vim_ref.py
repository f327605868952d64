#!/usr/bin/env python3
"""Independent Python reference of Vision Mamba (Vim, bimamba v2, middle CLS
token) on plain python3-torch ops, for parity tests and benches of the C++
model. Follows hustvl/Vim@dd0358a vim/models_mamba.py and mamba_simple.py
(fast path of the v2 mixer, mamba_inner_fn_no_out_proj) with the scan of
selective_scan_ref (state-spaces/mamba@01887ed); see
shared/research/vim_mambapeft.md §1-3. No code is shared with the C++ side.

CLI:
  vim_ref.py forward --weights W --input X --output Y [--threads N]
The input holds 'images' (Vim) or 'input_ids' (Mamba LM, mamba_lm_forward).
The configuration comes from the weights' metadata key "peftsearch.vim_config"
or "peftsearch.mamba_lm_config" (written by `peftsearch-model init`) or
--config JSON.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d)."""
    dtype_in = u.dtype
    u = u.float()
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, n = u.shape[0], A.shape[0], A.shape[1]
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B.float(), u)
    x = A.new_zeros((batch, dim, n))
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i].float()))
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * F.silu(z)
    return out.to(dtype_in)


def selective_scan_loop(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Same math as selective_scan_ref, written for autograd: the inputs are
    unbound along time once (whose backward is one stack) instead of indexing
    precomputed (b, d, l, n) tensors per step, whose backward materialises a
    full-size zero gradient per step. The fastest plain-ops Python scan we
    have; the bench peer uses it."""
    dtype_in = u.dtype
    u = u.float()
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    x = A.new_zeros((u.shape[0], A.shape[0], A.shape[1]))
    ys = []
    for d_t, du_t, B_t, C_t in zip(delta.unbind(2), (delta * u).unbind(2), B.float().unbind(2),
                                   C.float().unbind(2)):
        x = torch.exp(d_t[:, :, None] * A) * x + du_t[:, :, None] * B_t[:, None, :]
        ys.append((x * C_t[:, None, :]).sum(-1))
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * F.silu(z)
    return out.to(dtype_in)


SCANS = {"ref": selective_scan_ref, "loop": selective_scan_loop}
SCAN = selective_scan_ref  # set by --scan
CHECKPOINT = False  # recompute each block in backward (bench peer, --checkpoint)


def rms_norm(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w).to(x.dtype)


def inner_no_out_proj(xz, conv_w, conv_b, x_proj_w, dt_proj_w, dt_proj_b, A, D, dt_rank):
    """mamba_inner_fn_no_out_proj (reference composition of mamba_inner_ref)."""
    L = xz.shape[-1]
    d_state = A.shape[-1]
    x, z = xz.chunk(2, dim=1)
    x = F.silu(F.conv1d(x, conv_w, conv_b, padding=conv_w.shape[-1] - 1, groups=x.shape[1])[..., :L])
    x_dbl = F.linear(x.transpose(1, 2).reshape(-1, x.shape[1]), x_proj_w)  # (b*l, r+2n)
    delta = dt_proj_w @ x_dbl[:, :dt_rank].t()
    delta = delta.reshape(delta.shape[0], xz.shape[0], L).permute(1, 0, 2)  # (b, d, l)
    Bm = x_dbl[:, dt_rank:dt_rank + d_state].reshape(xz.shape[0], L, d_state).transpose(1, 2)
    Cm = x_dbl[:, dt_rank + d_state:].reshape(xz.shape[0], L, d_state).transpose(1, 2)
    return SCAN(x, delta, A, Bm, Cm, D.float(), z=z, delta_bias=dt_proj_b.float(),
                delta_softplus=True)


def mixer_v2(h, p, pre, dt_rank):
    xz = (h @ p[pre + "in_proj.weight"].t()).transpose(1, 2)  # (b, 2d, l)
    A = -torch.exp(p[pre + "A_log"].float())
    A_b = -torch.exp(p[pre + "A_b_log"].float())
    out = inner_no_out_proj(xz, p[pre + "conv1d.weight"], p[pre + "conv1d.bias"],
                            p[pre + "x_proj.weight"], p[pre + "dt_proj.weight"],
                            p[pre + "dt_proj.bias"], A, p[pre + "D"], dt_rank)
    out_b = inner_no_out_proj(xz.flip([-1]), p[pre + "conv1d_b.weight"], p[pre + "conv1d_b.bias"],
                              p[pre + "x_proj_b.weight"], p[pre + "dt_proj_b.weight"],
                              p[pre + "dt_proj_b.bias"], A_b, p[pre + "D_b"], dt_rank)
    y = (out + out_b.flip([-1])).transpose(1, 2) / 2  # if_divide_out
    return F.linear(y, p[pre + "out_proj.weight"])


def vim_forward(p, cfg, images):
    D = cfg["embed_dim"]
    eps = cfg.get("norm_eps", 1e-5)
    dt_rank = math.ceil(D / 16)
    x = F.conv2d(images, p["patch_embed.proj.weight"], p["patch_embed.proj.bias"],
                 stride=cfg["stride"])
    x = x.flatten(2).transpose(1, 2)
    M = x.shape[1]
    pos = M // 2
    cls = p["cls_token"].expand(x.shape[0], -1, -1)
    x = torch.cat((x[:, :pos, :], cls, x[:, pos:, :]), dim=1) + p["pos_embed"]
    residual, hidden = None, x
    for i in range(cfg["depth"]):
        residual = hidden if residual is None else residual + hidden  # eval: no drop path

        def block(res, i=i):
            h = rms_norm(res.float(), p[f"layers.{i}.norm.weight"], eps)
            return mixer_v2(h, p, f"layers.{i}.mixer.", dt_rank)

        if CHECKPOINT and torch.is_grad_enabled():
            # Bench only: without it the per-timestep autograd graph of Vim-T
            # at batch 8 needs more than 13 GB.
            from torch.utils.checkpoint import checkpoint
            hidden = checkpoint(block, residual)
        else:
            hidden = block(residual)
    residual = residual + hidden
    hidden = rms_norm(residual, p["norm_f.weight"], eps)
    feats = hidden[:, pos, :]
    return F.linear(feats, p["head.weight"], p["head.bias"])


def mamba_lm_forward(p, cfg, input_ids):
    """MambaLMHeadModel (state-spaces/mamba): embedding, unidirectional Mamba
    blocks (Add -> RMSNorm -> Mixer, fp32 residual), norm_f, tied LM head."""
    eps = cfg.get("norm_eps", 1e-5)
    dt_rank = math.ceil(cfg["d_model"] / 16)
    emb = p["backbone.embedding.weight"]
    hidden, residual = F.embedding(input_ids, emb), None
    for i in range(cfg["n_layer"]):
        pre = f"backbone.layers.{i}.mixer."
        residual = hidden if residual is None else residual + hidden
        h = rms_norm(residual.float(), p[f"backbone.layers.{i}.norm.weight"], eps)
        xz = (h @ p[pre + "in_proj.weight"].t()).transpose(1, 2)
        out = inner_no_out_proj(xz, p[pre + "conv1d.weight"], p[pre + "conv1d.bias"],
                                p[pre + "x_proj.weight"], p[pre + "dt_proj.weight"],
                                p[pre + "dt_proj.bias"], -torch.exp(p[pre + "A_log"].float()),
                                p[pre + "D"], dt_rank)
        hidden = F.linear(out.transpose(1, 2), p[pre + "out_proj.weight"])
    residual = residual + hidden
    return rms_norm(residual, p["backbone.norm_f.weight"], eps) @ emb.t()


def load_model(weights, config_json=None):
    p, meta = st_io.load(weights)
    cfg = json.loads(config_json or meta["peftsearch.vim_config"])
    return p, cfg


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    fw = sub.add_parser("forward")
    fw.add_argument("--weights", required=True)
    fw.add_argument("--input", required=True)
    fw.add_argument("--output", required=True)
    fw.add_argument("--config", default=None, help="Vim config JSON (default: from metadata)")
    fw.add_argument("--threads", type=int, default=0)
    fw.add_argument("--scan", choices=sorted(SCANS), default="ref")
    fw.add_argument("--compare", default=None,
                    help="safetensors with 'logits' to compare against (exit 1 if max abs err > --tol)")
    fw.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    global SCAN
    SCAN = SCANS[a.scan]
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    p, meta = st_io.load(a.weights)
    inputs = st_io.load(a.input)[0]
    with torch.no_grad():
        if "input_ids" in inputs:
            cfg = json.loads(a.config or meta["peftsearch.mamba_lm_config"])
            logits = mamba_lm_forward(p, cfg, inputs["input_ids"].long())
        else:
            cfg = json.loads(a.config or meta["peftsearch.vim_config"])
            logits = vim_forward(p, cfg, inputs["images"].float())
    st_io.save(a.output, {"logits": logits}, {"format": "pt"})
    if a.compare:
        other = st_io.load(a.compare)[0]["logits"]
        if other.shape != logits.shape:
            print(f"shape mismatch {tuple(other.shape)} vs reference {tuple(logits.shape)}")
            sys.exit(1)
        err = (other.double() - logits.double()).abs().max().item()
        print(f"logits {tuple(logits.shape)}: max abs err {err:.3e} "
              f"(max |ref| {logits.abs().max().item():.3e}, tol {a.tol:g})")
        if err > a.tol:
            sys.exit(1)


if __name__ == "__main__":
    main()
