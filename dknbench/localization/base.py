"""Localizer interface and registry.

A localizer turns one query into attribution scores for every neuron ([n_layers, n_neurons]);
knowledge neurons (KNs) are the neurons scoring above ``tau * max`` (adaptive threshold).

Localizers follow the estimator conventions of the DKN methods (``dkn/base.py``,
``dknbench/hyperparams.py``): the constructor's parameters are the hyper-parameters, stored
unchanged; ``hyperparameters`` on the class declares their allowed values, checked by
``check_params`` (``build_localizer`` and ``KNLocator`` call it before any scoring); ``get_params``
returns them all, ``params`` only those that change the scores (the attribution cache key). Every
localizer is called the same way, ``scores(engine, encoded, subject=None)``: the fact's subject is
always passed, and only localizers that corrupt it (``needs_subject``) read it.
"""

from __future__ import annotations

import numpy as np

from ..hyperparams import Param, check_params, get_params
from ..registry import Registry

Neuron = tuple[int, int]


class Localizer:
    """Base class: subclasses implement ``scores``; hyper-parameters are constructor kwargs.
    ``@LOCALIZERS.register("name")`` on a subclass in a module of this package registers it and
    sets its ``name``."""

    name = "base"
    uses_gradients = True
    needs_subject = False  # True: the scores depend on the fact's subject (it enters the cache key)
    hyperparameters = {"tau": Param(low=0.0, high=1.0, low_open=True, help="KN threshold: score > tau * max"),
                       "steps": Param(low=1, integer=True, help="IG Riemann steps")}

    def __init__(self, tau: float = 0.2, steps: int = 20):
        self.tau, self.steps = tau, steps

    def get_params(self) -> dict:
        return get_params(self)

    def check_params(self, where: dict | None = None) -> "Localizer":
        """Refuse stored values outside the class's declaration (ConfigError); returns self."""
        check_params(self, where=where)
        return self

    def params(self) -> dict:
        """Everything that changes the scores (part of the attribution cache key)."""
        return {"steps": self.steps}

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        raise NotImplementedError

    def select(self, scores: np.ndarray, tau: float | None = None) -> list[Neuron]:
        """Neurons with score > tau * max score (Dai et al.'s adaptive threshold)."""
        return select_above(scores, self.tau if tau is None else tau)


# every module of dknbench.localization is imported on the first lookup (dknbench/registry.py)
LOCALIZERS = Registry("localizer", base=Localizer, package=__package__, name_attribute="name")


def select_above(scores: np.ndarray, tau: float) -> list[Neuron]:
    peak = float(np.max(scores)) if scores.size else 0.0
    if peak <= 0:
        return []
    layers, indices = np.nonzero(scores > tau * peak)
    return sorted(zip(layers.tolist(), indices.tolist()))


def refine_across_queries(query_kns: list[list[Neuron]], p: float = 0.5) -> list[Neuron]:
    """Dai et al.'s cross-query refinement: keep neurons shared by more than p of the queries."""
    if not query_kns:
        return []
    counts: dict[Neuron, int] = {}
    for kns in query_kns:
        for neuron in set(kns):
            counts[neuron] = counts.get(neuron, 0) + 1
    need = p * len(query_kns)
    return sorted(n for n, c in counts.items() if c > need)
