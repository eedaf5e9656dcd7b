"""gcr (000 §3.2, Table 1, Fig. 3-4, Table 7): how degenerate are the DKNs a method finds?

Suppress k of the n BDCs (k = 1..n), ΔProb_k = (Prob_b − Prob_a)/Prob_b averaged over k-subsets;
GCR = |ΔProb_n − μ(ΔProb_1..n−1)| / σ(ΔProb_1..n−1) (n = 2: |ΔProb_2 − ΔProb_1| in percentage
points, 000 Table 1's unit). Strong degeneracy = little change until every BDC is gone, then a
sudden drop.

Units: n = 2 is in percentage points, n ≥ 3 is scale-free, so values of different cardinalities
are never pooled into one test: t-tests compare methods within each cardinality (``GCR@<n>``) and
over the pooled n ≥ 3 facts (``GCR@n>=3``, one unit). Two averages are reported, named apart:
``GCR`` (group "") is 000 Table 1's "Average", the unweighted mean of the cardinality columns;
``GCR_mean_over_facts`` is the mean over facts. Each method stands beside a random floor: the GCR
of a seeded random partition of the same neurons into components of the same sizes.
"""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import numpy as np

from ..metrics import delta_prob, gcr, is_outlier
from ..metrics.degeneracy import gcr_undefined_reason
from ..results.figures import curves_by_group, layer_distribution
from ..stats import compare_groups, mean_ci
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import neurons_from_json, neurons_json
from .dkn_common import FactDKNs
from .requirements import dkn_fact_requirements

POOLED = "n>=3"  # the cardinalities whose GCR shares one (scale-free) unit
FLOOR = "random-partition"


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


def random_partition(bdcs, rng: random.Random) -> list[list]:
    """The neurons of ``bdcs`` shuffled into components of the same sizes, in the same order."""
    pool = sorted(n for b in bdcs for n in b)
    rng.shuffle(pool)
    out, start = [], 0
    for b in bdcs:
        out.append(sorted(pool[start : start + len(b)]))
        start += len(b)
    return out


def gcr_or_undefined(curve) -> tuple[float | None, str | None]:
    """(GCR, None) when the GCR is a number, else (None, why it is undefined)."""
    reason = gcr_undefined_reason(curve)
    return (None, reason) if reason else (gcr(curve), None)


def paper_average(cells: dict[str, list[float]]) -> tuple[float | None, tuple]:
    """000 Table 1's "Average": the unweighted mean of the cardinality columns' means, with a
    normal-approximation 95 % CI from SE² = Σ s_k²/n_k / K² (None when a column has < 2 values)."""
    cells = {k: v for k, v in cells.items() if v}
    if not cells:
        return None, (None, None)
    means = [float(np.mean(v)) for v in cells.values()]
    average = float(np.mean(means))
    if any(len(v) < 2 for v in cells.values()):
        return average, (None, None)
    se = math.sqrt(sum(np.var(v, ddof=1) / len(v) for v in cells.values())) / len(cells)
    return average, (average - 1.959963984540054 * se, average + 1.959963984540054 * se)


def _ci(values) -> tuple:
    if len(values) < 2:
        return None, None
    interval = mean_ci(values)
    return interval.low, interval.high


def _cardinality_key(card: str):
    return int(card) if card.isdigit() else math.inf


