"""Run folders, results datasets and data files are untrusted input (issue 21): paths stay inside
their folder, resume adopts only this run's facts, nothing runs silently, outputs obey the umask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FACTS, one_line_error, run_kn, write_facts, write_run
from dknbench.cli import main
from dknbench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


# --- 1. paths named by a run folder or dataset stay inside it ---------------------------------

@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text("do not publish")
    return path


def poisoned_run(root: Path, figures: list) -> Path:
    run_dir = write_run(root, "r")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["figures"] = summary["figures"] + figures
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def escapes(run_dir: Path, secret: Path) -> list:
    os.symlink(secret, run_dir / "link.png")
    return [os.path.relpath(secret, run_dir), str(secret), "link.png"]


@pytest.mark.parametrize("which", [0, 1, 2])  # ../ relative, absolute, symlink inside -> outside
def test_figure_paths_outside_the_run_are_refused_by_leaderboard_and_results(tmp_path, secret, which, capsys):
    run_dir = write_run(tmp_path / "runs", "r")
    name = escapes(run_dir, secret)[which]
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["figures"].append(name)
    (run_dir / "summary.json").write_text(json.dumps(summary))

    site = tmp_path / "site"
    code = main(["leaderboard", "build", "--results", str(tmp_path / "runs"), "--output", str(site)])
    one_line_error(capsys, code, 2, "points outside", repr(name))
    code = main(["results", str(tmp_path / "runs"), "--output", str(tmp_path / "ds")])
    one_line_error(capsys, code, 2, "points outside")
    copied = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink() and p.read_bytes() == secret.read_bytes()]
    assert copied == [secret]


def test_figures_inside_the_run_are_still_copied(tmp_path, capsys):
    run_dir = write_run(tmp_path / "runs", "r")
    (run_dir / "sub").mkdir()
    (run_dir / "sub" / "f.png").write_bytes((run_dir / "gcr_ntc.png").read_bytes())
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["figures"].append("sub/../sub/f.png")
    (run_dir / "summary.json").write_text(json.dumps(summary))
    assert main(["results", str(tmp_path / "runs"), "--output", str(tmp_path / "ds")]) == 0
    assert len(list((tmp_path / "ds" / "figures").rglob("*.png"))) == 2


def test_dataset_runs_table_cannot_point_outside_the_dataset(tmp_path, secret, capsys):
    import pandas as pd

    write_run(tmp_path / "runs", "r")
    assert main(["results", str(tmp_path / "runs"), "--output", str(tmp_path / "ds")]) == 0
    runs_file = tmp_path / "ds" / "data" / "runs.parquet"
    table = pd.read_parquet(runs_file)
    table["figures"] = json.dumps([os.path.relpath(secret, tmp_path / "ds")])
    table.to_parquet(runs_file, index=False)
    code = main(["leaderboard", "build", "--results", str(tmp_path / "ds"), "--output", str(tmp_path / "site")])
    one_line_error(capsys, code, 2, "runs.parquet", "points outside")
    assert not (tmp_path / "site" / "figures").exists()


def test_publish_refuses_a_symlink_pointing_outside(tmp_path, secret, capsys):
    folder = tmp_path / "built"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\n---\ncard\n")
    os.symlink(secret, folder / "data" / "facts.parquet")
    code = main(["publish", str(folder), "--repo-id", "org/name", "--dry-run"])
    one_line_error(capsys, code, 2, "facts.parquet", "points outside")
    (folder / "data" / "facts.parquet").unlink()
    os.symlink(folder / "README.md", folder / "data" / "inside.md")  # a link inside the folder is fine
    assert main(["publish", str(folder), "--repo-id", "org/name", "--dry-run"]) == 0


# --- 2, 3, 6. resume and the exit-3 case ------------------------------------------------------

@pytest.fixture()
def facts_file(tiny_gpt2, tmp_path):
    return write_facts(tmp_path / "facts.jsonl", FACTS)


def test_run_json_records_the_settings_and_a_differing_resume_is_refused(facts_file, tmp_path, capsys, monkeypatch):
    import torch

    output = tmp_path / "run"
    assert run_kn(facts_file, output, "--batch-size", "16") == 0
    settings = json.loads((output / "run.json").read_text())["settings"]
    assert settings == {"threads": torch.get_num_threads(), "device": "cpu", "dtype": None, "batch_size": 16}
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, output, "--batch-size", "8"), 2, "batch_size=8", "batch_size=16")
    monkeypatch.setattr(torch, "get_num_threads", lambda: settings["threads"] + 1)
    one_line_error(capsys, run_kn(facts_file, output, "--batch-size", "16"), 2, "threads=")
    # the same settings resume (undo() would also drop facts_file's tiny model: another model)
    monkeypatch.setattr(torch, "get_num_threads", lambda: settings["threads"])
    assert run_kn(facts_file, output, "--batch-size", "16") == 0


def test_facts_without_run_json_or_of_another_fact_set_are_refused(facts_file, tmp_path, capsys):
    output = tmp_path / "run"
    assert run_kn(facts_file, output, "--limit", "2") == 0
    foreign = tmp_path / "foreign"
    (foreign / "facts").mkdir(parents=True)
    for path in (output / "facts").glob("*.json"):
        (foreign / "facts" / path.name).write_bytes(path.read_bytes())
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, foreign, "--limit", "2"), 2, "no run.json")

    # the seed-42 facts under another seed's run.json: same indices, other facts
    (foreign / "run.json").write_bytes((output / "run.json").read_bytes())
    run = json.loads((output / "run.json").read_text())
    assert run_kn(facts_file, tmp_path / "seed7", "--limit", "2", "--seed", "7") == 0
    (foreign / "run.json").write_bytes((tmp_path / "seed7" / "run.json").read_bytes())
    assert run["config_hash"] != json.loads((foreign / "run.json").read_text())["config_hash"]
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, foreign, "--limit", "2", "--seed", "7"), 2, "fact_id", "000000.json")
    assert not (foreign / "summary.json").exists()


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"{\"index\": 0", b"[1, 2]"])
def test_a_corrupt_fact_file_in_the_folder_is_one_line(facts_file, tmp_path, capsys, content):
    output = tmp_path / "run"
    assert run_kn(facts_file, output, "--limit", "2") == 0
    (output / "facts" / "000001.json").write_bytes(content)
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, output, "--limit", "2"), 2, "000001.json")


def test_a_run_whose_every_fact_is_passed_over_exits_3(facts_file, tmp_path, capsys):
    # GCR requires facts the model knows; the tiny model's random weights know none, so the
    # selection finds nothing: exit 3 with the counts, and the start leaves no folder behind
    code = main(["run", "--task", "gcr", "--method", "ntc", "--dataset", str(facts_file),
                 "--output", str(tmp_path / "run"), "--set", "steps=2", "--quiet"])
    err = one_line_error(capsys, code, 3, "no usable fact", f"none of the {len(FACTS)} facts",
                         f"not_known: {len(FACTS)}")
    assert not (tmp_path / "run").exists(), err


def test_reproduce_reports_the_reason_per_task_and_exits_3_when_nothing_was_usable(tmp_path, capsys, monkeypatch):
    import dknbench.harness
    from dknbench.errors import NothingUsable
    from dknbench.reproduce import paper_plan
    from dknbench.tasks import discover_tasks

    def nothing(spec):
        raise NothingUsable(f"{spec.output}: none", reason=f"all 3 facts skipped (reason-of-{spec.task})")

    monkeypatch.setattr(dknbench.harness, "run", nothing)
    available = discover_tasks()
    tasks = [task for task in paper_plan("dkn")["tasks"] if task in available]
    assert tasks
    code = main(["reproduce", "--paper", "dkn", "--output", str(tmp_path / "rep"), "--quiet"])
    err = one_line_error(capsys, code, NothingUsable.exit_code, "no task had a usable fact")
    assert NothingUsable.exit_code == 3
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "nothing usable" in report
    for task in tasks:
        assert f"{task}: all 3 facts skipped (reason-of-{task})" in err
        assert f"reason-of-{task}" in report


def test_reproduce_unknown_preset_exits_2_before_any_work(tmp_path, capsys, monkeypatch):
    import dknbench.harness

    def never(spec):
        raise AssertionError("ran a task")

    monkeypatch.setattr(dknbench.harness, "run", never)
    code = main(["reproduce", "--paper", "dkn", "--preset", "nosuch", "--output", str(tmp_path / "rep")])
    one_line_error(capsys, code, 2, "--preset 'nosuch'", "cpu")
    assert not (tmp_path / "rep").exists()


# --- 4. Ray ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_ray_address_that_nothing_listens_on_fails_fast(tmp_path):
    pytest.importorskip("ray")
    facts = tmp_path / "facts.jsonl"
    facts.write_text("\n".join(json.dumps(r) for r in FACTS) + "\n")
    import dknbench

    env = {**os.environ, "PYTHONPATH": str(Path(dknbench.__file__).parents[1]), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "dknbench", "run", "--task", "kn-localization", "--method", "random",
                           "--dataset", str(facts), "--output", str(tmp_path / "run"), "--executor", "ray",
                           "--address", "127.0.0.1:1", "--set", "known_only=false", "--quiet"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "127.0.0.1:1" in done.stderr and "cannot reach a Ray cluster" in done.stderr
    assert "Traceback" not in done.stderr


# --- 5. YAML and data files -----------------------------------------------------------------

def alias_bomb(levels: int = 7) -> str:
    lines = ["options:", "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "task: bomb\nclass: kn_localization\ndescription: d\nmethod_kind: localizer\n" + "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_in_one_line(tmp_path, capsys):
    from dknbench.io import load_yaml
    from dknbench.tasks import load_task_config

    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    with pytest.raises(ConfigError, match=r"bomb\.yaml:\d+: invalid YAML: aliases expand to more than"):
        load_task_config(tmp_path / "bomb.yaml")
    code = main(["run", "--task", "bomb", "--include-path", str(tmp_path), "--method", "random"])
    one_line_error(capsys, code, 2, "bomb.yaml", "alias")
    assert load_yaml("a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}  # ordinary aliases still load


def test_every_yaml_load_goes_through_the_bounded_loader():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "dknbench").rglob("*.py")
                 if p.name != "io.py" and ("yaml.safe_load(" in p.read_text() or "yaml.load(" in p.read_text())]
    assert offenders == []


def test_non_utf8_and_truncated_fact_files_are_one_line(tmp_path, capsys):
    import pandas as pd

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(json.dumps(FACTS[0]).encode() + b"\n" + b'{"id": "\xff"}\n')
    code = main(["run", "--task", "kn-localization", "--method", "random", "--dataset", str(bad),
                 "--output", str(tmp_path / "r1"), "--quiet"])
    one_line_error(capsys, code, 2, "bad.jsonl:2", "UTF-8")

    parquet = tmp_path / "facts.parquet"
    pd.DataFrame(FACTS).to_parquet(parquet)
    parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    code = main(["run", "--task", "kn-localization", "--method", "random", "--dataset", str(parquet),
                 "--output", str(tmp_path / "r2"), "--quiet"])
    one_line_error(capsys, code, 2, "facts.parquet", "parquet")


def test_non_utf8_summary_is_one_line(tmp_path, capsys):
    run_dir = write_run(tmp_path / "runs", "r")
    (run_dir / "summary.json").write_bytes(b'{"task": "\xff"}')
    one_line_error(capsys, main(["results", str(tmp_path / "runs")]), 2, "summary.json", "UTF-8")


# --- 7. permissions -------------------------------------------------------------------------

@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_respect_the_umask(tmp_path, mask):
    from dknbench.io import write_json

    old = os.umask(mask)
    try:
        path = write_json(tmp_path / "a" / "b.json", {"x": 1})
        site = tmp_path / "runs"
        write_run(site, "r")
        assert main(["results", str(site), "--output", str(tmp_path / "ds")]) == 0
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    for file in (tmp_path / "ds").rglob("*"):
        expected = (0o777 if file.is_dir() else 0o666) & ~mask
        assert file.stat().st_mode & 0o777 == expected, file


def test_built_dataset_folder_respects_the_umask(tmp_path):
    import datasets

    from dknbench.data import FACT_FEATURES, write_dataset

    row = {name: ([] if name in ("queries", "neighbour_queries", "locality_queries", "locality_objects") else "x")
           for name in FACT_FEATURES}
    old = os.umask(0o022)
    try:
        out = write_dataset(datasets.DatasetDict({"facts": datasets.Dataset.from_list([row], features=FACT_FEATURES)}),
                            tmp_path / "built", {"builder": "test", "seed": 1})
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o755
