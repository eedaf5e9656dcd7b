"""Neuronal Topology Clustering (000 §3.1, Eq. 8-10, 16-17; SPEC §3 ``ntc``).

Growing a radius R from 0 and joining KNs closer than R (000 Fig. 2) is the Vietoris-Rips
filtration; its 0-dimensional persistent homology is exactly the single-linkage merge tree, which
we build with Kruskal's algorithm (edges in increasing distance, union-find). Each merge creates a
cluster born at R1 = its merge height and dying at R2 = the height at which it is merged into a
larger cluster; its persistence is Rp = R2 - R1 (000 §3.1 step 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hyperparams import SHARE
from .base import DEFAULT_FILTER_SCOPE, DKN_METHODS, DKNMethod, Neuron, finite_distance


@dataclass
class NTCCluster:
    """One merged cluster of the merge tree (an internal node other than the root)."""

    node: int  # scipy-style id: n + row of merge_tree_
    members: list[Neuron]
    birth: float  # R1
    death: float  # R2
    persistence: float  # Rp = R2 - R1


def single_linkage(d: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """Kruskal single linkage on a finite symmetric matrix.

    Returns a scipy-``linkage``-like array Z ([id_a, id_b, height, size] per merge; ids < n are
    points, id n + k is the cluster made by row k) and the member positions of each merge.
    Ties are broken by (i, j) order so the result is deterministic.
    """
    n = len(d)
    iu, ju = np.triu_indices(n, k=1)
    order = np.lexsort((ju, iu, d[iu, ju]))
    parent = list(range(n))
    node_of = list(range(n))  # union-find root -> current tree node id
    members = {i: [i] for i in range(n)}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows, merged = [], []
    for e in order:
        a, b = find(int(iu[e])), find(int(ju[e]))
        if a == b:
            continue
        na, nb = node_of[a], node_of[b]
        new = n + len(rows)
        group = members.pop(na) + members.pop(nb)
        members[new] = group
        rows.append([min(na, nb), max(na, nb), float(d[iu[e], ju[e]]), len(group)])
        merged.append(sorted(group))
        parent[b] = a
        node_of[a] = new
        if len(rows) == n - 1:
            break
    return np.array(rows, dtype=np.float64).reshape(-1, 4), merged


@DKN_METHODS.register(
    "ntc", description="Neuronal Topology Clustering: persistent H0 clusters + functional filter (000 §3.1)"
)
class NTC(DKNMethod):
    """Neuronal Topology Clustering (000 §3.1) on the neuron distance matrix.

    Parameters: ``tau1`` multiplier of the persistence threshold, ``tau2`` functional threshold
    (None: no filter), ``min_size`` smallest BDC, ``filter_mode`` relative|absolute, ``inf_scale``
    surrogate for infinite distances.

    Choices where the paper is vague (SPEC §3 marks the first three as choices):

    - Potential BDCs are the clusters with Rp > tau1 * max Rp (Eq. 9 with Eq. 16: tau1 is a
      *multiplier*, default 0.5; strict ">" as in Eq. 9). max Rp is taken over all merged clusters
      (internal nodes; singletons are isolated points, not clusters, 000 Fig. 2).
    - size >= ``min_size`` = 2 (SPEC choice).
    - Clusters of a merge tree are nested or disjoint; a disjoint family is chosen greedily, most
      persistent first (SPEC choice); ties go to the cluster born earlier (tighter), then to the
      earlier merge.
    - The root (all KNs in one cluster) never merges again, so its R2 is undefined; it is excluded
      (D = {N} would be no degeneracy). With infinite distances there is still one root, because
      of the next choice.
    - Infinite distances (same layer, unreachable) are replaced by ``inf_scale`` (2.0) x the largest
      finite distance before clustering, so disconnected components merge last and a component's
      persistence is measured up to that surrogate height. Merges among reachable neurons are
      unchanged (the surrogate is above every finite distance).
    - The functional filter (Eq. 10, 17) keeps B if Prob(only B active) / Prob(all KNs) >= tau2
      = 0.3 (SPEC choice: relative; ``filter_mode="absolute"`` compares Prob(only B active) with
      tau2). "Only B active" (``filter_scope``): the other candidate BDCs are suppressed
      (``candidates``, default, argued in tasks/gcr.yaml) or every other KN is (``kns``).

    Fitted attributes besides the base ones: ``merge_tree_`` (scipy-linkage-like, on the
    surrogate scale), ``clusters_`` (every non-root merged cluster), ``threshold_`` (tau1 * max Rp),
    ``barcode_`` (the H0 barcode, one (0, death) bar per KN, death inf for the bar that never dies
    and for merges that happen only across an infinite distance) and ``death_radii_`` (its finite
    deaths, sorted: equal to the single-linkage merge heights).
    """

    name = "ntc"
    hyperparameters = {"tau1": SHARE}

    def __init__(self, tau1=0.5, tau2=0.3, min_size=2, filter_mode="relative", inf_scale=2.0,
                 filter_scope=DEFAULT_FILTER_SCOPE):
        self.tau1 = tau1
        self.tau2 = tau2
        self.min_size = min_size
        self.filter_mode = filter_mode
        self.filter_scope = filter_scope
        self.inf_scale = inf_scale

    def _find_candidates(self, distance, kns, scorer, attribution):
        n = len(kns)
        finite = finite_distance(distance, self.inf_scale)
        z, merged = single_linkage(finite)
        self.merge_tree_ = z

        # H0 barcode on the original scale: a merge across an infinite distance never happens, and
        # one bar (the last surviving component) never dies, as in gudhi's output.
        orig = self._original_heights(distance, z, merged)
        bars = [(0.0, float(h)) for h in orig] + ([(0.0, np.inf)] if n else [])
        self.barcode_ = sorted(bars, key=lambda bar: bar[1])
        self.death_radii_ = np.sort(orig[np.isfinite(orig)])

        heights = z[:, 2]

        # Death of each merged cluster = the height of the merge that absorbs it (its parent).
        death = np.full(len(z), np.nan)
        for a, b, h, _ in z:
            for child in (int(a), int(b)):
                if child >= n:
                    death[child - n] = h
        self.clusters_ = [
            NTCCluster(
                n + k, [kns[i] for i in merged[k]], float(heights[k]), float(death[k]), float(death[k] - heights[k])
            )
            for k in range(len(z) - 1)  # the last row is the root
        ]
        max_rp = max((c.persistence for c in self.clusters_), default=0.0)
        self.threshold_ = float(self.tau1 * max_rp)
        eligible = [
            c for c in self.clusters_ if c.persistence > self.threshold_ and len(c.members) >= self.min_size
        ]
        eligible.sort(key=lambda c: (-c.persistence, c.birth, c.node))
        chosen: list[NTCCluster] = []
        taken: set[Neuron] = set()
        for c in eligible:
            if taken.isdisjoint(c.members):
                chosen.append(c)
                taken.update(c.members)
        return [c.members for c in chosen], [c.persistence for c in chosen]

    @staticmethod
    def _original_heights(distance, z, merged) -> np.ndarray:
        """Merge heights on the original scale: inf where the two merged parts had no finite link."""
        n = len(distance)
        members = {i: [i] for i in range(n)}
        for k, group in enumerate(merged):
            members[n + k] = group
        out = z[:, 2].copy()
        for k, (a, b, _, _) in enumerate(z):
            block = distance[np.ix_(members[int(a)], members[int(b)])]
            if not np.isfinite(block).any():
                out[k] = np.inf
        return out

    def _extra(self) -> dict:
        return {"threshold": self.threshold_, "n_clusters": len(self.clusters_)}
