"""linguistic-control (004): are "knowledge" neurons specific to facts, or do grammatical choices
have them too?

Niu et al. (004) argue that attribution-localized neurons also control syntactic patterns. This
task runs the *same* localizers and the *same* activation edits on two kinds of items:

- ``agreement``: determiner/numeral-noun number agreement (builder ``agreement``; e.g. query
  "She has two [Y]", correct "dogs", wrong "dog");
- ``factual``: the run's facts that have a ``wrong_object`` (the builtin set has one for each).

Per item and localizer: KNs for the correct form (refined across the item's queries); per query
the choice "Prob(correct) > Prob(wrong)" before the edit, after suppressing (x0) and after
enhancing (x2) the KNs at the target position. Reported per kind: accuracy before/after, the
**flip rate** (share of queries chosen correctly before that are chosen wrongly after suppression),
the **fix rate** (wrong before -> right after enhancement), the relative drop of Prob(correct)
under suppression, and #KNs. Equal flip rates on grammar and on facts mean the localized neurons
are not fact-specific.

Pairing: run slot ``index`` handles fact ``index`` of the run *and* agreement item ``index`` of a
seeded shuffle of the agreement set (built once in ``prepare()``), so ``--limit N`` gives N of each
(fewer agreement items when the word list is smaller than N).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from ..interventions import enhance_activations, suppress_activations
from ..paths import slug
from ..scoring import SkipQuery
from ..stats import compare_groups
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import neurons_json, rows_by_method

KINDS = ("factual", "agreement")


def choice_flips(correct_before, wrong_before, correct_after, wrong_after) -> dict:
    """Per-query choices before/after an edit -> counts: right before, flipped to wrong, wrong
    before, fixed to right (ties count as wrong)."""
    before = np.asarray(correct_before) > np.asarray(wrong_before)
    after = np.asarray(correct_after) > np.asarray(wrong_after)
    return {"right_before": int(before.sum()), "flipped": int((before & ~after).sum()),
            "wrong_before": int((~before).sum()), "fixed": int((~before & after).sum()),
            "right_after": int(after.sum()), "n": int(before.size)}


@TASK_CLASSES.register("linguistic-control")
class LinguisticControlTask(Task):
    def prepare(self) -> None:
        import data_builders
        from ..data.schema import fact_from_row

        built = data_builders.build("agreement", self.options["agreement_source"] or None, seed=self.ctx.seed)
        items = [fact_from_row(r) for r in built["test"]]
        random.Random(f"{self.ctx.seed}/linguistic-control").shuffle(items)
        self.agreement = items

    def _item_rows(self, item, kind: str, index: int) -> list[dict]:
        scorer = self.ctx.scorer()
        queries = []
        for query in item.queries:
            try:
                a = scorer.encode(query, item.object)
                b = scorer.encode(query, item.wrong_object)
            except SkipQuery:
                continue
            if scorer.mode == "first" and a.answer_ids[:1] == b.answer_ids[:1]:
                continue  # both forms share the scored first token: no choice to measure
            queries.append(query)
            if len(queries) >= self.options["max_queries"]:
                break
        if not queries:
            return [{"kind": kind, "item_id": item.id, "method": m, "skipped": "no_usable_query"}
                    for m in self.ctx.methods]
        adapter = self.ctx.lm.adapter
        positions = self.options["positions"]

        def probs():
            return (scorer.probs(queries, [item.object] * len(queries)).tolist(),
                    scorer.probs(queries, [item.wrong_object] * len(queries)).tolist())

        correct_b, wrong_b = probs()
        rows = []
        for method in self.ctx.methods:
            # KNs of exactly the queries scored (the localizer sees the fact with these queries)
            located = self.ctx.locator(method).localize(_with_queries(item, queries), len(queries))
            kns = located.kns
            with suppress_activations(adapter, kns, positions=positions):
                correct_s, wrong_s = probs()
            with enhance_activations(adapter, kns, positions=positions):
                correct_e, wrong_e = probs()
            rows.append({"kind": kind, "item_id": item.id, "relation": item.relation, "method": method,
                         "object": item.object, "wrong_object": item.wrong_object, "queries": queries,
                         "kns": neurons_json(kns), "n_kns": len(kns), "skipped": None,
                         "correct_before": correct_b, "wrong_before": wrong_b,
                         "correct_suppressed": correct_s, "wrong_suppressed": wrong_s,
                         "correct_enhanced": correct_e, "wrong_enhanced": wrong_e})
        return rows

    def run_fact(self, fact, index):
        rows = []
        if fact.wrong_object and fact.wrong_object != fact.object:
            rows += self._item_rows(fact, "factual", index)
        else:
            rows += [{"kind": "factual", "item_id": fact.id, "method": m, "skipped": "no_wrong_object"}
                     for m in self.ctx.methods]
        if index < len(self.agreement):
            rows += self._item_rows(self.agreement[index], "agreement", index)
        for row in rows:
            row["fact_id"] = fact.id
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        table = []
        bars: dict[str, dict[str, float]] = {}
        for method, all_mine in rows_by_method(rows, self.ctx.methods).items():
            flip_share = {}
            for kind in KINDS:
                mine = [r for r in all_mine if r["kind"] == kind and not r.get("skipped")]
                skipped = sum(1 for r in all_mine if r["kind"] == kind and r.get("skipped"))
                if not mine:
                    table.append({"method": method, "kind": kind, "items": 0, "skipped items": skipped})
                    continue
                sup = [choice_flips(r["correct_before"], r["wrong_before"], r["correct_suppressed"],
                                    r["wrong_suppressed"]) for r in mine]
                enh = [choice_flips(r["correct_before"], r["wrong_before"], r["correct_enhanced"],
                                    r["wrong_enhanced"]) for r in mine]
                total = lambda counts, key: sum(c[key] for c in counts)  # noqa: E731
                n = total(sup, "n")
                acc_before = total(sup, "right_before") / n
                acc_sup = total(sup, "right_after") / n
                acc_enh = total(enh, "right_after") / n
                flip = total(sup, "flipped") / total(sup, "right_before") if total(sup, "right_before") else None
                fix = total(enh, "fixed") / total(enh, "wrong_before") if total(enh, "wrong_before") else None
                drops = [float(np.mean([(b - a) / b for b, a in zip(r["correct_before"], r["correct_suppressed"]) if b > 0]))
                         for r in mine]
                flip_share[kind] = [c["flipped"] / c["right_before"] for c in sup if c["right_before"]]
                n_kns = float(np.mean([r["n_kns"] for r in mine]))
                summary.metrics += [
                    metric_record(method, "acc_before", acc_before, n, group=kind),
                    metric_record(method, "acc_suppressed", acc_sup, n, group=kind),
                    metric_record(method, "acc_enhanced", acc_enh, n, group=kind),
                    metric_record(method, "flip_rate", flip, total(sup, "right_before"), group=kind),
                    metric_record(method, "fix_rate", fix, total(enh, "wrong_before"), group=kind),
                    metric_record(method, "prob_drop", float(np.nanmean(drops)), len(mine), group=kind),
                    metric_record(method, "mean_kns", n_kns, len(mine), group=kind)]
                summary.per_fact.setdefault(method, {})[f"flip_share/{kind}"] = flip_share[kind]
                summary.per_fact[method][f"prob_drop/{kind}"] = drops
                bars[f"{method}\n{kind}"] = {"flip rate (suppress)": np.nan if flip is None else flip,
                                              "fix rate (enhance)": np.nan if fix is None else fix,
                                              "Prob drop (suppress)": float(np.nanmean(drops))}
                table.append({"method": method, "kind": kind, "items": len(mine), "queries": n,
                              "skipped items": skipped, "acc before": acc_before,
                              "acc suppressed": acc_sup, "acc enhanced": acc_enh, "flip rate": flip,
                              "fix rate": fix, "Prob drop (sup)": float(np.nanmean(drops)),
                              "mean #KNs": n_kns})
            if len(flip_share.get("factual", [])) > 1 and len(flip_share.get("agreement", [])) > 1:
                summary.comparisons.append(compare_groups(
                    flip_share["factual"], flip_share["agreement"], method_a=f"{method}/factual",
                    method_b=f"{method}/agreement", metric="flip_share"))
        summary.tables["choice_flips"] = table
        summary.figures += self._figures(rows, bars, output)
        return summary

    def _figures(self, rows, bars, output: Path) -> list[str]:
        """Flip/fix rates and Prob drop per method and kind side by side, and where each kind's
        KNs sit over the layers (one figure per method)."""
        from ..results.figures import grouped_bars, layer_distribution
        from .common import neurons_from_json

        if not bars:
            return []
        names = [grouped_bars(bars, output / "choice_flips.png", ylabel="share",
                              title="Suppressing / enhancing localized neurons: facts vs number agreement")]
        for method, mine in rows_by_method(rows, self.ctx.methods).items():
            neurons = {kind: [n for r in mine if r["kind"] == kind and not r.get("skipped")
                              for n in neurons_from_json(r["kns"])] for kind in KINDS}
            found = [n[0] for ns in neurons.values() for n in ns]
            n_layers = int(self.ctx.run_info.get("n_layers") or 0) or 1 + max(found, default=0)
            names.append(layer_distribution(neurons, n_layers, output / f"kn_layers_{slug(method)}.png",
                                            title=f"KNs of facts vs of number agreement over layers ({method})"))
        return [name for name in names if name]  # None: nothing to plot, no file


def _with_queries(item, queries):
    from dataclasses import replace

    return replace(item, queries=list(queries))
