"""knowledge-editing (003 §2.2, §3.3, Tables 2–3): edit a fact through its KNs — does it generalise?

For a fact with k queries and a query q_i, three neuron sets: the local set N_i (q_i's KNs), the
global set N_g = ∪_j N_j, and the CAS set (003 Eq. 7 on the per-query scores). Two edits of the
neurons' *write vectors* (the down-projection column of each neuron, i.e. the MLP weight W_{l,p}
that adds the neuron's value to the residual stream; 003 Eq. 2):
  Erasure  W_{l,p} = 0
  Update   W_{l,p} = W_{l,p} − λ1·E(o) + λ2·E(o')   (λ1 = λ2 = 2, 003 A.1)
E(·) = the output (unembedding) row of the object's first token — the space the write vector adds
into (choice: 003 says "word embeddings"; for tied models this is the same matrix).
Scores (A.5, Eq. 23–25; exact match of the argmax next token with the answer's first token):
Rel on q_i, Gen on the fact's other queries (its neighbour queries), Loc = share of unrelated
facts' queries whose argmax is unchanged (unrelated facts drawn from the whole fact set, not only
the run's); erasure Rel/Gen are 1 − accuracy on o (003, unconditioned) and Rel_known/Gen_known the
same on the queries the model answered correctly before the edit; update Rel/Gen are accuracy on o'. ΔPPL = (PPL_a − PPL_b)/PPL_b on 5 seeded random WikiText-2 rows per fact.
Facts are K_I/K_II by CS2 (static 0.1 by default, as 003 §2.2) at summary time.
Every edit runs inside ``preserve_neuron_weights``, so the model is bit-identical afterwards.
"""

from __future__ import annotations

import math
import random
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..interventions import preserve_neuron_weights
from ..metrics import edit_scores, perplexity_delta
from ..paths import shared_data_dir
from ..results.figures import grouped_bars
from ..scoring import SkipQuery
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import methods_with_rows, neurons_json
from .query_common import (fact_cas_kns, fact_query_kns, first_answer_id, mean_or_none, require_queries,
                           split_by_type, top_token_ids)
from .requirements import encodable_queries

SETS = ("local", "global", "cas")
OPERATIONS = ("erasure", "update")


def output_embedding(lm, token_id: int) -> torch.Tensor:
    """E(token): the unembedding row of ``token_id`` ([d_model])."""
    head = lm.model.get_output_embeddings()
    weight = head.weight
    return weight.detach()[token_id].clone()


@contextmanager
def edit_write_vectors(adapter, neurons, operation: str, delta: torch.Tensor | None = None):
    """Erasure: zero the neurons' write vectors; update: add ``delta`` ([d_model]) to each write
    vector. The touched slices are restored exactly on exit (``preserve_neuron_weights``)."""
    if operation not in OPERATIONS:
        raise ConfigError(f"edit operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    if operation == "update" and delta is None:
        raise ValueError("an update needs the vector −λ1·E(o) + λ2·E(o')")
    with preserve_neuron_weights(adapter, neurons) as parts:
        with torch.no_grad():
            for part, idx, _ in parts:
                if part.role != "write":
                    continue
                data = part.param.data
                if operation == "erasure":
                    data.index_fill_(part.axis, idx, 0.0)
                else:
                    block = data.index_select(part.axis, idx)
                    d = delta.to(device=data.device, dtype=data.dtype)
                    block += d[None, :] if part.axis == 0 else d[:, None]
                    data.index_copy_(part.axis, idx, block)
        yield


def erasure_on_known(op: str, i: int, neighbours, before, after, old_ids) -> dict:
    """Erasure Rel/Gen on the queries the model answered correctly before the edit
    (``rel_known``, ``gen_known``; None where none was known, or for an update): a query the model
    never got right is not "erased" by staying wrong. ``rel``/``gen`` stay 003's unconditioned
    1 − accuracy."""
    if op != "erasure":
        return {"rel_known": None, "gen_known": None}
    rel = 1.0 - float(after[i] == old_ids[i]) if before[i] == old_ids[i] else None
    known = [j for j in neighbours if before[j] == old_ids[j]]
    gen = 1.0 - float(np.mean([after[j] == old_ids[j] for j in known])) if known else None
    return {"rel_known": rel, "gen_known": gen}


def update_delta(lm, old_id: int, new_id: int, lam1: float, lam2: float) -> torch.Tensor:
    return -lam1 * output_embedding(lm, old_id) + lam2 * output_embedding(lm, new_id)


def _text_ids(lm, text: str, max_tokens: int) -> torch.Tensor:
    ids = lm.tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)["input_ids"]
    return ids.to(lm.device)


