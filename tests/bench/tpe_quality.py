#!/usr/bin/python3
"""tpe_quality driver: C++ TPE vs python3-optuna TPE vs random search.

Runs the tpe_quality binary (C++ TPE: default, with Optuna 4.9's kernel
model, and multivariate; and random search: S seeds x T trials per problem), checks that the Python objectives
below equal the C++ ones on the binary's sample points, runs Optuna's
TPESampler with its defaults on the same problems and seeds, and prints per
problem the median [IQR] best-so-far regret at 50/100/200 trials and a
two-sided Mann-Whitney U test of C++ TPE against Optuna TPE.

  /usr/bin/python3 tests/bench/tpe_quality.py --binary <bazel-bin>/tests/bench/tpe_quality \
      [--seeds 30] [--trials 200] [--problems branin,...] [--optuna_cache FILE]

Optuna runs are cached in --optuna_cache (JSON), keyed by problem, seed and
trials, so the C++ side can be re-run alone.

--shared_startup gives Optuna the C++ sampler's 10 random startup trials
(enqueue_trial), so that both TPEs start from the same points and the test
compares the models, not the luck of two uniform random streams. Without
it, a "difference" at t=50 can be one already present at t=10, before
either TPE has run (seen on Rosenbrock-5D, seeds 30-59).
"""
import argparse
import json
import math
import os
import subprocess
import time
import warnings

import numpy as np
import optuna
from scipy.stats import mannwhitneyu

CHECKPOINTS = (50, 100, 200)


# --- objectives: the formulas of tpe_problems.cc, on dicts of internal values ---
def branin(v):
    x1, x2 = v["x0"], v["x1"]
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


