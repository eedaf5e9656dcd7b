"""The floor every localizer must beat: neurons drawn uniformly at random (seeded)."""

from __future__ import annotations

import hashlib

import numpy as np

from ..hyperparams import Param
from .base import LOCALIZERS, Localizer, Neuron


@LOCALIZERS.register("random", description="uniformly random neurons, as many as a reference localizer selects (seeded)",
                     kind="localizer")
class RandomLocalizer(Localizer):
    """Scores are seeded uniform noise per query, so the top-``count`` neurons are a uniform draw.

    ``count`` fixes the number of neurons; otherwise the harness matches the number selected by the
    localizer named in ``match`` (default ``amig``) on the same query.
    """

    uses_gradients = False
    option_names = {"match": "random_match"}  # the task option naming the reference localizer
    hyperparameters = {"seed": Param(low=0, integer=True, help="seeds the draw"),
                       "count": Param(low=1, integer=True, none=True, help="null: as many as `match` selects"),
                       "match": Param(help="the localizer whose KN count is matched")}

    def __init__(self, tau: float = 0.2, steps: int = 20, seed: int = 0, count: int | None = None,
                 match: str = "amig"):
        super().__init__(tau=tau, steps=steps)
        self.seed, self.count, self.match = seed, count, match

    def params(self) -> dict:
        return {"seed": self.seed}

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        adapter = engine.lm.adapter
        key = f"{self.seed}:{encoded.prompt}".encode()
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
        return rng.random((adapter.n_layers, adapter.n_neurons)).astype(np.float32)

    def select(self, scores: np.ndarray, tau: float | None = None, count: int | None = None) -> list[Neuron]:
        count = self.count if count is None else count
        if count is None:
            raise ValueError("random localizer needs a neuron count (count=... or a matched localizer)")
        flat = np.argsort(-scores, axis=None, kind="stable")[:count]
        layers, indices = np.unravel_index(flat, scores.shape)
        return sorted(zip(layers.tolist(), indices.tolist()))
