"""fact-checking (002 §3.4, Table 3): can a relation's DKNs tell true facts from wrong ones?

Design (relation-level work split across run_fact and summarize):

* Roles. ``prepare()`` splits each relation's facts, in run order, into a first part (share
  ``ratio``) and a second part (evaluation). The first part is split again: its first facts give
  DKNs ("dkn" role), its last ``holdout`` share is held out to tune thresholds ("tune" role).
  Relations with fewer than 3 facts cannot fill the three roles and are skipped.
* run_fact on a "dkn" fact: the fact's DKN (``--method``) over KNs of ``localizer``.
* run_fact on a "tune"/"eval" fact: the relation's DKN-neuron set S = neurons present in more than
  ``t`` % of the relation's "dkn" facts' DKNs (counted over the dkn facts that were not skipped;
  when no neuron passes, the most frequent neurons are used and the row says ``fallback``). S is
  computed lazily from the dkn facts' rows (memory, the harness's finished facts, or — when a dkn
  fact is not done yet, e.g. under another executor — recomputed), so the result does not depend on
  the processing order. Then, for the true object and the wrong object (the fact's
  ``wrong_object``, else a seeded other object of the same relation in the run; never the gold),
  the mean activation of S at the object's last token of "query filled with the object" (masked
  LMs: the mask position filled with the object's first token), averaged over the fact's queries;
  and Prob(object | query) (the model's own judgement).
* summarize, per relation: λ (with_DKN: "true" when mean activation > λ) and θ (wo_DKN: "true" when
  Prob(object | query) > θ) are each chosen to maximise F1 on the "tune" rows only — never on the
  evaluation rows; then P, R, F1 on the evaluation rows, per relation and pooled over relations
  (positive class = true fact). wo_DKN is scored on every tune/eval fact; with_DKN only on the
  relations whose DKN facts gave neurons (its n says how many). Each fact contributes one true and
  one wrong object, so predicting "true" everywhere gives R = 1 and P = 0.5: P ≥ 0.5 whenever R = 1.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, Skipped
from ..interventions import record_activations, target_positions
from ..interventions.activations import run_until
from ..metrics import precision_recall_f1
from ..results.figures import grouped_bars
from ..scoring import SkipQuery
from ..stats.intervals import CI_BOOTSTRAP, paired_bootstrap_cis
from .base import TASK_CLASSES, SkipFact, Summary, Task, metric_record
from .common import mean_prob, neurons_from_json, neurons_json, rows_by_method, usable_queries
from .dkn_common import FactDKNs
from .requirements import dkn_fact_requirements, facts_per_relation


def split_roles(facts, ratio: float, holdout: float) -> dict[int, str]:
    """index -> "dkn" | "tune" | "eval" (relations with < 3 facts get no role)."""
    if not 0 < ratio < 1:
        raise ConfigError(f"option ratio: expected a number in (0, 1), got {ratio}")
    if not 0 < holdout < 1:
        raise ConfigError(f"option holdout: expected a number in (0, 1), got {holdout}")
    by_relation: dict[str, list[int]] = {}
    for index, fact in enumerate(facts):
        by_relation.setdefault(fact.relation, []).append(index)
    roles = {}
    for indices in by_relation.values():
        n = len(indices)
        if n < 3:
            continue
        first = min(max(2, round(n * ratio)), n - 1)
        tune = min(max(1, round(first * holdout)), first - 1)
        for position, index in enumerate(indices):
            roles[index] = "dkn" if position < first - tune else ("tune" if position < first else "eval")
    return roles


def relation_neuron_set(dkns: list[list], t: float) -> tuple[list, bool]:
    """Neurons present in more than t % of ``dkns`` (fallback: the most frequent ones)."""
    counts: dict = {}
    for neurons in dkns:
        for n in set(map(tuple, neurons)):
            counts[n] = counts.get(n, 0) + 1
    if not counts:
        return [], False
    chosen = sorted(n for n, c in counts.items() if c > t / 100 * len(dkns))
    if chosen:
        return chosen, False
    top = max(counts.values())
    return sorted(n for n, c in counts.items() if c == top), True


def tune_threshold(scores, labels) -> float:
    """The threshold (score > threshold means "true") maximising F1 on (scores, labels)."""
    scores = np.asarray(scores, dtype=float)
    values = np.unique(scores)
    candidates = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values[:-1], values[1:])] + [values[-1]]
    best, best_f1 = candidates[0], -1.0
    for c in candidates:
        f1 = precision_recall_f1(list(labels), [bool(s > c) for s in scores]).f1
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(c), f1
    return best


def examples(rows, score: str):
    """(scores, labels) of the rows: each row holds a true and a wrong object."""
    scores, labels = [], []
    for r in rows:
        scores += [r[f"{score}_true"], r[f"{score}_wrong"]]
        labels += [True, False]
    return scores, labels


SETTINGS = (("with_DKN", "activation"), ("wo_DKN", "prob"))


def prf_from_counts(tp, fp, fn) -> np.ndarray:
    """(P, R, F1) from summed counts, 0 where a denominator is 0 (as precision_recall_f1)."""
    tp, fp, fn = float(np.sum(tp)), float(np.sum(fp)), float(np.sum(fn))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return np.array([p, r, f1])


def prf_intervals(counts, seed: int) -> list:
    """95 % intervals of the overall P, R and F1: a seeded percentile bootstrap that resamples the
    evaluated facts (each with its true and wrong object; the tuned thresholds stay fixed), all
    three from the same resamples. P/R/F1 are ratios of sums, so no t-interval applies."""
    return paired_bootstrap_cis(counts, prf_from_counts, n_resamples=2000, seed=seed)


def evaluate(rows: list[dict]) -> dict:
    """method -> {"thresholds": {relation: {with_DKN: λ, wo_DKN: θ}}, "relations": {relation:
    {setting: PRF}}, "overall": {setting: PRF}, "n_eval": {setting: {relation: n}},
    "counts": {setting: (tp, fp, fn) arrays, one entry per evaluated fact}}. Thresholds use "tune"
    rows only. Each setting is scored on every row that has its score: wo_DKN (the model's own
    judgement) on all facts, with_DKN only where the relation has DKN neurons. ``counts`` lets the
    overall P/R/F1 be resampled by fact (each fact holds its true and its wrong object)."""
    out = {}
    for method, mine in rows_by_method(rows, sorted({r["method"] for r in rows})).items():
        mine = [r for r in mine if r["role"] in ("tune", "eval")]
        result = {"thresholds": {}, "relations": {}, "overall": {}, "n_eval": {}, "counts": {}}
        for setting, score in SETTINGS:
            scored = [r for r in mine if r.get(f"{score}_true") is not None]
            labels_all, preds_all, counts, per_fact = [], [], {}, []
            for relation in sorted({r["relation"] for r in scored}):
                tune = [r for r in scored if r["relation"] == relation and r["role"] == "tune"]
                ev = [r for r in scored if r["relation"] == relation and r["role"] == "eval"]
                if not tune or not ev:
                    continue
                threshold = tune_threshold(*examples(tune, score))
                scores, labels = examples(ev, score)
                preds = [bool(s > threshold) for s in scores]
                result["thresholds"].setdefault(relation, {})[setting] = threshold
                result["relations"].setdefault(relation, {})[setting] = precision_recall_f1(labels, preds)
                labels_all += labels
                preds_all += preds
                counts[relation] = len(ev)
                for said_true, said_wrong in zip(preds[0::2], preds[1::2]):  # (true, wrong) per fact
                    per_fact.append((int(said_true), int(said_wrong), int(not said_true)))
            if counts:
                result["overall"][setting] = precision_recall_f1(labels_all, preds_all)
                result["n_eval"][setting] = counts
                result["counts"][setting] = tuple(np.array(c, dtype=float) for c in zip(*per_fact))
        out[method] = result
    return out


@torch.no_grad()
def object_activations(lm, scorer, queries, answer, neurons) -> float:
    """Mean activation of ``neurons`` at the object's (last) token of each filled query, averaged."""
    layers = sorted({l for l, _ in neurons})
    if not layers:
        return float("nan")  # the mean of no neuron
    values = []
    for query in queries:
        encoded = scorer.encode(query, answer)
        if lm.is_masked_lm:
            ids = list(encoded.input_ids)
            ids[encoded.target] = encoded.answer_ids[0]
            position = encoded.target
        else:
            ids = list(encoded.input_ids) + [encoded.answer_ids[-1]]
            position = len(ids) - 1
        tensor = torch.tensor([ids], device=lm.device)
        with target_positions(torch.tensor([position])), record_activations(lm.adapter, layers) as acts:
            run_until(lm.adapter, layers[-1],
                      lambda: lm.model(input_ids=tensor, attention_mask=torch.ones_like(tensor)))
        values.append(float(np.mean([acts[l][0, i].item() for l, i in neurons])))
    return float(np.mean(values))


