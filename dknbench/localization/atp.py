"""atp: attribution patching (Nanda 2023; Kramár et al. 2024, AtP*).

A first-order (gradient) estimate of what patching one neuron's activation between the clean run
and the subject-corrupted run does to Prob, at the target position. Two conventions exist, chosen by
``direction``:

* ``restore`` (**default**; Nanda 2023, "denoising"): patch the clean activation into the
  corrupted run; the gradient is taken on the corrupted run:

      atp(l, i) = (a_clean − a_corrupt)_(l, i) · ∂Prob/∂a_(l, i) |corrupted run

  the estimated Prob(corrupted, neuron restored) − Prob(corrupted): how much restoring the neuron
  brings the answer back.
* ``corrupt`` (AtP*'s default, Kramár et al. 2024 §2, "noising"): patch the corrupted activation
  into the clean run; the gradient is taken on the clean run. AtP*'s estimate of the neuron's effect
  is c(l, i) = (a_corrupt − a_clean) · ∂Prob/∂a |clean run, which is ≤ 0 for a neuron the fact needs;
  the score is its negation,

      atp(l, i) = (a_clean − a_corrupt)_(l, i) · ∂Prob/∂a_(l, i) |clean run = −c(l, i),

  the estimated *loss* of Prob when the neuron alone is corrupted, so that in both directions a
  higher score means a more important neuron and the τ·max rule selects the same way.

Why ``restore`` is the default: SPEC §2 defines ``atp`` as "(a_clean − a_corrupt)·∂Prob/∂a
evaluated on the corrupted run", and ``causal-tracing`` (Meng et al. 2022, ROME) measures the
restoration effect exactly, proposing its candidates with this estimate; the proposal must estimate
the quantity then measured. AtP*'s noising default answers another question (which neurons are
necessary in the clean run, rather than sufficient to restore it); it is the ``corrupt`` option.

The corruption is Meng et al.'s (2022): seeded Gaussian noise of 3 × the embedding std on the
subject tokens' input embeddings (``patching.Corruption``; the std is that of the embedding
module's output over the vocabulary, **(choice)**: Meng et al. estimate it over the subjects'
tokens). A query whose text does not contain the fact's subject is skipped
(``subject_not_in_query``). KNs: the usual score > τ·max rule.
"""

from __future__ import annotations

import numpy as np

from ..hyperparams import Param
from .base import LOCALIZERS, Localizer
from .patching import NOISE, Corruption, target_gradients

DIRECTIONS = ("restore", "corrupt")


@LOCALIZERS.register("atp", description="attribution patching (Nanda 2023; AtP*): (a_clean - a_corrupt) x dProb/da, on "
                     "the subject-noised run (direction=restore) or the clean run (direction=corrupt)", kind="localizer")
class AttributionPatching(Localizer):
    needs_subject = True
    hyperparameters = {
        "seed": Param(low=0, integer=True, help="seeds the subject noise"),
        "noise": Param(low=0.0, low_open=True, help="noise std in embedding stds (Meng et al.: 3)"),
        "direction": Param(choices=DIRECTIONS, help="restore: clean into corrupted (Nanda 2023); "
                           "corrupt: corrupted into clean (AtP*)"),
    }

    def __init__(self, tau: float = 0.2, steps: int = 20, seed: int = 0, noise: float = NOISE,
                 direction: str = "restore"):
        super().__init__(tau=tau, steps=steps)
        self.seed, self.noise, self.direction = seed, noise, direction

    def params(self) -> dict:
        # "direction" enters the key only when it is not "restore", so the attributions cached
        # before the option existed (all restore) keep their keys and are never served for corrupt
        extra = {} if self.direction == "restore" else {"direction": self.direction}
        return {"seed": self.seed, "noise": self.noise, **extra}

    def corrupted_run(self, engine, encoded, subject, sample: int = 0):
        """(corruption, clean activations, corrupted activations, gradients on the corrupted run,
        corrupted Prob) for noise draw ``sample``."""
        corruption = Corruption(engine.lm, encoded, subject, self.seed, self.noise, sample=sample)
        clean = engine.target_activations(encoded)
        corrupt, grads, prob = target_gradients(engine, encoded, corruption)
        return corruption, clean, corrupt, grads, prob

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        if self.direction == "corrupt":
            corruption = Corruption(engine.lm, encoded, subject, self.seed, self.noise)
            with corruption.active():
                corrupt = engine.target_activations(encoded)
            clean, grads, _ = target_gradients(engine, encoded)
        else:
            _, clean, corrupt, grads, _ = self.corrupted_run(engine, encoded, subject)
        return ((clean - corrupt) * grads).numpy()
