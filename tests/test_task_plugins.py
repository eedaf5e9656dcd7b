"""Tasks outside the package: a class in a .py beside the YAML, include: bases, validate, list."""

import json
import textwrap

import pytest

from dknbench.cli import main as cli
from dknbench.errors import ConfigError
from dknbench.tasks import discover_tasks, load_task_config, task_class, task_origin

USER_TASK = '''
from dknbench.tasks import Summary, Task, metric_record


class AnswerProb(Task):
    """Prob of the gold answer on each fact's first query (no localizer work)."""

    def run_fact(self, fact, index):
        prob = float(self.ctx.scorer().probs([fact.queries[0]], [fact.object])[0])
        return [{"method": m, "fact_id": fact.id, "prob": prob * self.options["scale"]}
                for m in self.ctx.methods]

    def summarize(self, rows, output):
        values = [r["prob"] for r in rows]
        return Summary(metrics=[metric_record(rows[0]["method"], "mean_prob",
                                              sum(values) / len(values), len(values))])
'''

BASE = """
options:
  scale: 1.0
  steps: 20
presets:
  cpu: {steps: 20}
"""

USER_YAML = """
include: _base.yaml
task: answer-prob
class: answer_prob.py:AnswerProb
description: mean Prob of the gold answer
method_kind: localizer
default_method: ig
options:
  scale: 2.0
"""


@pytest.fixture
def user_tasks(tmp_path):
    folder = tmp_path / "mytasks"
    folder.mkdir()
    (folder / "answer_prob.py").write_text(USER_TASK)
    (folder / "_base.yaml").write_text(BASE)
    (folder / "answer-prob.yaml").write_text(USER_YAML)
    return folder


def test_include_merges_options_and_the_file_wins(user_tasks):
    config = load_task_config(user_tasks / "answer-prob.yaml")
    assert config.options == {"scale": 2.0, "steps": 20}
    assert config.presets == {"cpu": {"steps": 20}}


def test_bases_are_not_tasks_and_origin_is_the_path(user_tasks):
    configs = discover_tasks([user_tasks])
    assert "answer-prob" in configs and "gcr" in configs
    assert task_origin(configs["gcr"]) == "bundled"
    assert task_origin(configs["answer-prob"]).endswith("answer-prob.yaml")


def test_class_from_a_file_beside_the_yaml(user_tasks):
    cls = task_class(load_task_config(user_tasks / "answer-prob.yaml"))
    assert cls.__name__ == "AnswerProb"


