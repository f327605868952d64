"""Drives studies for the dashboard tests through the Python client.

    drive.py builtin NAME MAX_TRIALS SLEEP_MS [LEASE_S]   submit, don't wait
    drive.py wait NAME                                    watch until it ends
    drive.py hybrid NAME                                  a hybrid PEFT study by ask/tell
"""
import random
import sys

from peftsearch import Client


def builtin(c, name, max_trials, sleep_ms, lease_s=60):
    c.submit({"name": name, "direction": "minimize",
              "space": {"x": {"type": "float", "low": -5, "high": 10},
                        "y": {"type": "float", "low": 0, "high": 15}},
              "sampler": {"type": "tpe", "seed": 42, "n_startup_trials": 8},
              "objective": {"type": "builtin", "function": "branin",
                            "sleep_ms": int(sleep_ms), "steps": 4},
              "max_trials": int(max_trials), "parallelism": 4,
              "lease_seconds": int(lease_s)})


def hybrid(c, name):
    # A surrogate accuracy: LoRA on x_proj helps, prompt hurts (MambaPEFT's
    # step 1 picks methods the same way, from validation accuracy).
    methods = ["bias", "lora_x_proj", "prompt", "d", "conv1d"]
    effect = {"bias": 0.02, "lora_x_proj": 0.08, "prompt": -0.05, "d": 0.0, "conv1d": 0.01}
    size = {"bias": 30e3, "lora_x_proj": 1.2e6, "prompt": 4e3, "d": 20e3, "conv1d": 72e3}
    n1, n2 = 16, 6
    c.submit({"name": name, "direction": "maximize", "space": {},
              "sampler": {"type": "tpe", "seed": 1}, "objective": {"type": "external"},
              "max_trials": n1 + n2 + 1,
              "strategy": {"type": "hybrid_peft", "n1": n1, "n2": n2, "final": True,
                           "methods": methods}})
    rng = random.Random(1)
    while c.study(name)["state"] == "RUNNING":
        number, params = c.ask(name)
        combination = list(params.get("peft", {}))
        acc = 0.6 + sum(effect[m] for m in combination) + rng.gauss(0, 0.004)
        c.tell(name, number, value=acc,
               result={"trainable_params": 1000 + sum(size[m] for m in combination)})


def main():
    with Client() as c:
        cmd, name = sys.argv[1], sys.argv[2]
        if cmd == "builtin":
            builtin(c, name, *sys.argv[3:])
        elif cmd == "wait":
            for _ in c.watch(name, timeout=300):
                pass
            print(c.study(name)["state"])
        elif cmd == "hybrid":
            hybrid(c, name)
        else:
            sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
