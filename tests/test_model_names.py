"""Models by their usual names: an un-namespaced Hub id (``gpt2``) resolves through the Hub cache
like transformers resolves it, and results are keyed by the bare name the papers use."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dknbench.models.loading import canonical_model_name

ROOT = Path(__file__).resolve().parents[1]


def _fake_hub_cache(home: Path, repo: str) -> Path:
    """Save a tiny GPT-2 as the cached snapshot of Hub repo ``repo`` under ``home`` (HF_HOME)."""
    from dknbench.models.tiny import tiny_model

    model, tokenizer = tiny_model("gpt2")
    commit = "0" * 40
    repo_dir = home / "hub" / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / commit
    model.save_pretrained(snapshot)
    tokenizer.save_pretrained(snapshot)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


@pytest.mark.slow
def test_bare_hub_id_loads_offline_from_the_hub_cache(tmp_path):
    _fake_hub_cache(tmp_path / "hf", "gpt2")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HUGGINGFACE_HUB_CACHE", None)
    code = ("import json; from dknbench.models import load_model; lm = load_model('gpt2'); "
            "print(json.dumps({'name': lm.name, 'n_embd': lm.model.config.n_embd, "
            "'layers': lm.adapter.n_layers, 'masked': lm.is_masked_lm}))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    # the tiny config saved under the name (32 wide, 3 layers), not the real 768-wide GPT-2
    assert loaded == {"name": "gpt2", "n_embd": 32, "layers": 3, "masked": False}


@pytest.mark.slow
def test_bare_hub_id_missing_from_the_cache_names_every_form(tmp_path):
    env = {**os.environ, "HF_HOME": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "dknbench", "run", "--task", "gcr", "--model", "gpt2",
                           "--limit", "1", "--output", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    message = done.stderr.strip().splitlines()[-1]
    for form in ("cannot load model 'gpt2'", "smollm2-135m", "tiny-gpt2", "local folder", "openai-community/gpt2"):
        assert form in message, message


def test_canonical_names_follow_the_papers():
    assert canonical_model_name("openai-community/gpt2") == "gpt2"
    assert canonical_model_name("openai-community/gpt2-xl") == "gpt2-xl"
    assert canonical_model_name("google-bert/bert-base-uncased") == "bert-base-uncased"
    assert canonical_model_name("gpt2") == "gpt2"
    assert canonical_model_name("EleutherAI/gpt-j-6b") == "EleutherAI/gpt-j-6b"
    assert canonical_model_name("/home/me/checkpoints/my-gpt/") == "my-gpt"
