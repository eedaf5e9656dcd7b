"""Changes in answer probability: ΔProb (000 §3.2), the outlier rule (000 App. A) and the
localisation success rate SR (002 §3.2, Eq. 11)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..stats import contains_zero, mean_ci, paired_bootstrap_ci

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


def _paired_changes(relevant_before, relevant_after, irrelevant_before, irrelevant_after,
                    operation: str, outlier_limit: float | None, irrelevant: str):
    """(relevant, irrelevant) ``intended_change`` of every pair and the mask of pairs kept."""
    if irrelevant not in ("signed", "absolute"):
        raise ValueError(f"irrelevant must be 'signed' or 'absolute', got {irrelevant!r}")
    rel = np.atleast_1d(intended_change(relevant_before, relevant_after, operation))
    irr = np.atleast_1d(intended_change(irrelevant_before, irrelevant_after, operation))
    if rel.shape != irr.shape:
        raise ValueError(f"relevant and irrelevant inputs must pair up, got {rel.size} and {irr.size}")
    keep = np.ones(rel.shape, dtype=bool)
    if outlier_limit is not None:  # is_outlier([r, i]) for every pair, vectorised for the bootstrap
        with np.errstate(invalid="ignore"):
            keep = (np.isfinite(rel) & np.isfinite(irr)
                    & (np.abs(rel) <= outlier_limit) & (np.abs(irr) <= outlier_limit))
    return rel, (np.abs(irr) if irrelevant == "absolute" else irr), keep


def success_rate_pairs(relevant_before, relevant_after, irrelevant_before, irrelevant_after,
                       operation: str, outlier_limit: float | None = None,
                       irrelevant: str = "signed") -> tuple[np.ndarray, np.ndarray]:
    """The kept (relevant, irrelevant) ``intended_change`` pairs behind SR_x (see
    ``success_rate_x``): a pair is dropped when either |ΔProb| exceeds ``outlier_limit`` or is
    not finite; ``irrelevant='absolute'`` takes |ΔProb| of the irrelevant facts."""
    rel, irr, keep = _paired_changes(relevant_before, relevant_after, irrelevant_before,
                                     irrelevant_after, operation, outlier_limit, irrelevant)
    return rel[keep], irr[keep]


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
    no pair kept or a zero denominator -> NaN. Whether the denominator is distinguishable from 0
    at all is ``success_rate_report``'s question.
    """
    rel, irr = success_rate_pairs(relevant_before, relevant_after, irrelevant_before,
                                  irrelevant_after, operation, outlier_limit, irrelevant)
    if rel.size == 0:
        return NAN, 0
    denominator = float(irr.mean())
    if denominator == 0.0 or not np.isfinite(denominator):
        return NAN, int(rel.size)
    return float(rel.mean()) / denominator, int(rel.size)


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


