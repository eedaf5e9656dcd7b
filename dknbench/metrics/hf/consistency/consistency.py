"""KN consistency scores CS1 and CS2 (Chen et al., "Knowledge Localization: Mission Not
Accomplished?", §2.1, Eq. 1)."""

import math

import datasets
import evaluate

from dknbench.metrics import consistency_scores

_CITATION = """\
@article{chen-knowledge-localization,
  title={Knowledge Localization: Mission Not Accomplished? Enter Query Localization!},
  author={Chen, Yuheng and Cao, Pengfei and Chen, Yubo and Liu, Kang and Zhao, Jun}}
"""

_DESCRIPTION = """\
For the KN sets N_1..N_k that a localiser finds for the k queries of one fact,
CS1 = |∩ N_i| / |∪ N_i| and CS2 = |{n in more than one N_i}| / |∪ N_i|. Facts with high scores
follow the knowledge-localization assumption (K_I), low ones do not (K_II).
"""

_KWARGS_DESCRIPTION = """\
Args:
    neuron_sets: one entry per fact: a list of the queries' KN sets, each a list of
        [layer, index] pairs.
Returns:
    CS1, CS2: means over the facts with at least one KN; n: that number of facts;
    per_fact_cs1, per_fact_cs2: each fact's scores (NaN when it has no KN).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Consistency(evaluate.Metric):
    def _info(self):
        neuron = datasets.Sequence(datasets.Value("int64"))
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"neuron_sets": datasets.Sequence(datasets.Sequence(neuron))}),
        )

    def _compute(self, neuron_sets):
        scores = [consistency_scores(sets) for sets in neuron_sets]
        defined = [s for s in scores if not math.isnan(s[0])]
        cs1 = sum(s[0] for s in defined) / len(defined) if defined else math.nan
        cs2 = sum(s[1] for s in defined) / len(defined) if defined else math.nan
        return {"CS1": cs1, "CS2": cs2, "n": len(defined),
                "per_fact_cs1": [s[0] for s in scores], "per_fact_cs2": [s[1] for s in scores]}
