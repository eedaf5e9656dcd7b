"""Pairwise degenerate knowledge neurons, 002 Algorithm 1 (SPEC §3 ``amig-pairs``).

Suppress each of the top-k KNs alone; those whose suppression barely matters (drop <= T_low) are
potential DKNs P_d; a pair of P_d whose joint suppression matters (drop > T_high) stores the fact
twice: one pair {a, b} gives D = {{a}, {b}} in 000's notation.
"""

from __future__ import annotations

import math
from itertools import combinations

from ..errors import DKNBenchError
from ..hyperparams import Param, store_params
from .base import DEFAULT_FILTER_SCOPE, DKN_METHODS, DKNMethod, suppressing_many

DROP_MODES = ("relative", "absolute")


@DKN_METHODS.register("amig-pairs", description="pairwise DKNs by single/pair suppression (002 Algorithm 1)")
class AMIGPairs(DKNMethod):
    """002 Algorithm 1 on the top-k KNs; the distance matrix is not used (may be None).

    Parameters (defaults from the authors' code, SPEC §3): ``top_k`` = 20, ``t_low`` = 0.2,
    ``t_high`` = 0.25; ``drop_mode``; ``tau2`` / ``filter_mode`` / ``filter_scope`` of the shared
    functional filter, off by default (``tau2=None``): 002 Algorithm 1 has no functional filter.

    Choices where the paper is vague:

    - Drops are relative by default, (Prob(N) - Prob(N without S)) / Prob(N) ("0.2 of Prob",
      SPEC); ``drop_mode="absolute"`` uses 002 Eq. 9-10 literally (a difference of
      probabilities). Prob(N) is ``scorer.base_prob`` (all KNs active = no intervention).
    - Top-k by attribution score: ``fit(..., attribution={neuron: score})`` or a ``scorer.
      attribution`` dict; every KN must then have a score. Ties and the no-attribution case keep
      the KN order given.
    - Algorithm 1 returns every qualifying pair (``all_pairs_``). Pairs are ranked by their joint
      drop (largest first; ties by attribution rank) and chosen greedily to be disjoint
      (``pairs_``). ``bdcs_`` is one DKN, D = {{a}, {b}}: the best pair in ``pairs_``; with the
      filter on (``tau2`` a number, an option beyond Algorithm 1), the best pair whose two
      singletons both pass it (a pair with one member dropped would be no degeneracy). ``candidates_`` are the singletons of all
      of ``pairs_``, in order. ``persistence_`` is None.
    """

    requires_distance = False
    requires_scorer = True
    # 002 Algorithm 1 has no functional filter: the plain task option tau2 (NTC's filter) does not
    # reach it; amig_pairs_tau2 (or amig-pairs.tau2) turns the filter on at that threshold
    option_names = {"tau2": "amig_pairs_tau2"}
    hyperparameters = {"top_k": Param(low=2, integer=True), "t_low": Param(low=0.0), "t_high": Param(low=0.0),
                       "drop_mode": Param(choices=DROP_MODES)}

    def __init__(self, top_k=20, t_low=0.2, t_high=0.25, drop_mode="relative", tau2=None, filter_mode="relative",
                 filter_scope=DEFAULT_FILTER_SCOPE):
        store_params(self, locals())

    def _ranked(self, kns, scorer, attribution):
        attribution = attribution if attribution is not None else getattr(scorer, "attribution", None)
        if attribution is None:
            return list(kns)
        scores = []
        for n in kns:
            if n not in attribution:
                raise DKNBenchError(f"attribution has no score for KN {n}")
            try:
                s = float(attribution[n])
            except (TypeError, ValueError):
                raise DKNBenchError(f"attribution score of KN {n} is not a number: {attribution[n]!r}") from None
            if math.isnan(s):
                raise DKNBenchError(f"attribution score of KN {n} is NaN")
            scores.append(s)
        order = sorted(range(len(kns)), key=lambda i: (-scores[i], i))
        return [kns[i] for i in order]

    def _find_candidates(self, distance, kns, scorer, attribution):
        base = float(scorer.base_prob)
        if self.drop_mode == "relative" and base <= 0:
            raise DKNBenchError("amig-pairs with relative drops needs scorer.base_prob > 0; skip this fact")

        def drops(neuron_sets):  # batched suppressions: one forward pass for many sets
            probs = suppressing_many(scorer, neuron_sets)
            return [(base - p) / base if self.drop_mode == "relative" else base - p for p in probs]

        top = self._ranked(kns, scorer, attribution)[: self.top_k]
        rank = {n: i for i, n in enumerate(top)}
        self.single_drops_ = dict(zip(top, drops([[n] for n in top])))
        self.potential_ = [n for n in top if self.single_drops_[n] <= self.t_low]  # P_d
        candidates = list(combinations(self.potential_, 2))
        pairs = []
        for (a, b), d in zip(candidates, drops([[a, b] for a, b in candidates])):
            if d > self.t_high:
                pairs.append((min(a, b), max(a, b), d))  # members in neuron order
        pairs.sort(key=lambda p: (-p[2], sorted((rank[p[0]], rank[p[1]]))))
        self.all_pairs_ = pairs
        chosen, used = [], set()
        for a, b, d in pairs:
            if a not in used and b not in used:
                chosen.append((a, b, d))
                used.update((a, b))
        self.pairs_ = chosen
        return [[n] for a, b, _ in chosen for n in (a, b)], None

    def _select(self, candidates, scores, keep):
        for i in range(0, len(candidates), 2):
            if keep[i] and keep[i + 1]:
                return [candidates[i], candidates[i + 1]], None
        return [], None

    def _extra(self) -> dict:
        return {"pairs": [[[*a], [*b], float(d)] for a, b, d in self.pairs_]}
