"""More bad input (the adversarial sweep's findings): argparse's own errors, non-finite or
mistyped option values, JSON nested too deeply, duplicate YAML keys, files that are not regular
files, symlink loops, out-of-range ports, seeds and sizes. Each is one ``dknbench: error:`` line,
exit 2, no traceback, and the watched folders are left as they were."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dknbench.cli import main

from test_bad_inputs import QUICK_RUN, TASK_YAML, fact, facts_file, kn_run, run, run_task

GCR = str(Path(__file__).resolve().parents[1] / "tasks" / "gcr.yaml")


def snapshot(root: Path) -> dict:
    """Names and contents under ``root``, links not followed, the isolated cache left out."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            if relative.split(os.sep)[0] == "cache":
                continue
            seen[relative] = (f"link:{os.readlink(path)}" if path.is_symlink() else
                              hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "other")
    return seen


def card(tmp: Path, header: str) -> str:
    (tmp / "ds").mkdir()
    (tmp / "ds" / "README.md").write_text(f"---\n{header}---\n")
    return "ok"


def site(tmp: Path) -> str:
    (tmp / "site").mkdir()
    (tmp / "site" / "index.html").write_text("x")
    return str(tmp / "site")


def loop(tmp: Path, name="loop") -> Path:
    os.symlink(tmp / name, tmp / name)
    return tmp / name


def publish_folder_with_loop(tmp: Path) -> str:
    folder = tmp / "d"
    folder.mkdir()
    (folder / "README.md").write_text("card")
    loop(folder, "l")
    return str(folder)


def derived_task(tmp: Path, extra: str) -> list[str]:
    return run_task(tmp, f"include: {GCR}\n" + TASK_YAML + extra) + QUICK_RUN


