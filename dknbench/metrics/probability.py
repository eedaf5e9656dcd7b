"""Changes in answer probability: ΔProb (000 §3.2), the outlier rule (000 App. A) and the
localisation success rate SR (002 §3.2, Eq. 11)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..stats import CI_BOOTSTRAP, CI_T, contains_zero, mean_ci, paired_bootstrap_cis

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
    """One reported number: value with its 95 % CI over ``n`` facts (``ci_method`` says how the CI
    was computed), or ``undefined`` naming why there is no number (value and bounds are then None)."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    undefined: str | None = None
    ci_method: str | None = None


ZERO_CI = "irrelevant ΔProb bootstrap CI contains 0"
FEW_PAIRS = "too few pairs for an irrelevant ΔProb CI"


def _reason(problems: dict[str, tuple[str, str]]) -> str | None:
    """"irrelevant ΔProb bootstrap CI contains 0 (enh [-0.0043, 0.0081], sup [...])" and the like."""
    parts = []
    for kind in (ZERO_CI, FEW_PAIRS):
        details = [f"{op} {detail}" for op, (k, detail) in problems.items() if k == kind]
        if details:
            parts.append(f"{kind} ({', '.join(details)})")
    return "; ".join(parts) or None


def _estimate(interval, n: int, undefined: str | None = None, ci_method: str | None = None) -> Estimate:
    if undefined is not None:
        return Estimate(None, None, None, n, undefined)

    def clean(x):
        return None if x is None or not np.isfinite(x) else float(x)
    low, high = clean(interval.low), clean(interval.high)
    return Estimate(clean(interval.estimate), low, high, n,
                    ci_method=ci_method if low is not None and high is not None else None)


def kept_pairs(relevant_before, relevant_enhanced, relevant_suppressed,
               irrelevant_before, irrelevant_enhanced, irrelevant_suppressed,
               outlier_limit: float | None = None) -> np.ndarray:
    """Per fact: True when both edits give finite relevant and irrelevant ΔProb within
    ``outlier_limit`` (None: finite only). A fact is dropped from both terms of SR together:
    000 App. A's reason for the rule, a jump that means the model never knew the fact, is a property
    of the fact, not of one edit, and SR's n is then one number, the pairs it used."""
    rel_b, rel_e, rel_s, irr_b, irr_e, irr_s = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (
        relevant_before, relevant_enhanced, relevant_suppressed, irrelevant_before, irrelevant_enhanced,
        irrelevant_suppressed))

    def ok(before, after, operation):
        change = np.atleast_1d(intended_change(before, after, operation))
        with np.errstate(invalid="ignore"):
            fine = np.isfinite(change)
            return fine if outlier_limit is None else fine & (np.abs(change) <= outlier_limit)

    return (ok(rel_b, rel_e, "enhance") & ok(irr_b, irr_e, "enhance")
            & ok(rel_b, rel_s, "suppress") & ok(irr_b, irr_s, "suppress"))


def success_rate_report(relevant_before, relevant_enhanced, relevant_suppressed,
                        irrelevant_before, irrelevant_enhanced, irrelevant_suppressed,
                        outlier_limit: float | None = None, irrelevant: str = "signed",
                        confidence: float = 0.95, n_resamples: int = 1000,
                        seed: int | None = 0) -> dict[str, Estimate]:
    """The paper's SR with its uncertainty, and a companion that never explodes.

    Every number uses the same pairs: the facts ``kept_pairs`` keeps (both edits finite and within
    ``outlier_limit``); each record's n is their count.

    - ``SR``, ``SR_enh``, ``SR_sup``: 002's ratios (``success_rate``) with percentile bootstrap
      CIs over facts (the arrays are resampled together, seeded). SR_x is **undefined** when the
      bootstrap CI of its denominator, the mean irrelevant ΔProb, contains 0: the ratio then has no
      stable sign or size (the "SR = −906.5" of issue 13). Rule and CI are one bootstrap
      (``paired_bootstrap_cis``): the same resamples of facts give the denominators' and the
      ratios' intervals (at 95 %, a ratio is defined when at least 97.5 % of them keep its
      denominator's sign), where a t rule on the denominator beside a bootstrap CI let a ratio pass
      whose own CI spanned 0 (issue 26: atp). SR is undefined when either of its terms is.
    - ``rel_minus_irr_enh``, ``rel_minus_irr_sup``: the mean paired difference
      ΔProb_rel,x − ΔProb_irr,x with its t interval (a paired t interval): > 0 means the edit moved
      the fact more than an unrelated one. ``rel_minus_irr`` is their per-fact sum, as SR sums its
      terms.
    """
    args = (relevant_before, relevant_enhanced, relevant_suppressed, irrelevant_before,
            irrelevant_enhanced, irrelevant_suppressed)
    keep = kept_pairs(*args, outlier_limit=outlier_limit)
    arrays = [np.atleast_1d(np.asarray(a, dtype=float))[keep] for a in args]
    n = int(keep.sum())
    rel_b, rel_e, rel_s, irr_b, irr_e, irr_s = arrays
    ops = {"enh": ("enhance", rel_e, irr_e), "sup": ("suppress", rel_s, irr_s)}
    changes = {short: success_rate_pairs(rel_b, rel_a, irr_b, irr_a, operation, None, irrelevant)
               for short, (operation, rel_a, irr_a) in ops.items()}

    def statistics(rb, re, rs, ib, ie, is_):
        """(denominator enh, denominator sup, SR_enh, SR_sup, SR) of one resample of facts."""
        out = []
        for operation, ra, ia in (("enhance", re, ie), ("suppress", rs, is_)):
            out.append(float(success_rate_pairs(rb, ra, ib, ia, operation, None, irrelevant)[1].mean()))
        terms = [success_rate_x(rb, ra, ib, ia, op, None, irrelevant)[0]
                 for op, ra, ia in (("enhance", re, ie), ("suppress", rs, is_))]
        return out + terms + [terms[0] + terms[1]]

    report: dict[str, Estimate] = {}
    problems: dict[str, tuple[str, str]] = {}
    intervals = paired_bootstrap_cis(arrays, statistics, confidence, n_resamples, seed) if n else None
    for i, short in enumerate(ops):
        rel, irr = changes[short]
        if n < 2:
            problems[short] = (FEW_PAIRS, f"{n} kept")
        elif contains_zero(intervals[i]):
            problems[short] = (ZERO_CI, f"[{intervals[i].low:.2g}, {intervals[i].high:.2g}]")
        problem = problems.get(short)
        report[f"SR_{short}"] = _estimate(intervals[2 + i] if intervals else None, n,
                                          _reason({short: problem} if problem else {}), CI_BOOTSTRAP)
        report[f"rel_minus_irr_{short}"] = _estimate(mean_ci(rel - irr, confidence), n, ci_method=CI_T)
    report["SR"] = _estimate(intervals[4] if intervals else None, n, _reason(problems), CI_BOOTSTRAP)
    total = sum(rel - irr for rel, irr in changes.values())
    report["rel_minus_irr"] = _estimate(mean_ci(np.atleast_1d(total), confidence), n, ci_method=CI_T)
    return {name: report[name] for name in REPORTED}


REPORTED = ("SR", "SR_enh", "SR_sup", "rel_minus_irr", "rel_minus_irr_enh", "rel_minus_irr_sup")
