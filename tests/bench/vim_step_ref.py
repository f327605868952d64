#!/usr/bin/env python3
"""Python peer of tests/bench/vim_step: forward + backward of one batch of the
reference Vim (tests/reference/vim_ref.py, plain python3-torch ops with the
per-timestep selective_scan_ref) on the same weights, input and labels.
Prints one JSON line: median step seconds, peak RSS, loss, grad norms."""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import st_io  # noqa: E402
import vim_ref  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--scan", choices=sorted(vim_ref.SCANS), default="loop")
    ap.add_argument("--checkpoint", action="store_true",
                    help="recompute each block in backward (fits Vim-T batch 8 in memory)")
    a = ap.parse_args()
    vim_ref.SCAN = vim_ref.SCANS[a.scan]
    vim_ref.CHECKPOINT = a.checkpoint
    torch.set_num_threads(a.threads)
    p, cfg = vim_ref.load_model(a.weights)
    inp = st_io.load(a.input)[0]
    images, labels = inp["images"].float(), inp["labels"].long()
    params = {k: v.requires_grad_(True) for k, v in p.items()}
    base_rss = peak_rss_mb()
    times, cpu, loss_v = [], [], None
    for i in range(a.warmup + a.iters):
        for v in params.values():
            v.grad = None
        t0, c0 = time.perf_counter(), time.process_time()
        loss = F.cross_entropy(vim_ref.vim_forward(params, cfg, images), labels)
        loss.backward()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i >= a.warmup:
            times.append(dt)
            cpu.append(dc)
        loss_v = loss.item()
    norms = {k: params[k].grad.norm().item() for k in
             ("cls_token", "layers.0.mixer.A_log", "layers.0.mixer.x_proj_b.weight", "patch_embed.proj.weight")}
    print(json.dumps({"step_s": statistics.median(times), "min_s": min(times), "cpu_s": statistics.median(cpu), "peak_rss_mb": peak_rss_mb(),
                      "base_rss_mb": base_rss, "loss": loss_v, "grad_norms": norms,
                      "threads": torch.get_num_threads(), "scan": a.scan,
                      "checkpoint": a.checkpoint}))


if __name__ == "__main__":
    main()
