"""Statistics used to compare methods (000 App. G, 003 §2.1): t-tests, effect sizes, intervals, Otsu.

Everything here is plain numpy/scipy over 1-D samples and agrees with ``scipy.stats`` /
``statsmodels`` to 1e-9 (tests/test_stats.py); the bootstrap intervals are thin wrappers of
``scipy.stats.bootstrap``. Degenerate input (a group with fewer than two
values) gives NaN results instead of an exception, because a task that localised too few facts
should still write its summary and let the reader see the NaN.
"""

from .effect import cohens_d, hedges_g
from .intervals import (
    CI_BOOTSTRAP,
    CI_T,
    CI_T_CLIPPED,
    CI_WELCH_T,
    Interval,
    bootstrap_ci,
    clipped_mean_ci,
    contains_zero,
    mean_ci,
    mean_of_means_ci,
    paired_bootstrap_ci,
    paired_bootstrap_cis,
)
from .ttest import TTest, compare_groups, compare_paired, paired_t, student_t, welch_t
from .threshold import otsu_threshold

__all__ = [
    "CI_BOOTSTRAP",
    "CI_T",
    "CI_T_CLIPPED",
    "CI_WELCH_T",
    "Interval",
    "TTest",
    "bootstrap_ci",
    "clipped_mean_ci",
    "cohens_d",
    "compare_groups",
    "compare_paired",
    "contains_zero",
    "hedges_g",
    "mean_ci",
    "mean_of_means_ci",
    "otsu_threshold",
    "paired_bootstrap_ci",
    "paired_bootstrap_cis",
    "paired_t",
    "student_t",
    "welch_t",
]
