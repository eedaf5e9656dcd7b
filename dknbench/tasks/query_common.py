"""Shared pieces of the query-localization tasks of 003 (kn-consistency, knowledge-editing,
query-kn-mapping, knowledge-synapses): per-query KN sets, CS1/CS2, K_I/K_II split, neighbour sets."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from ..localization import cas as _cas  # noqa: F401  (registers the `cas` localizer)
from ..localization.cas import cas_neurons
from ..metrics import consistency_scores
from ..stats import otsu_threshold
from .base import SkipFact
from .common import usable_queries

K_I, K_II = "K_I", "K_II"
SPLITS = ("static", "otsu")
OTSU_BINS = 256


def require_queries(ctx, fact, max_queries: int | None, min_queries: int = 2) -> None:
    """SkipFact unless at least ``min_queries`` queries encode: the localizers skip at least those,
    so a fact that fails here is dropped before any attribution or intervention is paid for."""
    if len(usable_queries(ctx.scorer(), fact, max_queries or None)[0]) < min_queries:
        raise SkipFact(f"fewer_than_{min_queries}_queries")


def fact_query_kns(ctx, method: str, fact, max_queries: int | None, min_queries: int = 2):
    """(FactKNs, CS1, CS2) for one fact and localizer; SkipFact when < ``min_queries`` usable."""
    require_queries(ctx, fact, max_queries, min_queries)
    located = ctx.locator(method).localize(fact, max_queries or None)
    if len(located.queries) < min_queries:
        raise SkipFact(f"fewer_than_{min_queries}_queries")
    cs1, cs2 = consistency_scores(located.query_kns)
    return located, cs1, cs2


def fact_cas_kns(ctx, method: str, fact, queries, options) -> list:
    """CAS neurons (003 Eq. 7) from the per-query scores of localizer ``method`` (cached)."""
    locator = ctx.locator(method)
    scores = [locator.query_scores(q, fact.object, fact.subject) for q in queries]
    return cas_neurons(scores, options.get("cas_beta1", 0.7), options.get("cas_beta2", 0.3),
                       options.get("cas_threshold", 0.3))


def knowledge_type(cs2: float, threshold: float) -> str | None:
    """K_I when CS2 > threshold, K_II otherwise (003 §2.1: "above ... K_I, below ... K_II");
    None when CS2 is undefined (the fact had no KN at all)."""
    if cs2 is None or (isinstance(cs2, float) and math.isnan(cs2)) or threshold is None \
            or (isinstance(threshold, float) and math.isnan(threshold)):
        return None
    return K_I if cs2 > threshold else K_II


def split_threshold(cs2_values, split: str, static: float) -> float:
    """The CS2 threshold: the static one, or Otsu's on the given CS2 values (per run and method)."""
    if split == "static":
        return float(static)
    if split == "otsu":
        values = [v for v in cs2_values if v is not None and v == v]
        centre = otsu_threshold(values, bins=OTSU_BINS)
        if centre != centre:
            return centre
        # otsu_threshold returns the centre of the last bin of the low class ("bins with centre
        # <= t"); the whole bin belongs to that class, so the value boundary is its upper edge.
        return float(centre + (max(values) - min(values)) / (2 * OTSU_BINS))
    raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


def split_by_type(rows: list[dict], options: dict) -> tuple[float, dict[str, list]]:
    """(threshold, {K_I: rows, K_II: rows}): one method's fact rows split by their CS2, with the
    threshold of options ``split`` / ``static_threshold`` (Otsu: per run and method)."""
    threshold = split_threshold([r["cs2"] for r in rows], options["split"], options["static_threshold"])
    return threshold, {kind: [r for r in rows if knowledge_type(r["cs2"], threshold) == kind] for kind in (K_I, K_II)}


def neighbour_sets(query_kns, i: int) -> dict[str, list]:
    """003 Eq. 3: the KN sets of the queries other than q_i, as Union / Intersection / Refine
    (Refine = neurons in more than one of the other sets)."""
    others = [set(map(tuple, s)) for j, s in enumerate(query_kns) if j != i]
    if not others:
        return {"Union": [], "Intersection": [], "Refine": []}
    counts: dict = {}
    for s in others:
        for n in s:
            counts[n] = counts.get(n, 0) + 1
    return {"Union": sorted(set().union(*others)),
            "Intersection": sorted(set.intersection(*others)),
            "Refine": sorted(n for n, c in counts.items() if c > 1)}


@torch.no_grad()
def top_token_ids(scorer, queries) -> list[int]:
    """The model's argmax next-token id at each query's target position."""
    encoded = [scorer.encode(q, "x") for q in queries]
    out: list[int] = []
    for start in range(0, len(encoded), scorer.batch_size):
        chunk = encoded[start: start + scorer.batch_size]
        ids, mask, targets = scorer.collate(chunk)
        logits = scorer.logits(ids, mask, targets)
        rows = torch.arange(len(chunk), device=logits.device)
        out.extend(logits[rows, targets].argmax(dim=-1).tolist())
    return out


def first_answer_id(scorer, query: str, answer: str) -> int:
    return int(scorer.encode(query, answer).answer_ids[0])


def mean_or_none(values):
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else None
