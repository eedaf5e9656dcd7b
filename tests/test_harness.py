"""Task YAML validation, the CLI's exit codes, and resumable, deterministic runs."""

import json
import re

import pandas as pd
import pytest

from conftest import DISTANCE_METHODS, FACTS, run_kn, write_facts
from dknbench.cli import main
from dknbench.errors import ConfigError
from dknbench.results import read_samples
from dknbench.tasks import discover_tasks, load_task_config


@pytest.fixture()
def tiny_runs(tiny_gpt2, tmp_path):
    """`dknbench run` on a tiny GPT-2 and a small fact file."""
    # a fact no causal LM can use (slot first): skipped and counted, not an error
    rows = FACTS + [{"id": "bad", "relation": "rel9", "subject": "X", "object": "Y", "queries": ["[Y] is X's capital."]}]
    return write_facts(tmp_path / "facts.jsonl", rows)


def run_cli(facts, output, *extra):
    return run_kn(facts, output, "--set", "random_match=ig", *extra, methods="ig,random", steps=3)


def test_bundled_tasks_are_valid_and_found():
    tasks = discover_tasks()
    assert {"gcr", "kn-localization"} <= set(tasks)
    assert tasks["gcr"].method_kind == "dkn" and tasks["kn-localization"].method_kind == "localizer"


@pytest.mark.parametrize("text,expected", [
    ("task: t\nclass: gcr\ndescription: d\nmethod_kind: dkn\nbogus: 1\n", r"t\.yaml:5: unknown field 'bogus'"),
    ("task: t\nclass: gcr\ndescription: d\nmethod_kind: dkn\noptions: [1]\n", r"t\.yaml:5: field 'options' must be a dict"),
    ("task: t\nclass: gcr\nmethod_kind: dkn\n", r"t\.yaml:1: missing required field 'description'"),
    ("task: t\nclass: gcr\ndescription: d\nmethod_kind: other\n", r"t\.yaml:4: method_kind must be one of"),
    ("task: t\nclass: gcr\ndescription: d\nmethod_kind: dkn\noptions: {a: 1}\npresets: {cpu: {b: 2}}\n",
     r"preset 'cpu' sets unknown option 'b'"),
    ("task: [\n", r"t\.yaml:\d+: invalid YAML"),
])
def test_yaml_errors_name_file_line_and_field(tmp_path, text, expected):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_task_config(path)


def test_set_overrides_are_typed(tmp_path):
    config = discover_tasks()["gcr"]
    options = config.resolve_options(overrides=["steps=7", "tau2=0.1", "localizer=ig", "positions=all"])
    assert options["steps"] == 7 and options["tau2"] == 0.1 and options["localizer"] == "ig"
    with pytest.raises(ConfigError, match="--set steps: 'x' is not a valid int"):
        config.resolve_options(overrides=["steps=x"])
    with pytest.raises(ConfigError, match="unknown option of task 'gcr' and no registered method's parameter; options: .*localizer"):
        config.resolve_options(overrides=["nope=1"])


