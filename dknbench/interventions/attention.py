"""Attention interventions: read a query's attention probabilities, and rescale chosen ones.

``attention_maps`` reads the model's eager attention (``output_attentions=True``).
``scale_attention`` edits it through a custom attention function registered in transformers'
``AttentionInterface`` ("dknbench_ks", with the eager mask): it calls the model's own
``eager_attention_forward`` and rescales chosen columns of the attention probabilities before
recomputing the output, so no model class is forked. The model's ``_attn_implementation`` is
switched only inside ``scale_attention`` and restored on exit, like the neuron hooks of
``activations.py``. Used by the knowledge-synapses task (003 §3.2).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar

import torch

from .activations import target_positions

IMPL = "dknbench_ks"
_EDITS: ContextVar[dict | None] = ContextVar("dknbench_attention_edits", default=None)
_REGISTERED = False


def _scaled_attention(module, query, key, value, attention_mask, **kwargs):
    eager = sys.modules[type(module).__module__].eager_attention_forward
    out, weights = eager(module, query, key, value, attention_mask, **kwargs)
    edits = _EDITS.get()
    layer = getattr(module, "layer_idx", None)
    if not edits or layer not in edits:
        return out, weights
    scaled = weights.clone()
    for head, column, factor in edits[layer]:
        if column < scaled.shape[-1]:
            scaled[:, head, :, column] *= factor
    groups = getattr(module, "num_key_value_groups", 1)
    states = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    return torch.matmul(scaled.to(states.dtype), states).transpose(1, 2).contiguous(), scaled


def _register():
    global _REGISTERED
    if not _REGISTERED:
        from transformers import AttentionInterface
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

        AttentionInterface.register(IMPL, _scaled_attention)
        AttentionMaskInterface.register(IMPL, ALL_MASK_ATTENTION_FUNCTIONS["eager"])
        _REGISTERED = True


@contextmanager
def scale_attention(model, synapses, factor: float):
    """Multiply the attention probabilities of every (column, layer, head) in ``synapses`` by
    ``factor`` (all rows). An empty set leaves the model on its own eager path."""
    edits: dict[int, list] = {}
    for column, layer, head in synapses:
        edits.setdefault(int(layer), []).append((int(head), int(column), float(factor)))
    if not edits:
        yield
        return
    _register()
    previous = model.config._attn_implementation
    model.config._attn_implementation = IMPL
    token = _EDITS.set(edits)
    try:
        yield
    finally:
        _EDITS.reset(token)
        model.config._attn_implementation = previous


@torch.no_grad()
def attention_maps(lm, scorer, query: str) -> torch.Tensor:
    """[L, H, R, C] eager attention probabilities of one query (prompt tokens). ``scorer``: the
    run's ``scoring.AnswerScorer`` (its encode, collate and tokenizer; passed in, not imported, since
    scoring is the layer above)."""
    enc = scorer.encode(query, "x")
    ids, mask, targets = scorer.collate([enc])
    n = len(scorer.tokenizer(enc.prompt)["input_ids"])
    with target_positions(targets):
        out = lm.model(input_ids=ids[:, :n], attention_mask=mask[:, :n], output_attentions=True)
    return torch.stack([a[0] for a in out.attentions]).float()
