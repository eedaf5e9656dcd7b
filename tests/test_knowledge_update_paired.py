"""knowledge-update's Table 8 comparisons (000 App. G.2): the paper's independent t-test, and beside
it the paired reading (both settings answer the same queries), equal to scipy on the paired queries."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from dknbench.errors import ConfigError
from dknbench.reproduce import load_claims
from dknbench.reproduce.verdicts import RunData, evaluate, validate_test
from dknbench.tasks.knowledge_update import KnowledgeUpdateTask, query_values

QUERY_TYPES = ("Qnew", "Qold", "Qau")
BY_ID = {c["id"]: c for c in load_claims()["claims"]}


def _run(summary) -> RunData:
    return RunData(Path("."), [], summary, {"resolved": {"options": {}}}, 0, None, None)


def evaluation(per_fact: dict[str, list[int]]) -> dict:
    return {qt: {"per_fact": per_fact, "skipped_queries": 0} for qt in QUERY_TYPES}


def summarize(folder, d, n, all_):
    """A finished training phase by hand: Θ(D), Θ(N), Θ(Rnd) and Θ(All) with the given correctness."""
    settings = {"ntc-D": d, "ntc-N": n, "ntc-Rnd": n, "All": all_}
    training = {"facts": ["f1", "f2"], "methods": ["ntc"], "n_layers": 2, "n_neurons": 8, "family": "gpt2",
                "baselines": {},
                "sets": {"ntc": {"facts": 2, "facts_without_dkn": 0, "n_non_dkn_kns": 2,
                                 "sets": {"D": [[0, 0]], "N": [[1, 1]], "Rnd": [[1, 2]]}}},
                "settings": {key: {"available": True, "eval": evaluation(v), "n_neurons": 1, "steps": 1}
                             for key, v in settings.items()},
                "overlaps": {"ntc": {"D": 0.0, "N": 0.0, "Rnd": 0.0}}}
    (folder / "training.json").write_text(json.dumps(training))
    return KnowledgeUpdateTask(SimpleNamespace(options={"heatmap_bins": 8})).summarize([], folder)


def comparison(summary, other, metric="acc_qnew"):
    (record,) = [c for c in summary.comparisons if c["method_b"] == other and c["metric"] == metric]
    return record


def test_query_values_key_each_query_of_each_fact():
    assert query_values(evaluation({"f1": [1, 0], "f2": [1]}), "Qau") == {"f1#0": 1.0, "f1#1": 0.0, "f2#0": 1.0}
    assert query_values(None, "Qnew") == {}


def test_paired_and_independent_tests_equal_scipy(tmp_path):
    rng = np.random.default_rng(3)
    d = {"f1": rng.integers(0, 2, 30).tolist(), "f2": rng.integers(0, 2, 30).tolist()}
    n = {"f1": rng.integers(0, 2, 30).tolist(), "f2": rng.integers(0, 2, 30).tolist()}
    summary = summarize(tmp_path, d, n, n)
    record = comparison(summary, "ntc:Θ(N)")
    xa, xb = np.array(d["f1"] + d["f2"], float), np.array(n["f1"] + n["f2"], float)
    assert record["t"] == pytest.approx(stats.ttest_ind(xa, xb).statistic)  # the paper's test, unchanged
    assert record["paired_t"] == pytest.approx(stats.ttest_rel(xa, xb).statistic)
    assert record["paired_p"] == pytest.approx(stats.ttest_rel(xa, xb).pvalue)
    assert record["n_pairs"] == 60 and record["n_a"] == record["n_b"] == 60


def test_pairs_are_the_queries_both_settings_answered(tmp_path):
    d = {"f1": [1, 1, 0, 1], "f2": [1, 0]}
    n = {"f1": [0, 1, 0, 0]}  # f2 not evaluated on this side
    record = comparison(summarize(tmp_path, d, n, d), "ntc:Θ(N)")
    assert record["n_pairs"] == 4 and record["n_a"] == 6 and record["n_b"] == 4
    assert record["paired_t"] == pytest.approx(stats.ttest_rel([1, 1, 0, 1], [0, 1, 0, 0]).statistic)


def test_the_paired_claim_reads_the_paired_columns(tmp_path):
    d = {"f1": [1] * 12 + [0] * 8}
    n = {"f1": [0] * 6 + [1] * 6 + [0] * 8}  # D right on 6 more queries, same elsewhere
    summary = summarize(tmp_path, d, n, n)
    run = _run({"metrics": [], "comparisons": summary.comparisons})
    paired = evaluate(BY_ID["dkn-finetune-d-over-n-paired"], run)
    expected = stats.ttest_rel(d["f1"], n["f1"], alternative="greater")
    assert paired.verdict == "supported" and paired.p == pytest.approx(expected.pvalue) and paired.n == 20
    independent = evaluate(BY_ID["dkn-finetune-d-over-n"], run)
    assert independent.p == pytest.approx(stats.ttest_ind(d["f1"], n["f1"], alternative="greater").pvalue)
    assert independent.p > paired.p  # pairing removes the between-query variance


def test_settings_that_answer_every_query_alike_leave_the_paired_claim_undefined(tmp_path):
    same = {"f1": [1, 0, 0, 1, 0] * 4}
    summary = summarize(tmp_path, same, same, same)
    run = _run({"metrics": [], "comparisons": summary.comparisons})
    verdict = evaluate(BY_ID["dkn-finetune-d-over-n-paired"], run)
    assert verdict.verdict == "undefined" and "differ on none of the 20 paired units" in verdict.reason
    # the independent reading is defined (t = 0) and not supported
    assert evaluate(BY_ID["dkn-finetune-d-over-n"], run).verdict == "not supported"


def test_a_summary_without_the_paired_columns_is_undefined_not_a_crash():
    old = {"method_a": "ntc:Θ(D)", "method_b": "ntc:Θ(N)", "metric": "acc_qnew", "t": 2.5, "n_a": 30, "n_b": 30}
    verdict = evaluate(BY_ID["dkn-finetune-d-over-n-paired"], _run({"metrics": [], "comparisons": [old]}))
    assert verdict.verdict == "undefined" and "no paired test" in verdict.reason


def test_a_comparison_cannot_read_welch_and_paired_at_once():
    spec = {"kind": "comparison", "method_a": "a", "method_b": "b", "metric": "m", "welch": True, "paired": True}
    with pytest.raises(ConfigError, match="welch or paired, not both"):
        validate_test(spec, "claim x")
