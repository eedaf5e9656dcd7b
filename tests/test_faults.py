"""A run killed with SIGKILL (no cleanup code runs) resumes to exactly the results of a run that
was never interrupted: nothing lost, nothing counted twice. Both phases: the per-fact loop and
knowledge-update's fine-tuning (killed inside a setting, after an epoch checkpoint)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, cli_environment, without_timing
from dknbench.results import read_samples

pytestmark = pytest.mark.slow  # subprocess runs killed and resumed: minutes

N_FACTS = 30


def command(output: Path) -> list[str]:  # the per-fact phase
    return [sys.executable, "-m", "dknbench", "run", "--task", "kn-localization", "--method", "ig,random",
            "--model", "tiny-gpt2", "--limit", str(N_FACTS), "--set", "steps=20", "--set", "random_match=ig",
            "--set", "known_only=false", "--no-cache", "--quiet", "--output", str(output)]


def kill_when(args: list[str], ready, timeout: float = 240) -> bool:
    """Start ``args``, SIGKILL it as soon as ``ready()`` holds; whether the kill landed mid-run."""
    process = subprocess.Popen(args, cwd=REPO, env=cli_environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    killed = False
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if ready():
                process.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return killed


def kill_after_first_fact(output: Path) -> int:
    """SIGKILL the run as soon as one fact file exists; returns the facts saved then."""
    kill_when(command(output), lambda: any((output / "facts").glob("*.json")))
    return len(list((output / "facts").glob("*.json")))


def comparable(summary_path: Path) -> dict:
    summary = json.loads(summary_path.read_text())
    summary.pop("created")  # the wall-clock time of writing
    summary.pop("git_commit", None)  # the checkout may move between the two runs
    return summary


def test_sigkilled_run_resumes_to_the_uninterrupted_results(tmp_path):
    killed = tmp_path / "killed"
    saved = kill_after_first_fact(killed)
    assert 1 <= saved < N_FACTS, f"the kill should land mid-run, {saved} of {N_FACTS} facts were saved"
    assert not (killed / "summary.json").exists() and (killed / "run.json").is_file()

    env = cli_environment()
    resumed = subprocess.run(command(killed), cwd=REPO, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    straight = tmp_path / "straight"
    plain = subprocess.run(command(straight), cwd=REPO, env=env, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr

    assert len(list((killed / "facts").glob("*.json"))) == N_FACTS
    a = read_samples(straight / "samples.parquet")
    b = read_samples(killed / "samples.parquet")
    assert len(a) == len(b) > 0
    assert not b.duplicated(subset=["fact_id", "method"]).any()
    key = ["fact_id", "method"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                  b.sort_values(key).reset_index(drop=True))
    assert comparable(straight / "summary.json") == comparable(killed / "summary.json")


# --- the fine-tuning stage of knowledge-update -------------------------------------------------

FINETUNE = ["--set", "localizer=ig", "--set", "steps=3", "--set", "tau=0.05", "--set", "tau2=0",
            "--set", "epochs=4", "--set", "incremental_epochs=2", "--set", "lr=0.01",
            "--set", "train_batch_size=2", "--set", "grad_accum=1", "--set", "progress=false",
            "--set", "heatmap_bins=8"]


def finetune_command(output: Path, dataset: Path) -> list[str]:
    return [sys.executable, "-m", "dknbench", "run", "--task", "knowledge-update", "--method", "ntc",
            "--model", "tiny-gpt2", "--dataset", str(dataset), "--no-cache", "--quiet",
            "--output", str(output), *FINETUNE]


def training_record(output: Path) -> dict:
    record = json.loads((output / "training.json").read_text())
    for setting in record["settings"].values():
        setting.pop("resumed_from", None)  # which epoch a resumed setting restarted from
    return record


def test_sigkilled_fine_tuning_resumes_to_the_uninterrupted_results(tnl, tmp_path):
    killed = tmp_path / "killed"
    work = killed / "training"
    # mid-setting: a narrative setting has saved an epoch checkpoint but no result yet
    landed = kill_when(finetune_command(killed, tnl), lambda: any(
        c.parent.name != "incremental" and not (c.parent / "result.json").exists()
        for c in work.glob("*/finetune_checkpoint.pt")))
    assert landed, "the run finished before a fine-tuning checkpoint appeared"
    assert not (killed / "training.json").exists() and not (killed / "summary.json").exists()
    interrupted = sorted(c.parent.name for c in work.glob("*/finetune_checkpoint.pt"))

    env = cli_environment()
    resumed = subprocess.run(finetune_command(killed, tnl), cwd=REPO, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    straight = tmp_path / "straight"
    plain = subprocess.run(finetune_command(straight, tnl), cwd=REPO, env=env, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr

    record = json.loads((killed / "training.json").read_text())
    restarted = [k for k, v in record["settings"].items() if v.get("resumed_from")]
    assert restarted and set(restarted) <= set(interrupted), (restarted, interrupted)  # resumed, not retrained
    assert without_timing(training_record(killed)) == without_timing(training_record(straight))
    assert (np.load(killed / "delta_p.npy") == np.load(straight / "delta_p.npy")).all()
    assert without_timing(comparable(killed / "summary.json")) == without_timing(comparable(straight / "summary.json"))
    assert not list(work.glob("*/finetune_checkpoint.pt"))  # cleaned up once finished