# id -> (argv builder taking tmp_path, key words the message must contain)
CASES = {
    # argparse's errors: one line naming the command, not the usage block
    "limit-not-int": (lambda t: ["run", "--task", "gcr", "--limit", "abc"], ["run:", "--limit", "'abc'", "--help"]),
    "missing-required": (lambda t: ["run"], ["run:", "required", "--task"]),
    "unknown-command": (lambda t: ["nosuch"], ["invalid choice", "'nosuch'", "run"]),
    "unknown-flag": (lambda t: run("--frobnicate"), ["unrecognized arguments", "--frobnicate"]),
    "executor-choice": (lambda t: run("--executor", "nosuch"), ["--executor", "'nosuch'", "local"]),
    "port-not-int": (lambda t: ["leaderboard", "serve", "site", "--port", "x"], ["leaderboard serve:", "--port"]),
    "leaderboard-no-action": (lambda t: ["leaderboard"], ["choose an action", "build, serve or publish"]),
    "no-command": (lambda t: [], ["no command given"]),
    # run options
    "method-empty-entry": (lambda t: run("--method", "ntc,"), ["--method", "empty method name"]),
    "method-only-comma": (lambda t: run("--method", ","), ["--method", "empty method name"]),
    "seed-negative": (lambda t: run("--seed", "-1"), ["--seed", "[0, 4294967295]", "-1"]),
    "seed-huge": (lambda t: run("--seed", "9" * 40), ["--seed", "[0, 4294967295]"]),
    "max-memory-huge": (lambda t: run("--max-memory", "9" * 400 + "TB"), ["--max-memory", "too large"]),
    "option-inf": (lambda t: run("--set", "tau=inf"), ["tau", "inf", "finite"]),
    "option-nan": (lambda t: run("--set", "tau=nan"), ["tau", "nan", "finite"]),
    "yaml-option-not-number": (lambda t: derived_task(t, "options: {steps: two}\n"), ["steps", "'two'", "integer"]),
    "yaml-option-float-count": (lambda t: derived_task(t, "options: {steps: 2.5}\n"), ["steps", "2.5", "integer"]),
    "yaml-preset-not-number": (lambda t: derived_task(t, "presets: {cpu: {steps: many}}\n") + ["--preset", "cpu"],
                               ["preset 'cpu'", "steps", "'many'"]),
    "yaml-option-inf": (lambda t: run_task(t, TASK_YAML + "options: {tau: .inf}\n"), ["tau", "finite"]),
    "yaml-class-option-not-set": (lambda t: run_task(t, TASK_YAML) + QUICK_RUN,
                                  ["t.yaml", "is not set", "options:"]),
    "yaml-metric-not-a-name": (lambda t: run_task(t, TASK_YAML + "metrics: [{a: 1}]\n"),
                               ["t.yaml:6", "metric name", "non-empty string"]),
    "yaml-duplicate-key": (lambda t: run_task(t, TASK_YAML + "class: nope\n"),
                           ["t.yaml:6", "'class'", "more than once"]),
    "yaml-duplicate-option": (lambda t: run_task(t, TASK_YAML + "options:\n  steps: 2\n  steps: 3\n"),
                              ["t.yaml:8", "'steps'", "more than once"]),
    "validate-dev-zero": (lambda t: ["validate", "/dev/zero"], ["/dev/zero", "not a regular file"]),
    "validate-fifo": (lambda t: os.mkfifo(t / "p.yaml") or ["validate", str(t / "p.yaml")],
                      ["p.yaml", "not a regular file"]),
    "validate-huge": (lambda t: (t / "h.yaml").write_text("#" * (2**20 + 1)) and ["validate", str(t / "h.yaml")],
                      ["h.yaml", "at most"]),
    "device-meta": (lambda t: run("--device", "meta"), ["--device 'meta'", "not supported", "cpu"]),
    "device-xla": (lambda t: run("--device", "xla"), ["--device 'xla'", "cuda:N"]),
    "device-mps-absent": (lambda t: run("--device", "mps"), ["--device 'mps'", "no usable MPS"]),
    "output-empty": (lambda t: run("--output", ""), ["--output is empty"]),
    "cache-dir-file": (lambda t: (t / "cf").write_text("mine") and run("--cache-dir", str(t / "cf")),
                       ["--cache-dir", "cf", "not a file"]),
    "model-empty": (lambda t: run()[:4] + [""] + run()[5:], ["--model is empty"]),
    # reproduce: refused once before the report folder exists (each task used to fail on its own)
    "reproduce-limit-zero": (lambda t: ["reproduce", "--paper", "dkn", "--model", "tiny-gpt2", "--limit", "0"],
                             ["--limit", ">= 1"]),
    "reproduce-model-empty": (lambda t: ["reproduce", "--paper", "dkn", "--model", ""], ["--model is empty"]),
    "reproduce-output-file": (lambda t: (t / "rf").write_text("mine") and
                              ["reproduce", "--paper", "dkn", "--model", "tiny-gpt2", "--output", str(t / "rf")],
                              ["--output", "is a file"]),
    # build-data: --output checked before the build
    "build-data-output-empty": (lambda t: ["build-data", "perturbed", "--source", "builtin", "--output", ""],
                                ["--output is empty"]),
    "build-data-output-file": (lambda t: (t / "o").write_text("mine") and
                               ["build-data", "perturbed", "--source", "builtin", "--output", str(t / "o"), "--overwrite"],
                               ["--output", "is a file"]),
    "build-data-overwrite-foreign": (lambda t: (t / "o").mkdir() or (t / "o" / "thesis.tex").write_text("x") and
                                     ["build-data", "perturbed", "--source", "builtin", "--output", str(t / "o"),
                                      "--overwrite"], ["no .dknbench marker", "--overwrite"]),
    # fact files
    "facts-deeply-nested": (lambda t: kn_run(facts_file(t, raw=b"[" * 200_000 + b"\n")),
                            ["facts.jsonl:1", "nested too deeply"]),
    "facts-empty-id": (lambda t: kn_run(facts_file(t, fact(id=" "))), ["facts.jsonl:1", "'id' is empty"]),
    "facts-huge-line": (lambda t: kn_run(facts_file(t, raw=b" " * (16 * 2**20 + 1) + b"\n")),
                        ["facts.jsonl:1", "longer than"]),
    "facts-card-bad-yaml": (lambda t: card(t, "configs: [\n") and kn_run(str(t / "ds")),
                            ["README.md:", "malformed"]),
    "facts-card-configs-not-list": (lambda t: card(t, "configs: hello\n") and kn_run(str(t / "ds")),
                                    ["README.md configs", "list of mappings"]),
    "facts-card-path-not-string": (lambda t: card(t, "configs:\n- config_name: default\n  data_files:\n"
                                                  "  - split: test\n    path: 5\n") and kn_run(str(t / "ds")),
                                   ["README.md configs", "5", "non-empty string"]),
    # output folders and sites
    "output-symlink-loop": (lambda t: run("--output", str(loop(t))), ["--output", "leads nowhere"]),
    "output-below-symlink-loop": (lambda t: run("--output", str(loop(t) / "x")), ["--output", "leads nowhere"]),
    "output-dangling-symlink": (lambda t: os.symlink(t / "nowhere", t / "dl") or run("--output", str(t / "dl")),
                                ["--output", "leads nowhere"]),
    "serve-port-too-large": (lambda t: ["leaderboard", "serve", site(t), "--port", "99999"], ["--port 99999", "0..65535"]),
    "serve-port-negative": (lambda t: ["leaderboard", "serve", site(t), "--port=-1"], ["--port -1", "0..65535"]),
    "publish-symlink-loop": (lambda t: ["publish", publish_folder_with_loop(t), "--repo-id", "a/b", "--dry-run"],
                             ["symlink", "leads nowhere"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_more_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tmp_path, monkeypatch, capsys, isolated_cache):
    monkeypatch.chdir(tmp_path)
    build, words = CASES[case]
    argv = build(tmp_path)
    if "--output" not in argv and argv[:1] == ["run"]:
        argv = [*argv, "--output", str(tmp_path / "out")]
    before = snapshot(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("dknbench: error: "), err
    for word in words:
        assert word in err, (word, err)
    assert snapshot(tmp_path) == before


def test_cache_env_pointing_at_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "cachefile").write_text("mine")
    monkeypatch.setenv("DKNBENCH_CACHE", str(tmp_path / "cachefile"))
    code = main(["build-data", "perturbed", "--source", "builtin"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "DKNBENCH_CACHE" in err and "cachefile" in err, err
    assert (tmp_path / "cachefile").read_text() == "mine"


def test_help_still_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "--task" in capsys.readouterr().out
