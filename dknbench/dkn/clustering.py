"""Clustering baselines on the neuron distance matrix (000 §3.2 baselines; SPEC §3).

All three see the same matrix as NTC, with infinite distances replaced by ``inf_scale`` x the
largest finite distance (:func:`dknbench.dkn.base.finite_distance`), because k-means, DBSCAN and
silhouette scores need finite numbers. Each returns its clusters of size >= ``min_size`` as
candidates (a partition, so disjoint by construction), largest first (ties: the cluster holding
the earliest KN), and then the shared functional filter runs (SPEC choice).
"""

from __future__ import annotations

import warnings
from typing import Callable, Optional

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.cluster import DBSCAN, KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score

from ..hyperparams import Param, store_params
from .base import DEFAULT_FILTER_SCOPE, DKN_METHODS, DKNMethod, finite_distance


def classical_mds(d: np.ndarray, n_components: Optional[int] = None) -> np.ndarray:
    """Torgerson MDS: coordinates whose Euclidean distances best match ``d`` (finite, symmetric).

    B = -1/2 J D^2 J; keep the eigenvectors with positive eigenvalues (a non-Euclidean matrix has
    negative ones, which have no real embedding), scaled by sqrt(eigenvalue).
    """
    n = len(d)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ (d**2) @ j
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    keep = vals > 1e-10 * max(vals.max(), 1e-300)
    if n_components is not None:
        keep &= np.arange(n) < n_components
    if not keep.any():  # all points coincide
        return np.zeros((n, 1))
    return vecs[:, keep] * np.sqrt(vals[keep])


def labels_to_candidates(labels, kns, min_size: int) -> list[list]:
    """Group KNs by label (label -1 = noise is dropped); keep groups of size >= min_size."""
    groups: dict[int, list[int]] = {}
    for pos, lab in enumerate(labels):
        if lab >= 0:
            groups.setdefault(int(lab), []).append(pos)
    kept = [g for g in groups.values() if len(g) >= min_size]
    kept.sort(key=lambda g: (-len(g), g[0]))
    return [[kns[i] for i in g] for g in kept]


def best_k_by_silhouette(d: np.ndarray, labels_for_k: Callable[[int], np.ndarray], max_k: int = 8):
    """Labels of the k in 2..min(max_k, n-1) with the best silhouette on ``d`` (ties: smaller k).

    Returns None when no k gives between 2 and n-1 distinct labels (silhouette undefined).
    """
    n = len(d)
    best, best_score = None, -np.inf
    for k in range(2, min(max_k, n - 1) + 1):
        labels = labels_for_k(k)
        if not 2 <= len(set(labels.tolist())) <= n - 1:
            continue
        score = silhouette_score(d, labels, metric="precomputed")
        if score > best_score + 1e-12:
            best, best_score = labels, score
    return best


