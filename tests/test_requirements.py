"""Declared fact requirements and the selection --limit makes (issue 28.7)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from dknbench.cli import main
from dknbench.tasks.requirements import Requirement, facts_per_relation, select_meeting


class FakeTask:
    def __init__(self, *requirements):
        self._requirements = list(requirements)

    def requirements(self):
        return self._requirements


def fact(i, relation="r", ok=True, known=True):
    return SimpleNamespace(id=f"f{i}", relation=relation, ok=ok, known=known)


def logged(reason, attribute, log, forward_pass=False):
    def check(task, f):
        log.append((reason, f.id))
        return getattr(f, attribute)

    return Requirement(reason, check, forward_pass=forward_pass)


def test_limit_takes_the_first_n_meeting_in_order_and_counts_only_what_was_looked_at():
    facts = [fact(0), fact(1, ok=False), fact(2, known=False), fact(3), fact(4), fact(5, ok=False)]
    log = []
    task = FakeTask(logged("not_known", "known", log, forward_pass=True), logged("no_usable_query", "ok", log))
    selection = select_meeting(task, facts, 3)
    assert [f.id for f in selection.facts] == ["f0", "f3", "f4"]
    assert selection.passed_over == {"no_usable_query": 1, "not_known": 1}  # f5 was never looked at
    assert selection.looked_at == 5
    assert not selection.short
    # the cheap check runs first, the forward pass only on facts that passed it, nothing after N
    assert log == [("no_usable_query", "f0"), ("not_known", "f0"), ("no_usable_query", "f1"),
                   ("no_usable_query", "f2"), ("not_known", "f2"), ("no_usable_query", "f3"),
                   ("not_known", "f3"), ("no_usable_query", "f4"), ("not_known", "f4")]
    everything = select_meeting(task, facts, None)  # no --limit: every fact that meets them
    assert [f.id for f in everything.facts] == ["f0", "f3", "f4"]
    assert everything.passed_over == {"no_usable_query": 2, "not_known": 1}


def test_a_set_that_cannot_supply_n_says_so_in_one_line():
    facts = [fact(0), fact(1, known=False), fact(2)]
    task = FakeTask(Requirement("not_known", lambda t, f: f.known, forward_pass=True))
    selection = select_meeting(task, facts, 5)
    assert [f.id for f in selection.facts] == ["f0", "f2"] and selection.short
    line = selection.shortfall("gcr", len(facts))
    assert "\n" not in line
    assert line == ("gcr: 2 of 3 facts meet the task's requirements, fewer than --limit 5 "
                    "(passed over: not_known: 1); running with 2")
    none = select_meeting(FakeTask(Requirement("not_known", lambda t, f: False)), facts, 2)
    assert none.facts == [] and "none of the 3 facts" in none.shortfall("gcr", 3)


def test_the_relation_rule_admits_whole_groups_in_seeded_positions_and_never_overflows():
    # relation a has 3 facts, b has 4 (one unusable), c has 2 in the whole set
    facts = [fact(0, "a"), fact(1, "b"), fact(2, "c"), fact(3, "b", ok=False), fact(4, "a"), fact(5, "b"),
             fact(6, "c"), fact(7, "a"), fact(8, "b"), fact(9, "b")]
    log = []
    task = FakeTask(logged("no_usable_query", "ok", log), facts_per_relation(3))
    selection = select_meeting(task, facts, 5)
    # a is admitted at f7 (f0, f4, f7); then b has 2 of 3 usable facts pending, but 3 + 3 > 5
    # would overflow: b is passed over, the walk ends with only 3 (a fact set that cannot do 5)
    assert [f.id for f in selection.facts] == ["f0", "f4", "f7"] and selection.short
    assert selection.passed_over == {"relation_has_fewer_than_3_facts": 2, "no_usable_query": 1,
                                     "relation_does_not_fit_the_limit": 4}
    assert ("no_usable_query", "f2") not in log  # c can never reach 3: no per-fact check is paid for
    six = select_meeting(task, facts, 6)
    assert [f.id for f in six.facts] == ["f0", "f1", "f4", "f5", "f7", "f8"] and not six.short
    counts = {}
    for f in six.facts:
        counts[f.relation] = counts.get(f.relation, 0) + 1
    assert min(counts.values()) >= 3


def test_requirements_must_be_declared_with_the_known_kinds():
    with pytest.raises(TypeError, match="Requirement or PerGroup"):
        select_meeting(FakeTask(lambda t, f: True), [fact(0)], 1)


def fact_checking(output, *extra):
    return main(["run", "--task", "fact-checking", "--method", "ntc", "--limit", "5", "--set", "steps=2",
                 "--set", "max_queries=1", "--output", str(output), "--quiet", *extra])


def test_fact_checking_with_limit_5_uses_5_facts_and_a_resume_selects_the_same(tiny_gpt2, tmp_path):
    output = tmp_path / "fc"
    assert fact_checking(output) == 0
    summary = json.loads((output / "summary.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted((output / "facts").glob("*.json"))]
    assert summary["n_facts"] == 5 and len(records) == 5
    assert "relation_has_fewer_than_3_facts" not in summary["skipped"]
    assert summary["passed_over"] == json.loads((output / "run.json").read_text())["passed_over"]
    from dknbench.data.loading import load_facts

    relation = {f.id: f.relation for f in load_facts("builtin")}
    per_relation = {}
    for r in records:
        per_relation[relation[r["fact_id"]]] = per_relation.get(relation[r["fact_id"]], 0) + 1
    assert min(per_relation.values()) >= 3
    # resume: drop a finished fact and the summary; the rerun selects the same facts (each fact
    # file's fact_id is checked against the new selection) and recomputes only the missing one
    before = [r["fact_id"] for r in records]
    (output / "facts" / "000003.json").unlink()
    (output / "summary.json").unlink()
    assert fact_checking(output) == 0
    after = [json.loads(p.read_text())["fact_id"] for p in sorted((output / "facts").glob("*.json"))]
    assert after == before


def test_a_short_fact_set_runs_with_what_there_is_and_says_so(tiny_gpt2, tmp_path, capsys):
    from test_harness import FACTS

    facts = tmp_path / "facts.jsonl"
    rows = FACTS + [{"id": "bad", "relation": "rel9", "subject": "X", "object": "Y",
                     "queries": ["[Y] is X's capital."]}]
    facts.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    output = tmp_path / "kn"
    capsys.readouterr()
    assert main(["run", "--task", "kn-localization", "--method", "ig", "--dataset", str(facts), "--limit", "10",
                 "--set", "steps=2", "--set", "known_only=false", "--output", str(output), "--quiet"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "fewer than --limit" in line]
    assert lines == ["dknbench: kn-localization: 4 of 5 facts meet the task's requirements, fewer than --limit 10 "
                     "(passed over: no_usable_query: 1); running with 4"]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["limit"] == 10 and summary["n_facts"] == 4 and summary["passed_over"] == {"no_usable_query": 1}
    # two relations of two facts each: fact-checking's rule (3 per relation) leaves nothing, exit 3
    capsys.readouterr()
    assert fact_checking(tmp_path / "fc", "--dataset", str(facts)) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "none of the 5 facts" in err
    assert "relation_has_fewer_than_3_facts: 5" in err
    assert not (tmp_path / "fc").exists()
