#!/usr/bin/python3
"""Chaos run: a study of fast trials with many workers while workers and the
controller are SIGKILLed at random moments (the controller is restarted on
the same address; killed workers are replaced). Afterwards every trial number
0..N-1 must be COMPLETE exactly once, no trial completed twice, the event log
must agree with the trial table, and PRAGMA integrity_check must be ok.

    chaos.py --bin-dir DIR --trials 500 --workers 16 --worker-kills 100 --controller-kills 20

DIR holds peftsearch-controller, peftsearch-worker and peftsearch (or pass
each with --controller-bin / --worker-bin / --cli-bin). Prints a summary line
and exits non-zero on any violation.
"""
import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--controller-bin", required=True)
    p.add_argument("--worker-bin", required=True)
    p.add_argument("--trials", type=int, default=500)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--worker-kills", type=int, default=100)
    p.add_argument("--controller-kills", type=int, default=20)
    p.add_argument("--trial-ms", type=int, default=150)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dir", default="")
    p.add_argument("--timeout", type=float, default=900)
    return p.parse_args()


class Cluster:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.db = os.path.join(work, "chaos.db")
        self.addr_file = os.path.join(work, "addr")
        self.port = 0
        self.controller = None
        self.workers = []
        self.spawned_workers = 0

    def start_controller(self):
        if os.path.exists(self.addr_file):
            os.remove(self.addr_file)
        log = open(os.path.join(self.work, "controller.log"), "a")
        self.controller = subprocess.Popen(
            [self.args.controller_bin, "--listen", f"127.0.0.1:{self.port}", "--db", self.db,
             "--address-file", self.addr_file, "--sweep-interval-ms", "200",
             "--heartbeat-interval-ms", "300", "--restart-grace-ms", "3000"],
            stdout=log, stderr=log)
        deadline = time.time() + 30
        while not (os.path.exists(self.addr_file) and open(self.addr_file).read().strip()):
            if time.time() > deadline or self.controller.poll() is not None:
                raise SystemExit("controller did not start; see controller.log")
            time.sleep(0.05)
        self.addr = open(self.addr_file).read().strip()
        self.port = int(self.addr.rsplit(":", 1)[1])

    def start_worker(self):
        i = self.spawned_workers
        self.spawned_workers += 1
        log = open(os.path.join(self.work, f"worker-{i}.log"), "a")
        w = subprocess.Popen(
            [self.args.worker_bin, "--controller", self.addr, "--slots", "1", "--name", f"w{i}",
             "--workdir", os.path.join(self.work, f"w{i}"), "--acquire-wait-ms", "1000"],
            stdout=log, stderr=log)
        self.workers.append(w)

    def kill_all(self):
        for p in self.workers + [self.controller]:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def submit(cluster, args):
    import grpc  # python3-grpcio; stubs generated into the work dir
    sys.path.insert(0, cluster.work)
    import peftsearch_pb2 as pb
    import peftsearch_pb2_grpc as rpc
    spec = {
        "name": "chaos", "direction": "minimize",
        "space": {"x": {"type": "float", "low": -5, "high": 10},
                  "y": {"type": "float", "low": 0, "high": 15}},
        "sampler": {"type": "tpe", "seed": args.seed},
        "objective": {"type": "builtin", "function": "branin", "sleep_ms": args.trial_ms,
                      "steps": 2},
        "max_trials": args.trials, "parallelism": args.workers,
        "lease_seconds": 2, "max_attempts": 50,
    }
    for attempt in range(50):
        try:
            stub = rpc.StudyServiceStub(grpc.insecure_channel(cluster.addr))
            stub.CreateStudy(pb.CreateStudyRequest(spec_json=json.dumps(spec)), timeout=10)
            return
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.ALREADY_EXISTS:
                return
            time.sleep(0.2)
    raise SystemExit("could not submit the study")


