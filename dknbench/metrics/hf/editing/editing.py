"""Knowledge-editing scores Reliability, Generalization, Locality (Chen et al., "Knowledge
Localization: Mission Not Accomplished?", §2.2 and Appendix A.5)."""

import datasets
import evaluate

from dknbench.metrics import edit_scores

_CITATION = """\
@article{chen-knowledge-localization,
  title={Knowledge Localization: Mission Not Accomplished? Enter Query Localization!},
  author={Chen, Yuheng and Cao, Pengfei and Chen, Yubo and Liu, Kang and Zhao, Jun}}
"""

_DESCRIPTION = """\
Rel: accuracy of the edited model on the edited queries; Gen: on their neighbour (paraphrase)
queries; Loc: share of unrelated queries whose prediction is unchanged by the edit. For an erasure
Rel and Gen are inverted (1 − accuracy) so that every score is higher-is-better. Avg is their mean.
"""

_KWARGS_DESCRIPTION = """\
Args (one row per prompt):
    predictions: the edited model's prediction.
    references: for kind "rel"/"gen" the target answer (new object for an update, the erased object
        for an erasure); for kind "loc" the unedited model's prediction on the same prompt.
    kind: "rel", "gen" or "loc".
    operation: "update" (default) or "erasure".
Returns: Rel, Gen, Loc, Avg.
"""

_KINDS = ("rel", "gen", "loc")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Editing(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string"),
                                        "kind": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, kind, operation="update"):
        unknown = sorted(set(kind) - set(_KINDS))
        if unknown:
            raise ValueError(f"kind {unknown[0]!r} is not one of {', '.join(_KINDS)}")
        split = {k: ([p for p, t in zip(predictions, kind) if t == k],
                     [r for r, t in zip(references, kind) if t == k]) for k in _KINDS}
        scores = edit_scores(*split["rel"], *split["gen"], *split["loc"], operation=operation)
        return {"Rel": scores.reliability, "Gen": scores.generalization, "Loc": scores.locality,
                "Avg": scores.average}
