"""Shared fixtures and helpers: the registries' members the tests are parametrized over (tiny
models, localizers, DKN methods), tiny random models, the shared data folder, and the helpers that
run the CLI on the tiny GPT-2 or write a finished run folder."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
import torch

# Tiny tensors: a second intra-op thread only adds barrier waits (100x slower on a busy 2-core box).
torch.set_num_threads(1)

# The tiny models come from the registry (dknbench/models/tiny.py, one config per model type), so a
# family whose tiny config is added is tested by every test parametrized here.
from dknbench.models.families import FAMILIES as FAMILY_LINES  # noqa: E402
from dknbench.models.tiny import MASKED, REFUSED, TINY_FAMILIES  # noqa: E402

# every tiny-<model type> that loads: the engine agreement and completeness tests run on each
ALL_FAMILIES = [f for f in TINY_FAMILIES if f not in REFUSED]
ALL_CAUSAL = [f for f in ALL_FAMILIES if f not in MASKED]
REFUSED_FAMILIES = list(REFUSED)  # tiny models that exist to show the one-line refusal


def family_line(model_type: str):
    """The FamilySpec line that claims a model type (None: no line, found by introspection)."""
    return next((line for line in FAMILY_LINES if model_type in line.model_types), None)


def mlp_kind(model_type: str) -> tuple:
    """What a family's line says about the neurons' MLP: masked LM, GPT-2's Conv1D, gated, fused."""
    line = family_line(model_type)
    rule = line.parsed()
    return line.masked_lm, line.conv1d, rule["up"] is not None, "[" in rule["gate"]


def one_per_kind(families: list[str]) -> list[str]:
    """The first of ``families`` of each MLP kind."""
    return [f for i, f in enumerate(families) if mlp_kind(f) not in map(mlp_kind, families[:i])]


# one tiny model per kind of MLP (the first in the registry's order), for the tests that are about
# the kinds rather than each family: a family of a new kind joins them by being registered
FAMILY_KINDS = one_per_kind(ALL_FAMILIES)
CAUSAL_FAMILY_KINDS = [f for f in FAMILY_KINDS if f not in MASKED]

# The method registries, read by the tests parametrized over them: a method is tested by being registered
from dknbench.dkn import DKN_METHODS  # noqa: E402
from dknbench.localization import LOCALIZERS  # noqa: E402

# the DKN methods that group KNs by their neuron distances (every one but amig-pairs today)
DISTANCE_METHODS = [name for name in DKN_METHODS.names() if DKN_METHODS.get(name).requires_distance]


REPO = Path(__file__).resolve().parents[1]

# markers that make a test slow by what it loads (pytest -m "not slow" is the quick loop)
SLOW_BY_NATURE = ("embedded", "real_model", "browser")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_BY_NATURE):
            item.add_marker(pytest.mark.slow)


# .ci/run sets this: in CI an absent resource is a failure, so a skip cannot hide a broken setup
REQUIRE_ALL = os.environ.get("DKNBENCH_REQUIRE_ALL") == "1"


def needs(available: bool, what: str) -> None:
    """Skip when an outside resource (shared data, a browser) is absent here; fail in CI."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"{what} is missing, and CI (DKNBENCH_REQUIRE_ALL=1) must have it")
    pytest.skip(f"{what} not found")


def shared_data() -> Path:
    return Path(os.environ.get("DKNBENCH_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """A file or folder of ../shared/data (skipped when absent, failed in CI)."""
    path = shared_data().joinpath(*parts)
    needs(path.exists(), f"shared raw data {path}")
    return path


@pytest.fixture(scope="session")
def tiny():
    """tiny(family) -> a LoadedModel with random weights (built once per family)."""
    from dknbench.models.loading import tiny_loaded

    built = {}

    def get(family: str):
        if family not in built:
            built[family] = tiny_loaded(family)
        return built[family]

    return get


@pytest.fixture()
def isolated_cache(tmp_path, monkeypatch):
    """Point the dknbench cache (attributions, datasets) at a temporary folder, but keep the
    embedded model where it already is so it is converted once per machine."""
    from dknbench import paths

    real = paths.cache_dir()
    monkeypatch.setenv("DKNBENCH_CACHE", str(tmp_path / "cache"))
    models = tmp_path / "cache" / "models"
    models.parent.mkdir(parents=True, exist_ok=True)
    if (real / "models").exists() and not models.exists():
        models.symlink_to(real / "models")
    return tmp_path / "cache"


# knowledge-update in seconds on a tiny model: one epoch of small batches, few IG steps
KU_FAST = ["localizer=ig", "steps=3", "tau=0.05", "tau2=0", "epochs=1", "incremental_epochs=1", "lr=0.01",
           "train_batch_size=4", "grad_accum=1", "progress=false", "heatmap_bins=8"]


@pytest.fixture(scope="session")
def templama_slice(tmp_path_factory):
    """Raw TempLAMA rows of 4 subjects for each of two relations (a build:tempnarrativelama source)."""
    source = shared_path("templama", "train.jsonl")
    root = tmp_path_factory.mktemp("raw") / "templama"
    root.mkdir()
    keys, rows = {}, []
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            key = row["id"].rsplit("_", 1)[0]
            chosen = keys.setdefault(row["relation"], [])
            if row["relation"] in ("P54", "P102") and (key in chosen or len(chosen) < 4):
                if key not in chosen:
                    chosen.append(key)
                rows.append(line)
    (root / "train.jsonl").write_text("".join(rows), encoding="utf-8")
    for name in ("templates.csv", "PROVENANCE.md"):
        shutil.copy(shared_data() / "templama" / name, root)
    return root


@pytest.fixture()
def tnl(templama_slice, isolated_cache):
    """The TempNarrativeLAMA folder built from ``templama_slice`` into the temporary cache."""
    from dknbench.data.loading import built_folder

    return built_folder(f"build:tempnarrativelama:{templama_slice}")


# --- running the CLI on the tiny GPT-2 --------------------------------------------------------------

# four facts in two relations, three queries each, every one encodable by a causal LM
FACTS = [
    {"id": f"r{r}-{i}", "relation": f"rel{r}", "subject": s, "object": o,
     "queries": [f"The capital of {s} is [Y].", f"{s}'s capital city is [Y].", f"The main city of {s} is [Y]."]}
    for r, pairs in enumerate([[("France", "Paris"), ("Italy", "Rome")], [("Japan", "Tokyo"), ("Spain", "Madrid")]])
    for i, (s, o) in enumerate(pairs)
]


def write_facts(path: Path, rows: list[dict]) -> Path:
    """A JSONL fact file of ``rows``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def tiny_gpt2(monkeypatch, tiny, isolated_cache):
    """Every model name loads the tiny GPT-2 (in-process CLI runs), with a temporary cache."""
    import dknbench.models

    monkeypatch.setattr(dknbench.models, "load_model", lambda *a, **k: tiny("gpt2"))


