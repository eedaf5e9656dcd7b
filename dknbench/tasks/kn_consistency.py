"""kn-consistency (003 §2.1, Table 1, Fig. 3): do a fact's paraphrases localise to the same KNs?

Per fact (k ≥ 2 usable queries) and localizer: N_i per query (τ·max threshold), CS1 = |∩N_i|/|∪N_i|,
CS2 = |{n in > 1 N_i}|/|∪N_i| (Eq. 1). Facts with CS2 > T are K_I, the others K_II, with T the
static 0.1 (003 Table 4) or Otsu's threshold on the run's CS2 values (per localizer). Table 1
layout: R:I, R:II (shares), S:I, S:II (mean CS2 per class), Welch's t and p between the classes'
CS2; ∩:II = share of facts (present under every localizer) that are K_II under all localizers.
Facts whose queries yield no KN at all (empty union, CS undefined) are counted, not classified.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..stats import CI_T_CLIPPED, clipped_mean_ci, compare_groups, welch_t
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import methods_with_rows, neurons_json
from .query_common import K_I, K_II, SPLITS, fact_query_kns, knowledge_type, split_threshold
from .requirements import encodable_queries

LABELS = {"static": "St", "otsu": "Ot"}


def class_table(cs2_by_fact: dict, threshold: float) -> dict:
    """R:I, S:I, R:II, S:II, Welch t/p for one localizer's CS2 values split at ``threshold``."""
    values = [v for v in cs2_by_fact.values() if v is not None and v == v]
    kinds = [knowledge_type(v, threshold) for v in values]
    one = [v for v, k in zip(values, kinds) if k == K_I]
    two = [v for v, k in zip(values, kinds) if k == K_II]
    n = len(values)
    test = welch_t(one, two)
    return {"threshold": threshold, "n": n,
            "R:I": len(one) / n if n else None, "S:I": float(np.mean(one)) if one else None,
            "R:II": len(two) / n if n else None, "S:II": float(np.mean(two)) if two else None,
            "t": test.statistic, "p": test.pvalue, "_one": one, "_two": two}


def shared_kii(cs2_by_method: dict[str, dict], thresholds: dict[str, float]) -> tuple[float | None, int]:
    """∩:II: among facts with a CS2 under every method, the share that are K_II under all of them."""
    common = set.intersection(*[{f for f, v in d.items() if v is not None and v == v}
                                for d in cs2_by_method.values()]) if cs2_by_method else set()
    if not common:
        return None, 0
    both = sum(all(knowledge_type(cs2_by_method[m][f], thresholds[m]) == K_II for m in cs2_by_method)
               for f in common)
    return both / len(common), len(common)


