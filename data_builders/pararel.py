"""ParaRel (Elazar et al., 2021): paraphrased patterns x T-REx facts -> facts with many queries."""

from __future__ import annotations

from pathlib import Path

import datasets

from dknbench.data.schema import SLOT, Fact
from dknbench.errors import DKNBenchError

from . import BUILDERS
from ._common import (
    as_bool,
    as_int,
    as_list,
    facts_dataset,
    fill_pattern,
    nonempty,
    read_jsonl,
    require_keys,
    seeded_sample,
    slot_is_last,
    source_path,
    unique,
)

# where patterns and facts live: the shared copy, or a checkout of yanaiela/pararel
PATTERN_DIRS = ("patterns", "pattern_data/graphs_json", "data/pattern_data/graphs_json")
FACT_DIRS = ("trex_lms_vocab", "data/trex_lms_vocab")


def find_layout(folder: Path) -> tuple[Path, Path] | None:
    """(patterns folder, facts folder) of a raw ParaRel folder, or None when it is not one."""
    if not folder.is_dir():
        return None
    patterns = next((folder / p for p in PATTERN_DIRS if any((folder / p).glob("P*.jsonl"))), None)
    facts = next((folder / f for f in FACT_DIRS if any((folder / f).glob("P*.jsonl"))), None)
    if patterns is None or facts is None:
        return None
    return patterns, facts


def is_pararel_folder(path) -> bool:
    return find_layout(Path(path)) is not None


def read_patterns(patterns_dir: Path) -> dict[str, list[str]]:
    patterns = {}
    for file in sorted(patterns_dir.glob("P*.jsonl")):
        rows = list(read_jsonl(file))
        for number, row in enumerate(rows, 1):
            require_keys(row, ["pattern"], f"{file}:{number}")
        patterns[file.stem] = unique(row["pattern"] for row in rows)
    return patterns


def pararel_facts(source, seed: int = 42, causal=False, relations=None, min_queries=3,
                  max_facts_per_relation=None) -> list[Fact]:
    """The ParaRel facts of ``source`` with their queries (the pararel builder's rows)."""
    folder = source_path(source, what="ParaRel")
    layout = find_layout(folder)
    if layout is None:
        raise DKNBenchError(
            f"{folder} is not a ParaRel folder: expected P*.jsonl files under one of "
            f"{', '.join(PATTERN_DIRS)} and one of {', '.join(FACT_DIRS)}"
        )
    causal = as_bool(causal, "causal")
    min_queries = as_int(min_queries, "min_queries", minimum=1)
    max_facts = as_int(max_facts_per_relation, "max_facts_per_relation", minimum=1)
    patterns_dir, facts_dir = layout
    patterns = read_patterns(patterns_dir)
    available = sorted(r for r in patterns if (facts_dir / f"{r}.jsonl").is_file())
    wanted = as_list(relations, "relations") or available
    unknown = [r for r in wanted if r not in available]
    if unknown:
        raise DKNBenchError(
            f"unknown ParaRel relation(s) {', '.join(unknown)}; available: {', '.join(available)}"
        )
    facts: list[Fact] = []
    for relation in wanted:
        usable = [p for p in patterns[relation] if SLOT in p and "[X]" in p and (not causal or slot_is_last(p))]
        if len(usable) < min_queries:
            continue  # too few paraphrases for this relation under the options
        relation_facts, seen = [], set()
        file = facts_dir / f"{relation}.jsonl"
        for number, row in enumerate(read_jsonl(file), 1):
            require_keys(row, ["sub_label", "obj_label"], f"{file}:{number}")
            key = (row["sub_label"], row["obj_label"])
            if key in seen:
                continue
            seen.add(key)
            ident = row.get("uuid") or f"{number}"
            queries = unique(fill_pattern(p, row["sub_label"]) for p in usable)
            relation_facts.append(Fact(id=f"{relation}_{ident}", relation=relation, subject=row["sub_label"],
                                       object=row["obj_label"], queries=queries, source="pararel"))
        facts += seeded_sample(relation_facts, max_facts, seed, "pararel", relation)
    return facts


@BUILDERS.register(
    "pararel",
    description="ParaRel facts (T-REx subject/object) with all paraphrased cloze queries per fact",
    version="1.0.0",
    license="cc-by-nc-4.0",  # ParaRel is MIT; its T-REx facts come from LAMA (CC BY-NC 4.0)
    default_split="facts",
    fields="Fact schema (`dknbench.data.schema.FACT_FEATURES`); `queries` are the relation's "
           "ParaRel patterns with `[X]` filled by the subject and `[Y]` kept as the object slot.",
    collection=("ParaRel's paraphrased patterns per relation filled with the T-REx subject/object pairs of "
                'LAMA; no text is written beyond filling [X] with the subject; max_facts_per_relation keeps a'
                ' seeded sample.'),
    limitations=[
        'Facts are Wikidata triples of the T-REx snapshot and can be outdated or wrong.',
        "Objects are restricted to LAMA's common vocabulary (trex_lms_vocab).",
        'Patterns are templates: some paraphrases read unnaturally for some subjects.',
    ],
)
def build(source, seed: int = 42, causal=False, relations=None, min_queries=3,
          max_facts_per_relation=None) -> datasets.DatasetDict:
    """Options: causal (keep only patterns whose [Y] is last), relations (list or "P17,P36"),
    min_queries (drop relations with fewer usable patterns), max_facts_per_relation (seeded sample).
    Split: ``facts``."""
    facts = pararel_facts(source, seed, causal, relations, min_queries, max_facts_per_relation)
    if not facts:
        raise DKNBenchError("pararel: no facts left after filtering (check causal/min_queries/relations)")
    return nonempty(datasets.DatasetDict({"facts": facts_dataset(facts)}), "pararel")
