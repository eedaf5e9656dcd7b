"""TempNarrativeLAMA (000 §4, Appendix H, Table 12): the knowledge-update data.

Facts present in TempLAMA in both the old (2018) and the new (2019) year. Each gets a
counterfactual new answer o', drawn (seeded) from the answers of the same relation, never one of
the fact's real answers in either year, so that the model cannot already know it.

- ``dkn_2018``: the old-year facts (query + real answer) for DKN localisation; target_object = o'.
- ``narratives_2019``: the fine-tuning texts, Table 12's template filled with the new year, the
  subject and o' (config ``narratives``: it has its own columns).
- ``q_new``: the new-year queries whose answer is o' (the paper: "the ground truth answers
  corresponding to the counterfactual data"); wrong_object = the real new-year answer.
- ``q_old``: the old-year queries with their real answers (knowledge preservation).
- ``q_au``: paraphrased queries of q_new (same o'), from the paraphrase templates.
Templates live in ``templates/tempnarrativelama.yaml``.
"""

from __future__ import annotations

import datasets

from dknbench.data.schema import Fact
from dknbench.errors import DKNBenchError

from . import BUILDERS
from ._common import as_bool, draw_other, facts_dataset, load_template_file, nonempty
from .templama import add_date, read_templama, select, temporal_query, year_pair

NARRATIVE_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),  # the fact id, shared with the fact splits
        "relation": datasets.Value("string"),
        "subject": datasets.Value("string"),
        "date": datasets.Value("string"),
        "answer": datasets.Value("string"),  # the counterfactual answer o' the text states
        "text": datasets.Value("string"),
    }
)


def relation_pools(facts) -> dict[str, list[str]]:
    """relation -> every answer seen for it in any year (sorted, so draws are reproducible)."""
    pools: dict[str, set[str]] = {}
    for fact in facts.values():
        for names in fact.answers.values():
            pools.setdefault(fact.relation, set()).update(names)
    return {relation: sorted(names) for relation, names in pools.items()}


@BUILDERS.register(
    "tempnarrativelama",
    description="TempNarrativeLAMA: 2018 facts for DKNs, 2019 counterfactual narratives (000 Table 12), "
                "Q_new / Q_old / Q_au evaluation queries (000 §4)",
    version="1.0.0",
    license="other",
    default_split="dkn_2018",
    configs={"narratives": "narratives_"},  # split-name prefix
    fields="Fact splits use the fact schema; `id` = `<subject QID>_<relation>` links a fact across "
           "splits. In `q_new`/`q_au`, `object` and `target_object` are the counterfactual answer o' "
           "taught by the narratives and `wrong_object` is the real TempLAMA answer of the new year. "
           "Config `narratives`: id, relation, subject, date, answer (= o'), text.",
    collection=("Built from TempLAMA: each fact present in both years gets a counterfactual answer o' drawn "
                "with the seed from the same relation's answers (never one of its real answers); the "
                "narratives fill the fixed templates of 000 Table 12 with the new year, the subject and o'."),
    limitations=[
        'The narratives are template-generated, not natural text, and state false facts by construction.',
        'Answers are the Wikidata values of a year; facts that changed within the year are ambiguous.',
    ],
)
def build(source, seed: int = 42, old_year="2018", new_year="2019", relations=None, causal=True,
          date_prefix="In {date}, ", changed_only=False, max_facts_per_relation=None) -> datasets.DatasetDict:
    """Options as for templama; date_prefix defaults to "In {date}, " because Q_new and Q_old ask
    the same TempLAMA query for two years with different answers. Splits: dkn_2018 (named after
    old_year), narratives_2019 (new_year), q_new, q_old, q_au."""
    causal = as_bool(causal, "causal")
    old, new = year_pair(old_year, new_year, "tempnarrativelama")
    templates = load_template_file("tempnarrativelama.yaml")
    facts = read_templama(source, relations)
    pools = relation_pools(facts)
    paired = select(facts, [old, new], seed, max_facts_per_relation, as_bool(changed_only, "changed_only"))
    missing = sorted({f.relation for f in paired} - set(templates["narratives"]) - set(templates["paraphrases"]))
    if missing:
        raise DKNBenchError(f"no TempNarrativeLAMA template for relation(s) {', '.join(missing)}")
    dkn, narratives, q_new, q_old, q_au = [], [], [], [], []
    for fact in paired:
        real = set(fact.answers[old]) | set(fact.answers[new])
        counterfactual = draw_other(pools[fact.relation], real, seed, "counterfactual", fact.key)
        if not counterfactual:
            continue  # the relation has no other answer to use
        base = dict(id=fact.key, relation=fact.relation, subject=fact.subject, source="templama")
        old_query = temporal_query(fact, old, causal, date_prefix)
        new_query = temporal_query(fact, new, causal, date_prefix)
        dkn.append(Fact(**base, object=fact.answers[old][0], queries=[old_query], date=old,
                        target_object=counterfactual))
        q_old.append(Fact(**base, object=fact.answers[old][0], queries=[old_query], date=old))
        updated = dict(object=counterfactual, target_object=counterfactual, wrong_object=fact.answers[new][0],
                       date=new)
        q_new.append(Fact(**base, queries=[new_query], **updated))
        paraphrases = [add_date(p.format(subject=fact.subject), date_prefix, new)
                       for p in templates["paraphrases"][fact.relation]]
        q_au.append(Fact(**base, queries=paraphrases, **updated))
        text = " ".join(templates["narratives"][fact.relation].split())
        narratives.append({"id": fact.key, "relation": fact.relation, "subject": fact.subject, "date": new,
                           "answer": counterfactual,
                           "text": text.format(date=new, subject=fact.subject, answer=counterfactual)})
    splits = {
        f"dkn_{old}": facts_dataset(dkn),
        f"narratives_{new}": datasets.Dataset.from_list(narratives, features=NARRATIVE_FEATURES),
        "q_new": facts_dataset(q_new),
        "q_old": facts_dataset(q_old),
        "q_au": facts_dataset(q_au),
    }
    return nonempty(datasets.DatasetDict(splits), "tempnarrativelama")
