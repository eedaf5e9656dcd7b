"""Data builders on small slices of the shared raw data: schema, determinism, the papers' rules."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import datasets
import pytest
import yaml

from conftest import shared_path
from data_builders import BUILDERS, build, build_dataset
from data_builders.perturbed import ADD_TOKEN, REPLACE_TOKEN
from dknbench.data import FACT_FEATURES, load_facts
from dknbench.data.schema import SLOT
from dknbench.errors import DKNBenchError

ALL_BUILDERS = {"pararel", "templama", "tempnarrativelama", "perturbed", "fact-checking", "editing",
                "multilingual", "wikitext"}


shared = shared_path  # a path under ../shared/data: skipped when absent, failed in CI


def head_lines(src: Path, dst: Path, n: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, encoding="utf-8") as handle:
        dst.write_text("".join(line for _, line in zip(range(n), handle)), encoding="utf-8")


@pytest.fixture(scope="module")
def slices(tmp_path_factory) -> dict[str, Path]:
    """Small copies of the raw data (a few relations / rows each), with their PROVENANCE.md."""
    root = tmp_path_factory.mktemp("raw")
    out = {}
    # ParaRel: P36 (14 patterns), P17 (3), P1001 (1 pattern)
    pararel = root / "pararel"
    for relation in ("P36", "P17", "P1001"):
        (pararel / "patterns").mkdir(parents=True, exist_ok=True)
        shutil.copy(shared("pararel", "patterns", f"{relation}.jsonl"), pararel / "patterns")
        head_lines(shared("pararel", "trex_lms_vocab", f"{relation}.jsonl"),
                   pararel / "trex_lms_vocab" / f"{relation}.jsonl", 25)
    shutil.copy(shared("pararel", "PROVENANCE.md"), pararel)
    out["pararel"] = pararel
    # TempLAMA: every row of 12 subjects per relation for three relations (one object-first)
    templama = root / "templama"
    templama.mkdir()
    keys: dict[str, list[str]] = {}
    rows = []
    with open(shared("templama", "train.jsonl"), encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            key = row["id"].rsplit("_", 1)[0]
            chosen = keys.setdefault(row["relation"], [])
            if row["relation"] in ("P54", "P286", "P102") and (key in chosen or len(chosen) < 12):
                if key not in chosen:
                    chosen.append(key)
                rows.append(line)
    (templama / "train.jsonl").write_text("".join(rows), encoding="utf-8")
    shutil.copy(shared("templama", "templates.csv"), templama)
    shutil.copy(shared("templama", "PROVENANCE.md"), templama)
    out["templama"] = templama
    # mParaRel: two relations in en / fr / zh-hans
    mpararel = root / "mpararel"
    for lang in ("en", "fr", "zh-hans"):
        (mpararel / "patterns" / lang).mkdir(parents=True)
        for relation in ("P36", "P103"):
            shutil.copy(shared("mpararel", "patterns", lang, f"{relation}.jsonl"), mpararel / "patterns" / lang)
        (mpararel / "tuples").mkdir(exist_ok=True)
        with gzip.open(shared("mpararel", "tuples", f"{lang}.jsonl.gz"), "rt", encoding="utf-8") as handle:
            kept = [line for line in handle if json.loads(line)["relation"] in ("P36", "P103")]
        with gzip.open(mpararel / "tuples" / f"{lang}.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.write("".join(kept[:150]))
    out["mpararel"] = mpararel
    # CounterFact (flattened): 30 records
    counterfact = root / "counterfact"
    counterfact.mkdir()
    records = json.loads(shared("counterfact", "counterfact-edit-1k.json").read_text(encoding="utf-8"))[:30]
    (counterfact / "counterfact-edit-1k.json").write_text(json.dumps(records), encoding="utf-8")
    shutil.copy(shared("counterfact", "PROVENANCE.md"), counterfact)
    out["counterfact"] = counterfact
    # WikiText-2: first 120 lines
    head_lines(shared("wikitext2", "wiki.test.raw"), root / "wikitext2" / "wiki.test.raw", 120)
    out["wikitext2"] = root / "wikitext2"
    return out


@pytest.fixture(scope="module")
def templama_folder(slices, tmp_path_factory) -> Path:
    """A built templama folder, the source of the derived builders."""
    return build_dataset("templama", slices["templama"], output=tmp_path_factory.mktemp("built") / "templama")


def builder_args(name: str, slices: dict, templama_folder: Path) -> tuple[Path, dict]:
    return {
        "pararel": (slices["pararel"], {}),
        "templama": (slices["templama"], {}),
        "tempnarrativelama": (slices["templama"], {}),
        "perturbed": (templama_folder, {"split": "y2018"}),
        "fact-checking": (slices["pararel"], {}),
        "editing": (slices["pararel"], {}),
        "multilingual": (slices["mpararel"], {}),
        "wikitext": (slices["wikitext2"], {}),
    }[name]


def rows(dataset_dict) -> dict[str, list[dict]]:
    return {split: ds.to_list() for split, ds in dataset_dict.items()}


def load(folder, tmp_path, config=None):
    return datasets.load_dataset(str(folder), config, cache_dir=str(tmp_path / "hf-cache"))


TESTED_ELSEWHERE = {"agreement"}  # the number-agreement builder: tests/test_cross_lingual.py


def test_every_builder_is_registered():
    assert set(BUILDERS.names()) == ALL_BUILDERS | TESTED_ELSEWHERE
    for entry in BUILDERS.entries():
        assert entry.description and entry.metadata.get("version")  # the module's decorator ran


@pytest.mark.parametrize("name", sorted(ALL_BUILDERS))
def test_builder_is_deterministic_and_in_the_fact_schema(name, slices, templama_folder):
    source, options = builder_args(name, slices, templama_folder)
    first = build(name, source, seed=7, **options)
    assert rows(first) == rows(build(name, source, seed=7, **options))
    for split, dataset in first.items():
        assert len(dataset) > 0, split
        if "queries" in dataset.column_names:
            for column, feature in FACT_FEATURES.items():
                assert dataset.features[column] == feature, (split, column)
            for row in dataset:
                assert row["queries"] and all(SLOT in q for q in row["queries"]), row
                assert "[X]" not in " ".join(row["queries"]) and "_X_" not in " ".join(row["queries"])


@pytest.mark.parametrize("name,split,column", [
    ("tempnarrativelama", "q_new", "object"),
    ("fact-checking", "second_half", "wrong_object"),
    ("editing", "edits", "target_object"),
])
def test_another_seed_draws_other_counterfactuals(name, split, column, slices, templama_folder):
    source, options = builder_args(name, slices, templama_folder)
    a = list(build(name, source, seed=1, **options)[split][column])
    b = list(build(name, source, seed=2, **options)[split][column])
    assert len(a) == len(b) and a != b


def test_every_built_folder_loads_unchanged(slices, templama_folder, tmp_path):
    for name in sorted(ALL_BUILDERS):
        source, options = builder_args(name, slices, templama_folder)
        built = build(name, source, seed=3, **options)
        folder = build_dataset(name, source, output=tmp_path / name, seed=3, **options)
        card = yaml.safe_load((folder / "README.md").read_text(encoding="utf-8").split("---")[1])
        assert card["dknbench"]["builder"] == name and card["dknbench"]["seed"] == 3
        assert card["license"] and card["dataset_info"] and card["configs"]
        for config in card["configs"]:
            loaded = load(folder, tmp_path, config["config_name"])
            for split in loaded:
                assert loaded[split].to_list() == built[split].to_list(), (name, split)
                assert loaded[split].features == built[split].features


# --- pararel -------------------------------------------------------------------------------------


def test_pararel_fills_subject_and_keeps_all_patterns_for_masked_lms(slices):
    facts = build("pararel", slices["pararel"], relations="P36")["facts"]
    patterns = [json.loads(line)["pattern"] for line in (slices["pararel"] / "patterns" / "P36.jsonl").open()]
    first = facts[0]
    assert first["queries"] == [p.replace("[X]", first["subject"]) for p in patterns]
    assert any(not q.rstrip(" .").endswith(SLOT) for q in first["queries"])  # [Y] first kept


def test_pararel_causal_keeps_only_slot_last_patterns(slices):
    facts = build("pararel", slices["pararel"], relations=["P36"], causal=True)["facts"]
    queries = [q for row in facts for q in row["queries"]]
    assert queries and all(q.rstrip(" .").endswith(SLOT) for q in queries)
    assert len(facts[0]["queries"]) < 14


def test_pararel_min_queries_and_sampling(slices):
    assert set(build("pararel", slices["pararel"])["facts"]["relation"]) == {"P36", "P17"}  # P1001: 1 pattern
    assert "P1001" in set(build("pararel", slices["pararel"], min_queries=1)["facts"]["relation"])
    sampled = build("pararel", slices["pararel"], max_facts_per_relation=4)["facts"]
    assert sorted(sampled["relation"]) == ["P17"] * 4 + ["P36"] * 4
    with pytest.raises(DKNBenchError, match="no facts left"):
        build("pararel", slices["pararel"], relations="P1001")


def test_pararel_unknown_relation_names_it_and_the_available_ones(slices):
    with pytest.raises(DKNBenchError, match=r"P999.*available: P1001, P17, P36"):
        build("pararel", slices["pararel"], relations="P36,P999")


def test_pararel_rejects_a_folder_of_the_wrong_format(tmp_path):
    (tmp_path / "patterns").mkdir()
    with pytest.raises(DKNBenchError, match="not a ParaRel folder"):
        build("pararel", tmp_path)
    with pytest.raises(DKNBenchError, match="does not exist"):
        build("pararel", tmp_path / "missing")


# --- templama / tempnarrativelama -----------------------------------------------------------------


def raw_answers(templama: Path) -> dict[tuple[str, str], set[str]]:
    answers = {}
    for line in (templama / "train.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        answers[(row["id"].rsplit("_", 1)[0], row["date"])] = {a["name"] for a in row["answer"]}
    return answers


def test_templama_pairs_2018_and_2019(slices):
    built = build("templama", slices["templama"])
    answers = raw_answers(slices["templama"])
    assert set(built) == {"y2018", "y2019", "paired"}
    for row in built["paired"]:
        assert (row["id"], "2018") in answers and (row["id"], "2019") in answers
        assert row["object"] in answers[(row["id"], "2018")] and row["target_object"] in answers[(row["id"], "2019")]
        assert row["date"] == "2018"
    assert all(row["date"] == "2019" and row["id"].endswith("_2019") for row in built["y2019"])
    changed = build("templama", slices["templama"], changed_only=True)["paired"]
    assert 0 < len(changed) < len(built["paired"])
    assert all(answers[(r["id"], "2018")] != answers[(r["id"], "2019")] for r in changed)


def test_templama_causal_rewrites_object_first_queries(slices):
    causal = build("templama", slices["templama"], relations="P286")["y2018"]
    masked = build("templama", slices["templama"], relations="P286", causal=False)["y2018"]
    assert all(r["queries"][0].startswith("The head coach of ") and r["queries"][0].endswith("[Y].") for r in causal)
    assert all(r["queries"][0].startswith("[Y] is the head coach of ") for r in masked)
    dated = build("templama", slices["templama"], relations="P54", date_prefix="In {date}, ")["y2019"][0]
    assert dated["queries"][0].startswith("In 2019, ") and "plays for [Y]." in dated["queries"][0]


def test_tempnarrativelama_splits_follow_000_section_4(slices):
    built = build("tempnarrativelama", slices["templama"], seed=5)
    answers = raw_answers(slices["templama"])
    assert set(built) == {"dkn_2018", "narratives_2019", "q_new", "q_old", "q_au"}
    ids = list(built["dkn_2018"]["id"])
    assert ids and all(list(built[s]["id"]) == ids for s in built)
    for dkn, text, new, old, au in zip(*(built[s] for s in ("dkn_2018", "narratives_2019", "q_new", "q_old", "q_au"))):
        real = answers[(dkn["id"], "2018")] | answers[(dkn["id"], "2019")]
        counterfactual = new["object"]
        assert counterfactual not in real  # never a gold answer of either year
        assert dkn["target_object"] == text["answer"] == au["object"] == new["target_object"] == counterfactual
        assert dkn["object"] in answers[(dkn["id"], "2018")] and old["object"] == dkn["object"]
        assert new["wrong_object"] in answers[(dkn["id"], "2019")]
        assert dkn["date"] == old["date"] == "2018" and new["date"] == au["date"] == text["date"] == "2019"
        assert new["queries"][0].startswith("In 2019, ") and old["queries"][0].startswith("In 2018, ")
        assert au["queries"] and not set(au["queries"]) & set(new["queries"])
        assert "from 2019" in text["text"] or "dated 2019" in text["text"]
        assert text["subject"] in text["text"] and counterfactual in text["text"] and "{" not in text["text"]
        # the counterfactual belongs to the same relation's answers
        assert any(counterfactual in names for (key, _), names in answers.items() if key.endswith(dkn["relation"]))


def test_tempnarrativelama_templates_are_table_12(slices):
    from data_builders._common import load_template_file

    templates = load_template_file("tempnarrativelama.yaml")
    relations = {"P39", "P54", "P108", "P286", "P102", "P488", "P6", "P127", "P69"}
    assert set(templates["narratives"]) == relations == set(templates["paraphrases"])
    for text in templates["narratives"].values():
        assert all(placeholder in text for placeholder in ("{date}", "{subject}", "{answer}"))
    assert templates["narratives"]["P54"].startswith("Sports records and team rosters from {date} confirm that "
                                                     "{subject} is an active player for {answer}.")
    with open(slices["templama"] / "templates.csv", encoding="utf-8") as handle:
        assert {row["Wikidata ID"] for row in csv.DictReader(handle)} == relations


def test_tempnarrativelama_card_puts_narratives_in_their_own_config(slices, tmp_path):
    folder = build_dataset("tempnarrativelama", slices["templama"], output=tmp_path / "tnl")
    facts = load(folder, tmp_path)
    narratives = load(folder, tmp_path, "narratives")
    assert set(facts) == {"dkn_2018", "q_new", "q_old", "q_au"}
    assert narratives["narratives_2019"].column_names == ["id", "relation", "subject", "date", "answer", "text"]


# --- perturbed ------------------------------------------------------------------------------------


def one_edit(original: str, perturbed: str, kind: str, position: int) -> bool:
    a, b = original.split(), perturbed.split()
    if kind == "replace":
        return len(a) == len(b) and b[position] == REPLACE_TOKEN and a[:position] + a[position + 1:] == \
            b[:position] + b[position + 1:] and a[position] != REPLACE_TOKEN
    if kind == "add":
        return b[position] == ADD_TOKEN and b[:position] + b[position + 1:] == a
    if kind == "delete":
        return a[:position] + a[position + 1:] == b
    return False


def test_perturbations_are_exactly_one_word_edit_before_the_slot(templama_folder):
    built = build("perturbed", templama_folder, seed=11, split="y2018")["perturbed"]
    assert set(built["perturbation"]) == {"replace", "add", "delete"}
    for row in built:
        assert row["queries"] == [row["original_query"]] and row["id"] == f"{row['fact_id']}:q0"
        assert one_edit(row["original_query"], row["perturbed_query"], row["perturbation"], row["position"]), row
        assert row["perturbed_query"] != row["original_query"]
        slot = [i for i, w in enumerate(row["original_query"].split()) if SLOT in w][0]
        assert row["position"] <= slot and (row["perturbation"] == "add" or row["position"] < slot)
        # the text a causal LM reads changed
        assert row["perturbed_query"].split(SLOT)[0] != row["original_query"].split(SLOT)[0]
    other = build("perturbed", templama_folder, seed=12, split="y2018")["perturbed"]
    assert list(other["perturbed_query"]) != list(built["perturbed_query"])


def test_perturbed_kinds_option(templama_folder):
    only = build("perturbed", templama_folder, split="y2019", kinds="delete")["perturbed"]
    assert set(only["perturbation"]) == {"delete"}
    with pytest.raises(DKNBenchError, match="unknown kind"):
        build("perturbed", templama_folder, split="y2019", kinds="swap")
    with pytest.raises(DKNBenchError, match="no split 'y2000'"):
        build("perturbed", templama_folder, split="y2000")


# --- fact-checking --------------------------------------------------------------------------------


def test_fact_checking_wrong_objects_and_halves(slices):
    built = build("fact-checking", slices["pararel"], seed=4)
    truths = {}
    for split in built.values():
        for row in split:
            truths.setdefault((row["relation"], row["subject"]), set()).add(row["object"])
    objects = {}
    for split in built.values():
        for row in split:
            objects.setdefault(row["relation"], set()).add(row["object"])
    for split in built.values():
        for row in split:
            assert row["wrong_object"] and row["wrong_object"] not in truths[(row["relation"], row["subject"])]
            assert row["wrong_object"] in objects[row["relation"]]
    first, second = built["first_half"].to_list(), built["second_half"].to_list()
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    for relation in {r["relation"] for r in first}:
        n_first = sum(r["relation"] == relation for r in first)
        n_second = sum(r["relation"] == relation for r in second)
        assert abs(n_first - n_second) <= 1 and n_second > 0
    source_order = [f.id for f in load_facts(str(slices["pararel"])) if f.relation == "P17"]
    assert [r["id"] for r in first + second if r["relation"] == "P17"] == source_order


# --- editing --------------------------------------------------------------------------------------


def test_editing_from_pararel(slices):
    edits = build("editing", slices["pararel"], seed=9, n_locality=3)["edits"]
    by_id = {f.id: f for f in load_facts(str(slices["pararel"]))}
    for row in edits:
        fact = by_id[row["id"]]
        assert row["queries"] == fact.queries[:1] and row["neighbour_queries"] == fact.queries[1:]
        assert row["target_object"] and row["target_object"] != row["object"]
        assert len(row["locality_queries"]) == len(row["locality_objects"]) == 3
        locality = [f for f in by_id.values() if f.queries[0] in row["locality_queries"]]
        assert locality and all(f.relation != row["relation"] for f in locality)


def test_editing_from_counterfact_both_formats(slices, tmp_path):
    edits = build("editing", slices["counterfact"])["edits"]
    record = json.loads((slices["counterfact"] / "counterfact-edit-1k.json").read_text())[0]
    first = edits[0]
    assert first["id"] == f"counterfact_{record['case_id']}"
    assert first["queries"] == [record["prompt"] + " [Y]"] and first["target_object"] == record["target_new"]
    assert first["neighbour_queries"] == [record["rephrase_prompt"] + " [Y]"]
    assert first["locality_objects"] == [record["locality_ground_truth"]]
    original = [{"case_id": 0, "requested_rewrite": {
        "prompt": "The mother tongue of {} is", "relation_id": "P103", "subject": "Danielle Darrieux",
        "target_new": {"str": "English", "id": "Q1860"}, "target_true": {"str": "French", "id": "Q150"}},
        "paraphrase_prompts": ["Danielle Darrieux, a native"], "neighborhood_prompts": ["The native language of Jean Gabin is"]}]
    path = tmp_path / "counterfact.json"
    path.write_text(json.dumps(original))
    row = build("editing", path, source_format="counterfact")["edits"][0]
    assert row["queries"] == ["The mother tongue of Danielle Darrieux is [Y]"] and row["relation"] == "P103"
    assert row["object"] == "French" and row["target_object"] == "English"
    assert row["locality_queries"] == ["The native language of Jean Gabin is [Y]"] and row["locality_objects"] == ["French"]
    path.write_text(json.dumps([{"foo": 1}]))
    with pytest.raises(DKNBenchError, match="not a CounterFact record"):
        build("editing", path, source_format="counterfact")


# --- multilingual / wikitext ----------------------------------------------------------------------


def test_multilingual_facts_are_aligned_across_languages(slices):
    built = build("multilingual", slices["mpararel"], languages="en,fr,zh")
    assert set(built) == {"en", "fr", "zh"}
    assert list(built["en"]["id"]) == list(built["fr"]["id"]) == list(built["zh"]["id"]) != []
    assert set(built["zh"]["language"]) == {"zh"} and set(built["fr"]["language"]) == {"fr"}
    assert list(built["en"]["subject"]) != list(built["zh"]["subject"])
    with pytest.raises(DKNBenchError, match="language 'xx'"):
        build("multilingual", slices["mpararel"], languages="en,xx")


def test_wikitext_keeps_paragraphs_only(slices):
    texts = list(build("wikitext", slices["wikitext2"])["test"]["text"])
    raw = (slices["wikitext2"] / "wiki.test.raw").read_text(encoding="utf-8").splitlines()
    assert texts and all(t and not t.startswith("=") for t in texts)
    assert len(texts) == sum(1 for line in raw if line.strip() and not line.strip().startswith("= "))


# --- write_dataset / load_facts -------------------------------------------------------------------


def test_write_dataset_is_atomic(slices, tmp_path, monkeypatch):
    from dknbench.data import cards

    built = build("templama", slices["templama"])
    calls = []

    def failing(dataset, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError("disk full")
        dataset.to_parquet(str(target))

    monkeypatch.setattr(cards, "_to_parquet", failing)
    with pytest.raises(OSError):
        cards.write_dataset(built, tmp_path / "out", {"builder": "templama"})
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    cards.write_dataset(built, tmp_path / "out", {"builder": "templama"})
    with pytest.raises(DKNBenchError, match="already exists"):
        cards.write_dataset(built, tmp_path / "out", {"builder": "templama"})


def test_load_facts_specs(slices, templama_folder, tmp_path, monkeypatch):
    from dknbench.data import loading

    paired = load_facts(str(templama_folder))  # the card's default split
    assert [f.id for f in paired] == list(build("templama", slices["templama"])["paired"]["id"])
    assert all(f.date == "2019" for f in load_facts(str(templama_folder), split="y2019"))
    with pytest.raises(DKNBenchError, match="no split 'test'.*paired"):
        load_facts(str(templama_folder), split="test")
    sample = load_facts(str(templama_folder), limit=5, seed=1)
    assert len(sample) == 5 and sample == load_facts(str(templama_folder), limit=5, seed=1)
    assert [f.id for f in sample] != [f.id for f in load_facts(str(templama_folder), limit=5, seed=2)]
    raw = load_facts(str(slices["pararel"]))
    assert {f.relation for f in raw} == {"P36", "P17"}
    lines = tmp_path / "facts.jsonl"
    lines.write_text(json.dumps({"id": "a", "relation": "r", "subject": "s", "object": "o",
                                 "queries": ["s is [Y]."]}) + "\n")
    assert load_facts(str(lines))[0].queries == ["s is [Y]."]
    lines.write_text(json.dumps({"id": "a", "relation": "r", "subject": "s", "object": "o", "queries": "s [Y]"}) + "\n")
    with pytest.raises(DKNBenchError, match="'queries' must be a list"):
        load_facts(str(lines))
    with pytest.raises(DKNBenchError, match="unknown fact set 'no such thing'"):
        load_facts("no such thing")
    monkeypatch.setattr(loading, "BUILTIN", tmp_path / "missing.jsonl")
    with pytest.raises(DKNBenchError, match="built-in fact set"):
        load_facts("builtin")


def test_load_facts_builtin_reads_the_package_file():
    from dknbench.data.loading import BUILTIN

    assert BUILTIN.is_file(), "the package must ship its built-in fact set"
    facts = load_facts("builtin")
    assert facts and all(f.queries and all(SLOT in q for q in f.queries) for f in facts)
    assert len({f.id for f in facts}) == len(facts)


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_build_data(slices, tmp_path, capsys):
    from dknbench.cli import main

    assert main(["build-data", "pararel", "--source", str(tmp_path / "missing"), "--output", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["build-data", "pararel", "--source", str(slices["pararel"]), "--option", "relations=P999"]) == 2
    assert main(["build-data", "pararel", "--source", str(slices["pararel"]), "--option", "nope=1"]) == 2
    assert main(["build-data", "nope", "--source", str(slices["pararel"])]) == 2
    out = tmp_path / "p"
    assert main(["build-data", "pararel", "--source", str(slices["pararel"]), "--output", str(out), "--seed", "3",
                 "--option", "causal=true", "--option", "relations=P36,P17", "--option", "max_facts_per_relation=5"]) == 0
    loaded = load(out, tmp_path)["facts"]
    assert len(loaded) == 10 and all(q.rstrip(" .").endswith(SLOT) for r in loaded for q in r["queries"])
    card = yaml.safe_load((out / "README.md").read_text(encoding="utf-8").split("---")[1])
    assert card["dknbench"]["options"]["causal"] is True and card["dknbench"]["seed"] == 3
    assert card["license"] == "cc-by-nc-4.0" and card["dknbench"]["source_commits"]
    assert main(["build-data", "pararel", "--source", str(slices["pararel"]), "--output", str(out)]) == 2


# --- croissant.json -------------------------------------------------------------------------------

def croissant_type(feature) -> tuple[str, bool]:
    """(Croissant data type URL, is a list) that a datasets feature must map to."""
    inner = feature.feature if isinstance(feature, (datasets.Sequence, datasets.List)) else feature
    names = {"string": "https://schema.org/Text", "int32": "http://mlcommons.org/croissant/Int32",
             "int64": "http://mlcommons.org/croissant/Int64", "bool": "https://schema.org/Boolean",
             "float64": "http://mlcommons.org/croissant/Float64"}
    return names[inner.dtype], inner is not feature


@pytest.mark.parametrize("name", sorted(ALL_BUILDERS | TESTED_ELSEWHERE))
def test_every_builder_writes_a_croissant_file_that_mlcroissant_validates_and_reads(
        name, slices, templama_folder, tmp_path):
    import hashlib

    import mlcroissant as mlc

    source, options = (None, {}) if name in TESTED_ELSEWHERE else builder_args(name, slices, templama_folder)
    built = build(name, source, seed=5, **options)
    folder = build_dataset(name, source, output=tmp_path / name, seed=5, **options)
    path = folder / "croissant.json"
    dataset = mlc.Dataset(jsonld=path)  # mlcroissant's validator: raises ValidationError on any error
    metadata = dataset.metadata
    assert not metadata.ctx.issues.errors
    card = yaml.safe_load((folder / "README.md").read_text(encoding="utf-8").split("---")[1])
    # the same metadata as the card: name, license, citation, the seed and procedure, the RAI fields
    assert metadata.name == card["pretty_name"]
    assert metadata.cite_as.strip() == card["citation"].strip()
    assert len(metadata.license) >= len(card["license"] if isinstance(card["license"], list) else [card["license"]])
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert "http://mlcommons.org/croissant/RAI/1.0" in raw["conformsTo"]
    assert f"seed 5" in metadata.data_collection and name in metadata.data_collection
    assert metadata.data_limitations and metadata.personal_sensitive_information
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert all(f"- {text}" in readme for text in metadata.data_limitations)  # the card says the same
    if name == "perturbed":  # built from a templama folder: its limitations come along
        assert any(text.startswith("From the source (dknbench dataset templama") and "Wikidata values" in text
                   for text in metadata.data_limitations)
    assert "none found" in metadata.personal_sensitive_information[0]
    # the distribution: every parquet shard with its sha256
    shards = {f.content_url: f for f in metadata.distribution if isinstance(f, mlc.FileObject)}
    assert set(shards) == {p.relative_to(folder).as_posix() for p in (folder / "data").glob("*.parquet")}
    for url, file in shards.items():
        assert file.sha256 == hashlib.sha256((folder / url).read_bytes()).hexdigest()
    # the splits enumeration and one record set per config, typed from the Features, read back
    record_sets = {r.id: r for r in metadata.record_sets}
    splits = [row["splits/name"] for row in dataset.records("splits")]
    assert sorted(s.decode() if isinstance(s, bytes) else s for s in splits) == sorted(built)
    for config in card["configs"]:
        config_name = config["config_name"]
        config_splits = [entry["split"] for entry in config["data_files"]]
        features = built[config_splits[0]].features
        fields = {f.name: f for f in record_sets[config_name].fields}
        assert set(fields) == {"split", *features}
        for column, feature in features.items():
            type_url, is_list = croissant_type(feature)
            assert [str(t) for t in fields[column].data_types] == [type_url], (name, column)
            assert bool(fields[column].is_array) == is_list, (name, column)
        records = list(dataset.records(config_name))
        assert len(records) == sum(len(built[s]) for s in config_splits)
        first_split = config_splits[0]
        first = next(r for r in records if r[f"{config_name}/split"] in (first_split, first_split.encode()))
        expected = built[first_split][0]
        decoded = {column: first[f"{config_name}/{column}"] for column in features}
        decoded = {k: ([x.decode() for x in v] if isinstance(v, list) else v.decode() if isinstance(v, bytes) else v)
                   for k, v in decoded.items()}
        assert decoded == expected, (name, config_name)


def test_croissant_types_every_value_kind_a_card_can_hold(tmp_path):
    import mlcroissant as mlc

    from dknbench.data import write_dataset

    features = datasets.Features({"id": datasets.Value("string"), "count": datasets.Value("int64"),
                                  "score": datasets.Value("float64"), "flag": datasets.Value("bool"),
                                  "label": datasets.ClassLabel(names=["no", "yes"]),
                                  "tags": datasets.Sequence(datasets.Value("string"))})
    rows = [{"id": "a", "count": 3, "score": 0.5, "flag": True, "label": 1, "tags": ["x", "y"]}]
    folder = write_dataset(datasets.DatasetDict({"train": datasets.Dataset.from_list(rows, features=features)}),
                           tmp_path / "typed", {"builder": "test", "seed": 1})
    dataset = mlc.Dataset(jsonld=folder / "croissant.json")
    fields = {f.name: f for f in next(r for r in dataset.metadata.record_sets if r.id == "default").fields}
    assert {name: str(fields[name].data_types[0]).rsplit("/", 1)[1] for name in features} == {
        "id": "Text", "count": "Int64", "score": "Float64", "flag": "Boolean", "label": "Int64", "tags": "Text"}
    assert fields["tags"].is_array and not fields["id"].is_array
    record = next(iter(dataset.records("default")))
    assert (record["default/count"], record["default/label"], record["default/tags"]) == (3, 1, [b"x", b"y"])
