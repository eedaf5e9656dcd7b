"""knowledge-update task (000 §4) end to end on tiny models, and the build:NAME:SOURCE data spec."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from conftest import KU_FAST
from dknbench.cli import main
from dknbench.data.loading import built_folder, load_facts
from dknbench.errors import DKNBenchError

FAST = [arg for option in KU_FAST for arg in ("--set", option)]


def test_build_spec_builds_once_into_the_cache(templama_slice, isolated_cache, monkeypatch):
    spec = f"build:tempnarrativelama:{templama_slice}"
    facts = load_facts(spec)
    folder = built_folder(spec)
    assert str(folder).startswith(str(isolated_cache)) and folder.name.endswith("-seed42")
    assert facts and all(f.date == "2018" for f in facts)  # the card's default split dkn_2018
    assert [f.id for f in load_facts(spec, split="q_new")] == [f.id for f in facts]
    import data_builders

    monkeypatch.setattr(data_builders, "build_dataset", lambda *a, **k: pytest.fail("rebuilt"))
    assert [f.id for f in load_facts(spec)] == [f.id for f in facts]  # reused, not rebuilt
    with pytest.raises(DKNBenchError, match="build:NAME:SOURCE"):
        load_facts("build:tempnarrativelama")
    with pytest.raises(DKNBenchError, match="does not exist"):
        load_facts("build:tempnarrativelama:/no/such/folder")


def run_task(output, dataset, model="tiny-gpt2", *extra):
    return main(["run", "--task", "knowledge-update", "--method", "ntc", "--model", model,
                 "--dataset", str(dataset), "--output", str(output), "--quiet", *FAST, *extra])


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_end_to_end_tables_figure_and_restored_weights(family, tnl, tmp_path, monkeypatch):
    import dknbench.models
    from dknbench.models.loading import tiny_loaded
    from dknbench.tasks import knowledge_update as ku

    lm = tiny_loaded(family)
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    monkeypatch.setattr(dknbench.models, "load_model", lambda *a, **k: lm)
    calls = []
    real = ku.train_neurons
    monkeypatch.setattr(ku.KnowledgeUpdateTask, "train_fn",
                        staticmethod(lambda *a, **k: calls.append(a[2]) or real(*a, **k)))
    output = tmp_path / "ku"
    assert run_task(output, tnl, f"tiny-{family}") == 0
    # the model is bit-identical after the task
    after = lm.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    summary = json.loads((output / "summary.json").read_text())
    training = json.loads((output / "training.json").read_text())
    table = summary["tables"]["knowledge_update_accuracy"]
    settings = [row["setting"] for row in table]
    assert settings[:2] == ["pre-trained", "incremental"] and settings[2:] == ["Θ(N)", "Θ(Rnd)", "Θ(All)", "Θ(D)"]
    d_set = training["sets"]["ntc"]["sets"]["D"]
    # incremental (all params) + Θ(D), Θ(N), Θ(Rnd) when D is not empty + Θ(All)
    assert calls[0] is None and calls[-1] is None and len(calls) == (5 if d_set else 2)
    for row in table:
        if row["setting"] == "Θ(D)" and not d_set:
            assert row["Qnew"] == "/"  # never silently substituted
            continue
        for qt in ("Qnew", "Qold", "Qau"):
            assert 0 <= row[qt] <= 100
    if d_set:
        sets = training["sets"]["ntc"]["sets"]
        assert len(sets["N"]) == len(sets["Rnd"]) == len(d_set)
        assert [s["n_neurons"] for k, s in training["settings"].items() if k != "All"] == [len(d_set)] * 3
        assert {c["metric"] for c in summary["comparisons"]} <= {"acc_qnew", "acc_qold", "acc_qau"}
    overlap = summary["tables"]["overlap_with_delta_n"]
    assert [row["set"] for row in overlap] == ["D", "N", "Rnd"]
    assert overlap[0]["τ_ΔN ratio"] == (0.04 if family == "gpt2" else 0.05)
    assert overlap[0]["|ΔN|"] > 0
    # 000 App. F.2: each trained setting's CPU seconds per step, the t-interval of its timed steps
    timing = {r["group"]: r for r in summary["metrics"] if r["metric"] == "train_cpu_s_per_step"}
    trained = {("Θ(All)" if k == "All" else f"Θ({k.split('-', 1)[1]})"): s for k, s in training["settings"].items()
               if s.get("available")}
    assert set(timing) == set(trained)
    for group, record in timing.items():
        from dknbench.stats.intervals import mean_ci

        steps = trained[group]["step_seconds"]["cpu"]
        expected = mean_ci(steps)
        assert record["n"] == len(steps) == trained[group]["steps"]
        assert (record["value"], record["ci_low"], record["ci_high"]) == pytest.approx(
            (expected.estimate, expected.low, expected.high))
    assert "delta_p_heatmap.png" in summary["figures"] and (output / "delta_p_heatmap.png").stat().st_size > 1000
    assert not list((output / "training").glob("*/finetune_checkpoint.pt"))  # cleaned up when done
    # resuming: the last fact reruns, training.json exists -> no training at all
    calls.clear()
    last = sorted((output / "facts").glob("*.json"))[-1]
    last.unlink()
    assert run_task(output, tnl, f"tiny-{family}") == 0 and calls == [] and last.is_file()
    # a training phase killed after some settings: finished settings are not retrained
    if d_set:
        (output / "training.json").unlink()
        shutil.rmtree(output / "training" / "All")
        last.unlink()
        assert run_task(output, tnl, f"tiny-{family}") == 0
        assert calls == [None, None]  # the incremental start (from its checkpoint) and Θ(All)
        assert json.loads((output / "training.json").read_text())["settings"]["ntc-D"] == training["settings"]["ntc-D"]
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())


def test_bad_dataset_and_options_are_one_line_errors(tmp_path, tiny_gpt2, capsys):
    facts = tmp_path / "facts.jsonl"
    facts.write_text(json.dumps({"id": "a", "relation": "r", "subject": "X", "object": "Y",
                                 "queries": ["X is [Y]."]}) + "\n")
    assert run_task(tmp_path / "a", facts) != 0
    assert "TempNarrativeLAMA" in capsys.readouterr().err


def test_without_timing_drops_only_the_measured_seconds():
    """Two runs of one config agree on everything but the seconds they measure; the helper the
    resume and Ray tests compare with removes exactly those."""
    from conftest import without_timing

    summary = {"metrics": [{"metric": "acc_qnew", "value": 0.5}, {"metric": "train_cpu_s_per_step", "value": 4.6}],
               "tables": {"knowledge_update_accuracy": [{"setting": "Θ(D)", "Qnew": 50.0, "CPU s/step": 4.6}]},
               "settings": {"ntc-D": {"steps": 2, "step_seconds": {"cpu": [1.0], "wall": [2.0]}}}}
    assert without_timing(summary) == {
        "metrics": [{"metric": "acc_qnew", "value": 0.5}],
        "tables": {"knowledge_update_accuracy": [{"setting": "Θ(D)", "Qnew": 50.0}]},
        "settings": {"ntc-D": {"steps": 2}}}
