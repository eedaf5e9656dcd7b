"""Statistics used to compare methods (000 App. G, 003 §2.1): t-tests, effect sizes, intervals, Otsu.

Everything here is plain numpy/scipy over 1-D samples and agrees with ``scipy.stats`` /
``statsmodels`` to 1e-9 (tests/test_stats.py); the bootstrap intervals are thin wrappers of
``scipy.stats.bootstrap``. Degenerate input (a group with fewer than two
values) gives NaN results instead of an exception, because a task that localised too few facts
should still write its summary and let the reader see the NaN.
"""

from .effect import cohens_d, hedges_g
from .intervals import Interval, bootstrap_ci, contains_zero, mean_ci, paired_bootstrap_ci
from .ttest import TTest, compare_groups, student_t, welch_t
from .threshold import otsu_threshold

__all__ = [
    "Interval",
    "TTest",
    "bootstrap_ci",
    "cohens_d",
    "compare_groups",
    "contains_zero",
    "hedges_g",
    "mean_ci",
    "otsu_threshold",
    "paired_bootstrap_ci",
    "student_t",
    "welch_t",
]
