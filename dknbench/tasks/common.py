"""Pieces several task classes share: irrelevant-fact pairing, prompt probabilities, KN rows."""

from __future__ import annotations

import random

import numpy as np

from ..scoring import SkipQuery


def neurons_json(neurons) -> list[list[int]]:
    return [[int(l), int(i)] for l, i in neurons]


def neurons_from_json(rows) -> list[tuple[int, int]]:
    return [(int(l), int(i)) for l, i in rows]


def rows_by_method(rows: list[dict], methods) -> dict[str, list[dict]]:
    """Each method's rows, in the order of ``rows`` (fact order), keyed in the order of ``methods``;
    a method without rows gets ``[]`` and rows of a method not listed are left out."""
    grouped: dict[str, list[dict]] = {method: [] for method in methods}
    for row in rows:
        if row["method"] in grouped:
            grouped[row["method"]].append(row)
    return grouped


def methods_with_rows(rows: list[dict], methods) -> dict[str, list[dict]]:
    """:func:`rows_by_method` without the methods that have no rows (nothing to summarize)."""
    return {method: mine for method, mine in rows_by_method(rows, methods).items() if mine}


def irrelevant_fact(facts, fact, seed: int, index: int, usable=None):
    """A fact of another relation, drawn with a per-fact seed (002 §3.2's irrelevant fact).

    ``usable(fact) -> bool`` skips candidates that cannot be scored (the next draw is taken)."""
    others = [f for f in facts if f.relation != fact.relation and f.id != fact.id]
    random.Random(seed * 7919 + index).shuffle(others)
    return next((f for f in others if usable is None or usable(f)), None)


def usable_queries(scorer, fact, max_queries: int | None = None) -> tuple[list[str], dict]:
    """The fact's queries the scorer can use, and the skip counts by reason."""
    usable, skipped = [], {}
    for query in fact.queries:
        try:
            scorer.encode(query, fact.object)
        except SkipQuery as skip:
            skipped[skip.reason] = skipped.get(skip.reason, 0) + 1
            continue
        usable.append(query)
        if max_queries and len(usable) >= max_queries:
            break
    return usable, skipped


def mean_prob(scorer, queries, answer) -> float:
    return float(np.mean(scorer.probs(queries, [answer] * len(queries)))) if queries else float("nan")
