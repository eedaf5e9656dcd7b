"""Dataset cards: the Hub's YAML fields, citations of source and suite, no local paths."""

from __future__ import annotations

import re
import shutil

import yaml

from conftest import shared_path
from data_builders import build_dataset, source_citations
from dknbench.data.cards import size_category, suite_bibtex

ABSOLUTE = re.compile(r"(?<![\w.])/(?:tmp|home|root|work|usr|var|private|Users)/")


def _header(folder) -> dict:
    text = (folder / "README.md").read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---")[1])


def _pararel_slice(root):
    src = root / "pararel"
    (src / "patterns").mkdir(parents=True)
    (src / "trex_lms_vocab").mkdir()
    for relation in ("P36", "P17"):
        shutil.copy(shared_path("pararel", "patterns", f"{relation}.jsonl"), src / "patterns")
        lines = shared_path("pararel", "trex_lms_vocab", f"{relation}.jsonl").read_text(encoding="utf-8").splitlines()
        (src / "trex_lms_vocab" / f"{relation}.jsonl").write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    shutil.copy(shared_path("pararel", "PROVENANCE.md"), src)
    return src


def test_card_has_hub_fields_citations_and_no_local_path(tmp_path):
    source = _pararel_slice(tmp_path / "raw")
    folder = build_dataset("pararel", source, output=tmp_path / "built", seed=3, relations="P36,P17")
    card = _header(folder)
    rows = sum(split["num_examples"] for info in card["dataset_info"] for split in info["splits"])
    assert card["language"] == ["en"]
    assert card["task_categories"] and all(isinstance(c, str) for c in card["task_categories"])
    assert card["size_categories"] == [size_category(rows)]
    # the license id is the builder's, its name spelled out; the source's own words come from PROVENANCE.md
    assert card["license"] == "cc-by-nc-4.0" and card["license_name"] == "CC BY-NC 4.0"
    provenance = (source / "PROVENANCE.md").read_text(encoding="utf-8")
    assert card["license_details"] and card["license_details"].split(":")[0] in provenance
    # BibTeX of the source (ParaRel) and of the suite, in the YAML and in the body
    assert source_citations()["pararel"].strip() in card["citation"]
    assert suite_bibtex().strip() in card["citation"]
    assert re.findall(r"^@\w+\{", card["citation"], flags=re.M) == ["@article{", "@misc{"]
    assert card["dknbench"]["source"] == "pararel" and card["dknbench"]["source_key"] == "pararel"
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert "```bibtex" in text and "@article{elazar2021measuring" in text.split("## Citation")[1]
    assert str(tmp_path) not in text and not ABSOLUTE.search(text)


def test_derived_card_keeps_the_source_citation_without_its_path(tmp_path):
    source = _pararel_slice(tmp_path / "raw")
    parent = build_dataset("pararel", source, output=tmp_path / "parent", seed=3, relations="P36,P17")
    folder = build_dataset("perturbed", parent, output=tmp_path / "child", seed=3, limit=3)
    card = _header(folder)
    assert card["dknbench"]["source_key"] == "pararel"
    assert source_citations()["pararel"].strip() in card["citation"]
    assert card["license"] == "cc-by-nc-4.0"  # inherited from the parent card
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert str(tmp_path) not in text and not ABSOLUTE.search(text)


def test_size_categories_follow_the_row_count():
    assert [size_category(n) for n in (0, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]
