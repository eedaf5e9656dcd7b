"""causal-tracing: the exact indirect effect of single neurons, AtP*-style (Kramár et al. 2024).

Meng et al. (2022) restore whole layers' hidden states in the subject-corrupted run; the
neuron-level form (asked for in kmeng01/rome#7) restores one neuron's clean activation and measures

    IE(l, i, t) = Prob(corrupted run, neuron (l, i) restored to its clean value at position t)
                  − Prob(corrupted run).

Two settings follow ROME's ``calculate_hidden_flow`` / ``trace_with_patch``:

* ``noise_samples`` (default 10, ROME's ``samples=10``): the corrupted run is drawn that many times
  (seeded: draw s of a query is the same in every run with the same seed; draw 0 is the single draw
  ``atp`` uses); Prob(corrupted) and Prob(restored) are the means over the draws, as ROME averages
  the corrupted rows of its batch.
* ``positions``: ``target`` (default) restores at the target position only: score(l, i) =
  IE(l, i, target). ``all`` sweeps every position t of the query's tokens as ROME's trace does
  (one restoration per (neuron, position), each measured on its own), and the neuron's score is its
  strongest effect over the sweep, score(l, i) = max_t IE(l, i, t). (ROME keeps the whole
  position x layer table; a KN needs one number per neuron, and the max is the effect of the best
  single place to restore it.)
  The tasks' option ``positions`` (where their suppressions/enhancements act) has the same name, so a
  plain ``--set positions=all`` moves both; ``--set causal-tracing.positions=all`` moves only the
  restorations (dknbench/hyperparams.py: shared names).

Measuring every neuron is one forward per neuron (and position, and draw), so, as in AtP*, ``atp``
(direction ``restore``, averaged over the same draws, at the target position) proposes the
candidates: the ``top_k`` (200) neurons by |atp| get their exact IE, measured in batches (one batch
row per neuron; on causal LMs, for the target position, the corrupted prefix's KV cache is shared
and each row runs only the tokens from the target on). Neurons not proposed score 0 (not
measured). KNs: score > τ·max score.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from ..hyperparams import Param
from ..scoring import prefix_cache, tail_logits
from ..interventions.activations import neuron_pre_hooks, record_activations
from .atp import AttributionPatching
from .base import LOCALIZERS
from .patching import NOISE, Corruption, target_gradients

TOP_K = 200
NOISE_SAMPLES = 10  # ROME's calculate_hidden_flow(samples=10)
POSITIONS = ("target", "all")


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
def restored_probs(engine, encoded, corruption, neurons: list[tuple[int, int]], clean: torch.Tensor,
                   position: int | None = None, lowest_layer: bool = True) -> np.ndarray:
    """Prob of the corrupted run with each neuron in turn restored to ``clean`` ([n_layers,
    n_neurons], the clean activations at ``position``; default: the target) (one row each).
    ``lowest_layer``: at the target, where the staircase holds, each row starts at its neuron's
    layer (``_restored_from_own_layer``; False: every row runs every block, for comparison)."""
    lm = engine.lm
    position = encoded.target if position is None else position
    at_target = engine.path != "full" and not lm.is_masked_lm and encoded.target > 0 and position == encoded.target
    if at_target and lowest_layer and lm.adapter.fast_path and lm.adapter.supports_kv_cache:
        return _restored_from_own_layer(engine, encoded, corruption, neurons, clean)
    cache = None
    if at_target:
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
            with restore_per_row(lm.adapter, chunk, clean, position), corruption.active():
                logits = lm.model(input_ids=ids.expand(batch, -1), attention_mask=mask.expand(batch, -1)).logits
            offset = encoded.target
        out.append(engine._prob_from_logits(logits, encoded, offset).double().cpu())
        engine.forward_passes += 1
    return torch.cat(out).numpy() if out else np.zeros(0)


@torch.no_grad()
def _restored_from_own_layer(engine, encoded, corruption, neurons: list[tuple[int, int]],
                             clean: torch.Tensor) -> np.ndarray:
    """``restored_probs`` at the target, each row starting at its neuron's layer: the blocks below
    it compute what the corrupted run computed, so the row enters the staircase
    (``localization.engine``) with the corrupted run's hidden state there (as the suppressions'
    lowest-layer start does with the clean run's). Rows of layer 0 run every block over the
    corrupted prefix's cache. Equal to the plain path up to float summation order."""
    from .engine import clean_context, from_own_layers

    lm = engine.lm
    t = encoded.target
    with corruption.active():  # the corrupted run's prefix cache and block outputs from the target on
        cache, _, block_out = clean_context(lm, encoded, range(lm.adapter.n_layers))
    engine.forward_passes += 1
    head = lm.model.get_output_embeddings()
    order = sorted(range(len(neurons)), key=lambda r: neurons[r][0])  # the staircase's row order
    probs = np.zeros(len(neurons))
    for start in range(0, len(order), engine.batch_size):
        chunk = order[start : start + engine.batch_size]
        bottom = [r for r in chunk if neurons[r][0] == 0]
        above = [r for r in chunk if neurons[r][0] > 0]
        if bottom:
            with restore_per_row(lm.adapter, [neurons[r] for r in bottom], clean, 0), \
                    corruption.active(offset=t):
                logits = tail_logits(lm, encoded, cache, len(bottom))
            probs[bottom] = engine._prob_from_logits(logits, encoded, 0).double().cpu().numpy()
        if above:  # a row restoring a neuron of layer l enters as block l-1's output
            with restore_per_row(lm.adapter, [neurons[r] for r in above], clean, 0):
                hidden = from_own_layers(lm, block_out, [neurons[r][0] for r in above], encoded, cache)
            logits = head(hidden)
            probs[above] = engine._prob_from_logits(logits, encoded, 0).double().cpu().numpy()
        engine.forward_passes += 1
    return probs


