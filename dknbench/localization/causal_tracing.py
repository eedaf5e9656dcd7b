"""causal-tracing: the exact indirect effect of single neurons, AtP*-style (Kramár et al. 2024).

Meng et al. (2022) restore whole layers' hidden states in the subject-corrupted run; the
neuron-level form (asked for in kmeng01/rome#7) restores one neuron's clean activation at the target
position and measures

    IE(l, i) = Prob(corrupted run, neuron (l, i) restored to its clean value) − Prob(corrupted run).

Measuring every neuron is one forward per neuron, so, as in AtP*, ``atp`` proposes the candidates:
the ``top_k`` (200) neurons by |atp| get their exact IE, measured in batches (one batch row per
neuron; on causal LMs the corrupted prefix's KV cache is shared and each row runs only the tokens
from the target on). Neurons not proposed score 0 (not measured). KNs: IE > τ·max IE.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from ..scoring import prefix_cache, tail_logits
from ..interventions.activations import neuron_pre_hooks
from .atp import AttributionPatching
from .base import LOCALIZERS

TOP_K = 200


@contextmanager
def restore_per_row(adapter, neurons: list[tuple[int, int]], clean: torch.Tensor, position: int):
    """Batch row r gets neuron ``neurons[r]`` set to its clean value at ``position``."""
    by_layer: dict[int, tuple[list[int], list[int]]] = {}
    for row, (layer, index) in enumerate(neurons):
        rows, indices = by_layer.setdefault(layer, ([], []))
        rows.append(row)
        indices.append(index)
    hooks = {}
    for layer, (rows, indices) in by_layer.items():
        rows_t, idx_t = torch.tensor(rows), torch.tensor(indices)
        values = clean[layer, idx_t]

        def hook(module, args, rows_t=rows_t, idx_t=idx_t, values=values):
            hidden = args[0].clone()
            hidden[rows_t.to(hidden.device), position, idx_t.to(hidden.device)] = values.to(hidden.device, hidden.dtype)
            return (hidden,) + tuple(args[1:])

        hooks[layer] = hook
    with neuron_pre_hooks(adapter, hooks):
        yield


@torch.no_grad()
def restored_probs(engine, encoded, corruption, neurons: list[tuple[int, int]], clean: torch.Tensor) -> np.ndarray:
    """Prob of the corrupted run with each neuron in turn restored to ``clean`` (one row each)."""
    lm = engine.lm
    cache = None
    if engine.path != "full" and not lm.is_masked_lm and encoded.target > 0:
        with corruption.active():
            cache = prefix_cache(lm, encoded)
        engine.forward_passes += 1
    ids, mask, _ = engine.scorer.collate([encoded])
    out = []
    for start in range(0, len(neurons), engine.batch_size):
        chunk = neurons[start : start + engine.batch_size]
        batch = len(chunk)
        if cache is not None:
            with restore_per_row(lm.adapter, chunk, clean, 0), corruption.active(offset=encoded.target):
                logits = tail_logits(lm, encoded, cache, batch)
            offset = 0
        else:
            with restore_per_row(lm.adapter, chunk, clean, encoded.target), corruption.active():
                logits = lm.model(input_ids=ids.expand(batch, -1), attention_mask=mask.expand(batch, -1)).logits
            offset = encoded.target
        out.append(engine._prob_from_logits(logits, encoded, offset).double().cpu())
        engine.forward_passes += 1
    return torch.cat(out).numpy() if out else np.zeros(0)


@LOCALIZERS.register("causal-tracing", description="exact indirect effect of restoring one neuron's clean activation in "
                     "the subject-noised run, for the top-200 atp neurons (AtP*-style)", kind="localizer")
class CausalTracing(AttributionPatching):
    name = "causal-tracing"

    def __init__(self, tau: float = 0.2, steps: int = 20, seed: int = 0, noise: float = 3.0,
                 top_k: int = TOP_K):
        super().__init__(tau=tau, steps=steps, seed=seed, noise=noise)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = top_k

    def params(self) -> dict:
        return {**super().params(), "top_k": self.top_k}

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        corruption, clean, corrupt, grads, _ = self.corrupted_run(engine, encoded, subject)
        estimate = ((clean - corrupt) * grads).numpy()
        order = np.argsort(-np.abs(estimate), axis=None, kind="stable")[: self.top_k]
        layers, indices = np.unravel_index(order, estimate.shape)
        neurons = list(zip(layers.tolist(), indices.tolist()))
        with corruption.active():
            prob_corrupt = engine.prob(encoded)
        effects = restored_probs(engine, encoded, corruption, neurons, clean) - prob_corrupt
        scores = np.zeros(estimate.shape, dtype=np.float32)
        scores[layers, indices] = effects
        return scores
