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


# How an interval was computed, as a metric record's ``ci_method`` names it (results/schema.py).
CI_T = "t"                        # x̄ ± t_{n−1} s/√n
CI_T_CLIPPED = "t, clipped"       # the t interval cut to the quantity's range (a count, a share)
CI_WELCH_T = "t, Welch-Satterthwaite df"  # a mean of group means (``mean_of_means_ci``)
CI_BOOTSTRAP = "bootstrap, percentile, seeded"


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


def clipped_mean_ci(values, low: float | None = 0.0, high: float | None = None,
                    confidence: float = 0.95) -> Interval:
    """``mean_ci`` cut to [low, high], the range the quantity can take (a count: [0, ∞); a share or
    a probability: [0, 1]); the records say so with ``ci_method = CI_T_CLIPPED``. The t interval
    of a count at n = 3 otherwise reaches below 0 (issue 32: mean_kns [−7.3, 20.0])."""
    interval = mean_ci(values, confidence)
    lo, hi = interval.low, interval.high
    if not math.isnan(lo):
        lo = lo if low is None else max(lo, low)
        hi = hi if high is None else min(hi, high)
    return Interval(interval.estimate, float(lo), float(hi))


def mean_of_means_ci(groups, confidence: float = 0.95) -> Interval:
    """The unweighted mean of the groups' means (000 Table 1's "Average" over cardinality columns)
    with a t interval: SE² = Σ s_k²/n_k / K², df by Welch–Satterthwaite,
    (Σ s_k²/n_k)² / Σ (s_k²/n_k)²/(n_k − 1). One group gives exactly ``mean_ci`` (df = n − 1);
    a normal quantile instead would be far too narrow at the few facts a column holds.
    Empty groups are ignored; a group with < 2 values -> NaN bounds (its variance is unknown)."""
    _check_confidence(confidence)
    samples = [as_sample(g, f"groups[{i}]") for i, g in enumerate(groups)]
    samples = [g for g in samples if g.size]
    if not samples:
        return Interval(NAN, NAN, NAN)
    estimate = float(np.mean([g.mean() for g in samples]))
    if any(g.size < 2 for g in samples):
        return Interval(estimate, NAN, NAN)
    parts = np.array([g.var(ddof=1) / g.size for g in samples])
    k = len(samples)
    se = math.sqrt(parts.sum()) / k
    denominator = sum(p * p / (g.size - 1) for p, g in zip(parts, samples))
    if se == 0.0 or denominator == 0.0:  # every group constant: no spread, a zero-width interval
        return Interval(estimate, estimate, estimate)
    df = parts.sum() ** 2 / denominator
    half = _st.t.ppf((1.0 + confidence) / 2.0, df) * se
    return Interval(estimate, estimate - float(half), estimate + float(half))


def _percentile_bootstrap(samples: tuple, stat: Callable, confidence: float, n_resamples: int,
                          seed: int | None, paired: bool) -> tuple:
    """``scipy.stats.bootstrap`` with the settings every dknbench interval uses: percentile method,
    all resamples in one batch, ``rng=seed``. A resample whose statistic is NaN makes the bound
    NaN; scipy then warns about BCa, which does not apply here, so that warning is silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _st.DegenerateDataWarning)
        result = _st.bootstrap(samples, stat, paired=paired, confidence_level=confidence,
                               n_resamples=n_resamples, method="percentile", rng=seed)
    interval = result.confidence_interval
    if np.ndim(interval.low):  # a vector statistic: one (low, high) per component
        return tuple(zip(map(float, interval.low), map(float, interval.high)))
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


def _paired_samples(samples, caller: str) -> tuple[np.ndarray, ...]:
    """The per-fact aligned samples as arrays: at least one, all of one length."""
    arrays = tuple(as_sample(s, f"samples[{i}]") for i, s in enumerate(samples))
    if not arrays:
        raise ValueError(f"{caller} needs at least one sample")
    if len({a.size for a in arrays}) != 1:
        raise ValueError(f"paired samples must have one length, got {[a.size for a in arrays]}")
    return arrays


def paired_bootstrap_ci(samples, stat: Callable, confidence: float = 0.95, n_resamples: int = 9999,
                        seed: int | None = 0) -> Interval:
    """Percentile bootstrap interval of ``stat(*samples)`` where the samples are aligned per fact
    (``scipy.stats.bootstrap(paired=True)``: one resample of fact indices is applied to every
    array), e.g. a ratio of two means over the same facts. ``stat`` takes the arrays and returns
    a float. Fewer than 2 facts -> NaN bounds."""
    _check_bootstrap(confidence, n_resamples)
    arrays = _paired_samples(samples, "paired_bootstrap_ci")
    if arrays[0].size == 0:
        return Interval(NAN, NAN, NAN)
    estimate = float(stat(*arrays))
    if arrays[0].size < 2:
        return Interval(estimate, NAN, NAN)

    def scalar_stat(*resampled):  # no ``axis``: scipy calls it once per resample
        return float(stat(*resampled))

    return Interval(estimate, *_percentile_bootstrap(arrays, scalar_stat, confidence, n_resamples, seed, True))


def paired_bootstrap_cis(samples, stat: Callable, confidence: float = 0.95, n_resamples: int = 9999,
                         seed: int | None = 0) -> list[Interval]:
    """``paired_bootstrap_ci`` for a statistic that returns several numbers: one scipy bootstrap,
    so every component's interval comes from the *same* resamples of facts (e.g. a ratio and its
    denominator, so that a rule on the denominator and the ratio's CI use one method). The
    intervals equal those of ``paired_bootstrap_ci`` on each component alone with the same seed."""
    _check_bootstrap(confidence, n_resamples)
    arrays = _paired_samples(samples, "paired_bootstrap_cis")
    if arrays[0].size == 0:
        raise ValueError("paired_bootstrap_cis needs at least one fact")
    estimates = [float(v) for v in np.atleast_1d(stat(*arrays))]
    if arrays[0].size < 2:
        return [Interval(e, NAN, NAN) for e in estimates]

    def vector_stat(*resampled):
        return np.asarray(stat(*resampled), dtype=float)

    bounds = _percentile_bootstrap(arrays, vector_stat, confidence, n_resamples, seed, True)
    if len(estimates) == 1:
        bounds = (bounds,)
    return [Interval(e, lo, hi) for e, (lo, hi) in zip(estimates, bounds)]


def contains_zero(interval: Interval) -> bool:
    """True when the interval's bounds are unknown (NaN) or enclose 0: the quantity is then
    indistinguishable from 0, and a ratio with it as denominator is undefined."""
    low, high = interval.low, interval.high
    if math.isnan(low) or math.isnan(high):
        return True
    return low <= 0.0 <= high
