"""--device: every localizer and every task runs on each available device, results come back on
the CPU, and on a GPU they equal the CPU's. cpu always runs; cuda is a plain skip without a GPU
(CI has none, so this must not go through conftest.needs, which fails absent resources in CI)."""

import json

import numpy as np
import pytest
import torch

from dknbench.harness.runner import RunSpec, run
from dknbench.localization import LOCALIZERS
from dknbench.localization.locate import KNLocator
from dknbench.models.loading import tiny_loaded

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                 reason="no CUDA device"))]
LOCALIZER_NAMES = ["ig", "amig", "grad-x-act", "atp", "causal-tracing"]
QUERY, ANSWER, SUBJECT = "The capital of France is [Y] .", "Paris", "France"
# knowledge-update needs a TempLAMA build from ../shared (tests/test_knowledge_update_task.py);
# its fine-tuning moves every batch to lm.device (interventions/finetune.py)
TASKS = {"kn-localization": "ig", "kn-consistency": "ig", "knowledge-editing": "ig",
         "knowledge-synapses": "ig", "query-kn-mapping": "ig", "linguistic-control": "ig",
         "cross-lingual-editing": "ig", "gcr": "ntc", "fact-checking": "ntc",
         "perturbation-robustness": "ntc"}
# what a task needs of its facts (tasks/requirements.py) is not under test here: random weights know
# no fact (gcr's gate off), and fact-checking's relation rule needs 3 facts of one relation
NEEDS = {"gcr": {"overrides": ["known_only=false"]}, "kn-localization": {"overrides": ["known_only=false"]},
         "fact-checking": {"limit": 3}}


def _scores(lm, name: str, path: str) -> np.ndarray:
    from dknbench.localization.cache import AttributionCache

    localizer = LOCALIZERS.get(name)(steps=3) if name != "grad-x-act" else LOCALIZERS.get(name)()
    locator = KNLocator(lm, localizer, cache=AttributionCache(enabled=False), engine_path=path)
    return locator.query_scores(QUERY, ANSWER, SUBJECT)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path", ["fast", "full"])
def test_localizers_on_device(device, path):
    lm = tiny_loaded("llama", seed=2)
    expected = {name: _scores(lm, name, path) for name in LOCALIZER_NAMES}
    lm.model.to(device)
    lm.device = torch.device(device)
    for name in LOCALIZER_NAMES:
        got = _scores(lm, name, path)
        assert isinstance(got, np.ndarray) and got.shape == expected[name].shape
        assert np.abs(got).max() > 0, name  # not an all-zero result
        top = np.abs(expected[name]).max()
        np.testing.assert_allclose(got, expected[name], atol=1e-3 * top, rtol=1e-3, err_msg=name)


def _run(tmp_path, task, method, device, tag):
    out = tmp_path / f"{task}-{tag}"
    from dknbench.errors import NothingUsable

    try:
        needs = NEEDS.get(task, {})
        run(RunSpec(task=task, methods=[method], model="tiny-gpt2", limit=needs.get("limit", 2), seed=1,
                    device=device, overrides=["steps=3", *needs.get("overrides", [])], output=str(out),
                    no_cache=True, quiet=True))
    except NothingUsable:  # random weights know no fact (exit 3): the per-fact records still compare
        pass
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "facts").glob("*.json"))}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_runs_on_device(tmp_path, task, device):
    facts = _run(tmp_path, task, TASKS[task], device, device)
    assert facts, f"{task} on {device} wrote no per-fact result"
    if device != "cpu":
        # the same facts with the same keys as on the CPU (values may differ in the last digits)
        cpu = _run(tmp_path, task, TASKS[task], "cpu", "cpu")
        assert facts.keys() == cpu.keys()
        assert [sorted(f) for f in facts.values()] == [sorted(f) for f in cpu.values()]
