"""Client against a real controller (and real workers for builtin studies).

Run by clients/python/client_test.sh, which starts the processes and sets
PEFTSEARCH_CONTROLLER; each test uses its own study names.
"""
import json
import os
import random
import time

import grpc
import pytest

import peftsearch
from peftsearch import Client, Error

BRANIN = {
    "direction": "minimize",
    "space": {"x": {"type": "float", "low": -5, "high": 10},
              "y": {"type": "float", "low": 0, "high": 15}},
    "sampler": {"type": "tpe", "seed": 3},
    "objective": {"type": "builtin", "function": "branin", "sleep_ms": 10, "steps": 3},
    "max_trials": 12, "parallelism": 2,
}


@pytest.fixture(scope="module")
def client():
    assert os.environ.get("PEFTSEARCH_CONTROLLER"), "run through client_test.sh"
    with Client() as c:
        yield c


def test_package_exports_client_and_error():
    assert peftsearch.Client is Client
    assert issubclass(Error, Exception)


def test_bad_spec_raises_invalid_argument_naming_the_field(client):
    with pytest.raises(Error) as info:
        client.submit({"name": "bad", "direction": "sideways", "space": {}})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "direction" in info.value.details
    assert "bad" not in [s["name"] for s in client.studies()]


def test_unknown_study_raises_not_found(client):
    with pytest.raises(Error) as info:
        client.study("no-such-study")
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_builtin_study_runs_on_workers_and_is_queried(client, tmp_path):
    spec = dict(BRANIN, name="py-branin")
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    study = client.submit(str(path))  # from a file
    assert study["name"] == "py-branin"
    assert study["state"] == "RUNNING"
    assert study["spec"]["max_trials"] == 12

    kinds = [e["kind"] for e in client.watch("py-branin", timeout=120)]
    assert kinds.count("complete") == 12, kinds

    done = client.study("py-branin")
    assert done["state"] == "COMPLETE"
    assert done["counts"]["complete"] == 12
    trials = client.trials("py-branin", include_intermediate=True, as_frame=False)
    assert [t["number"] for t in trials] == list(range(12))
    assert all(t["state"] == "COMPLETE" and t["value"] is not None for t in trials)
    assert all(len(t["intermediate_values"]) == 3 for t in trials)
    assert set(trials[0]["params"]) == {"x", "y"}
    assert len(client.trials("py-branin", state="complete", as_frame=False)) == 12
    assert client.trials("py-branin", state="failed", as_frame=False) == []

    best = client.best("py-branin", k=3)
    assert len(best) == 3
    assert best[0]["value"] <= best[1]["value"] <= best[2]["value"]
    assert best[0]["value"] == done["best_value"] == min(t["value"] for t in trials)

    workers = client.workers()
    assert any(w["alive"] for w in workers)
    assert {t["worker_id"] for t in trials} <= {w["id"] for w in workers}

    with pytest.raises(ValueError):
        client.trials("py-branin", state="sideways")


def test_trials_is_a_dataframe_when_pandas_is_importable(client):
    client.submit(dict(BRANIN, name="py-frame", max_trials=2))
    list(client.watch("py-frame", timeout=60))
    try:
        import pandas  # noqa: F401
    except ImportError:
        trials = client.trials("py-frame")
        assert isinstance(trials, list) and len(trials) == 2
        return
    frame = client.trials("py-frame")
    assert len(frame) == 2
    assert "params.x" in frame.columns and "value" in frame.columns


def test_ask_tell_external_objective(client):
    client.submit({"name": "py-ask", "direction": "maximize",
                   "space": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                             "opt": {"type": "categorical", "choices": ["adam", "sgd"]}},
                   "sampler": {"type": "random", "seed": 1},
                   "objective": {"type": "external"}, "max_trials": 5})
    for i in range(5):
        number, params = client.ask("py-ask")
        assert number == i
        assert 1e-4 <= params["lr"] <= 1e-1 and params["opt"] in ("adam", "sgd")
        if i == 3:
            trial = client.tell("py-ask", number, state="failed")
            assert trial["state"] == "FAILED"
            continue
        trial = client.tell("py-ask", number, value=i / 10, result={"acc": i / 10})
        assert trial["state"] == "COMPLETE" and trial["value"] == i / 10
        assert trial["result"] == {"acc": i / 10}
        again = client.tell("py-ask", number, value=i / 10, result={"acc": i / 10})
        assert again["state"] == "COMPLETE"  # telling the same result twice is harmless
    study = client.study("py-ask")
    assert study["state"] == "COMPLETE"
    assert study["counts"] == {"waiting": 0, "running": 0, "complete": 4, "pruned": 0,
                               "failed": 1}
    assert client.best("py-ask")[0]["number"] == 4
    with pytest.raises(Error) as info:
        client.ask("py-ask")  # the study is complete
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION


def run_hybrid(client, name, n1=12, n2=4, seed=0):
    """A hybrid PEFT study driven by ask/tell with a surrogate accuracy."""
    methods = ["bias", "lora_x_proj", "prompt", "d"]
    effect = {"bias": 0.02, "lora_x_proj": 0.08, "prompt": -0.05, "d": 0.0}
    size = {"bias": 30e3, "lora_x_proj": 1.2e6, "prompt": 4e3, "d": 20e3}
    # max_trials = n1 + n2 + 1: the engine ends an external study by
    # max_trials only (a hybrid study without it stays RUNNING once done).
    client.submit({"name": name, "direction": "maximize", "space": {},
                   "sampler": {"type": "tpe", "seed": seed},
                   "objective": {"type": "external"}, "max_trials": n1 + n2 + 1,
                   "strategy": {"type": "hybrid_peft", "n1": n1, "n2": n2, "final": True,
                                "methods": methods}})
    rng = random.Random(seed)
    while client.study(name)["state"] == "RUNNING":
        number, params = client.ask(name)
        combination = list(params.get("peft", {}))
        acc = 0.6 + sum(effect[m] for m in combination) + rng.gauss(0, 0.005)
        client.tell(name, number, value=acc,
                    result={"trainable_params": 1000 + sum(size[m] for m in combination)})
    return client.study(name)


def test_hybrid_peft_study_by_ask_tell_reports_phases(client):
    study = run_hybrid(client, "py-hybrid2")
    assert study["strategy"] == "hybrid_peft"
    assert study["state"] == "COMPLETE"
    summary = study["summary"]
    assert summary["step1"]["finished"] == 12
    assert "lora_x_proj" in summary["final"]["combination"]
    assert summary["final"]["trainable_params"] >= 1.2e6
    phases = {t["phase"] for t in client.trials("py-hybrid2", as_frame=False)}
    assert phases == {1, 2, 3}
