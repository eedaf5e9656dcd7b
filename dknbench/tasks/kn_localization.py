"""kn-localization (002 §3.2, Table 1): do the localized neurons carry *this* fact?

For each fact and localizer: KNs refined across the fact's queries; enhance (x2) and suppress (x0)
them at the target position; measure the relative change of Prob on the fact's queries (relevant)
and on a fact of another relation (irrelevant). SR_x = ΔProb_rel,x / ΔProb_irr,x, SR = SR_enh + SR_sup,
with bootstrap CIs; SR_x is reported undefined when the bootstrap CI of its denominator contains 0.
Beside it the companion rel_minus_irr(_enh/_sup), the mean paired ΔProb_rel − ΔProb_irr, is always
defined (``metrics.success_rate_report``). The console prints the metric records; no separate table.

Methods are compared on the same facts: the ranked metrics (SR..., rel_minus_irr...) use the facts
every method has a row for and that the outlier rule keeps for every method, so each has one n.
002's rule applied per method, which keeps a different subset per method (the facts where a
localizer moved Prob most are the ones it loses), is reported beside it under its own names
(``*_outliers_per_method``, never ranked) with the facts each method loses to it. Facts the model
does not know are skipped first (``known_only``, the gate gcr uses).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import intended_change, kept_pairs, success_rate_report
from ..stats import CI_T_CLIPPED, clipped_mean_ci, compare_paired
from .base import TASK_CLASSES, SkipFact, Summary, Task, estimate_record, metric_record
from .common import irrelevant_fact, methods_with_rows, neurons_json, rows_by_method, usable_queries
from .dkn_common import SuppressionScorer
from .requirements import encodable_queries, known_to_model

COLUMNS = ("rel_before", "rel_enhanced", "rel_suppressed", "irr_before", "irr_enhanced", "irr_suppressed")
PER_METHOD = "_outliers_per_method"  # suffix of the paper's per-method outlier rule's metrics
FLOOR = "random"  # every other localizer is tested against it on the common facts


def _columns(rows) -> list[np.ndarray]:
    return [np.array([r[k] for r in rows], dtype=float) for k in COLUMNS]


def rel_minus_irr_per_fact(row) -> dict[str, float]:
    """The fact's ΔProb_rel,x − ΔProb_irr,x for x = enh, sup, and their sum (rel_minus_irr)."""
    out = {}
    for short, op, rel_after, irr_after in (("enh", "enhance", "rel_enhanced", "irr_enhanced"),
                                            ("sup", "suppress", "rel_suppressed", "irr_suppressed")):
        out[f"rel_minus_irr_{short}"] = float(intended_change(row["rel_before"], row[rel_after], op)
                                              - intended_change(row["irr_before"], row[irr_after], op))
    out["rel_minus_irr"] = out["rel_minus_irr_enh"] + out["rel_minus_irr_sup"]
    return out


def common_facts(rows, methods, outlier_limit) -> list[str]:
    """The fact ids (in run order) that every method has a row for and that ``kept_pairs`` keeps
    for every method: one fact set, so that every method's ranked numbers are paired on it."""
    by_method = {m: {r["fact_id"]: r for r in mine} for m, mine in rows_by_method(rows, methods).items()}
    order = list(dict.fromkeys(r["fact_id"] for r in rows))
    common = []
    for fact_id in order:
        mine = [by_method[m].get(fact_id) for m in methods]
        if all(r is not None for r in mine) and kept_pairs(*_columns(mine), outlier_limit=outlier_limit).all():
            common.append(fact_id)
    return common