def test_unknown_names_exit_2_with_the_list(capsys):
    assert main(["run", "--task", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "gcr" in err and "kn-localization" in err
    assert main(["run", "--task", "gcr", "--method", "ig"]) == 2  # ig is a localizer, gcr wants DKN methods
    err = capsys.readouterr().err
    assert "unknown dkn method" in err and "ntc" in err
    assert main(["run", "--task", "gcr", "--method", "ntc", "--dataset", "/no/such/place"]) == 2


def test_run_writes_summary_and_rows_and_counts_skips(tiny_runs, tmp_path):
    output = tmp_path / "run"
    assert run_cli(tiny_runs, output) == 0
    summary = json.loads((output / "summary.json").read_text())
    # the slot-first fact fails kn-localization's declared requirement: passed over, not run
    assert summary["n_facts"] == 4 and summary["n_used"] == 4
    assert summary["skipped"] == {} and summary["passed_over"] == {"no_usable_query": 1}
    assert {m["method"] for m in summary["metrics"]} == {"ig", "random"}
    assert summary["model_fingerprint"] and summary["config_hash"] and summary["versions"]["torch"]
    rows = pd.read_parquet(output / "samples.parquet")
    assert len(rows) == 8 and set(rows["method"]) == {"ig", "random"}


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tiny_runs, tmp_path, monkeypatch):
    from dknbench.tasks.kn_localization import KNLocalizationTask

    straight = tmp_path / "straight"
    assert run_cli(tiny_runs, straight) == 0

    real = KNLocalizationTask.run_fact
    calls = []

    def flaky(self, fact, index):
        calls.append(index)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, fact, index)

    monkeypatch.setattr(KNLocalizationTask, "run_fact", flaky)
    resumed = tmp_path / "resumed"
    assert run_cli(tiny_runs, resumed) == 130  # Ctrl-C: partial results kept
    assert len(list((resumed / "facts").glob("*.json"))) == 2 and not (resumed / "summary.json").exists()
    calls.clear()
    monkeypatch.setattr(KNLocalizationTask, "run_fact", lambda self, f, i: (calls.append(i), real(self, f, i))[1])
    assert run_cli(tiny_runs, resumed) == 0
    assert len(calls) == 2  # only the facts not finished before (the unusable one is passed over)
    a = read_samples(straight / "samples.parquet").sort_values(["fact_id", "method"]).reset_index(drop=True)
    b = read_samples(resumed / "samples.parquet").sort_values(["fact_id", "method"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_rerun_with_another_config_is_refused(tiny_runs, tmp_path, capsys):
    output = tmp_path / "run"
    assert run_cli(tiny_runs, output, "--limit", "2") == 0
    assert run_cli(tiny_runs, output, "--limit", "3") == 2
    assert "holds a run with another configuration" in capsys.readouterr().err


def test_gcr_end_to_end_on_a_tiny_model(tiny_runs, tmp_path):
    output = tmp_path / "gcr"
    code = main(["run", "--task", "gcr", "--method", ",".join(DISTANCE_METHODS), "--dataset", str(tiny_runs),
                 "--output", str(output), "--set", "steps=3", "--set", "localizer=ig",
                 "--set", "tau2=0", "--set", "tau=0.05", "--set", "known_only=false", "--quiet"])
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    table = summary["tables"]["gcr_by_cardinality"]
    assert [row["method"] for row in table] == DISTANCE_METHODS
    assert all(set(map(str, range(2, 9))) <= set(row) for row in table)
    for name in summary["figures"]:
        assert (output / name).stat().st_size > 1000
    rows = read_samples(output / "samples.parquet")
    with_dkn = rows[rows["cardinality"] >= 2]
    assert len(with_dkn) > 0, "with the filter off, NTC/baselines must find components on some fact"
    for _, row in with_dkn.iterrows():
        curve = row["delta_prob_curve"]  # a list column, not JSON text
        assert isinstance(curve, list) and len(curve) == row["cardinality"]


def test_the_summary_a_run_writes_is_the_schema_the_readers_check(tiny_runs, tmp_path, monkeypatch, capsys):
    """One schema (results/schema.py): the writer writes exactly SUMMARY_FIELDS and full metric
    records; the reader loads it; a task returning a record without a field is refused at write time."""
    from dknbench.results.schema import METRIC_FIELDS, OPTIONAL_METRIC_FIELDS, SUMMARY_FIELDS
    from dknbench.results.store import load_run
    from dknbench.tasks.kn_localization import KNLocalizationTask as KNLocalization

    out = tmp_path / "run"
    assert run_cli(tiny_runs, out) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == set(SUMMARY_FIELDS)
    for record in summary["metrics"]:
        assert set(METRIC_FIELDS) <= set(record) <= set(METRIC_FIELDS + OPTIONAL_METRIC_FIELDS)
    assert load_run(out).summary == summary

    original = KNLocalization.summarize

    def without_ci(self, rows, output):
        result = original(self, rows, output)
        result.metrics[0].pop("ci_low")
        return result

    monkeypatch.setattr(KNLocalization, "summarize", without_ci)
    capsys.readouterr()
    assert run_cli(tiny_runs, tmp_path / "other") != 0
    assert re.search(r"metrics\[0\] of .*summary.json: a metric record has .*ci_low", capsys.readouterr().err)
    assert not (tmp_path / "other" / "summary.json").exists()
