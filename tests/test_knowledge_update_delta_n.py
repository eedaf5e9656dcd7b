"""knowledge-update ΔN (000 Eq. 12-13, App. A.3): the ΔP distribution is reported, and a ΔN that
covers more than half of the neurons makes the overlaps undefined instead of ~100 %."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from dknbench.interventions.finetune import changed_neurons
from dknbench.tasks.knowledge_update import (DELTA_N_MAX_SHARE, KnowledgeUpdateTask, delta_n_degenerate,
                                             delta_p_distribution)

LAYERS, NEURONS, RATIO = 3, 40, 0.05


def write_run(folder, delta):
    """A finished training phase by hand: D = 4 neurons of layer 0, ΔN from ``delta``."""
    delta_n = changed_neurons(delta, RATIO)
    d = [[0, i] for i in range(4)]
    training = {"facts": ["f1"], "methods": ["ntc"], "n_layers": LAYERS, "n_neurons": NEURONS,
                "family": "gpt2", "baselines": {},
                "sets": {"ntc": {"facts": 1, "facts_without_dkn": 0, "n_non_dkn_kns": 4,
                                 "sets": {"D": d, "N": [[1, i] for i in range(4)], "Rnd": [[2, i] for i in range(4)]}}},
                "settings": {"All": {"available": True, "delta_ratio": RATIO, "delta_n": [list(n) for n in delta_n]}},
                "overlaps": {"ntc": {"D": len({(0, i) for i in range(4)} & set(delta_n)) / 4, "N": 0.0, "Rnd": 0.0}}}
    (folder / "training.json").write_text(json.dumps(training))
    np.save(folder / "delta_p.npy", delta)
    task = KnowledgeUpdateTask(SimpleNamespace(options={"heatmap_bins": 8}))
    return task.summarize([], folder), delta_n


def overlaps(summary):
    return {r["group"]: r for r in summary.metrics if r["metric"] == "overlap"}


def test_a_peaked_delta_p_gives_defined_overlaps_and_its_quantiles(tmp_path):
    delta = np.full((LAYERS, NEURONS), 1e-3)
    delta[0, :4] = 1.0  # fine-tuning moved exactly the D neurons
    summary, delta_n = write_run(tmp_path, delta)
    assert sorted(delta_n) == [(0, i) for i in range(4)]
    records = overlaps(summary)
    assert records["D"]["value"] == 1.0 and records["N"]["value"] == 0.0
    assert not any("undefined" in r for r in records.values())
    (row,) = summary.tables["delta_p_distribution"]
    assert row["q00"] == pytest.approx(delta.min()) and row["q100"] == pytest.approx(delta.max())
    assert row["q50"] == pytest.approx(np.median(delta))
    assert row["share > τ_ΔN"] == pytest.approx(len(delta_n) / delta.size)
    assert row["τ_ΔN"] == pytest.approx(RATIO * delta.max())


def test_a_flat_delta_p_makes_every_overlap_undefined_with_the_reason(tmp_path):
    # min/max = 0.217 as measured with the cpu preset (issue 19): every neuron passes τ_ΔN
    rng = np.random.default_rng(0)
    delta = rng.uniform(0.217, 1.0, size=(LAYERS, NEURONS))
    with pytest.warns(UserWarning, match="overlaps undefined"):
        summary, delta_n = write_run(tmp_path, delta)
    assert len(delta_n) == delta.size
    records = overlaps(summary)
    assert set(records) == {"D", "N", "Rnd"}
    for record in records.values():
        assert record["value"] is None and f"{delta.size}/{delta.size}" in record["undefined"]
    assert all(row["O(X, ΔN) %"] is None and "undefined" in row["note"]
               for row in summary.tables["overlap_with_delta_n"])
    assert summary.tables["delta_p_distribution"][0]["min/max"] > RATIO


def test_the_half_rule_boundary():
    total = LAYERS * NEURONS
    assert delta_n_degenerate(int(DELTA_N_MAX_SHARE * total), total, RATIO) is None
    assert "ΔN covers" in delta_n_degenerate(int(DELTA_N_MAX_SHARE * total) + 1, total, RATIO)
    flat = delta_p_distribution(np.ones((2, 3)), RATIO)
    assert flat["min/max"] == 1.0 and flat["share > τ_ΔN"] == 1.0 and flat["neurons"] == 6
