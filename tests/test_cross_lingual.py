"""cross-lingual-editing: LIKN = ∩ of per-language KNs with per-language thresholds (002 Eq. 6-8);
the agreement builder of the linguistic-control task; the choice-flip counting."""

from pathlib import Path

import numpy as np
import pytest

import data_builders
from data_builders._common import slot_is_last
from dknbench.errors import ConfigError, DKNBenchError
from dknbench.tasks.cross_lingual_editing import language_independent_kns, parse_languages, parse_taus
from dknbench.tasks.linguistic_control import choice_flips


def _scores(values: dict) -> np.ndarray:
    grid = np.zeros((3, 4))
    for (layer, index), value in values.items():
        grid[layer, index] = value
    return grid


def test_likn_uses_per_language_thresholds():
    # en: max 10 -> T_en = 0.5*10 = 5 keeps (0,1),(2,3),(1,0) ; zh: max 1 -> T_zh = 0.2*1 = 0.2
    en = _scores({(0, 1): 10.0, (2, 3): 6.0, (1, 0): 5.5, (1, 2): 4.0})
    zh = _scores({(0, 1): 1.0, (2, 3): 0.25, (1, 2): 0.9, (1, 0): 0.1})
    per_lang, likn = language_independent_kns({"en": [en], "zh": [zh]}, {"en": 0.5, "zh": 0.2})
    assert per_lang["en"] == [(0, 1), (1, 0), (2, 3)]
    assert per_lang["zh"] == [(0, 1), (1, 2), (2, 3)]
    assert likn == [(0, 1), (2, 3)]
    # one shared scale factor instead (tau 0.5 for both) loses zh's weaker neuron (2, 3) from LIKN
    per_shared, shared = language_independent_kns({"en": [en], "zh": [zh]}, {"en": 0.5, "zh": 0.5})
    assert per_shared["zh"] == [(0, 1), (1, 2)] and shared == [(0, 1)]
    # T_k is relative to the language's own max: scaling a language's scores does not change N_k
    per_scaled, scaled = language_independent_kns({"en": [en], "zh": [zh * 1000]}, {"en": 0.5, "zh": 0.2})
    assert per_scaled == per_lang and scaled == likn


def test_likn_refines_within_language_and_is_empty_when_disjoint():
    q1 = _scores({(0, 0): 1.0, (1, 1): 0.9})
    q2 = _scores({(0, 0): 1.0, (2, 2): 0.9})
    q3 = _scores({(0, 0): 1.0, (1, 1): 0.8})
    per_lang, likn = language_independent_kns({"en": [q1, q2, q3], "fr": [_scores({(2, 2): 1.0})]},
                                              {"en": 0.5, "fr": 0.5}, refine_p=0.5)
    assert per_lang["en"] == [(0, 0), (1, 1)]  # (2, 2) is in 1 of 3 queries: not > 0.5
    assert per_lang["fr"] == [(2, 2)]
    assert likn == []


def test_language_options_are_validated():
    assert parse_languages("en, zh") == ["en", "zh"]
    assert parse_taus("zh:0.1", ["en", "zh"], 0.2) == {"en": 0.2, "zh": 0.1}
    with pytest.raises(ConfigError, match="languages"):
        parse_languages("en")
    with pytest.raises(ConfigError, match="language_taus"):
        parse_taus("de:0.1", ["en", "zh"], 0.2)
    with pytest.raises(ConfigError, match="language_taus"):
        parse_taus("en:1.5", ["en", "zh"], 0.2)


def test_agreement_builder_pairs_and_slot_last():
    built = data_builders.build("agreement", None)
    again = data_builders.build("agreement", "builtin")
    rows = list(built["test"])
    assert rows == list(again["test"])  # deterministic
    by_id = {r["id"]: r for r in rows}
    dog_s, dog_p = by_id["agreement:dog:singular"], by_id["agreement:dog:plural"]
    assert (dog_s["object"], dog_s["wrong_object"]) == ("dog", "dogs")
    assert (dog_p["object"], dog_p["wrong_object"]) == ("dogs", "dog")
    child = by_id["agreement:child:plural"]
    assert (child["object"], child["wrong_object"]) == ("children", "child")
    assert "She has two [Y]" in dog_p["queries"] and "She has one [Y]" in dog_s["queries"]
    for row in rows:
        number = row["id"].rsplit(":", 1)[1]
        assert row["relation"] == f"agreement_{number}"
        assert row["object"] != row["wrong_object"] and row["subject"] in (row["object"], row["wrong_object"])
        assert all(slot_is_last(q) and q.endswith("[Y]") for q in row["queries"])
        # the singular and plural items of a noun swap object and wrong object
        twin = by_id[f"agreement:{row['subject']}:{'plural' if number == 'singular' else 'singular'}"]
        assert (twin["object"], twin["wrong_object"]) == (row["wrong_object"], row["object"])
    sample = data_builders.build("agreement", None, max_nouns=5, seed=3)["test"]
    assert len(sample) == 10 and list(sample["id"]) == list(data_builders.build("agreement", None, max_nouns=5, seed=3)["test"]["id"])


