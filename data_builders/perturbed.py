"""Perturbed queries Q* (000 §5, Eq. 15): replace / add / delete one word of each query.

Words are whitespace-separated tokens; ``[replace]`` and ``[add]`` are the paper's special
tokens. By default only words before the slot ``[Y]`` are touched (choice): a causal LM reads only
that part, so every perturbation is visible to both causal and masked LMs; the slot word itself
is never edited.
"""

from __future__ import annotations

from dataclasses import replace

import datasets

from dknbench.data.schema import FACT_FEATURES, SLOT
from dknbench.errors import DKNBenchError

from . import BUILDERS
from ._common import as_bool, as_int, as_list, facts_dataset, nonempty, rng

KINDS = ("replace", "add", "delete")
REPLACE_TOKEN, ADD_TOKEN = "[replace]", "[add]"

PERTURBED_FEATURES = datasets.Features(
    {
        **FACT_FEATURES,
        "fact_id": datasets.Value("string"),  # id of the source fact (rows are per query)
        "original_query": datasets.Value("string"),  # Q (also the row's only entry in `queries`)
        "perturbed_query": datasets.Value("string"),  # Q*
        "perturbation": datasets.Value("string"),  # replace | add | delete
        "position": datasets.Value("int32"),  # word index edited (add: index of the inserted token)
    }
)


def positions(words: list[str], kind: str, before_slot: bool) -> list[int]:
    """Word indices where ``kind`` may apply."""
    slot = next((i for i, w in enumerate(words) if SLOT in w), None)
    if slot is None:
        return []
    end = slot if before_slot else len(words)
    if kind == "add":
        return list(range(end + 1))  # inserting at `end` puts [add] right before the slot word
    return [i for i in range(end) if i != slot]


def perturb(query: str, kind: str, position: int) -> str:
    words = query.split()
    if kind == "replace":
        words[position] = REPLACE_TOKEN
    elif kind == "add":
        words.insert(position, ADD_TOKEN)
    elif kind == "delete":
        del words[position]
    else:
        raise ValueError(kind)
    return " ".join(words)


def perturb_seeded(query: str, kinds: list[str], before_slot: bool, seed: int, *keys) -> tuple[str, str, int] | None:
    """(Q*, kind, position) for one query, or None when no kind applies to it."""
    words = query.split()
    feasible = {kind: positions(words, kind, before_slot) for kind in kinds}
    feasible = {kind: places for kind, places in feasible.items() if places}
    if not feasible:
        return None
    generator = rng(seed, "perturb", *keys)
    kind = generator.choice(sorted(feasible, key=KINDS.index))
    position = generator.choice(feasible[kind])
    return perturb(query, kind, position), kind, position


@BUILDERS.register(
    "perturbed",
    description="Perturbed queries Q* (000 Eq. 15): one word replaced by [replace], [add] inserted, or one word deleted",
    version="1.0.0",
    license=None,  # inherits the source dataset's license
    default_split="perturbed",
    fields="Fact schema plus fact_id, original_query, perturbed_query, perturbation, position. One row "
           "per (fact, query); `id` = `<fact id>:q<query index>`, `queries` = [original_query].",
    collection=('Each query of the source fact set gets one seeded word edit (000 Eq. 15): a word replaced by'
                ' [replace], [add] inserted, or a word deleted, by default before the [Y] slot.'),
    limitations=[
        'A perturbation can change what the query means (e.g. deleting the relation word), so the '
        'original answer need not hold for Q*; no human checked them.',
        'The [replace] and [add] tokens are not words a model has seen in this role.',
    ],
)
def build(source, seed: int = 42, split=None, kinds="replace,add,delete", before_slot=True, limit=None,
          max_queries_per_fact=None) -> datasets.DatasetDict:
    """Source: any fact set ``load_facts`` accepts (builtin, a built folder, a raw ParaRel folder,
    a Hub id); ``split`` picks its split. Options: kinds (subset of replace,add,delete; one is
    drawn per query), before_slot (only edit words before [Y]; default true), limit (facts,
    seeded sample), max_queries_per_fact. Split: ``perturbed``."""
    from dknbench.data.loading import load_facts

    chosen = as_list(kinds, "kinds") or []
    bad = [k for k in chosen if k not in KINDS]
    if bad or not chosen:
        raise DKNBenchError(f"perturbed: unknown kind(s) {', '.join(bad) or '(none given)'}; allowed: {', '.join(KINDS)}")
    before_slot = as_bool(before_slot, "before_slot")
    per_fact = as_int(max_queries_per_fact, "max_queries_per_fact", minimum=1)
    facts = load_facts(str(source), split=split, limit=as_int(limit, "limit", minimum=1), seed=seed)
    rows, extra = [], []
    for fact in facts:
        for index, query in enumerate(fact.queries[:per_fact]):
            result = perturb_seeded(query, chosen, before_slot, seed, fact.id, index)
            if result is None:
                continue
            perturbed, kind, position = result
            row = replace(fact, id=f"{fact.id}:q{index}", queries=[query])
            rows.append(row)
            extra.append({"fact_id": fact.id, "original_query": query, "perturbed_query": perturbed,
                          "perturbation": kind, "position": position})
    if not rows:
        raise DKNBenchError("perturbed: no query could be perturbed (each needs a word before [Y])")
    dataset = facts_dataset(rows, features=PERTURBED_FEATURES, extra=extra)
    return nonempty(datasets.DatasetDict({"perturbed": dataset}), "perturbed")
