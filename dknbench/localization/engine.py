"""The integrated-gradients engine shared by every gradient localizer.

For one query and one layer l, IG from a baseline b to the real activation a (at the target
position, over all neurons of the layer) is

    Attr = (a - b) * (1/m) * sum_{k=1..m} dF/dx |_{x = b + (k/m)(a - b)}

with F = Prob(answer). Completeness: sum(Attr) -> F(a) - F(b) as m grows.

Every (layer, baseline, step) triple is one batch row whose activation at the target position is
replaced by its interpolation point through a forward pre-hook on the layer's down projection; rows
of several layers share a batch. Two equivalent execution paths:

* ``full``: every row runs the whole sequence (any model, masked LMs included);
* ``cached`` (causal LMs): changing the target position leaves every earlier position untouched, so
  the prefix runs once, its key/value cache is shared, and each row runs only the tokens from the
  target on (one token in first-token mode).

Parameters never get gradients (``requires_grad_(False)`` at load), only the interpolation leaves do.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..scoring import AnswerScorer, EncodedQuery


@dataclass
class _Row:
    layer: int
    baseline: int
    alpha: float


class IGEngine:
    def __init__(self, lm, scorer: AnswerScorer | None = None, steps: int = 20,
                 batch_size: int = 128, path: str = "auto"):
        if steps < 1:
            raise ValueError("steps must be >= 1")
        if path not in ("auto", "full", "cached"):
            raise ValueError(f"path must be auto, full or cached, not {path!r}")
        self.lm = lm
        self.scorer = scorer or AnswerScorer(lm)
        self.steps, self.batch_size = steps, batch_size
        self.path = ("full" if lm.is_masked_lm else "cached") if path == "auto" else path
        if self.path == "cached" and lm.is_masked_lm:
            raise ValueError("the cached path needs a causal LM")
        self.forward_passes = 0  # counted so tests can prove the attribution cache works

    # --- plain forwards ------------------------------------------------------------------------
    @torch.no_grad()
    def target_activations(self, encoded: EncodedQuery) -> torch.Tensor:
        """[n_layers, n_neurons] activations at the target position."""
        from ..interventions.activations import record_activations

        adapter = self.lm.adapter
        with record_activations(adapter) as records:
            self.scorer.logits(*self.scorer.collate([encoded]))
        self.forward_passes += 1
        return torch.stack([records[l][0] for l in range(adapter.n_layers)]).float()

    @torch.no_grad()
    def prob(self, encoded: EncodedQuery) -> float:
        self.forward_passes += 1
        return float(self.scorer.probs_encoded([encoded])[0])

    # --- IG --------------------------------------------------------------------------------------
    def attribute(self, encoded: EncodedQuery, baselines: torch.Tensor,
                  activations: torch.Tensor | None = None, layers=None) -> torch.Tensor:
        """IG attributions [n_layers, n_baselines, n_neurons] from each baseline to the activation.

        ``baselines``: [n_layers, n_baselines, n_neurons] (use zeros for Dai et al.'s IG).
        Layers not in ``layers`` are left at 0.
        """
        adapter = self.lm.adapter
        a = self.target_activations(encoded) if activations is None else activations
        layers = range(adapter.n_layers) if layers is None else list(layers)
        n_base = baselines.shape[1]
        grads = torch.zeros_like(baselines, dtype=torch.float32)
        rows = [_Row(l, b, k / self.steps) for l in layers for b in range(n_base)
                for k in range(1, self.steps + 1)]
        run = self._run_cached if self.path == "cached" else self._run_full
        context = self._prefix_cache(encoded) if self.path == "cached" else None
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            points = torch.stack([baselines[r.layer, r.baseline] + r.alpha *
                                  (a[r.layer] - baselines[r.layer, r.baseline]) for r in chunk])
            points = points.to(self.lm.device).requires_grad_(True)
            prob = run(encoded, chunk, points, context)
            (grad,) = torch.autograd.grad(prob.sum(), points)
            for row, g in zip(chunk, grad.float().cpu()):
                grads[row.layer, row.baseline] += g
            self.forward_passes += 1
        diff = a[:, None, :] - baselines
        return diff * grads / self.steps

    def _hooks(self, chunk: list[_Row], points: torch.Tensor, positions: torch.Tensor):
        """Forward pre-hooks placing each row's interpolation point at its target position."""
        adapter, handles = self.lm.adapter, []
        by_layer: dict[int, list[int]] = {}
        for i, row in enumerate(chunk):
            by_layer.setdefault(row.layer, []).append(i)
        for layer, row_ids in by_layer.items():
            idx = torch.tensor(row_ids, device=points.device)

            def hook(module, args, idx=idx):
                hidden = args[0].clone()
                hidden[idx, positions[idx]] = points[idx].to(hidden.dtype)
                return (hidden,) + tuple(args[1:])

            handles.append(adapter.write_module(layer).register_forward_pre_hook(hook))
        return handles

    def _prob_from_logits(self, logits: torch.Tensor, encoded: EncodedQuery, offset: int) -> torch.Tensor:
        """Prob(answer) per row; ``offset`` = index of the target position in these logits."""
        n = len(encoded.answer_ids)
        logp = torch.log_softmax(logits[:, offset : offset + n].float(), dim=-1)
        gold = torch.tensor(encoded.answer_ids, device=logits.device)
        return logp[:, torch.arange(n), gold].sum(-1).exp()

    def _run_full(self, encoded, chunk, points, context):
        ids, mask, _ = self.scorer.collate([encoded])
        batch = len(chunk)
        positions = torch.full((batch,), encoded.target, dtype=torch.long, device=ids.device)
        handles = self._hooks(chunk, points, positions)
        try:
            logits = self.lm.model(input_ids=ids.expand(batch, -1),
                                   attention_mask=mask.expand(batch, -1)).logits
        finally:
            for h in handles:
                h.remove()
        return self._prob_from_logits(logits, encoded, encoded.target)

    @torch.no_grad()
    def _prefix_cache(self, encoded: EncodedQuery):
        if encoded.target == 0:
            return None
        ids = torch.tensor([encoded.input_ids[: encoded.target]], device=self.lm.device)
        out = self.lm.model(input_ids=ids, use_cache=True)
        self.forward_passes += 1
        return out.past_key_values

    def _run_cached(self, encoded, chunk, points, cache):
        if cache is None:
            return self._run_full(encoded, chunk, points, None)
        batch, t = len(chunk), encoded.target
        tail = torch.tensor([encoded.input_ids[t:]], device=self.lm.device).expand(batch, -1)
        cache = copy.deepcopy(cache)
        cache.batch_repeat_interleave(batch)
        length = len(encoded.input_ids)
        positions = torch.zeros(batch, dtype=torch.long, device=tail.device)
        handles = self._hooks(chunk, points, positions)
        try:
            logits = self.lm.model(
                input_ids=tail, past_key_values=cache, use_cache=True,
                attention_mask=torch.ones(batch, length, dtype=torch.long, device=tail.device),
                position_ids=torch.arange(t, length, device=tail.device).expand(batch, -1),
            ).logits
        finally:
            for h in handles:
                h.remove()
        return self._prob_from_logits(logits, encoded, 0)
