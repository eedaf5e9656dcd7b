"""Fact-checking sets (002 §3.4): each fact with a wrong object, split per relation into halves.

wrong_object = another object of the same relation (seeded), never an object the source gives
for the same (subject, relation). The first part of each relation localises DKNs and tunes
thresholds; the second part evaluates (true object vs wrong object).
"""

from __future__ import annotations

from dataclasses import replace

import datasets

from dknbench.errors import DKNBenchError

from . import BUILDERS
from ._common import as_bool, as_int, draw_other, facts_dataset, nonempty, rng


def _ratio(value) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        raise DKNBenchError(f"option ratio: expected a number in (0, 1), got {value!r}") from None
    if not 0 < ratio < 1:
        raise DKNBenchError(f"option ratio: expected a number in (0, 1), got {ratio}")
    return ratio


def with_wrong_objects(facts, seed: int):
    """Copies of ``facts`` with a seeded wrong object each (facts without a candidate are dropped)."""
    pools: dict[str, list[str]] = {}
    truths: dict[tuple[str, str], set[str]] = {}
    for fact in facts:
        pools.setdefault(fact.relation, []).append(fact.object)
        truths.setdefault((fact.relation, fact.subject), set()).add(fact.object)
    pools = {relation: sorted(set(objects)) for relation, objects in pools.items()}
    out = []
    for fact in facts:
        wrong = draw_other(pools[fact.relation], truths[(fact.relation, fact.subject)], seed, "wrong", fact.id)
        if wrong:
            out.append(replace(fact, wrong_object=wrong))
    return out


@BUILDERS.register(
    "fact-checking",
    description="True and wrong facts (002 §3.4): wrong_object from the same relation, per-relation first/second part",
    version="1.0.0",
    license=None,  # inherits the source dataset's license
    default_split="second_half",
    fields="Fact schema; `object` is the true object and `wrong_object` a false one of the same relation.",
    collection=('Facts of the source fact set, each given a wrong object drawn with the seed from the objects'
                ' of the same relation (never one the source gives for the same subject and relation), then '
                'split per relation into a first and a second part.'),
    limitations=[
        "A drawn wrong object can still be true when the source lists only some of a subject's true "
        'objects.',
        "Facts are Wikidata triples of the source's snapshot and can be outdated.",
    ],
)
def build(source, seed: int = 42, split=None, ratio=0.5, shuffle=False, limit=None) -> datasets.DatasetDict:
    """Source: any fact set ``load_facts`` accepts (a raw ParaRel folder, a built folder, builtin,
    a Hub id); ``split`` picks its split. Options: ratio (share of each relation in first_half,
    0.5), shuffle (seeded shuffle within a relation before halving; default keeps source order),
    limit (facts, seeded sample). Splits: ``first_half``, ``second_half``."""
    from dknbench.data.loading import load_facts

    ratio = _ratio(ratio)
    facts = with_wrong_objects(
        load_facts(str(source), split=split, limit=as_int(limit, "limit", minimum=1), seed=seed), seed)
    by_relation: dict[str, list] = {}
    for fact in facts:
        by_relation.setdefault(fact.relation, []).append(fact)
    first, second = [], []
    for relation in sorted(by_relation):
        group = by_relation[relation]
        if as_bool(shuffle, "shuffle"):
            rng(seed, "halves", relation).shuffle(group)
        if len(group) < 2:
            continue  # a relation needs a fact on each side
        cut = min(max(1, round(len(group) * ratio)), len(group) - 1)
        first += group[:cut]
        second += group[cut:]
    if not first:
        raise DKNBenchError("fact-checking: no relation has two facts with a wrong object to draw")
    splits = {"first_half": facts_dataset(first), "second_half": facts_dataset(second)}
    return nonempty(datasets.DatasetDict(splits), "fact-checking")
