"""Bad input, as a new user would type it: every case is one line on stderr, exit 2, no
traceback, and the --output folder (or the site folder) is left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from dknbench.cli import main

GOOD_FACT = {"id": "f1", "relation": "capital", "subject": "France", "object": "Paris",
             "queries": ["The capital of France is [Y]."]}
TASK_YAML = "task: t\nclass: gcr\ndescription: d\nmethod_kind: dkn\ndefault_method: ntc\n"


def facts_file(tmp: Path, rows=None, raw: bytes | None = None, name="facts.jsonl") -> str:
    path = tmp / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def fact(**changes) -> list[dict]:
    row = {**GOOD_FACT, **changes}
    return [{k: v for k, v in row.items() if v is not None}]


QUICK_RUN = ["--model", "tiny-gpt2", "--limit", "1", "--quiet"]  # the smallest real run


def task_dir(tmp: Path, text: str) -> str:
    folder = tmp / "tasks"
    folder.mkdir()
    (folder / "t.yaml").write_text(text)
    return str(folder)


def run_task(tmp: Path, text: str) -> list[str]:
    """argv of `dknbench run` on a task "t" whose YAML is ``text`` (found through --include-path)."""
    return ["run", "--task", "t", "--include-path", task_dir(tmp, text)]


def run(*args: str) -> list[str]:
    return ["run", "--task", "gcr", *QUICK_RUN, *args]


def kn_run(dataset: str, *args: str) -> list[str]:
    return ["run", "--task", "kn-localization", "--method", "ig", "--model", "tiny-gpt2",
            "--dataset", dataset, "--quiet", *args]


def corrupt_run_folder(tmp: Path) -> str:
    """A runs folder whose one run has a summary.json cut in the middle."""
    run_dir = tmp / "runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text('{"task": "gcr", "metrics": [')
    return str(tmp / "runs")


def truncated_dataset(tmp: Path) -> str:
    """A results dataset folder whose results.parquet is truncated (the magic footer is gone)."""
    folder = tmp / "dataset"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "results.parquet").write_bytes(b"PAR1\x15\x04\x15\x10")
    return str(folder)


# id -> (argv builder taking tmp_path, key words the message must contain)
CASES = {
    "unknown-task": (lambda t: ["run", "--task", "nope"], ["unknown task 'nope'", "gcr"]),
    "unknown-method": (lambda t: run("--method", "nope"), ["unknown dkn method", "'nope'", "ntc"]),
    "localizer-as-dkn-method": (lambda t: run("--method", "ig"), ["unknown dkn method", "'ig'"]),
    "duplicate-method": (lambda t: run("--method", "ntc,ntc"), ["ntc", "more than once"]),
    "unknown-preset": (lambda t: run("--preset", "huge"), ["unknown preset 'huge'", "cpu"]),
    "unknown-option": (lambda t: run("--set", "stepz=3"), ["stepz", "unknown option", "steps"]),
    "set-without-equals": (lambda t: run("--set", "steps"), ["expected key=value"]),
    "steps-not-int": (lambda t: run("--set", "steps=many"), ["steps", "'many'", "int"]),
    "steps-zero": (lambda t: run("--set", "steps=0"), ["steps", "out of range", ">= 1"]),
    "tau-negative": (lambda t: run("--set", "tau=-0.1"), ["tau", "out of range", "[0.0, 1.0]"]),
    "tau2-negative": (lambda t: run("--set", "tau2=-1"), ["tau2", "out of range"]),
    "refine-p-above-one": (lambda t: run("--set", "refine_p=1.5"), ["refine_p", "out of range"]),
    "max-kns-zero": (lambda t: run("--set", "max_kns=0"), ["max_kns", "out of range"]),
    "max-queries-negative": (lambda t: run("--set", "max_queries=-2"), ["max_queries", "or 0"]),
    "outlier-limit-negative": (lambda t: run("--set", "outlier_limit=-1"), ["outlier_limit", ">= 0"]),
    "bool-not-bool": (lambda t: run("--set", "known_only=maybe"), ["known_only", "'maybe'", "bool"]),
    "engine-choice": (lambda t: run("--set", "engine=warp"), ["engine", "'warp'", "auto"]),
    "unknown-localizer-option": (lambda t: run("--set", "localizer=nope"), ["localizer", "'nope'", "amig"]),
    "batch-size-zero": (lambda t: run("--batch-size", "0"), ["--batch-size", ">= 1"]),
    "limit-zero": (lambda t: ["run", "--task", "gcr", "--limit", "0"], ["--limit", ">= 1"]),
    "bad-dtype": (lambda t: run("--dtype", "float8"), ["float8"]),
    "unknown-dataset": (lambda t: run("--dataset", str(t / "nowhere")), ["unknown fact set"]),
    "random-folder-as-model": (lambda t: (t / "junk").mkdir() or (t / "junk" / "notes.txt").write_text("x")
                               and run("--model", str(t / "junk")), ["cannot load model", "junk"]),
    # task YAML through --include-path
    "yaml-syntax": (lambda t: run_task(t, "task: [\n"),
                    ["t.yaml", "invalid YAML"]),
    "yaml-missing-field": (lambda t: run_task(t, "task: t\nclass: gcr\nmethod_kind: dkn\n"),
                           ["t.yaml", "missing required field 'description'"]),
    "yaml-wrong-type": (lambda t: run_task(t, TASK_YAML + "options: [1, 2]\n"),
                        ["t.yaml:6", "'options' must be a dict"]),
    "yaml-unknown-class": (lambda t: run_task(t, TASK_YAML.replace("class: gcr", "class: nope")),
                           ["t.yaml", "'nope'", "gcr"]),
    "yaml-python-tag": (lambda t: run_task(t, TASK_YAML + "notes: !!python/object/apply:os.system [echo]\n"),
                        ["t.yaml", "invalid YAML", "python/object"]),
    "yaml-default-out-of-range": (lambda t: run_task(t, TASK_YAML + "options: {steps: 0}\n"),
                                  ["t.yaml", "steps", "out of range"]),
    # fact files
    "facts-empty": (lambda t: kn_run(facts_file(t, raw=b"")), ["facts.jsonl", "no facts"]),
    "facts-missing-column": (lambda t: kn_run(facts_file(t, fact(object=None))), ["facts.jsonl:1", "missing object"]),
    "facts-query-without-slot": (lambda t: kn_run(facts_file(t, fact(queries=["France has Paris."]))),
                                 ["facts.jsonl:1", "[Y]"]),
    "facts-not-utf8": (lambda t: kn_run(facts_file(t, raw=json.dumps(GOOD_FACT).encode().replace(
        b"France", b"Fr\xe9nce") + b"\n")), ["facts.jsonl", "UTF-8"]),
    "facts-huge-query": (lambda t: kn_run(facts_file(t, fact(queries=["x" * 10_000 + " is [Y]."]))),
                         ["facts.jsonl:1", "characters", "at most"]),
    "facts-blank-answer": (lambda t: kn_run(facts_file(t, fact(object="   "))), ["facts.jsonl:1", "'object' is empty"]),
    "facts-answer-no-tokens": (lambda t: kn_run(facts_file(t, fact(object="\u200b")), "--model", "tiny-bert"),
                               ["'f1'", "tokenizes to no token"]),
    "facts-not-json": (lambda t: kn_run(facts_file(t, raw=b"{not json\n")), ["facts.jsonl:1", "not valid JSON"]),
    "facts-wrong-type": (lambda t: kn_run(facts_file(t, fact(queries="The capital of France is [Y]."))),
                         ["'queries'", "list of strings"]),
    "facts-truncated-parquet": (lambda t: kn_run(facts_file(t, raw=b"PAR1\x00\x01", name="facts.parquet")),
                                ["facts.parquet", "parquet"]),
    "facts-unsupported-file": (lambda t: kn_run(facts_file(t, raw=b"a,b\n", name="facts.csv")),
                               ["facts.csv", "unsupported"]),
    # the output folder
    "output-is-file": (lambda t: (t / "out").write_text("mine") and run(), ["--output", "is a file"]),
    "output-under-file": (lambda t: (t / "file").write_text("mine") and run("--output", str(t / "file" / "out")),
                          ["file", "not a folder"]),
    "output-other-config": (lambda t: (t / "out").mkdir() or (t / "out" / "run.json").write_text(
        '{"config_hash": "0123"}') and run(), ["another configuration", "0123"]),
    "output-corrupt-run-json": (lambda t: (t / "out").mkdir() or (t / "out" / "run.json").write_text("{") and run(),
                                ["run.json", "not a readable"]),
    "output-foreign-folder": (lambda t: (t / "out").mkdir() or (t / "out" / "thesis.tex").write_text("x") and run(),
                              ["other files", "no run.json"]),
    # results folders and leaderboard input
    "results-corrupt-summary": (lambda t: ["results", corrupt_run_folder(t)], ["summary.json", "not valid JSON"]),
    "leaderboard-corrupt-summary": (lambda t: ["leaderboard", "build", "--results", corrupt_run_folder(t)],
                                    ["summary.json", "not valid JSON"]),
    "results-truncated-parquet": (lambda t: ["results", truncated_dataset(t)], ["results.parquet", "Parquet"]),
    "leaderboard-truncated-parquet": (lambda t: ["leaderboard", "build", "--results", truncated_dataset(t)],
                                      ["results.parquet", "Parquet"]),
}


def snapshot(path: Path):
    """Everything under ``path`` (names and contents); None when it does not exist."""
    if not path.exists():
        return None
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return {str(p.relative_to(path)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(path.rglob("*"))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tmp_path, monkeypatch, capsys, isolated_cache):
    monkeypatch.chdir(tmp_path)
    build, words = CASES[case]
    argv = build(tmp_path)
    out = tmp_path / "out"
    if "--output" not in argv and argv[0] in ("run", "results", "leaderboard"):
        argv = [*argv, "--output", str(out)]
    watched = [tmp_path / "out", tmp_path / "runs", tmp_path / "dataset", tmp_path / "file"]
    before = {p: snapshot(p) for p in watched}
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)
    assert {p: snapshot(p) for p in watched} == before
    assert not (tmp_path / "runs" / "gcr").exists()  # no default run folder either


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_unwritable_output_parent(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(run("--output", str(locked / "out"))) == 2
        assert "no permission to write" in capsys.readouterr().err
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_debug_shows_the_traceback(tmp_path):
    from dknbench.errors import ConfigError

    with pytest.raises(ConfigError, match="steps"):
        main(["--debug", *run("--set", "steps=0", "--output", str(tmp_path / "out"))])
    assert not (tmp_path / "out").exists()


def test_matrix_is_large_enough():
    assert len(CASES) >= 30
