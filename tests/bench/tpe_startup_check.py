#!/usr/bin/python3
"""Best of the 10 random startup trials: C++ sampler vs Optuna's, per seed.

Before either TPE runs, both samplers draw 10 uniform random trials. A
"significant" difference here is luck of the two random streams, and on some
problems (Rosenbrock-5D) it carries over to t = 50; this script measures it,
which is why tpe_quality.py has --shared_startup.

  /usr/bin/python3 tests/bench/tpe_startup_check.py --binary <bazel-bin>/tests/bench/tpe_quality \
      [--problems rosenbrock5] [--first_seed 30] [--seeds 30]
"""
import argparse
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import optuna
from scipy.stats import mannwhitneyu

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpe_quality as q  # noqa: E402  (the objectives and spaces)

STARTUP = 10  # Optuna's and TpeOptions' n_startup_trials


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True, help="tpe_quality")
    ap.add_argument("--problems", default="rosenbrock5")
    ap.add_argument("--first_seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=30)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    problems = args.problems.split(",")
    out = subprocess.run([args.binary, "--seeds", str(args.seeds), "--first_seed", str(args.first_seed),
                          "--trials", str(STARTUP), "--problems"] + problems,
                         check=True, capture_output=True, text=True).stdout
    cpp, opt = {}, {}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "OPT":
            opt[parts[1]] = float(parts[2])
        elif parts[0] == "RUN" and parts[2] == "cpp_tpe":  # all checkpoints = best of the 10
            cpp.setdefault(parts[1], []).append(float(parts[4]))
    print(f"best regret of the {STARTUP} startup trials, seeds {args.first_seed}..{args.first_seed + args.seeds - 1}")
    print("| problem | C++ median | Optuna median | p (Mann-Whitney U, two-sided) |")
    print("|---|---:|---:|---:|")
    for problem in problems:
        optuna_best = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
            best = math.inf
            for _ in range(STARTUP):
                t = study.ask()
                f = q.OBJECTIVES[problem](q.suggest(problem, t))
                study.tell(t, f)
                best = min(best, f)
            optuna_best.append(best - opt[problem])
        p = mannwhitneyu(cpp[problem], optuna_best, alternative="two-sided").pvalue
        print(f"| {problem} | {np.median(cpp[problem]):.4g} | {np.median(optuna_best):.4g} | {p:.3f} |")


if __name__ == "__main__":
    main()
