"""Gradient localizers: ig (Dai et al. 2022), amig (Chen et al. 2024a, 002 Eq. 2-5), sig."""

from __future__ import annotations

import numpy as np
import torch

from ..hyperparams import Param
from .base import LOCALIZERS, Localizer
from .engine import DEFAULT_QUADRATURE, QUADRATURES

# IG's path-integral rule: Dai et al.'s Riemann sum by default; Gauss-Legendre only as a variant
# (ig[quadrature=gauss-legendre,steps=8]): it changes the numbers (issue 29.2, benchmarks/README.md)
QUADRATURE = Param(choices=QUADRATURES, help="IG path-integral rule (gauss-legendre: an opt-in, fewer steps)")


def _with_quadrature(params: dict, quadrature: str) -> dict:
    # the default stays out of the cache key: attributions cached before the option existed still hit
    return params if quadrature == DEFAULT_QUADRATURE else {**params, "quadrature": quadrature}


@LOCALIZERS.register("ig", description="Dai et al. integrated gradients: zero baseline, m-step Riemann sum, tau*max threshold",
                     kind="localizer")
class IntegratedGradients(Localizer):
    hyperparameters = {"quadrature": QUADRATURE}

    def __init__(self, tau: float = 0.2, steps: int = 20, quadrature: str = DEFAULT_QUADRATURE):
        super().__init__(tau=tau, steps=steps)
        self.quadrature = quadrature

    def params(self) -> dict:
        return _with_quadrature(super().params(), self.quadrature)

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
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
        if mask:
            ids = scorer.tokenizer(text)["input_ids"]
            target = ids.index(scorer.tokenizer.mask_token_id)
        else:
            ids = word_replaced_ids(scorer.tokenizer, words, i, scorer.tokenizer.convert_tokens_to_ids(replacement))
            target = len(ids) - 1
        baseline = type(encoded)(ids, target, encoded.answer_ids[:1], text)
        activations.append(engine.target_activations(baseline))
    return torch.stack(activations, dim=1)


def word_replaced_ids(tokenizer, words: list[str], i: int, token_id: int) -> list[int]:
    """Token ids of the sentence ``words`` with word i's tokens (its leading space included)
    replaced by the single token ``token_id``. Tokenising the text " <eos-word>" instead would give
    [space, eos] on byte-level BPE tokenizers, an extra token the baseline sentence does not have."""
    head = tokenizer(" ".join(words[:i]))["input_ids"]  # i = 0: only the special tokens (e.g. BOS)
    rest = words[i + 1 :]
    tail = tokenizer(" " + " ".join(rest), add_special_tokens=False)["input_ids"] if rest else []
    return head + [int(token_id)] + tail


class _WordBaselineIG(Localizer):
    """IG from per-word baseline sentences to the real activation, summed over words.

    ``norm`` (002 Eq. 5 divides each layer's scores by the layer's total):
    ``abs`` **(choice, default)** divides by the layer's total |attribution|, because with signed
    IG the literal total can be ~0 and inflate a layer whose neurons barely matter;
    ``signed`` is Eq. 5 as printed; ``none`` leaves the summed IG unnormalised.
    """

    hyperparameters = {"norm": Param(choices=("abs", "signed", "none"), help="per-layer normalisation (002 Eq. 5)"),
                       "quadrature": QUADRATURE}

    def __init__(self, tau: float = 0.2, steps: int = 20, norm: str = "abs", quadrature: str = DEFAULT_QUADRATURE):
        super().__init__(tau=tau, steps=steps)
        self.norm, self.quadrature = norm, quadrature

    def params(self) -> dict:
        # "baseline": the baseline word is one token id (word_replaced_ids); it keys the cache, so
        # attributions cached from the old text-tokenised baselines are not reused
        return _with_quadrature({"steps": self.steps, "norm": self.norm, "baseline": "token-id"}, self.quadrature)

    def baseline_token(self, engine) -> str:
        raise NotImplementedError

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        baselines = word_baselines(engine, encoded, self.baseline_token(engine))
        per_word = engine.attribute(encoded, baselines)  # [L, words, N]
        total = per_word.sum(dim=1).double()  # sum over words (Eq. 5 numerator)
        if self.norm == "abs":
            total = total / total.abs().sum(dim=1, keepdim=True).clamp_min(1e-30)
        elif self.norm == "signed":
            total = total / total.sum(dim=1, keepdim=True)
        return total.float().numpy()


@LOCALIZERS.register("amig", description="Chen et al. AMIG: per-word <eos>/[MASK] baselines, IG summed over words, per-layer normalisation (002 Eq. 2-5)",
                     kind="localizer")
class AMIG(_WordBaselineIG):
    option_names = {"norm": "amig_norm"}  # the task option (tasks/*.yaml) that sets ``norm``

    def baseline_token(self, engine) -> str:
        tok = engine.scorer.tokenizer
        return tok.mask_token if engine.lm.is_masked_lm else (tok.eos_token or tok.pad_token)


@LOCALIZERS.register("sig", description="sequential-IG flavour (003 A.4): per-word pad-token baselines, no normalisation",
                     kind="localizer")
class SequentialIG(_WordBaselineIG):

    def __init__(self, tau: float = 0.2, steps: int = 20, norm: str = "none", quadrature: str = DEFAULT_QUADRATURE):
        super().__init__(tau=tau, steps=steps, norm=norm, quadrature=quadrature)

    def baseline_token(self, engine) -> str:
        tok = engine.scorer.tokenizer
        return tok.pad_token or tok.eos_token
