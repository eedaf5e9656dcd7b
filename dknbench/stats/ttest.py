"""Independent two-sample t-tests (Student: pooled variance; Welch: unequal variances).

The papers (000 Tables 9/10, 003 Table 1) report t, p and Cohen's d for two groups of per-fact
values; ``compare_groups`` produces exactly the ``comparisons`` record of summary.json.
All p-values are two-sided.
"""

from __future__ import annotations

import warnings
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


def _ttest_ind(a, b, equal_var: bool) -> TTest:
    """``scipy.stats.ttest_ind`` (two-sided) as a TTest. Either group with fewer than 2 values ->
    all NaN (scipy would warn and return NaN too, but its df is then meaningless). Constant groups
    follow scipy's IEEE results (x/0 -> ±inf) without its RuntimeWarnings, because a task that
    measured identical values should still print a quiet summary."""
    a, b = as_sample(a, "a"), as_sample(b, "b")
    if a.size < 2 or b.size < 2:
        return TTest(NAN, NAN, NAN)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = _st.ttest_ind(a, b, equal_var=equal_var)
    return TTest(float(result.statistic), float(result.pvalue), float(result.df))


def student_t(a, b) -> TTest:
    """Student's t-test with pooled variance, df = n_a + n_b − 2
    (``scipy.stats.ttest_ind(equal_var=True)``)."""
    return _ttest_ind(a, b, equal_var=True)


def welch_t(a, b) -> TTest:
    """Welch's t-test with Welch–Satterthwaite df (``scipy.stats.ttest_ind(equal_var=False)``)."""
    return _ttest_ind(a, b, equal_var=False)


def paired_t(a, b) -> TTest:
    """Paired t-test on per-fact values aligned by position (``scipy.stats.ttest_rel``), df = n − 1.
    Fewer than 2 pairs -> all NaN."""
    a, b = as_sample(a, "a"), as_sample(b, "b")
    if a.size != b.size:
        raise ValueError(f"paired samples must have one length, got {a.size} and {b.size}")
    if a.size < 2:
        return TTest(NAN, NAN, NAN)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = _st.ttest_rel(a, b)
    return TTest(float(result.statistic), float(result.pvalue), float(a.size - 1))


def compare_paired(a: dict, b: dict, method_a: str = "", method_b: str = "", metric: str = "") -> dict:
    """A ``comparisons`` record on the facts both sides have: ``a`` and ``b`` map fact id -> value
    (NaN and None count as missing). The record has ``compare_groups``' fields over that common
    set (so n_a = n_b = n_pairs) plus the paired t-test (``paired_t``, ``paired_p``), which is the
    test to read: the two methods are measured on the same facts."""
    def finite(x):
        return x is not None and np.isfinite(x)

    common = sorted(k for k in a.keys() & b.keys() if finite(a[k]) and finite(b[k]))
    xa = np.array([a[k] for k in common], dtype=float)
    xb = np.array([b[k] for k in common], dtype=float)
    record = compare_groups(xa, xb, method_a, method_b, metric)
    paired = paired_t(xa, xb)
    record.update(paired_t=paired.statistic, paired_p=paired.pvalue, n_pairs=int(xa.size))
    return record


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
