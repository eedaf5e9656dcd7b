"""The one fact-selection rule of ``--limit``/``--seed`` (a light module: the runner imports it
without pulling in ``datasets``)."""

from __future__ import annotations

import random


def select_facts(facts: list, limit: int | None, seed: int) -> list:
    """A seeded shuffle, then the first ``limit``: small runs still span relations.
    ``run --limit K --seed S`` and ``load_facts(..., limit=K, seed=S)`` both use it, so they pick
    the same facts in the same order."""
    order = list(range(len(facts)))
    random.Random(seed).shuffle(order)
    chosen = [facts[i] for i in order]
    return chosen[:limit] if limit else chosen
