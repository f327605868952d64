#!/usr/bin/python3
"""Prints a hybrid PEFT study's outcome from the controller's SQLite file:
the combination C of step 1, C* and h* of step 2, trainable parameters, and
validation and test accuracies per task.

    tools/hybrid_summary.py DB STUDY
"""
import json
import sqlite3
import sys


def fmt_tasks(tasks):
    return ", ".join(f"{t} {v:.3f}" for t, v in sorted(tasks.items()))


def main():
    db, study = sys.argv[1], sys.argv[2]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    row = con.execute("SELECT summary_json FROM studies WHERE name = ?", (study,)).fetchone()
    if row is None or not row[0]:
        print(f"no hybrid summary for study {study}")
        return 1
    s = json.loads(row[0])
    step1, step2, final = s.get("step1", {}), s.get("step2", {}), s.get("final")
    print(f"Step 1 ({step1.get('finished', 0)}/{step1.get('planned', 0)} trials): best combination C "
          f"from trial {step1.get('best_trial', '-')}, validation {step1.get('best_value', float('nan')):.4f}")
    print(f"  C = {', '.join(step1.get('combination', [])) or '(linear probing)'}")
    if step2.get("combination") is not None:
        print(f"Step 2 ({step2.get('finished', 0)}/{step2.get('planned', 0)} trials): best trial "
              f"{step2.get('best_trial')}, validation {step2.get('best_value', float('nan')):.4f}, "
              f"removed: {step2.get('removed', 'none')}")
    best = final or step2 or step1
    print(f"Winning combination C* ({len(best.get('combination', []))} methods): "
          f"{', '.join(best.get('combination', [])) or '(linear probing)'}")
    print("  hyperparameters h*:")
    for method, hps in sorted(best.get("peft", {}).items()):
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in sorted(hps.items()))
        print(f"    {method:18s} {shown}")
    if "trainable_params" in best:
        print(f"Trainable parameters (all five tasks, heads included): {best['trainable_params']:,}")
    if step2.get("tasks") or step1.get("tasks"):
        tasks = step2.get("tasks") or step1.get("tasks")
        print(f"Validation accuracy (val200): {fmt_tasks(tasks)}")
    if final:
        if "test_value" in final:
            print(f"Test accuracy (final trial {final['trial']}, trained on train800val200): "
                  f"mean {final['test_value']:.4f}")
            if final.get("test_tasks"):
                print(f"  {fmt_tasks(final['test_tasks'])}")
        else:
            print(f"Test run: trial {final.get('trial')} is {final.get('state')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
