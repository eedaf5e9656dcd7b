"""Each task YAML says which way each of its metrics is better (or that it is descriptive)."""

import pytest

from dknbench.errors import ConfigError
from dknbench.tasks import discover_tasks, load_task_config
from dknbench.tasks.config import METRIC_DIRECTIONS


def test_every_task_declares_a_direction_for_every_metric():
    for name, config in discover_tasks().items():
        assert config.metrics, name
        assert list(config.metric_directions) == config.metrics, name
        assert set(config.metric_directions.values()) <= set(METRIC_DIRECTIONS), name
    tasks = discover_tasks()
    assert tasks["gcr"].metric_directions["GCR"] == "higher_is_better"
    assert tasks["knowledge-editing"].metric_directions["dPPL"] == "lower_is_better"
    assert tasks["kn-localization"].metric_directions["mean_kns"] == "none"  # fewer KNs is not "better"


def test_a_wrong_direction_names_file_metric_and_the_allowed_values(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("task: t\nclass: gcr\ndescription: d\nmethod_kind: dkn\n"
                    "metrics:\n  GCR: up\n")
    with pytest.raises(ConfigError, match=r"t.yaml:\d+: metric 'GCR' has direction 'up'; allowed: higher_is_better"):
        load_task_config(path)


def test_a_records_direction_comes_from_its_task_yaml_only():
    from dknbench.results.schema import higher_is_better, metric_record, with_directions

    records = [metric_record("ntc", name, 1.0, 3) for name in ("GCR", "dPPL", "GCR_undefined", "undeclared")]
    assert all(record["higher_is_better"] is None for record in records)  # a task cannot state it
    directions = {"GCR": "higher_is_better", "dPPL": "lower_is_better", "GCR_undefined": "none"}
    assert [r["higher_is_better"] for r in with_directions(records, directions)] == [True, False, None, None]
    assert [higher_is_better(d) for d in METRIC_DIRECTIONS] == [True, False, None]
    with pytest.raises(TypeError):
        metric_record("ntc", "GCR", 1.0, 3, higher_is_better=False)


def test_no_task_module_restates_a_direction():
    from pathlib import Path

    import dknbench.tasks

    for path in Path(dknbench.tasks.__file__).parent.glob("*.py"):
        assert "higher_is_better=" not in path.read_text(), f"{path.name}: declare it in the task YAML's metrics:"
