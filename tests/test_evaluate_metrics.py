"""The `evaluate` metric modules load offline from their folders and agree with dknbench.metrics."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from dknbench.metrics import hf as evaluate_metrics
from dknbench.errors import UnknownNameError
from dknbench.metrics import (
    consistency_scores,
    edit_scores,
    gcr,
    perplexity_delta,
    precision_recall_f1,
    success_rate,
)


@pytest.fixture
def load(tmp_path, monkeypatch):
    """evaluate.load of a metric folder with the Hub switched off and caches under tmp_path."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    import evaluate

    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True, raising=False)

    def _load(name):
        folder = evaluate_metrics.path(name)
        assert os.path.isfile(os.path.join(folder, f"{name}.py"))
        module = evaluate.load(folder, cache_dir=str(tmp_path / "metrics-cache"))
        assert isinstance(module, evaluate.Metric)
        assert module.features is not None and module.description
        return module

    return _load


def test_path_lists_every_metric_and_rejects_unknown():
    assert evaluate_metrics.names() == ["consistency", "delta_ppl", "editing", "fact_checking", "gcr", "sr"]
    with pytest.raises(UnknownNameError, match="unknown evaluate metric 'bleu'"):
        evaluate_metrics.path("bleu")


def test_sr(load):
    columns = dict(relevant_before=[0.5, 0.2, 0.001], relevant_enhanced=[0.75, 0.3, 0.02],
                   relevant_suppressed=[0.25, 0.05, 0.0005], irrelevant_before=[0.4, 0.1, 0.3],
                   irrelevant_enhanced=[0.44, 0.1, 0.3], irrelevant_suppressed=[0.36, 0.09, 0.3])
    result = load("sr").compute(**columns, outlier_limit=9)
    expected = success_rate(*columns.values(), outlier_limit=9)
    # enhance: third pair (ΔProb 19) dropped -> 0.5 / 0.05 = 10; suppress keeps all three:
    # (0.5 + 0.75 + 0.5)/3 ÷ (0.1 + 0.1 + 0)/3 = 8.75
    assert result["SR"] == pytest.approx(expected.sr) and result["SR"] == pytest.approx(18.75)
    assert (result["SR_enhance"], result["SR_suppress"]) == pytest.approx((expected.sr_enhance, expected.sr_suppress))
    assert (result["n_enhance"], result["n_suppress"]) == (2, 3)


def test_gcr(load):
    sets = [[0.1, 0.5], [0.1, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4, 1.0], [0.2, 0.2, 0.9], [0.1, 12.0]]
    result = load("gcr").compute(delta_probs=sets)
    finite = [gcr(s) for s in sets[:3]]
    assert result["GCR"] == pytest.approx(np.mean(finite))
    assert (result["n"], result["n_outliers"], result["n_undefined"]) == (3, 1, 1)
    assert result["per_set"][:4] == pytest.approx([*finite, math.inf])
    assert math.isnan(result["per_set"][4])


def test_consistency(load):
    facts = [
        [[[0, 1], [0, 2], [1, 5]], [[0, 1], [1, 5], [2, 3]], [[0, 1], [3, 3]]],
        [[[4, 4]], [[4, 4]]],
        [[], []],
    ]
    result = load("consistency").compute(neuron_sets=facts)
    scores = [consistency_scores(f) for f in facts[:2]]
    assert result["CS1"] == pytest.approx(np.mean([s[0] for s in scores]))  # (0.2 + 1) / 2
    assert result["CS2"] == pytest.approx(np.mean([s[1] for s in scores]))  # (0.4 + 1) / 2
    assert result["n"] == 2 and math.isnan(result["per_fact_cs1"][2])


@pytest.mark.parametrize("operation", ["update", "erasure"])
def test_editing(load, operation):
    rows = [("Paris", "Paris", "rel"), ("Paris", "Paris", "gen"), ("Rome", "Paris", "gen"),
            ("Paris", "Paris", "gen"), ("a", "a", "loc"), ("b", "b", "loc"), ("c", "x", "loc"),
            ("d", "d", "loc")]
    predictions, references, kinds = map(list, zip(*rows))
    result = load("editing").compute(predictions=predictions, references=references, kind=kinds,
                                     operation=operation)
    expected = edit_scores(["Paris"], ["Paris"], ["Paris", "Rome", "Paris"], ["Paris"] * 3,
                           ["a", "b", "c", "d"], ["a", "b", "x", "d"], operation=operation)
    assert (result["Rel"], result["Gen"], result["Loc"], result["Avg"]) == pytest.approx(tuple(expected))


def test_delta_ppl(load):
    before, after = [20.0, 10.0, 40.0], [25.0, 5.0, 40.0]
    result = load("delta_ppl").compute(ppl_before=before, ppl_after=after)
    assert result["per_row"] == pytest.approx(list(perplexity_delta(before, after)))
    assert result["delta_ppl"] == pytest.approx((0.25 - 0.5 + 0.0) / 3)


def test_fact_checking(load):
    y_true, y_pred = [1, 1, 1, 0, 0, 1, 0], [1, 0, 1, 1, 0, 1, 1]
    result = load("fact_checking").compute(predictions=y_pred, references=y_true)
    expected = precision_recall_f1(y_true, y_pred)
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx((0.6, 0.75, 2 / 3))
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx(expected[:3])
    assert (result["tp"], result["fp"], result["fn"]) == (3, 2, 1)
