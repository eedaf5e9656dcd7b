"""perturbation-robustness (000 §5, Eq. 15, Fig. 6-7, App. I, Table 9): do DKNs make a model
robust to input perturbations?

Per fact: Q* = one word-level edit of each query Q (replace by ``[replace]``, insert ``[add]``,
delete a word; data_builders.perturbed's seeded ``perturb_seeded``). Neuron sets:
D (the DKN's neurons), N (KNs that are not in D, size-matched to D as in 000 footnote 2: when there
are more, a seeded sample of |D|; when there are fewer, seeded DKNs are added — "which actually
strengthens this baseline"), Rnd (|D| seeded random neurons of the whole MLP, KNs excluded) and ∅.

* Suppression (values: activations set to 0 at the target position; weights: read rows, biases
  and write columns zeroed): ``delta_prob`` = (Prob_X(Q) − Prob_X(Q*)) / Prob_X(Q), both measured
  under the same manipulation X ("after suppression, we calculate prediction probabilities for
  both Q and Q*", 000 §5). Choice where the paper is vague: the variant ``delta_prob_clean`` uses
  the unmanipulated Prob(Q) as reference: (Prob(Q) − Prob_X(Q*)) / Prob(Q). Both are reported.
* Enhancement (values ×2 or write vectors ×2) on the Q* the clean model gets wrong (top-1 token ≠
  first answer token): ``delta_acc_enhance`` = accuracy after (before is 0 by construction).
* App. I: suppression on the Q* the clean model gets right: ``delta_acc_suppress`` = Acc_after −
  Acc_before (≤ 0).
Outliers (000 App. A.4, the rule gcr applies via ``is_outlier``): a fact any of whose ΔProb values
(either reading, any setting) has |ΔProb| > ``outlier_limit`` (9, the papers' "900 %") or is not
finite is left out of every metric; ``outliers_excluded`` counts them per method.
Per-fact values are means over the fact's queries. D vs N and D vs Rnd: Student/Welch t and
Cohen's d over facts (000 Table 9). Every intervention is a context manager that restores.
"""

from __future__ import annotations

import random
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from data_builders.perturbed import KINDS, perturb_seeded

from ..errors import ConfigError
from ..metrics import is_outlier
from ..interventions import (enhance_activations, enhance_weights, suppress_activations,
                             suppress_weights)
from ..results.figures import grouped_bars
from ..scoring import SkipQuery
from ..stats import compare_groups, mean_ci
from .base import TASK_CLASSES, SkipFact, Summary, Task, metric_record
from .common import neurons_json, rows_by_method
from .dkn_common import FactDKNs, SuppressionScorer
from .requirements import dkn_fact_requirements

SETS = ("empty", "D", "N", "Rnd")
LABELS = {"empty": "∅", "D": "D", "N": "N", "Rnd": "Rnd"}
METRICS = ("delta_prob", "delta_prob_clean", "delta_acc_enhance", "delta_acc_suppress")


def interventions_of(option: str) -> list[str]:
    allowed = {"values": ["values"], "weights": ["weights"], "both": ["values", "weights"]}
    if option not in allowed:
        raise ConfigError(f"option intervention: expected values, weights or both, got {option!r}")
    return allowed[option]


