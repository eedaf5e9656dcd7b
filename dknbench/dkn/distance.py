"""Neuron distance matrix of a KN set (000 §2, Eq. 4-7; SPEC §3 "Distance").

- adjacent layers (|l_A - l_B| = 1): d_AB = |1 / w_AB| with w_AB = write(A) . read(B), A in the
  lower layer l, B in layer l + 1 (the write vector of A feeds the residual stream that B's read
  vector reads). w_AB = 0 means no connection: d = inf. The matrix is symmetric.
- further layers: the shortest path through the KN set (Eq. 5), computed by the Floyd-Warshall
  recursion of Eq. 6 over the adjacent-layer graph; no path: inf.
- same layer: inf (Eq. 7), **even when a path through another layer exists** (choice: Eq. 7 is
  stated as a definition, not as the edge weight; option ``same_layer="path"`` keeps the path
  length instead). Single linkage (NTC) is unaffected by this choice: a path is never shorter
  than its longest edge, so the merge tree is that of the adjacent-layer graph either way.
- diagonal: 0.

Read vectors of gated MLPs (SPEC choice): the gate row (``read="gate"``); options ``"up"`` and
``"both"`` (w = mean of the gate-based and the up-based dot products). Non-gated models return
their single up-projection rows whatever ``which`` asks for. Attention and layer norms are
ignored (000 Appendix D). All arithmetic is float64.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable, Optional

import numpy as np

from ..errors import DKNBenchError
from .base import check_choice, validate_kns

READ_MODES = ("gate", "up", "both")
SAME_LAYER_MODES = ("inf", "path")


def _to_numpy(matrix: Any, what: str) -> np.ndarray:
    """torch tensor (any dtype/device) or array-like -> float64 numpy, 2-D."""
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().to("cpu").double().numpy()
    arr = np.asarray(matrix, dtype=np.float64)
    if arr.ndim != 2:
        raise DKNBenchError(f"{what} must be a 2-D [n_neurons, d_model] matrix, got shape {arr.shape}")
    return arr


def _resolve(read_vectors, write_vectors) -> tuple[Callable, Callable]:
    """Accept two callables, or one object (an adapter) with read_vectors/write_vectors methods."""
    if write_vectors is None and hasattr(read_vectors, "read_vectors"):
        obj = read_vectors
        return obj.read_vectors, obj.write_vectors
    if not callable(read_vectors) or not callable(write_vectors):
        raise DKNBenchError(
            "pass read_vectors(layer, which) and write_vectors(layer) callables, or an adapter object"
        )
    return read_vectors, write_vectors


def _rows(matrix: np.ndarray, idx: list[int], what: str, layer: int) -> np.ndarray:
    bad = [i for i in idx if i >= matrix.shape[0]]
    if bad:
        raise DKNBenchError(
            f"neuron index {bad[0]} out of range for {what} of layer {layer} ({matrix.shape[0]} neurons)"
        )
    return matrix[idx]


def adjacent_weight_matrix(
    kns: Iterable,
    read_vectors: Any,
    write_vectors: Optional[Callable] = None,
    read: str = "gate",
) -> np.ndarray:
    """w[i, j] = write(lower) . read(upper) for KNs in adjacent layers, NaN elsewhere (symmetric)."""
    check_choice("read", read, READ_MODES)
    kns = validate_kns(kns)
    read_fn, write_fn = _resolve(read_vectors, write_vectors)
    by_layer: dict[int, list[int]] = defaultdict(list)  # layer -> positions in kns
    for pos, (layer, _) in enumerate(kns):
        by_layer[layer].append(pos)

    n = len(kns)
    w = np.full((n, n), np.nan)
    for layer in sorted(by_layer):
        upper = layer + 1
        if upper not in by_layer:
            continue
        lo, hi = by_layer[layer], by_layer[upper]
        writes = _rows(_to_numpy(write_fn(layer), "write_vectors"), [kns[p][1] for p in lo], "write vectors", layer)
        hi_idx = [kns[p][1] for p in hi]
        modes = ["gate", "up"] if read == "both" else [read]
        block = np.zeros((len(lo), len(hi)))
        for mode in modes:
            reads = _rows(_to_numpy(read_fn(upper, mode), "read_vectors"), hi_idx, "read vectors", upper)
            if reads.shape[1] != writes.shape[1]:
                raise DKNBenchError(
                    f"d_model mismatch: write vectors of layer {layer} have {writes.shape[1]} columns, "
                    f"read vectors of layer {upper} have {reads.shape[1]}"
                )
            block += writes @ reads.T
        block /= len(modes)
        if not np.isfinite(block).all():
            raise DKNBenchError(f"non-finite weights between layers {layer} and {upper}")
        w[np.ix_(lo, hi)] = block
        w[np.ix_(hi, lo)] = block.T
    return w


def floyd_warshall(d: np.ndarray) -> np.ndarray:
    """All-pairs shortest paths (Eq. 6: d^(k)_ij = min(d^(k-1)_ij, d^(k-1)_im + d^(k-1)_mj)),
    by ``scipy.sparse.csgraph.floyd_warshall``.

    ``d`` holds edge lengths with inf for "no edge"; the result has inf for unreachable pairs.
    Edge lengths are |1 / w| > 0, so scipy's dense convention (0 = no edge) loses nothing.
    """
    from scipy.sparse.csgraph import floyd_warshall as scipy_floyd_warshall

    d = np.array(d, dtype=np.float64)
    np.fill_diagonal(d, 0.0)
    return scipy_floyd_warshall(d, directed=True)


def neuron_distance_matrix(
    kns: Iterable,
    read_vectors: Any,
    write_vectors: Optional[Callable] = None,
    read: str = "gate",
    same_layer: str = "inf",
) -> np.ndarray:
    """The n x n neuron distance matrix of a KN set, rows/columns in the order of ``kns``.

    ``read_vectors(layer, which)`` -> [n_neurons, d_model] and ``write_vectors(layer)`` ->
    [n_neurons, d_model] (torch or numpy), or pass an adapter object as ``read_vectors`` alone.
    """
    check_choice("same_layer", same_layer, SAME_LAYER_MODES)
    kns = validate_kns(kns)
    w = adjacent_weight_matrix(kns, read_vectors, write_vectors, read)
    with np.errstate(divide="ignore", over="ignore"):
        edges = np.where(np.isnan(w) | (w == 0), np.inf, np.abs(1.0 / np.where(np.isnan(w), 1.0, w)))
    dist = floyd_warshall(edges)
    if same_layer == "inf":
        layers = np.array([layer for layer, _ in kns])
        same = layers[:, None] == layers[None, :]
        np.fill_diagonal(same, False)
        dist[same] = np.inf
    return dist

