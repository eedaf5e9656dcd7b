"""KN consistency across a fact's queries (003 §2.1, Eq. 1): does every paraphrase of a fact
localise to the same neurons (K_I) or not (K_II)?"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

NAN = float("nan")


def _neuron_set(neurons: Iterable) -> set:
    """Accept neurons as tuples or as the ``[layer, index]`` lists that JSON/parquet give back."""
    return {tuple(n) if isinstance(n, (list, tuple)) else n for n in neurons}


def consistency_scores(neuron_sets) -> tuple[float, float]:
    """(CS1, CS2) of the KN sets N_1..N_k of one fact's k queries.

    CS1 = |∩ N_i| / |∪ N_i| (neurons shared by every query); CS2 = |{n ∈ ∪ N_i : n in more than one
    N_i}| / |∪ N_i|, the relaxation that tolerates a localiser missing a neuron for one query.
    An empty union (no query produced a KN, or no sets) -> (NaN, NaN): the fact has no KNs to be
    consistent about. With k = 1, CS1 = 1 and CS2 = 0 by the formulas.
    """
    sets = [_neuron_set(s) for s in neuron_sets]
    union = set().union(*sets) if sets else set()
    if not union:
        return NAN, NAN
    counts = Counter(n for s in sets for n in s)
    shared_by_all = set.intersection(*sets)
    return len(shared_by_all) / len(union), sum(1 for c in counts.values() if c > 1) / len(union)