@TASK_CLASSES.register("fact-checking")
class FactCheckingTask(Task):
    def requirements(self):  # the three roles need 3 facts of a relation in the run
        return dkn_fact_requirements(self.options) + [facts_per_relation(3)]

    def prepare(self):
        if getattr(self, "roles", None) is not None:
            return
        self.roles = split_roles(self.ctx.facts, float(self.options["ratio"]), float(self.options["holdout"]))
        self.index_of = {id(f): i for i, f in enumerate(self.ctx.facts)}
        self._dkn_rows: dict[int, list[dict]] = {}
        self._sets: dict = {}

    # --- the relation's DKN-neuron set ------------------------------------------------------------
    def dkn_rows(self, index: int) -> list[dict]:
        if index in self._dkn_rows:
            return self._dkn_rows[index]
        finished = self.ctx.finished_rows(index) if self.ctx.finished_rows else None
        if finished is not None:
            rows = finished
        else:
            try:
                rows = self.fit_dkns(self.ctx.facts[index])
            except Skipped:  # SkipFact or SkipQuery
                rows = []
        self._dkn_rows[index] = rows
        return rows

    def fit_dkns(self, fact) -> list[dict]:
        shared = FactDKNs(self.ctx, fact)
        rows = []
        for method in self.ctx.methods:
            dkn = shared.fit(method, self.options)
            rows.append({"fact_id": fact.id, "relation": fact.relation, "method": method, "role": "dkn",
                         "kns": neurons_json(shared.kns), "dkn": neurons_json(dkn.neurons),
                         "cardinality": len(dkn.bdcs)})
        return rows

    def neuron_set(self, relation: str, method: str):
        key = (relation, method)
        if key not in self._sets:
            dkns = []
            for index, role in sorted(self.roles.items()):
                if role == "dkn" and self.ctx.facts[index].relation == relation:
                    dkns += [r["dkn"] for r in self.dkn_rows(index) if r["method"] == method]
            neurons, fallback = relation_neuron_set(dkns, float(self.options["t"]))
            self._sets[key] = (neurons_from_json(neurons), fallback, len(dkns))
        return self._sets[key]

    def wrong_object(self, fact, index: int) -> str:
        if fact.wrong_object and fact.wrong_object != fact.object:
            return fact.wrong_object
        pool = sorted({f.object for f in self.ctx.facts if f.relation == fact.relation and f.object != fact.object
                       and not (f.subject == fact.subject)})
        if not pool:
            return ""
        return random.Random(f"{self.ctx.seed}/wrong/{fact.id}").choice(pool)

    # --- per fact ---------------------------------------------------------------------------------
    def run_fact(self, fact, index):
        self.prepare()
        role = self.roles.get(index)
        if role is None:
            raise SkipFact("relation_has_fewer_than_3_facts")
        if role == "dkn":
            rows = self.fit_dkns(fact)
            self._dkn_rows[index] = rows
            return rows
        wrong = self.wrong_object(fact, index)
        if not wrong:
            raise SkipFact("no_wrong_object")
        scorer = self.ctx.scorer()
        queries, _ = usable_queries(scorer, fact, self.options["max_queries"])
        try:
            queries = [q for q in queries if scorer.encode(q, wrong)]
        except SkipQuery as skip:
            raise SkipFact(f"wrong_object_{skip.reason}") from None
        if not queries:
            raise SkipFact("no_usable_query")
        act_scorer = scorer if self.ctx.lm.is_masked_lm else self.ctx.scorer("joint")
        prob_true, prob_wrong = mean_prob(scorer, queries, fact.object), mean_prob(scorer, queries, wrong)
        rows = []
        for method in self.ctx.methods:
            neurons, fallback, n_dkns = self.neuron_set(fact.relation, method)
            row = {"fact_id": fact.id, "relation": fact.relation, "method": method, "role": role,
                   "wrong_object": wrong, "n_queries": len(queries), "relation_neurons": neurons_json(neurons),
                   "fallback": fallback, "n_relation_dkns": n_dkns,
                   "prob_true": prob_true, "prob_wrong": prob_wrong,
                   "activation_true": None, "activation_wrong": None}
            if neurons:
                row["activation_true"] = object_activations(self.ctx.lm, act_scorer, queries, fact.object, neurons)
                row["activation_wrong"] = object_activations(self.ctx.lm, act_scorer, queries, wrong, neurons)
            rows.append(row)
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        results = evaluate(rows)
        eval_rows = {method: [r for r in mine if r["role"] == "eval"]
                     for method, mine in rows_by_method(rows, results).items()}
        table, per_relation, bars = [], [], {}
        for method, result in results.items():
            for setting in ("wo_DKN", "with_DKN"):
                prf = result["overall"].get(setting)
                if prf is None:
                    continue
                n = sum(result["n_eval"][setting].values()) * 2
                row = {"method": method, "setting": setting, "P": prf.precision, "R": prf.recall, "F1": prf.f1,
                       "relations": len(result["relations"]), "examples": n}
                table.append(row)
                bars.setdefault(setting, {})
                intervals = prf_intervals(result["counts"][setting], self.ctx.seed)
                for metric, interval in zip(("P", "R", "F1"), intervals):
                    summary.metrics.append(metric_record(f"{method}:{setting}", metric, row[metric], n,
                                                         ci=(interval.low, interval.high),
                                                         ci_method=CI_BOOTSTRAP))  # resampling evaluated facts
                    bars[setting][metric] = row[metric]
            base, ours = result["overall"].get("wo_DKN"), result["overall"].get("with_DKN")
            if base and ours and base.f1 > 0:
                summary.metrics.append(metric_record(method, "F1_improvement", (ours.f1 - base.f1) / base.f1,
                                                     sum(result["n_eval"]["with_DKN"].values()) * 2))
            for relation, settings in result["relations"].items():
                for setting, prf in settings.items():
                    per_relation.append({"method": method, "relation": relation, "setting": setting,
                                         "P": prf.precision, "R": prf.recall, "F1": prf.f1,
                                         "threshold": result["thresholds"][relation][setting],
                                         "eval_facts": result["n_eval"][setting][relation]})
                    summary.metrics.append(metric_record(f"{method}:{setting}", "F1", prf.f1,
                                                         result["n_eval"][setting][relation] * 2, group=relation))
            summary.per_fact[method] = {
                "activation_margin": [r["activation_true"] - r["activation_wrong"] for r in eval_rows[method]
                                      if r.get("activation_true") is not None],
                "prob_margin": [r["prob_true"] - r["prob_wrong"] for r in eval_rows[method] if "prob_true" in r]}
        summary.tables["fact_checking"] = table
        summary.tables["fact_checking_by_relation"] = per_relation
        summary.tables["roles"] = [{"role": role, "rows": len([r for r in rows if r.get("role") == role])}
                                   for role in ("dkn", "tune", "eval")]
        if bars:
            summary.figures.append(grouped_bars(bars, output / "fact_checking.png", "score",
                                                "002 Table 3: wo_DKN vs with_DKN"))
        return summary