@torch.no_grad()
def perplexity(lm, texts, max_tokens: int, clean: list | None = None, from_layer: int = 0) -> float:
    """exp(mean token NLL) pooled over ``texts`` (each truncated to ``max_tokens`` tokens).

    ``clean`` (``clean_states``) and ``from_layer`` > 0: the model is changed only from block
    ``from_layer`` up (a weight edit's lowest layer), so each text starts there from the clean run's
    hidden states instead of running the blocks below (equal up to float summation order)."""
    from ..localization.engine import staircase

    total, count = 0.0, 0
    head = lm.model.get_output_embeddings()
    for i, text in enumerate(texts):
        ids = _text_ids(lm, text, max_tokens)
        if ids.shape[1] < 2:
            continue
        n = ids.shape[1] - 1
        if clean is not None and from_layer > 0:
            hidden = staircase(lm, {from_layer - 1: clean[i][from_layer - 1][None]}, ids[0].tolist(),
                               0, ids.shape[1], None)
            logits = head(hidden)[0, :-1].float()
            loss = torch.nn.functional.cross_entropy(logits, ids[0, 1:])
        else:
            loss = lm.model(input_ids=ids, labels=ids).loss
        total += float(loss) * n
        count += n
    return math.exp(total / count) if count else float("nan")


def clean_states(lm, texts, max_tokens: int) -> list | None:
    """Per text, every block's output [tokens, d] on the unedited model: where an edit's
    perplexity starts (None where the staircase does not hold: masked LMs, a norm after the MLP)."""
    from ..localization.engine import clean_context
    from ..scoring import EncodedQuery

    if lm.is_masked_lm or not (lm.adapter.supports_kv_cache and lm.adapter.fast_path):
        return None
    layers = range(lm.adapter.n_layers)
    return [clean_context(lm, EncodedQuery(_text_ids(lm, t, max_tokens)[0].tolist(), 0, [], t), layers)[2]
            for t in texts]


def lowest_layer(neurons) -> int:
    return min(int(layer) for layer, _ in neurons)


def load_wikitext_rows(source: str, min_words: int) -> list[str] | None:
    """The WikiText-2 paragraphs via the ``wikitext`` builder, or None when the folder is absent."""
    path = Path(source) if source else shared_data_dir() / "wikitext2"
    if not path.exists():
        return None
    import data_builders

    data = data_builders.build("wikitext", str(path), seed=0, min_words=min_words)
    split = data["test"] if "test" in data else data[list(data)[0]]
    return list(split["text"])


