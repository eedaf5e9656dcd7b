"""kn-localization (002 §3.2, Table 1): do the localized neurons carry *this* fact?

For each fact and localizer: KNs refined across the fact's queries; enhance (x2) and suppress (x0)
them at the target position; measure the relative change of Prob on the fact's queries (relevant)
and on a fact of another relation (irrelevant). SR_x = ΔProb_rel,x / ΔProb_irr,x, SR = SR_enh + SR_sup.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..interventions import enhance_activations, suppress_activations
from ..metrics import success_rate
from ..stats import bootstrap_ci
from .base import TASK_CLASSES, SkipFact, Summary, Task, metric_record
from .common import irrelevant_fact, mean_prob, neurons_json, usable_queries


@TASK_CLASSES.register("kn-localization")
class KNLocalizationTask(Task):
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

        def probs():
            return (mean_prob(scorer, queries, fact.object),
                    mean_prob(scorer, other_queries, other.object))

        rel_before, irr_before = probs()
        rows = []
        for method in self.ctx.methods:
            located = self.ctx.locator(method).localize(fact, self.options["max_queries"])
            kns = located.kns
            with enhance_activations(adapter, kns, positions=positions):
                rel_enh, irr_enh = probs()
            with suppress_activations(adapter, kns, positions=positions):
                rel_sup, irr_sup = probs()
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
        keys = ("rel_before", "rel_enhanced", "rel_suppressed", "irr_before", "irr_enhanced",
                "irr_suppressed")
        table = []
        for method in self.ctx.methods:
            mine = [r for r in rows if r["method"] == method]
            if not mine:
                continue
            arrays = [np.array([r[k] for r in mine]) for k in keys]
            sr = success_rate(*arrays, outlier_limit=limit)

            def sr_of(sample_idx):
                return success_rate(*[a[sample_idx] for a in arrays], outlier_limit=limit).sr

            ci = bootstrap_ci(np.arange(len(mine)), stat=lambda idx: sr_of(np.asarray(idx, dtype=int)),
                              n_resamples=1000, seed=self.ctx.seed) if len(mine) > 2 else None
            interval = (ci.low, ci.high) if ci is not None else (None, None)
            n_kns = [r["n_kns"] for r in mine]
            summary.metrics += [
                metric_record(method, "SR", sr.sr, len(mine), ci=interval),
                metric_record(method, "SR_enh", sr.sr_enhance, sr.n_enhance),
                metric_record(method, "SR_sup", sr.sr_suppress, sr.n_suppress),
                metric_record(method, "mean_kns", float(np.mean(n_kns)), len(mine), higher_is_better=False),
            ]
            table.append({"method": method, "SR": sr.sr, "SR_enh": sr.sr_enhance,
                          "SR_sup": sr.sr_suppress, "facts": len(mine), "mean #KNs": float(np.mean(n_kns))})
        summary.tables["success_rate"] = table
        return summary