def violin_by_relation(cs2_by_method: dict[str, dict[str, list[float]]], path: Path,
                       threshold: float) -> str:
    """003 Fig. 3: CS2 distribution per relation, one panel per localizer."""
    from ..results.figures import _plt, _save, method_colour, run_title

    plt = _plt()
    methods = list(cs2_by_method)
    fig, axes = plt.subplots(len(methods), 1, figsize=(max(6, 0.6 * max(
        (len(v) for v in cs2_by_method.values()), default=1) + 2), 3.2 * len(methods)), squeeze=False)
    for ax, method in zip(axes[:, 0], methods):
        groups = {r: v for r, v in sorted(cs2_by_method[method].items()) if v}
        names = list(groups)
        data = [groups[r] for r in names]
        if data:
            parts = ax.violinplot(data, showmeans=True, showextrema=True)
            for body in parts["bodies"]:  # the method's colour, as in every other figure
                body.set_facecolor(method_colour(method))
                body.set_label(method)
            ax.set_xticks(np.arange(1, len(names) + 1))
            ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
        ax.axhline(threshold, color="red", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
        ax.set_ylabel("CS2")
        n = sum(map(len, data))
        ax.set_title(run_title(f"003 Fig. 3: KN consistency (CS2) by relation — {method}", path, n),
                     fontsize=9)
        ax.legend(fontsize=7)
    return _save(fig, path)


@TASK_CLASSES.register("kn-consistency")
class KNConsistencyTask(Task):
    def requirements(self):  # CS1/CS2 compare at least two queries
        return [encodable_queries(2)]

    def run_fact(self, fact, index):
        rows = []
        for method in self.ctx.methods:
            located, cs1, cs2 = fact_query_kns(self.ctx, method, fact, self.options["max_queries"])
            rows.append({"fact_id": fact.id, "relation": fact.relation, "method": method,
                         "n_queries": len(located.queries), "queries": located.queries,
                         "query_kns": [neurons_json(k) for k in located.query_kns],
                         "n_kns_per_query": [len(k) for k in located.query_kns],
                         "union_size": len({tuple(n) for k in located.query_kns for n in k}),
                         "cs1": cs1, "cs2": cs2, "skipped_queries": dict(located.skipped)})
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        static = self.options["static_threshold"]
        by_method = methods_with_rows(rows, self.ctx.methods)
        methods = list(by_method)
        cs2 = {m: {r["fact_id"]: r["cs2"] for r in mine} for m, mine in by_method.items()}
        table, thresholds = [], {s: {} for s in SPLITS}
        for method, mine in by_method.items():
            defined = [r for r in mine if r["cs2"] == r["cs2"] and r["cs2"] is not None]
            # by fact id, so that a reader compares methods on the facts both have (leaderboard)
            summary.per_fact[method] = {name: {r["fact_id"]: r[name.lower()] for r in defined}
                                        for name in ("CS1", "CS2")}
            shares = {name: clipped_mean_ci([r[name.lower()] for r in defined], 0.0, 1.0) for name in ("CS1", "CS2")}
            summary.metrics += [  # CS1, CS2 are shares of the union: their CI is kept inside [0, 1]
                metric_record(method, name, share.estimate if defined else None, len(defined),
                              ci=(share.low, share.high) if len(defined) >= 2 else (None, None),
                              ci_method=CI_T_CLIPPED)
                for name, share in shares.items()] + [
                metric_record(method, "no_kn_facts", len(mine) - len(defined), len(mine)),
            ]
            for split in SPLITS:
                thr = split_threshold(list(cs2[method].values()), split, static)
                thresholds[split][method] = thr
                res = class_table(cs2[method], thr)
                group = split
                for key, name in (("R:I", "R_I"), ("S:I", "S_I"), ("R:II", "R_II"), ("S:II", "S_II"),
                                  ("t", "welch_t")):
                    summary.metrics.append(metric_record(method, name, res[key], res["n"], group=group))
                summary.metrics.append(metric_record(method, "threshold", thr, res["n"], group=group))
                if len(res["_one"]) >= 2 and len(res["_two"]) >= 2:
                    summary.comparisons.append(compare_groups(res["_one"], res["_two"], f"{method}:K_I",
                                                              f"{method}:K_II", f"CS2 ({split})"))
                table.append({"T": LABELS[split], "method": method,
                              **{k: v for k, v in res.items() if not k.startswith("_")}})
        for split in SPLITS:
            if len(methods) >= 2:
                share, n = shared_kii(cs2, thresholds[split])
                summary.metrics.append(metric_record("+".join(methods), "cap_II", share, n, group=split))
                for row in table:
                    if row["T"] == LABELS[split]:
                        row["∩:II"] = share
        summary.tables["consistency"] = table
        by_relation = {m: {} for m in methods}
        for r in rows:
            if r["cs2"] is not None and r["cs2"] == r["cs2"]:
                by_relation[r["method"]].setdefault(r["relation"], []).append(r["cs2"])
        if any(by_relation.values()):  # no placeholder figure when no CS2 is defined
            summary.figures.append(violin_by_relation(by_relation, output / "cs2_violin.png",
                                                      self.options["figure_threshold"]))
        return summary
