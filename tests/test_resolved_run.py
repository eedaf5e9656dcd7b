"""A run is resolved once into a typed ResolvedRun, and every step of the harness reads that one."""

import json

import pytest

import dknbench.harness.runner as runner
import dknbench.harness.spec as spec_module
from dknbench.harness.spec import ResolvedRun, RunSpec, resolve
from dknbench.harness.provenance import config_hash


def test_resolve_returns_the_typed_run_whose_hash_covers_exactly_the_hashed_part():
    spec = RunSpec(task="gcr", methods=["ntc", "kmeans"], seed=7, limit=3, preset="cpu", overrides=["steps=4"])
    resolved = resolve(spec)
    assert isinstance(resolved, ResolvedRun) and resolved.spec is spec
    assert (resolved.task, resolved.kind, resolved.methods, resolved.seed, resolved.limit) == (
        "gcr", "dkn", ["ntc", "kmeans"], 7, 3)
    assert resolved.options["steps"] == 4 and resolved.dataset == resolved.config.dataset
    # run.json's "resolved": these keys in this order, so committed folders keep their hash
    assert list(resolved.hashed) == ["task", "methods", "model", "dataset", "limit", "seed", "options", "dtype"]
    assert resolved.config_hash == config_hash(resolved.hashed)
    assert resolve(RunSpec(task="gcr", methods=["ntc", "kmeans"], seed=8, limit=3, preset="cpu",
                           overrides=["steps=4"])).config_hash != resolved.config_hash
    with pytest.raises(AttributeError):
        resolved.options = {}  # frozen: a step cannot swap the run's options under the others


def test_a_run_resolves_once_and_writes_what_it_resolved(tmp_path, monkeypatch):
    calls = []

    def counted(spec):
        calls.append(spec)
        return resolve(spec)

    monkeypatch.setattr(runner, "resolve", counted)
    monkeypatch.setattr(spec_module, "resolve", counted)  # any module that imports it late
    output = tmp_path / "run"
    runner.run(RunSpec(task="kn-localization", methods=["random"], model="tiny-gpt2", limit=2, seed=3,
                       output=str(output), overrides=["steps=2", "known_only=false"], quiet=True))
    assert len(calls) == 1
    resolved = resolve(calls[0])
    run_file = json.loads((output / "run.json").read_text())
    summary = json.loads((output / "summary.json").read_text())
    assert run_file["resolved"] == resolved.hashed and run_file["config_hash"] == resolved.config_hash
    assert summary["config_hash"] == resolved.config_hash
    assert {k: summary["config"][k] for k in resolved.hashed} == resolved.hashed
    assert (summary["task"], summary["methods"], summary["seed"], summary["limit"]) == (
        "kn-localization", ["random"], 3, 2)
    # each record's direction is the task YAML's (metrics:), the one home
    directions = resolved.config.metric_directions
    assert directions["SR"] == "higher_is_better" and directions["mean_kns"] == "none"
    for record in summary["metrics"]:
        assert record["higher_is_better"] == {"higher_is_better": True, "lower_is_better": False}.get(
            directions.get(record["metric"])), record
