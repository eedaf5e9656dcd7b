"""Standardised mean differences (000 App. G reports Cohen's d beside each t-test)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from ._arrays import as_sample

NAN = float("nan")


def cohens_d(a, b) -> float:
    """Cohen's d = (mean_a − mean_b) / s_pooled, s_pooled² = ((n_a−1)s_a² + (n_b−1)s_b²)/(n_a+n_b−2),
    sample variances with ddof = 1. Positive when ``a`` is larger. A group with fewer than 2
    values -> NaN; zero pooled SD -> ±inf (or NaN when the means are equal too)."""
    a, b = as_sample(a, "a"), as_sample(b, "b")
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return NAN
    pooled = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a.mean() - b.mean()) / np.sqrt(np.float64(pooled)))


def hedges_correction(df: float) -> float:
    """Exact small-sample bias correction J(df) = Γ(df/2) / (√(df/2) Γ((df−1)/2)) (Hedges 1981).
    The familiar approximation 1 − 3/(4·df − 1) agrees to about 1e-3 at df = 8."""
    if df <= 1:
        return NAN
    return math.exp(gammaln(df / 2.0) - gammaln((df - 1) / 2.0)) / math.sqrt(df / 2.0)


def hedges_g(a, b) -> float:
    """Hedges' g = J(n_a + n_b − 2) · Cohen's d: Cohen's d without its small-sample bias."""
    a, b = as_sample(a, "a"), as_sample(b, "b")
    d = cohens_d(a, b)
    if math.isnan(d):
        return NAN
    return hedges_correction(a.size + b.size - 2) * d
