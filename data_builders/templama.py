"""TempLAMA (Dhingra et al., 2022): temporal facts, one cloze query per (subject, relation, year).

The answer of a year is the row's first listed answer (as in the DKN authors' code); the subject
is recovered by matching the query against the relation's template in ``templates.csv``.
The 2018/2019 pairing of 000 §4 / Table 6: facts (subject, relation) present in both years.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
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
    load_template_file,
    nonempty,
    read_jsonl,
    require_keys,
    seeded_sample,
    slot_is_last,
    source_path,
)

CLOZE = "_X_"


@dataclass
class TemporalFact:
    """One TempLAMA fact (subject, relation) with its answers per year."""

    key: str  # "<subject QID>_<relation>"
    relation: str
    subject: str
    query: str  # TempLAMA's cloze with [Y]
    answers: dict[str, list[str]] = field(default_factory=dict)  # year -> answer names
    ids: dict[str, str] = field(default_factory=dict)  # year -> TempLAMA row id


def _files(source) -> tuple[Path, Path]:
    path = source_path(source, what="TempLAMA")
    if path.is_dir():
        rows = next((path / n for n in ("train.jsonl", "train.json", "templama.jsonl") if (path / n).is_file()), None)
        if rows is None:
            raise DKNBenchError(f"{path}: no TempLAMA rows file (train.jsonl) in this folder")
    else:
        rows = path
    templates = rows.parent / "templates.csv"
    if not templates.is_file():
        raise DKNBenchError(f"{templates} is missing: the TempLAMA builders read the relation templates "
                            "(google-research/language templama/templates.csv) beside the rows")
    return rows, templates


def _subject_patterns(templates: Path) -> dict[str, re.Pattern]:
    patterns = {}
    with open(templates, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), 2):
            require_keys(row, ["Wikidata ID", "Template"], f"{templates}:{number}")
            text = re.escape(row["Template"])
            text = text.replace(re.escape("<subject>"), "(?P<subject>.+?)").replace(re.escape("<object>"), CLOZE)
            patterns[row["Wikidata ID"]] = re.compile(f"^{text}$")
    return patterns


def read_templama(source, relations=None) -> dict[str, TemporalFact]:
    """All TempLAMA facts of ``source`` (a folder with train.jsonl + templates.csv, or the file)."""
    rows_file, templates = _files(source)
    patterns = _subject_patterns(templates)
    wanted = as_list(relations, "relations")
    if wanted:
        unknown = [r for r in wanted if r not in patterns]
        if unknown:
            raise DKNBenchError(f"unknown TempLAMA relation(s) {', '.join(unknown)}; "
                                f"available: {', '.join(sorted(patterns))}")
    facts: dict[str, TemporalFact] = {}
    for number, row in enumerate(read_jsonl(rows_file), 1):
        where = f"{rows_file}:{number}"
        require_keys(row, ["query", "answer", "date", "id", "relation"], where)
        relation = row["relation"]
        if wanted and relation not in wanted:
            continue
        match = patterns.get(relation) and patterns[relation].match(row["query"])
        if not match:
            raise DKNBenchError(f"{where}: query {row['query']!r} does not match the template of {relation}")
        answers = [a["name"] for a in row["answer"] if isinstance(a, dict) and a.get("name")]
        if not answers:
            continue
        key = row["id"].rsplit("_", 1)[0]
        fact = facts.setdefault(key, TemporalFact(key, relation, match["subject"], row["query"].replace(CLOZE, SLOT)))
        fact.answers[str(row["date"])] = answers
        fact.ids[str(row["date"])] = row["id"]
    return facts


def temporal_query(fact: TemporalFact, date: str, causal: bool, date_prefix: str) -> str:
    """The fact's cloze for a year: slot-last rewording for causal LMs, optional date prefix."""
    query = fact.query
    if causal and not slot_is_last(query):
        rewrites = load_template_file("templama.yaml")["slot_last"]
        if fact.relation not in rewrites:
            raise DKNBenchError(f"no slot-last template for TempLAMA relation {fact.relation} "
                                "in data_builders/templates/templama.yaml; use causal=false")
        query = rewrites[fact.relation].format(subject=fact.subject)
    return add_date(query, date_prefix, date)