@TASK_CLASSES.register("knowledge-editing")
class KnowledgeEditingTask(Task):
    def requirements(self):  # CS1/CS2 compare at least two queries
        return [encodable_queries(2)]

    _wikitext: list[str] | None = None
    _wikitext_loaded = False

    def prepare(self):
        for name in ("lambda1", "lambda2"):
            if not isinstance(self.options[name], (int, float)):
                raise ConfigError(f"{name} must be a number, got {self.options[name]!r}")
        if not self._wikitext_loaded:
            self._wikitext = load_wikitext_rows(self.options["wikitext_source"], self.options["wikitext_min_words"])
            self._wikitext_loaded = True
            if self._wikitext is None:
                warnings.warn("knowledge-editing: WikiText-2 not found; ΔPPL is skipped")

    def locality_pool(self) -> list:
        """Loc draws its unrelated facts from the whole fact set, not only the run's (--limit)
        facts, so small runs do not measure Loc on one or two queries."""
        if getattr(self, "_pool", None) is None:
            from ..data import load_facts

            self._pool = list(load_facts(self.ctx.dataset)) if self.ctx.dataset else list(self.ctx.facts)
        return self._pool

    def locality_queries(self, fact, index):
        scorer = self.ctx.scorer()
        if fact.locality_queries:
            return list(fact.locality_queries)
        rng = random.Random(self.ctx.seed * 7919 + index)
        others = [f for f in self.locality_pool() if f.relation != fact.relation and f.id != fact.id]
        rng.shuffle(others)
        picked = []
        for other in others:
            for q in other.queries:
                try:
                    scorer.encode(q, other.object)
                except SkipQuery:
                    continue
                picked.append(q)
                break
            if len(picked) >= self.options["n_locality"]:
                break
        return picked

    def run_fact(self, fact, index):
        if not self._wikitext_loaded:
            self.prepare()
        lm, scorer, adapter = self.ctx.lm, self.ctx.scorer(), self.ctx.lm.adapter
        require_queries(self.ctx, fact, self.options["max_queries"])  # before the perplexities
        new_object = fact.target_object or fact.wrong_object
        loc_queries = self.locality_queries(fact, index)
        loc_before = top_token_ids(scorer, loc_queries) if loc_queries else []
        texts, ppl_before, clean, warn = None, None, None, []
        if self._wikitext:
            rng = random.Random(self.ctx.seed * 1009 + index)
            texts = rng.sample(self._wikitext, min(self.options["ppl_rows"], len(self._wikitext)))
            clean = clean_states(lm, texts, self.options["ppl_max_tokens"])  # edits start at their lowest layer
            # from the clean run's last block: no block runs again (plain forwards where clean is None)
            ppl_before = perplexity(lm, texts, self.options["ppl_max_tokens"], clean, adapter.n_layers)
        else:
            warn.append("wikitext_missing")
        lam1, lam2 = float(self.options["lambda1"]), float(self.options["lambda2"])
        rows = []
        for method in self.ctx.methods:
            located, cs1, cs2 = fact_query_kns(self.ctx, method, fact, self.options["max_queries"])
            queries = located.queries
            old_ids = [first_answer_id(scorer, q, fact.object) for q in queries]
            new_ids = [first_answer_id(scorer, q, new_object) for q in queries] if new_object else None
            operations = list(OPERATIONS)
            if not new_ids or new_ids[0] == old_ids[0]:
                operations = ["erasure"]
                warn.append("no_distinct_new_object")
            before = top_token_ids(scorer, queries)
            union = sorted({tuple(n) for k in located.query_kns for n in k})
            cas = fact_cas_kns(self.ctx, method, fact, queries, self.options)
            edits = []
            n_edit = self.options["edit_queries"] or len(queries)
            for i in range(min(n_edit, len(queries))):
                neighbours = [j for j in range(len(queries)) if j != i]
                sets = {"local": located.query_kns[i], "global": union, "cas": cas}
                for set_name in SETS:
                    neurons = [tuple(n) for n in sets[set_name]]
                    for op in operations:
                        if not neurons:
                            edits.append({"query_index": i, "set": set_name, "op": op, "n_neurons": 0,
                                          "empty": True})
                            continue
                        delta = update_delta(lm, old_ids[i], new_ids[i], lam1, lam2) if op == "update" else None
                        with edit_write_vectors(adapter, neurons, op, delta):
                            # the top-1 reads stay one batched full forward: starting each query at the
                            # edit's lowest layer measured no gain (benchmarks/README.md, cut 3)
                            after = top_token_ids(scorer, queries + loc_queries)
                            ppl_after = (perplexity(lm, texts, self.options["ppl_max_tokens"], clean,
                                                    lowest_layer(neurons)) if texts else None)
                        targets = old_ids if op == "erasure" else new_ids
                        s = edit_scores([after[i]], [targets[i]], [after[j] for j in neighbours],
                                        [targets[j] for j in neighbours], after[len(queries):], loc_before,
                                        operation=op)
                        known = erasure_on_known(op, i, neighbours, before, after, old_ids)
                        edits.append({"query_index": i, "set": set_name, "op": op, "n_neurons": len(neurons),
                                      "empty": False, "rel": s.reliability, "gen": s.generalization, **known,
                                      "loc": s.locality if loc_queries else None,
                                      "avg": s.average if loc_queries else float(np.mean([s.reliability, s.generalization])),
                                      "dppl": perplexity_delta(ppl_before, ppl_after) if texts else None})
            rows.append({"fact_id": fact.id, "relation": fact.relation, "method": method,
                         "n_queries": len(queries), "cs1": cs1, "cs2": cs2, "new_object": new_object,
                         "acc_before": float(np.mean([b == o for b, o in zip(before, old_ids)])),
                         "local_sizes": [len(k) for k in located.query_kns], "global_size": len(union),
                         "cas_kns": neurons_json(cas), "n_locality": len(loc_queries),
                         "ppl_before": ppl_before, "edits": edits, "warnings": sorted(set(warn)),
                         "skipped_queries": dict(located.skipped)})
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        table, bars, warn_counts = [], {}, {}
        for r in rows:
            for w in r.get("warnings") or []:
                warn_counts[w] = warn_counts.get(w, 0) + 1
        for method, mine in methods_with_rows(rows, self.ctx.methods).items():
            thr, by_type = split_by_type(mine, self.options)
            per_fact: dict[str, list] = {}
            for op in OPERATIONS:
                for set_name in SETS:
                    for kind, facts in by_type.items():
                        edits = [e for r in facts for e in r["edits"]
                                 if e["op"] == op and e["set"] == set_name and not e["empty"]]
                        empty = sum(1 for r in facts for e in r["edits"]
                                    if e["op"] == op and e["set"] == set_name and e["empty"])
                        vals = {k: mean_or_none([e[k] for e in edits]) for k in ("rel", "gen", "loc", "avg", "dppl")}
                        group = f"{kind}/{set_name}/{op}"
                        for k, name in (("rel", "Rel"), ("gen", "Gen"), ("loc", "Loc"), ("avg", "Avg"),
                                        ("dppl", "dPPL")):
                            summary.metrics.append(metric_record(method, name, vals[k], len(edits), group=group))
                        if op == "erasure":  # conditioned on what the model knew before (n = those edits)
                            for k, name in (("rel_known", "Rel_known"), ("gen_known", "Gen_known")):
                                known = [e[k] for e in edits if e.get(k) is not None]
                                vals[k] = mean_or_none(known)
                                summary.metrics.append(metric_record(method, name, vals[k], len(known), group=group))
                        per_fact[f"Avg {group}"] = [e["avg"] for e in edits]
                        table.append({"method": method, "op": op, "set": set_name, "type": kind,
                                      "Rel": vals["rel"], "Gen": vals["gen"], "Loc": vals["loc"],
                                      "Avg": vals["avg"], "ΔPPL": vals["dppl"], "edits": len(edits),
                                      "Rel_known": vals.get("rel_known"), "Gen_known": vals.get("gen_known"),
                                      "empty sets": empty, "facts": len(facts),
                                      "mean #neurons": mean_or_none([e["n_neurons"] for e in edits])})
                        bars.setdefault(f"{op}:{set_name}", {})[f"{method}:{kind}"] = per_fact[f"Avg {group}"]  # mean ± CI
            summary.per_fact[method] = per_fact
            summary.metrics.append(metric_record(method, "threshold", thr, len(mine), group=self.options["split"]))
            for op in OPERATIONS:
                for set_name in SETS:
                    a, b = per_fact.get(f"Avg K_I/{set_name}/{op}", []), per_fact.get(f"Avg K_II/{set_name}/{op}", [])
                    if len(a) >= 2 and len(b) >= 2:
                        from ..stats import compare_groups

                        summary.comparisons.append(compare_groups(a, b, f"{method}:K_I", f"{method}:K_II",
                                                                  f"Avg {set_name}/{op}"))
        summary.tables["editing"] = table
        summary.tables["warnings"] = [{"warning": k, "facts": v} for k, v in sorted(warn_counts.items())]
        if bars:
            summary.figures.append(grouped_bars(bars, output / "editing_avg.png", "Avg (Rel, Gen, Loc)",
                                                "Knowledge editing by KN set (003 Tables 2-3)"))
        return summary
