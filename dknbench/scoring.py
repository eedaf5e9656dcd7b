"""Prob(answer | query) with correct tokenisation, batched.

Causal LMs: the prompt is the query text before ``[Y]``; the answer is tokenised *in context*
(tokens of ``prompt + " " + answer`` beyond those of ``prompt``), which gives the leading space the
tokenizer expects and never puts a BOS in front of the answer. ``mode="first"`` scores the answer's
first token at the last prompt token; ``mode="joint"`` multiplies the probabilities of all answer
tokens under teacher forcing. Masked LMs: ``[Y]`` becomes the mask token and the first answer token
is scored there. Batches are right-padded, which leaves every real position's logits unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from .data.schema import SLOT
from .errors import Skipped
from .interventions.activations import target_positions
from .models.kv_cache import returned_cache, with_cache

_TRAILING = re.compile(r"^[\s\.\!\?\"'»”]*$")


class SkipQuery(Skipped, ValueError):
    """A query that cannot be scored (empty answer, slot not last, too long): counted, skipped."""


@dataclass
class EncodedQuery:
    input_ids: list[int]  # prompt (+ teacher-forced answer tokens but the last, in joint mode)
    target: int  # position whose logits predict the first answer token
    answer_ids: list[int]  # gold tokens scored (one in first mode)
    prompt: str


class AnswerScorer:
    def __init__(self, lm, mode: str = "first", batch_size: int = 32):
        if mode not in ("first", "joint"):
            raise ValueError(f"scoring mode must be 'first' or 'joint', not {mode!r}")
        if mode == "joint" and lm.is_masked_lm:
            raise ValueError("joint scoring is implemented for causal LMs only; use mode='first'")
        self.lm, self.mode, self.batch_size = lm, mode, batch_size
        self.tokenizer = lm.tokenizer
        config = lm.model.config
        self.max_length = (getattr(config, "max_position_embeddings", None)
                           or getattr(config, "n_positions", None) or 1_000_000)

    # --- text ----------------------------------------------------------------------------------
    def prompt_text(self, query: str) -> str:
        """The model input for a ``[Y]`` query (raises SkipQuery when it cannot be used)."""
        if query.count(SLOT) != 1:
            raise SkipQuery("query_without_single_slot")
        if self.lm.is_masked_lm:
            return query.replace(SLOT, self.tokenizer.mask_token)
        before, after = query.split(SLOT)
        if not _TRAILING.match(after):
            raise SkipQuery("slot_not_last")
        if not before.strip():
            raise SkipQuery("empty_prompt")
        return before.rstrip()

    def encode(self, query: str, answer: str) -> EncodedQuery:
        if not answer or not answer.strip():
            raise SkipQuery("empty_answer")
        prompt = self.prompt_text(query)
        tok = self.tokenizer
        if self.lm.is_masked_lm:
            ids = tok(prompt)["input_ids"]
            if tok.mask_token_id not in ids:
                raise SkipQuery("mask_truncated")
            answer_ids = tok(answer.strip(), add_special_tokens=False)["input_ids"][:1]
            encoded = EncodedQuery(ids, ids.index(tok.mask_token_id), answer_ids, prompt)
        else:
            prompt_ids = tok(prompt)["input_ids"]
            whole = tok(prompt + " " + answer.strip())["input_ids"]
            if whole[: len(prompt_ids)] == prompt_ids and len(whole) > len(prompt_ids):
                answer_ids = whole[len(prompt_ids):]
            else:  # the boundary merged: fall back to the answer tokenised on its own
                answer_ids = tok(" " + answer.strip(), add_special_tokens=False)["input_ids"]
            if self.mode == "first":
                answer_ids = answer_ids[:1]
            ids = prompt_ids + answer_ids[:-1]
            encoded = EncodedQuery(ids, len(prompt_ids) - 1, answer_ids, prompt)
        if not encoded.answer_ids:
            raise SkipQuery("empty_answer")
        if len(encoded.input_ids) > self.max_length:
            raise SkipQuery("query_too_long")
        return encoded

    # --- batches -------------------------------------------------------------------------------
    def collate(self, encoded: list[EncodedQuery]):
        """Right-padded tensors: input_ids, attention_mask, target positions."""
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        width = max(len(e.input_ids) for e in encoded)
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
            mask[row, : len(e.input_ids)] = 1
        targets = torch.tensor([e.target for e in encoded], dtype=torch.long)
        device = self.lm.device
        return ids.to(device), mask.to(device), targets.to(device)

    def logits(self, ids, mask, targets) -> torch.Tensor:
        """Full logits [batch, seq, vocab], with the targets published for interventions."""
        with target_positions(targets):
            return self.lm.model(input_ids=ids, attention_mask=mask).logits

    def answer_log_probs(self, logits: torch.Tensor, encoded: list[EncodedQuery]) -> torch.Tensor:
        """log Prob(answer) per row from full logits (differentiable)."""
        out = []
        for row, e in enumerate(encoded):
            positions = torch.arange(e.target, e.target + len(e.answer_ids), device=logits.device)
            logp = torch.log_softmax(logits[row, positions].float(), dim=-1)
            gold = torch.tensor(e.answer_ids, device=logits.device)
            out.append(logp[torch.arange(len(gold), device=logits.device), gold].sum())
        return torch.stack(out)

    @torch.no_grad()
    def probs_encoded(self, encoded: list[EncodedQuery]) -> np.ndarray:
        result = []
        for start in range(0, len(encoded), self.batch_size):
            chunk = encoded[start : start + self.batch_size]
            logits = self.logits(*self.collate(chunk))
            result.append(self.answer_log_probs(logits, chunk).exp().double().cpu().numpy())
        return np.concatenate(result) if result else np.zeros(0)

    def probs(self, queries: list[str], answers: list[str]) -> np.ndarray:
        """Prob(answer | query) for each pair (queries are ``[Y]`` cloze prompts)."""
        return self.probs_encoded([self.encode(q, a) for q, a in zip(queries, answers)])

    @torch.no_grad()
    def top_tokens(self, queries: list[str], k: int = 1) -> list[list[str]]:
        """The model's top-k next tokens (decoded, stripped) at each query's target position."""
        encoded = [self.encode(q, "x") for q in queries]
        out = []
        for start in range(0, len(encoded), self.batch_size):
            chunk = encoded[start : start + self.batch_size]
            ids, mask, targets = self.collate(chunk)
            logits = self.logits(ids, mask, targets)
            rows = torch.arange(len(chunk), device=logits.device)
            top = logits[rows, targets].topk(k, dim=-1).indices.tolist()
            out.extend([[self.tokenizer.decode([t]).strip() for t in row] for row in top])
        return out


# --- shared-prefix execution (causal LMs) -----------------------------------------------------
# An intervention at the target position leaves every earlier position unchanged, so many
# variants of one query can share the prefix's key/value cache and run only the tokens from the
# target on. Used by the IG engine's cached path and by batched suppression experiments.

@torch.no_grad()
def prefix_cache(lm, encoded: EncodedQuery):
    """The KV cache of the tokens before the target, or None when the target is the first token."""
    if lm.is_masked_lm or encoded.target == 0 or not lm.adapter.supports_kv_cache:
        return None
    ids = torch.tensor([encoded.input_ids[: encoded.target]], device=lm.device)
    return returned_cache(lm.model(input_ids=ids, use_cache=True))


def tail_logits(lm, encoded: EncodedQuery, cache, batch: int) -> torch.Tensor:
    """Logits [batch, tail, vocab] of the tokens from the target on, ``batch`` copies sharing
    ``cache`` (position 0 of the result is the target). Hooks see the target at index 0."""
    import copy

    t, length = encoded.target, len(encoded.input_ids)
    tail = torch.tensor([encoded.input_ids[t:]], device=lm.device).expand(batch, -1)
    cache = copy.deepcopy(cache)
    cache.batch_repeat_interleave(batch)
    return lm.model(
        input_ids=tail, **with_cache(cache),
        attention_mask=torch.ones(batch, length, dtype=torch.long, device=lm.device),
        position_ids=torch.arange(t, length, device=lm.device).expand(batch, -1),
    ).logits
