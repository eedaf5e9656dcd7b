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
from ..results.figures import curves_by_group, layer_distribution, scores_against_threshold
from ..stats import compare_paired, mean_ci, mean_of_means_ci
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import neurons_from_json, neurons_json, rows_by_method
from .dkn_common import FactDKNs
from .requirements import dkn_fact_requirements

FUNNEL_RULES = ("removed_by_size", "removed_by_persistence", "removed_by_overlap", "essential_excluded")
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


def gcr_groups(rows, field: str, cards) -> dict[str, dict]:
    """``{"GCR@<c>": {fact_id: value}}`` of one method's facts with a DKN (``rows``: cardinality >= 2,
    no outlier) per cardinality ``c`` in ``cards``, and ``GCR@n>=3`` pooling every c other than 2
    (one unit); ``field`` is ``gcr`` or ``floor_gcr``. The groups every paired GCR test uses."""
    out = {f"GCR@{c}": {r["fact_id"]: r[field] for r in rows if str(r["cardinality"]) == c
                        and r[field] is not None} for c in cards}
    out[f"GCR@{POOLED}"] = {f: v for c in cards if c != "2" for f, v in out[f"GCR@{c}"].items()}
    return out


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
    """000 Table 1's "Average": the unweighted mean of the cardinality columns' means, with the
    t interval of ``stats.mean_of_means_ci`` (Welch–Satterthwaite df; one column gives its own
    t interval). (None, None) bounds when a column has < 2 values."""
    cells = [v for v in cells.values() if v]
    if not cells:
        return None, (None, None)
    interval = mean_of_means_ci(cells)
    if math.isnan(interval.low):
        return interval.estimate, (None, None)
    return interval.estimate, (interval.low, interval.high)


def dkn_funnel(method: str, rows: list[dict], tau2, mode: str) -> dict:
    """How a method's facts went from KNs to DKNs: facts with a candidate, the candidates each rule
    removed, the best functional score per fact against τ2, and one sentence saying why no DKN was
    kept when none was (000 defines a DKN as >= 2 BDCs that each pass the filter)."""
    with_candidates = [r for r in rows if r.get("n_candidates")]
    best = [max(r["functional_scores"]) for r in with_candidates if r.get("functional_scores")]
    passing = [sum(s >= tau2 for s in r["functional_scores"]) for r in with_candidates
               if tau2 is not None and r.get("functional_scores")]
    row = {"method": method, "facts": len(rows), "facts with a candidate": len(with_candidates),
           "candidates": sum(r.get("n_candidates") or 0 for r in rows)}
    for rule in FUNNEL_RULES:
        counts = [r.get(rule) for r in rows if r.get(rule) is not None]
        if counts:
            row[rule] = int(sum(counts))
    row["removed_by_filter"] = (None if tau2 is None else
                                sum(s < tau2 for r in rows for s in (r.get("functional_scores") or [])))
    row["tau2"] = tau2
    row["best score (median)"] = float(np.median(best)) if best else None
    row["best score (max)"] = float(max(best)) if best else None
    row["facts with DKN"] = sum(1 for r in rows if r["cardinality"] >= 2)
    if not row["facts with DKN"]:  # only then: an empty column would be printed otherwise
        row["why"] = _why_no_dkn(row, best, passing, tau2, mode)
    return row


