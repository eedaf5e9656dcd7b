"""Security and determinism checks of issue 16: HTML escaping on the site, the Hub token never
written or printed, and results independent of the attribution batch size."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import write_run
from dknbench.leaderboard import build_site

SCRIPT = "<script>alert('x')</script>"


def test_site_escapes_method_model_and_dataset_names(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "evil", task="gcr", method=SCRIPT, model=f"org/{SCRIPT}", dataset=f"d{SCRIPT}",
              figure=False)
    write_run(root, "fine", task="gcr", method="ntc", figure=False)
    site = tmp_path / "site"
    build_site(root, site)
    pages = {p: p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    assert pages
    assert any("&lt;script&gt;alert(" in text for text in pages.values())  # shown, as text
    assert not [p for p, text in pages.items() if "<script>alert(" in text]  # never as markup


@pytest.mark.slow
def test_hf_token_never_written_or_printed(tmp_path):
    sentinel = "hf_SENTINEL_dknbench_" + "7f3a9c"
    env = dict(os.environ, HF_TOKEN=sentinel, HUGGING_FACE_HUB_TOKEN=sentinel, OMP_NUM_THREADS="1",
               HF_HUB_OFFLINE="1", DKNBENCH_CACHE=str(tmp_path / "cache"))
    outputs = []

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "dknbench", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=600)
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr[-2000:]

    cli("run", "--task", "kn-localization", "--method", "ig", "--model", "tiny-gpt2", "--limit", "2",
        "--set", "steps=3", "--set", "known_only=false", "--output", str(tmp_path / "runs" / "one"))
    cli("results", str(tmp_path / "runs"), "--output", str(tmp_path / "results"))
    cli("publish", str(tmp_path / "results"), "--repo-id", "org/name", "--dry-run")
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()]
    assert len(written) > 5
    leaked = [p for p in written if sentinel.encode() in p.read_bytes()]
    assert not leaked
    assert not [o for o in outputs if sentinel in o]
    assert "would upload" in outputs[-1].lower() or "dry run" in outputs[-1].lower()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_batch_size_does_not_change_results(tmp_path, family):
    from dknbench.cli import main

    summaries = {}
    for batch in ("1", "128"):
        out = tmp_path / f"b{batch}"
        assert main(["run", "--task", "kn-localization", "--method", "ig", "--model", f"tiny-{family}",
                     "--limit", "2", "--set", "steps=4", "--set", "known_only=false", "--no-cache",
                     "--batch-size", batch,
                     "--output", str(out), "--quiet"]) == 0
        summaries[batch] = json.loads((out / "summary.json").read_text())["metrics"]
    one, default = summaries["1"], summaries["128"]
    assert [(m["method"], m["metric"], m["group"]) for m in one] == \
           [(m["method"], m["metric"], m["group"]) for m in default]
    compared = 0
    for a, b in zip(one, default):
        for key in ("value", "ci_low", "ci_high"):
            if a[key] is None or b[key] is None:
                assert a[key] == b[key]
                continue
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-6), (a, b)
            compared += 1
    assert compared > 0
