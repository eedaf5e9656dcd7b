"""kn-localization (002 §3.2, Table 1): do the localized neurons carry *this* fact?

For each fact and localizer: KNs refined across the fact's queries; enhance (x2) and suppress (x0)
them at the target position; measure the relative change of Prob on the fact's queries (relevant)
and on a fact of another relation (irrelevant). SR_x = ΔProb_rel,x / ΔProb_irr,x, SR = SR_enh + SR_sup,
with bootstrap CIs; SR_x is reported undefined when the CI of its denominator contains 0. Beside it
the companion rel_minus_irr(_enh/_sup), the mean paired ΔProb_rel − ΔProb_irr, is always defined
(``metrics.success_rate_report``). The console prints the metric records; no separate table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..interventions import enhance_activations, suppress_activations
from ..metrics import success_rate_report
from ..stats import mean_ci
from .base import TASK_CLASSES, SkipFact, Summary, Task, estimate_record, metric_record
from .common import irrelevant_fact, mean_prob, neurons_json, usable_queries
from .requirements import encodable_queries


@TASK_CLASSES.register("kn-localization")
class KNLocalizationTask(Task):
    def requirements(self):
        return [encodable_queries(1)]

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
        keys = ("rel_before", "rel_enhanced", "rel_suppressed", "irr_before", "irr_enhanced",
                "irr_suppressed")
        for method in self.ctx.methods:
            mine = [r for r in rows if r["method"] == method]
            if not mine:
                continue
            report = success_rate_report(*[np.array([r[k] for r in mine]) for k in keys],
                                         outlier_limit=self.options["outlier_limit"],
                                         n_resamples=1000, seed=self.ctx.seed)
            summary.metrics += [estimate_record(method, name, estimate) for name, estimate in report.items()]
            n_kns = mean_ci([r["n_kns"] for r in mine])
            summary.metrics.append(metric_record(method, "mean_kns", n_kns.estimate, len(mine),
                                                 ci=(n_kns.low, n_kns.high), higher_is_better=False))
        return summary
