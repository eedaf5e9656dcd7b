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

from conftest import FACTS, cli_environment, one_line_error, run_kn, write_facts, write_run
from dknbench.cli import main


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` (hidden ones too) -> its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- 1. content identity on resume ---------------------------------------------------------------

def test_run_json_and_fact_files_record_what_was_computed(tiny_gpt2, tmp_path, tiny):
    from dknbench.data import load_facts
    from dknbench.harness.rundir import fact_hash, facts_hash
    from dknbench.selection import select_facts

    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_kn(facts_file, output) == 0
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
    assert run_kn(facts_file, output) == 0
    before = snapshot(output)
    edited = [{**row, "object": row["object"] + "x"} for row in FACTS]
    write_facts(facts_file, edited)
    capsys.readouterr()
    first = json.loads((output / "facts" / "000000.json").read_text())["fact_id"]
    one_line_error(capsys, run_kn(facts_file, output), 2, "000000.json", repr(first), "changed")
    assert snapshot(output) == before


def test_an_unfinished_fact_edited_is_named_by_the_fact_set_hash(tiny_gpt2, tmp_path, capsys):
    """A task may draw any fact of the set for another fact's rows (an irrelevant fact), so a
    change in a fact not computed yet is refused too, naming that fact."""
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_kn(facts_file, output) == 0
    unfinished = json.loads((output / "facts" / "000002.json").read_text())["fact_id"]
    (output / "facts" / "000002.json").unlink()  # as if killed before fact 2
    before = snapshot(output)
    rows = [{**row, "subject": "Portugal"} if row["id"] == unfinished else row for row in FACTS]
    write_facts(facts_file, rows)
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, output), 2, "run.json", "fact 2", repr(unfinished))
    assert snapshot(output) == before


def test_a_fact_file_without_a_content_hash_is_refused(tiny_gpt2, tmp_path, capsys):
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_kn(facts_file, output) == 0
    path = output / "facts" / "000001.json"
    record = json.loads(path.read_text())
    del record["fact_hash"]
    path.write_text(json.dumps(record))
    (output / "facts" / "000003.json").unlink()
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, output), 2, "000001.json", "content")


def test_duplicate_fact_ids_are_refused_naming_both_lines(tiny_gpt2, tmp_path, capsys):
    """Why: two facts with one id were accepted (n_used 2 while 3 facts produced rows)."""
    rows = [FACTS[0], FACTS[1], {**FACTS[2], "id": FACTS[0]["id"]}]
    facts_file = write_facts(tmp_path / "facts.jsonl", rows)
    output = tmp_path / "run"
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, output), 2, f"{facts_file}:3", f"{facts_file}:1",
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
    assert run_kn(facts_file, output) == 0
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
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], env=cli_environment(),
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
    one_line_error(capsys, run_kn(facts_file, output), 2, f"pid {process.pid}", "another dknbench")
    assert [p.name for p in output.iterdir()] == [".dknbench.lock"]  # nothing written, nothing undone
    kill9(process)  # the kernel drops the lock of a killed process: the stale file blocks nothing
    assert run_kn(facts_file, output) == 0
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
    for name in [n for n in files if n.startswith("facts/")]:  # a fact's timing differs run to run
        record = json.loads(files[name])
        record.pop("seconds", None)
        files[name] = record
    return {"files": files, "summary": summary, "run": run}


@pytest.mark.slow
def test_two_concurrent_runs_into_one_folder_one_runs_the_other_exits_2(tmp_path):
    """Why: two runs started at once into one --output with different seeds both exited 0, with a
    summary of one seed, a run.json of the other, and one fact twice."""
    shared = tmp_path / "shared"
    processes = {seed: subprocess.Popen(run_command(shared, seed), cwd=tmp_path, env=cli_environment(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for seed in (1, 2)}
    results = {seed: (p.wait(timeout=600), p.stderr.read()) for seed, p in processes.items()}
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], results
    winner = next(seed for seed, (code, _) in results.items() if code == 0)
    loser_err = next(err for code, err in results.values() if code == 2)
    assert "another dknbench process" in loser_err or "another configuration" in loser_err, loser_err
    alone = tmp_path / "alone"
    single = subprocess.run(run_command(alone, winner), cwd=tmp_path, env=cli_environment(),
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr
    assert comparable(shared) == comparable(alone)


# --- 3. ownership: dknbench replaces only what it wrote ------------------------------------------

def users_folder(path: Path, **files: str) -> dict:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name.replace("_", ".")).write_text(text)
    return snapshot(path)


def test_build_data_overwrite_refuses_a_folder_that_merely_holds_a_readme(tmp_path, capsys, isolated_cache):
    """Why: build-data --overwrite deleted every file of a folder holding a README.md (a .tex lost)."""
    out = tmp_path / "thesis"
    before = users_folder(out, README_md="# my notes\n", thesis_tex="\\documentclass{article}\n")
    for extra in (["--overwrite"], []):
        code = main(["build-data", "perturbed", "--source", "builtin", "--output", str(out), *extra])
        one_line_error(capsys, code, 2, str(out), "did not write")
        assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "thesis"]  # no staging left


def test_build_data_replaces_its_own_folder_only_with_overwrite(tmp_path, capsys, isolated_cache):
    out = tmp_path / "built"
    args = ["build-data", "perturbed", "--source", "builtin", "--output", str(out), "--option", "limit=3"]
    assert main(args) == 0
    assert (out / ".dknbench").is_file() and (out / "README.md").is_file()
    capsys.readouterr()
    one_line_error(capsys, main(args), 2, "already exists", "--overwrite")
    assert main([*args, "--overwrite"]) == 0


def test_results_output_refuses_the_users_folder(tmp_path, capsys):
    """Why: `results ... --output DIR` replaced the user's README.md."""
    runs = tmp_path / "runs"
    write_run(runs, "a")
    out = tmp_path / "mine"
    before = users_folder(out, README_md="my own readme\n")
    one_line_error(capsys, main(["results", str(runs), "--output", str(out)]), 2, str(out), "did not write")
    assert snapshot(out) == before
    ours = tmp_path / "dataset"
    assert main(["results", str(runs), "--output", str(ours)]) == 0
    assert (ours / ".dknbench").is_file()
    write_run(runs, "b", seed=1)
    assert main(["results", str(runs), "--output", str(ours)]) == 0  # its own folder: replaced whole
    from dknbench.results import read_results

    assert len(read_results(ours)[1]) == 2


def test_leaderboard_build_refuses_an_existing_index_html(tmp_path, capsys):
    """Why: `leaderboard build --output DIR` overwrote an existing index.html."""
    runs = tmp_path / "runs"
    write_run(runs, "a")
    site = tmp_path / "site"
    before = users_folder(site, index_html="<h1>my page</h1>\n")
    code = main(["leaderboard", "build", "--results", str(runs), "--output", str(site)])
    one_line_error(capsys, code, 2, str(site), "did not write")
    assert snapshot(site) == before


def test_a_failed_leaderboard_build_leaves_the_old_site_and_no_partial_one(tmp_path, capsys, monkeypatch):
    from dknbench.leaderboard import site as site_module

    runs = tmp_path / "runs"
    write_run(runs, "a")
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", str(runs), "--output", str(site)]) == 0
    before = snapshot(site)
    write_run(runs, "b", task="kn-localization", method="ig")
    real = site_module._write

    def fail_on_index(path, text):
        if path.name == "index.html":
            raise OSError("disk full")
        real(path, text)

    monkeypatch.setattr(site_module, "_write", fail_on_index)
    capsys.readouterr()
    assert main(["leaderboard", "build", "--results", str(runs), "--output", str(site)]) == 2
    assert snapshot(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "site"]


STAGE = ("import sys, time\nfrom dknbench.io import replace_folder\n"
         "with replace_folder(sys.argv[1], 'build-data') as tmp:\n"
         "    (tmp / 'half.parquet').write_text('half')\n    print(tmp, flush=True)\n    time.sleep(600)\n")


def test_a_killed_builds_staging_folder_is_removed_by_the_next_build(tmp_path, isolated_cache):
    """Why: a killed build-data left its hidden temp folder beside --output."""
    out = tmp_path / "built"
    process = subprocess.Popen([sys.executable, "-c", STAGE, str(out)], env=cli_environment(),
                               stdout=subprocess.PIPE, text=True)
    staging = Path(process.stdout.readline().strip())
    kill9(process)
    assert staging.is_dir() and staging.parent == tmp_path and staging.name.startswith(".built.")
    foreign = tmp_path / ".built.dknbench-tmp-notours"  # the same pattern, not made by dknbench
    foreign.mkdir()
    (foreign / "keep.txt").write_text("keep")
    assert main(["build-data", "perturbed", "--source", "builtin", "--output", str(out),
                 "--option", "limit=2"]) == 0
    assert not staging.exists() and (foreign / "keep.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".built.dknbench-tmp-notours", "built", "cache"]


# --- 4. names are not paths ----------------------------------------------------------------------

def test_a_task_name_that_is_a_path_is_refused_at_load(tmp_path, capsys, monkeypatch):
    """Why: `task: ../../escaped` in --include-path, run without --output, wrote outside runs/."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "escaped.yaml").write_text("task: ../../escaped\nclass: kn-localization\ndescription: x\n"
                                         "method_kind: localizer\ndefault_method: random\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code = main(["run", "--task", "../../escaped", "--include-path", str(folder), "--quiet"])
    one_line_error(capsys, code, 2, "escaped.yaml:1", "'../../escaped'", "not allowed")
    code = main(["validate", str(folder / "escaped.yaml")])
    one_line_error(capsys, code, 2, "escaped.yaml:1", "not allowed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plugins", "work"] and not any(work.iterdir())


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "", "a\nb"])
def test_a_method_name_that_is_a_path_is_refused_at_registration(name):
    from dknbench.errors import DKNBenchError
    from dknbench.registry import Registry

    with pytest.raises(DKNBenchError, match="not allowed"):
        Registry("localizer").add(name, object)


@pytest.mark.parametrize("model", ["..", "../..", "/etc/..", "./.."])
def test_the_default_run_folder_stays_under_runs_whatever_the_model_name(model):
    from dknbench.harness.spec import RunSpec, resolve

    output = resolve(RunSpec(task="kn-localization", methods=["random"], model=model)).output
    assert output.resolve().is_relative_to(Path("runs").resolve()) and ".." not in output.parts


# --- 5. declared schemas: hand-edited files are one line, nothing half-written -------------------

@pytest.mark.parametrize("edit,needles", [
    (lambda r: r.pop("rows"), ["field rows: missing"]),
    (lambda r: r.update(rows=[1, 2]), ["field rows[0]", "expected an object"]),
    (lambda r: r["rows"][0].pop("method"), ["rows_hash", "edited"]),
    (lambda r: r["rows"][0].update(n_queries="three"), ["rows_hash", "edited"]),
])
def test_a_hand_edited_fact_file_is_one_line_on_resume(tiny_gpt2, tmp_path, capsys, edit, needles):
    """Why: fact files with a missing key, rows that are not objects or rows missing fields gave
    KeyError/AttributeError on resume."""
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_kn(facts_file, output) == 0
    path = output / "facts" / "000001.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    (output / "facts" / "000003.json").unlink()  # a resume, not only a finished folder
    before = snapshot(output)
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, output), 2, "000001.json", *needles)
    assert snapshot(output) == before


@pytest.mark.parametrize("field,value,needles", [
    ("ci_low", [1], ["metrics[0].ci_low", "number"]),
    ("value", 10**400, ["metrics[0].value", "number"]),
    ("config", "oops", ["field config", "object"]),
    ("config", {"options": "steps=2"}, ["field config.options", "object"]),
    ("seed", [1, 2], ["field seed", "integer"]),
    ("higher_is_better", "yes", ["metrics[0].higher_is_better", "boolean"]),
    ("skipped", ["x"], ["field skipped", "object"]),
    ("value", "1.5", ["metrics[0].value", "number"]),
])
def test_a_hand_edited_summary_is_one_line_in_results_and_leaderboard(tmp_path, capsys, field, value, needles):
    """Why: such summaries gave TypeError/OverflowError/UndefinedError, the last leaving a partial site."""
    runs = tmp_path / "runs"
    run_dir = write_run(runs, "a")
    summary = json.loads((run_dir / "summary.json").read_text())
    if field in ("ci_low", "value", "higher_is_better"):
        summary["metrics"][0][field] = value
    else:
        summary[field] = value
    (run_dir / "summary.json").write_text(json.dumps(summary))
    for command in (["results", str(runs), "--output", str(tmp_path / "dataset")],
                    ["leaderboard", "build", "--results", str(runs), "--output", str(tmp_path / "site")]):
        one_line_error(capsys, main(command), 2, "summary.json", *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing half-written


def test_a_results_parquet_with_a_wrong_type_is_one_line(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    runs = tmp_path / "runs"
    write_run(runs, "a")
    dataset = tmp_path / "dataset"
    assert main(["results", str(runs), "--output", str(dataset)]) == 0
    path = dataset / "data" / "results.parquet"
    table = pq.read_table(path)
    values = pa.array(["high"] * table.num_rows)
    pq.write_table(table.set_column(table.column_names.index("value"), "value", values), path)
    capsys.readouterr()
    code = main(["leaderboard", "build", "--results", str(dataset), "--output", str(tmp_path / "site")])
    one_line_error(capsys, code, 2, "results.parquet", "row 0, field value", "number")
    assert not (tmp_path / "site").exists()


def test_a_run_json_with_a_wrong_type_is_one_line(tiny_gpt2, tmp_path, capsys):
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_kn(facts_file, output) == 0
    run = json.loads((output / "run.json").read_text())
    run["fact_hashes"] = "all of them"
    (output / "run.json").write_text(json.dumps(run))
    (output / "facts" / "000003.json").unlink()
    before = snapshot(output)
    capsys.readouterr()
    one_line_error(capsys, run_kn(facts_file, output), 2, "run.json", "fact_hashes")
    assert snapshot(output) == before


# --- 6. the smaller ones -------------------------------------------------------------------------

@pytest.mark.parametrize("xdg", ["", "relative/cache"])
def test_an_empty_or_relative_xdg_cache_home_counts_as_unset(tmp_path, monkeypatch, xdg):
    from dknbench.paths import cache_dir

    monkeypatch.delenv("DKNBENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert cache_dir() == tmp_path / "home" / ".cache" / "dknbench"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_build_data_with_a_fifo_source_is_refused_not_hung(tmp_path, capsys, isolated_cache):
    fifo = tmp_path / "source.jsonl"
    os.mkfifo(fifo)
    code = main(["build-data", "perturbed", "--source", str(fifo), "--output", str(tmp_path / "out")])
    one_line_error(capsys, code, 2, str(fifo), "FIFO")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["seed=1", "source=builtin"])
def test_build_data_option_seed_or_source_is_one_line(tmp_path, capsys, option, isolated_cache):
    code = main(["build-data", "perturbed", "--source", "builtin", "--output", str(tmp_path / "out"),
                 "--option", option])
    one_line_error(capsys, code, 2, f"--option {option.split('=')[0]}", f"--{option.split('=')[0]}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra,needles", [(["--seed", "-1"], ["--seed"]),
                                           (["--model", "missing-folder/"], ["missing-folder"])])
def test_reproduce_refuses_up_front_what_run_refuses(tmp_path, capsys, monkeypatch, extra, needles):
    """Why: reproduce with a bad --seed or a missing model folder exited 1 and left a report."""
    monkeypatch.chdir(tmp_path)
    code = main(["reproduce", "--paper", "amig", "--limit", "1", "--output", str(tmp_path / "report"), *extra])
    one_line_error(capsys, code, 2, *needles)
    assert list(tmp_path.iterdir()) == []


def test_validate_on_a_class_file_that_calls_sys_exit_is_one_line(tmp_path, capsys):
    (tmp_path / "quits.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "quits.yaml").write_text("task: quits\nclass: quits.py:Quits\ndescription: x\n"
                                         "method_kind: localizer\ndefault_method: random\n")
    one_line_error(capsys, main(["validate", str(tmp_path / "quits.yaml")]), 2, "quits.py", "sys.exit")


def test_a_latin1_dataset_card_is_one_line_naming_the_file(tiny_gpt2, tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "README.md").write_bytes("---\npretty_name: caf\u00e9\n---\n".encode("latin-1"))
    code = run_kn(folder, tmp_path / "run")
    one_line_error(capsys, code, 2, "README.md", "UTF-8")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [
    lambda t: ["run", "--task", "kn-localization", "--method", "random", "--model", "tiny-gpt2", "--output", f"{t}/a\nb"],
    lambda t: ["results", str(t / "runs"), "--output", f"{t}/a\nb"],
    lambda t: ["leaderboard", "build", "--results", str(t / "runs"), "--output", f"{t}/a\nb"],
    lambda t: ["build-data", "perturbed", "--source", "builtin", "--output", f"{t}/a\nb"],
])
def test_an_output_with_a_newline_is_one_line(tmp_path, capsys, command, isolated_cache):
    write_run(tmp_path / "runs", "a")
    one_line_error(capsys, main(command(tmp_path)), 2, "--output", "control character")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "runs"]


def test_a_killed_runs_temporary_files_are_removed_on_resume(tiny_gpt2, tmp_path):
    facts_file = write_facts(tmp_path / "facts.jsonl", FACTS)
    output = tmp_path / "run"
    assert run_kn(facts_file, output) == 0
    (output / "facts" / "000003.json").unlink()
    stale = [output / "facts" / ".000003.json.ab12cd_9.tmp", output / ".summary.json.zz99yy88.tmp"]
    for path in stale:
        path.write_text("{\"half")  # what SIGKILL leaves in the middle of an atomic write
    keep = output / "facts" / ".notes.tmp"  # not io.atomic_write's pattern: not dknbench's
    keep.write_text("mine")
    assert run_kn(facts_file, output) == 0
    assert not any(p.exists() for p in stale) and keep.read_text() == "mine"
