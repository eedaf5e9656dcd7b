"""dknbench.results: synthetic run directories (written per docs/ARCHITECTURE.md) -> table ->
dataset folder that `datasets.load_dataset` reads; CLI `dknbench results`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write_run
from dknbench.cli import main
from dknbench.errors import DKNBenchError
from dknbench.results import (
    RESULT_COLUMNS,
    collect,
    filter_results,
    load_source,
    read_results,
    write_results,
)


@pytest.fixture
def runs_root(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "gcr-ntc", method="ntc", values={("GCR", "2"): 1.5, ("GCR", "3"): None})
    write_run(root, "gcr-kmeans", method="kmeans", values={("GCR", "2"): 0.5, ("GCR", "3"): 0.75})
    write_run(root / "nested", "sr-amig", task="kn-localization", method="amig", model="bert",
              values={("SR", ""): 4.0}, seed=7)
    return root


def test_collect_one_row_per_metric_record(runs_root):
    frame = collect(runs_root)
    assert list(frame.columns) == RESULT_COLUMNS
    assert len(frame) == 5
    assert set(frame["task"]) == {"gcr", "kn-localization"}
    row = frame[(frame.method == "kmeans") & (frame.group == "3")].iloc[0]
    assert (row.value, row.ci_low, row.ci_high, row.n) == (0.75, 0.5, 1.0, 10)
    assert row.model_fingerprint == "sha256:gpt2-abc" and row.dataset == "builtin"
    assert (row.dknbench_version, row.torch_version, row.transformers_version) == ("0.1.0", "2.4.0", "4.46.0")
    assert row.config_hash == "hash-gcr-kmeans" and row.created == "2024-05-01T10:00:00"
    assert bool(row.higher_is_better) is True
    assert Path(row.run_dir) == (runs_root / "gcr-kmeans").resolve()
    null = frame[(frame.method == "ntc") & (frame.group == "3")].iloc[0]
    assert math.isnan(null.value) and math.isnan(null.ci_low)
    sr = frame[frame.task == "kn-localization"].iloc[0]
    assert sr.group == "" and sr.seed == 7 and sr.model == "bert"


def test_collect_accepts_single_run_dirs_and_lists(runs_root):
    one = collect(runs_root / "gcr-ntc")
    assert set(one["method"]) == {"ntc"} and len(one) == 2
    both = collect([runs_root / "gcr-ntc", str(runs_root / "nested")])
    assert set(both["method"]) == {"ntc", "amig"}


def test_filter_results(runs_root):
    frame = collect(runs_root)
    assert set(filter_results(frame, task="gcr")["method"]) == {"ntc", "kmeans"}
    assert len(filter_results(frame, task="gcr", method=["kmeans"], metric="GCR")) == 2
    assert len(filter_results(frame, model="bert")) == 1
    with pytest.raises(DKNBenchError, match=r"no results with method 'nope'; available: amig, kmeans, ntc"):
        filter_results(frame, method="nope")


def test_write_results_loads_with_datasets(runs_root, tmp_path):
    import datasets

    frame, runs = load_source(runs_root)
    out = write_results(frame, tmp_path / "dataset", runs=runs)
    assert (out / "data" / "results.parquet").is_file()
    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:\n- config_name: default") and "data/runs.parquet" in card
    assert not list(out.rglob("*.tmp"))
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert loaded.column_names == RESULT_COLUMNS
    assert loaded.num_rows == len(frame)
    as_pandas = loaded.to_pandas().sort_values(["run_dir", "metric", "group"]).reset_index(drop=True)
    expected = frame.sort_values(["run_dir", "metric", "group"]).reset_index(drop=True)
    np.testing.assert_allclose(as_pandas["value"].to_numpy(float), expected["value"].to_numpy(float))
    assert list(as_pandas["method"]) == list(expected["method"])
    runs_ds = datasets.load_dataset(str(out), "runs", split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert runs_ds.num_rows == 3


def test_dataset_round_trip_keeps_runs_and_figures(runs_root, tmp_path):
    frame, runs = load_source(runs_root)
    out = write_results(frame, tmp_path / "dataset", runs=runs)
    again, again_runs = read_results(out)
    pd.testing.assert_frame_equal(again, frame)
    assert {r.run_id for r in again_runs} == {r.run_id for r in runs}
    for run in again_runs:
        assert len(run.figure_paths) == 1 and run.figure_paths[0].is_relative_to(out)
        assert run.figure_paths[0].read_bytes()[:4] == b"\x89PNG"
    # a dataset folder is also accepted wherever run folders are
    assert len(collect(out)) == len(frame)


@pytest.mark.parametrize("broken,message", [
    ({"model": "gpt2", "metrics": []}, "field task: missing"),
    ({"task": "gcr", "model": "gpt2", "metrics": {}}, "field metrics: expected a valid list"),
    ({"task": "gcr", "model": "gpt2", "metrics": [{"metric": "GCR", "value": 1}]}, r"metrics\[0\]\.method: missing"),
    ({"task": "gcr", "model": "gpt2", "metrics": [{"method": "a", "metric": "GCR"}]}, r"metrics\[0\]\.value: missing"),
    ({"task": "gcr", "model": "gpt2", "metrics": [{"method": "a", "metric": "G", "value": "x"}]},
     r"metrics\[0\]\.value: expected a valid number, got 'x'"),
    ({"task": "gcr", "model": "gpt2", "metrics": [{"method": "a", "metric": "SR", "value": 3.0,
                                                   "undefined": "denominator CI contains 0"}]},
     r"metrics\[0\] is undefined \(denominator CI contains 0\) but has value 3.0"),
    ({"task": "gcr", "model": "gpt2", "metrics": [{"method": "a", "metric": "SR", "value": None,
                                                   "undefined": ""}]}, r"metrics\[0\]\.undefined: expected a non-empty string"),
])
def test_malformed_summary_is_a_one_line_user_error(tmp_path, broken, message):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps(broken))
    with pytest.raises(DKNBenchError, match=message) as info:
        collect(tmp_path / "run")
    assert "summary.json" in str(info.value) and "\n" not in str(info.value)


def test_undefined_metric_reason_reaches_the_results_table(tmp_path):
    from dknbench.tasks.base import metric_record

    run = write_run(tmp_path, "sr", task="kn-localization", method="ig", values={("SR", ""): 2.0})
    summary = json.loads((run / "summary.json").read_text())
    summary["metrics"].append(metric_record("amig", "SR", 5.0, 4, ci=(1.0, 9.0),
                                            undefined="mean irrelevant ΔProb CI [-0.1, 0.2] contains 0"))
    (run / "summary.json").write_text(json.dumps(summary))
    frame = collect(run).set_index("method")
    assert frame.loc["amig", "undefined"] == "mean irrelevant ΔProb CI [-0.1, 0.2] contains 0"
    assert math.isnan(frame.loc["amig", "value"]) and math.isnan(frame.loc["amig", "ci_low"])
    assert pd.isna(frame.loc["ig", "undefined"]) and frame.loc["ig", "value"] == 2.0
    again, _ = read_results(write_results(collect(run), tmp_path / "dataset"))
    assert list(again["undefined"].dropna()) == ["mean irrelevant ΔProb CI [-0.1, 0.2] contains 0"]


def test_ci_method_reaches_the_results_table_and_a_bad_one_is_refused(tmp_path):
    from dknbench.tasks.base import metric_record

    run = write_run(tmp_path, "kn", task="kn-localization", method="ig", values={("SR", ""): 2.0})
    summary = json.loads((run / "summary.json").read_text())
    summary["metrics"].append(metric_record("ig", "mean_kns", 10.0, 3, ci=(0.0, 30.0), ci_method="t, clipped"))
    (run / "summary.json").write_text(json.dumps(summary))
    frame = collect(run).set_index("metric")
    assert frame.loc["mean_kns", "ci_method"] == "t, clipped" and pd.isna(frame.loc["SR", "ci_method"])
    with pytest.raises(ValueError, match="ci_method must be one of"):
        metric_record("ig", "mean_kns", 10.0, 3, ci=(0.0, 30.0), ci_method="z")
    summary["metrics"][-1]["ci_method"] = "1.96 x SE"
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DKNBenchError, match=r"metrics\[1\]\.ci_method must be one of"):
        collect(run)


def test_missing_paths_are_user_errors(tmp_path):
    with pytest.raises(DKNBenchError, match="no such folder"):
        collect(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DKNBenchError, match="no summary.json found"):
        collect(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{not json")
    with pytest.raises(DKNBenchError, match="not valid JSON"):
        collect(tmp_path / "bad")


def test_cli_prints_table_and_writes_dataset(runs_root, tmp_path, capsys):
    out = tmp_path / "cli-dataset"
    assert main(["results", str(runs_root), "--task", "gcr", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "kmeans" in printed and "ntc" in printed and "amig" not in printed
    assert "wrote 4 rows from 2 runs" in printed
    frame, runs = read_results(out)
    assert set(frame["task"]) == {"gcr"} and len(runs) == 2
    assert main(["results", str(runs_root), "--method", "nope"]) == 2
    assert "no results with method 'nope'" in capsys.readouterr().err


def test_site_builds_with_references_that_give_only_metric_and_value(tmp_path):
    """Task YAMLs require only metric and value in a reference (e.g. gcr's Table 7 records)."""
    from dknbench.leaderboard import build_site

    runs = tmp_path / "runs"
    write_run(runs, "a", references=[{"source": "000 Table 7", "model": "gpt2", "method": "ntc",
                                      "metric": "t_vs_kmeans", "value": 149.65},
                                     {"metric": "GCR", "value": 26.82}])
    index = build_site(runs, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / "gcr.html").read_text()
    # the reference table quotes the paper's number as printed; result tables round to 3 figures
    assert index.is_file() and "000 Table 7" in page and ">149.65<" in page


def test_samples_store_neuron_lists_as_list_columns_and_read_old_json_files(tmp_path):
    import pyarrow.parquet as pq

    from dknbench.results import read_samples, write_samples

    rows = [{"fact_id": "a", "method": "ig", "kns": [[0, 3], [2, 7]], "curve": [0.5, 0.25],
             "skipped_queries": {"too_long": 1}, "score": 1.5},
            {"fact_id": "b", "method": "ig", "kns": [], "curve": None, "skipped_queries": {}, "score": None}]
    path = write_samples(tmp_path / "samples.parquet", rows)
    schema = pq.read_schema(path)
    assert str(schema.field("kns").type) == "list<element: list<element: int64>>"
    assert str(schema.field("curve").type) == "list<element: double>"
    assert str(schema.field("skipped_queries").type) == "string"  # dicts stay JSON text
    back = read_samples(path)
    assert back["kns"].tolist() == [[[0, 3], [2, 7]], []]
    assert back["curve"].tolist() == [[0.5, 0.25], None]
    # a file from before list columns: every nested value JSON text
    old = pd.DataFrame([{"fact_id": "a", "kns": json.dumps([[0, 3], [2, 7]]), "note": "plain"}])
    old.to_parquet(tmp_path / "old.parquet", index=False)
    back = read_samples(tmp_path / "old.parquet")
    assert back["kns"].tolist() == [[[0, 3], [2, 7]]] and back["note"].tolist() == ["plain"]


def _set_options(run_dir: Path, **options) -> None:
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text())
    summary["config"] = {"task": summary["task"], "model": summary["model"], "dataset": "builtin",
                         "limit": 10, "seed": summary["seed"], "dtype": None, "options": options}
    path.write_text(json.dumps(summary))


