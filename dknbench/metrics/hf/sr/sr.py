"""Localisation success rate SR = SR_enhance + SR_suppress (Chen et al., AAAI 2024, Eq. 11)."""

import datasets
import evaluate

from dknbench.metrics import success_rate

_CITATION = """\
@inproceedings{chen2024journey,
  title={Journey to the Center of the Knowledge Neurons: Discoveries of Language-Independent
         Knowledge Neurons and Degenerate Knowledge Neurons},
  author={Chen, Yuheng and Cao, Pengfei and Chen, Yubo and Liu, Kang and Zhao, Jun},
  booktitle={AAAI}, year={2024}}
"""

_DESCRIPTION = """\
SR_x = ΔProb_r,x / ΔProb_i,x for x in {enhance, suppress}: the mean relative change of the answer
probability of the query whose knowledge neurons were edited (relevant), divided by that of a fact
of another relation under the same edit (irrelevant). SR is their sum; higher is better.
"""

_KWARGS_DESCRIPTION = """\
Args (one row per query, aligned):
    relevant_before, relevant_enhanced, relevant_suppressed: Prob(answer) of the query before the
        edit, with its KNs enhanced, with its KNs suppressed.
    irrelevant_before, irrelevant_enhanced, irrelevant_suppressed: the same for the paired fact.
    outlier_limit: drop pairs whose |ΔProb| exceeds it (default None: keep all).
    irrelevant: "signed" (default) or "absolute" mean change of the irrelevant facts.
Returns: SR, SR_enhance, SR_suppress, n_enhance, n_suppress (pairs kept).
"""

_COLUMNS = ["relevant_before", "relevant_enhanced", "relevant_suppressed",
            "irrelevant_before", "irrelevant_enhanced", "irrelevant_suppressed"]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Sr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({name: datasets.Value("float64") for name in _COLUMNS}),
        )

    def _compute(self, relevant_before, relevant_enhanced, relevant_suppressed, irrelevant_before,
                 irrelevant_enhanced, irrelevant_suppressed, outlier_limit=None, irrelevant="signed"):
        result = success_rate(relevant_before, relevant_enhanced, relevant_suppressed, irrelevant_before,
                              irrelevant_enhanced, irrelevant_suppressed, outlier_limit=outlier_limit,
                              irrelevant=irrelevant)
        return {"SR": result.sr, "SR_enhance": result.sr_enhance, "SR_suppress": result.sr_suppress,
                "n_enhance": result.n_enhance, "n_suppress": result.n_suppress}
