"""The peer of controller_throughput: the same number of no-op trials through
Optuna's ask/tell with its SQLite (RDB) storage, random sampler, one process.
Run with /usr/bin/python3 (Debian's python3-optuna)."""
import argparse
import os
import time

import optuna

parser = argparse.ArgumentParser()
parser.add_argument("--trials", type=int, default=5000)
parser.add_argument("--db", default="/tmp/peftsearch_bench/optuna.db")
args = parser.parse_args()
if os.path.exists(args.db):
    os.remove(args.db)
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(storage=f"sqlite:///{args.db}",
                            sampler=optuna.samplers.RandomSampler(seed=1))
start = time.perf_counter()
for _ in range(args.trials):
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    study.tell(trial, 0.5)
seconds = time.perf_counter() - start
print(f"optuna: {args.trials} trials, {seconds:.2f} s -> {args.trials / seconds:.1f} trials/s "
      f"(optuna {optuna.__version__}, sqlite storage)")