def kinds_of(option: str) -> list[str]:
    kinds = [k.strip() for k in str(option).split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ConfigError(f"option kinds: unknown kind(s) {bad or option!r}; allowed: {', '.join(KINDS)}")
    return kinds


def size_matched_sets(dkn_neurons, kns, n_layers: int, n_neurons: int, rng: random.Random):
    """(N, Rnd), each of size |D| (000 footnote 2). N: non-DKN KNs (sampled down, or topped up
    with DKNs when there are too few); Rnd: random neurons outside the KNs."""
    d = sorted(set(dkn_neurons))
    size = len(d)
    non_dkn = sorted(set(kns) - set(d))
    if len(non_dkn) >= size:
        n_set = sorted(rng.sample(non_dkn, size))
    else:
        n_set = sorted(non_dkn + rng.sample(d, size - len(non_dkn)))
    excluded = set(kns) | set(d)
    total = n_layers * n_neurons
    if total - len(excluded) < size:
        raise SkipFact("too_few_neurons_for_rnd")
    rnd: set = set()
    while len(rnd) < size:
        flat = rng.randrange(total)
        neuron = (flat // n_neurons, flat % n_neurons)
        if neuron not in excluded:
            rnd.add(neuron)
    return n_set, sorted(rnd)


def intervention(adapter, neurons, operation: str, kind: str, positions: str):
    """The context manager for one (operation, values|weights) on ``neurons`` (∅: nothing)."""
    if not neurons:
        return nullcontext()
    if operation == "suppress":
        return (suppress_activations(adapter, neurons, positions=positions) if kind == "values"
                else suppress_weights(adapter, neurons))
    return (enhance_activations(adapter, neurons, factor=2.0, positions=positions) if kind == "values"
            else enhance_weights(adapter, neurons, factor=2.0))


def perturbed_pairs(scorer, fact, queries, kinds, before_slot, seed):
    """[(Q, Q*, kind, position, enc(Q), enc(Q*))] for the queries whose Q* the scorer can use."""
    pairs = []
    for index, query in enumerate(queries):
        result = perturb_seeded(query, kinds, before_slot, seed, fact.id, index)
        if result is None:
            continue
        star, kind, position = result
        try:
            pairs.append((query, star, kind, position, scorer.encode(query, fact.object),
                          scorer.encode(star, fact.object)))
        except SkipQuery:
            continue
    return pairs


def fact_measures(lm, scorer, pairs, sets: dict, kinds: list[str], positions: str,
                  answer: str | None = None) -> dict:
    """metric -> setting ("<values|weights>/<set>") -> value for one fact.

    Every (Prob, top-1) reading of Q and Q* goes through ``SuppressionScorer``: values
    interventions start at each set's lowest layer over the clean run (at the target), weight edits
    at their lowest layer over the clean run at every position; Acc on the right/wrong Q* subsets
    is read from the same rows (equal to the plain hooked forwards, tests/test_exact_cuts.py)."""
    cut_q = SuppressionScorer(scorer, lm.adapter, None, answer, positions, encoded=[p[4] for p in pairs])
    cut_s = SuppressionScorer(scorer, lm.adapter, None, answer, positions, encoded=[p[5] for p in pairs])
    (clean_q, _), = cut_q.per_query([[]])
    (_, clean_star_ok), = cut_s.per_query([[]])
    out = {m: {} for m in METRICS}
    right, wrong = clean_star_ok, ~clean_star_ok

    def read(cut, neurons, operation, kind):
        if not neurons:
            return cut.per_query([[]])[0]
        if kind == "values":
            return cut.per_query([neurons], 0.0 if operation == "suppress" else 2.0)[0]
        return cut.per_query_edited(lambda: intervention(lm.adapter, neurons, operation, kind, positions),
                                    min(int(l) for l, _ in neurons))

    if "values" in kinds:  # every set's values interventions in one batched forward per query and operation
        every = [sets[name] for name in SETS]
        cut_q.per_query(every, 0.0), cut_s.per_query(every, 0.0)
        if wrong.any():
            cut_s.per_query(every, 2.0)
    for kind in kinds:
        for name in SETS:
            neurons = sets[name]
            key = f"{kind}/{name}"
            p_q, _ = read(cut_q, neurons, "suppress", kind)
            p_s, ok_s = read(cut_s, neurons, "suppress", kind)
            with np.errstate(divide="ignore", invalid="ignore"):
                out["delta_prob"][key] = float(np.mean((p_q - p_s) / p_q))
                out["delta_prob_clean"][key] = float(np.mean((clean_q - p_s) / clean_q))
            out["delta_acc_suppress"][key] = float(np.mean(ok_s[right]) - 1.0) if right.any() else None
            if wrong.any():
                _, ok_e = read(cut_s, neurons, "enhance", kind)
                out["delta_acc_enhance"][key] = float(np.mean(ok_e[wrong]))
            else:
                out["delta_acc_enhance"][key] = None
    return out


@TASK_CLASSES.register("perturbation-robustness")
class PerturbationRobustnessTask(Task):
    def requirements(self):
        return dkn_fact_requirements(self.options)

    def prepare(self):
        self.kinds = interventions_of(self.options["intervention"])
        self.perturbation_kinds = kinds_of(self.options["kinds"])

    def run_fact(self, fact, index):
        if not hasattr(self, "kinds"):
            self.prepare()
        shared = FactDKNs(self.ctx, fact)
        scorer = self.ctx.scorer()
        pairs = perturbed_pairs(scorer, fact, shared.queries, self.perturbation_kinds,
                                bool(self.options["before_slot"]), self.ctx.seed)
        if not pairs:
            raise SkipFact("no_perturbable_query")
        adapter = self.ctx.lm.adapter
        rows = []
        for method in self.ctx.methods:
            dkn = shared.fit(method, self.options)
            d = dkn.neurons
            base = {"fact_id": fact.id, "relation": fact.relation, "method": method,
                    "localizer": self.options["localizer"], "n_kns": len(shared.kns),
                    "kns": neurons_json(shared.kns), "cardinality": len(dkn.bdcs),
                    "queries": [p[0] for p in pairs], "perturbed": [p[1] for p in pairs],
                    "perturbations": [p[2] for p in pairs], "positions": [p[3] for p in pairs]}
            if not d:
                rows.append({**base, "has_dkn": False})
                continue
            n_set, rnd = size_matched_sets(d, shared.kns, adapter.n_layers, adapter.n_neurons,
                                           random.Random(f"{self.ctx.seed}/{fact.id}/{method}/sets"))
            sets = {"empty": [], "D": d, "N": n_set, "Rnd": rnd}
            measures = fact_measures(self.ctx.lm, scorer, pairs, sets, self.kinds,
                                     self.options["positions"], fact.object)
            rows.append({**base, "has_dkn": True, "D": neurons_json(d), "N": neurons_json(n_set),
                         "Rnd": neurons_json(rnd), "set_size": len(d), **measures})
        return rows

    def is_outlier_fact(self, row) -> bool:
        values = [v for metric in ("delta_prob", "delta_prob_clean") for v in row[metric].values()]
        return is_outlier(values, float(self.options.get("outlier_limit", 9.0))) if values else False

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        kinds = interventions_of(self.options["intervention"])
        table, significance, bars = [], [], {}
        for method, all_mine in rows_by_method(rows, self.ctx.methods).items():
            with_dkn = [r for r in all_mine if r.get("has_dkn")]
            mine = [r for r in with_dkn if not self.is_outlier_fact(r)]
            summary.metrics.append(metric_record(method, "outliers_excluded", len(with_dkn) - len(mine),
                                                 len(with_dkn)))
            summary.metrics.append(metric_record(
                method, "dkn_rate", len(mine) / max(1, len(all_mine)), len(all_mine)))
            per_fact = summary.per_fact.setdefault(method, {})
            for kind in kinds:
                for name in SETS:
                    key = f"{kind}/{name}"
                    row = {"method": method, "intervention": kind, "set": LABELS[name]}
                    for metric in METRICS:
                        values = [r[metric][key] for r in mine
                                  if r[metric].get(key) is not None and np.isfinite(r[metric][key])]
                        per_fact[f"{metric}:{key}"] = values
                        mean = float(np.mean(values)) if values else None
                        ci = mean_ci(values) if len(values) >= 2 else None
                        row[metric] = mean
                        row[f"n_{metric}"] = len(values)
                        summary.metrics.append(metric_record(
                            method, metric, mean, len(values), group=key,
                            ci=(ci.low, ci.high) if ci else (None, None)))
                        if metric in ("delta_prob", "delta_acc_enhance", "delta_acc_suppress") and mean is not None:
                            bars.setdefault(f"{metric}\n{kind}", {})[LABELS[name]] = values  # mean ± CI
                    table.append(row)
                for metric, setting in (("delta_prob", "Suppressing"), ("delta_acc_enhance", "Enhancing"),
                                        ("delta_acc_suppress", "Suppressing (ΔAcc, App. I)")):
                    d_vals = per_fact[f"{metric}:{kind}/D"]
                    record = {"method": method, "setting": setting, "intervention": kind, "metric": metric}
                    for other in ("N", "Rnd"):
                        o_vals = per_fact[f"{metric}:{kind}/{other}"]
                        if len(d_vals) >= 2 and len(o_vals) >= 2:
                            comp = compare_groups(d_vals, o_vals, f"{method}:D", f"{method}:{other}",
                                                  f"{metric}:{kind}")
                            summary.comparisons.append(comp)
                            record.update({f"D vs {other} t": comp["t"], f"D vs {other} p": comp["p"],
                                           f"D vs {other} cohens_d": comp["cohens_d"]})
                        else:
                            record.update({f"D vs {other} t": None, f"D vs {other} p": None,
                                           f"D vs {other} cohens_d": None})
                    significance.append(record)
        summary.tables["robustness"] = table
        summary.tables["significance"] = significance
        if bars:
            summary.figures.append(grouped_bars(bars, output / "perturbation_robustness.png",
                                                "ΔProb / ΔAcc", "000 Fig. 6-7: D vs N vs Rnd vs ∅"))
        return summary