def test_agreement_builder_rejects_bad_input(tmp_path: Path):
    with pytest.raises(DKNBenchError, match="nouns"):
        data_builders.build("agreement", None, nouns="unicorn")
    bad = tmp_path / "words.yaml"
    bad.write_text("frames:\n  - {singular: 'this [Y] is', plural: 'these [Y] are'}\nnouns: [[dog, dogs]]\n")
    with pytest.raises(DKNBenchError, match="frames\\[0\\]"):
        data_builders.build("agreement", bad)
    good = tmp_path / "good.yaml"
    good.write_text("frames:\n  - {singular: 'I see one [Y]', plural: 'I see two [Y]'}\nnouns: [[ox, oxen]]\n")
    rows = list(data_builders.build("agreement", good, numbers="plural")["test"])
    assert [(r["queries"], r["object"], r["wrong_object"]) for r in rows] == [(["I see two [Y]"], "oxen", "ox")]


def test_choice_flips_counts():
    counts = choice_flips([0.6, 0.2, 0.5, 0.1], [0.1, 0.3, 0.4, 0.2],
                          [0.05, 0.4, 0.6, 0.1], [0.2, 0.1, 0.1, 0.3])
    assert counts == {"right_before": 2, "flipped": 1, "wrong_before": 2, "fixed": 1, "right_after": 2, "n": 4}


# --- both tasks end to end through `dknbench run` on tiny random models --------------------------

def _run(monkeypatch, tiny, family, *argv):
    import dknbench.models
    from dknbench.cli import main

    monkeypatch.setattr(dknbench.models, "load_model", lambda *a, **k: tiny(family))
    return main(["run", *argv, "--quiet"])


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_cross_lingual_editing_end_to_end(monkeypatch, tiny, tmp_path, isolated_cache, family):
    from conftest import shared_path

    mpararel = shared_path("mpararel")
    # the runner's pivot facts: two aligned en/zh facts written by the multilingual builder
    pivots = data_builders.build_dataset("multilingual", mpararel, output=tmp_path / "pivots",
                                         languages="en,zh", causal=family != "bert",
                                         max_facts_per_relation=1, relations="P36,P37")
    output = tmp_path / "run"
    code = _run(monkeypatch, tiny, family, "--task", "cross-lingual-editing", "--method", "ig",
                "--dataset", str(pivots), "--limit", "2", "--output", str(output),
                "--set", "steps=2", "--set", "max_queries=1", "--set", f"mpararel={mpararel}",
                "--set", "language_taus=en:0.05,zh:0.05")
    assert code == 0
    import json

    summary = json.loads((output / "summary.json").read_text())
    counts = summary["tables"]["kn_counts"]
    assert counts[0]["facts"] == 2 and counts[0]["mean #KN en"] > 0 and counts[0]["mean #KN zh"] > 0
    variants = {(r["language"], r["variant"]) for r in summary["tables"]["cross_lingual_editing"]}
    if counts[0]["LIKN empty"] < 1:  # a random model may share no KN between languages
        assert variants == {(lang, v) for lang in ("en", "zh") for v in ("LIKN", "Mono-KN", "Seq-KN")}
    assert summary["figures"] == ["kn_layers_ig.png"]
    assert (output / "kn_layers_ig.png").stat().st_size > 1000


def test_linguistic_control_end_to_end(monkeypatch, tiny, tmp_path, isolated_cache):
    import json

    output = tmp_path / "run"
    code = _run(monkeypatch, tiny, "llama", "--task", "linguistic-control", "--method", "ig,random",
                "--limit", "3", "--output", str(output), "--set", "steps=2", "--set", "max_queries=2",
                "--set", "prob_mode=joint")  # the tiny tokenizer gives "dog"/"dogs" one first token
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    table = summary["tables"]["choice_flips"]
    assert {(r["method"], r["kind"]) for r in table} == {(m, k) for m in ("ig", "random")
                                                         for k in ("factual", "agreement")}
    agreement = [r for r in table if r["kind"] == "agreement" and r["items"]]
    assert agreement and all(0 <= r["acc before"] <= 1 for r in agreement)
    assert set(summary["figures"]) == {"choice_flips.png", "kn_layers_ig.png", "kn_layers_random.png"}
    for name in summary["figures"]:
        assert (output / name).stat().st_size > 1000


def test_no_fact_with_a_likn_gives_undefined_sr_records_with_the_reason(tmp_path):
    """An English model localizes almost no Chinese KN, so every fact's LIKN can be empty and nothing
    is edited: each variant's SR is then an undefined record naming why, not a missing record (a claim
    on it read "no such record")."""
    from types import SimpleNamespace

    from dknbench.tasks.cross_lingual_editing import CrossLingualEditingTask

    rows = [{"method": "amig", "n_likn": 0, "likn": [], "kns": {"en": [[1, 2]], "zh": []},
             "n_kns": {"en": 1, "zh": 0}, "edits": []} for _ in range(3)]
    ctx = SimpleNamespace(methods=["amig"], seed=0, options={"outlier_limit": 9.0, "languages": "en,zh"},
                          run_info={})
    metrics = CrossLingualEditingTask(ctx).summarize(rows, tmp_path).metrics
    sr = {r["group"]: r for r in metrics if r["metric"] == "SR"}
    assert set(sr) == {f"{lang}/{v}" for lang in ("en", "zh") for v in ("LIKN", "Mono-KN", "Seq-KN")}
    assert all(r["value"] is None and r["undefined"] == f"no {g.split('/')[0]} edit of {g.split('/')[1]}: 0 of 3 "
               "facts have a non-empty LIKN, and only those are edited" for g, r in sr.items())
    assert next(r for r in metrics if r["metric"] == "likn_empty_rate")["value"] == 1.0