class _ClusteringBaseline(DKNMethod):
    """Shared parameter checks and the distance -> labels -> candidates flow."""

    def _labels(self, d: np.ndarray, raw: np.ndarray) -> Optional[np.ndarray]:
        """Cluster labels (-1 = noise) from the finite matrix ``d`` (``raw`` keeps the infs)."""
        raise NotImplementedError

    def _find_candidates(self, distance, kns, scorer, attribution):
        if len(kns) < 3:  # two KNs cannot be split into two clusters of size >= 2
            self.labels_ = np.zeros(len(kns), dtype=int)
            return [], None
        d = finite_distance(distance, self.inf_scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = self._labels(d, distance)
        self.labels_ = np.asarray(labels if labels is not None else np.full(len(kns), -1), dtype=int)
        return labels_to_candidates(self.labels_, kns, self.min_size), None


@DKN_METHODS.register("kmeans", description="k-means on a classical-MDS embedding of the neuron distances")
class KMeansDKN(_ClusteringBaseline):
    """k-means baseline.

    Choices: k-means needs coordinates, so the KNs are embedded by classical MDS of the distance
    matrix (rows of the matrix as features would treat distances to every KN as coordinates and
    are not a metric embedding). k is chosen in 2..min(``max_k``=8, n-1) by the silhouette score
    on the distance matrix itself (ties: smaller k); ``n_clusters`` fixes k instead. KMeans uses
    ``n_init=10`` and ``random_state`` (0) so results are reproducible. Fewer than 3 KNs: no
    candidates. Clusters of size >= ``min_size`` (2) are candidates; then the functional filter.
    """

    hyperparameters = {"n_clusters": Param(low=2, integer=True, none=True, help="null: chosen by silhouette"),
                       "max_k": Param(low=2, integer=True), "random_state": Param(low=0, integer=True)}

    def __init__(self, n_clusters=None, max_k=8, random_state=0, min_size=2, tau2=0.3,
                 filter_mode="relative", inf_scale=2.0, filter_scope=DEFAULT_FILTER_SCOPE):
        store_params(self, locals())

    def _labels(self, d, raw):
        x = classical_mds(d)

        def fit_k(k):
            return KMeans(n_clusters=k, n_init=10, random_state=self.random_state).fit_predict(x)

        if self.n_clusters is not None:
            return fit_k(min(self.n_clusters, len(d)))
        return best_k_by_silhouette(d, fit_k, self.max_k)


@DKN_METHODS.register("dbscan", description="DBSCAN on the precomputed neuron distances")
class DBSCANDKN(_ClusteringBaseline):
    """DBSCAN baseline (``metric="precomputed"``).

    Choices: ``eps`` defaults to the ``eps_quantile`` (0.25) quantile of the finite off-diagonal
    distances (scale-free, since weight magnitudes differ between models); with none finite, eps
    is 0.5 x the surrogate. ``min_samples`` = 2 (a pair within eps is a cluster, matching the
    BDC size >= 2). Noise points belong to no candidate.
    """

    hyperparameters = {"eps": Param(low=0.0, low_open=True, none=True, help="null: the eps_quantile of the distances"),
                       "eps_quantile": Param(low=0.0, high=1.0), "min_samples": Param(low=1, integer=True)}

    def __init__(self, eps=None, eps_quantile=0.25, min_samples=2, min_size=2, tau2=0.3,
                 filter_mode="relative", inf_scale=2.0, filter_scope=DEFAULT_FILTER_SCOPE):
        store_params(self, locals())

    def _labels(self, d, raw):
        eps = self.eps
        if eps is None:
            off = ~np.eye(len(d), dtype=bool)
            finite = raw[off & np.isfinite(raw)]  # the quantile ignores the inf surrogate
            eps = float(np.quantile(finite, self.eps_quantile)) if finite.size else 0.5 * d[off].max()
            eps = max(eps, 1e-300)
        self.eps_ = eps
        return DBSCAN(eps=eps, min_samples=self.min_samples, metric="precomputed").fit_predict(d)


@DKN_METHODS.register("hierarchical", description="average-linkage hierarchical clustering of the neuron distances")
class HierarchicalDKN(_ClusteringBaseline):
    """Agglomerative baseline: scipy ``linkage(method="average")`` on the same matrix.

    Choices: average linkage (single linkage would be NTC's merge tree without persistence);
    the tree is cut into the k in 2..min(``max_k``=8, n-1) with the best silhouette on the
    distance matrix (ties: smaller k), or at ``threshold`` (a distance, ``fcluster`` criterion
    "distance") when given. ``linkage_method`` may be any scipy method valid for a non-Euclidean
    matrix ("average", "complete", "single", "weighted").
    """

    hyperparameters = {"linkage_method": Param(choices=("average", "complete", "single", "weighted")),
                       "threshold": Param(low=0.0, none=True), "max_k": Param(low=2, integer=True)}

    def __init__(self, linkage_method="average", threshold=None, max_k=8, min_size=2, tau2=0.3,
                 filter_mode="relative", inf_scale=2.0, filter_scope=DEFAULT_FILTER_SCOPE):
        store_params(self, locals())

    def _labels(self, d, raw):
        z = linkage(squareform(d, checks=False), method=self.linkage_method)
        self.linkage_ = z
        if self.threshold is not None:
            return fcluster(z, self.threshold, criterion="distance") - 1
        return best_k_by_silhouette(d, lambda k: fcluster(z, k, criterion="maxclust") - 1, self.max_k)
