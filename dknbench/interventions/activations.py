"""Context managers that read or change neuron activations through forward pre-hooks.

The neurons of layer l are the input of its down projection (see models.adapters). Interventions
apply at the *target position* of each batch row (the last query token, or the mask) unless
``positions="all"``. The target positions of the batch being run are published by the scorer with
``target_positions(...)``; hooks read them at call time so one intervention serves any batch.
Hooks are removed on exit, so nothing leaks into the next measurement.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterable

import torch

Neuron = tuple[int, int]
_TARGETS: ContextVar[torch.Tensor | None] = ContextVar("dknbench_target_positions", default=None)


@contextmanager
def target_positions(positions: torch.Tensor):
    """Publish the target position of every row of the batch about to run."""
    token = _TARGETS.set(positions)
    try:
        yield
    finally:
        _TARGETS.reset(token)


def current_targets(batch: int, device) -> torch.Tensor:
    positions = _TARGETS.get()
    if positions is None:
        raise RuntimeError("target positions are unknown: run the model through dknbench.scoring "
                           "or wrap the call in interventions.target_positions(...)")
    positions = positions.to(device)
    if positions.shape[0] != batch:
        if positions.shape[0] == 1:
            positions = positions.expand(batch)
        else:
            raise RuntimeError(f"{positions.shape[0]} target positions for a batch of {batch}")
    return positions


def group_by_layer(neurons: Iterable[Neuron]) -> dict[int, list[int]]:
    by_layer: dict[int, list[int]] = defaultdict(list)
    for layer, index in neurons:
        by_layer[int(layer)].append(int(index))
    return dict(by_layer)


@contextmanager
def neuron_pre_hooks(adapter, hooks: dict):
    """Install ``hooks[layer]`` as a forward pre-hook on each layer's down projection (whose input
    is the layer's neurons) while inside; every hook is removed on exit, even after an error."""
    handles = [adapter.write_module(layer).register_forward_pre_hook(hook) for layer, hook in hooks.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


Edit = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (selected values, indices) -> new values


@contextmanager
def intervene_activations(adapter, neurons: Iterable[Neuron], edit: Edit, positions: str = "target"):
    """Replace the activations of ``neurons`` by ``edit(values, indices)`` while inside."""
    if positions not in ("target", "all"):
        raise ValueError(f"positions must be 'target' or 'all', not {positions!r}")
    hooks = {}
    for layer, indices in group_by_layer(neurons).items():
        index = torch.tensor(sorted(set(indices)), dtype=torch.long)

        def hook(module, args, index=index):
            hidden = args[0]
            idx = index.to(hidden.device)
            out = hidden.clone()
            if positions == "all":
                out[..., idx] = edit(hidden[..., idx], idx).to(hidden.dtype)
            else:
                rows = torch.arange(hidden.shape[0], device=hidden.device)
                pos = current_targets(hidden.shape[0], hidden.device)
                if hidden.shape[1] == 1:  # single-token step on a KV cache: the row *is* the target
                    pos = torch.zeros_like(pos)
                selected = hidden[rows[:, None], pos[:, None], idx[None, :]]
                out[rows[:, None], pos[:, None], idx[None, :]] = edit(selected, idx).to(hidden.dtype)
            return (out,) + tuple(args[1:])

        hooks[layer] = hook
    with neuron_pre_hooks(adapter, hooks):
        yield


def suppress_activations(adapter, neurons, positions: str = "target"):
    """Set the neurons' activations to 0."""
    return intervene_activations(adapter, neurons, lambda v, i: torch.zeros_like(v), positions)


def enhance_activations(adapter, neurons, factor: float = 2.0, positions: str = "target"):
    """Multiply the neurons' activations by ``factor`` (2 in the papers)."""
    return intervene_activations(adapter, neurons, lambda v, i: v * factor, positions)


def set_activations(adapter, values: dict[Neuron, float], positions: str = "target"):
    """Set each neuron to a given value."""
    neurons = list(values)
    lookup = {n: float(v) for n, v in values.items()}
    by_layer = group_by_layer(neurons)

    def edit_for(layer):
        def edit(selected, idx):
            new = torch.tensor([lookup[(layer, int(i))] for i in idx.tolist()],
                               dtype=selected.dtype, device=selected.device)
            return new.expand_as(selected).clone()
        return edit

    from contextlib import ExitStack

    @contextmanager
    def combined():
        with ExitStack() as stack:
            for layer, indices in by_layer.items():
                stack.enter_context(intervene_activations(
                    adapter, [(layer, i) for i in indices], edit_for(layer), positions))
            yield

    return combined()


@contextmanager
def record_activations(adapter, layers: Iterable[int] | None = None, positions: str = "target"):
    """Record activations: yields a dict filled with layer -> tensor ([batch, n_neurons] at the
    target position, or [batch, seq, n_neurons] with positions="all"), detached."""
    records: dict[int, torch.Tensor] = {}
    layers = range(adapter.n_layers) if layers is None else list(layers)
    hooks = {}
    for layer in layers:
        def hook(module, args, layer=layer):
            hidden = args[0].detach()
            if positions == "all":
                records[layer] = hidden.clone()
            else:
                rows = torch.arange(hidden.shape[0], device=hidden.device)
                pos = current_targets(hidden.shape[0], hidden.device)
                if hidden.shape[1] == 1:
                    pos = torch.zeros_like(pos)
                records[layer] = hidden[rows, pos].clone()
        hooks[layer] = hook
    with neuron_pre_hooks(adapter, hooks):
        yield records


def suppress_per_row(adapter, row_sets: list, positions: str = "target", first_rows: bool = False):
    """Suppress a *different* neuron set in each batch row (row i: ``row_sets[i]``): see
    ``scale_per_row`` with factor 0."""
    return scale_per_row(adapter, row_sets, [0.0] * len(row_sets), positions, first_rows)


@contextmanager
def scale_per_row(adapter, row_sets: list, factors: list, positions: str = "target", first_rows: bool = False):
    """Multiply a *different* neuron set in each batch row by its own factor (row i: ``row_sets[i]``
    times ``factors[i]``; 0 suppresses, 2 enhances as ``enhance_activations``).

    Lets many suppression experiments share one forward pass: the batch must have exactly
    ``len(row_sets)`` rows while inside, or, with ``first_rows``, at most that many, the first ones
    (a staircase that adds rows as it climbs: a layer sees the rows that entered below it).
    """
    masks: dict[int, torch.Tensor] = {}
    for row, (neurons, factor) in enumerate(zip(row_sets, factors, strict=True)):
        for layer, indices in group_by_layer(neurons).items():
            if layer not in masks:
                masks[layer] = torch.ones(len(row_sets), adapter.n_neurons)
            masks[layer][row, indices] = float(factor)
    hooks = {}
    for layer, mask in masks.items():
        def hook(module, args, mask=mask):
            hidden = args[0]
            rows_here = hidden.shape[0]
            if rows_here != mask.shape[0] and not (first_rows and rows_here < mask.shape[0]):
                raise RuntimeError(f"scale_per_row: {mask.shape[0]} neuron sets for a batch of {rows_here}")
            m = mask[:rows_here].to(hidden.device, hidden.dtype)
            out = hidden.clone()
            if positions == "all":
                out = out * m[:, None, :]
            else:
                rows = torch.arange(hidden.shape[0], device=hidden.device)
                pos = current_targets(hidden.shape[0], hidden.device)
                out[rows, pos] = hidden[rows, pos] * m
            return (out,) + tuple(args[1:])
        hooks[layer] = hook
    with neuron_pre_hooks(adapter, hooks):
        yield


class _Stopped(Exception):
    """Raised by ``run_until``'s hook once the last block whose activations are read has run."""


def run_until(adapter, layer: int, forward: Callable[[], object]) -> None:
    """Run ``forward()`` only as far as block ``layer``: a read of activations at layers <= ``layer``
    (``record_activations``) needs nothing above it, neither the upper blocks nor the LM head.
    The blocks that run compute exactly what they compute in the full forward."""
    def stop(module, args, output):
        raise _Stopped

    handle = adapter.blocks[layer].register_forward_hook(stop)
    try:
        forward()
    except _Stopped:
        pass
    finally:
        handle.remove()
