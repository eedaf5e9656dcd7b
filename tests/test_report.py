"""Console tables (dknbench.harness.report): method first, metrics in the task YAML's order as
value [CI] to 3 significant figures, "undefined (reason)" where a record is undefined."""

import io

import pytest

from dknbench.harness.report import format_value, metrics_table, print_summary, render_table, sig3
from dknbench.tasks.base import metric_record


@pytest.mark.parametrize("value,text", [
    (1234.5, "1230"), (0.123456, "0.123"), (12.0, "12.0"), (-906.5, "-906"), (0.09996, "0.100"),
    (2.5e-5, "2.50e-05"), (123456.0, "1.23e+05"), (0.0, "0"), (7, "7"), (float("nan"), "/"), (None, "/"),
])
def test_sig3(value, text):
    assert sig3(value) == text


def test_format_value_with_ci_and_undefined():
    assert format_value(4.03512, 1.23456, 7.0) == "4.04 [1.23, 7.00]"
    assert format_value(4.03512, None, 7.0) == "4.04"  # half an interval is no interval
    assert format_value(None, undefined="irrelevant ΔProb CI contains 0") == \
        "undefined (irrelevant ΔProb CI contains 0)"


def _summary(metrics, comparisons=(), tables=None):
    return {"task": "kn-localization", "model": "tiny-gpt2", "methods": ["amig", "ig"], "n_used": 5,
            "n_facts": 5, "seed": 42, "metrics": list(metrics), "comparisons": list(comparisons),
            "tables": tables or {}}


def test_metrics_table_follows_the_yaml_order_and_shows_undefined():
    # records given out of the YAML's order (kn-localization: SR, SR_enh, SR_sup, ..., mean_kns)
    records = [metric_record("amig", "mean_kns", 17.6, 5, ci=(13.9, 21.3)),
               metric_record("amig", "SR_enh", 2.0, 4, ci=(1.0, 3.0)),
               metric_record("amig", "SR", 4.0, 5, ci=(2.0, 6.0)),
               metric_record("ig", "SR", -906.5, 5, undefined="irrelevant ΔProb CI contains 0"),
               metric_record("ig", "mean_kns", 19.0, 5)]
    rows = metrics_table(_summary(records))
    assert list(rows[0]) == ["method", "SR", "SR_enh", "mean_kns", "n"]
    assert rows[0] == {"method": "amig", "SR": "4.00 [2.00, 6.00]", "SR_enh": "2.00 [1.00, 3.00] n=4",
                       "mean_kns": "17.6 [13.9, 21.3]", "n": 5}
    assert rows[1]["SR"] == "undefined (irrelevant ΔProb CI contains 0)" and rows[1]["SR_enh"] == ""
    out = io.StringIO()
    print_summary(_summary(records), out)
    text = out.getvalue()
    assert "undefined (irrelevant ΔProb CI contains 0)" in text and "-906" not in text
    header = next(line for line in text.splitlines() if line.startswith("method"))
    assert header.split() == ["method", "SR", "SR_enh", "mean_kns", "n"]


def test_grouped_metrics_get_a_group_column():
    records = [metric_record("ntc", "GCR", 1.5, 3, group="2"), metric_record("ntc", "GCR", 2.5, 3, group="3")]
    rows = metrics_table({**_summary(records), "task": "no-such-task"})  # unknown task: records' order
    assert [(r["method"], r["group"], r["GCR"]) for r in rows] == [("ntc", "2", "1.50"), ("ntc", "3", "2.50")]


def test_comparisons_lead_with_the_pair_and_metric_then_t_p_welch_d():
    comparison = {"cohens_d": 0.512345, "n_b": 5, "welch_p": 0.2, "t": 1.23456, "metric": "GCR",
                  "method_b": "kmeans", "p": 0.04321, "welch_t": 1.1, "method_a": "ntc", "n_a": 5}
    out = io.StringIO()
    print_summary(_summary([], [comparison]), out)
    lines = out.getvalue().splitlines()
    header = lines[lines.index("comparisons") + 1].split()
    assert header == ["method_a", "method_b", "metric", "t", "p", "welch_t", "welch_p", "cohens_d", "n_a", "n_b"]
    assert lines[lines.index("comparisons") + 2].split() == ["ntc", "kmeans", "GCR", "1.23", "0.0432",
                                                             "1.10", "0.200", "0.512", "5", "5"]


def test_task_tables_lead_with_method_and_wide_tables_repeat_it():
    rows = [{"variant": "LIKN", "SR": 2.0, "method": "amig", "pairs": 4},
            {"variant": "Mono-KN", "SR": "undefined", "method": "ig", "pairs": 4}]
    text = render_table(rows, ["method"], width=30)
    blocks = [block.splitlines() for block in text.split("\n\n")]
    assert len(blocks) > 1 and all(block[0].split()[0] == "method" for block in blocks)
    assert blocks[0][0].split() == ["method", "variant", "SR"]
    assert [line.split()[0] for line in blocks[-1][1:]] == ["amig", "ig"]
