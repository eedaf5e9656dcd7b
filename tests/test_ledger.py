"""A run folder is a ledger (issue 27): a resume checks what was computed (content, not ids), two
writers cannot mix in one folder, and no output command destroys what it did not write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dknbench.cli import main

from test_harness import FACTS
from test_results_store import write_run
from test_untrusted import one_line_error

REPO = Path(__file__).resolve().parents[1]


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` (hidden ones too) -> its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_facts(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def tiny_gpt2(monkeypatch, tiny, isolated_cache):
    import dknbench.models

    monkeypatch.setattr(dknbench.models, "load_model", lambda *a, **k: tiny("gpt2"))


def run_cli(facts, output, *extra):
    return main(["run", "--task", "kn-localization", "--method", "random", "--dataset", str(facts),
                 "--output", str(output), "--set", "steps=2", "--set", "known_only=false", "--quiet", *extra])


# --- 1. content identity on resume ---------------------------------------------------------------

def test_run_json_and_fact_files_record_what_was_computed(tiny_gpt2, tmp_path, tiny):
    from dknbench.data import load_facts
    from dknbench.harness.rundir import fact_hash, facts_hash
    from dknbench.selection import select_facts

    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_cli(facts_file, output) == 0
    run = json.loads((output / "run.json").read_text())
    facts = select_facts(load_facts(str(facts_file)), None, 42)  # the run's order
    hashes = [fact_hash(f) for f in facts]
    assert run["model_fingerprint"] == tiny("gpt2").fingerprint
    assert run["fact_hashes"] == hashes and run["facts_hash"] == facts_hash(hashes) and run["n_facts"] == 4
    for index, fact in enumerate(facts):
        record = json.loads((output / "facts" / f"{index:06d}.json").read_text())
        assert record["fact_hash"] == hashes[index] and record["fact_id"] == fact.id
        assert record["model_fingerprint"] == tiny("gpt2").fingerprint
    assert not (output / ".dknbench.lock").exists()  # the writer lock goes with its writer


def test_weights_replaced_in_the_model_folder_are_refused_on_resume(tmp_path, isolated_cache, capsys):
    """Why: replace the weights in --model's folder, delete one fact file, rerun -> exit 0 with two
    facts of the old model and one of the new under the new fingerprint."""
    from dknbench.models.tiny import tiny_model

    def save(seed):
        model, tokenizer = tiny_model("gpt2", seed=seed)
        model.save_pretrained(weights)
        tokenizer.save_pretrained(weights)

    weights = tmp_path / "model"
    save(0)
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS[:3])
    output = tmp_path / "run"
    args = ["run", "--task", "kn-localization", "--method", "random", "--model", str(weights),
            "--dataset", str(facts_file), "--output", str(output), "--set", "steps=2", "--set", "known_only=false",
            "--quiet"]
    assert main(args) == 0
    save(1)  # other weights, same path, same config
    (output / "facts" / "000001.json").unlink()
    before = snapshot(output)
    capsys.readouterr()
    one_line_error(capsys, main(args), 2, "000000.json", "fingerprint", "weights changed")
    assert snapshot(output) == before  # the old results are untouched, nothing new computed


def test_facts_edited_under_the_same_ids_are_refused_on_resume(tiny_gpt2, tmp_path, capsys):
    """Why: edit every answer of the fact file but keep the ids -> exit 0 with the old metrics."""
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_cli(facts_file, output) == 0
    before = snapshot(output)
    edited = [{**row, "object": row["object"] + "x"} for row in FACTS]
    write_facts(facts_file, edited)
    capsys.readouterr()
    first = json.loads((output / "facts" / "000000.json").read_text())["fact_id"]
    one_line_error(capsys, run_cli(facts_file, output), 2, "000000.json", repr(first), "changed")
    assert snapshot(output) == before


def test_an_unfinished_fact_edited_is_named_by_the_fact_set_hash(tiny_gpt2, tmp_path, capsys):
    """A task may draw any fact of the set for another fact's rows (an irrelevant fact), so a
    change in a fact not computed yet is refused too, naming that fact."""
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_cli(facts_file, output) == 0
    unfinished = json.loads((output / "facts" / "000002.json").read_text())["fact_id"]
    (output / "facts" / "000002.json").unlink()  # as if killed before fact 2
    before = snapshot(output)
    rows = [{**row, "subject": "Portugal"} if row["id"] == unfinished else row for row in FACTS]
    write_facts(facts_file, rows)
    capsys.readouterr()
    one_line_error(capsys, run_cli(facts_file, output), 2, "run.json", "fact 2", repr(unfinished))
    assert snapshot(output) == before


def test_a_fact_file_without_a_content_hash_is_refused(tiny_gpt2, tmp_path, capsys):
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_cli(facts_file, output) == 0
    path = output / "facts" / "000001.json"
    record = json.loads(path.read_text())
    del record["fact_hash"]
    path.write_text(json.dumps(record))
    (output / "facts" / "000003.json").unlink()
    capsys.readouterr()
    one_line_error(capsys, run_cli(facts_file, output), 2, "000001.json", "content")


def test_duplicate_fact_ids_are_refused_naming_both_lines(tiny_gpt2, tmp_path, capsys):
    """Why: two facts with one id were accepted (n_used 2 while 3 facts produced rows)."""
    rows = [FACTS[0], FACTS[1], {**FACTS[2], "id": FACTS[0]["id"]}]
    facts_file = write_facts(tmp_path / "facts.jsonl", rows)
    output = tmp_path / "run"
    capsys.readouterr()
    one_line_error(capsys, run_cli(facts_file, output), 2, f"{facts_file}:3", f"{facts_file}:1",
                   repr(FACTS[0]["id"]))
    assert not output.exists()


def test_one_id_in_two_languages_is_one_fact_per_language(tiny_gpt2, tmp_path):
    """The multilingual sets share ids across languages: the key is (id, language), and n_used
    counts facts, not distinct ids."""
    from dknbench.data import load_facts

    rows = [FACTS[0], {**FACTS[1], "id": FACTS[0]["id"], "language": "fr"}, FACTS[2]]
    facts_file = write_facts(tmp_path / "facts.jsonl", rows)
    assert [f.id for f in load_facts(str(facts_file))] == [FACTS[0]["id"]] * 2 + [FACTS[2]["id"]]
    output = tmp_path / "run"
    assert run_cli(facts_file, output) == 0
    summary = json.loads((output / "summary.json").read_text())
    used = sum(1 for p in (output / "facts").glob("*.json") if json.loads(p.read_text())["rows"])
    assert summary["n_used"] == used == 3


# --- 2. one writer per folder --------------------------------------------------------------------

HOLD = ("import sys, time\nfrom dknbench.io import exclusive_writer\n"
        "with exclusive_writer(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)\n")


@pytest.fixture()
def holder():
    """holder(folder) -> a process holding ``folder``'s writer lock (killed with SIGKILL at the end)."""
    started = []

    def start(folder: Path) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], env=environment(),
                                   stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline().strip() == "locked"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()


