"""Confidence intervals for a reported mean or any statistic of per-fact values."""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
from scipy import stats as _st

from ._arrays import as_sample

NAN = float("nan")


class Interval(NamedTuple):
    estimate: float
    low: float
    high: float


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")


def mean_ci(values, confidence: float = 0.95) -> Interval:
    """t-based interval of the mean: x̄ ± t_{(1+c)/2, n−1} · s/√n (s with ddof 1), the interval
    ``statsmodels`` ``DescrStatsW.tconfint_mean`` gives. Fewer than 2 values -> NaN bounds
    (the estimate is still the mean of a single value)."""
    _check_confidence(confidence)
    x = as_sample(values)
    if x.size == 0:
        return Interval(NAN, NAN, NAN)
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, NAN, NAN)
    half = _st.t.ppf((1.0 + confidence) / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return Interval(mean, float(mean - half), float(mean + half))


def _resampled_statistic(stat: Callable, resamples: np.ndarray) -> np.ndarray:
    """Apply ``stat`` to every row, vectorised when it accepts ``axis`` (np.mean, np.median...)."""
    try:
        out = np.asarray(stat(resamples, axis=-1), dtype=float)
        if out.shape == resamples.shape[:1]:
            return out
    except TypeError:
        pass
    return np.array([float(stat(row)) for row in resamples])


def bootstrap_ci(values, stat: Callable = np.mean, confidence: float = 0.95,
                 n_resamples: int = 9999, seed: int | None = 0) -> Interval:
    """Percentile bootstrap interval of ``stat``.

    Draws exactly what ``scipy.stats.bootstrap(method='percentile', rng=seed, batch=None)`` draws
    (one ``default_rng(seed).integers(0, n, (n_resamples, n))`` matrix), so both give the same
    interval; a fixed seed makes a rerun reproduce the leaderboard's numbers. Percentile rather
    than BCa because BCa is undefined for the constant samples that small runs produce.
    Fewer than 2 values -> NaN bounds.
    """
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    x = as_sample(values)
    if x.size == 0:
        return Interval(NAN, NAN, NAN)
    estimate = float(stat(x))
    if x.size < 2:
        return Interval(estimate, NAN, NAN)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, x.size, (n_resamples, x.size))
    theta = _resampled_statistic(stat, x[index])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(theta, [alpha, 1.0 - alpha])
    return Interval(estimate, float(low), float(high))
