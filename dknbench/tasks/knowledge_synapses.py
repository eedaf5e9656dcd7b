"""knowledge-synapses (003 §3.2, Eq. 4–6, Fig. 5–6): does attention select a query's KNs?

Attention is read and edited through ``interventions.attention`` (``attention_maps``: the eager
attention probabilities; ``scale_attention``: chosen columns rescaled inside a context, restored on
exit).

- Predominance P (Eq. 4): A_i = attention averaged over layers and heads; t_i = the token whose
  column has the largest total mass (choice: 003 writes argmax_r Σ_c, but softmax rows all sum to
  1, so the most *attended* token is argmax_c Σ_r); P = max_t share of queries with t_i = t.
- Knowledge synapses (Eq. 5–6): τ = α·(1/LH)Σ_{l,h}Σ_{r,c}A; S = {(c,l,h): Σ_r A_(l,h)^(r,c) > τ},
  α = 0.3 (003 A.1).
- Suppress (×0) / enhance (×2) the KS attention scores (choice: the KN factors, no renormalisation);
  S_ir = the KSs of an irrelevant fact's query (another relation), columns beyond the query length
  dropped. ΔValue = ±(mean KN activation_a − _b)/_b over q_i's KNs N_i at the target; ΔProb likewise.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ..interventions import attention_maps, record_activations, scale_attention, target_positions
from ..interventions.activations import run_until
from ..metrics import intended_change
from ..results.figures import grouped_bars
from .base import TASK_CLASSES, SkipFact, Summary, Task, metric_record
from .common import irrelevant_fact, methods_with_rows, usable_queries
from .query_common import fact_query_kns, split_by_type
from .requirements import encodable_queries

def knowledge_synapses(attn: torch.Tensor, alpha: float = 0.3) -> list[tuple[int, int, int]]:
    """Eq. 5–6: (column, layer, head) with column mass Σ_r A > α · mean over (l,h) of Σ_{r,c} A."""
    tau = alpha * float(attn.sum(dim=(2, 3)).mean())
    mass = attn.sum(dim=2)  # [L, H, C]
    layers, heads, cols = torch.nonzero(mass > tau, as_tuple=True)
    return sorted(zip(cols.tolist(), layers.tolist(), heads.tolist()))


def predominance(tokens_per_query: list[str]) -> float:
    """Eq. 4: the largest share of the fact's queries whose most attended token is the same."""
    if not tokens_per_query:
        return float("nan")
    return Counter(tokens_per_query).most_common(1)[0][1] / len(tokens_per_query)


def most_attended_token(lm, scorer, query: str, attn: torch.Tensor) -> str:
    ids = scorer.tokenizer(scorer.encode(query, "x").prompt)["input_ids"]
    column = int(attn.mean(dim=(0, 1)).sum(dim=0).argmax())
    return scorer.tokenizer.decode([ids[column]]).strip()


def kn_mean_activation(lm, scorer, query, answer, kns) -> float:
    enc = scorer.encode(query, answer)
    ids, mask, targets = scorer.collate([enc])
    layers = sorted({l for l, _ in kns})
    if not layers:
        return float("nan")  # the mean of no neuron
    with record_activations(lm.adapter, layers) as rec, target_positions(targets), torch.no_grad():
        run_until(lm.adapter, layers[-1], lambda: lm.model(input_ids=ids, attention_mask=mask))
    return float(np.mean([float(rec[l][0, i]) for l, i in kns]))


@TASK_CLASSES.register("knowledge-synapses")
class KnowledgeSynapsesTask(Task):
    def requirements(self):  # CS1/CS2 compare at least two queries
        return [encodable_queries(2)]

    def run_fact(self, fact, index):
        lm, scorer = self.ctx.lm, self.ctx.scorer()
        other = irrelevant_fact(self.ctx.facts, fact, self.ctx.seed, index)
        other_q = usable_queries(scorer, other, 1)[0] if other else []
        if not other_q:
            raise SkipFact("no_irrelevant_fact")
        alpha = self.options["alpha"]
        irrelevant = knowledge_synapses(attention_maps(lm, scorer, other_q[0]), alpha)
        rows = []
        for method in self.ctx.methods:
            located, cs1, cs2 = fact_query_kns(self.ctx, method, fact, self.options["max_queries"])
            tokens, effects = [], []
            for i, query in enumerate(located.queries):
                attn = attention_maps(lm, scorer, query)
                tokens.append(most_attended_token(lm, scorer, query, attn))
                kns = [tuple(n) for n in located.query_kns[i]]
                if not kns:
                    continue
                own = knowledge_synapses(attn, alpha)
                v_b = kn_mean_activation(lm, scorer, query, fact.object, kns)
                p_b = float(scorer.probs([query], [fact.object])[0])
                entry = {"n_kns": len(kns), "n_synapses": len(own), "n_irrelevant": len(irrelevant)}
                for name, syn in (("Self", own), ("Irrelevant", irrelevant)):
                    for op, factor in (("sup", 0.0), ("enh", 2.0)):
                        with scale_attention(lm.model, syn, factor):
                            v_a = kn_mean_activation(lm, scorer, query, fact.object, kns)
                            p_a = float(scorer.probs([query], [fact.object])[0])
                        kind = "suppress" if op == "sup" else "enhance"
                        entry[f"{name}_value_{op}"] = float(intended_change(v_b, v_a, kind))
                        entry[f"{name}_prob_{op}"] = float(intended_change(p_b, p_a, kind))
                effects.append(entry)
            rows.append({"fact_id": fact.id, "relation": fact.relation, "method": method, "cs1": cs1,
                         "cs2": cs2, "n_queries": len(located.queries), "top_tokens": tokens,
                         "predominance": predominance(tokens), "effects": effects,
                         "irrelevant_fact_id": other.id, "skipped_queries": dict(located.skipped)})
        return rows

    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        limit = self.options["outlier_limit"]
        table, bars = [], {}
        for method, mine in methods_with_rows(rows, self.ctx.methods).items():
            for kind, facts in split_by_type(mine, self.options)[1].items():
                pvals = [r["predominance"] for r in facts]
                summary.metrics.append(metric_record(method, "P", np.mean(pvals) if pvals else None, len(pvals), group=kind))
                for name in ("Self", "Irrelevant"):
                    row = {"method": method, "type": kind, "synapses": name}
                    for what in ("value", "prob"):
                        for op in ("enh", "sup"):
                            vals = [e[f"{name}_{what}_{op}"] for r in facts for e in r["effects"]]
                            vals = [v for v in vals if np.isfinite(v) and abs(v) <= limit]
                            mean = float(np.mean(vals)) if vals else None
                            row[f"Δ{what}_{op}"] = mean
                            summary.metrics.append(metric_record(method, f"d{what.capitalize()}_{op}", mean,
                                                                 len(vals), group=f"{kind}/{name}"))
                        both = [row[f"Δ{what}_enh"], row[f"Δ{what}_sup"]]
                        row[f"Δ{what}_avg"] = float(np.mean(both)) if None not in both else None
                        bars.setdefault(f"{kind}:{name}", {})[f"Δ{what} avg"] = row[f"Δ{what}_avg"] if row[f"Δ{what}_avg"] is not None else np.nan
                    row["P"] = float(np.mean(pvals)) if pvals else None
                    row["facts"] = len(facts)
                    table.append(row)
        summary.tables["knowledge_synapses"] = table
        if bars:
            summary.figures.append(grouped_bars(bars, output / "knowledge_synapses.png", "rate of change",
                                                "Knowledge synapses: Self vs Irrelevant (003 Fig. 6)"))
        return summary
