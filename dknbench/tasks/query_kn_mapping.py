"""query-kn-mapping (003 §3.1, Fig. 4): are KNs tied to the query rather than to the fact?

For each query q_i of a fact: suppress (×0) / enhance (×2) the activations, at the target
position, of q_i's own KNs N_i ("Self") and of its neighbour sets N_i^N (Eq. 3) built from the
other queries' KN sets: Union, Intersection, Refine (neurons in more than one of them).
ΔProb = ±(Prob_a − Prob_b)/Prob_b on q_i ("+" for enhancement, "−" for suppression, so both are
positive when the intervention works); Avg = their mean. Facts are K_I/K_II by CS2 (static 0.1 by
default; option split: otsu). An empty neighbour set changes nothing, so its ΔProb is 0 (choice:
kept, and the share of empty sets is reported). Pairs with |ΔProb| > outlier_limit are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import intended_change
from ..results.figures import grouped_bars
from ..stats import compare_groups
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import methods_with_rows
from .dkn_common import SuppressionScorer
from .query_common import fact_query_kns, neighbour_sets, split_by_type
from .requirements import encodable_queries

SETS = ("Self", "Union", "Intersection", "Refine")


def set_effects(scorer, adapter, query, answer, neurons, positions="target") -> dict:
    """ΔProb for suppression and enhancement of ``neurons`` on one query (+ the probabilities)."""
    return query_set_effects(scorer, adapter, query, answer, {"set": neurons}, positions)["set"]


def query_set_effects(scorer, adapter, query, answer, named_sets: dict, positions="target") -> dict:
    """``set_effects`` of each named neuron set on one query: every suppression (x0) and every
    enhancement (x2) in one batched forward each, from each set's lowest layer over the clean run
    (``SuppressionScorer``; equal to hooked full forwards, tests/test_exact_cuts.py)."""
    cut = SuppressionScorer(scorer, adapter, [query], answer, positions)
    before = cut.base_prob
    sets = [list(n) for n in named_sets.values()]
    sup, enh = cut.prob_scaling_many(sets, 0.0), cut.prob_scaling_many(sets, 2.0)
    out = {}
    for name, neurons, s, e in zip(named_sets, sets, sup, enh):
        if not neurons:
            out[name] = {"before": before, "sup": 0.0, "enh": 0.0, "avg": 0.0, "n": 0}
            continue
        d_sup, d_enh = intended_change(before, s, "suppress"), intended_change(before, e, "enhance")
        out[name] = {"before": before, "sup": float(d_sup), "enh": float(d_enh),
                     "avg": float((d_sup + d_enh) / 2), "n": len(neurons)}
    return out


@TASK_CLASSES.register("query-kn-mapping")
class QueryKNMappingTask(Task):
    def requirements(self):  # CS1/CS2 compare at least two queries
        return [encodable_queries(2)]

    def run_fact(self, fact, index):
        scorer, adapter = self.ctx.scorer(), self.ctx.lm.adapter
        rows = []
        for method in self.ctx.methods:
            located, cs1, cs2 = fact_query_kns(self.ctx, method, fact, self.options["max_queries"])
            per_query = []
            for i, query in enumerate(located.queries):
                sets = {"Self": located.query_kns[i], **neighbour_sets(located.query_kns, i)}
                per_query.append(query_set_effects(scorer, adapter, query, fact.object,
                                                   {name: [tuple(n) for n in sets[name]] for name in SETS},
                                                   self.options["positions"]))
            rows.append({"fact_id": fact.id, "relation": fact.relation, "method": method,
                         "n_queries": len(located.queries), "cs1": cs1, "cs2": cs2,
                         "effects": per_query, "skipped_queries": dict(located.skipped)})
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        limit = self.options["outlier_limit"]
        table, bars = [], {}
        for method, mine in methods_with_rows(rows, self.ctx.methods).items():
            thr, by_type = split_by_type(mine, self.options)
            per_fact = {}
            for kind, facts in by_type.items():
                for name in SETS:
                    effects = [q[name] for r in facts for q in r["effects"]]
                    kept = [e for e in effects if abs(e["sup"]) <= limit and abs(e["enh"]) <= limit]
                    vals = {k: float(np.mean([e[k] for e in kept])) if kept else None for k in ("enh", "sup", "avg")}
                    empty = sum(1 for e in kept if e["n"] == 0)
                    group = f"{kind}/{name}"
                    for k, label in (("enh", "dProb_enh"), ("sup", "dProb_sup"), ("avg", "dProb_avg")):
                        summary.metrics.append(metric_record(method, label, vals[k], len(kept), group=group))
                    per_fact[f"avg {group}"] = [e["avg"] for e in kept]
                    table.append({"method": method, "type": kind, "set": name, "Enh": vals["enh"],
                                  "Sup": vals["sup"], "Avg": vals["avg"], "queries": len(kept),
                                  "outliers": len(effects) - len(kept), "empty sets": empty,
                                  "facts": len(facts),
                                  "mean #neurons": float(np.mean([e["n"] for e in kept])) if kept else None})
                    bars.setdefault(f"{kind}:{name}", {})[method] = per_fact[f"avg {group}"]  # mean ± CI
            summary.per_fact[method] = per_fact
            summary.metrics.append(metric_record(method, "threshold", thr, len(mine), group=self.options["split"]))
            for kind in ("K_I", "K_II"):
                a = per_fact.get(f"avg {kind}/Self", [])
                for name in SETS[1:]:
                    b = per_fact.get(f"avg {kind}/{name}", [])
                    if len(a) >= 2 and len(b) >= 2:
                        summary.comparisons.append(compare_groups(a, b, f"{method}:{kind}:Self",
                                                                  f"{method}:{kind}:{name}", "dProb_avg"))
        summary.tables["query_kn_mapping"] = table
        if bars:
            summary.figures.append(grouped_bars(bars, output / "query_kn_mapping.png", "ΔProb (Avg of Enh, Sup)",
                                                "Query-KN mapping: Self vs neighbour KN sets (003 Fig. 4)"))
        return summary
