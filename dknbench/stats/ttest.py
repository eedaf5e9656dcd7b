"""Independent two-sample t-tests (Student: pooled variance; Welch: unequal variances).

The papers (000 Tables 9/10, 003 Table 1) report t, p and Cohen's d for two groups of per-fact
values; ``compare_groups`` produces exactly the ``comparisons`` record of summary.json.
All p-values are two-sided.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as _st

from ._arrays import as_sample
from .effect import cohens_d

NAN = float("nan")


class TTest(NamedTuple):
    statistic: float
    pvalue: float
    df: float


def _two_sided_p(t: float, df: float) -> float:
    if math.isnan(t) or math.isnan(df):
        return NAN
    return float(2.0 * _st.t.sf(abs(t), df))


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator with IEEE semantics (x/0 -> ±inf, 0/0 -> nan), as scipy does."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(numerator) / np.float64(denominator))


def student_t(a, b) -> TTest:
    """Student's t-test with pooled variance (``scipy.stats.ttest_ind(equal_var=True)``).

    df = n_a + n_b − 2. Either group with fewer than 2 values -> all NaN.
    """
    a, b = as_sample(a, "a"), as_sample(b, "b")
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return TTest(NAN, NAN, NAN)
    df = na + nb - 2
    pooled = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / df
    t = _ratio(a.mean() - b.mean(), math.sqrt(pooled * (1.0 / na + 1.0 / nb)) if pooled >= 0 else NAN)
    return TTest(t, _two_sided_p(t, df), float(df))


def welch_t(a, b) -> TTest:
    """Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``), Welch–Satterthwaite df.

    Either group with fewer than 2 values -> all NaN.
    """
    a, b = as_sample(a, "a"), as_sample(b, "b")
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return TTest(NAN, NAN, NAN)
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    t = _ratio(a.mean() - b.mean(), math.sqrt(va + vb))
    df = _ratio((va + vb) ** 2, va**2 / (na - 1) + vb**2 / (nb - 1))
    return TTest(t, _two_sided_p(t, df), df)


def compare_groups(a, b, method_a: str = "", method_b: str = "", metric: str = "") -> dict:
    """One ``comparisons`` record of summary.json (see docs/ARCHITECTURE.md): Student and Welch
    t-tests plus Cohen's d of group ``a`` against group ``b``."""
    a, b = as_sample(a, "a"), as_sample(b, "b")
    student, welch = student_t(a, b), welch_t(a, b)
    return {
        "method_a": method_a,
        "method_b": method_b,
        "metric": metric,
        "t": student.statistic,
        "p": student.pvalue,
        "welch_t": welch.statistic,
        "welch_p": welch.pvalue,
        "cohens_d": cohens_d(a, b),
        "n_a": int(a.size),
        "n_b": int(b.size),
    }