def test_user_task_runs_with_include_path(user_tasks, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli(["run", "--task", "answer-prob", "--model", "tiny-gpt2", "--limit", "2",
                "--include-path", str(user_tasks), "--output", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    (record,) = summary["metrics"]
    assert record["metric"] == "mean_prob" and record["n"] == 2 and 0 < record["value"] <= 2.0
    assert summary["config"]["options"]["scale"] == 2.0


@pytest.mark.parametrize("cls,words", [
    ("missing.py:AnswerProb", "missing.py not found"),
    ("answer_prob.py:Nope", "not a dknbench Task subclass"),
    ("no_such_pkg.mod:Thing", "cannot import"),
    ("nope", "not a registered task class"),
])
def test_bad_class_references_are_one_line(user_tasks, cls, words):
    path = user_tasks / "answer-prob.yaml"
    path.write_text(USER_YAML.replace("answer_prob.py:AnswerProb", cls))
    with pytest.raises(ConfigError, match=words):
        task_class(load_task_config(path))


def test_include_cycle_and_missing_base(tmp_path):
    (tmp_path / "a.yaml").write_text("include: b.yaml\ntask: a\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    with pytest.raises(ConfigError, match="include cycle"):
        load_task_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("task: c\ninclude: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: included file 'nowhere.yaml' not found"):
        load_task_config(tmp_path / "c.yaml")


def test_validate_command(user_tasks, tmp_path, capsys):
    assert cli(["validate", str(user_tasks / "answer-prob.yaml")]) == 0
    assert "ok (task 'answer-prob', class" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""\
        task: bad
        class: gcr
        description: x
        method_kind: dkn
        optionz: {}
        """))
    assert cli(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{bad}:5: unknown field 'optionz'" in err


def test_bundled_tasks_all_validate(capsys):
    from dknbench.paths import tasks_dir

    files = sorted(str(p) for p in tasks_dir().glob("*.yaml") if not p.name.startswith("_"))
    assert len(files) >= 11
    # the shared IG settings live in one base, not in each file
    assert all(load_task_config(f).options["steps"] == 20 for f in files)
    assert all("include: _base.yaml" in open(f).read() and "\n  steps:" not in open(f).read()
               for f in files)
    assert cli(["validate", *files]) == 0
    assert capsys.readouterr().out.count(": ok (") == len(files)


def test_list_tasks_shows_origin(user_tasks, capsys):
    assert cli(["list", "tasks", "--include-path", str(user_tasks)]) == 0
    out = capsys.readouterr().out
    assert "(bundled)" in out and "answer-prob.yaml)" in out


def _bundled():
    from dknbench.paths import tasks_dir

    return {name: c for name, c in discover_tasks().items() if c.path.parent.resolve() == tasks_dir().resolve()}


def test_list_tasks_shows_every_part_of_each_task(capsys):
    """YAML path, class at file:line (that line defines it), metrics with direction, figures."""
    import re
    from pathlib import Path

    assert cli(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    blocks = {b.split(" ", 1)[0]: b for b in re.split(r"\n(?=\S)", out.strip())}
    words = {"higher_is_better": "higher is better", "lower_is_better": "lower is better", "none": "descriptive"}
    for name, config in _bundled().items():
        block = blocks[name]
        assert re.search(rf"^  yaml:    \S*tasks/{re.escape(config.path.name)}$", block, flags=re.M), block
        cls_name, file, line = re.search(r"^  class:   (\w+) at (\S+):(\d+)$", block, flags=re.M).groups()
        assert Path(file).read_text().splitlines()[int(line) - 1].startswith(f"class {cls_name}(")
        metrics = re.search(r"^  metrics: (.*)$", block, flags=re.M).group(1)
        assert metrics == ", ".join(f"{m} ({words[config.metric_directions[m]]})" for m in config.metrics)
        figures = re.search(r"^  figures: (.*)$", block, flags=re.M).group(1)
        assert figures == (", ".join(config.figures) or "none")
    assert "  passed over when: no_usable_query, not_known [forward pass]\n" in blocks["gcr"] + "\n"
    assert "relation_has_fewer_than_3_facts" in blocks["fact-checking"]


def test_declared_figures_are_the_files_summarize_writes():
    """Each bundled task's ``figures:`` names exactly the .png files its module writes (read from
    the source: ``output / "name.png"`` or ``output / f"name_{slug(method)}.png"``, the method's
    label as a safe file name: ``atp[direction=corrupt]`` -> ``atp-direction-corrupt``)."""
    import inspect
    import re

    for name, config in _bundled().items():
        source = inspect.getsource(inspect.getmodule(task_class(config)))
        written = {re.sub(r"\{slug\((\w+)\)\}", r"{\1}", found)
                   for found in re.findall(r'output / f?"([^"]+\.png)"', source)}
        assert written == set(config.figures), (name, written, set(config.figures))


def test_task_modules_are_named_after_their_tasks():
    for name, config in _bundled().items():
        assert task_class(config).__module__ == "dknbench.tasks." + name.replace("-", "_")


@pytest.mark.parametrize("entry", ["dkn_layers: layers", "../escape.png: out", "x.png: [1]"])
def test_a_bad_figures_entry_is_one_error_with_its_line(tmp_path, entry):
    path = tmp_path / "t.yaml"
    path.write_text(f"task: t\nclass: gcr\ndescription: d\nmethod_kind: dkn\nfigures:\n  {entry}\n")
    with pytest.raises(ConfigError, match=r"t\.yaml:5: figures: .* must be <file name>\.png"):
        load_task_config(path)
