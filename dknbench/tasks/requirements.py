"""What a fact needs before a task spends attribution on it, and the selection ``--limit`` makes.

A task declares its requirements (``Task.requirements()``); the harness keeps, in the seeded order,
the first ``--limit`` facts that meet them (``select_meeting``), so ``--limit N`` counts facts a
task can use rather than facts it attempted. Three kinds:

* a cheap per-fact check (the tokenizer only: queries the scorer can encode);
* a per-fact check that needs a forward pass (``forward_pass=True``: the fact is known to the
  model), run only on facts that passed every cheap check;
* a group rule (``PerGroup``: at least k facts of the fact's relation in the run, 002 §3.4's
  fact-checking split needs 3). A group is admitted once k of its facts passed the per-fact checks;
  its facts then enter the selection together, in their seeded positions, and never overflow N.

What is passed over is counted by reason (``passed_over`` in run.json and summary.json, beside
``skipped``, which counts facts that failed later, inside ``run_fact``). Only the facts looked at
before N were found are counted. The selection depends on the seed, the fact set, the model and the
run settings only (resume checks those), so a resumed run selects the same facts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from .common import usable_queries


@dataclass(frozen=True)
class Requirement:
    """One per-fact need; ``check(task, fact) -> bool``. ``reason`` is what passed_over counts."""

    reason: str
    check: Callable[[Any, Any], bool]
    forward_pass: bool = False  # needs the model's forward pass: checked after every cheap one


@dataclass(frozen=True)
class PerGroup:
    """At least ``at_least`` selected facts share ``key(fact)`` (e.g. the relation)."""

    reason: str  # the group has fewer than ``at_least`` facts that pass the per-fact checks
    key: Callable[[Any], str]
    at_least: int
    overflow_reason: str = "group_does_not_fit_the_limit"  # k facts found, but k more would pass N


def encodable_queries(at_least: int = 1, reason: str | None = None) -> Requirement:
    """At least ``at_least`` of the fact's queries (of the first ``max_queries`` usable) encode."""

    def check(task, fact) -> bool:
        limit = task.options.get("max_queries") or None
        return len(usable_queries(task.ctx.scorer(), fact, limit)[0]) >= at_least

    return Requirement(reason or ("no_usable_query" if at_least == 1 else f"fewer_than_{at_least}_queries"), check)


def known_to_model(reason: str = "not_known") -> Requirement:
    """The known_only gate (000 App. A.2, "facts already grasped by the model"): on every usable
    query the model ranks the gold answer first or gives it Prob >= ``known_min_prob``."""

    def check(task, fact) -> bool:
        from .dkn_common import gold_rank_and_prob, is_known

        scorer = task.ctx.scorer()
        queries = usable_queries(scorer, fact, task.options.get("max_queries") or None)[0]
        if not queries:
            return False
        floor = task.options["known_min_prob"]
        return all(is_known(rank, prob, floor) for rank, prob in gold_rank_and_prob(scorer, queries, fact.object))

    return Requirement(reason, check, forward_pass=True)


def dkn_fact_requirements(options) -> list[Requirement]:
    """What ``dkn_common.FactDKNs`` needs: a usable query, and the fact known to the model when
    the task sets ``known_only`` (gcr: 000 App. A.2)."""
    return [encodable_queries(1)] + ([known_to_model()] if options.get("known_only", False) else [])


def facts_per_relation(at_least: int) -> PerGroup:
    return PerGroup(f"relation_has_fewer_than_{at_least}_facts", lambda fact: fact.relation, at_least,
                    "relation_does_not_fit_the_limit")


@dataclass
class Selection:
    facts: list  # the selected facts, in the seeded order
    passed_over: dict[str, int] = field(default_factory=dict)  # reason -> facts passed over
    asked: int | None = None  # --limit
    looked_at: int = 0  # the selection looked at the first ``looked_at`` facts of the seeded order

    @property
    def short(self) -> bool:
        return self.asked is not None and len(self.facts) < self.asked

    def __post_init__(self):
        self.looked_at = self.looked_at or len(self.facts)

    def counts(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.passed_over.items())) or "none"

    def shortfall(self, task_name: str, n_candidates: int) -> str:
        """One line: the fact set cannot supply what --limit asked for (or nothing at all)."""
        if not self.facts:
            return (f"{task_name}: none of the {n_candidates} facts meets the task's requirements "
                    f"(passed over: {self.counts()})")
        return (f"{task_name}: {len(self.facts)} of {n_candidates} facts meet the task's requirements, "
                f"fewer than --limit {self.asked} (passed over: {self.counts()}); running with {len(self.facts)}")


def split_requirements(requirements) -> tuple[list[Requirement], list[Requirement], list[PerGroup]]:
    cheap = [r for r in requirements if isinstance(r, Requirement) and not r.forward_pass]
    costly = [r for r in requirements if isinstance(r, Requirement) and r.forward_pass]
    groups = [r for r in requirements if isinstance(r, PerGroup)]
    if len(cheap) + len(costly) + len(groups) != len(requirements):
        raise TypeError("a task's requirements are Requirement or PerGroup instances")
    if len(groups) > 1:
        raise TypeError("at most one PerGroup requirement per task")
    return cheap, costly, groups


def select_meeting(task, ordered: list, limit: int | None) -> Selection:
    """The first ``limit`` facts of ``ordered`` (already in the seeded order) meeting the task's
    requirements; every fact when ``limit`` is None."""
    cheap, costly, groups = split_requirements(task.requirements())
    group = groups[0] if groups else None
    # cheap first: a group too small in the whole fact set can never be admitted, so its facts
    # are passed over without a forward pass
    sizes = Counter(group.key(f) for f in ordered) if group else Counter()
    passed = Counter()
    chosen: list[int] = []  # positions in ``ordered``
    pending: dict[str, list[int]] = {}
    admitted: set[str] = set()
    full = (lambda: len(chosen) >= limit) if limit else (lambda: False)
    looked_at = len(ordered)
    for position, fact in enumerate(ordered):
        if full():
            looked_at = position
            break
        key = group.key(fact) if group else None
        if group and sizes[key] < group.at_least:
            passed[group.reason] += 1
            continue
        failed = next((r.reason for r in (*cheap, *costly) if not r.check(task, fact)), None)
        if failed:
            passed[failed] += 1
            if group:  # one fewer fact that could fill its group
                sizes[key] -= 1
            continue
        if group is None or key in admitted:
            chosen.append(position)
            continue
        pending.setdefault(key, []).append(position)
        if len(pending[key]) >= group.at_least and (not limit or len(chosen) + len(pending[key]) <= limit):
            admitted.add(key)
            chosen.extend(pending.pop(key))
    for key, positions in pending.items():  # groups that never reached k, or would overflow N
        reason = group.reason if len(positions) < group.at_least else group.overflow_reason
        passed[reason] += len(positions)
    return Selection([ordered[p] for p in sorted(chosen)], dict(passed), limit, looked_at)
