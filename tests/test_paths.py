"""Data paths and provenance do not depend on where the package is installed: a wheel in
site-packages and an editable checkout resolve ../shared/data and $DKNBENCH_SHARED_DATA alike."""

import subprocess
from pathlib import Path

import pytest

from dknbench import paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def installed_elsewhere(monkeypatch, tmp_path):
    """Pretend the package lives in a site-packages folder (what `pip install .` gives)."""
    site = tmp_path / "venv" / "lib" / "site-packages"
    (site / "dknbench").mkdir(parents=True)
    monkeypatch.setattr(paths, "PACKAGE_DIR", site / "dknbench")
    monkeypatch.setattr(paths, "REPO_ROOT", site)
    monkeypatch.delenv(paths.SHARED_DATA_ENV, raising=False)
    return site


@pytest.mark.parametrize("installed", [False, True], ids=["editable", "wheel"])
def test_shared_data_resolves_from_the_working_directory(installed, request, monkeypatch, tmp_path):
    if installed:
        request.getfixturevalue("installed_elsewhere")
    monkeypatch.delenv(paths.SHARED_DATA_ENV, raising=False)
    data = tmp_path / "shared" / "data"
    (data / "pararel").mkdir(parents=True)
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    assert paths.shared_data_dir() == data
    monkeypatch.chdir(tmp_path)  # shared/data below the working directory also counts
    assert paths.shared_data_dir() == data
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv(paths.SHARED_DATA_ENV, str(other))  # the environment wins
    assert paths.shared_data_dir() == other


def test_build_spec_finds_a_relative_source_under_the_shared_folder(installed_elsewhere, monkeypatch, tmp_path):
    from dknbench.data.loading import built_folder
    from dknbench.errors import DKNBenchError

    monkeypatch.setenv(paths.SHARED_DATA_ENV, str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DKNBenchError, match=str(tmp_path / "nowhere")):
        built_folder("build:tempnarrativelama:templama")


def test_git_commit_is_recorded_when_run_from_a_checkout(installed_elsewhere, monkeypatch, tmp_path):
    from dknbench.harness.provenance import git_commit

    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(ROOT / "tests")  # the installed package, run from inside the checkout
    assert git_commit() == head
    monkeypatch.chdir(tmp_path)  # and from outside any checkout: no commit to record
    assert git_commit() is None
