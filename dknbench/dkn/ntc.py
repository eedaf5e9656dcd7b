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

from ..hyperparams import SHARE, Param, store_params
from .base import DEFAULT_FILTER_SCOPE, DKN_METHODS, DKNMethod, Neuron, finite_distance


@dataclass
class NTCCluster:
    """One cluster of the filtration: a merge at a finite height R1 = ``birth``. ``death`` (R2) is
    inf for an essential class (a cluster that never merges again), and so is its persistence."""

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


ESSENTIAL_READINGS = ("exclude", "include")


@DKN_METHODS.register(
    "ntc", description="Neuronal Topology Clustering: persistent H0 clusters + functional filter (000 §3.1)"
)
class NTC(DKNMethod):
    """Neuronal Topology Clustering (000 §3.1) on the neuron distance matrix.

    Parameters: ``tau1`` multiplier of the persistence threshold, ``tau2`` functional threshold
    (None: no filter), ``min_size`` smallest BDC, ``filter_mode`` relative|absolute,
    ``essential`` exclude|include (clusters that never merge, below), ``inf_scale`` the height at
    which the merge tree joins unreachable parts (it never reaches the selection).

    Choices where the paper is vague (SPEC §3 marks the first three as choices):

    - Potential BDCs are the clusters with Rp > tau1 * max Rp (Eq. 9 with Eq. 16: tau1 is a
      *multiplier*, default 0.5; strict ">" as in Eq. 9). Rp = R2 - R1 needs R2, "the radius where
      it merges with either a new neuron or another cluster" (000 §3.1 step 2), so max Rp is taken
      over the clusters that die at a finite radius (internal nodes of the single-linkage tree
      whose parent merge happens across a finite distance; singletons are isolated points, not
      clusters, 000 Fig. 2).
    - **Clusters that never merge** (essential H0 classes). Same-layer distances are infinite
      (Eq. 7), so the KN graph is often disconnected, and the top cluster of each connected part
      never merges at any finite R: its R2, hence its Rp, does not exist. ``essential="exclude"``
      (default) does not make it a candidate: Eq. 9 keeps a cluster only when Rp(B) > tau1, which an
      undefined Rp cannot satisfy, and 000 Fig. 2 already treats the one cluster that never merges
      (the root {a, b, c, d}) this way: the BDC is {a, b, c}, the cluster that lives longest
      *before* it merges. Each connected part's top cluster is the root of its own part, and is
      read the same way. ``essential="include"`` (the other reading) makes every essential class of
      size >= ``min_size`` a candidate ranked above every finite one (Rp = inf), except a class that
      holds every KN (D = {N} is no degeneracy). Neither reading depends on ``inf_scale``: the
      surrogate only orders merges that happen across an infinite distance, and those merges
      create no cluster of the filtration (they never happen at a finite R).
    - size >= ``min_size`` = 2 (SPEC choice).
    - Clusters of a merge tree are nested or disjoint; a disjoint family is chosen greedily, most
      persistent first (SPEC choice); ties go to the cluster born earlier (tighter), then to the
      earlier merge.
    - The functional filter (Eq. 10, 17) keeps B if Prob(only B active) / Prob(all KNs) >= tau2
      = 0.3 (SPEC choice: relative; ``filter_mode="absolute"`` compares Prob(only B active) with
      tau2). "Only B active" (``filter_scope``): the other candidate BDCs are suppressed
      (``candidates``, default, argued in tasks/gcr.yaml) or every other KN is (``kns``).

    Fitted attributes besides the base ones: ``merge_tree_`` (scipy-linkage-like, on the
    surrogate scale), ``clusters_`` (every cluster of the filtration: finite birth; ``death`` inf
    for an essential class), ``threshold_`` (tau1 * max finite Rp), ``funnel_`` (how many clusters
    each rule removed), ``barcode_`` (the H0 barcode, one (0, death) bar per KN, death inf for the
    bars that never die) and ``death_radii_`` (its finite deaths, sorted: equal to the
    single-linkage merge heights).
    """

    hyperparameters = {"tau1": SHARE, "essential": Param(choices=ESSENTIAL_READINGS,
                                                           help="a cluster that never merges: exclude | include")}

    def __init__(self, tau1=0.5, tau2=0.3, min_size=2, filter_mode="relative", inf_scale=2.0,
                 filter_scope=DEFAULT_FILTER_SCOPE, essential="exclude"):
        store_params(self, locals())

    def _find_candidates(self, distance, kns, scorer, attribution):
        n = len(kns)
        z, merged = single_linkage(finite_distance(distance, self.inf_scale))
        self.merge_tree_ = z

        # Heights on the original scale: a merge across an infinite distance never happens, and
        # one bar per connected part never dies, as in gudhi's output.
        orig = self._original_heights(distance, z, merged)
        never = int(np.isinf(orig).sum()) + (1 if n else 0)
        bars = [(0.0, float(h)) for h in orig if np.isfinite(h)] + [(0.0, np.inf)] * never
        self.barcode_ = sorted(bars, key=lambda bar: bar[1])
        self.death_radii_ = np.sort(orig[np.isfinite(orig)])

        # A cluster of the filtration is a merge at a finite height; it dies at the height of the
        # merge that absorbs it (its parent), inf when that merge never happens or it is the root.
        death = np.full(len(z), np.inf)
        for k, (a, b, _, _) in enumerate(z):
            for child in (int(a), int(b)):
                if child >= n:
                    death[child - n] = orig[k]
        self.clusters_ = [
            NTCCluster(n + k, [kns[i] for i in merged[k]], float(orig[k]), float(death[k]),
                       float(death[k] - orig[k]))
            for k in range(len(z)) if np.isfinite(orig[k])
        ]
        finite = [c for c in self.clusters_ if np.isfinite(c.death)]
        essential = [c for c in self.clusters_ if not np.isfinite(c.death)]
        max_rp = max((c.persistence for c in finite), default=0.0)
        self.threshold_ = float(self.tau1 * max_rp)

        sized = [c for c in finite if len(c.members) >= self.min_size]
        eligible = [c for c in sized if c.persistence > self.threshold_]
        funnel = {"clusters": len(finite), "essential": len(essential),
                  "removed_by_size": len(finite) - len(sized), "removed_by_persistence": len(sized) - len(eligible)}
        if self.essential == "include":
            kept = [c for c in essential if self.min_size <= len(c.members) < n]
            funnel["removed_by_size"] += len(essential) - len(kept)
            eligible += kept
        else:
            funnel["essential_excluded"] = len(essential)
        eligible.sort(key=lambda c: (-c.persistence, c.birth, c.node))
        chosen: list[NTCCluster] = []
        taken: set[Neuron] = set()
        for c in eligible:
            if taken.isdisjoint(c.members):
                chosen.append(c)
                taken.update(c.members)
        funnel["removed_by_overlap"] = len(eligible) - len(chosen)
        self.funnel_ = funnel
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
        return {"threshold": self.threshold_, "n_clusters": len(self.clusters_), "essential": self.essential,
                "funnel": self.funnel_}
