"""From facts to knowledge neurons: per-query scores (cached), KN sets, cross-query refinement."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..activity import phase
from ..errors import ConfigError
from ..hyperparams import constructor_defaults
from ..scoring import AnswerScorer, SkipQuery
from .base import LOCALIZERS, Localizer, Neuron, refine_across_queries
from .cache import AttributionCache
from .engine import DEFAULT_QUADRATURE, IGEngine


def build_localizer(name: str, where: dict | None = None, **params) -> Localizer:
    """Instantiate a registered localizer from the parameters its constructor takes (others are
    ignored) and check them against its class's declaration (ConfigError naming the parameter, or
    the option ``where[param]`` it came from)."""
    cls = LOCALIZERS.get(name)
    accepted = constructor_defaults(cls)
    return cls(**{k: v for k, v in params.items() if k in accepted}).check_params(where)


@dataclass
class FactKNs:
    fact_id: str
    queries: list[str]  # usable queries (cloze form)
    query_kns: list[list[Neuron]]
    kns: list[Neuron]  # refined across queries
    skipped: Counter = field(default_factory=Counter)


class KNLocator:
    """Localizes KNs with one localizer on one model, reusing cached attributions."""

    def __init__(self, lm, localizer: Localizer, scorer: AnswerScorer | None = None,
                 cache: AttributionCache | None = None, batch_size: int = 128, max_memory=None,
                 engine_path: str = "auto", refine_p: float = 0.5, reference: "KNLocator | None" = None):
        self.lm, self.localizer = lm, localizer.check_params()
        self.scorer = scorer or AnswerScorer(lm)
        self.cache = cache if cache is not None else AttributionCache()
        self.engine = IGEngine(lm, self.scorer, steps=localizer.steps, batch_size=batch_size,
                               path=engine_path, max_memory=max_memory,
                               quadrature=getattr(localizer, "quadrature", DEFAULT_QUADRATURE))
        self.refine_p = refine_p
        self.reference = reference  # the localizer whose KN counts `random` matches
        self._recent: dict[str, np.ndarray] = {}

    def query_scores(self, query: str, answer: str, subject: str | None = None) -> np.ndarray:
        """``subject``: the fact's subject, needed by localizers that corrupt it (atp, causal-tracing)."""
        encoded = self.scorer.encode(query, answer)  # may raise SkipQuery
        params = self.localizer.params()
        if self.localizer.needs_subject:
            params = {**params, "subject": subject}
        key = self.cache.key(self.lm.fingerprint, self.localizer.name, params,
                             self.scorer.mode, encoded.prompt, encoded.answer_ids)
        scores = self._recent.get(key)
        if scores is None:
            scores = self.cache.get(key)
        if scores is None:
            with phase(f"{self.localizer.name} attribution of {query!r}"):  # the heartbeat names it
                scores = self.localizer.scores(self.engine, encoded, subject=subject)
            self.cache.put(key, scores)
        # tasks ask again for the scores of the queries just localized (ranking, CAS's rule);
        # kept in memory so --no-cache does not run the attribution twice
        self._recent[key] = scores
        while len(self._recent) > self.RECENT:
            self._recent.pop(next(iter(self._recent)))
        return scores

    RECENT = 32  # attributions kept in memory (one fact's queries, with room to spare)

    def _matches_reference(self) -> bool:
        """A random localizer without a fixed count draws as many neurons as the reference."""
        if getattr(self.localizer, "name", "") != "random" or getattr(self.localizer, "count", None) is not None:
            return False
        if self.reference is None:
            raise ConfigError("the random localizer needs a reference localizer to match its count")
        return True

    def query_kns(self, query: str, answer: str, subject: str | None = None) -> list[Neuron]:
        scores = self.query_scores(query, answer, subject)
        if self._matches_reference():
            return self.localizer.select(scores, count=len(self.reference.query_kns(query, answer, subject)))
        return self.localizer.select(scores)

    def localize(self, fact, max_queries: int | None = None) -> FactKNs:
        result = FactKNs(fact.id, [], [], [])
        for query in fact.queries:
            if max_queries and len(result.queries) >= max_queries:  # None or 0: every query
                break
            try:
                kns = self.query_kns(query, fact.object, fact.subject)
            except SkipQuery as skip:
                result.skipped[skip.reason] += 1
                continue
            result.queries.append(query)
            result.query_kns.append(kns)
        fact_rule = getattr(self.localizer, "fact_kns", None)
        if fact_rule is not None and result.queries:
            # a localizer with its own fact-level rule (CAS, 003 Eq. 7) replaces Dai's refinement;
            # the per-query scores come back from the cache filled just above
            result.kns = fact_rule([self.query_scores(q, fact.object, fact.subject) for q in result.queries])
        else:
            p = self.refine_p if len(result.queries) > 1 else 0.0
            result.kns = refine_across_queries(result.query_kns, p)
        if result.queries and self._matches_reference():
            # independent per-query draws share almost no neuron, so refining them would leave
            # ~none: the fact's set is one draw as large as the reference's refined set
            count = len(self.reference.localize(fact, max_queries).kns)
            result.kns = self.localizer.select(self.query_scores(result.queries[0], fact.object, fact.subject),
                                               count=count)
        return result
