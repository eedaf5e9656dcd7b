"""A Hub id without network fails fast (issue 32.5): one reachability check, no retries, one line;
a model already in the cache loads from it. The tiny-model lists of errors and `list models` agree."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dknbench.cli import main
from dknbench.hub import unreachable_reason
from dknbench.models.loading import MODEL_FORMS, TINY_MODELS

REPO = Path(__file__).resolve().parents[1]


def closed_port() -> int:
    """A local port nothing listens on (bound, then released): connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def no_network_env(tmp_path: Path) -> dict:
    """The environment of a machine without network: the Hub endpoint is a closed local port (never
    an outside address), HF_HUB_OFFLINE is not set, the Hub cache is empty."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE")
           and not k.lower().endswith("_proxy")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}", HF_HOME=str(tmp_path / "hf-home"),
               OMP_NUM_THREADS="1", PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def test_unreachable_endpoint_is_reported_once_with_its_reason():
    endpoint = f"http://127.0.0.1:{closed_port()}"
    reason = unreachable_reason(endpoint)
    assert reason and "ConnectionRefusedError" in reason
    assert unreachable_reason(endpoint) is reason  # checked once per process


def test_a_listening_endpoint_is_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert unreachable_reason(f"http://127.0.0.1:{server.getsockname()[1]}") is None


def test_model_hub_id_without_network_is_one_line_without_retries(tmp_path):
    cmd = [sys.executable, "-m", "dknbench", "run", "--task", "kn-localization", "--method", "ig",
           "--model", "gpt2", "--limit", "1", "--output", str(tmp_path / "run"), "--quiet"]
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=no_network_env(tmp_path), cwd=tmp_path,
                          timeout=300)
    seconds = time.monotonic() - start
    err = done.stderr.strip()
    assert done.returncode == 2, err[-2000:]
    assert len(err.splitlines()) == 1, err[-2000:]  # no retry lines, no traceback
    assert "'gpt2'" in err and "cannot be reached" in err and "ConnectionRefusedError" in err
    assert "thrown while requesting" not in err and "not in the local cache" in err
    print(f"--model gpt2 without network: exit 2 in {seconds:.1f} s")  # the figure, not a check


@pytest.mark.slow
def test_a_cached_model_loads_from_the_cache_when_the_hub_is_unreachable(tmp_path):
    """HF_HUB_OFFLINE unset, Hub down: a model in the Hub cache is read from it at once."""
    from dknbench.models.tiny import tiny_model

    model, tokenizer = tiny_model("gpt2")
    snapshot = tmp_path / "hf-home" / "hub" / "models--someone--tiny-gpt2" / "snapshots" / ("a" * 40)
    model.save_pretrained(snapshot)
    tokenizer.save_pretrained(snapshot)
    refs = snapshot.parents[1] / "refs"
    refs.mkdir()
    (refs / "main").write_text("a" * 40)
    script = textwrap.dedent("""
        from dknbench.models.loading import load_model
        lm = load_model("someone/tiny-gpt2")
        print(repr(sum(float(p.double().sum()) for p in lm.model.parameters())))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=no_network_env(tmp_path), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # the cached weights (save_pretrained adds config fields, so the fingerprint differs)
    assert float(done.stdout.strip()) == sum(float(p.detach().double().sum()) for p in model.parameters())
    assert "thrown while requesting" not in done.stderr


def test_the_tiny_models_offered_by_errors_and_by_list_models_agree(capsys):
    offered_in_errors = set(re.search(r"a tiny test model \(([^)]*)\)", MODEL_FORMS).group(1).split(", "))
    assert offered_in_errors == set(TINY_MODELS) and "tiny-opt" not in offered_in_errors
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    offered_in_list = {name for line in out.splitlines() if "; tiny: " in line
                       for name in line.split("; tiny: ")[1].split(", ")}
    refused_in_list = {line.split()[0] for line in out.splitlines() if "[refused]" in line}
    assert offered_in_list == offered_in_errors
    assert "tiny-opt" in refused_in_list and not refused_in_list & offered_in_list


def test_hub_dataset_id_without_network_is_one_line(tmp_path):
    script = "from dknbench.data.loading import load_facts; load_facts('someone/some-facts')"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=no_network_env(tmp_path), cwd=tmp_path, timeout=300)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "DKNBenchError" in last and "'someone/some-facts'" in last and "cannot be reached" in last
    assert "HF_HUB_OFFLINE=1" in last
    assert "thrown while requesting" not in done.stderr
