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
