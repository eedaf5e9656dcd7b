"""perturbation-robustness and fact-checking (000 §5, 002 §3.4) on tiny models and hand-made rows."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dknbench.metrics import precision_recall_f1
import torch

from dknbench.data.schema import Fact
from dknbench.errors import ConfigError
from dknbench.models.loading import tiny_loaded
from dknbench.scoring import AnswerScorer
from dknbench.tasks.fact_checking import (evaluate, object_activations, relation_neuron_set,
                                          split_roles, tune_threshold)
from dknbench.tasks.perturbation_robustness import (SETS, fact_measures, interventions_of,
                                                    perturbed_pairs, size_matched_sets)


@pytest.fixture(scope="module")
def lm():
    return tiny_loaded("gpt2")


def _fact(queries, object_="Paris", fid="capital:france", relation="capital"):
    return Fact(id=fid, relation=relation, subject="France", object=object_, queries=queries)


def _one_edit(q: str, star: str, kind: str, position: int) -> bool:
    a, b = q.split(), star.split()
    if kind == "replace":
        return len(a) == len(b) and b[position] == "[replace]" and \
            sum(x != y for x, y in zip(a, b)) == 1 and a[position] != "[replace]"
    if kind == "add":
        return len(b) == len(a) + 1 and b[position] == "[add]" and b[:position] + b[position + 1:] == a
    if kind == "delete":
        return len(b) == len(a) - 1 and a[:position] + a[position + 1:] == b
    return False


def test_perturbed_queries_have_exactly_one_word_edit(lm):
    scorer = AnswerScorer(lm)
    queries = ["The capital of France is [Y].", "France's capital city is called [Y].",
               "The seat of the government of France is [Y]."]
    kinds_seen = set()
    for seed in range(12):
        pairs = perturbed_pairs(scorer, _fact(queries), queries, ["replace", "add", "delete"], True, seed)
        assert len(pairs) == len(queries)
        for q, star, kind, position, _, _ in pairs:
            kinds_seen.add(kind)
            assert _one_edit(q, star, kind, position), (q, star, kind, position)
            assert star.endswith("[Y].")  # the slot word is never edited
    assert kinds_seen == {"replace", "add", "delete"}
    again = perturbed_pairs(scorer, _fact(queries), queries, ["replace", "add", "delete"], True, 3)
    first = perturbed_pairs(scorer, _fact(queries), queries, ["replace", "add", "delete"], True, 3)
    assert [p[1] for p in again] == [p[1] for p in first]  # seeded


def test_size_matching_of_n_and_rnd():
    kns = [(0, i) for i in range(10)] + [(1, 3), (1, 4)]
    d = [(0, 1), (0, 2), (1, 3)]
    n_set, rnd = size_matched_sets(d, kns, 3, 64, random.Random(0))
    assert len(n_set) == len(rnd) == len(d)
    assert not set(n_set) & set(d) and set(n_set) <= set(kns)
    assert not set(rnd) & set(kns)
    assert size_matched_sets(d, kns, 3, 64, random.Random(0)) == (n_set, rnd)
    # fewer non-DKN KNs than DKNs: topped up with DKNs (000 footnote 2)
    d_big = [(0, i) for i in range(9)]
    n_set, rnd = size_matched_sets(d_big, [(0, i) for i in range(11)], 3, 64, random.Random(1))
    assert len(n_set) == len(rnd) == 9
    assert {(0, 9), (0, 10)} <= set(n_set) and len(set(n_set) & set(d_big)) == 7


def test_every_intervention_is_undone(lm):
    scorer = AnswerScorer(lm)
    queries = ["The capital of France is [Y].", "The capital city of France is [Y]."]
    pairs = perturbed_pairs(scorer, _fact(queries), queries, ["replace", "add", "delete"], True, 0)
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    probs_before = scorer.probs([p[1] for p in pairs], ["Paris"] * len(pairs))
    sets = {"empty": [], "D": [(0, 1), (1, 2)], "N": [(0, 5), (2, 7)], "Rnd": [(1, 9), (2, 30)]}
    out = fact_measures(lm, scorer, pairs, sets, ["values", "weights"], "target")
    after = lm.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(not m._forward_pre_hooks for m in lm.model.modules())
    assert torch.allclose(torch.tensor(probs_before),
                          torch.tensor(scorer.probs([p[1] for p in pairs], ["Paris"] * len(pairs))))
    for kind in ("values", "weights"):
        assert set(out["delta_prob"]) >= {f"{kind}/{s}" for s in SETS}
    # ∅: Q and Q* measured without manipulation, so both variants coincide
    assert out["delta_prob"]["values/empty"] == pytest.approx(out["delta_prob_clean"]["values/empty"])
    with pytest.raises(ConfigError, match="intervention"):
        interventions_of("gradients")


def _row(relation, role, act_true, act_wrong, prob_true=0.5, prob_wrong=0.1, method="ntc"):
    return {"method": method, "relation": relation, "role": role, "activation_true": act_true,
            "activation_wrong": act_wrong, "prob_true": prob_true, "prob_wrong": prob_wrong}


def test_precision_recall_f1_on_a_hand_made_confusion_case():
    rows = [  # tune rows: activation > 1.0 separates true (2.0, 3.0) from wrong (0.0, 0.5)
        _row("r", "tune", 2.0, 0.0), _row("r", "tune", 3.0, 0.5),
        # eval: true 2.5 (TP), true 0.2 (FN), wrong 1.5 (FP), wrong 0.1 (TN), true 4 (TP), wrong 3 (FP)
        _row("r", "eval", 2.5, 1.5), _row("r", "eval", 0.2, 0.1), _row("r", "eval", 4.0, 3.0)]
    result = evaluate(rows)["ntc"]
    assert result["thresholds"]["r"]["with_DKN"] == pytest.approx(1.25)
    prf = result["relations"]["r"]["with_DKN"]
    # TP = 2, FP = 2, FN = 1 -> P = 0.5, R = 2/3, F1 = 4/7
    assert prf.precision == pytest.approx(0.5)
    assert prf.recall == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(4 / 7)
    assert result["overall"]["with_DKN"].f1 == pytest.approx(4 / 7)
    # per evaluated fact (its true and its wrong object): (TP, FP, FN) = (1,1,0), (0,0,1), (1,1,0)
    tp, fp, fn = result["counts"]["with_DKN"]
    assert tp.tolist() == [1, 0, 1] and fp.tolist() == [1, 0, 1] and fn.tolist() == [0, 1, 0]


def test_overall_prf_intervals_resample_evaluated_facts():
    """The P/R/F1 intervals are a seeded percentile bootstrap over evaluated facts: the estimate is
    precision_recall_f1's, the same seed gives the same bounds, and recall's interval is close to
    the binomial interval of the same share."""
    from dknbench.tasks.fact_checking import prf_from_counts, prf_intervals

    rng = np.random.default_rng(5)
    truth_said = rng.random(40) < 0.8  # the checker says "correct" for the true object
    wrong_said = rng.random(40) < 0.4  # ... and for the wrong one
    counts = (truth_said.astype(float), wrong_said.astype(float), (~truth_said).astype(float))
    labels = [v for _ in range(40) for v in (True, False)]
    preds = [bool(v) for pair in zip(truth_said, wrong_said) for v in pair]
    prf = precision_recall_f1(labels, preds)
    intervals = prf_intervals(counts, seed=42)
    assert [i.estimate for i in intervals] == pytest.approx([prf.precision, prf.recall, prf.f1])
    assert all(i.low <= i.estimate <= i.high for i in intervals)
    assert [tuple(i) for i in prf_intervals(counts, seed=42)] == [tuple(i) for i in intervals]
    assert prf_from_counts(*counts) == pytest.approx([prf.precision, prf.recall, prf.f1])
    # the recall interval is close to the binomial one on the true objects (a share of 40 facts)
    from scipy import stats

    wilson = stats.binomtest(int(truth_said.sum()), 40).proportion_ci(0.95, method="wilson")
    assert abs(intervals[1].low - wilson.low) < 0.08 and abs(intervals[1].high - wilson.high) < 0.08


def test_lambda_is_never_tuned_on_the_evaluation_half():
    tune = [_row("r", "tune", 2.0, 0.0, 0.9, 0.2), _row("r", "tune", 3.0, 0.5, 0.6, 0.3)]
    ev = [_row("r", "eval", 2.5, 1.5), _row("r", "eval", 0.2, 0.1)]
    first = evaluate(tune + ev)["ntc"]
    changed = [_row("r", "eval", 100.0, -50.0, 0.01, 0.99), _row("r", "eval", -7.0, 9.0, 0.0, 1.0),
               _row("r", "eval", 0.3, 0.31)]
    second = evaluate(tune + changed)["ntc"]
    assert second["thresholds"] == first["thresholds"]
    assert second["relations"]["r"]["with_DKN"] != first["relations"]["r"]["with_DKN"]
    moved = evaluate([_row("r", "tune", 20.0, 10.0), tune[1]] + ev)["ntc"]  # the tune part decides
    assert moved["thresholds"]["r"]["with_DKN"] != first["thresholds"]["r"]["with_DKN"]


def test_roles_relation_sets_and_thresholds():
    facts = [_fact(["x [Y]."], fid=f"a{i}", relation="a") for i in range(6)] + \
            [_fact(["x [Y]."], fid=f"b{i}", relation="b") for i in range(2)]
    facts = [facts[i] for i in (0, 6, 1, 2, 7, 3, 4, 5)]
    roles = split_roles(facts, 0.5, 0.34)
    a_roles = [roles[i] for i, f in enumerate(facts) if f.relation == "a"]
    assert a_roles == ["dkn", "dkn", "tune", "eval", "eval", "eval"]
    assert all(facts[i].relation == "a" for i in roles)  # 2-fact relation: no roles
    neurons, fallback = relation_neuron_set([[[0, 1], [1, 2]], [[0, 1]], [[2, 2]]], 50.0)
    assert neurons == [(0, 1)] and not fallback
    neurons, fallback = relation_neuron_set([[[0, 1]], [[2, 2]]], 60.0)
    assert neurons == [(0, 1), (2, 2)] and fallback
    assert tune_threshold([0.1, 0.9, 0.2, 0.8], [False, True, False, True]) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="ratio"):
        split_roles(facts, 1.5, 0.3)


def test_object_activation_depends_on_the_object(lm):
    scorer = AnswerScorer(lm, mode="joint")
    neurons = [(0, 1), (1, 5), (2, 9)]
    a = object_activations(lm, scorer, ["The capital of France is [Y]."], "Paris", neurons)
    b = object_activations(lm, scorer, ["The capital of France is [Y]."], "Rome", neurons)
    assert a != b


def _robustness_row(fid, delta):
    keys = [f"{kind}/{name}" for kind in ("values", "weights") for name in SETS]
    measures = {m: {k: delta if m.startswith("delta_prob") else 0.5 for k in keys}
                for m in ("delta_prob", "delta_prob_clean", "delta_acc_enhance", "delta_acc_suppress")}
    return {"fact_id": fid, "method": "ntc", "has_dkn": True, **measures}


def test_robustness_drops_outlier_facts_as_gcr_does(tmp_path):
    from types import SimpleNamespace

    from dknbench.tasks.perturbation_robustness import PerturbationRobustnessTask

    ctx = SimpleNamespace(options={"intervention": "both", "kinds": "replace", "outlier_limit": 9.0},
                          methods=["ntc"])
    rows = [_robustness_row("a", 0.2), _robustness_row("b", 0.4), _robustness_row("c", -20.0)]
    summary = PerturbationRobustnessTask(ctx).summarize(rows, tmp_path)
    get = lambda metric, group="": next(r for r in summary.metrics if r["metric"] == metric and r["group"] == group)
    assert get("outliers_excluded")["value"] == 1  # |−20| > 9 (000 App. A.4)
    record = get("delta_prob", "values/D")
    assert record["n"] == 2 and record["value"] == pytest.approx(0.3)


def test_wo_dkn_is_scored_on_every_fact_with_dkn_only_where_neurons_exist():
    rows = [_row("r", "tune", 2.0, 0.0), _row("r", "eval", 2.5, 1.5),
            # relation "s" found no DKN neurons: no activation, but the model's own judgement exists
            _row("s", "tune", None, None, 0.9, 0.1), _row("s", "eval", None, None, 0.8, 0.3),
            _row("s", "eval", None, None, 0.2, 0.7)]
    result = evaluate(rows)["ntc"]
    assert result["n_eval"]["wo_DKN"] == {"r": 1, "s": 2}
    assert result["n_eval"]["with_DKN"] == {"r": 1}
    assert set(result["relations"]["s"]) == {"wo_DKN"}
    overall = result["overall"]["wo_DKN"]  # θ(r) = 0.3, θ(s) = 0.5: TP 2 (0.5, 0.8), FN 1 (0.2), FP 1 (0.7)
    assert overall.precision == pytest.approx(2 / 3) and overall.recall == pytest.approx(2 / 3)
