"""Shared fixtures: tiny random models of every supported family, the shared data folder."""

from __future__ import annotations

import json
import os
import shutil
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


# one tiny model per kind of MLP (the first in the registry's order), for the tests that are about
# the kinds rather than each family: a family of a new kind joins them by being registered
FAMILIES = [f for i, f in enumerate(ALL_FAMILIES) if mlp_kind(f) not in map(mlp_kind, ALL_FAMILIES[:i])]
CAUSAL = [f for f in FAMILIES if f not in MASKED]


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
