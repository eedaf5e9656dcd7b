"""Knowledge-editing requests (003 §2.2, §3.3): Rel / Gen / Loc prompts in the fact schema.

From ParaRel: the edited query q_i is the fact's first query (``queries``), its other paraphrases
are the neighbour queries q_N (Gen), locality facts are random facts of other relations (Loc),
and target_object o' is another object of the same relation (never one of the subject's).
From CounterFact (ROME's original format or the flattened EasyEdit format): requested_rewrite,
paraphrase_prompts and neighborhood_prompts map to queries, neighbour_queries and
locality_queries; prompts get the slot ``[Y]`` appended.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets

from dknbench.data.schema import SLOT, Fact
from dknbench.errors import DKNBenchError

from . import BUILDERS
from ._common import as_bool, as_int, draw_other, facts_dataset, nonempty, open_text, rng, seeded_sample, source_path
from .pararel import find_layout, pararel_facts

COUNTERFACT_FILES = ("counterfact-edit-1k.json", "counterfact.json", "counterfact-edit.json.gz")


def cloze(prompt: str) -> str:
    return f"{prompt.rstrip()} {SLOT}"


def pararel_edits(source, seed, causal, relations, max_facts_per_relation, n_edit_queries, n_locality):
    facts = pararel_facts(source, seed, causal, relations, n_edit_queries + 1, max_facts_per_relation)
    pools: dict[str, set[str]] = {}
    truths: dict[tuple[str, str], set[str]] = {}
    for fact in facts:
        pools.setdefault(fact.relation, set()).add(fact.object)
        truths.setdefault((fact.relation, fact.subject), set()).add(fact.object)
    sorted_pools = {relation: sorted(objects) for relation, objects in pools.items()}
    edits = []
    for index, fact in enumerate(facts):
        target = draw_other(sorted_pools[fact.relation], truths[(fact.relation, fact.subject)], seed, "target", fact.id)
        if not target:
            continue
        others = [i for i in rng(seed, "locality", fact.id).sample(range(len(facts)), min(len(facts), 4 * n_locality + 8))
                  if facts[i].relation != fact.relation][:n_locality]
        edits.append(Fact(
            id=fact.id, relation=fact.relation, subject=fact.subject, object=fact.object,
            queries=fact.queries[:n_edit_queries], neighbour_queries=fact.queries[n_edit_queries:],
            target_object=target, locality_queries=[facts[i].queries[0] for i in others],
            locality_objects=[facts[i].object for i in others], source="pararel",
        ))
    return edits


def _counterfact_file(path: Path, file) -> Path:
    if path.is_file():
        return path
    if file:
        chosen = path / str(file)
        if not chosen.is_file():
            raise DKNBenchError(f"CounterFact file {chosen} does not exist")
        return chosen
    found = next((path / name for name in COUNTERFACT_FILES if (path / name).is_file()), None)
    if found is None:
        raise DKNBenchError(f"{path}: no CounterFact file ({', '.join(COUNTERFACT_FILES)}); pass file=NAME")
    return found


def counterfact_edit(record: dict, where: str) -> Fact:
    if "requested_rewrite" in record:  # ROME's original CounterFact
        rewrite = record["requested_rewrite"]
        true, new, subject = rewrite["target_true"]["str"], rewrite["target_new"]["str"], rewrite["subject"]
        neighbours = record.get("neighborhood_prompts", [])
        return Fact(
            id=f"counterfact_{record['case_id']}", relation=rewrite.get("relation_id", ""), subject=subject,
            object=true, target_object=new, queries=[cloze(rewrite["prompt"].format(subject))],
            neighbour_queries=[cloze(p) for p in record.get("paraphrase_prompts", [])],
            locality_queries=[cloze(p) for p in neighbours], locality_objects=[true] * len(neighbours),
            source="counterfact",
        )
    if {"prompt", "target_new", "ground_truth", "subject"} <= set(record):  # flattened (EasyEdit/MEND)
        rephrase, locality = record.get("rephrase_prompt"), record.get("locality_prompt")
        return Fact(
            id=f"counterfact_{record['case_id']}", relation="", subject=record["subject"],
            object=record["ground_truth"], target_object=record["target_new"], queries=[cloze(record["prompt"])],
            neighbour_queries=[cloze(rephrase)] if rephrase else [],
            locality_queries=[cloze(locality)] if locality else [],
            locality_objects=[record.get("locality_ground_truth", "")] if locality else [],
            source="counterfact",
        )
    raise DKNBenchError(f"{where}: not a CounterFact record (expected requested_rewrite, or prompt/"
                        "target_new/ground_truth/subject)")


def counterfact_edits(source, file) -> list[Fact]:
    path = _counterfact_file(source_path(source, what="CounterFact"), file)
    try:
        with open_text(path) as handle:
            records = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DKNBenchError(f"{path}: not a CounterFact JSON list ({error})") from None
    if not isinstance(records, list):
        raise DKNBenchError(f"{path}: expected a JSON list of CounterFact records")
    try:
        edits = [counterfact_edit(r, f"{path}[{i}]") for i, r in enumerate(records) if isinstance(r, dict)]
    except (KeyError, TypeError) as error:
        raise DKNBenchError(f"{path}: malformed CounterFact record ({error!r})") from None
    return edits


def detect_format(source) -> str:
    path = source_path(source, what="editing")
    if find_layout(path) is not None:
        return "pararel"
    if path.is_file() or any((path / name).is_file() for name in COUNTERFACT_FILES):
        return "counterfact"
    raise DKNBenchError(f"{path}: neither a ParaRel folder nor a CounterFact file; set source_format")


@BUILDERS.register(
    "editing",
    description="Editing requests with Rel/Gen/Loc prompts (003 §2.2) from ParaRel or CounterFact",
    version="1.0.0",
    license="other",  # ParaRel/T-REx: CC BY-NC 4.0; CounterFact: MIT (see the provenance section)
    default_split="edits",
    fields="Fact schema: `queries` = the edited prompt(s), `neighbour_queries` = rephrasings (Gen), "
           "`locality_queries`/`locality_objects` = unrelated facts (Loc), `target_object` = o'.",
    collection=('Edit requests from ParaRel (the first query is edited, the other paraphrases test '
                "generalisation, locality facts are drawn with the seed from other relations, the target o' "
                "is drawn with the seed from the relation's other objects) or from CounterFact (its requested"
                ' rewrites, paraphrase and neighbourhood prompts, with [Y] appended).'),
    limitations=[
        "Targets o' are false by construction: the data asks a model to learn wrong facts and must not be"
        ' used as knowledge.',
        'Locality facts are random facts of other relations, not chosen to be hard.',
        "Facts are Wikidata triples of the source's snapshot and can be outdated.",
    ],
)
def build(source, seed: int = 42, source_format="auto", file=None, causal=False, relations=None,
          max_facts_per_relation=None, n_edit_queries=1, n_locality=5, limit=None) -> datasets.DatasetDict:
    """Options: source_format (auto | pararel | counterfact); ParaRel: causal, relations,
    max_facts_per_relation, n_edit_queries (1), n_locality (5); CounterFact: file (in a folder;
    default counterfact-edit-1k.json); limit (seeded sample of edits). Split: ``edits``."""
    fmt = detect_format(source) if source_format in (None, "auto") else str(source_format)
    if fmt == "pararel":
        edits = pararel_edits(source, seed, as_bool(causal, "causal"), relations, max_facts_per_relation,
                              as_int(n_edit_queries, "n_edit_queries", 1), as_int(n_locality, "n_locality", 0))
    elif fmt == "counterfact":
        edits = counterfact_edits(source, file)
    else:
        raise DKNBenchError(f"unknown source_format {fmt!r}; allowed: auto, pararel, counterfact")
    edits = seeded_sample(edits, as_int(limit, "limit", 1), seed, "editing")
    if not edits:
        raise DKNBenchError("editing: no edit requests left after filtering")
    return nonempty(datasets.DatasetDict({"edits": facts_dataset(edits)}), "editing")
