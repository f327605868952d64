#!/usr/bin/python3
"""Beyond MambaPEFT on mini-VTAB: each new method alone against LoRA_p(X)
alone, and the hybrid PEFT search with and without the new methods, with the
same seeds, data, backbone and budget (issue 13).

Part A runs `peftsearch-train` directly: per method and seed one search-mode
trial (train800 -> val200: the val accuracy) and one final-mode trial
(train800val200 -> test), mean over the five tasks. Part B starts a real
controller and two workers and submits, per seed, two hybrid studies that
differ only in `strategy.extended_methods`; it reports the best search
(val) accuracy and the final trial's test accuracy of each.

Prints one table per part with the difference against the peer measured in
the same run (LoRA_p(X) for A, the 20-method search for B) and the spread
over seeds, so that a difference can be read against seed noise.

usage: tests/bench/peft_beyond.py --bin BAZEL_BIN [--data DIR] [--backbone F]
       [--seeds 0,1,2] [--epochs 4] [--n1 8] [--n2 4] [--hybrid-seeds 0,1]
       [--jobs 2] [--workdir DIR] [--skip-hybrid]
"""
import argparse
import concurrent.futures as cf
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Each method at its registry defaults (the Table-9-style step-1 minimum).
SINGLES = [
    ("lora_p_x", {"lora_p_x": {}}),
    ("prodial", {"prodial": {}}),
    ("prodial diag_learnable", {"prodial": {"mode": "diag_learnable"}}),
    ("sdlora", {"sdlora": {}}),
    ("memba", {"memba": {}}),
    ("dora (DoRA_p(X))", {"dora": {}}),
]


def recipe(args, seed):
    return {"lr": 1e-3, "weight_decay": 1e-4, "batch_size": 32, "epochs": args.epochs,
            "warmup_epochs": 1 if args.epochs > 1 else 0, "min_lr": 1e-5, "grad_clip": 5.0,
            "drop_path": 0.0, "seed": seed}