def test_cli_results_shows_the_options_that_differ_between_rows(tmp_path, capsys):
    # two runs of one method that differ only in tau: their rows must not look identical
    _set_options(write_run(tmp_path, "a", values={("GCR", ""): 1.23456}), tau=0.2, steps=20)
    _set_options(write_run(tmp_path, "b", values={("GCR", ""): 2.5}), tau=0.3, steps=20)
    assert main(["results", str(tmp_path)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0][:3] == ["gcr", "|", "model"] and "steps" not in lines[0]  # common settings: header
    assert lines[1] == ["method", "config", "GCR", "n"]
    assert lines[2] == ["ntc", "tau=0.2", "1.23", "[0.985,", "1.48]", "10"]
    assert lines[3] == ["ntc", "tau=0.3", "2.50", "[2.25,", "2.75]", "10"]


def test_cli_results_names_the_folder_of_identical_configurations_and_shows_undefined(tmp_path, capsys):
    from dknbench.tasks.base import metric_record

    for name in ("first", "second"):
        run = write_run(tmp_path, name, task="kn-localization", method="ig", values={("SR", ""): 3.0})
        summary = json.loads((run / "summary.json").read_text())
        summary["metrics"] = [metric_record("ig", "SR", -906.5, 5, undefined="irrelevant ΔProb CI contains 0")]
        (run / "summary.json").write_text(json.dumps(summary))
    assert main(["results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line.split(None, 2) for line in out.splitlines()[2:4]]
    assert rows == [["ig", "first", "undefined (irrelevant ΔProb CI contains 0)  5"],
                    ["ig", "second", "undefined (irrelevant ΔProb CI contains 0)  5"]]
    assert out.splitlines()[1].split() == ["method", "run", "SR", "n"] and "-906" not in out
