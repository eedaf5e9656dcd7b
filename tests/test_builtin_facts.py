"""The built-in fact set (dknbench/data/builtin/facts.jsonl) is well-formed and reproducible."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from dknbench.data.schema import FACT_FEATURES, SLOT

BUILTIN = Path(__file__).resolve().parents[1] / "dknbench" / "data" / "builtin"
FACTS = BUILTIN / "facts.jsonl"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with open(FACTS, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_fields_match_schema(rows):
    expected = set(FACT_FEATURES)
    for row in rows:
        assert set(row) == expected, row["id"]
        for name in ("id", "relation", "subject", "object", "date", "language", "wrong_object",
                     "target_object", "source"):
            assert isinstance(row[name], str), (row["id"], name)
        for name in ("queries", "neighbour_queries", "locality_queries", "locality_objects"):
            assert isinstance(row[name], list), (row["id"], name)
        assert row["language"] == "en"
        assert row["source"] == "dknbench-builtin"
        assert row["subject"] and row["object"]


def test_ids_unique_and_size(rows):
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert len(rows) >= 300


def test_queries(rows):
    for row in rows:
        queries = row["queries"]
        assert len(queries) >= 3, row["id"]
        assert len(set(queries)) == len(queries), row["id"]
        for q in queries:
            assert q.count(SLOT) == 1, q
            tail = q[q.index(SLOT) + len(SLOT):]
            assert tail in ("", "."), q  # the slot is the last thing in the query
            assert q[: q.index(SLOT)].strip(), q
            assert len(q.split()) < 20, q
            # the answer is not given away in the query (as a whole word)
            assert not re.search(rf"\b{re.escape(row['object'])}\b", q.replace(SLOT, "")), q


def test_wrong_object(rows):
    objects = defaultdict(set)
    for row in rows:
        objects[row["relation"]].add(row["object"])
    for row in rows:
        assert row["wrong_object"], row["id"]
        assert row["wrong_object"] != row["object"], row["id"]
        assert row["wrong_object"] in objects[row["relation"]], row["id"]


def test_relations_balanced(rows):
    counts = Counter(r["relation"] for r in rows)
    assert sum(1 for n in counts.values() if n >= 10) >= 10, counts


def test_loads_as_dataset(rows):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(rows, features=FACT_FEATURES)
    assert len(ds) == len(rows)
    assert ds.features == FACT_FEATURES
    assert ds[0]["queries"] == rows[0]["queries"]


def load_script(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_jsonl(tmp_path):
    """scripts/make_facts.py (tables + recorded model_check.json) rebuilds facts.jsonl byte for byte."""
    make_facts = load_script("make_facts")

    out = tmp_path / "facts.jsonl"
    assert make_facts.main(["--out", str(out), "--check", str(BUILTIN / "model_check.json")]) == 0
    assert out.read_bytes() == FACTS.read_bytes()


def test_model_check_summary(rows):
    with open(BUILTIN / "model_check.json", encoding="utf-8") as f:
        check = json.load(f)
    assert check["n_kept"] == len(rows)
    assert check["n_kept"] + check["n_dropped"] == check["n_candidates"]
    assert sum(d["kept"] for d in check["per_relation"].values()) == len(rows)
    for row in rows:
        score = check["scores"][row["id"]]
        assert len(score["probs"]) == len(score["ranks"]) == len(row["queries"])
        assert min(score["ranks"]) <= check["top_k"]
