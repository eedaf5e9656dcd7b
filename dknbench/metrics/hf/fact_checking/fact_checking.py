"""Fact-checking precision, recall and F1 (Chen et al., AAAI 2024, §3.4, Table 3)."""

import datasets
import evaluate

from dknbench.metrics import precision_recall_f1

_CITATION = """\
@inproceedings{chen2024journey,
  title={Journey to the Center of the Knowledge Neurons: Discoveries of Language-Independent
         Knowledge Neurons and Degenerate Knowledge Neurons},
  author={Chen, Yuheng and Cao, Pengfei and Chen, Yubo and Liu, Kang and Zhao, Jun},
  booktitle={AAAI}, year={2024}}
"""

_DESCRIPTION = """\
A fact is judged correct (1) or wrong (0), e.g. by whether the mean activation of the relation's
degenerate knowledge neurons exceeds λ. Precision, recall and F1 of the "correct" class; a zero
denominator gives 0.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: 1 if the checker judges the fact correct, else 0.
    references: 1 if the fact is true, else 0.
Returns: precision, recall, f1, tp, fp, fn.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class FactChecking(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int32"),
                                        "references": datasets.Value("int32")}),
        )

    def _compute(self, predictions, references):
        result = precision_recall_f1(references, predictions)
        return {"precision": result.precision, "recall": result.recall, "f1": result.f1,
                "tp": result.tp, "fp": result.fp, "fn": result.fn}
