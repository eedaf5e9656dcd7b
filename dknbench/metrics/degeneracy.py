"""Generalized Curvature Ratio (000 §3.2, Eq. 11): how "sudden" the drop is when the last of a
DKN's n basic degenerate components is suppressed, relative to suppressing fewer of them."""

from __future__ import annotations

import numpy as np

NAN = float("nan")


def gcr(delta_probs_by_k) -> float:
    """GCR of one DKN set from ``delta_probs_by_k[k-1]`` = ΔProb after suppressing k of its n
    components, k = 1..n (averaged over k-subsets by the task).

    n ≥ 3: GCR = |ΔProb_n − μ(ΔProb_1..n−1)| / σ(ΔProb_1..n−1), σ the population SD (ddof 0,
    SPEC §4 **(choice)**). n = 2: σ of one value is 0, so the paper defines GCR = |ΔProb_2 − ΔProb_1|.
    n < 2 has no partial suppression and gives NaN. A zero σ with n ≥ 3 (all partial drops equal)
    gives +inf, or NaN when ΔProb_n equals them too: the ratio is undefined and the caller decides
    whether to drop it.
    """
    values = np.asarray(delta_probs_by_k, dtype=float).ravel()
    n = values.size
    if n < 2:
        return NAN
    last, partial = values[-1], values[:-1]
    numerator = abs(last - partial.mean())
    if n == 2:
        return float(numerator)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(numerator) / np.float64(partial.std(ddof=0)))