def _why_no_dkn(row: dict, best: list, passing: list, tau2, mode: str) -> str:
    if not row["facts"]:
        return "no fact was used"
    if not row["facts with a candidate"]:
        cuts = ", ".join(f"{rule} {row[rule]}" for rule in FUNNEL_RULES if row.get(rule))
        return f"no fact had a candidate component ({cuts or 'the method proposed none'})"
    if best and tau2 is not None and max(best) < tau2:
        share = "of Prob(all KNs)" if mode == "relative" else "Prob"
        return (f"every candidate fails the functional filter: the best keeps {max(best):.0%} {share} "
                f"(median best per fact {np.median(best):.0%}) against τ2 = {tau2:.0%}")
    most = max(passing, default=0)
    return (f"no fact kept 2 or more components: at most {most} candidate(s) of a fact pass τ2"
            if tau2 is not None else "no fact has 2 or more candidate components")


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
                # why a DKN was or was not kept: the candidates, their filter scores, each rule's cut
                "n_candidates": len(dkn.candidates), "functional_scores": dkn.functional_scores, "tau2": dkn.tau2,
                **{rule: (dkn.extra.get("funnel") or {}).get(rule) for rule in FUNNEL_RULES},
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
        table, curves, layer_neurons, per_fact, cells_of, funnel_rows = [], {}, {}, {}, {}, []
        kept_of = rows_by_method(with_dkn, methods)
        for method, mine_all in rows_by_method(rows, methods).items():
            mine = kept_of[method]
            defined = [r for r in mine if r["gcr"] is not None]
            undefined = [r for r in mine if r["gcr"] is None]
            cells = {c: [r["gcr"] for r in defined if str(r["cardinality"]) == c] for c in cards}
            floors = {c: [r["floor_gcr"] for r in mine if str(r["cardinality"]) == c and r["floor_gcr"] is not None]
                      for c in cards}
            cells_of[method] = mine
            per_fact[method] = {f"GCR@{c}": {r["fact_id"]: r["gcr"] for r in defined if str(r["cardinality"]) == c}
                                for c, v in cells.items() if v}  # by fact id: readers pair methods
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
            funnel = dkn_funnel(method, mine_all, self._tau2(mine_all), self.options["filter_mode"])
            funnel_rows.append(funnel)
            no_dkn = "no fact with a DKN: " + funnel.get("why", "every fact with one is an outlier (|ΔProb| > "
                                                                f"{self.options.get('outlier_limit')})")
            why = None if over_facts else (no_dkn if not mine else "zero_sigma on every fact")
            summary.metrics.append(metric_record(method, "GCR", average, len(over_facts), ci=average_ci, undefined=why))
            summary.metrics.append(metric_record(method, "GCR_mean_over_facts", row["mean over facts"],
                                                 len(over_facts), ci=_ci(over_facts), undefined=why))
            summary.metrics.append(metric_record(
                method, "GCR_random_partition", floor_average, sum(map(len, floors.values())), ci=floor_ci,
                undefined=None if floor_average is not None else (no_dkn if not mine else "zero_sigma on every fact")))
            summary.metrics.append(metric_record(method, "GCR_undefined", len(undefined), len(mine)))
            summary.metrics.append(metric_record(
                method, "dkn_rate", len(mine) / len(mine_all) if mine_all else None, len(mine_all)))
            summary.metrics.append(metric_record(
                method, "mean_bdcs", float(np.mean([r["cardinality"] for r in mine_all])) if mine_all else None,
                len(mine_all)))
            layer_neurons[method] = [n for r in mine for b in r["bdcs"] for n in neurons_from_json(b)]
        summary.tables["gcr_by_cardinality"] = table
        summary.tables["dkn_funnel"] = funnel_rows
        summary.per_fact = per_fact
        summary.comparisons.extend(self._comparisons(methods, cells_of, cards))
        n_layers = self.ctx.run_info.get("n_layers") or 1 + max(
            [n[0] for ns in layer_neurons.values() for n in ns] + [0])
        figures = [layer_distribution(layer_neurons, n_layers, output / "dkn_layers.png"),
                   curves_by_group(curves, output / "delta_prob_curves.png", "suppressed BDCs k", "ΔProb",
                                   "cardinality ", title="000 Fig. 4: ΔProb as BDCs are suppressed (mean ± 95 % CI)"),
                   self._filter_figure(rows, output / "functional_scores.png")]
        summary.figures += [name for name in figures if name]  # None: nothing to plot, no file
        return summary

    @staticmethod
    def _tau2(rows: list[dict]):
        """The functional threshold a method's facts ran with (None: no filter, e.g. amig-pairs as
        002 Algorithm 1)."""
        return next((r.get("tau2") for r in rows if r.get("functional_scores") is not None), None)

    def _filter_figure(self, rows, path: Path) -> str:
        """Every candidate's functional score against τ2, per method (always written)."""
        by_method = rows_by_method(rows, self.ctx.methods)
        scores = {m: [list(r.get("functional_scores") or []) for r in mine]
                  for m, mine in by_method.items() if self._tau2(mine) is not None or not mine}
        relative = self.options["filter_mode"] == "relative"
        ylabel = "Prob(only B active) / Prob(all KNs)" if relative else "Prob(only B active)"
        return scores_against_threshold(scores, self.options["tau2"], path, ylabel,
                                        title="000 Eq. 10: candidates vs τ2 (ring: a fact's best)")

    @staticmethod
    def _comparisons(methods, rows_of, cards) -> list[dict]:
        """NTC (or the first method) against each other method, and every method against its own
        random floor, within each cardinality and over the pooled n >= 3 facts (one unit each).
        Paired on the facts both sides have a GCR for in that group (``stats.compare_paired``),
        so a comparison never sets one method's facts against another's."""
        reference = "ntc" if "ntc" in methods else methods[0]
        gcr_of = {m: gcr_groups(rows_of[m], "gcr", cards) for m in methods}
        pairs = [(reference, gcr_of[reference], other, gcr_of[other]) for other in methods if other != reference]
        pairs += [(m, gcr_of[m], f"{m}:{FLOOR}", gcr_groups(rows_of[m], "floor_gcr", cards)) for m in methods]
        out = []
        for a, ga, b, gb in pairs:
            for key in ga:
                if len(ga[key].keys() & gb[key].keys()) >= 2:
                    out.append(compare_paired(ga[key], gb[key], a, b, key))
        return out
