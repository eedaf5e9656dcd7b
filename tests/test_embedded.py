"""Integration tests on the embedded SmolLM2-135M (fetched from PyPI and converted once per machine)."""

import json

import numpy as np
import pytest
import torch

from dknbench.cli import main
from dknbench.localization import IGEngine
from dknbench.scoring import AnswerScorer

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
def smollm():
    from dknbench.models import load_model

    return load_model("smollm2-135m")


def test_cached_checkpoint_is_reused(smollm, monkeypatch):
    from dknbench.models import embedded, load_model

    def no_conversion(*args):
        raise AssertionError("the cached checkpoint should have been reused")

    monkeypatch.setattr(embedded, "_convert_gguf", no_conversion)
    again = load_model("smollm2-135m")
    assert again.fingerprint == smollm.fingerprint
    assert smollm.adapter.family.name == "llama" and smollm.adapter.n_layers == 30
    assert smollm.adapter.n_neurons == 1536


def test_knows_a_capital(smollm):
    scorer = AnswerScorer(smollm)
    probs = scorer.probs(["The capital of France is [Y].", "The capital of France is [Y]."], ["Paris", "Rome"])
    assert probs[0] > 0.3 and probs[0] > 10 * probs[1]
    assert scorer.top_tokens(["The capital of France is [Y]."])[0][0] == "Paris"


def test_fast_attribution_equals_cached_path(smollm):
    scorer = AnswerScorer(smollm)
    encoded = scorer.encode("The capital of France is [Y].", "Paris")
    zero = torch.zeros(smollm.adapter.n_layers, 1, smollm.adapter.n_neurons)
    layers = [0, 14, 29]
    fast = IGEngine(smollm, scorer, steps=4, path="fast").attribute(encoded, zero, layers=layers)
    cached = IGEngine(smollm, scorer, steps=4, path="cached").attribute(encoded, zero, layers=layers)
    assert (fast - cached).abs().max() <= 1e-4 * cached.abs().max()


def test_gcr_run_end_to_end(tmp_path, isolated_cache):
    output = tmp_path / "gcr"
    code = main(["run", "--task", "gcr", "--method", "ntc,kmeans", "--limit", "2", "--set", "localizer=ig",
                 "--set", "steps=4", "--set", "known_only=false", "--output", str(output), "--quiet"])
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    assert summary["model"] == "smollm2-135m" and summary["n_facts"] == 2
    assert [r["method"] for r in summary["tables"]["gcr_by_cardinality"]] == ["ntc", "kmeans"]
    assert all((output / name).is_file() for name in summary["figures"])
    rows = [json.loads(p.read_text()) for p in sorted((output / "facts").glob("*.json"))]
    used = [row for r in rows for row in r["rows"]]
    assert used and all(row["n_kns"] >= 2 and np.isfinite(row["prob_base"]) for row in used)