@torch.no_grad()
def clean_activations_all(engine, encoded) -> torch.Tensor:
    """[n_layers, n_tokens, n_neurons]: the clean run's activations at every position."""
    adapter = engine.lm.adapter
    with record_activations(adapter, positions="all") as records:
        engine.scorer.logits(*engine.scorer.collate([encoded]))
    engine.forward_passes += 1
    return torch.stack([records[l][0] for l in range(adapter.n_layers)]).float().cpu()


@LOCALIZERS.register("causal-tracing", description="exact indirect effect of restoring one neuron's clean activation in "
                     "the subject-noised run (mean over noise_samples draws; at the target or max over "
                     "positions), for the top-200 atp neurons (AtP*-style)", kind="localizer")
class CausalTracing(AttributionPatching):
    LOWEST_LAYER = True  # restorations start at their neuron's layer (benchmarks/trace_cut.py: plain vs cut)
    hyperparameters = {
        "top_k": Param(low=1, integer=True, help="neurons proposed by atp and measured exactly"),
        "noise_samples": Param(low=1, integer=True, help="noise draws averaged (ROME: 10)"),
        "positions": Param(choices=POSITIONS, help="target: restore at the target; all: sweep every "
                           "position, score = max over positions"),
    }

    def __init__(self, tau: float = 0.2, steps: int = 20, seed: int = 0, noise: float = NOISE,
                 top_k: int = TOP_K, noise_samples: int = NOISE_SAMPLES, positions: str = "target"):
        super().__init__(tau=tau, steps=steps, seed=seed, noise=noise)  # direction: restore, always
        self.top_k, self.noise_samples, self.positions = top_k, noise_samples, positions

    def params(self) -> dict:
        # one draw at the target is what this localizer computed before the two options existed:
        # those cached scores keep their keys; any other setting gets its own
        extra = {} if self.noise_samples == 1 else {"noise_samples": self.noise_samples}
        if self.positions != "target":
            extra["positions"] = self.positions
        return {**super().params(), "top_k": self.top_k, **extra}

    def scores(self, engine, encoded, subject: str | None = None) -> np.ndarray:
        draws = [Corruption(engine.lm, encoded, subject, self.seed, self.noise, sample=s)
                 for s in range(self.noise_samples)]
        clean = engine.target_activations(encoded)
        estimate = None
        for corruption in draws:
            corrupt, grads, _ = target_gradients(engine, encoded, corruption)
            term = ((clean - corrupt) * grads).numpy()
            estimate = term if estimate is None else estimate + term
        estimate = estimate / len(draws)
        order = np.argsort(-np.abs(estimate), axis=None, kind="stable")[: self.top_k]
        layers, indices = np.unravel_index(order, estimate.shape)
        neurons = list(zip(layers.tolist(), indices.tolist()))
        prob_corrupt = 0.0
        for corruption in draws:
            with corruption.active():
                prob_corrupt += engine.prob(encoded) / len(draws)
        if self.positions == "all":
            every = clean_activations_all(engine, encoded)
            sweep = [self._mean_restored(engine, encoded, draws, neurons, every[:, t], t)
                     for t in range(every.shape[1])]
            effects = np.max(sweep, axis=0) - prob_corrupt
        else:
            effects = self._mean_restored(engine, encoded, draws, neurons, clean, None) - prob_corrupt
        scores = np.zeros(estimate.shape, dtype=np.float32)
        scores[layers, indices] = effects
        return scores

    def _mean_restored(self, engine, encoded, draws, neurons, clean, position) -> np.ndarray:
        total = sum(restored_probs(engine, encoded, c, neurons, clean, position, self.LOWEST_LAYER)
                    for c in draws)
        return total / len(draws)
