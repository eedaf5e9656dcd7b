"""Determiner/numeral-noun number agreement: a syntactic control for knowledge-neuron methods (004).

Niu et al. (004) argue that the "knowledge neurons" found by attribution also carry grammatical
patterns. This builder turns a word list (``templates/agreement.yaml``, or a user YAML of the same
shape) into facts in the fact schema, so the very same localizers and edits run on grammar:

- one fact per (noun, number): ``id`` ``agreement:<singular>:<number>``, ``relation``
  ``agreement_singular`` / ``agreement_plural``, ``subject`` the singular lemma;
- ``queries``: the frames of that number (``"She has two [Y]"``), slot last for causal LMs;
- ``object``: the form the context demands, ``wrong_object``: the other number's form.

Deterministic: facts follow the word list's order (nouns, then singular before plural);
``max_nouns`` keeps a seeded sample of nouns (in list order).
"""

from __future__ import annotations

from pathlib import Path

import datasets
import yaml

from dknbench.data.schema import SLOT, Fact
from dknbench.errors import DKNBenchError

from . import BUILDERS
from ._common import as_int, as_list, facts_dataset, load_template_file, nonempty, seeded_sample, slot_is_last

NUMBERS = ("singular", "plural")


def read_word_list(source) -> dict:
    """The bundled list for source None/""/"builtin", else a YAML file with frames and nouns."""
    if source in (None, "", "builtin"):
        data, where = load_template_file("agreement.yaml"), "templates/agreement.yaml"
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise DKNBenchError(f"agreement source {str(source)!r} is not a YAML word-list file")
        with open(path, encoding="utf-8") as handle:
            try:
                data = yaml.safe_load(handle)
            except yaml.YAMLError as error:
                raise DKNBenchError(f"{path}: invalid YAML ({getattr(error, 'problem', error)})") from None
        where = str(path)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or not isinstance(data.get("nouns"), list):
        raise DKNBenchError(f"{where}: expected a mapping with lists 'frames' and 'nouns'")
    for i, frame in enumerate(data["frames"]):
        if not isinstance(frame, dict) or set(frame) != set(NUMBERS):
            raise DKNBenchError(f"{where}: frames[{i}] must have exactly the keys singular and plural")
        for number in NUMBERS:
            text = frame[number]
            if not isinstance(text, str) or not slot_is_last(text) or "[X]" in text:
                raise DKNBenchError(f"{where}: frames[{i}].{number} must be a string ending in {SLOT}, got {text!r}")
    seen = set()
    for i, pair in enumerate(data["nouns"]):
        if (not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(w, str) and w.strip() for w in pair)
                or pair[0] == pair[1]):
            raise DKNBenchError(f"{where}: nouns[{i}] must be [singular, plural] (two different words), got {pair!r}")
        if pair[0] in seen:
            raise DKNBenchError(f"{where}: nouns[{i}]: {pair[0]!r} is listed twice")
        seen.add(pair[0])
    return data


@BUILDERS.register(
    "agreement",
    description="Determiner/numeral-noun number agreement minimal pairs (a syntactic control task, 004)",
    version="1.0.0",
    license="cc-by-4.0",
    languages=["en"],
    pretty_name="dknbench determiner-noun agreement",
    fields="Fact schema; relation agreement_singular|agreement_plural; subject = singular lemma; "
           "object = the form the frame demands; wrong_object = the other number's form; queries = frames, [Y] last.",
    collection=('Facts generated from a word list (templates/agreement.yaml or a user YAML): each '
                'singular/plural noun pair fills fixed determiner and numeral frames; max_nouns keeps a '
                'seeded sample of nouns.'),
    limitations=[
        'Template-generated frames, not natural sentences.',
        'English count nouns only; irregular plurals are as listed in the word list.',
    ],
    collection_type='Software Collection',
)
def build(source=None, seed: int = 42, nouns=None, max_nouns=None, numbers="singular,plural") -> datasets.DatasetDict:
    """Options: nouns (only these singular lemmas), max_nouns (seeded sample), numbers
    (singular,plural). source: a word-list YAML, or builtin/empty for templates/agreement.yaml.
    One split: test."""
    data = read_word_list(source)
    wanted_numbers = as_list(numbers, "numbers") or list(NUMBERS)
    bad = [n for n in wanted_numbers if n not in NUMBERS]
    if bad:
        raise DKNBenchError(f"option numbers: unknown {', '.join(bad)}; use singular and/or plural")
    pairs = [tuple(p) for p in data["nouns"]]
    wanted = as_list(nouns, "nouns")
    if wanted:
        known = {p[0] for p in pairs}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise DKNBenchError(f"option nouns: not in the word list: {', '.join(unknown)}")
        pairs = [p for p in pairs if p[0] in set(wanted)]
    pairs = seeded_sample(pairs, as_int(max_nouns, "max_nouns", 1), seed, "agreement")
    facts = []
    for singular, plural in pairs:
        forms = {"singular": singular, "plural": plural}
        for number in NUMBERS:
            if number not in wanted_numbers:
                continue
            other = "plural" if number == "singular" else "singular"
            facts.append(Fact(id=f"agreement:{singular}:{number}", relation=f"agreement_{number}",
                              subject=singular, object=forms[number], wrong_object=forms[other],
                              queries=[frame[number] for frame in data["frames"]], language="en",
                              source="dknbench-agreement"))
    return nonempty(datasets.DatasetDict({"test": facts_dataset(facts)}), "agreement")
