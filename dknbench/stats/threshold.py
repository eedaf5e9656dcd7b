"""Otsu's threshold on 1-D scores: 003 §2.1 splits facts into K_I / K_II by their CS2 with it."""

from __future__ import annotations

import numpy as np

from ._arrays import as_sample

NAN = float("nan")


def otsu_threshold(values, bins: int = 256) -> float:
    """The histogram bin centre t maximising the between-class variance w0·w1·(μ0 − μ1)², where
    class 0 holds the bins with centre ≤ t (scikit-image's convention: values ≤ t are "low").

    The histogram spans [min, max] with ``bins`` equal bins; ties keep the lowest threshold.
    NaN values are ignored (a fact without a score has no class). Fewer than 2 finite values or
    all values equal -> NaN, because there is nothing to separate.
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins!r}")
    x = as_sample(values)
    x = x[np.isfinite(x)]
    if x.size < 2 or x.min() == x.max():
        return NAN
    counts, edges = np.histogram(x, bins=bins, range=(x.min(), x.max()))
    counts = counts.astype(float)
    centres = (edges[:-1] + edges[1:]) / 2.0
    w0 = np.cumsum(counts)[:-1]
    w1 = counts.sum() - w0
    s0 = np.cumsum(counts * centres)[:-1]
    s1 = (counts * centres).sum() - s0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (s0 / w0 - s1 / w1) ** 2
    between = np.where((w0 > 0) & (w1 > 0), between, -np.inf)
    return float(centres[int(np.argmax(between))])