def run_trial(args, name, peft, seed, mode):
    d = os.path.join(args.workdir, "single", f"{name.replace(' ', '_')}-s{seed}-{mode}")
    os.makedirs(d, exist_ok=True)
    trial = {"weights": args.backbone, "data_root": args.data, "peft": peft,
             "recipe": recipe(args, seed), "mode": mode, "threads": 1}
    path = os.path.join(d, "trial.json")
    with open(path, "w") as f:
        json.dump(trial, f)
    t0 = time.time()
    p = subprocess.run([os.path.join(args.bin, "worker/train/peftsearch-train"), "--trial", path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{name} seed {seed} {mode}: {p.stdout[-400:]} {p.stderr[-400:]}")
    result = json.loads(p.stdout.strip().splitlines()[-1])
    return name, seed, mode, result["value"], result["trainable_params"], time.time() - t0


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def part_a(args):
    jobs = [(n, p, s, m) for n, p in SINGLES for s in args.seeds for m in ("search", "final")]
    res = {}
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        for name, seed, mode, value, params, wall in pool.map(lambda j: run_trial(args, *j), jobs):
            res.setdefault(name, {"params": params, "search": {}, "final": {}})[mode][seed] = value
            print(f"  {name:24s} seed {seed} {mode:6s} {100 * value:6.2f}%  {wall:5.1f}s", flush=True)
    base = res["lora_p_x"]
    print("\nPart A: each method alone (mean over 5 tasks; mean ± sd over seeds "
          f"{args.seeds}; diff = paired mean difference vs LoRA_p(X), ± its sd)")
    print(f"| method | trainable | val % | test % | val diff | test diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, _ in SINGLES:
        r = res[name]
        cells = []
        for mode in ("search", "final"):
            m, sd = mean_sd([100 * r[mode][s] for s in args.seeds])
            cells.append(f"{m:.2f} ± {sd:.2f}")
        for mode in ("search", "final"):
            m, sd = mean_sd([100 * (r[mode][s] - base[mode][s]) for s in args.seeds])
            cells.append("—" if name == "lora_p_x" else f"{m:+.2f} ± {sd:.2f}")
        print(f"| {name} | {r['params']:,} | " + " | ".join(cells) + " |")
    return res


def report_b(db, args):
    """Prints Part B's table from a store holding the beyond-{paper,ext}-s<seed> studies."""
    names = [(seed, ext, f"beyond-{'ext' if ext else 'paper'}-s{seed}")
             for seed in args.hybrid_seeds for ext in (False, True)]
    con = sqlite3.connect(db)
    rows = {}
    for seed, extended, name in names:
        summary = json.loads(con.execute("SELECT summary_json FROM studies WHERE name=?",
                                         (name,)).fetchone()[0])
        failed = con.execute("SELECT COUNT(*) FROM trials t JOIN studies s ON s.id=t.study_id "
                             "WHERE s.name=? AND t.state=5", (name,)).fetchone()[0]
        step = summary["step2"] if "best_value" in summary.get("step2", {}) else summary["step1"]
        rows[(seed, extended)] = {"val": step["best_value"],
                                  "test": summary["final"].get("test_value"),
                                  "combination": summary["final"]["combination"],
                                  "params": summary["final"].get("trainable_params"),
                                  "failed": failed}
    con.close()
    print(f"\nPart B: hybrid search, N1 {args.n1}, N2 {args.n2}, seeds {args.hybrid_seeds} "
          f"(sampler and recipe seed)")
    print("| seed | set | best val % | final test % | trainable | C* | failed trials |")
    print("|---|---|---:|---:|---:|---|---:|")
    for (seed, extended), r in sorted(rows.items()):
        print(f"| {seed} | {'20 + 4 new' if extended else 'paper 20'} | {100 * r['val']:.2f} | "
              f"{100 * r['test']:.2f} | {r['params']:,} | {', '.join(r['combination'])} | "
              f"{r['failed']} |")
    for key in ("val", "test"):
        d = [100 * (rows[(s, True)][key] - rows[(s, False)][key]) for s in args.hybrid_seeds]
        m, sd = mean_sd(d)
        print(f"extended - paper, {key}: {m:+.2f} ± {sd:.2f} points (per seed: "
              + ", ".join(f"{x:+.2f}" for x in d) + ")")
    return rows


def part_b(args):
    work = os.path.join(args.workdir, "hybrid")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    db = os.path.join(work, "trials.db")
    addr_file = os.path.join(work, "addr")
    procs = []
    try:
        procs.append(subprocess.Popen(
            [os.path.join(args.bin, "controller/peftsearch-controller"), "--listen", "127.0.0.1:0",
             "--db", db, "--address-file", addr_file],
            stdout=open(os.path.join(work, "controller.log"), "w"), stderr=subprocess.STDOUT))
        for _ in range(200):
            if os.path.exists(addr_file) and os.path.getsize(addr_file) > 0:
                break
            time.sleep(0.1)
        addr = open(addr_file).read().strip()
        for w in range(args.jobs):
            procs.append(subprocess.Popen(
                [os.path.join(args.bin, "worker/daemon/peftsearch-worker"), "--controller", addr,
                 "--slots", "1", "--name", f"bench-{w}", "--workdir", os.path.join(work, f"w{w}"),
                 "--trainer", os.path.join(args.bin, "worker/train/peftsearch-train")],
                stdout=open(os.path.join(work, f"worker{w}.log"), "w"), stderr=subprocess.STDOUT))
        names = []
        for seed in args.hybrid_seeds:
            for extended in (False, True):
                name = f"beyond-{'ext' if extended else 'paper'}-s{seed}"
                strategy = {"type": "hybrid_peft", "n1": args.n1, "n2": args.n2, "final": True}
                if extended:
                    strategy["extended_methods"] = True
                spec = {"name": name, "direction": "maximize", "strategy": strategy,
                        "sampler": {"type": "tpe", "seed": seed, "n_startup_trials": 4},
                        "objective": {"type": "peft_vim", "trial": {
                            "weights": args.backbone, "data_root": args.data,
                            "recipe": recipe(args, seed), "threads": 1}},
                        "parallelism": args.jobs, "lease_seconds": 120}
                path = os.path.join(work, name + ".json")
                with open(path, "w") as f:
                    json.dump(spec, f)
                subprocess.run([os.path.join(args.bin, "controller/cli/peftsearch"), "--controller",
                                addr, "submit", path], check=True, capture_output=True)
                names.append((seed, extended, name))
        t0 = time.time()
        while True:
            con = sqlite3.connect(db)
            states = dict(con.execute("SELECT name, state FROM studies").fetchall())
            con.close()
            if all(states.get(n) == 2 for _, _, n in names):
                break
            if time.time() - t0 > args.hybrid_timeout:
                raise RuntimeError(f"hybrid studies not complete after {args.hybrid_timeout}s: {states}")
            time.sleep(2)
        return report_b(db, args)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="bazel-bin with the trainer, controller, worker, CLI")
    ap.add_argument("--data", default=os.path.join(ROOT, "data/mini_vtab_160"))
    ap.add_argument("--backbone", default=os.path.join(ROOT, "data/backbone/vim32_shapes_240s.safetensors"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--hybrid-seeds", default="0,1")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--n1", type=int, default=8)
    ap.add_argument("--n2", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--hybrid-timeout", type=int, default=3600)
    ap.add_argument("--workdir", default="")
    ap.add_argument("--skip-hybrid", action="store_true")
    ap.add_argument("--skip-singles", action="store_true")
    ap.add_argument("--report-db", default="",
                    help="only print Part B's table from this store (studies already complete)")
    args = ap.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.hybrid_seeds = [int(s) for s in args.hybrid_seeds.split(",")]
    if args.report_db:
        report_b(args.report_db, args)
        return
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="peft_beyond.")
    for f in (args.data + "/mini_vtab.json", args.backbone):
        if not os.path.exists(f):
            sys.exit(f"missing {f} (tools/make_mini_vtab, tools/pretrain_backbone; see tools/demo)")
    print(f"data {args.data}\nbackbone {args.backbone}\nepochs {args.epochs}, jobs {args.jobs}, "
          f"workdir {args.workdir}", flush=True)
    t0 = time.time()
    if not args.skip_singles:
        part_a(args)
        print(f"part A wall {time.time() - t0:.0f}s", flush=True)
    if not args.skip_hybrid:
        t1 = time.time()
        part_b(args)
        print(f"part B wall {time.time() - t1:.0f}s", flush=True)
    print(f"total wall {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
