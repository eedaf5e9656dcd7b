"""Context managers that change neuron weights (read rows, write columns) and restore them.

The slices of every touched parameter are copied on entry and copied back on exit, so the model is
bit-identical afterwards even if the body raised.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable

import torch

from .activations import Neuron, group_by_layer


@contextmanager
def preserve_neuron_weights(adapter, neurons: Iterable[Neuron]):
    """Snapshot the read/write slices of ``neurons``; restore them on exit. Yields a list of
    (ParamSlice, index tensor, layer) so the body can edit the slices in place."""
    saved = []
    for layer, indices in group_by_layer(neurons).items():
        index = torch.tensor(sorted(set(indices)), dtype=torch.long)
        for part in adapter.neuron_params(layer):
            idx = index.to(part.param.device)
            saved.append((part, idx, layer, part.param.data.index_select(part.axis, idx).clone()))
    try:
        yield [(part, idx, layer) for part, idx, layer, _ in saved]
    finally:
        with torch.no_grad():
            for part, idx, _, original in saved:
                part.param.data.index_copy_(part.axis, idx, original)


@contextmanager
def suppress_weights(adapter, neurons: Iterable[Neuron]):
    """Zero the neurons' read vectors (and biases) and write vectors."""
    with preserve_neuron_weights(adapter, neurons) as parts:
        with torch.no_grad():
            for part, idx, _ in parts:
                part.param.data.index_fill_(part.axis, idx, 0.0)
        yield


@contextmanager
def enhance_weights(adapter, neurons: Iterable[Neuron], factor: float = 2.0):
    """Multiply the neurons' write vectors by ``factor``."""
    with preserve_neuron_weights(adapter, neurons) as parts:
        with torch.no_grad():
            for part, idx, _ in parts:
                if part.role == "write":
                    scaled = part.param.data.index_select(part.axis, idx) * factor
                    part.param.data.index_copy_(part.axis, idx, scaled)
        yield