H_ALPHA = [1.0, 1.2, 3.0, 3.2]
H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
       [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(v):
    x = [v[f"x{j}"] for j in range(6)]
    f = 0.0
    for i in range(4):
        s = sum(H_A[i][j] * (x[j] - 1e-4 * H_P[i][j]) ** 2 for j in range(6))
        f -= H_ALPHA[i] * math.exp(-s)
    return f


def rosenbrock5(v):
    x = [v[f"x{j}"] for j in range(5)]
    return sum(100 * (x[i + 1] - x[i] * x[i]) ** 2 + (1 - x[i]) ** 2 for i in range(4))


def styblinski10(v):
    return 0.5 * sum(x ** 4 - 16 * x * x + 5 * x for x in (v[f"x{j}"] for j in range(10)))


def cond_mlp(v):
    opt = int(v["opt"])
    f = [0.3, 0, 0.1][opt] + 0.5 * (math.log10(v["lr"]) - [-1, -3, -2.5][opt]) ** 2
    if opt == 0:
        f += (v["momentum"] - 0.9) ** 2
    if opt == 1:
        f += 10 * (v["beta1"] - 0.9) ** 2
    n = int(v["n_layers"])
    f += 0.1 * abs(n - 3)
    for i in range(1, n + 1):
        f += (math.log2(v[f"units_{i}"]) - (8 - i)) ** 2 / (10.0 * n)
    return f + (v["dropout"] - 0.2) ** 2


PEFT = ["cls", "bias", "pos_embed", "d", "a", "conv1d", "prompt", "affix", "add_scan", "par_adapter",
        "lora_embed", "lora_xproj", "lora_dtproj", "lora_outproj", "lora_inproj", "lorap_d",
        "lorap_b", "lorap_c", "lorap_x", "lorap_z"]
PEFT_GAIN = [0.3, 0.8, 0.5, 0.9, 1.2, 0.6, -0.4, 1.5, 1.0, 1.4, -0.2, 1.1, 0.4, 0.7, 1.3, 0.2, 0.5, 0.3, 1.6, 0.9]
PEFT_PAIRS = [(11, 18, -1.2), (14, 19, -1.0), (6, 7, -0.8), (4, 8, 0.6), (9, 13, -0.9), (3, 4, 0.4),
              (5, 18, 0.5), (0, 1, 0.2), (7, 9, -0.7), (12, 15, 0.3)]


def peft20(v):
    on = [v[name] == 1 for name in PEFT]
    acc = 60.0
    k = 0
    for i in range(20):
        if on[i]:
            acc += PEFT_GAIN[i]
            k += 1
    for i, j, g in PEFT_PAIRS:
        if on[i] and on[j]:
            acc += g
    return -(acc - 0.05 * k * k)


OBJECTIVES = {"branin": branin, "hartmann6": hartmann6, "rosenbrock5": rosenbrock5,
              "styblinski10": styblinski10, "cond_mlp": cond_mlp, "peft20": peft20}


# --- the same spaces, define-by-run for Optuna ---
def suggest(problem, t):
    v = {}
    if problem == "branin":
        v["x0"] = t.suggest_float("x0", -5, 10)
        v["x1"] = t.suggest_float("x1", 0, 15)
    elif problem in ("hartmann6", "rosenbrock5", "styblinski10"):
        dims, lo, hi = {"hartmann6": (6, 0, 1), "rosenbrock5": (5, -5, 10), "styblinski10": (10, -5, 5)}[problem]
        for j in range(dims):
            v[f"x{j}"] = t.suggest_float(f"x{j}", lo, hi)
    elif problem == "cond_mlp":
        v["opt"] = ["sgd", "adam", "rmsprop"].index(t.suggest_categorical("opt", ["sgd", "adam", "rmsprop"]))
        v["lr"] = t.suggest_float("lr", 1e-5, 1, log=True)
        if v["opt"] == 0:
            v["momentum"] = t.suggest_float("momentum", 0, 0.99)
        if v["opt"] == 1:
            v["beta1"] = t.suggest_float("beta1", 0.8, 0.999)
        v["n_layers"] = t.suggest_int("n_layers", 1, 4)
        for i in range(1, v["n_layers"] + 1):
            v[f"units_{i}"] = t.suggest_int(f"units_{i}", 8, 1024, log=True)
        v["dropout"] = t.suggest_float("dropout", 0, 0.5, step=0.05)
    elif problem == "peft20":
        for name in PEFT:
            v[name] = t.suggest_categorical(name, [0, 1])
    return v


# Internal value (the C++ START lines) -> the value Optuna's suggest returns.
CHOICES = {"opt": ["sgd", "adam", "rmsprop"]}


def to_optuna(name, x):
    if name in CHOICES:
        return CHOICES[name][int(x)]
    if name in PEFT or name == "n_layers" or name.startswith("units_"):
        return int(round(x))
    return x


def run_optuna(problem, seed, trials, opt, startup=None):
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    for params in startup or []:
        study.enqueue_trial({k: to_optuna(k, x) for k, x in params.items()})
    best, at = math.inf, []
    for i in range(trials):
        t = study.ask()
        v = suggest(problem, t)
        if startup and i < len(startup):  # the enqueued point, exactly
            assert v == startup[i], (problem, seed, i, v, startup[i])
        f = OBJECTIVES[problem](v)
        study.tell(t, f)
        best = min(best, f)
        if i + 1 in CHECKPOINTS:
            at.append(best - opt)
    while len(at) < 3:
        at.append(best - opt)
    return at


def fmt(xs):
    q1, med, q3 = np.percentile(xs, [25, 50, 75])
    return f"{med:.3g} [{q1:.3g}–{q3:.3g}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first_seed", type=int, default=0, help="a fresh seed range confirms a choice made on another")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--problems", default=",".join(OBJECTIVES))
    ap.add_argument("--optuna_cache", default="")
    ap.add_argument("--optuna_only", action="store_true", help="fill the Optuna cache, print nothing else")
    ap.add_argument("--shared_startup", action="store_true",
                    help="Optuna starts from the C++ TPE's random startup trials (see above)")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    problems = args.problems.split(",")

    # C++ runs (and f*, and sample points to check the Python objectives).
    cmd = [args.binary, "--seeds", str(args.seeds), "--first_seed", str(args.first_seed),
           "--trials", str(args.trials), "--problems"] + problems
    t0 = time.time()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    cpp_secs = time.time() - t0
    runs, opt, startup = {}, {}, {}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "OPT":
            opt[parts[1]] = float(parts[2])
        elif parts[0] == "CHECK":
            v = {k: float(x) for k, x in (p.split("=") for p in parts[2:-1])}
            f_cpp = float(parts[-1].split("=")[1])
            f_py = OBJECTIVES[parts[1]](v)
            assert abs(f_py - f_cpp) <= 1e-9 * max(1.0, abs(f_cpp)), (parts[1], f_py, f_cpp)
        elif parts[0] == "START":
            startup.setdefault((parts[1], int(parts[2])), []).append(
                {k: float(x) for k, x in (p.split("=") for p in parts[4:])})
        elif parts[0] == "RUN":
            runs.setdefault((parts[1], parts[2]), []).append([float(x) for x in parts[4:7]])
    cache = {}
    if args.optuna_cache and os.path.exists(args.optuna_cache):
        with open(args.optuna_cache) as f:
            cache = json.load(f)
    t0 = time.time()
    for problem in problems:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            key = f"{problem}/{seed}/{args.trials}" + ("/shared_startup" if args.shared_startup else "")
            if key not in cache:
                cache[key] = run_optuna(problem, seed, args.trials, opt[problem],
                                        startup[(problem, seed)] if args.shared_startup else None)
                if args.optuna_cache:
                    with open(args.optuna_cache + ".tmp", "w") as f:
                        json.dump(cache, f)
                    os.replace(args.optuna_cache + ".tmp", args.optuna_cache)
            runs.setdefault((problem, "optuna_tpe"), []).append(cache[key])
    optuna_secs = time.time() - t0
    if args.optuna_only:
        print(f"optuna cache filled in {optuna_secs:.0f} s")
        return

    print(f"optuna {optuna.__version__}; seeds {args.first_seed}..{args.first_seed + args.seeds - 1}, "
          f"{args.trials} trials; startup {'shared' if args.shared_startup else 'independent'}; "
          f"C++ runs {cpp_secs:.0f} s wall (all three C++ samplers), Optuna runs {optuna_secs:.0f} s wall "
          f"(0 if cached)")
    print()
    print("Cells: median [IQR] best-so-far regret over the seeds. p: two-sided Mann-Whitney U of the "
          "C++ column against Optuna TPE; verdict at p < 0.05.")
    print()
    print("| problem | t | C++ TPE (default) | p | verdict | C++ TPE, 4.9 model | p | verdict "
          "| C++ TPE mv | Optuna TPE | random |")
    print("|---|---:|---|---:|---|---|---:|---|---|---|---|")

    def verdict(a, b):
        p = mannwhitneyu(a, b, alternative="two-sided").pvalue
        v = "tie" if p >= 0.05 else ("C++ better" if np.median(a) < np.median(b) else "C++ WORSE")
        return f"{p:.3f}", v

    default_p = []  # (p, label) of the default column, for the Holm line
    for problem in problems:
        for ci, t in enumerate(CHECKPOINTS):
            if t > args.trials:
                continue
            col = {s: np.array([r[ci] for r in runs[(problem, s)]]) for s in
                   ("cpp_tpe", "cpp_tpe_49", "cpp_tpe_mv", "optuna_tpe", "random")}
            p1, v1 = verdict(col["cpp_tpe"], col["optuna_tpe"])
            default_p.append((float(p1), f"{problem} t={t} ({v1})"))
            p3, v3 = verdict(col["cpp_tpe_49"], col["optuna_tpe"])
            print(f"| {problem} | {t} | {fmt(col['cpp_tpe'])} | {p1} | {v1} | {fmt(col['cpp_tpe_49'])} | {p3} | "
                  f"{v3} | {fmt(col['cpp_tpe_mv'])} | {fmt(col['optuna_tpe'])} | {fmt(col['random'])} |")

    # Holm-Bonferroni over the default column's comparisons: the family-wise
    # reading of "no problem worse" (printed next to the uncorrected verdicts).
    ordered = sorted(default_p)
    m = len(ordered)
    if not m:
        return
    adjusted, running = [], 0.0
    for i, (p, label) in enumerate(ordered):
        running = max(running, min(1.0, (m - i) * p))
        adjusted.append((running, label))
    significant = [label for a, label in adjusted if a < 0.05]
    print()
    print(f"Holm-corrected, default column, {m} comparisons: smallest adjusted p {adjusted[0][0]:.3f} "
          f"({adjusted[0][1]}); significant at 0.05: {', '.join(significant) or 'none'}")


if __name__ == "__main__":
    main()