def kill9(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_a_second_run_into_a_held_folder_exits_2_naming_the_pid_and_kill_9_releases_it(
        tiny_gpt2, tmp_path, capsys, holder):
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    process = holder(output)
    capsys.readouterr()
    one_line_error(capsys, run_cli(facts_file, output), 2, f"pid {process.pid}", "another dknbench")
    assert [p.name for p in output.iterdir()] == [".dknbench.lock"]  # nothing written, nothing undone
    kill9(process)  # the kernel drops the lock of a killed process: the stale file blocks nothing
    assert run_cli(facts_file, output) == 0
    assert (output / "summary.json").is_file()


def test_output_commands_refuse_a_second_writer(tmp_path, capsys, holder, isolated_cache):
    runs = tmp_path / "runs"
    write_run(runs, "a")
    for command in (["results", str(runs), "--output", str(tmp_path / "dataset")],
                    ["leaderboard", "build", "--results", str(runs), "--output", str(tmp_path / "site")],
                    ["build-data", "agreement", "--source", "x", "--output", str(tmp_path / "built")]):
        folder = Path(command[-1])
        process = holder(folder)
        capsys.readouterr()
        one_line_error(capsys, main(command), 2, f"pid {process.pid}")
        kill9(process)
    assert main(["results", str(runs), "--output", str(tmp_path / "dataset")]) == 0
    assert main(["leaderboard", "build", "--results", str(runs), "--output", str(tmp_path / "site")]) == 0


def run_command(output: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "dknbench", "run", "--task", "kn-localization", "--method", "ig",
            "--model", "tiny-gpt2", "--limit", "4", "--set", "steps=4", "--set", "known_only=false", "--no-cache", "--quiet",
            "--seed", str(seed), "--output", str(output)]


def comparable(output: Path) -> dict:
    """A finished folder's content, without what differs between two identical runs."""
    files = snapshot(output)
    summary = json.loads(files.pop("summary.json"))
    for key in ("created", "git_commit"):
        summary.pop(key, None)
    files.pop("samples.parquet")  # the rows are compared through the fact files
    run = json.loads(files.pop("run.json"))
    run.pop("task_file", None)
    return {"files": files, "summary": summary, "run": run}


def test_two_concurrent_runs_into_one_folder_one_runs_the_other_exits_2(tmp_path):
    """Why: two runs started at once into one --output with different seeds both exited 0, with a
    summary of one seed, a run.json of the other, and one fact twice."""
    shared = tmp_path / "shared"
    processes = {seed: subprocess.Popen(run_command(shared, seed), cwd=tmp_path, env=environment(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for seed in (1, 2)}
    results = {seed: (p.wait(timeout=600), p.stderr.read()) for seed, p in processes.items()}
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], results
    winner = next(seed for seed, (code, _) in results.items() if code == 0)
    loser_err = next(err for code, err in results.values() if code == 2)
    assert "another dknbench process" in loser_err or "another configuration" in loser_err, loser_err
    alone = tmp_path / "alone"
    single = subprocess.run(run_command(alone, winner), cwd=tmp_path, env=environment(),
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr
    assert comparable(shared) == comparable(alone)