class Estimate(NamedTuple):
    """One reported number: value with its 95 % CI over ``n`` facts, or ``undefined`` naming why
    there is no number (value and bounds are then None)."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    undefined: str | None = None


ZERO_CI = "irrelevant ΔProb CI contains 0"
FEW_PAIRS = "too few pairs for an irrelevant ΔProb CI"


def _denominator_problem(irr: np.ndarray, confidence: float) -> tuple[str, str] | None:
    """Why SR_x's denominator, the mean irrelevant ΔProb, cannot divide, as (kind, detail), or
    None when its CI excludes 0. A t interval **(choice: t rather than bootstrap, the more cautious
    of the two at the few facts of a CPU run)**; fewer than 2 pairs have no CI at all."""
    if irr.size < 2:
        return FEW_PAIRS, f"{irr.size} kept"
    interval = mean_ci(irr, confidence)
    if contains_zero(interval):
        return ZERO_CI, f"[{interval.low:.2g}, {interval.high:.2g}]"
    return None


def _reason(problems: dict[str, tuple[str, str]]) -> str | None:
    """"irrelevant ΔProb CI contains 0 (enh [-0.0043, 0.0081], sup [...])" and the like."""
    parts = []
    for kind in (ZERO_CI, FEW_PAIRS):
        details = [f"{op} {detail}" for op, (k, detail) in problems.items() if k == kind]
        if details:
            parts.append(f"{kind} ({', '.join(details)})")
    return "; ".join(parts) or None


def _estimate(interval, n: int, undefined: str | None = None) -> Estimate:
    if undefined is not None:
        return Estimate(None, None, None, n, undefined)

    def clean(x):
        return None if x is None or not np.isfinite(x) else float(x)
    return Estimate(clean(interval.estimate), clean(interval.low), clean(interval.high), n)


def success_rate_report(relevant_before, relevant_enhanced, relevant_suppressed,
                        irrelevant_before, irrelevant_enhanced, irrelevant_suppressed,
                        outlier_limit: float | None = None, irrelevant: str = "signed",
                        confidence: float = 0.95, n_resamples: int = 1000,
                        seed: int | None = 0) -> dict[str, Estimate]:
    """The paper's SR with its uncertainty, and a companion that never explodes.

    - ``SR``, ``SR_enh``, ``SR_sup``: 002's ratios (``success_rate``) with percentile bootstrap
      CIs over facts (the arrays are resampled together, ``paired_bootstrap_ci``, seeded). SR_x
      is **undefined** when the 95 % t interval of its denominator, the mean irrelevant ΔProb,
      contains 0: the ratio then has no stable sign or size (the "SR = −906.5" of issue 13).
      SR is undefined when either of its terms is.
    - ``rel_minus_irr_enh``, ``rel_minus_irr_sup``: the mean paired difference
      ΔProb_rel,x − ΔProb_irr,x over the same kept pairs, with its t interval (a paired t
      interval): > 0 means the edit moved the fact more than an unrelated one.
      ``rel_minus_irr`` is their per-fact sum over facts kept in both, as SR sums its terms.
    """
    args = (relevant_before, relevant_enhanced, relevant_suppressed, irrelevant_before,
            irrelevant_enhanced, irrelevant_suppressed)
    arrays = [np.atleast_1d(np.asarray(a, dtype=float)) for a in args]
    rel_b, rel_e, rel_s, irr_b, irr_e, irr_s = arrays
    ops = {"enh": ("enhance", rel_e, irr_e), "sup": ("suppress", rel_s, irr_s)}
    report: dict[str, Estimate] = {}
    problems: dict[str, tuple[str, str]] = {}
    for short, (operation, rel_a, irr_a) in ops.items():
        rel, irr = success_rate_pairs(rel_b, rel_a, irr_b, irr_a, operation, outlier_limit, irrelevant)
        problem = _denominator_problem(irr, confidence)
        if problem:
            problems[short] = problem

        def sr_x(rb, ra, ib, ia, operation=operation):
            return success_rate_x(rb, ra, ib, ia, operation, outlier_limit, irrelevant)[0]

        interval = None if problem else paired_bootstrap_ci((rel_b, rel_a, irr_b, irr_a), sr_x,
                                                            confidence, n_resamples, seed)
        report[f"SR_{short}"] = _estimate(interval, int(rel.size), _reason({short: problem} if problem else {}))
        report[f"rel_minus_irr_{short}"] = _estimate(mean_ci(rel - irr, confidence), int(rel.size))

    def sr(*columns):
        return success_rate(*columns, outlier_limit=outlier_limit, irrelevant=irrelevant).sr

    interval = None if problems else paired_bootstrap_ci(tuple(arrays), sr, confidence, n_resamples, seed)
    report["SR"] = _estimate(interval, int(rel_b.size), _reason(problems))
    per_op = [_paired_changes(rel_b, rel_a, irr_b, irr_a, operation, outlier_limit, irrelevant)
              for operation, rel_a, irr_a in ops.values()]
    both = per_op[0][2] & per_op[1][2]  # per fact, so both terms come from the same facts
    total = sum(rel[both] - irr[both] for rel, irr, _ in per_op)
    report["rel_minus_irr"] = _estimate(mean_ci(total, confidence), int(both.sum()))
    return {name: report[name] for name in REPORTED}


REPORTED = ("SR", "SR_enh", "SR_sup", "rel_minus_irr", "rel_minus_irr_enh", "rel_minus_irr_sup")
