"""Consistency-Aware Score (CAS, 003 §3.3, Eq. 7): fact-level KN selection across a fact's queries.

CAS_(l,p) = β1·μ_lp − β2·σ_lp, where μ and σ (population std, 1/k) are taken over the k queries'
*activation scores* as^(i)_lp of neuron (l, p). 003 calls the localizer's per-neuron attribution
scores "activation scores" (its localizers are IG variants, A.4); here they are the per-query
attribution scores of a registered localizer (by default zero-baseline IG, Dai et al.). Neurons
with CAS > threshold · max CAS are the fact's KNs (003 A.1: β1 = 0.7, β2 = 0.3, threshold 0.3).

Two entry points:
- ``cas_scores`` / ``cas_neurons``: the fact-level helpers the tasks call with the per-query
  score arrays of whatever localizer the run uses (cached attributions are reused).
- the registered localizer ``cas``: per query it returns the activation scores of its ``base``
  localizer (``ig`` by default), so ``KNLocator.query_scores`` caches them; its per-query KNs use
  the usual τ·max rule, and ``fact_kns`` applies CAS across a fact's queries.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..hyperparams import SHARE, Param
from .base import LOCALIZERS, Localizer, Neuron, select_above

BETA1, BETA2, THRESHOLD = 0.7, 0.3, 0.3


def cas_scores(per_query_scores: Sequence[np.ndarray], beta1: float = BETA1,
               beta2: float = BETA2) -> np.ndarray:
    """β1·mean − β2·std over queries (axis 0) of the stacked [k, n_layers, n_neurons] scores."""
    if len(per_query_scores) == 0:
        raise ValueError("CAS needs the scores of at least one query")
    stacked = np.stack([np.asarray(s, dtype=np.float64) for s in per_query_scores])
    return beta1 * stacked.mean(axis=0) - beta2 * stacked.std(axis=0)


def cas_neurons(per_query_scores: Sequence[np.ndarray], beta1: float = BETA1, beta2: float = BETA2,
                threshold: float = THRESHOLD) -> list[Neuron]:
    """Neurons whose CAS exceeds ``threshold`` × the maximum CAS (none when max CAS ≤ 0)."""
    if not 0 < threshold <= 1:
        raise ConfigError(f"cas_threshold must be in (0, 1], got {threshold}")
    return select_above(cas_scores(per_query_scores, beta1, beta2), threshold)


@LOCALIZERS.register("cas", description="Consistency-Aware Score (003 Eq. 7): β1·mean − β2·std of per-query IG "
                     "activation scores across a fact's queries, neurons > 0.3·max", kind="localizer")
class ConsistencyAwareScore(Localizer):
    """Per query: the ``base`` localizer's attribution scores; per fact: ``fact_kns`` (CAS)."""

    # cas_beta1/cas_beta2/cas_threshold: the names of the same CAS settings in the task options
    # (knowledge-editing's CAS rule reads them too), so one --set reaches both
    option_names = {"beta1": "cas_beta1", "beta2": "cas_beta2"}
    hyperparameters = {"beta1": SHARE, "beta2": SHARE,
                       "cas_threshold": Param(low=0.0, high=1.0, low_open=True, help="KNs: CAS > threshold * max"),
                       "base": Param(help="a registered localizer other than cas")}

    def __init__(self, tau: float = 0.2, steps: int = 20, beta1: float = BETA1, beta2: float = BETA2,
                 cas_threshold: float = THRESHOLD, base: str = "ig"):
        super().__init__(tau=tau, steps=steps)
        self.beta1, self.beta2, self.cas_threshold, self.base = beta1, beta2, cas_threshold, base

    def check_params(self, where: dict | None = None) -> "ConsistencyAwareScore":
        super().check_params(where)
        if self.base == "cas" or self.base not in LOCALIZERS:
            label = (where or {}).get("base", "cas parameter base")
            raise ConfigError(f"{label}: {self.base!r} is not allowed; give a registered localizer other "
                              f"than cas ({', '.join(n for n in LOCALIZERS.names() if n != 'cas')})")
        return self

    @property
    def base_localizer(self) -> Localizer:
        """The localizer whose per-query scores CAS aggregates (built with this tau and steps)."""
        from .locate import build_localizer

        return build_localizer(self.base, tau=self.tau, steps=self.steps)

    def params(self) -> dict:
        base = self.base_localizer
        return {"steps": self.steps, "base": base.name, **base.params()}

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        return self.base_localizer.scores(engine, encoded, subject=subject)

    def fact_kns(self, per_query_scores: Sequence[np.ndarray]) -> list[Neuron]:
        return cas_neurons(per_query_scores, self.beta1, self.beta2, self.cas_threshold)
