"""Gradient localizers: ig (Dai et al. 2022), amig (Chen et al. 2024a, 002 Eq. 2-5), sig."""

from __future__ import annotations

import numpy as np
import torch

from .base import LOCALIZERS, Localizer


@LOCALIZERS.register("ig", description="Dai et al. integrated gradients: zero baseline, m-step Riemann sum, tau*max threshold",
                     kind="localizer")
class IntegratedGradients(Localizer):
    name = "ig"

    def scores(self, engine, encoded) -> np.ndarray:
        adapter = engine.lm.adapter
        zero = torch.zeros(adapter.n_layers, 1, adapter.n_neurons)
        return engine.attribute(encoded, zero)[:, 0].numpy()


def word_baselines(engine, encoded, replacement: str) -> torch.Tensor:
    """Activations at the target position of the baseline sentences q'_i (002 Eq. 3): the query
    with word i replaced by ``replacement``; returns [n_layers, n_words, n_neurons]."""
    scorer = engine.scorer
    mask = scorer.tokenizer.mask_token if engine.lm.is_masked_lm else None
    words = encoded.prompt.split()
    slots = [i for i, w in enumerate(words) if mask is None or mask not in w]
    activations = []
    for i in slots:
        text = " ".join(replacement if k == i else w for k, w in enumerate(words))
        ids = scorer.tokenizer(text)["input_ids"]
        target = ids.index(scorer.tokenizer.mask_token_id) if mask else len(ids) - 1
        baseline = type(encoded)(ids, target, encoded.answer_ids[:1], text)
        activations.append(engine.target_activations(baseline))
    return torch.stack(activations, dim=1)


class _WordBaselineIG(Localizer):
    normalise = True

    def baseline_token(self, engine) -> str:
        raise NotImplementedError

    def scores(self, engine, encoded) -> np.ndarray:
        baselines = word_baselines(engine, encoded, self.baseline_token(engine))
        per_word = engine.attribute(encoded, baselines)  # [L, words, N]
        total = per_word.sum(dim=1).double()  # sum over words (Eq. 5 numerator)
        if self.normalise:
            # Eq. 5 divides by the layer's total; when signed attributions cancel to <= 0 the
            # ratio is meaningless, so those layers fall back to the sum of absolute values.
            denom = total.sum(dim=1, keepdim=True)
            bad = denom <= 1e-12 * total.abs().sum(dim=1, keepdim=True).clamp_min(1e-30)
            denom = torch.where(bad, total.abs().sum(dim=1, keepdim=True), denom).clamp_min(1e-30)
            total = total / denom
        return total.float().numpy()


@LOCALIZERS.register("amig", description="Chen et al. AMIG: per-word <eos>/[MASK] baselines, IG summed over words, per-layer normalisation (002 Eq. 2-5)",
                     kind="localizer")
class AMIG(_WordBaselineIG):
    name = "amig"

    def baseline_token(self, engine) -> str:
        tok = engine.scorer.tokenizer
        return tok.mask_token if engine.lm.is_masked_lm else (tok.eos_token or tok.pad_token)


@LOCALIZERS.register("sig", description="sequential-IG flavour (003 A.4): per-word pad-token baselines, no normalisation",
                     kind="localizer")
class SequentialIG(_WordBaselineIG):
    name = "sig"
    normalise = False

    def baseline_token(self, engine) -> str:
        tok = engine.scorer.tokenizer
        return tok.pad_token or tok.eos_token
