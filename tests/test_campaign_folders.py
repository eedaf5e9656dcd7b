"""The reproduction campaign's committed run folders (docs/results/<paper>/<task>/) stay resumable:
a later session, on any machine, reruns `dknbench reproduce --paper P --preset cpu --limit 100
--output docs/results/P` and continues fact by fact. A resume is refused when the command resolves to
another configuration (config hash), so every committed folder's hash must be what the current code
resolves for that same command, and its files must pass the run-folder schemas the resume applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dknbench.harness import RunSpec
from dknbench.harness.spec import resolve
from dknbench.reproduce import load_claims
from dknbench.results.schema import FactFileSchema, RunFileSchema

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
PAPERS = load_claims()["papers"]
# the embedded model's reproduction (<paper>/<task>/) and other models' (<model>/<paper>/<task>/, issue 31.4)
FOLDERS = sorted(p.parent for paper in PAPERS
                 for p in [*(RESULTS / paper).glob("*/run.json"), *RESULTS.glob(f"*/{paper}/*/run.json")])


def test_the_campaign_has_committed_folders():
    assert FOLDERS, "no committed reproduction run folder under docs/results/<paper>/<task>/"


def _id(folder: Path) -> str:
    return str(folder.relative_to(RESULTS))


@pytest.mark.parametrize("folder", FOLDERS, ids=_id)
def test_a_committed_folder_resolves_to_the_same_configuration_today(folder):
    paper, task = folder.parent.name, folder.name
    assert task in PAPERS[paper]["tasks"], f"{folder}: {task} is not a task of paper {paper}"
    run = RunFileSchema.model_validate(json.loads((folder / "run.json").read_text()))
    recorded = run.resolved
    # what `reproduce` passes to the harness for this task (reproduce.run_paper)
    spec = RunSpec(task=task, methods=PAPERS[paper]["tasks"][task], model=recorded["model"],
                   limit=recorded["limit"], seed=recorded["seed"], preset="cpu")
    resolved = resolve(spec)
    assert resolved.config_hash == run.config_hash, (
        f"{folder}: the command now resolves to {resolved.hashed}, not {recorded}")
    assert run.settings["threads"] == 1  # a resume needs the same thread count: OMP_NUM_THREADS=1


@pytest.mark.parametrize("folder", FOLDERS, ids=_id)
def test_a_committed_folders_fact_files_are_the_run_facts_in_order(folder):
    run = json.loads((folder / "run.json").read_text())
    files = sorted((folder / "facts").glob("*.json"))
    assert files and len(files) <= run["n_facts"]
    for path in files:
        record = FactFileSchema.model_validate(json.loads(path.read_text()))
        assert path.name == f"{record.index:06d}.json"
        assert record.fact_hash == run["fact_hashes"][record.index]  # the fact the resume will check
        assert record.model_fingerprint == run["model_fingerprint"]
