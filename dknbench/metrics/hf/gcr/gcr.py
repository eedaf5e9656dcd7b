"""Generalized Curvature Ratio of degenerate knowledge neurons (Chen et al., 000 §3.2, Eq. 11)."""

import math

import datasets
import evaluate

from dknbench.metrics import gcr, is_outlier

_CITATION = """\
Chen et al., "Cracking Factual Knowledge: Degenerate Knowledge Neurons" (paper 000 of the dknbench
corpus, docs/SPEC.md), §3.2, Eq. 11 and Table 1.
"""

_DESCRIPTION = """\
For a DKN set of n basic degenerate components, ΔProb_k is the relative drop of the answer
probability when k of them are suppressed. GCR = |ΔProb_n − μ(ΔProb_1..n−1)| / σ(ΔProb_1..n−1)
(σ with ddof 0); for n = 2, GCR = |ΔProb_2 − ΔProb_1| in percentage points (000 Table 1). Higher means a sharper "sudden change",
i.e. stronger degeneracy.
"""

_KWARGS_DESCRIPTION = """\
Args:
    delta_probs: one list per DKN set, [ΔProb_1, ..., ΔProb_n] (n >= 2).
    outlier_limit: sets with any |ΔProb| above it are dropped (default 9, the papers' "900").
Returns:
    GCR: mean GCR over the kept sets with a finite GCR; n: how many that is; n_outliers: dropped
    sets; n_undefined: kept sets whose GCR is NaN/inf (n < 2 or zero σ); per_set: each set's GCR
    (NaN for dropped ones).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Gcr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"delta_probs": datasets.Sequence(datasets.Value("float64"))}),
        )

    def _compute(self, delta_probs, outlier_limit=9.0):
        per_set, outliers = [], 0
        for values in delta_probs:
            if is_outlier(values, outlier_limit):
                outliers += 1
                per_set.append(math.nan)
            else:
                per_set.append(gcr(values))
        finite = [v for v in per_set if math.isfinite(v)]
        return {
            "GCR": sum(finite) / len(finite) if finite else math.nan,
            "n": len(finite),
            "n_outliers": outliers,
            "n_undefined": len(per_set) - outliers - len(finite),
            "per_set": per_set,
        }
