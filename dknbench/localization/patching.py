"""Pieces shared by the gradient-times-difference localizers (grad-x-act, atp, causal-tracing).

* ``target_gradients``: the activations at the target position and ∂Prob/∂activation for *every*
  layer from one forward and one backward. Each layer's down projection input gets a zero leaf
  added at the target, so the gradient of a leaf is the total derivative of Prob (paths through the
  later layers included), the same quantity IG takes at its interpolation point.
* the corruption of Meng et al. (2022): seeded Gaussian noise on the subject tokens' input
  embeddings, ``noise`` (3) × the embedding std; the subject span is found in the query's tokens.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import torch

from ..scoring import EncodedQuery, SkipQuery

NOISE = 3.0  # Meng et al. 2022: noise std = 3 x the std of the input embeddings
_STD_SAMPLE = 4096  # token ids sampled (evenly spaced) to estimate the embedding std


# --- subject span --------------------------------------------------------------------------------
def subject_positions(tokenizer, encoded: EncodedQuery, subject: str | None) -> list[int]:
    """Token positions of the fact's subject in the encoded prompt (SkipQuery when absent).

    The subject is matched in the prompt text (exact, else case-insensitive, first occurrence);
    the tokens whose characters overlap that span are the subject's."""
    if not subject or not subject.strip():
        raise SkipQuery("no_subject")
    text, needle = encoded.prompt, subject.strip()
    start = text.find(needle)
    if start < 0:
        start = text.lower().find(needle.lower())
    if start < 0:
        raise SkipQuery("subject_not_in_query")
    end = start + len(needle)
    spans = _token_spans(tokenizer, text)
    if spans is None:
        raise SkipQuery("subject_span_unavailable")
    positions = [i for i, (a, b) in enumerate(spans) if b > a and a < end and b > start]
    if not positions:
        raise SkipQuery("subject_not_in_query")
    if max(positions) >= len(encoded.input_ids):
        raise SkipQuery("subject_not_in_query")
    return positions


def _token_spans(tokenizer, text: str):
    """Character (start, end) of every token of ``tokenizer(text)``; special tokens get (0, 0)."""
    try:
        return [tuple(span) for span in tokenizer(text, return_offsets_mapping=True)["offset_mapping"]]
    except (NotImplementedError, ValueError, TypeError, KeyError):
        return None  # slow tokenizers have no offsets


# --- corruption ----------------------------------------------------------------------------------
def embedding_std(lm) -> float:
    """Std of the input embedding module's output over evenly spaced token ids (memoised per model;
    the module's output, so families that scale their embeddings, like Gemma, are measured right)."""
    cached = getattr(lm, "_dknbench_embedding_std", None)
    if cached is not None:
        return cached
    embed = lm.adapter.input_embeddings()
    vocab = embed.weight.shape[0] if hasattr(embed, "weight") else len(lm.tokenizer)
    ids = torch.linspace(0, vocab - 1, min(vocab, _STD_SAMPLE)).long().to(lm.device)
    with torch.no_grad():
        std = float(embed(ids[None]).float().std())
    lm._dknbench_embedding_std = std
    return std


def subject_noise(lm, encoded: EncodedQuery, positions: list[int], seed: int,
                  noise: float = NOISE, sample: int = 0) -> torch.Tensor:
    """Seeded Gaussian noise [len(positions), d] of std ``noise`` x embedding std; the seed mixes
    the run seed with the prompt (and the draw's number ``sample`` > 0, for several noise samples),
    so a query always gets the same corruption."""
    key = (f"{seed}:{encoded.prompt}:{positions}" if sample == 0
           else f"{seed}:{sample}:{encoded.prompt}:{positions}").encode()
    generator = torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
    width = lm.adapter.input_embeddings().weight.shape[1]
    return torch.randn(len(positions), width, generator=generator) * (noise * embedding_std(lm))


@contextmanager
def corrupt_embeddings(lm, positions: list[int], noise: torch.Tensor, offset: int = 0):
    """Add ``noise`` to the input embeddings at absolute ``positions`` (every batch row).

    ``offset``: the absolute position of the first token of the sequences run inside (the target,
    when only the tail runs over a prefix cache)."""
    def hook(module, args, output):
        out = output.clone()
        for row, pos in enumerate(positions):
            local = pos - offset
            if 0 <= local < out.shape[1]:
                out[:, local] = out[:, local] + noise[row].to(out.device, out.dtype)
        return out

    handle = lm.adapter.input_embeddings().register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class Corruption:
    """The corrupted run of one query: subject positions and their noise (draw number ``sample``)."""

    def __init__(self, lm, encoded: EncodedQuery, subject: str | None, seed: int, noise: float = NOISE,
                 sample: int = 0):
        self.positions = subject_positions(lm.tokenizer, encoded, subject)
        self.noise = subject_noise(lm, encoded, self.positions, seed, noise, sample)
        self.lm = lm

    def active(self, offset: int = 0):
        return corrupt_embeddings(self.lm, self.positions, self.noise, offset)


# --- activations and gradients at the target -----------------------------------------------------
def target_gradients(engine, encoded: EncodedQuery, corruption: Corruption | None = None):
    """(activations, ∂Prob/∂activations, Prob): [n_layers, n_neurons] x 2 and a float, at the
    target position, from one forward (corrupted when ``corruption`` is given) and one backward."""
    lm, scorer = engine.lm, engine.scorer
    adapter = lm.adapter
    leaves = [torch.zeros(adapter.n_neurons, device=lm.device, requires_grad=True)
              for _ in range(adapter.n_layers)]
    values: dict[int, torch.Tensor] = {}
    handles = []
    for layer in range(adapter.n_layers):
        def hook(module, args, layer=layer):
            hidden = args[0]
            values[layer] = hidden[0, encoded.target].detach().float()
            bump = torch.zeros_like(hidden)
            bump[0, encoded.target] = leaves[layer].to(hidden.dtype)
            return (hidden + bump,) + tuple(args[1:])

        handles.append(adapter.write_module(layer).register_forward_pre_hook(hook))
    ids, mask, targets = scorer.collate([encoded])
    try:
        with torch.enable_grad(), (corruption.active() if corruption else _nothing()):
            logits = scorer.logits(ids, mask, targets)
            prob = scorer.answer_log_probs(logits, [encoded])[0].exp()
            grads = torch.autograd.grad(prob, leaves)
    finally:
        for handle in handles:
            handle.remove()
    engine.forward_passes += 1
    acts = torch.stack([values[l] for l in range(adapter.n_layers)]).cpu()
    return acts, torch.stack(grads).float().cpu(), float(prob.detach())


@contextmanager
def _nothing():
    yield
