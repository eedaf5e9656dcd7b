"""Confidence intervals for a reported mean or any statistic of per-fact values."""

from __future__ import annotations

import math
import warnings
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


def _percentile_bootstrap(samples: tuple, stat: Callable, confidence: float, n_resamples: int,
                          seed: int | None, paired: bool) -> tuple[float, float]:
    """``scipy.stats.bootstrap`` with the settings every dknbench interval uses: percentile method,
    all resamples in one batch, ``rng=seed``. A resample whose statistic is NaN makes the bound
    NaN; scipy then warns about BCa, which does not apply here, so that warning is silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _st.DegenerateDataWarning)
        result = _st.bootstrap(samples, stat, paired=paired, confidence_level=confidence,
                               n_resamples=n_resamples, method="percentile", rng=seed)
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def _check_bootstrap(confidence: float, n_resamples: int) -> None:
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")


def bootstrap_ci(values, stat: Callable = np.mean, confidence: float = 0.95,
                 n_resamples: int = 9999, seed: int | None = 0) -> Interval:
    """Percentile bootstrap interval of ``stat`` over one sample: a thin wrapper of
    ``scipy.stats.bootstrap(method='percentile', rng=seed)``, so a fixed seed makes a rerun
    reproduce the leaderboard's numbers. Percentile rather than BCa because BCa is undefined for
    the constant samples that small runs produce. ``stat`` may take ``axis`` (np.mean, np.median:
    vectorised) or not (called once per resample). Fewer than 2 values -> NaN bounds."""
    _check_bootstrap(confidence, n_resamples)
    x = as_sample(values)
    if x.size == 0:
        return Interval(NAN, NAN, NAN)
    estimate = float(stat(x))
    if x.size < 2:
        return Interval(estimate, NAN, NAN)
    return Interval(estimate, *_percentile_bootstrap((x,), stat, confidence, n_resamples, seed, False))


def paired_bootstrap_ci(samples, stat: Callable, confidence: float = 0.95, n_resamples: int = 9999,
                        seed: int | None = 0) -> Interval:
    """Percentile bootstrap interval of ``stat(*samples)`` where the samples are aligned per fact
    (``scipy.stats.bootstrap(paired=True)``: one resample of fact indices is applied to every
    array), e.g. a ratio of two means over the same facts. ``stat`` takes the arrays and returns
    a float. Fewer than 2 facts -> NaN bounds."""
    _check_bootstrap(confidence, n_resamples)
    arrays = tuple(as_sample(s, f"samples[{i}]") for i, s in enumerate(samples))
    if not arrays:
        raise ValueError("paired_bootstrap_ci needs at least one sample")
    if len({a.size for a in arrays}) != 1:
        raise ValueError(f"paired samples must have one length, got {[a.size for a in arrays]}")
    if arrays[0].size == 0:
        return Interval(NAN, NAN, NAN)
    estimate = float(stat(*arrays))
    if arrays[0].size < 2:
        return Interval(estimate, NAN, NAN)

    def scalar_stat(*resampled):  # no ``axis``: scipy calls it once per resample
        return float(stat(*resampled))

    return Interval(estimate, *_percentile_bootstrap(arrays, scalar_stat, confidence, n_resamples, seed, True))


def contains_zero(interval: Interval) -> bool:
    """True when the interval's bounds are unknown (NaN) or enclose 0: the quantity is then
    indistinguishable from 0, and a ratio with it as denominator is undefined."""
    low, high = interval.low, interval.high
    if math.isnan(low) or math.isnan(high):
        return True
    return low <= 0.0 <= high
