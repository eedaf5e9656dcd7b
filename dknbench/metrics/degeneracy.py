"""Generalized Curvature Ratio (000 §3.2, Eq. 11): how "sudden" the drop is when the last of a
DKN's n basic degenerate components is suppressed, relative to suppressing fewer of them."""

from __future__ import annotations

import math

import numpy as np

NAN = float("nan")

# ΔProb is a fraction (0.45 = a 45 % drop). 000 reports the n = 2 GCR, |ΔProb_2 − ΔProb_1|, in
# percentage points: Table 1's 45.10 and the Fig. 4 text (partial suppression < 20 %, full
# 40-60 %) only fit that unit, as the papers' "900 %" outlier limit is read as 9 (is_outlier).
PERCENT = 100.0


def gcr(delta_probs_by_k) -> float:
    """GCR of one DKN set from ``delta_probs_by_k[k-1]`` = ΔProb after suppressing k of its n
    components, k = 1..n (averaged over k-subsets by the task), ΔProb as a fraction.

    n ≥ 3: GCR = |ΔProb_n − μ(ΔProb_1..n−1)| / σ(ΔProb_1..n−1), σ the population SD (ddof 0,
    SPEC §4 **(choice)**); scale-free. n = 2: σ of one value is 0, so the paper defines GCR =
    |ΔProb_2 − ΔProb_1|, returned in percentage points (x 100, the unit of 000 Table 1).
    n < 2 has no partial suppression and gives NaN. A zero σ with n ≥ 3 (all partial drops equal)
    gives +inf, or NaN when ΔProb_n equals them too: see :func:`gcr_undefined_reason`.
    """
    values = np.asarray(delta_probs_by_k, dtype=float).ravel()
    n = values.size
    if n < 2:
        return NAN
    last, partial = values[-1], values[:-1]
    numerator = abs(last - partial.mean())
    if n == 2:
        return float(PERCENT * numerator)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(numerator) / np.float64(partial.std(ddof=0)))


def gcr_undefined_reason(delta_probs_by_k) -> str | None:
    """Why the GCR of this curve is undefined (a reason string), or None when it is a number."""
    values = np.asarray(delta_probs_by_k, dtype=float).ravel()
    if values.size < 2:
        return "fewer_than_2_components"
    if not np.isfinite(values).all():
        return "non_finite_delta_prob"
    if not math.isfinite(gcr(values)):
        return "zero_sigma"  # n >= 3 with every partial ΔProb equal: the ratio has no denominator
    return None
