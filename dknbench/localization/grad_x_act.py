"""grad-x-act: activation × ∂Prob/∂activation at the target position (Shrikumar et al. 2016's
input × gradient, on MLP neurons).

It is zero-baseline IG with one Riemann step at α = 1 (the right rule): ``ig`` with ``steps=1``
computes the same numbers, one batch row per layer; here one forward and one backward serve all
layers (``patching.target_gradients``)."""

from __future__ import annotations

import numpy as np

from .base import LOCALIZERS, Localizer
from .patching import target_gradients


@LOCALIZERS.register("grad-x-act", description="activation x dProb/dactivation at the target (one IG step at alpha=1), "
                     "one forward + backward for all layers", kind="localizer")
class GradientTimesActivation(Localizer):

    def params(self) -> dict:
        return {}  # no steps: the scores do not depend on them

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        acts, grads, _ = target_gradients(engine, encoded)
        return (acts * grads).numpy()