@TASK_CLASSES.register("kn-localization")
class KNLocalizationTask(Task):
    def requirements(self):
        # known_only (on by default, as for gcr: 000 App. A.2 and 003 study facts the model knows)
        return [encodable_queries(1)] + ([known_to_model()] if self.options.get("known_only", False) else [])

    def run_fact(self, fact, index):
        scorer = self.ctx.scorer()
        queries, skipped = usable_queries(scorer, fact, self.options["max_queries"])
        if not queries:
            raise SkipFact("no_usable_query")
        other = irrelevant_fact(self.ctx.facts, fact, self.ctx.seed, index,
                                usable=lambda f: bool(usable_queries(scorer, f, 1)[0]))
        if other is None:
            raise SkipFact("no_irrelevant_fact")
        other_queries = usable_queries(scorer, other, 1)[0]
        adapter = self.ctx.lm.adapter
        positions = self.options["positions"]
        # every enhance/suppress of this fact on the relevant and the irrelevant queries, from each
        # set's lowest layer over the clean run (equal to the hooked full forwards, tests/test_exact_cuts.py)
        relevant = SuppressionScorer(scorer, adapter, queries, fact.object, positions)
        irrelevant = SuppressionScorer(scorer, adapter, other_queries, other.object, positions)

        rel_before, irr_before = relevant.base_prob, irrelevant.base_prob
        located = {m: self.ctx.locator(m).localize(fact, self.options["max_queries"]).kns for m in self.ctx.methods}
        every = list(located.values())  # every method's sets in one batched forward per query and factor
        effects = {factor: (relevant.prob_scaling_many(every, factor), irrelevant.prob_scaling_many(every, factor))
                   for factor in (2.0, 0.0)}
        rows = []
        for i, (method, kns) in enumerate(located.items()):
            rel_enh, irr_enh = effects[2.0][0][i], effects[2.0][1][i]
            rel_sup, irr_sup = effects[0.0][0][i], effects[0.0][1][i]
            rows.append({"fact_id": fact.id, "relation": fact.relation, "method": method,
                         "irrelevant_fact_id": other.id, "n_queries": len(queries),
                         "kns": neurons_json(kns), "n_kns": len(kns),
                         "rel_before": rel_before, "rel_enhanced": rel_enh, "rel_suppressed": rel_sup,
                         "irr_before": irr_before, "irr_enhanced": irr_enh, "irr_suppressed": irr_sup,
                         "skipped_queries": skipped})
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        limit = self.options["outlier_limit"]
        by_method = methods_with_rows(rows, self.ctx.methods)
        methods = list(by_method)
        common = common_facts(rows, methods, limit)
        for method, mine in by_method.items():
            by_fact = {r["fact_id"]: r for r in mine}
            paired = [by_fact[f] for f in common]
            # ranked: every method on the same facts, so one n for all
            report = success_rate_report(*_columns(paired), outlier_limit=limit, n_resamples=1000,
                                         seed=self.ctx.seed)
            summary.metrics += [estimate_record(method, name, estimate) for name, estimate in report.items()]
            # 002's rule per method: its own facts, shown beside, never ranked
            own = success_rate_report(*_columns(mine), outlier_limit=limit, n_resamples=1000, seed=self.ctx.seed)
            for name in ("SR", "rel_minus_irr"):
                summary.metrics.append(estimate_record(method, name + PER_METHOD, own[name]))
            summary.metrics.append(metric_record(method, "facts_lost_to_outliers", len(mine) - own["SR"].n,
                                                 len(mine)))
            n_kns = clipped_mean_ci([r["n_kns"] for r in mine], low=0.0)
            summary.metrics.append(metric_record(method, "mean_kns", n_kns.estimate, len(mine),
                                                 ci=(n_kns.low, n_kns.high),
                                                 ci_method=CI_T_CLIPPED))
            per_fact = [rel_minus_irr_per_fact(r) for r in paired]
            summary.per_fact[method] = {key: {f: values[key] for f, values in zip(common, per_fact)}
                                        for key in ("rel_minus_irr", "rel_minus_irr_enh", "rel_minus_irr_sup")}
        if FLOOR in methods:  # "beats the random floor", paired on the common facts
            floor = summary.per_fact[FLOOR]
            for method in methods:
                if method != FLOOR:
                    summary.comparisons.append(compare_paired(summary.per_fact[method]["rel_minus_irr"],
                                                              floor["rel_minus_irr"], method, FLOOR, "rel_minus_irr"))
        return summary
