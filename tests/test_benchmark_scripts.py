"""The benchmark scripts still run against the package they time: a rename in dknbench once made
``suite.py --reproduce`` print a table of empty rows (every task failed inside its timer). These run
each script on a tiny model and check what it prints, not how fast anything is."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]


def _run(args, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DKNBENCH_SHARED_DATA": str(shared_data())}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)


def test_suite_reproduce_times_every_task_of_a_paper(tmp_path, isolated_cache):
    out = _run([str(ROOT / "benchmarks" / "suite.py"), "--reproduce", "dkn", "--limit", "1",
                "--model", "tiny-gpt2"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert ": FAILED: " not in out.stderr
    rows = {line.split()[1]: line.split() for line in out.stdout.splitlines() if line.startswith("dkn ")}
    # gcr's known-fact gate drops every fact of a random model; the other two compute theirs
    assert rows["knowledge-update"][2] == "1/1" and rows["perturbation-robustness"][2] == "1/1"
    assert float(rows["knowledge-update"][5]) > 0  # its fine-tuning was timed


def test_suite_says_which_task_failed_and_exits_non_zero(tmp_path, isolated_cache):
    # a task that raises inside the timer: the perturbation builder's source is not there
    env_data = tmp_path / "no-shared-data"
    env_data.mkdir()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--reproduce", "dkn",
                          "--limit", "1", "--model", "tiny-gpt2"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1", "DKNBENCH_SHARED_DATA": str(env_data)},
                         timeout=900)
    assert out.returncode == 1
    assert "dkn knowledge-update: FAILED: " in out.stderr
    assert any(line.split()[1:3] == ["knowledge-update", "FAILED"] for line in out.stdout.splitlines()
               if line.startswith("dkn "))


def test_trace_cut_prints_equal_kn_sets_on_a_tiny_model(tmp_path, isolated_cache):
    out = _run([str(ROOT / "benchmarks" / "trace_cut.py"), "--model", "tiny-llama", "--facts", "1"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    row = next(line.split() for line in out.stdout.splitlines() if line.strip().startswith("animal_class"))
    # KN sets equal; scores equal up to float order (a random model's tiny effects amplify it; the
    # Probs themselves agree within 1e-6: tests/test_exact_cuts.py)
    assert row[5] == "True" and float(row[4]) <= 1e-3