def study_done(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        row = con.execute("SELECT state FROM studies WHERE name='chaos'").fetchone()
        con.close()
        return row is not None and row[0] == 2
    except sqlite3.Error:
        return False


def check(db, n):
    con = sqlite3.connect(db)
    problems = []
    (sid,) = con.execute("SELECT id FROM studies WHERE name='chaos'").fetchone()
    rows = con.execute("SELECT number, state FROM trials WHERE study_id=?", (sid,)).fetchall()
    numbers = sorted(r[0] for r in rows)
    if numbers != list(range(n)):
        problems.append(f"trial numbers are not exactly 0..{n-1} (rows {len(rows)})")
    not_complete = [r[0] for r in rows if r[1] != 3]
    if not_complete:
        problems.append(f"{len(not_complete)} trials not COMPLETE: {not_complete[:10]}")
    completes = dict(con.execute(
        "SELECT trial_number, COUNT(*) FROM events WHERE study_id=? AND kind='complete' "
        "GROUP BY trial_number", (sid,)).fetchall())
    twice = [k for k, c in completes.items() if c != 1]
    if twice:
        problems.append(f"trials completed more than once in the event log: {twice[:10]}")
    if len(completes) != n:
        problems.append(f"{len(completes)} trials have a complete event, want {n}")
    # The last trial event of each trial agrees with its row.
    last = con.execute(
        "SELECT e.trial_number, e.state FROM events e JOIN (SELECT trial_number, MAX(seq) s "
        "FROM events WHERE study_id=? AND trial_number >= 0 GROUP BY trial_number) m "
        "ON e.seq = m.s", (sid,)).fetchall()
    table = dict(rows)
    mismatched = [t for t, s in last if table.get(t) != s]
    if mismatched:
        problems.append(f"event log disagrees with the table for trials {mismatched[:10]}")
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    expired = con.execute("SELECT COUNT(*) FROM events WHERE study_id=? AND kind='expired'",
                          (sid,)).fetchone()[0]
    retried = con.execute("SELECT COUNT(*) FROM trials WHERE study_id=? AND attempt > 0",
                          (sid,)).fetchone()[0]
    con.close()
    return problems, expired, retried


def main():
    args = parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="chaos-")
    os.makedirs(work, exist_ok=True)
    proto = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
    proto = os.environ.get("PEFTSEARCH_PROTO_DIR", proto)
    subprocess.run(["protoc", f"-I{proto}", f"--python_out={work}", f"--grpc_out={work}",
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    os.path.join(proto, "peftsearch.proto")], check=True)
    rng = random.Random(args.seed)
    cluster = Cluster(args, work)
    start = time.time()
    try:
        cluster.start_controller()
        for _ in range(args.workers):
            cluster.start_worker()
        submit(cluster, args)
        # Spread the kills over the expected run time, at random moments.
        expected = max(5.0, args.trials * args.trial_ms / 1000.0 / args.workers * 2.5)
        events = ([("worker", rng.uniform(0.2, expected)) for _ in range(args.worker_kills)] +
                  [("controller", rng.uniform(0.5, expected)) for _ in range(args.controller_kills)])
        events.sort(key=lambda e: e[1])
        worker_kills = controller_kills = 0
        for kind, at in events:
            while time.time() - start < at:
                time.sleep(0.01)
            if study_done(cluster.db):
                break
            if kind == "worker":
                alive = [w for w in cluster.workers if w.poll() is None]
                if alive:
                    victim = rng.choice(alive)
                    victim.kill()
                    victim.wait()
                    worker_kills += 1
                    cluster.start_worker()
            else:
                cluster.controller.kill()
                cluster.controller.wait()
                controller_kills += 1
                time.sleep(rng.uniform(0.0, 0.5))
                cluster.start_controller()
        while not study_done(cluster.db):
            if time.time() - start > args.timeout:
                raise SystemExit(f"study did not finish within {args.timeout}s")
            if cluster.controller.poll() is not None:
                cluster.start_controller()
            time.sleep(0.2)
        seconds = time.time() - start
    finally:
        cluster.kill_all()
    problems, expired, retried = check(cluster.db, args.trials)
    print(f"chaos: {args.trials} trials, {args.workers} workers, {worker_kills} worker SIGKILLs, "
          f"{controller_kills} controller SIGKILLs, {expired} lease expiries, {retried} trials "
          f"retried, {seconds:.1f} s: {'OK' if not problems else 'VIOLATIONS'}")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
