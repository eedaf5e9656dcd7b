"""Shared fixtures: tiny random models of every supported family, the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Tiny tensors: a second intra-op thread only adds barrier waits (100x slower on a busy 2-core box).
torch.set_num_threads(1)

FAMILIES = ["gpt2", "llama", "gpt_neox", "bert"]
CAUSAL = ["gpt2", "llama", "gpt_neox"]
# every tiny-<family> (dknbench/models/tiny.py): the engine agreement and completeness tests run on
# each, so a family that is listed is one whose attribution paths are checked
ALL_FAMILIES = ["gpt2", "gpt_neo", "gptj", "gpt_neox", "bloom", "falcon", "llama", "mistral",
                "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi", "phi3", "olmo", "stablelm", "bert",
                "roberta", "xlm-roberta"]
ALL_CAUSAL = [f for f in ALL_FAMILIES if f not in ("bert", "roberta", "xlm-roberta")]
REFUSED_FAMILIES = ["opt"]  # tiny-opt exists to show the one-line refusal


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
