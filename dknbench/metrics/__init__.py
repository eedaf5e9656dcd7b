"""The papers' formulas as pure functions over numbers and sets (no model code).

Tasks measure probabilities, predictions and neuron sets; these functions turn them into the
numbers the papers report, so that one definition serves the tasks, the ``evaluate`` metric
modules (dknbench/metrics/hf) and the tests. References: 000 = DKN/GCR paper,
002 = AMIG paper, 003 = query-localization paper; docs/SPEC.md §4 for the choices made.
"""

from .classification import PRF, precision_recall_f1
from .consistency import consistency_scores
from .degeneracy import gcr
from .editing import EditScores, accuracy, edit_scores, perplexity_delta
from .probability import (
    Estimate,
    SuccessRate,
    delta_prob,
    intended_change,
    is_outlier,
    kept_pairs,
    success_rate,
    success_rate_pairs,
    success_rate_report,
    success_rate_x,
)

__all__ = [
    "EditScores",
    "Estimate",
    "PRF",
    "SuccessRate",
    "accuracy",
    "consistency_scores",
    "delta_prob",
    "edit_scores",
    "gcr",
    "intended_change",
    "is_outlier",
    "kept_pairs",
    "perplexity_delta",
    "precision_recall_f1",
    "success_rate",
    "success_rate_pairs",
    "success_rate_report",
    "success_rate_x",
]
