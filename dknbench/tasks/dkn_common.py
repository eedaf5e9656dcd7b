"""What every DKN task does per fact: KNs -> distance graph -> DKN method -> BDCs."""

from __future__ import annotations

import numpy as np

import torch

from ..interventions.activations import scale_per_row, target_positions
from ..scoring import prefix_cache, tail_logits
from .base import SkipFact
from .common import usable_queries


class SuppressionScorer:
    """Prob of a fact's answer (mean over its queries) with some neurons suppressed, or scaled by
    another factor (enhanced x2); memoised.

    Implements the scorer protocol of dknbench.dkn (``base_prob``, ``prob_suppressing``), and serves
    every activation intervention of a set of neurons on a fixed list of queries (kn-localization's
    enhance/suppress, perturbation-robustness's values interventions): ``per_query`` gives each
    query's Prob and whether the answer's first token is the model's top token at the target.

    Causal LMs at the target position run only the tokens from the target on, over the prefix's
    key/value cache; with ``lowest_layer`` (the default where the IG fast path's staircase holds)
    each set also starts at its lowest intervened layer: the blocks below it compute what the clean
    run computed, so its row enters the staircase (``localization.engine``) with the clean run's
    hidden state there. Equal to the plain path up to float summation order.
    """

    LOWEST_LAYER = True  # the default of ``lowest_layer`` (tests compare both paths end to end)

    def __init__(self, scorer, adapter, queries, answer, positions="target", lowest_layer: bool | None = None,
                 encoded=None):
        self.scorer, self.adapter, self.positions = scorer, adapter, positions
        lm = scorer.lm
        lowest_layer = self.LOWEST_LAYER if lowest_layer is None else lowest_layer
        self.lowest_layer = (lowest_layer and positions == "target" and not lm.is_masked_lm
                             and adapter.supports_kv_cache and adapter.fast_path)
        self.encoded = list(encoded) if encoded is not None else [scorer.encode(q, answer) for q in queries]
        self._memo: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (factor, set) -> (probs, top-1 ok)
        self._caches = None  # per query: prefix KV cache (+ clean block outputs), built on first use
        self._full_states = None  # per query: clean block outputs at every position (weight edits)
        self.base_prob = self.prob_suppressing([]) if self.encoded else float("nan")

    def prob_suppressing(self, neurons) -> float:
        return self.prob_suppressing_many([neurons])[0]

    def prob_suppressing_many(self, neuron_sets) -> list[float]:
        return self.prob_scaling_many(neuron_sets, 0.0)

    def prob_scaling_many(self, neuron_sets, factor: float) -> list[float]:
        """Mean Prob over the queries with each set's activations multiplied by ``factor``."""
        return [float(np.mean(probs)) for probs, _ in self.per_query(neuron_sets, factor)]

    def per_query(self, neuron_sets, factor: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per set: (Prob of each query's answer, whether its first token is the top-1 token at the
        target) with the set's activations multiplied by ``factor``. Batched: every (set, query)
        pair is one batch row with its own scale mask."""
        keys = [(float(factor) if len(neurons) else 0.0, frozenset((int(l), int(i)) for l, i in neurons))
                for neurons in neuron_sets]  # no neuron: no intervention, whatever the factor
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo))
        if self._caches is None and todo:
            self._caches = [self._context(e) for e in self.encoded]
        for start in range(0, len(todo), self.CHUNK):
            chunk = todo[start : start + self.CHUNK]
            read = [self._probs(chunk, e, c) for e, c in zip(self.encoded, self._caches)]
            probs = np.stack([r[0] for r in read], axis=1)
            correct = np.stack([r[1] for r in read], axis=1)
            for key, p, ok in zip(chunk, probs, correct):
                self._memo[key] = (p, ok)
        return [self._memo[k] for k in keys]

    CHUNK = 64  # intervened sets per forward pass

    def per_query_edited(self, edit, lowest: int) -> tuple[np.ndarray, np.ndarray]:
        """(Prob, top-1 ok) of each query inside ``edit()`` (a context manager that changes the
        weights from block ``lowest`` up, e.g. ``suppress_weights``: every position changes above
        it). See ``edited_logits``."""
        read = [self._read(logits, at, e, len(logits)) for e, logits, at in self.edited_logits(edit, lowest)]
        return np.concatenate([r[0] for r in read]), np.concatenate([r[1] for r in read])

    @torch.no_grad()
    def edited_logits(self, edit, lowest: int) -> list:
        """[(encoded query, its logits [1, seq, vocab], its target's index)] per query inside
        ``edit()``. With ``lowest_layer``, each query starts at block ``lowest`` from the clean
        run's block outputs at every position (knowledge-editing's ΔPPL start), recorded once
        before any edit; otherwise plain forwards (batches of the scorer's batch size)."""
        if not (self.lowest_layer and lowest > 0):
            out, size = [], self.scorer.batch_size
            with edit():
                for start in range(0, len(self.encoded), size):
                    chunk = self.encoded[start: start + size]
                    ids, mask, targets = self.scorer.collate(chunk)
                    logits = self.scorer.logits(ids, mask, targets)
                    out += [(e, logits[row: row + 1], e.target) for row, e in enumerate(chunk)]
            return out
        from ..localization.engine import clean_context, staircase

        if self._full_states is None:  # clean block outputs at every position, before any edit
            self._full_states = [clean_context(self.scorer.lm, type(e)(e.input_ids, 0, [], e.prompt),
                                               range(self.adapter.n_layers))[2] for e in self.encoded]
        head = self.scorer.lm.model.get_output_embeddings()
        out = []
        with edit():
            for e, states in zip(self.encoded, self._full_states):
                hidden = staircase(self.scorer.lm, {lowest - 1: states[lowest - 1][None]}, e.input_ids,
                                   0, len(e.input_ids), None)
                out.append((e, head(hidden), e.target))
        return out

    def _context(self, encoded):
        """(prefix KV cache or None, clean block outputs from the target on or None)."""
        lm = self.scorer.lm
        if self.positions != "target":
            return None, None
        if self.lowest_layer and encoded.target > 0:
            from ..localization.engine import clean_context

            cache, _, block_out = clean_context(lm, encoded, range(self.adapter.n_layers))
            return cache, block_out
        return prefix_cache(lm, encoded), None

    def _read(self, logits, at, encoded, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(Prob of the answer, top-1 at the target is its first token) per row, from logits whose
        target is at index ``at``."""
        probs = self.scorer.answer_log_probs(logits, [encoded] * rows).exp().double().cpu().numpy()
        top = logits[:, at].argmax(-1).cpu().numpy()
        return probs, top == encoded.answer_ids[0]

    @torch.no_grad()
    def _probs(self, chunk, encoded, context) -> tuple[np.ndarray, np.ndarray]:
        """``_read`` of one query under each (factor, set) of ``chunk``; with a prefix cache only
        the tokens from the target on are run (equal results, ~prompt-length times cheaper)."""
        batch = len(chunk)
        sets, factors = [sorted(s) for _, s in chunk], [f for f, _ in chunk]
        cache, block_out = context
        shifted = type(encoded)(encoded.input_ids, 0, encoded.answer_ids, encoded.prompt)
        if block_out is not None:
            return self._probs_from_lowest(sets, factors, encoded, cache, block_out, shifted)
        zeros = torch.zeros(batch, dtype=torch.long, device=self.scorer.lm.device)
        if cache is None:
            ids, mask, targets = self.scorer.collate([encoded] * batch)
            with scale_per_row(self.adapter, sets, factors, positions=self.positions):
                logits = self.scorer.logits(ids, mask, targets)
            return self._read(logits, encoded.target, encoded, batch)
        with target_positions(zeros), scale_per_row(self.adapter, sets, factors, positions="target"):
            logits = tail_logits(self.scorer.lm, encoded, cache, batch)
        return self._read(logits, 0, shifted, batch)

    def _probs_from_lowest(self, sets, factors, encoded, cache, block_out, shifted):
        """Each set's row enters above the clean block below its lowest intervened layer (the empty
        set: at the top); sets touching layer 0 run every block over the prefix cache."""
        from ..localization.engine import from_own_layers

        lm, top = self.scorer.lm, self.adapter.n_layers
        lowest = [min((l for l, _ in s), default=top) for s in sets]
        probs, correct = np.zeros(len(sets)), np.zeros(len(sets), dtype=bool)
        bottom = [i for i, low in enumerate(lowest) if low == 0]
        if bottom:
            zeros = torch.zeros(len(bottom), dtype=torch.long, device=lm.device)
            with target_positions(zeros), scale_per_row(self.adapter, [sets[i] for i in bottom],
                                                        [factors[i] for i in bottom]):
                logits = tail_logits(lm, encoded, cache, len(bottom))
            probs[bottom], correct[bottom] = self._read(logits, 0, shifted, len(bottom))
        above = sorted((i for i, low in enumerate(lowest) if low > 0), key=lambda i: lowest[i])
        if above:  # the row of a set whose lowest layer is l enters as block l-1's output
            one = torch.zeros(1, dtype=torch.long, device=lm.device)
            with target_positions(one), scale_per_row(self.adapter, [sets[i] for i in above],
                                                      [factors[i] for i in above], first_rows=True):
                hidden = from_own_layers(lm, block_out, [lowest[i] for i in above], encoded, cache)
            logits = lm.model.get_output_embeddings()(hidden)
            probs[above], correct[above] = self._read(logits, 0, shifted, len(above))
        return probs, correct


@torch.no_grad()
def gold_rank_and_prob(scorer, queries, answer) -> list[tuple[int, float]]:
    """(rank of the gold first answer token at the target, 1 = the model's top token; Prob of the
    answer as the scorer measures it) for each query."""
    encoded = [scorer.encode(q, answer) for q in queries]
    ids, mask, targets = scorer.collate(encoded)
    logits = scorer.logits(ids, mask, targets)
    probs = scorer.answer_log_probs(logits, encoded).exp().double().cpu().numpy()
    out = []
    for row, e in enumerate(encoded):
        at = logits[row, e.target].float()
        rank = 1 + int((at > at[e.answer_ids[0]]).sum())
        out.append((rank, float(probs[row])))
    return out


def is_known(rank: int, prob: float, min_prob: float) -> bool:
    """The known_only gate: the model ranks the gold answer first, or gives it Prob >= min_prob."""
    return rank == 1 or prob >= min_prob


class FactDKNs:
    """KNs, distances and each method's DKN for one fact, computed once and shared by methods."""

    def __init__(self, ctx, fact):
        options = ctx.options
        self.seed = ctx.seed
        scorer = ctx.scorer()
        self.queries, self.skipped = usable_queries(scorer, fact, options["max_queries"])
        if not self.queries:
            raise SkipFact("no_usable_query")
        # known_only (000 App. A.2) is a declared requirement (requirements.dkn_fact_requirements):
        # the harness passes over unknown facts before any task sees them
        locator = ctx.locator(options["localizer"])
        located = locator.localize(fact, options["max_queries"])
        scores = np.mean([locator.query_scores(q, fact.object, fact.subject) for q in located.queries], axis=0)
        kns = sorted(located.kns, key=lambda n: -scores[n])[: options["max_kns"]]
        self.kns = sorted(kns)
        if len(self.kns) < 2:
            raise SkipFact("fewer_than_2_kns")
        self.attribution = {n: float(scores[n]) for n in self.kns}
        self.scorer = SuppressionScorer(scorer, ctx.lm.adapter, self.queries, fact.object,
                                        options["positions"])
        if self.scorer.base_prob <= 0:
            raise SkipFact("zero_probability")
        from ..dkn import neuron_distance_matrix

        self.distance = neuron_distance_matrix(self.kns, ctx.lm.adapter, read=options["read"])

    def fit(self, method: str, options: dict):
        """DKN method ``method`` built from the options its constructor takes (tasks/methods.py)."""
        from .methods import build_method

        model = build_method("dkn", method, options, self.seed)
        return model.fit(self.distance, self.kns, self.scorer, self.attribution).dkn_
