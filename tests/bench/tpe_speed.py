#!/usr/bin/python3
"""tpe_speed driver: C++ TPE vs python3-optuna TPESampler, same histories, same run.

Runs the tpe_speed binary (which times the C++ sampler and writes each
history), replays every history into an in-memory Optuna study and times one
ask() + 10 suggest_*() calls, i.e. what Optuna's sampler costs per trial.
Prints a Markdown table: median per-suggest latency (thread CPU time, and
wall time) and the Optuna/C++ ratio.

Run with Debian's interpreter, which has optuna:
  bazel --output_base=/root/.cache/bazel-ob/tpe build //tests/bench:tpe_speed
  /usr/bin/python3 tests/bench/tpe_speed.py --binary <bazel-bin>/tests/bench/tpe_speed
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

# The binary's Mixed10(); categorical choices are the indices themselves.
SPACE = {
    "x0": FloatDistribution(-5, 5), "x1": FloatDistribution(-5, 5),
    "x2": FloatDistribution(-5, 5), "x3": FloatDistribution(-5, 5),
    "lr0": FloatDistribution(1e-5, 1, log=True), "lr1": FloatDistribution(1e-5, 1, log=True),
    "n": IntDistribution(1, 100), "units": IntDistribution(1, 1024, log=True),
    "c4": CategoricalDistribution(list(range(4))), "c10": CategoricalDistribution(list(range(10))),
}


def load_history(path):
    with open(path) as f:
        header = f.readline().split()
        names = header[2:]
        trials = []
        for line in f:
            cols = line.split()
            params = {}
            for name, text in zip(names, cols[2:]):
                d = SPACE[name]
                v = float(text)
                params[name] = int(round(v)) if isinstance(d, (IntDistribution, CategoricalDistribution)) else v
            trials.append(optuna.trial.create_trial(params=params, distributions=SPACE, value=float(cols[1])))
    return trials


def suggest_all(trial):
    for name, d in SPACE.items():
        if isinstance(d, FloatDistribution):
            trial.suggest_float(name, d.low, d.high, log=d.log)
        elif isinstance(d, IntDistribution):
            trial.suggest_int(name, d.low, d.high, log=d.log)
        else:
            trial.suggest_categorical(name, d.choices)


def time_optuna(trials, multivariate, reps):
    sampler = optuna.samplers.TPESampler(seed=7, multivariate=multivariate)
    study = optuna.create_study(sampler=sampler)
    study.add_trials(trials)
    wall, cpu = [], []
    for i in range(reps + 1):  # the first ask warms caches up, not timed
        w0, c0 = time.perf_counter(), time.thread_time()
        t = study.ask()
        suggest_all(t)
        w1, c1 = time.perf_counter(), time.thread_time()
        study.tell(t, state=optuna.trial.TrialState.FAIL)  # FAIL: invisible to TPE
        if i > 0:
            wall.append((w1 - w0) * 1e3)
            cpu.append((c1 - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--reps", type=int, default=21, help="C++ timed suggestions (half at 10k)")
    ap.add_argument("--optuna_reps", type=int, default=5)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [args.binary, "--history_dir", tmp, "--reps", str(args.reps), "--sizes"] + [str(s) for s in sizes]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        cpp = {}
        for line in out.splitlines():
            if line.startswith("RESULT"):
                _, n, mode, med, mn, reps, cpu = line.split()
                cpp[(int(n), mode)] = (float(med), float(cpu))
        print(f"optuna {optuna.__version__}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at start")
        print()
        print("| trials | mode | C++ CPU ms | Optuna CPU ms | ratio (CPU) | C++ wall ms | Optuna wall ms | ratio (wall) |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|")
        for n in sizes:
            trials = load_history(os.path.join(tmp, f"history_{n}.txt"))
            for mode in ("independent", "multivariate"):
                reps = args.optuna_reps if n < 10000 else max(3, args.optuna_reps // 2)
                o_wall, o_cpu = time_optuna(trials, mode == "multivariate", reps)
                c_wall, c_cpu = cpp[(n, mode)]
                print(f"| {n} | {mode} | {c_cpu:.3f} | {o_cpu:.1f} | {o_cpu / c_cpu:.0f}x | "
                      f"{c_wall:.3f} | {o_wall:.1f} | {o_wall / c_wall:.0f}x |", flush=True)
        print(f"\nload average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
