"""Localizer interface and registry.

A localizer turns one query into attribution scores for every neuron ([n_layers, n_neurons]);
knowledge neurons (KNs) are the neurons scoring above ``tau * max`` (adaptive threshold).
"""

from __future__ import annotations

import numpy as np

from ..registry import Registry

LOCALIZERS = Registry("localizer")

Neuron = tuple[int, int]


class Localizer:
    """Base class: subclasses implement ``scores``; hyper-parameters are constructor kwargs."""

    name = "base"
    uses_gradients = True
    needs_subject = False  # True: ``scores(engine, encoded, subject=...)`` needs the fact's subject

    def __init__(self, tau: float = 0.2, steps: int = 20):
        if not 0 < tau <= 1:
            raise ValueError(f"tau must be in (0, 1], got {tau}")
        self.tau, self.steps = tau, steps

    def params(self) -> dict:
        """Everything that changes the scores (part of the attribution cache key)."""
        return {"steps": self.steps}

    def scores(self, engine, encoded) -> np.ndarray:
        raise NotImplementedError

    def select(self, scores: np.ndarray, tau: float | None = None) -> list[Neuron]:
        """Neurons with score > tau * max score (Dai et al.'s adaptive threshold)."""
        return select_above(scores, self.tau if tau is None else tau)


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
