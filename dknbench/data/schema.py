"""The fact schema shared by every data builder and every task.

A *query* is a cloze prompt with the subject filled in and the object slot marked ``[Y]``, e.g.
``"The capital of France is [Y]."``. Causal LMs read the text before ``[Y]`` (queries whose slot
is not last, apart from closing punctuation, are skipped for them); masked LMs replace ``[Y]``
with the mask token. Empty strings / empty lists mean "not applicable".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from datasets import Features, Sequence, Value

SLOT = "[Y]"

FACT_FEATURES = Features(
    {
        "id": Value("string"),
        "relation": Value("string"),  # e.g. a Wikidata property id "P36" or a readable name
        "subject": Value("string"),
        "object": Value("string"),  # the gold answer o
        "queries": Sequence(Value("string")),  # paraphrased cloze prompts with [Y]
        "date": Value("string"),  # "2018" for temporal facts, else ""
        "language": Value("string"),  # ISO code, "en" by default
        "wrong_object": Value("string"),  # a false object of the same relation (fact-checking)
        "target_object": Value("string"),  # o' of an edit request / counterfactual answer
        "neighbour_queries": Sequence(Value("string")),  # rephrasings held out for Gen
        "locality_queries": Sequence(Value("string")),  # unrelated facts' queries for Loc
        "locality_objects": Sequence(Value("string")),  # their gold objects
        "source": Value("string"),  # dataset the fact came from
    }
)


@dataclass
class Fact:
    id: str
    relation: str
    subject: str
    object: str
    queries: list[str]
    date: str = ""
    language: str = "en"
    wrong_object: str = ""
    target_object: str = ""
    neighbour_queries: list[str] = field(default_factory=list)
    locality_queries: list[str] = field(default_factory=list)
    locality_objects: list[str] = field(default_factory=list)
    source: str = ""


def fact_from_row(row: dict) -> Fact:
    """Build a Fact from a dataset row; columns outside the schema are ignored."""
    known = {name: row[name] for name in FACT_FEATURES if name in row and row[name] is not None}
    return Fact(**known)


def fact_to_row(fact: Fact) -> dict:
    return asdict(fact)