def add_date(query: str, date_prefix: str, date: str) -> str:
    """``date_prefix`` (e.g. "In {date}, ") in front of a query."""
    if not date_prefix:
        return query
    # our rewordings start with "The"; lower-case it after a prefix ("In 2019, the head coach ...")
    if query.startswith("The "):
        query = "the " + query[4:]
    return date_prefix.format(date=date) + query


def select(facts: dict[str, TemporalFact], years: list[str], seed: int, max_facts_per_relation=None,
           changed_only=False) -> list[TemporalFact]:
    """Facts with answers in every year of ``years`` (sorted by key), optionally only those whose
    answer set changed between the first and the last year, sampled per relation."""
    chosen = [f for _, f in sorted(facts.items()) if all(y in f.answers for y in years)]
    if changed_only:
        chosen = [f for f in chosen if set(f.answers[years[0]]) != set(f.answers[years[-1]])]
    limit = as_int(max_facts_per_relation, "max_facts_per_relation", minimum=1)
    by_relation: dict[str, list[TemporalFact]] = {}
    for fact in chosen:
        by_relation.setdefault(fact.relation, []).append(fact)
    return [f for rel in sorted(by_relation) for f in seeded_sample(by_relation[rel], limit, seed, "templama", rel)]


def year_pair(old_year, new_year, builder: str) -> tuple[str, str]:
    """The old and the new year as strings (YAML may give numbers); a pairing needs two years."""
    old, new = str(old_year), str(new_year)
    if old == new:
        raise DKNBenchError(f"{builder}: old_year and new_year must differ")
    return old, new


def year_fact(fact: TemporalFact, year: str, query: str, ident: str | None = None, **fields) -> Fact:
    return Fact(id=ident or fact.ids[year], relation=fact.relation, subject=fact.subject,
                object=fact.answers[year][0], queries=[query], date=year, source="templama", **fields)


@BUILDERS.register(
    "templama",
    description="TempLAMA temporal facts (_X_ cloze -> [Y], date = year) with the 2018/2019 pairing of 000 §4",
    version="1.0.0",
    license="other",  # no data license stated; the generator code is Apache-2.0 (see provenance)
    default_split="paired",
    fields="Fact schema. `y<year>`: every fact with an answer that year (id = TempLAMA row id). "
           "`paired`: facts present in both years (id = `<subject QID>_<relation>`); `object` is the "
           "old year's answer, `target_object` the new year's, `date` the old year.",
    collection=('TempLAMA rows: the _X_ cloze becomes [Y], the year becomes the date; facts present in both '
                'the old and the new year are paired by subject and relation; causal rewords object-first '
                'templates so that [Y] is last.'),
    limitations=[
        'Answers are the Wikidata values of a year; a fact that changed within the year is ambiguous.',
        'The causal rewording changes the sentence form of object-first templates.',
    ],
)
def build(source, seed: int = 42, old_year="2018", new_year="2019", relations=None, causal=True,
          date_prefix="", changed_only=False, max_facts_per_relation=None) -> datasets.DatasetDict:
    """Options: old_year/new_year (2018/2019), relations, causal (slot-last rewording of the three
    object-first relations; default true), date_prefix (e.g. "In {date}, "; default none, as in
    TempLAMA), changed_only (paired facts whose answer changed), max_facts_per_relation.
    Splits: ``y<old_year>``, ``y<new_year>``, ``paired``."""
    causal = as_bool(causal, "causal")
    changed_only = as_bool(changed_only, "changed_only")
    old_year, new_year = year_pair(old_year, new_year, "templama")
    facts = read_templama(source, relations)
    splits = {}
    for year in (old_year, new_year):
        kept = select(facts, [year], seed, max_facts_per_relation)
        splits[f"y{year}"] = facts_dataset(
            [year_fact(f, year, temporal_query(f, year, causal, date_prefix)) for f in kept])
    paired = select(facts, [old_year, new_year], seed, max_facts_per_relation, changed_only)
    splits["paired"] = facts_dataset([
        year_fact(f, old_year, temporal_query(f, old_year, causal, date_prefix), ident=f.key,
                  target_object=f.answers[new_year][0])
        for f in paired
    ])
    return nonempty(datasets.DatasetDict(splits), "templama")
