"""Knowledge-editing scores (003 §2.2 and A.5, Eq. 23–25) and the general-capability cost ΔPPL."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

NAN = float("nan")


def accuracy(predictions: Sequence, targets: Sequence) -> float:
    """Share of positions where the prediction equals the target (exact match); empty -> NaN."""
    if len(predictions) != len(targets):
        raise ValueError(f"predictions and targets differ in length: {len(predictions)} vs {len(targets)}")
    if not len(predictions):
        return NAN
    return sum(1 for p, t in zip(predictions, targets) if p == t) / len(predictions)


class EditScores(NamedTuple):
    reliability: float
    generalization: float
    locality: float
    average: float


def edit_scores(rel_predictions, rel_targets, gen_predictions, gen_targets,
                loc_predictions_after, loc_predictions_before, operation: str = "update") -> EditScores:
    """Rel, Gen, Loc and their average for one edit (or a batch of edits, pooled).

    Reliability (Eq. 23): accuracy of the edited model on the edited query; Generalization (Eq. 24):
    on the neighbour queries; Locality (Eq. 25): share of unrelated queries whose prediction did
    not change. ``operation='update'``: targets are the new object o'. ``operation='erasure'``:
    targets are the erased object o and Rel/Gen are inverted (1 − accuracy, 003 §2.2) so that all
    three are "higher is better". Empty groups give NaN, and the average then is NaN too.
    """
    if operation not in ("update", "erasure"):
        raise ValueError(f"operation must be 'update' or 'erasure', got {operation!r}")
    rel = accuracy(rel_predictions, rel_targets)
    gen = accuracy(gen_predictions, gen_targets)
    loc = accuracy(loc_predictions_after, loc_predictions_before)
    if operation == "erasure":
        rel, gen = 1.0 - rel, 1.0 - gen
    return EditScores(rel, gen, loc, float(np.mean([rel, gen, loc])))


def perplexity_delta(ppl_before, ppl_after):
    """ΔPPL = (PPL_a − PPL_b) / PPL_b (003 §2.2): the relative rise in perplexity an edit causes
    (lower is better). Scalars give a float, arrays an array."""
    b, a = np.asarray(ppl_before, dtype=float), np.asarray(ppl_after, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / b
    return float(out) if out.ndim == 0 else out
