"""`dknbench publish`: dry run, repo id and token checks, and the upload calls (Hub faked)."""

from __future__ import annotations

import datasets
import huggingface_hub
import pytest

from dknbench.cli import main
from dknbench.data import FACT_FEATURES, write_dataset

SECRET = "hf_test_secret_token_value"


@pytest.fixture
def folder(tmp_path):
    row = {name: ([] if name in ("queries", "neighbour_queries", "locality_queries", "locality_objects") else "x")
           for name in FACT_FEATURES}
    row["queries"] = ["x is [Y]."]
    dataset = datasets.Dataset.from_list([row], features=FACT_FEATURES)
    out = write_dataset(datasets.DatasetDict({"facts": dataset}), tmp_path / "built", {"builder": "test", "seed": 1})
    (out / ".hidden.tmp").write_text("left over")  # never uploaded
    return out


@pytest.fixture
def no_token(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)


class FakeApi:
    calls: list = []

    def __init__(self, token=None):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, **kwargs):
        FakeApi.calls.append(("upload_folder", kwargs))


def test_dry_run_lists_files_and_needs_no_token(folder, no_token, capsys):
    assert main(["publish", str(folder), "--repo-id", "org/name", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "README.md" in out and "data/facts-00000-of-00001.parquet" in out
    assert "croissant.json" in out  # the Croissant metadata goes up with the dataset
    assert ".hidden" not in out
    size = (folder / "README.md").stat().st_size
    assert f"{size:,d}" in out


@pytest.mark.parametrize("repo_id", ["name-only", "org/na me", "org/name/extra", "-org/name", "org/na--me", "/name"])
def test_bad_repo_id_is_refused(folder, repo_id, capsys):
    assert main(["publish", str(folder), f"--repo-id={repo_id}", "--dry-run"]) == 2
    assert "ORG/NAME" in capsys.readouterr().err


def test_missing_token_fails_before_any_work(folder, no_token, monkeypatch, capsys):
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert main(["publish", str(folder), "--repo-id", "org/name"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
    assert FakeApi.calls == []


def test_not_a_built_folder_is_refused(tmp_path, capsys):
    assert main(["publish", str(tmp_path), "--repo-id", "org/name", "--dry-run"]) == 2
    assert "README.md" in capsys.readouterr().err


@pytest.mark.parametrize("source", ["env", "login"])
def test_upload_uses_the_token_without_showing_it(folder, no_token, monkeypatch, capsys, source):
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    if source == "env":
        monkeypatch.setenv("HF_TOKEN", SECRET)
    else:
        monkeypatch.setattr(huggingface_hub, "get_token", lambda: SECRET)
    assert main(["publish", str(folder), "--repo-id", "org/name", "--private"]) == 0
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert FakeApi.calls[0] == ("init", SECRET)
    assert FakeApi.calls[1] == ("create_repo", "org/name", {"repo_type": "dataset", "private": True, "exist_ok": True})
    upload = FakeApi.calls[2][1]
    assert upload["repo_id"] == "org/name" and upload["repo_type"] == "dataset"
    assert upload["folder_path"] == str(folder)
    assert not any(SECRET in path.read_text(errors="ignore") for path in folder.rglob("*") if path.is_file())


# --- dknbench leaderboard publish: a built site to a static Space ---------------------------------

@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    (site / "tasks").mkdir(parents=True)
    (site / "static").mkdir()
    (site / "index.html").write_text("<html>index</html>")
    (site / "tasks" / "gcr.html").write_text("<html>gcr</html>")
    (site / "static" / "style.css").write_text("body {}")
    (site / ".partial.tmp").write_text("left over")  # never uploaded
    return site


def test_leaderboard_publish_dry_run_lists_the_site_and_the_space_and_writes_nothing(site, no_token, monkeypatch,
                                                                                     capsys):
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    before = sorted((p.relative_to(site), p.stat().st_mtime_ns) for p in site.rglob("*"))
    assert main(["leaderboard", "publish", str(site), "--space-id", "user/board", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "user/board" in out and "static Space" in out
    listed = {line.split()[-1] for line in out.splitlines()[1:-1]}
    assert listed == {"index.html", "tasks/gcr.html", "static/style.css"}
    assert FakeApi.calls == []
    assert sorted((p.relative_to(site), p.stat().st_mtime_ns) for p in site.rglob("*")) == before


def test_leaderboard_publish_without_a_token_is_one_line_exit_2(site, no_token, monkeypatch, capsys):
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert main(["leaderboard", "publish", str(site), "--space-id", "user/board"]) == 2
    err = capsys.readouterr().err
    assert "no Hugging Face token" in err and len(err.strip().splitlines()) == 1
    assert FakeApi.calls == []


@pytest.mark.parametrize("make,message", [
    (lambda tmp: tmp / "missing", "is not a folder"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no index.html"),
])
def test_leaderboard_publish_refuses_a_folder_that_is_not_a_built_site(tmp_path, make, message, capsys):
    assert main(["leaderboard", "publish", str(make(tmp_path)), "--space-id", "user/board", "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_leaderboard_publish_refuses_a_bad_space_id(site, capsys):
    assert main(["leaderboard", "publish", str(site), "--space-id", "board", "--dry-run"]) == 2
    assert "ORG/NAME" in capsys.readouterr().err


def test_leaderboard_publish_creates_a_static_space_and_uploads_the_site(site, no_token, monkeypatch, capsys):
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert main(["leaderboard", "publish", str(site), "--space-id", "user/board"]) == 0
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert FakeApi.calls[0] == ("init", SECRET)
    assert FakeApi.calls[1] == ("create_repo", "user/board",
                                {"repo_type": "space", "space_sdk": "static", "private": False, "exist_ok": True})
    upload = FakeApi.calls[2][1]
    assert upload["repo_id"] == "user/board" and upload["repo_type"] == "space"
    assert upload["folder_path"] == str(site)
    assert "3 file(s)" in captured.out
