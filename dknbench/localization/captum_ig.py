"""captum-ig: Dai et al.'s integrated gradients computed by Captum's ``LayerIntegratedGradients``.

An independent implementation of ``ig`` (zero baseline, m steps, the activation at the target
position of one layer interpolated at a time), so the two can be checked against each other: with
``method="riemann_right"`` (α = k/m, k = 1..m, what the IG engine uses) they agree to float32
precision. The layer Captum attributes is a pass-through slot placed, by a forward pre-hook on the
down projection, on the target position's activation vector only; the forward function's input is a
gate that the slot multiplies in, so Captum's baseline input (gate 0) gives the zero baseline at
the layer. On causal LMs the prefix's KV cache is shared and each of Captum's m rows runs only the
tokens from the target on. Needs the optional extra ``pip install 'dknbench[captum]'``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from ..scoring import prefix_cache, tail_logits
from ..hyperparams import Param
from .base import LOCALIZERS, Localizer

METHODS = ("riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gausslegendre")


class _TargetSlot(torch.nn.Module):
    """Identity on the target activation: the module Captum hooks and interpolates."""

    def forward(self, x):
        return x


@LOCALIZERS.register("captum-ig", description="integrated gradients by Captum's LayerIntegratedGradients (independent "
                     "check of ig; optional extra dknbench[captum])", kind="localizer")
class CaptumIntegratedGradients(Localizer):
    hyperparameters = {"steps": Param(low=2, integer=True, help="Captum's Riemann rules need >= 2"),
                       "method": Param(choices=METHODS, help="Captum's integration rule")}

    def __init__(self, tau: float = 0.2, steps: int = 20, method: str = "riemann_right"):
        super().__init__(tau=tau, steps=steps)
        self.method = method

    def params(self) -> dict:
        return {"steps": self.steps, "method": self.method}

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        try:
            from captum.attr import LayerIntegratedGradients
        except ImportError:
            raise ConfigError("the captum-ig localizer needs Captum: pip install 'dknbench[captum]'") from None
        lm, adapter = engine.lm, engine.lm.adapter
        cache = None
        if engine.path != "full" and not lm.is_masked_lm and encoded.target > 0:
            cache = prefix_cache(lm, encoded)
        position = 0 if cache is not None else encoded.target
        ids, mask, _ = engine.scorer.collate([encoded])
        slot, gate = _TargetSlot(), {}

        def forward(g):
            gate["value"] = g  # [rows, 1]: 1 = the real activation, 0 = Captum's baseline
            rows = g.shape[0]
            if cache is not None:
                logits = tail_logits(lm, encoded, cache, rows)
            else:
                logits = lm.model(input_ids=ids.expand(rows, -1), attention_mask=mask.expand(rows, -1)).logits
            engine.forward_passes += 1
            return engine._prob_from_logits(logits, encoded, position)

        def place(module, args):
            hidden = args[0].clone()
            hidden[:, position] = slot(hidden[:, position] * gate["value"].to(hidden.dtype))
            return (hidden,) + tuple(args[1:])

        one = torch.ones(1, 1, device=lm.device)
        scores = np.zeros((adapter.n_layers, adapter.n_neurons), dtype=np.float32)
        for layer in range(adapter.n_layers):
            handle = adapter.write_module(layer).register_forward_pre_hook(place)
            try:
                attribution = LayerIntegratedGradients(forward, slot).attribute(
                    one, baselines=torch.zeros_like(one), n_steps=self.steps, method=self.method)
            finally:
                handle.remove()
            scores[layer] = attribution[0].detach().float().cpu().numpy()
        return scores
