"""The integrated-gradients engine shared by every gradient localizer.

For one query and one layer l, IG from a baseline b to the real activation a (at the target
position, over all neurons of the layer) is

    Attr = (a - b) * (1/m) * sum_{k=1..m} dF/dx |_{x = b + (k/m)(a - b)}

with F = Prob(answer). Completeness: sum(Attr) -> F(a) - F(b) as m grows.

Every (layer, baseline, step) triple is one batch row whose activation at the target position is
replaced by its interpolation point through a forward pre-hook on the layer's down projection; rows
of several layers share a batch. Three equivalent execution paths:

* ``full``: every row runs the whole sequence (any model, masked LMs included);
* ``cached`` (causal LMs): changing the target position leaves every earlier position untouched, so
  the prefix runs once, its key/value cache is shared, and each row runs only the tokens from the
  target on (one token in first-token mode).
* ``fast`` (causal LMs, the default there): additionally, the rows of layer l only need the blocks
  above l. Every block adds its down projection's output straight onto the residual stream, so
  block l's output at the target is ``R_l + down_l(x)`` with ``R_l`` = (block output - down
  projection output) of the unmodified forward. One no-grad forward of the whole sequence records
  ``R_l``, block l's outputs at the later (teacher-forced) positions and the key/value cache. Then
  the rows run as a *staircase*: the block list is temporarily replaced by ``[inject(rows of the
  lowest layer l0)] + [block_k, then append the rows of layer k | k > l0]`` over the prefix cache,
  so block k runs once on the rows of every layer below it (wide matrix products) and no row runs
  a block below its own layer (the attention modules keep their own ``layer_idx``, so the cache
  stays aligned; each layer's cache is expanded to the rows reaching it; position ids, masks and
  rotary tables have batch 1 and broadcast). The LM head runs only on the scored positions.
  ``dknbench/localization/reference.py`` holds the plain loop these paths are tested against.

Parameters never get gradients (``requires_grad_(False)`` at load), only the interpolation leaves do.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..scoring import AnswerScorer, EncodedQuery, prefix_cache, tail_logits
from ..models.kv_cache import returned_cache, with_cache
from .memory import MemoryBudgetError, ModelShape, RowMemory, plan_batches, resolve_budget


@dataclass
class _Row:
    layer: int
    baseline: int
    alpha: float
    weight: float = 1.0  # the quadrature weight of this alpha (see ``quadrature_nodes``)


QUADRATURES = ("riemann-right", "gauss-legendre")
DEFAULT_QUADRATURE = "riemann-right"


def quadrature_nodes(steps: int, rule: str = DEFAULT_QUADRATURE) -> tuple[list[float], list[float], float]:
    """(alphas, weights, divisor) of IG's path integral over [0, 1]: Attr = (a - b) * sum_k w_k
    dF/dx(b + alpha_k (a - b)) / divisor.

    ``riemann-right`` is Dai et al.'s m-step Riemann sum, alpha_k = k/m, every weight 1 and the sum
    divided by m once at the end (the suite's default, its numbers unchanged). ``gauss-legendre`` is
    the m-node Gauss-Legendre rule mapped to [0, 1]: exact for polynomials of degree 2m - 1, so a
    smooth path integrand needs far fewer nodes than the Riemann sum; it changes the numbers and is an
    opt-in only (a localizer variant, e.g. ``ig[quadrature=gauss-legendre,steps=8]``)."""
    if rule == "riemann-right":
        return [k / steps for k in range(1, steps + 1)], [1.0] * steps, float(steps)
    if rule == "gauss-legendre":
        import numpy as np

        x, w = np.polynomial.legendre.leggauss(steps)
        return [float((xi + 1) / 2) for xi in x], [float(wi / 2) for wi in w], 1.0
    raise ValueError(f"quadrature must be one of {', '.join(QUADRATURES)}, not {rule!r}")


PATHS = ("auto", "full", "cached", "fast")  # auto: fast for causal LMs, full for masked LMs


def _accumulate(grads: torch.Tensor, rows: list[_Row], grad: torch.Tensor) -> None:
    """Add each row's weighted gradient to its (layer, baseline) sum over the quadrature nodes."""
    for row, g in zip(rows, grad.float().cpu()):
        grads[row.layer, row.baseline] += g if row.weight == 1.0 else row.weight * g


class _Inject(torch.nn.Module):
    """Stands in for blocks[0..l] in the fast path: returns the prepared block-l output."""

    def __init__(self, hidden: torch.Tensor, attention_type=None):
        super().__init__()
        self.hidden = hidden
        if attention_type is not None:
            self.attention_type = attention_type

    def forward(self, hidden_states, *args, **kwargs):
        return self.hidden.to(hidden_states.dtype)


class _Grow(torch.nn.Module):
    """Block k of the fast path's staircase: runs the block, then appends the rows entering above
    layer k (block k's output for the rows of layer k)."""

    def __init__(self, block: torch.nn.Module, entering: torch.Tensor | None):
        super().__init__()
        self.block, self.entering = block, entering
        if hasattr(block, "attention_type"):
            self.attention_type = block.attention_type

    def forward(self, hidden_states, *args, **kwargs):
        out = self.block(hidden_states, *args, **kwargs)
        if self.entering is None:
            return out
        hidden = out[0] if isinstance(out, tuple) else out
        hidden = torch.cat([hidden, self.entering.to(hidden.dtype)])
        return (hidden,) + tuple(out[1:]) if isinstance(out, tuple) else hidden


class IGEngine:
    def __init__(self, lm, scorer: AnswerScorer | None = None, steps: int = 20,
                 batch_size: int = 128, path: str = "auto", max_memory=None,
                 quadrature: str = DEFAULT_QUADRATURE):
        if steps < 1:
            raise ValueError("steps must be >= 1")
        self.alphas, self.weights, self.divisor = quadrature_nodes(steps, quadrature)
        self.quadrature = quadrature
        if path not in PATHS:
            raise ValueError(f"path must be one of {', '.join(PATHS)}, not {path!r}")
        self.lm = lm
        self.scorer = scorer or AnswerScorer(lm)
        self.steps, self.batch_size = steps, batch_size
        cached = lm.adapter.supports_kv_cache and not lm.is_masked_lm
        fast = "fast" if lm.adapter.fast_path else "cached"  # a norm after the MLP breaks "fast"
        self.path = (fast if cached else "full") if path == "auto" else path
        if self.path in ("cached", "fast") and not cached:
            raise ValueError(f"the {self.path} path needs a causal LM with a Hugging Face KV cache")
        if self.path == "fast" and not lm.adapter.fast_path:
            raise ValueError(f"the fast path needs block output = R + down(x); {lm.adapter.family.name} "
                             "normalises after the MLP: use cached or full")
        # bytes an attribution may add to what is allocated (None: only batch_size bounds a batch)
        self.budget = resolve_budget(max_memory, lm.device)
        self.forward_passes = 0  # counted so tests can prove the attribution cache works
        self.batch_sizes: list[int] = []  # rows of each batch of the last attribute() call

    # --- plain forwards ------------------------------------------------------------------------
    @torch.no_grad()
    def target_activations(self, encoded: EncodedQuery) -> torch.Tensor:
        """[n_layers, n_neurons] activations at the target position."""
        from ..interventions.activations import record_activations

        adapter = self.lm.adapter
        with record_activations(adapter) as records:
            self.scorer.logits(*self.scorer.collate([encoded]))
        self.forward_passes += 1
        # on the CPU like the baselines and gradient sums (they meet in attribute()); the rows'
        # interpolation points move to the model's device in _points
        return torch.stack([records[l][0] for l in range(adapter.n_layers)]).float().cpu()

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
        rows = [_Row(l, b, alpha, weight) for l in layers for b in range(n_base)
                for alpha, weight in zip(self.alphas, self.weights)]
        batches = self.plan(encoded, rows, len(layers), n_base)
        self.batch_sizes = [len(b) for b in batches]
        if self.path == "fast":
            self._attribute_fast(encoded, baselines, a, rows, grads, batches)
        else:
            run = self._run_cached if self.path == "cached" else self._run_full
            context = self._prefix_cache(encoded) if self.path == "cached" else None
            for batch in batches:
                chunk = rows[batch.start : batch.stop]
                points = self._points(chunk, baselines, a)
                prob = run(encoded, chunk, points, context)
                (grad,) = torch.autograd.grad(prob.sum(), points)
                _accumulate(grads, chunk, grad)
                self.forward_passes += 1
        return (a[:, None, :] - baselines) * grads / self.divisor

    def memory_model(self, encoded: EncodedQuery) -> RowMemory:
        return RowMemory.for_query(ModelShape.from_lm(self.lm), self.path, encoded)

    def plan(self, encoded: EncodedQuery, rows: list[_Row], n_layers: int, n_base: int) -> list[range]:
        """Row ranges per batch: at most ``batch_size`` rows, and within the memory budget."""
        if self.budget is None:
            return plan_batches([0] * len(rows), None, self.batch_size)
        model = self.memory_model(encoded)
        room = self.budget - model.fixed_bytes(n_layers, n_base)
        if room <= 0:
            raise MemoryBudgetError(f"--max-memory {self.budget / 1e6:.1f} MB is below the "
                                    f"{model.fixed_bytes(n_layers, n_base) / 1e6:.1f} MB one attribution "
                                    "holds besides its batches; raise --max-memory")
        costs = [model.row_bytes(r.layer) for r in rows]
        return plan_batches(costs, room, self.batch_size)

    def _points(self, rows: list[_Row], baselines: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The rows' interpolation points b + alpha (a - b), as gradient leaves on the device."""
        points = torch.stack([baselines[r.layer, r.baseline] + r.alpha * (a[r.layer] - baselines[r.layer, r.baseline])
                              for r in rows])
        return points.to(self.lm.device).requires_grad_(True)

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
        return logp[:, torch.arange(n, device=logits.device), gold].sum(-1).exp()

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
        cache = prefix_cache(self.lm, encoded)
        self.forward_passes += cache is not None
        return cache

    def _run_cached(self, encoded, chunk, points, cache):
        if cache is None:
            return self._run_full(encoded, chunk, points, None)
        batch = len(chunk)
        positions = torch.zeros(batch, dtype=torch.long, device=self.lm.device)
        handles = self._hooks(chunk, points, positions)
        try:
            logits = tail_logits(self.lm, encoded, cache, batch)
        finally:
            for h in handles:
                h.remove()
        return self._prob_from_logits(logits, encoded, 0)

    # --- fast path -------------------------------------------------------------------------------
    def _fast_context(self, encoded: EncodedQuery, layers: list[int]):
        self.forward_passes += 1
        return clean_context(self.lm, encoded, layers, residuals=True)

    def _attribute_fast(self, encoded, baselines, a, rows, grads, batches):
        # rows are in layer order; each planned batch of rows runs as one staircase
        cache, resid, block_out = self._fast_context(encoded, sorted({r.layer for r in rows}))
        head = self.lm.model.get_output_embeddings()
        for batch in batches:
            chunk = rows[batch.start : batch.stop]
            groups: dict[int, list[_Row]] = {}
            for row in chunk:
                groups.setdefault(row.layer, []).append(row)
            leaves, entering = [], {}
            for layer, group in groups.items():
                points = self._points(group, baselines, a)
                leaves.append(points)
                entering[layer] = self._block_output(layer, points, resid[layer], block_out[layer])
            hidden = self._run_staircase(encoded, entering, cache)
            prob = self._prob_from_logits(head(hidden), encoded, 0)
            grad_list = torch.autograd.grad(prob.sum(), leaves)
            for group, grad in zip(groups.values(), grad_list):
                _accumulate(grads, group, grad)
            self.forward_passes += 1

    def _block_output(self, layer, points, resid, later) -> torch.Tensor:
        """Block ``layer``'s output [batch, tail, d] for rows whose neurons are ``points``."""
        down = self.lm.adapter.write_module(layer)
        # .forward: bypasses hooks, so an intervention on this layer cannot override the points
        first = resid + down.forward(points.to(resid.dtype))  # [batch, d]
        hidden = later[None].expand(points.shape[0], -1, -1).clone()
        hidden[:, 0] = first
        return hidden

    def _run_staircase(self, encoded, entering: dict[int, torch.Tensor], cache) -> torch.Tensor:
        """Final hidden states [rows, n_answer, d] (head not applied): see ``staircase``."""
        t, length = encoded.target, len(encoded.input_ids)
        hidden = staircase(self.lm, entering, encoded.input_ids[t:], t, length, cache)
        return hidden[:, : len(encoded.answer_ids)]


# --- running the blocks above a layer (shared with the interventions' lowest-layer start) --------

def block_list_owner(lm):
    """(module owning the block list, its attribute name): where the staircase swaps it."""
    path = lm.adapter.family.layers.split(".")
    owner = lm.model
    for part in path[:-1]:
        owner = getattr(owner, part)
    return owner, path[-1]


@torch.no_grad()
def clean_context(lm, encoded: EncodedQuery, layers, residuals: bool = False):
    """One plain forward of the whole sequence: block l's output at the positions from the target
    on ([tail, d], l in ``layers``), the key/value cache cropped to the prefix (None when the target
    is the first token) and, with ``residuals``, R_l = block l's output minus its down projection's
    output at the target (the IG fast path's starting point)."""
    adapter, t = lm.adapter, encoded.target
    block_out, down_out, handles = {}, {}, []
    for l in layers:
        def keep_block(module, args, output, l=l):
            out = output[0] if isinstance(output, tuple) else output
            block_out[l] = out[0, t:].detach().clone()

        def keep_down(module, args, output, l=l):
            down_out[l] = output[0, t].detach().clone()

        handles.append(adapter.blocks[l].register_forward_hook(keep_block))
        if residuals:
            handles.append(adapter.write_module(l).register_forward_hook(keep_down))
    ids = torch.tensor([encoded.input_ids], device=lm.device)
    try:
        out = lm.model(input_ids=ids, use_cache=t > 0)
    finally:
        for h in handles:
            h.remove()
    cache = None
    if t > 0:
        cache = returned_cache(out)
        cache.crop(t - len(encoded.input_ids))  # drop the tail (negative = tokens removed)
    resid = {l: block_out[l][0] - down_out[l] for l in layers} if residuals else None
    return cache, resid, block_out


def from_own_layers(lm, block_out: dict, lowest: list[int], encoded: EncodedQuery, cache) -> torch.Tensor:
    """Final hidden states [rows, n_answer, d] of rows that each start at their own layer
    ``lowest[r]`` (> 0, non-decreasing: the staircase's order), entering as block ``lowest[r] - 1``'s
    output from ``block_out`` (a run's block outputs from the target on, ``clean_context``). The
    caller's per-row hooks see the first rows at each block (those of layers <= that block)."""
    rows: dict[int, int] = {}
    for low in lowest:
        rows[low - 1] = rows.get(low - 1, 0) + 1
    entering = {l: block_out[l][None].expand(n, -1, -1) for l, n in rows.items()}
    t, length = encoded.target, len(encoded.input_ids)
    hidden = staircase(lm, entering, encoded.input_ids[t:], t, length, cache)
    return hidden[:, : len(encoded.answer_ids)]


def staircase(lm, entering: dict[int, torch.Tensor], tail_ids: list[int], start: int, length: int,
              cache) -> torch.Tensor:
    """Final hidden states [rows, tail, d] (after the final norm, head not applied) of rows that
    enter the block stack above their own layer: ``entering[l]`` = block l's output [rows_l, tail, d]
    for the rows of layer l, at positions ``start``..``length - 1`` (``tail_ids``), over ``cache`` (the
    prefix's key/value cache, or None when ``start`` is 0). Output rows are in layer order.

    One model call with the block list replaced by ``[inject(rows of l0)] + [block_k then append the
    rows of layer k, for k > l0]``: block k runs once on every row of the layers below it, so matrix
    products stay wide while no row runs a block below its layer. The model's own inputs have batch
    1 (position ids, masks and rotary tables broadcast); each layer's KV cache is expanded to the
    number of rows reaching it. A hook on block k's modules sees the first rows (those of the layers
    below k) in layer order."""
    layers = sorted(entering)
    owner, name = block_list_owner(lm)
    blocks = getattr(owner, name)
    low = layers[0]
    staged = [_Inject(entering[low], getattr(blocks[low], "attention_type", None))]
    reaching = entering[low].shape[0]
    counts = {}
    for k in range(low + 1, len(blocks)):
        counts[k] = reaching
        staged.append(_Grow(blocks[k], entering.get(k)))
        reaching += entering[k].shape[0] if k in entering else 0
    tail = torch.tensor([tail_ids], device=lm.device)
    kwargs = {"use_cache": False}
    if cache is not None:
        cache = copy.deepcopy(cache)
        for k, count in counts.items():
            layer = cache.layers[k]
            layer.keys = layer.keys.expand(count, *layer.keys.shape[1:])
            layer.values = layer.values.expand(count, *layer.values.shape[1:])
        kwargs = with_cache(cache)
    setattr(owner, name, torch.nn.ModuleList(staged))
    try:
        out = owner(input_ids=tail,
                    attention_mask=torch.ones(1, length, dtype=torch.long, device=tail.device),
                    position_ids=torch.arange(start, length, device=tail.device)[None],
                    **kwargs)
    finally:
        setattr(owner, name, blocks)
    return out.last_hidden_state