def run_kn(facts, output, *extra, methods: str = "random", steps: int = 2) -> int:
    """`dknbench run --task kn-localization` in this process on a fact file, quiet, known-only gate
    off (random weights know no fact); returns the exit code."""
    from dknbench.cli import main

    return main(["run", "--task", "kn-localization", "--method", methods, "--dataset", str(facts),
                 "--output", str(output), "--set", f"steps={steps}", "--set", "known_only=false",
                 "--quiet", *extra])


def one_line_error(capsys, code, expected, *needles):
    """The CLI returned ``expected`` with one stderr line containing every needle, no traceback."""
    err = capsys.readouterr().err.strip()
    assert code == expected, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def cli_environment(**extra) -> dict:
    """The environment of a `python -m dknbench` subprocess: this checkout, one thread, offline."""
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **extra}


def fact_records(output: Path) -> dict:
    """A run folder's per-fact records: file name -> record."""
    return {p.name: json.loads(p.read_text()) for p in sorted((output / "facts").glob("*.json"))}


# --- finished run folders, as `dknbench run` writes them ---------------------------------------------

def tiny_png(width: int = 40, height: int = 24, colour=(40, 110, 200)) -> bytes:
    """A valid solid-colour RGB PNG, so figures need no plotting library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(colour) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def write_run(root: Path, name: str, *, task: str = "gcr", method: str = "ntc", model: str = "gpt2",
              values: dict | None = None, seed: int = 0, per_fact: dict | None = None,
              references: list | None = None, figure: bool = True, created: str = "2024-05-01T10:00:00",
              comparisons: list | None = None, higher_is_better: bool = True, options: dict | None = None,
              dataset: str = "builtin", undefined: dict | None = None) -> Path:
    """Write a finished run directory whose summary.json follows the contract exactly.
    ``values`` maps (metric, group) -> value; ``undefined`` maps (metric, group) -> reason."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    values = values or {("GCR", "2"): 1.5, ("GCR", "3"): 2.5}
    metrics = []
    for (metric, group), value in values.items():
        metrics.append({"method": method, "metric": metric, "group": group, "value": value, "n": 10,
                        "ci_low": None if value is None else value - 0.25,
                        "ci_high": None if value is None else value + 0.25,
                        "higher_is_better": higher_is_better})
        if (undefined or {}).get((metric, group)):
            metrics[-1]["undefined"] = undefined[(metric, group)]
    figures = []
    if figure:
        (run_dir / f"{task}_{method}.png").write_bytes(tiny_png(240, 120))
        figures.append(f"{task}_{method}.png")
    summary = {
        "task": task, "task_kind": "dkn", "methods": [method], "model": model,
        "model_fingerprint": f"sha256:{model}-abc", "dataset": dataset, "seed": seed, "limit": 10,
        "config": {"task": task, "methods": [method], "seed": seed, "dataset": dataset, "options": options or {}},
        "config_hash": f"hash-{name}",
        "versions": {"dknbench": "0.1.0", "torch": "2.4.0", "transformers": "4.46.0", "python": "3.11"},
        "git_commit": None, "n_facts": 10, "skipped": {"not_known": 2}, "metrics": metrics,
        "tables": {}, "comparisons": comparisons or [], "references": references or [],
        "figures": figures, "created": created,
    }
    if per_fact is not None:
        summary["per_fact"] = per_fact
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return run_dir


def without_timing(data):
    """A training.json / summary.json (part) without the seconds a run measures about itself
    (knowledge-update's step times): what two runs of one config must agree on."""
    from dknbench.tasks.knowledge_update import TIMING_KEYS, TIMING_METRICS

    if isinstance(data, dict):
        return {k: without_timing(v) for k, v in data.items() if k not in TIMING_KEYS}
    if isinstance(data, list):
        return [without_timing(x) for x in data
                if not (isinstance(x, dict) and x.get("metric") in TIMING_METRICS)]
    return data
