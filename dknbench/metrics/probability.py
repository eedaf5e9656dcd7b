"""Changes in answer probability: ΔProb (000 §3.2), the outlier rule (000 App. A) and the
localisation success rate SR (002 §3.2, Eq. 11)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

NAN = float("nan")
OPERATIONS = ("suppress", "enhance")


def delta_prob(before, after):
    """Relative drop ΔProb = (Prob_b − Prob_a) / Prob_b (000 §3.2; positive when the probability
    fell). Scalars give a float, arrays an array. Prob_b = 0 gives ±inf/NaN rather than an error,
    which ``is_outlier`` then flags."""
    b, a = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (b - a) / b
    return float(out) if out.ndim == 0 else out


def intended_change(before, after, operation: str):
    """ΔProb in the direction the operation aims for, so that success is positive for both:
    suppress -> (b − a)/b (a drop), enhance -> (a − b)/b (a rise); 003 §3.1 writes the same
    as ±(Prob_a − Prob_b)/Prob_b."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}")
    change = delta_prob(before, after)
    return change if operation == "suppress" else -change


def is_outlier(delta_probs, limit: float = 9.0) -> bool:
    """True when any |ΔProb| exceeds ``limit`` or is not finite.

    000 App. A drops facts with "ΔProb > 900" (per cent, i.e. 9 as a fraction): such a jump
    means the model never knew the fact (a tiny Prob_b), and the papers study known facts only.
    A non-finite change (Prob_b = 0) is the extreme case of the same thing.
    """
    values = np.atleast_1d(np.asarray(delta_probs, dtype=float))
    return bool(np.any(~np.isfinite(values)) or np.any(np.abs(values) > limit))


class SuccessRate(NamedTuple):
    sr: float
    sr_enhance: float
    sr_suppress: float
    n_enhance: int  # facts kept after the outlier rule
    n_suppress: int


def success_rate_x(relevant_before, relevant_after, irrelevant_before, irrelevant_after,
                   operation: str, outlier_limit: float | None = None,
                   irrelevant: str = "signed") -> tuple[float, int]:
    """SR_x = ΔProb_r,x / ΔProb_i,x (002 Eq. 11) for one operation x ∈ {suppress, enhance}.

    Each position i pairs a query (relevant fact) with a fact of another relation (irrelevant
    fact) under the same neuron edit. ΔProb_r,x and ΔProb_i,x are the mean ``intended_change``
    over the kept pairs. ``outlier_limit`` drops a pair whose relevant or irrelevant |ΔProb|
    exceeds it (002 footnote 2 excludes "extremely high" changes without a number; None keeps all).
    ``irrelevant='signed'`` **(choice)** uses the same signed change for both, as the paper's
    formula reads; ``'absolute'`` averages |ΔProb| of the irrelevant facts so that a side effect
    in the opposite direction also counts against the method. Returns (SR_x, pairs kept);
    no pair kept or a zero denominator -> NaN.
    """
    if irrelevant not in ("signed", "absolute"):
        raise ValueError(f"irrelevant must be 'signed' or 'absolute', got {irrelevant!r}")
    rel = np.atleast_1d(intended_change(relevant_before, relevant_after, operation))
    irr = np.atleast_1d(intended_change(irrelevant_before, irrelevant_after, operation))
    if rel.shape != irr.shape:
        raise ValueError(f"relevant and irrelevant inputs must pair up, got {rel.size} and {irr.size}")
    keep = np.ones(rel.shape, dtype=bool)
    if outlier_limit is not None:
        keep = np.array([not is_outlier([r, i], outlier_limit) for r, i in zip(rel, irr)], dtype=bool)
    if not keep.any():
        return NAN, 0
    rel, irr = rel[keep], irr[keep]
    if irrelevant == "absolute":
        irr = np.abs(irr)
    denominator = float(irr.mean())
    if denominator == 0.0 or not np.isfinite(denominator):
        return NAN, int(keep.sum())
    return float(rel.mean()) / denominator, int(keep.sum())


def success_rate(relevant_before, relevant_enhanced, relevant_suppressed,
                 irrelevant_before, irrelevant_enhanced, irrelevant_suppressed,
                 outlier_limit: float | None = None, irrelevant: str = "signed") -> SuccessRate:
    """SR = SR_enhance + SR_suppress (002 §3.2): the KNs are enhanced and suppressed separately and
    both success rates are summed. Inputs are aligned per query: the answer probability before
    the edit, after enhancing and after suppressing the query's KNs, for the query itself
    (relevant) and for its paired fact of another relation (irrelevant)."""
    enh, n_enh = success_rate_x(relevant_before, relevant_enhanced, irrelevant_before,
                                irrelevant_enhanced, "enhance", outlier_limit, irrelevant)
    sup, n_sup = success_rate_x(relevant_before, relevant_suppressed, irrelevant_before,
                                irrelevant_suppressed, "suppress", outlier_limit, irrelevant)
    return SuccessRate(enh + sup, enh, sup, n_enh, n_sup)
