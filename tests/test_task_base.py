"""The Task contract: an abstract class whose two required methods a subclass must write."""

import inspect

import pytest

from dknbench.tasks import discover_tasks, task_class
from dknbench.tasks.base import Summary, Task


def test_a_task_without_run_fact_or_summarize_cannot_be_built():
    class NoSummary(Task):
        def run_fact(self, fact, index):
            return []

    with pytest.raises(TypeError, match="summarize"):
        NoSummary(None)
    assert Task.__abstractmethods__ == frozenset({"run_fact", "summarize"})

    class Complete(NoSummary):
        def summarize(self, rows, output):
            return Summary()

    ctx = type("Ctx", (), {"options": {}})()
    assert Complete(ctx).requirements() == [] and Complete(ctx).prepare() is None


def test_every_method_of_the_contract_says_what_it_does():
    for name in ("prepare", "requirements", "run_fact", "after_facts", "summarize"):
        assert len(inspect.getdoc(getattr(Task, name)) or "") > 40, name


def test_every_registered_task_class_fulfils_the_contract():
    for name, config in discover_tasks().items():
        cls = task_class(config)
        assert issubclass(cls, Task) and not inspect.isabstract(cls), name


def test_rows_by_method_keeps_the_method_order_the_row_order_and_every_method():
    from dknbench.tasks.common import rows_by_method

    rows = [{"method": "b", "i": 0}, {"method": "a", "i": 1}, {"method": "c", "i": 2}, {"method": "b", "i": 3}]
    grouped = rows_by_method(rows, ["a", "b", "d"])
    assert list(grouped) == ["a", "b", "d"]
    assert [r["i"] for r in grouped["b"]] == [0, 3] and [r["i"] for r in grouped["a"]] == [1]
    assert grouped["d"] == []  # a method without rows; rows of "c" (not asked for) are left out
    assert rows_by_method([], ["a"]) == {"a": []}


def test_methods_with_rows_drops_only_the_methods_without_rows():
    from dknbench.tasks.common import methods_with_rows

    rows = [{"method": "b", "i": 0}, {"method": "a", "i": 1}, {"method": "c", "i": 2}]
    kept = methods_with_rows(rows, ["a", "d", "b"])
    assert list(kept) == ["a", "b"]  # method order kept; "d" has no rows, "c" was not asked for
    assert [r["i"] for r in kept["b"]] == [0]
    assert methods_with_rows([], ["a"]) == {}
