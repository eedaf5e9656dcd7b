"""kn-localization compares localizers on the same facts (issue 26.2): one common fact set for the
ranked metrics, 002's per-method outlier rule beside it, the known-fact gate of gcr, and SR whose
undefined rule and CI are one seeded bootstrap with n = the pairs it used."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from dknbench.cli import main
from dknbench.metrics import success_rate
from dknbench.stats import paired_bootstrap_ci
from dknbench.tasks.kn_localization import PER_METHOD, KNLocalizationTask, common_facts

RANKED = ("SR", "SR_enh", "SR_sup", "rel_minus_irr", "rel_minus_irr_enh", "rel_minus_irr_sup")


def _row(method, fact, rel=(0.4, 0.6, 0.2), irr=(0.5, 0.51, 0.49)):
    """One kn-localization row: (before, enhanced, suppressed) for the fact and its irrelevant fact."""
    return {"fact_id": f"f{fact}", "method": method, "n_kns": 3 + fact % 4,
            "rel_before": rel[0], "rel_enhanced": rel[1], "rel_suppressed": rel[2],
            "irr_before": irr[0], "irr_enhanced": irr[1], "irr_suppressed": irr[2]}


def _summarize(rows, methods, tmp_path, limit=9.0):
    task = KNLocalizationTask.__new__(KNLocalizationTask)
    task.ctx = SimpleNamespace(methods=methods, seed=7)
    task.options = {"outlier_limit": limit}
    return task.summarize(rows, tmp_path)


def _rows_where_outliers_differ():
    """12 facts. grad-x-act enhances facts 0-3 by more than 10x (an outlier under 002's rule),
    amig facts 4-5, random none: the per-method rule would keep 8, 10 and 12 facts."""
    rng = np.random.default_rng(0)
    rows = []
    for fact in range(12):
        irr = (0.5, 0.5 * (1 + rng.uniform(0.05, 0.15)), 0.5 * (1 - rng.uniform(0.05, 0.15)))
        for method, jumps in (("grad-x-act", range(0, 4)), ("amig", range(4, 6)), ("random", ())):
            before = 0.02 if fact in jumps else 0.4
            rise = 12.0 if fact in jumps else rng.uniform(0.1, 0.9)
            rel = (before, before * (1 + rise), before * (1 - rng.uniform(0.2, 0.8)))
            rows.append(_row(method, fact, rel, irr))
    return rows


def test_ranked_metrics_have_one_n_while_the_per_method_rule_keeps_different_facts(tmp_path):
    rows = _rows_where_outliers_differ()
    methods = ["grad-x-act", "amig", "random"]
    summary = _summarize(rows, methods, tmp_path)
    rec = {(m["method"], m["metric"]): m for m in summary.metrics}
    # 002's rule per method: grad-x-act loses 4 facts, amig 2, random 0 ...
    assert [rec[m, "facts_lost_to_outliers"]["value"] for m in methods] == [4, 2, 0]
    assert [rec[m, "SR" + PER_METHOD]["n"] for m in methods] == [8, 10, 12]
    # ... the ranked metrics use the 6 facts every method keeps, for every method
    assert common_facts(rows, methods, 9.0) == [f"f{i}" for i in range(6, 12)]
    for name in RANKED:
        assert {rec[m, name]["n"] for m in methods} == {6}, name
    for method in methods:  # SR on the common facts is the paper's formula on those facts
        mine = [r for r in rows if r["method"] == method and r["fact_id"] in {f"f{i}" for i in range(6, 12)}]
        columns = [np.array([r[k] for r in mine]) for k in ("rel_before", "rel_enhanced", "rel_suppressed",
                                                            "irr_before", "irr_enhanced", "irr_suppressed")]
        assert rec[method, "SR"]["value"] == pytest.approx(success_rate(*columns).sr)
        assert set(summary.per_fact[method]["rel_minus_irr"]) == {f"f{i}" for i in range(6, 12)}
    # the floor test is paired on the same 6 facts
    versus = {(c["method_a"], c["method_b"]): c for c in summary.comparisons}
    assert versus["amig", "random"]["n_pairs"] == 6 and versus["grad-x-act", "random"]["n_a"] == 6
    # the per-method numbers are never ranked (direction "none" in the task YAML)
    from dknbench.tasks import discover_tasks

    directions = discover_tasks()["kn-localization"].metric_directions
    assert directions["SR" + PER_METHOD] == directions["facts_lost_to_outliers"] == "none"
    assert all(directions[name] == "higher_is_better" for name in RANKED)


def test_mean_kns_ci_is_clipped_at_zero_and_says_so(tmp_path):
    rows = [_row("ig", f) | {"n_kns": n} for f, n in enumerate([0, 0, 30])]
    record = next(m for m in _summarize(rows, ["ig"], tmp_path).metrics if m["metric"] == "mean_kns")
    assert record["ci_low"] == 0.0 and record["ci_method"] == "t, clipped"


def test_sr_n_is_the_pairs_used_and_its_gate_is_its_own_bootstrap(tmp_path):
    """SR's n counts the pairs it used (a fact with an outlier leaves both terms); SR_x is undefined
    exactly when the seeded bootstrap CI of its denominator contains 0, and otherwise its CI is the
    same seed's bootstrap CI of SR_x: one method for the rule and the number (issue 26.2)."""
    from dknbench.metrics import success_rate_report, success_rate_x

    rng = np.random.default_rng(3)
    agreed = {"defined": 0, "undefined": 0}
    for trial in range(8):
        n = 12
        rel_b = rng.uniform(0.3, 0.6, n)
        irr_b = rng.uniform(0.3, 0.6, n)
        spread = 0.02 + 0.04 * trial  # small spread: irrelevant change clearly > 0; large: around 0
        arrays = [rel_b, rel_b * (1 + rng.uniform(0.2, 0.8, n)), rel_b * (1 - rng.uniform(0.2, 0.8, n)),
                  irr_b, irr_b * (1 + 0.03 + rng.normal(0, spread, n)), irr_b * (1 - 0.03 + rng.normal(0, spread, n))]
        arrays[0][0] = 0.001  # one outlier fact (enhance x > 10)
        arrays[1][0] = 0.5
        report = success_rate_report(*arrays, outlier_limit=9.0, n_resamples=400, seed=trial)
        assert {e.n for e in report.values()} == {n - 1}
        kept = [a[1:] for a in arrays]
        for short, op, (ra, ia) in (("enh", "enhance", (kept[1], kept[4])), ("sup", "suppress", (kept[2], kept[5]))):
            sign = 1 if op == "enhance" else -1
            denominator = paired_bootstrap_ci((kept[3], ia), lambda ib, a: np.mean(sign * (a - ib) / ib),
                                              n_resamples=400, seed=trial)
            estimate = report[f"SR_{short}"]
            if denominator.low <= 0 <= denominator.high:
                assert estimate.undefined and estimate.value is None
                agreed["undefined"] += 1
            else:
                assert estimate.undefined is None
                ratio = paired_bootstrap_ci((kept[0], ra, kept[3], ia),
                                            lambda rb, a, ib, b, op=op: success_rate_x(rb, a, ib, b, op)[0],
                                            n_resamples=400, seed=trial)
                assert (estimate.low, estimate.high) == pytest.approx((ratio.low, ratio.high), abs=1e-12)
                assert estimate.ci_method == "bootstrap, percentile, seeded"
                agreed["defined"] += 1
    assert agreed["defined"] and agreed["undefined"]  # both branches were exercised


# ----------------------------------------------------------------------------- the known-fact gate


def _gate_values(limit):
    """Per fact of ``run --limit``: the lowest Prob over the queries used, inf when every query
    ranks the gold first (the fact then passes at any threshold)."""
    from dknbench.data.loading import load_facts
    from dknbench.models import load_model
    from dknbench.scoring import AnswerScorer
    from dknbench.tasks.common import usable_queries
    from dknbench.tasks.dkn_common import gold_rank_and_prob

    scorer = AnswerScorer(load_model("tiny-gpt2"))
    out = []
    for fact in load_facts("builtin", limit=limit, seed=42):
        checks = gold_rank_and_prob(scorer, usable_queries(scorer, fact, 3)[0], fact.object)
        out.append(min(math.inf if rank == 1 else prob for rank, prob in checks))
    return out


def test_known_gate_is_on_by_default_and_off_with_set(tmp_path, isolated_cache, capsys):
    limit = 6

    def run(name, *sets):
        out = tmp_path / name
        args = ["run", "--task", "kn-localization", "--method", "ig,random", "--model", "tiny-gpt2",
                "--limit", str(limit), "--set", "steps=2", "--set", "random_match=ig", "--output", str(out),
                "--quiet"]
        for s in sets:
            args += ["--set", s]
        code = main(args)
        summary = out / "summary.json"
        return code, json.loads(summary.read_text()) if summary.exists() else None

    values = sorted(_gate_values(limit))
    # a threshold between the 2nd and 3rd lowest: the gate drops exactly 2 facts
    assert values[1] < values[2], "tiny-gpt2's builtin facts need distinct probabilities for this test"
    threshold = (values[1] + values[2]) / 2 if math.isfinite(values[2]) else values[1] * 1.01
    code, gated = run("gated", f"known_min_prob={threshold!r}")
    assert code == 0 and gated["config"]["options"]["known_only"] is True
    # the gate is a declared requirement: unknown facts are passed over and --limit counts used facts
    assert gated["passed_over"].get("not_known", 0) >= 2 and gated["n_used"] == limit
    assert "not_known" not in gated["skipped"]
    code, off = run("off", "known_only=false", f"known_min_prob={threshold!r}")
    assert code == 0 and "not_known" not in off["passed_over"] and off["n_used"] == limit
    n_of = {m["metric"]: m["n"] for m in off["metrics"] if m["method"] == "ig"}
    assert n_of["mean_kns"] == limit
    # the default threshold (0.3, as gcr's): a random-weight model knows none of these facts
    capsys.readouterr()
    code, default = run("default")
    if all(v < 0.3 for v in values):
        assert code == 3 and default is None and "passed over: not_known: " in capsys.readouterr().err
