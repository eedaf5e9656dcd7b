"""--device: every localizer and every task runs on each available device, results come back on
the CPU, and on a GPU they equal the CPU's. cpu always runs; cuda is a plain skip without a GPU
(CI has none, so this must not go through conftest.needs, which fails absent resources in CI)."""

import inspect

import numpy as np
import pytest
import torch

from conftest import KU_FAST, fact_records
from dknbench.harness.runner import RunSpec, run
from dknbench.localization import LOCALIZERS
from dknbench.localization.locate import KNLocator
from dknbench.models.loading import tiny_loaded
from dknbench.tasks import discover_tasks

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                 reason="no CUDA device"))]
QUERY, ANSWER, SUBJECT = "The capital of France is [Y] .", "Paris", "France"
# what a task needs of its facts (tasks/requirements.py) is not under test here: random weights know
# no fact (so a task with a known-only gate runs with it off), and fact-checking's relation rule
# needs 3 facts of one relation; knowledge-update's fine-tuning moves every batch to lm.device
# (interventions/finetune.py) and runs on a TempLAMA build from ../shared
NEEDS = {"fact-checking": {"limit": 3}, "knowledge-update": {"dataset": "templama", "overrides": KU_FAST}}
TASKS = discover_tasks()


def _scores(lm, name: str, path: str) -> np.ndarray:
    from dknbench.localization.cache import AttributionCache

    cls = LOCALIZERS.get(name)
    localizer = cls(steps=3) if "steps" in inspect.signature(cls).parameters else cls()
    locator = KNLocator(lm, localizer, cache=AttributionCache(enabled=False), engine_path=path)
    return locator.query_scores(QUERY, ANSWER, SUBJECT)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path", ["fast", "full"])
def test_localizers_on_device(device, path):
    lm = tiny_loaded("llama", seed=2)
    expected = {name: _scores(lm, name, path) for name in LOCALIZERS.names()}
    lm.model.to(device)
    lm.device = torch.device(device)
    for name in LOCALIZERS.names():
        got = _scores(lm, name, path)
        assert isinstance(got, np.ndarray) and got.shape == expected[name].shape
        assert np.abs(got).max() > 0, name  # not an all-zero result
        top = np.abs(expected[name]).max()
        np.testing.assert_allclose(got, expected[name], atol=1e-3 * top, rtol=1e-3, err_msg=name)


def _run(request, tmp_path, task, device, tag):
    out = tmp_path / f"{task}-{tag}"
    from dknbench.errors import NothingUsable

    needs = NEEDS.get(task, {})
    gate = ["known_only=false"] if "known_only" in TASKS[task].options else []
    dataset = needs.get("dataset") and f"build:tempnarrativelama:{request.getfixturevalue('templama_slice')}"
    try:
        run(RunSpec(task=task, methods=[TASKS[task].default_method], model="tiny-gpt2",
                    limit=needs.get("limit", 2), seed=1, device=device, dataset=dataset,
                    overrides=["steps=3", *gate, *needs.get("overrides", [])], output=str(out),
                    no_cache=True, quiet=True))
    except NothingUsable:  # random weights know no fact (exit 3): the per-fact records still compare
        pass
    return fact_records(out)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_runs_on_device(request, tmp_path, task, device):
    facts = _run(request, tmp_path, task, device, device)
    assert facts, f"{task} on {device} wrote no per-fact result"
    if device != "cpu":
        # the same facts with the same keys as on the CPU (values may differ in the last digits)
        cpu = _run(request, tmp_path, task, "cpu", "cpu")
        assert facts.keys() == cpu.keys()
        assert [sorted(f) for f in facts.values()] == [sorted(f) for f in cpu.values()]