@TASK_CLASSES.register("gcr")
class GCRTask(Task):
    def requirements(self):
        return dkn_fact_requirements(self.options)

    def run_fact(self, fact, index):
        shared = FactDKNs(self.ctx, fact)
        rows = []
        for method in self.ctx.methods:
            dkn = shared.fit(method, self.options)
            n = len(dkn.bdcs)
            row = {
                "fact_id": fact.id, "relation": fact.relation, "method": method,
                "localizer": self.options["localizer"], "n_queries": len(shared.queries),
                "kns": neurons_json(shared.kns), "n_kns": len(shared.kns),
                "bdcs": [neurons_json(b) for b in dkn.bdcs], "cardinality": n,
                "persistence": dkn.persistence, "prob_base": shared.scorer.base_prob,
                "delta_prob_curve": [], "gcr": None, "gcr_undefined": None, "outlier": False,
                "floor_bdcs": [], "floor_curve": [], "floor_gcr": None, "floor_undefined": None,
                "skipped_queries": shared.skipped,
            }
            if n >= 2:
                curve_rng = random.Random(self.ctx.seed * 31 + index)
                curve = suppression_curve(dkn.bdcs, shared.scorer, self.options["max_subsets"], curve_rng)
                floor = random_partition(dkn.bdcs, random.Random(f"{self.ctx.seed}:{index}:{method}"))
                floor_curve = suppression_curve(floor, shared.scorer, self.options["max_subsets"], curve_rng)
                row.update(delta_prob_curve=curve, floor_bdcs=[neurons_json(b) for b in floor],
                           floor_curve=floor_curve, outlier=bool(is_outlier(curve, self.options["outlier_limit"])))
                row["gcr"], row["gcr_undefined"] = gcr_or_undefined(curve)
                row["floor_gcr"], row["floor_undefined"] = gcr_or_undefined(floor_curve)
            rows.append(row)
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        methods = self.ctx.methods
        with_dkn = [r for r in rows if r["cardinality"] >= 2 and not r["outlier"]]
        # 000 Table 1's columns (2-8) plus any larger cardinality found here
        cards = sorted({str(r["cardinality"]) for r in with_dkn} | {str(n) for n in range(2, 9)},
                       key=_cardinality_key)
        table, curves, layer_neurons, per_fact, cells_of = [], {}, {}, {}, {}
        for method in methods:
            mine_all = [r for r in rows if r["method"] == method]
            mine = [r for r in with_dkn if r["method"] == method]
            defined = [r for r in mine if r["gcr"] is not None]
            undefined = [r for r in mine if r["gcr"] is None]
            cells = {c: [r["gcr"] for r in defined if str(r["cardinality"]) == c] for c in cards}
            floors = {c: [r["floor_gcr"] for r in mine if str(r["cardinality"]) == c and r["floor_gcr"] is not None]
                      for c in cards}
            cells_of[method] = (cells, floors)
            per_fact[method] = {f"GCR@{c}": v for c, v in cells.items() if v}
            row = {"method": method}
            for card in cards:
                group, floor = cells[card], floors[card]
                row[card] = float(np.mean(group)) if group else None
                in_card = [r for r in mine if str(r["cardinality"]) == card]
                if group:
                    summary.metrics.append(metric_record(method, "GCR", np.mean(group), len(group), group=card,
                                                         ci=_ci(group)))
                elif in_card:  # facts of this cardinality exist but none has a defined GCR
                    summary.metrics.append(metric_record(method, "GCR", None, len(in_card), group=card,
                                                         undefined="zero_sigma on every fact"))
                if floor:
                    summary.metrics.append(metric_record(method, "GCR_random_partition", np.mean(floor), len(floor),
                                                         group=card, ci=_ci(floor)))
                if in_card:
                    # per-fact curves: the figure draws their mean and 95 % CI
                    curves.setdefault(f"n={card}", {})[method] = [list(r["delta_prob_curve"]) for r in in_card]
            average, average_ci = paper_average(cells)
            floor_average, floor_ci = paper_average(floors)
            over_facts = [r["gcr"] for r in defined]
            row["Average"] = average
            row["mean over facts"] = float(np.mean(over_facts)) if over_facts else None
            row["random floor"] = floor_average
            row["undefined"] = len(undefined)
            row["facts with DKN"] = len(mine)
            row["facts"] = len(mine_all)
            table.append(row)
            why = None if over_facts else ("no fact with a DKN" if not mine else "zero_sigma on every fact")
            summary.metrics.append(metric_record(method, "GCR", average, len(over_facts), ci=average_ci, undefined=why))
            summary.metrics.append(metric_record(method, "GCR_mean_over_facts", row["mean over facts"],
                                                 len(over_facts), ci=_ci(over_facts), undefined=why))
            summary.metrics.append(metric_record(
                method, "GCR_random_partition", floor_average, sum(map(len, floors.values())), ci=floor_ci,
                undefined=None if floor_average is not None else "no fact with a DKN"))
            summary.metrics.append(metric_record(method, "GCR_undefined", len(undefined), len(mine),
                                                 higher_is_better=False))
            summary.metrics.append(metric_record(
                method, "dkn_rate", len(mine) / len(mine_all) if mine_all else None, len(mine_all)))
            summary.metrics.append(metric_record(
                method, "mean_bdcs", float(np.mean([r["cardinality"] for r in mine_all])) if mine_all else None,
                len(mine_all)))
            layer_neurons[method] = [n for r in mine for b in r["bdcs"] for n in neurons_from_json(b)]
        summary.tables["gcr_by_cardinality"] = table
        summary.per_fact = per_fact
        summary.comparisons.extend(self._comparisons(methods, cells_of, cards))
        n_layers = self.ctx.run_info.get("n_layers") or 1 + max(
            [n[0] for ns in layer_neurons.values() for n in ns] + [0])
        figures = [layer_distribution(layer_neurons, n_layers, output / "dkn_layers.png"),
                   curves_by_group(curves, output / "delta_prob_curves.png", "suppressed BDCs k", "ΔProb",
                                   "cardinality ", title="000 Fig. 4: ΔProb as BDCs are suppressed (mean ± 95 % CI)")]
        summary.figures += [name for name in figures if name]  # None: nothing to plot, no file
        return summary

    @staticmethod
    def _comparisons(methods, cells_of, cards) -> list[dict]:
        """NTC (or the first method) against each other method, and every method against its own
        random floor, within each cardinality and over the pooled n >= 3 facts (one unit each)."""
        def groups(cells):
            out = {f"GCR@{c}": cells[c] for c in cards}
            out[f"GCR@{POOLED}"] = [v for c in cards if c != "2" for v in cells[c]]
            return out

        reference = "ntc" if "ntc" in methods else methods[0]
        pairs = [(reference, groups(cells_of[reference][0]), other, groups(cells_of[other][0]))
                 for other in methods if other != reference]
        pairs += [(m, groups(cells_of[m][0]), f"{m}:{FLOOR}", groups(cells_of[m][1])) for m in methods]
        out = []
        for a, ga, b, gb in pairs:
            for key in ga:
                if len(ga[key]) >= 2 and len(gb[key]) >= 2:
                    out.append(compare_groups(ga[key], gb[key], a, b, key))
        return out
