"""Relative perplexity increase caused by an edit, ΔPPL = (PPL_a − PPL_b) / PPL_b (Chen et al.,
"Knowledge Localization: Mission Not Accomplished?", §2.2)."""

import math

import datasets
import evaluate

from dknbench.metrics import perplexity_delta

_CITATION = """\
@article{chen-knowledge-localization,
  title={Knowledge Localization: Mission Not Accomplished? Enter Query Localization!},
  author={Chen, Yuheng and Cao, Pengfei and Chen, Yubo and Liu, Kang and Zhao, Jun}}
"""

_DESCRIPTION = """\
ΔPPL measures how much an edit damages general language modelling: the relative rise of the
perplexity on a few WikiText-2 rows after (a) versus before (b) the edit. Lower is better.
"""

_KWARGS_DESCRIPTION = """\
Args (one row per text or per edit):
    ppl_before: perplexity of the unedited model.
    ppl_after: perplexity of the edited model.
Returns: delta_ppl (mean of the per-row ΔPPL), per_row.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DeltaPpl(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"ppl_before": datasets.Value("float64"),
                                        "ppl_after": datasets.Value("float64")}),
        )

    def _compute(self, ppl_before, ppl_after):
        per_row = [float(v) for v in perplexity_delta(list(ppl_before), list(ppl_after))]
        return {"delta_ppl": sum(per_row) / len(per_row) if per_row else math.nan, "per_row": per_row}
