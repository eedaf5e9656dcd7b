"""mParaRel (Fierro & Søgaard, 2022): the same facts in several languages, for cross-lingual tasks.

A fact is aligned across languages by (relation, subject URI, object URI); only facts present in
every requested language, of relations with enough patterns in every language, are kept. Each
language is a split with the same fact ids in the same order; `language` holds the code asked for.
"""

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

# language codes users type -> mParaRel folder names
ALIASES = {"zh": "zh-hans", "zh-cn": "zh-hans"}


def _folder(root: Path, kind: str, language: str) -> str:
    name = ALIASES.get(language, language)
    if kind == "patterns" and (root / "patterns" / name).is_dir():
        return name
    if kind == "tuples" and (root / "tuples" / f"{name}.jsonl.gz").is_file():
        return name
    have = sorted(p.name.removesuffix(".jsonl.gz") for p in (root / kind).glob("*")) if (root / kind).is_dir() else []
    raise DKNBenchError(f"mParaRel {kind} for language {language!r} not found under {root / kind}; "
                        f"available: {', '.join(have) or '(none)'}")


def _patterns(root: Path, language: str, causal: bool, checked_only: bool) -> dict[str, list[str]]:
    folder = root / "patterns" / _folder(root, "patterns", language)
    patterns = {}
    for file in sorted(folder.glob("P*.jsonl")):
        rows = list(read_jsonl(file))
        for number, row in enumerate(rows, 1):
            require_keys(row, ["pattern"], f"{file}:{number}")
        patterns[file.stem] = unique(
            r["pattern"] for r in rows
            if "[X]" in r["pattern"] and SLOT in r["pattern"]
            and (not causal or slot_is_last(r["pattern"])) and (not checked_only or r.get("checked-by-human"))
        )
    return patterns


def _tuples(root: Path, language: str, relations: set[str]) -> dict[tuple, dict]:
    file = root / "tuples" / f"{_folder(root, 'tuples', language)}.jsonl.gz"
    rows = {}
    for number, row in enumerate(read_jsonl(file), 1):
        require_keys(row, ["sub_uri", "obj_uri", "sub_label", "obj_label", "relation"], f"{file}:{number}")
        if row["relation"] in relations:
            rows.setdefault((row["relation"], row["sub_uri"], row["obj_uri"]), row)
    return rows


@BUILDERS.register(
    "multilingual",
    description="mParaRel facts aligned across languages (same fact id per language) for cross-lingual tasks",
    version="1.0.0",
    license="cc-by-nc-4.0",  # mParaRel states none; it forks mLAMA (CC BY-NC 4.0) and ParaRel (MIT)
    languages="from-options",
    fields="Fact schema, one split per language; `id` = `<relation>_<subject QID>_<object QID>` is the "
           "same across splits; `language` is the requested code.",
    collection=('mParaRel patterns per language filled with the mLAMA tuples of each relation; a fact is kept'
                ' only when it exists in every requested language, aligned by relation, subject and object.'),
    limitations=[
        "mParaRel's non-English patterns are largely machine translated; checked_only keeps the human-"
        'checked ones.',
        "Objects are single words of LAMA's vocabulary; facts are Wikidata triples of the source's "
        'snapshot.',
    ],
)
def build(source, seed: int = 42, languages="en,fr,zh", relations=None, causal=False, min_queries=1,
          checked_only=False, max_facts_per_relation=None) -> datasets.DatasetDict:
    """Options: languages (en,fr,zh; zh reads mParaRel's zh-hans), relations, causal (only patterns
    with [Y] last), min_queries (per language, 1), checked_only (human-checked patterns only),
    max_facts_per_relation (seeded sample). Splits: one per language, named by its code."""
    root = source_path(source, what="mParaRel")
    if not (root / "patterns").is_dir() or not (root / "tuples").is_dir():
        raise DKNBenchError(f"{root} is not an mParaRel folder: expected patterns/<lang>/ and tuples/<lang>.jsonl.gz")
    langs = as_list(languages, "languages") or []
    if len(set(langs)) != len(langs) or not langs:
        raise DKNBenchError(f"option languages: give distinct language codes, got {languages!r}")
    causal, checked_only = as_bool(causal, "causal"), as_bool(checked_only, "checked_only")
    min_queries = as_int(min_queries, "min_queries", 1)
    patterns = {lang: _patterns(root, lang, causal, checked_only) for lang in langs}
    available = sorted(set.intersection(*(set(p) for p in patterns.values())))
    wanted = as_list(relations, "relations") or available
    unknown = [r for r in wanted if r not in available]
    if unknown:
        raise DKNBenchError(f"unknown mParaRel relation(s) {', '.join(unknown)} for languages "
                            f"{', '.join(langs)}; available: {', '.join(available)}")
    usable = {r for r in wanted if all(len(patterns[lang][r]) >= min_queries for lang in langs)}
    tuples = {lang: _tuples(root, lang, usable) for lang in langs}
    keys = [k for k in tuples[langs[0]] if all(k in tuples[lang] for lang in langs[1:])]
    limit = as_int(max_facts_per_relation, "max_facts_per_relation", 1)
    chosen = [k for r in sorted(usable) for k in seeded_sample([k for k in keys if k[0] == r], limit, seed,
                                                               "multilingual", r)]
    splits = {}
    for lang in langs:
        facts = []
        for key in chosen:
            row = tuples[lang][key]
            queries = unique(fill_pattern(p, row["sub_label"]) for p in patterns[lang][key[0]])
            facts.append(Fact(id="_".join(key), relation=key[0], subject=row["sub_label"], object=row["obj_label"],
                              queries=queries, language=lang, source="mpararel"))
        splits[lang.replace("-", "_")] = facts_dataset(facts)  # split names allow no "-"
    return nonempty(datasets.DatasetDict(splits), "multilingual")
