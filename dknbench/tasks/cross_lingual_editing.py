"""cross-lingual-editing (002 §2.2, §3.3, Table 2, Fig. 3): language-independent knowledge neurons.

For one fact in K languages (mParaRel, aligned by fact id):

- per language k, attribution scores of each query q^k; KNs of the query are the neurons with
  score > T_k = τ_k · max score (002 Eq. 6–7, ``language_taus``); a language's KN set N_k is the
  cross-query refinement of its queries' sets (Dai et al.; ``refine_p``) **(choice: 002 does not
  say how several queries of one language are merged)**;
- LIKN L = ∩_k N_k (Eq. 8).

Editing (suppress x0 and enhance x2 at the target position, as kn-localization) and its effect on
Prob of the fact in each evaluation language k:

- ``LIKN``: edit L;
- ``Mono-KN``: edit N_j of another language j ≠ k (every j, pooled) — 002's "editing knowledge
  neurons in one language's dataset corresponding to another";
- ``Seq-KN``: edit N_1, then N_2, ... (all languages, applied in turn: a neuron in two sets is
  enhanced twice, x4) — 002's "sequentially editing knowledge neurons in two languages".

SR = SR_enh + SR_sup per (language, variant), with an irrelevant fact of another relation in the
same language (002 §3.2), with its bootstrap CI; undefined when its denominator's CI contains 0, as in
kn-localization, beside the companion rel_minus_irr (mean paired ΔProb_rel − ΔProb_irr). Facts with an empty LIKN are counted (``likn_empty_rate``) and left out
of all three variants **(choice)** so the variants are compared on the same facts.

Data: the runner's facts are *pivot* facts. Each is mapped to its mParaRel counterparts by id
(facts built by the ``multilingual`` builder) or else by its (subject, object) labels in the pivot
language's split (e.g. the builtin ``capital_of:france`` -> ``P36_Q142_Q90``); facts with no
counterpart are skipped (``no_mpararel_counterpart``). The multilingual set is built once in
``prepare()`` from ``mpararel`` (option; empty -> $DKNBENCH_SHARED_DATA/mpararel, else the
checkout's ``../shared/data/mpararel``).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..interventions import enhance_activations, suppress_activations
from ..localization.base import refine_across_queries, select_above
from ..metrics import success_rate_report
from ..paths import shared_data_dir, slug
from ..scoring import SkipQuery
from .base import TASK_CLASSES, SkipFact, Summary, Task, estimate_record, metric_record
from .common import (irrelevant_fact, mean_prob, methods_with_rows, neurons_from_json, neurons_json,
                     usable_queries)
from .requirements import Requirement

VARIANTS = ("LIKN", "Mono-KN", "Seq-KN")


def parse_languages(text: str) -> list[str]:
    langs = [t.strip() for t in str(text).split(",") if t.strip()]
    if len(langs) < 2 or len(set(langs)) != len(langs):
        raise ConfigError(f"option languages: give at least two distinct language codes, got {text!r}")
    return langs


def parse_taus(text: str, languages: list[str], default: float) -> dict[str, float]:
    """``"en:0.2,zh:0.1"`` -> per-language τ_k; languages not named get ``default``."""
    taus = {lang: float(default) for lang in languages}
    for item in [t.strip() for t in str(text or "").split(",") if t.strip()]:
        lang, sep, value = item.partition(":")
        try:
            tau = float(value)
        except ValueError:
            tau = float("nan")
        if not sep or lang.strip() not in taus or not 0 < tau <= 1:
            raise ConfigError(f"option language_taus: {item!r} must be <language>:<tau in (0, 1]> "
                              f"for one of {', '.join(languages)}")
        taus[lang.strip()] = tau
    return taus


def language_kns(query_scores: list[np.ndarray], tau: float, refine_p: float) -> list[tuple[int, int]]:
    """N_k: per query the neurons above T_k = τ_k·max (Eq. 6–7), refined across the queries."""
    per_query = [select_above(np.asarray(s), tau) for s in query_scores]
    return refine_across_queries(per_query, refine_p if len(per_query) > 1 else 0.0)


def language_independent_kns(scores: dict[str, list[np.ndarray]], taus: dict[str, float],
                             refine_p: float = 0.5) -> tuple[dict[str, list], list]:
    """(N_k per language, L = ∩_k N_k) from per-language lists of query score arrays (002 Eq. 6–8)."""
    if not scores:
        raise ValueError("need attribution scores for at least one language")
    per_language = {lang: language_kns(s, taus[lang], refine_p) for lang, s in scores.items()}
    common = set.intersection(*(set(kns) for kns in per_language.values()))
    return per_language, sorted(common)


@TASK_CLASSES.register("cross-lingual-editing")
class CrossLingualEditingTask(Task):
    def requirements(self):
        return [Requirement("no_mpararel_counterpart", lambda task, fact: task.counterpart_id(fact) is not None),
                Requirement("no_usable_query_in_a_language",
                            lambda task, fact: task.usable_in_every_language(fact))]

    def usable_in_every_language(self, fact) -> bool:
        """Each language's counterpart (the pivot's included) has a query the scorer encodes."""
        key = self.counterpart_id(fact)
        scorer = self.ctx.scorer()
        return all(usable_queries(scorer, self.by_id[lang][key], 1)[0] for lang in self.languages)

    def prepare(self) -> None:
        import data_builders
        from ..data.schema import fact_from_row

        if getattr(self, "by_id", None) is not None:  # the requirements loaded it already
            return
        self.languages = parse_languages(self.options["languages"])
        self.taus = parse_taus(self.options["language_taus"], self.languages, self.options["tau"])
        source = Path(self.options["mpararel"]) if self.options["mpararel"] else shared_data_dir() / "mpararel"
        built = data_builders.build("multilingual", source, seed=self.ctx.seed,
                                    languages=",".join(self.languages),
                                    causal=not self.ctx.lm.is_masked_lm,
                                    min_queries=1)
        self.by_lang = {lang: [fact_from_row(r) for r in built[lang.replace("-", "_")]]
                        for lang in self.languages}
        self.by_id = {lang: {f.id: f for f in facts} for lang, facts in self.by_lang.items()}
        self.by_label = {}
        for lang, facts in self.by_lang.items():
            table = {}
            for f in facts:
                table.setdefault((f.subject.casefold(), f.object.casefold()), f.id)
            self.by_label[lang] = table

    def counterpart_id(self, fact) -> str | None:
        self.prepare()
        if fact.id in self.by_id[self.languages[0]]:
            return fact.id
        lang = fact.language or "en"
        if lang in self.by_label:
            return self.by_label[lang].get((fact.subject.casefold(), fact.object.casefold()))
        return None

    def _scores(self, locator, fact) -> tuple[list[str], list[np.ndarray]]:
        queries, scores = [], []
        for query in fact.queries:
            if self.options["max_queries"] and len(queries) >= self.options["max_queries"]:  # 0: all
                break
            try:
                scores.append(locator.query_scores(query, fact.object, fact.subject))
            except SkipQuery:
                continue
            queries.append(query)
        return queries, scores

    def run_fact(self, fact, index):
        key = self.counterpart_id(fact)
        if key is None:
            raise SkipFact("no_mpararel_counterpart")
        facts = {lang: self.by_id[lang][key] for lang in self.languages}
        scorer = self.ctx.scorer()
        adapter = self.ctx.lm.adapter
        positions = self.options["positions"]
        rows = []
        for method in self.ctx.methods:
            locator = self.ctx.locator(method)
            queries, scores = {}, {}
            for lang, f in facts.items():
                queries[lang], scores[lang] = self._scores(locator, f)
            missing = [lang for lang in self.languages if not queries[lang]]
            if missing:
                raise SkipFact("no_usable_query_in_" + "_".join(missing))
            if method == "random":  # the random floor: match each language's count of the reference
                reference = self.ctx.locator(self.options["random_match"])
                per_lang = {}
                for lang in self.languages:
                    ref_kns = language_independent_kns(
                        {lang: [reference.query_scores(q, facts[lang].object, facts[lang].subject) for q in queries[lang]]},
                        self.taus, self.options["refine_p"])[0][lang]
                    per_lang[lang] = refine_across_queries(
                        [locator.localizer.select(s, count=len(ref_kns)) for s in scores[lang]], 0.0)
                likn = sorted(set.intersection(*(set(v) for v in per_lang.values())))
            else:
                per_lang, likn = language_independent_kns(scores, self.taus, self.options["refine_p"])
            # the irrelevant fact (another relation) for each evaluation language, same draw in all
            other = irrelevant_fact(self.by_lang[self.languages[0]], facts[self.languages[0]],
                                    self.ctx.seed, index)
            if other is None:
                raise SkipFact("no_irrelevant_fact")
            row = {"fact_id": fact.id, "mpararel_id": key, "relation": facts[self.languages[0]].relation,
                   "method": method, "irrelevant_fact_id": other.id,
                   "kns": {lang: neurons_json(v) for lang, v in per_lang.items()},
                   "likn": neurons_json(likn), "n_likn": len(likn),
                   "n_kns": {lang: len(v) for lang, v in per_lang.items()},
                   "n_queries": {lang: len(q) for lang, q in queries.items()}, "edits": []}
            for lang in self.languages:
                rel_q = queries[lang]
                irr_q = [q for q in self.by_id[lang][other.id].queries][: self.options["max_queries"] or None]
                irr_obj = self.by_id[lang][other.id].object
                irr_q = [q for q in irr_q if _usable(scorer, q, irr_obj)]
                if not irr_q:
                    continue

                def probs():
                    return mean_prob(scorer, rel_q, facts[lang].object), mean_prob(scorer, irr_q, irr_obj)

                rel_b, irr_b = probs()
                sets = {"LIKN": [("", likn)],
                        "Mono-KN": [(j, per_lang[j]) for j in self.languages if j != lang],
                        "Seq-KN": [("+".join(self.languages), None)]}
                for variant, sources in sets.items():
                    for source, neurons in sources:
                        edits = [per_lang[j] for j in self.languages] if neurons is None else [neurons]
                        after = {}
                        for op in ("enhance", "suppress"):
                            with _nested(adapter, edits, op, positions):
                                after[op] = probs()
                        row["edits"].append({
                            "language": lang, "variant": variant, "source": source,
                            "n_neurons": len(set().union(*map(set, edits))) if edits else 0,
                            "rel_before": rel_b, "rel_enhanced": after["enhance"][0],
                            "rel_suppressed": after["suppress"][0], "irr_before": irr_b,
                            "irr_enhanced": after["enhance"][1], "irr_suppressed": after["suppress"][1]})
            rows.append(row)
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        from ..results.figures import layer_distribution

        summary = Summary()
        limit = self.options["outlier_limit"]
        keys = ("rel_before", "rel_enhanced", "rel_suppressed", "irr_before", "irr_enhanced", "irr_suppressed")
        languages = parse_languages(self.options["languages"])
        table, kn_table = [], []
        n_layers = int(self.ctx.run_info.get("n_layers") or 0)
        for method, mine in methods_with_rows(rows, self.ctx.methods).items():
            usable = [r for r in mine if r["n_likn"] > 0]
            empty_rate = 1 - len(usable) / len(mine)
            summary.metrics.append(metric_record(method, "likn_empty_rate", empty_rate, len(mine)))
            summary.metrics.append(metric_record(method, "mean_likn", float(np.mean([r["n_likn"] for r in mine])),
                                                 len(mine)))
            kn_row = {"method": method, "facts": len(mine), "LIKN empty": empty_rate,
                      "mean #LIKN": float(np.mean([r["n_likn"] for r in mine]))}
            for lang in languages:
                counts = [r["n_kns"].get(lang, 0) for r in mine]
                kn_row[f"mean #KN {lang}"] = float(np.mean(counts))
                summary.metrics.append(metric_record(method, "mean_kns", float(np.mean(counts)), len(mine),
                                                     group=lang))
            kn_table.append(kn_row)
            by_variant = {}
            for lang in languages:
                for variant in VARIANTS:
                    edits = [e for r in usable for e in r["edits"] if e["language"] == lang and e["variant"] == variant]
                    if not edits:  # a record that says why, so a claim on it reads the reason
                        why = (f"no {lang} edit of {variant}: {len(usable)} of {len(mine)} facts have a non-empty "
                               "LIKN, and only those are edited")
                        summary.metrics += [metric_record(method, name, None, 0, group=f"{lang}/{variant}", undefined=why)
                                            for name in ("SR", "SR_enh", "SR_sup", "rel_minus_irr")]
                        continue
                    # SR undefined when its denominator's CI contains 0 (metrics.success_rate_report)
                    report = success_rate_report(*[np.array([e[k] for e in edits]) for k in keys],
                                                 outlier_limit=limit, n_resamples=1000, seed=self.ctx.seed)
                    group = f"{lang}/{variant}"
                    by_variant[(lang, variant)] = report["SR"].value
                    summary.metrics += [estimate_record(method, name, report[name], group=group)
                                        for name in ("SR", "SR_enh", "SR_sup", "rel_minus_irr")]
                    summary.per_fact.setdefault(method, {})[f"rel_sup_drop/{group}"] = [
                        (e["rel_before"] - e["rel_suppressed"]) / e["rel_before"] if e["rel_before"] > 0 else float("nan")
                        for e in edits]
                    table.append({"method": method, "language": lang, "variant": variant,
                                  **{name: _shown(report[name]) for name in ("SR", "SR_enh", "SR_sup", "rel_minus_irr")},
                                  "pairs": len(edits),
                                  "mean #neurons": float(np.mean([e["n_neurons"] for e in edits]))})
                likn, mono, seq = (by_variant.get((lang, v)) for v in VARIANTS)
                for row in table:
                    if row["method"] == method and row["language"] == lang and row["variant"] == "LIKN":
                        row["vs Mono-KN"] = _rel(likn, mono, mono)  # 002 Table 2: (LIKN - Mono)/Mono
                        row["vs Seq-KN"] = _rel(likn, seq, likn)  # 002 Table 2: (LIKN - Seq)/LIKN
            if n_layers:
                neurons = {f"{lang}-KN": [n for r in mine for n in neurons_from_json(r["kns"].get(lang, []))]
                           for lang in languages}
                neurons["LIKN"] = [n for r in mine for n in neurons_from_json(r["likn"])]
                name = layer_distribution(neurons, n_layers, output / f"kn_layers_{slug(method)}.png",
                                          title=f"KNs per language and LIKN over layers ({method})")
                if name:  # None: no neuron to show, no file
                    summary.figures.append(name)
        summary.tables["cross_lingual_editing"] = table
        summary.tables["kn_counts"] = kn_table
        return summary


def _shown(estimate):
    """A table cell: the value, or "undefined" (the metric record carries the reason)."""
    return "undefined" if estimate.undefined else estimate.value


def _rel(a, b, base):
    if a is None or b is None or base is None or not np.isfinite([a, b, base]).all() or base == 0:
        return None
    return float((a - b) / base)


def _usable(scorer, query, answer) -> bool:
    try:
        scorer.encode(query, answer)
    except SkipQuery:
        return False
    return True


@contextmanager
def _nested(adapter, sets, op, positions):
    """Apply one edit per neuron set in turn (nested hooks: Seq-KN's sequential editing)."""
    edit = enhance_activations if op == "enhance" else suppress_activations
    with ExitStack() as stack:
        for neurons in sets:
            stack.enter_context(edit(adapter, neurons, positions=positions))
        yield
