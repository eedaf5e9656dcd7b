"""gcr (000 §3.2, Table 1, Fig. 3-4, Table 7): how degenerate are the DKNs a method finds?

Suppress k of the n BDCs (k = 1..n), ΔProb_k = (Prob_b − Prob_a)/Prob_b averaged over k-subsets;
GCR = |ΔProb_n − μ(ΔProb_1..n−1)| / σ(ΔProb_1..n−1) (n = 2: |ΔProb_2 − ΔProb_1|). Strong
degeneracy = little change until every BDC is gone, then a sudden drop.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np

from ..metrics import delta_prob, gcr, is_outlier
from ..results.figures import curves_by_group, layer_distribution
from ..stats import compare_groups, mean_ci
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import neurons_from_json, neurons_json
from .dkn_common import FactDKNs

CARDINALITIES = [str(n) for n in range(2, 9)]


def suppression_curve(bdcs, scorer, max_subsets: int, rng: random.Random) -> list[float]:
    """ΔProb_k for k = 1..n, each the mean over (all or sampled) k-subsets of the BDCs."""
    n, base = len(bdcs), scorer.base_prob
    curve = []
    for k in range(1, n + 1):
        if n <= 8:
            subsets = list(itertools.combinations(range(n), k))
        else:
            subsets = list({tuple(sorted(rng.sample(range(n), k))) for _ in range(max_subsets)})
        probs = scorer.prob_suppressing_many([[x for i in s for x in bdcs[i]] for s in subsets])
        drops = [delta_prob(base, p) for p in probs]
        curve.append(float(np.mean(drops)))
    return curve


@TASK_CLASSES.register("gcr")
class GCRTask(Task):
    def run_fact(self, fact, index):
        shared = FactDKNs(self.ctx, fact)
        rows = []
        for method in self.ctx.methods:
            dkn = shared.fit(method, self.options)
            n = len(dkn.bdcs)
            curve = suppression_curve(dkn.bdcs, shared.scorer, self.options["max_subsets"],
                                      random.Random(self.ctx.seed * 31 + index)) if n >= 2 else []
            outlier = bool(curve) and is_outlier(curve, self.options["outlier_limit"])
            rows.append({
                "fact_id": fact.id, "relation": fact.relation, "method": method,
                "localizer": self.options["localizer"], "n_queries": len(shared.queries),
                "kns": neurons_json(shared.kns), "n_kns": len(shared.kns),
                "bdcs": [neurons_json(b) for b in dkn.bdcs], "cardinality": n,
                "persistence": dkn.persistence, "prob_base": shared.scorer.base_prob,
                "delta_prob_curve": curve, "gcr": gcr(curve) if n >= 2 else None,
                "outlier": outlier, "skipped_queries": shared.skipped,
            })
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        methods = self.ctx.methods
        valid = [r for r in rows if r["cardinality"] >= 2 and not r["outlier"] and r["gcr"] is not None]
        table, curves, layer_neurons, per_fact = [], {}, {}, {}
        for method in methods:
            mine_all = [r for r in rows if r["method"] == method]
            mine = [r for r in valid if r["method"] == method]
            values = [r["gcr"] for r in mine]
            per_fact[method] = {"GCR": values}
            row = {"method": method}
            for card in CARDINALITIES:
                group = [r["gcr"] for r in mine if str(r["cardinality"]) == card]
                row[card] = float(np.mean(group)) if group else None
                if group:
                    summary.metrics.append(metric_record(method, "GCR", np.mean(group), len(group), group=card))
                    ys = np.mean([r["delta_prob_curve"] for r in mine if str(r["cardinality"]) == card], axis=0)
                    curves.setdefault(f"n={card}", {})[method] = ys.tolist()
            row["Average"] = float(np.mean(values)) if values else None
            row["facts with DKN"] = len(mine)
            row["facts"] = len(mine_all)
            table.append(row)
            ci = mean_ci(values) if len(values) >= 2 else None
            summary.metrics.append(metric_record(method, "GCR", row["Average"], len(values),
                                                 ci=(ci.low, ci.high) if ci else (None, None)))
            summary.metrics.append(metric_record(
                method, "dkn_rate", len(mine) / len(mine_all) if mine_all else None, len(mine_all)))
            summary.metrics.append(metric_record(
                method, "mean_bdcs", float(np.mean([r["cardinality"] for r in mine_all])) if mine_all else None,
                len(mine_all)))
            layer_neurons[method] = [n for r in mine for b in r["bdcs"] for n in neurons_from_json(b)]
        summary.tables["gcr_by_cardinality"] = table
        summary.per_fact = per_fact
        reference = "ntc" if "ntc" in methods else methods[0]
        for other in methods:
            if other != reference and per_fact[reference]["GCR"] and per_fact[other]["GCR"]:
                summary.comparisons.append(compare_groups(per_fact[reference]["GCR"], per_fact[other]["GCR"],
                                                          reference, other, "GCR"))
        n_layers = self.ctx.run_info.get("n_layers") or 1 + max(
            [n[0] for ns in layer_neurons.values() for n in ns] + [0])
        summary.figures.append(layer_distribution(layer_neurons, n_layers, output / "dkn_layers.png"))
        summary.figures.append(curves_by_group(curves, output / "delta_prob_curves.png",
                                               "suppressed BDCs k", "ΔProb", "cardinality "))
        return summary
