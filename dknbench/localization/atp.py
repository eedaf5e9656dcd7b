"""atp: attribution patching (Nanda 2023; Kramár et al. 2024, AtP*).

The first-order estimate of what restoring a neuron's clean activation does to the corrupted run:

    atp(l, i) = (a_clean − a_corrupt)_(l, i) · ∂Prob/∂a_(l, i) |corrupted run

at the target position. The corruption is Meng et al.'s (2022): seeded Gaussian noise of 3 × the
embedding std on the subject tokens' input embeddings (``patching.Corruption``; the std is that of
the embedding module's output over the vocabulary, **(choice)**: Meng et al. estimate it over the
subjects' tokens). A query whose text does not contain the fact's subject is skipped
(``subject_not_in_query``). KNs: the usual score > τ·max rule, i.e. the neurons whose restoration
is estimated to bring Prob back the most.
"""

from __future__ import annotations

import numpy as np

from .base import LOCALIZERS, Localizer
from .patching import NOISE, Corruption, target_gradients


@LOCALIZERS.register("atp", description="attribution patching (Nanda 2023; AtP*): (a_clean - a_corrupt) x dProb/da on "
                     "the subject-noised run (3x embedding std, seeded)", kind="localizer")
class AttributionPatching(Localizer):
    name = "atp"
    needs_subject = True

    def __init__(self, tau: float = 0.2, steps: int = 20, seed: int = 0, noise: float = NOISE):
        super().__init__(tau=tau, steps=steps)
        if noise <= 0:
            raise ValueError(f"noise must be > 0 (a multiple of the embedding std), got {noise}")
        self.seed, self.noise = seed, noise

    def params(self) -> dict:
        return {"seed": self.seed, "noise": self.noise}

    def corrupted_run(self, engine, encoded, subject):
        """(corruption, clean activations, corrupted activations, gradients, corrupted Prob)."""
        corruption = Corruption(engine.lm, encoded, subject, self.seed, self.noise)
        clean = engine.target_activations(encoded)
        corrupt, grads, prob = target_gradients(engine, encoded, corruption)
        return corruption, clean, corrupt, grads, prob

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        _, clean, corrupt, grads, _ = self.corrupted_run(engine, encoded, subject)
        return ((clean - corrupt) * grads).numpy()
