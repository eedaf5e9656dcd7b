"""dknbench reproduce: claim interpreter and report writing on synthetic run summaries (no model)."""

from pathlib import Path

import pytest

from dknbench.errors import ConfigError
from dknbench.io import write_json
from dknbench.reproduce import (TaskOutcome, evaluate_claim, load_claims, metric_value, paper_plan,
                                reference_rows, run_paper, write_report)
from dknbench.tasks.base import metric_record


def _summary(metrics, references=(), tables=None):
    return {"metrics": list(metrics), "references": list(references), "tables": tables or {},
            "figures": [], "n_facts": 3, "n_used": 3, "paper": "000 Table 1"}


GCR = [metric_record("ntc", "GCR", 5.0, 3), metric_record("kmeans", "GCR", 2.0, 3),
       metric_record("dbscan", "GCR", None, 0), metric_record("ntc", "GCR", 9.0, 1, group="2"),
       metric_record("ntc", "GCR", 1.0, 1, group="3")]
BEST = {"id": "c1", "paper": "dkn", "text": "NTC best", "task": "gcr",
        "compare": {"metric": "GCR", "group": "", "best": "ntc", "among": ["ntc", "kmeans", "dbscan"]}}


def test_best_among_supports_contradicts_unavailable():
    assert evaluate_claim(BEST, _summary(GCR))["status"] == "supports"
    worse = [metric_record("ntc", "GCR", 1.0, 3), metric_record("kmeans", "GCR", 2.0, 3)]
    result = evaluate_claim(BEST, _summary(worse))
    assert result["status"] == "contradicts" and "best: kmeans" in result["detail"]
    only_ntc = [metric_record("ntc", "GCR", 1.0, 3), metric_record("dbscan", "GCR", None, 0)]
    assert evaluate_claim(BEST, _summary(only_ntc))["status"] == "unavailable"
    assert evaluate_claim(BEST, None)["status"] == "unavailable"
    # a metric whose task declares lower_is_better flips the winner; a descriptive one does not
    lower = [metric_record("ntc", "loss", 1.0, 3), metric_record("kmeans", "loss", 2.0, 3)]
    claim = {**BEST, "compare": {"metric": "loss", "best": "ntc", "among": ["ntc", "kmeans"]}}
    assert evaluate_claim(claim, {**_summary(lower), "metric_directions": {"loss": "lower_is_better"}}
                          )["status"] == "supports"
    assert evaluate_claim(claim, {**_summary(lower), "metric_directions": {"loss": "none"}}
                          )["status"] == "contradicts"
    # a summary written before metric_directions: the records' own flag
    old = [{**record, "higher_is_better": False} for record in lower]
    assert evaluate_claim(claim, _summary(old))["status"] == "supports"


def test_greater_than_with_groups_numbers_and_group_mean():
    metrics = [metric_record("amig", "SR", 3.0, 5, group="zh/LIKN"), metric_record("amig", "SR", 4.0, 5, group="zh/Seq-KN")]
    claim = {"id": "c2", "paper": "amig", "text": "LIKN > Seq", "task": "x",
             "compare": {"metric": "SR", "greater": {"method": "amig", "group": "zh/LIKN"},
                         "than": {"method": "amig", "group": "zh/Seq-KN"}}}
    result = evaluate_claim(claim, _summary(metrics))
    assert result["status"] == "contradicts" and "3 < " in result["detail"]
    claim["compare"]["than"] = 2.5
    assert evaluate_claim(claim, _summary(metrics))["status"] == "supports"
    claim["compare"]["greater"] = {"method": "amig", "group": "en/LIKN"}
    assert evaluate_claim(claim, _summary(metrics))["status"] == "unavailable"
    assert metric_value(GCR, "ntc", "GCR", "*") == pytest.approx(5.0)  # mean of groups 2 and 3
    assert metric_value(GCR, "ntc", "GCR", "") == 5.0 and metric_value(GCR, "dbscan", "GCR", "") is None


def test_bad_claim_specs_are_rejected():
    with pytest.raises(ConfigError, match="either best"):
        evaluate_claim({**BEST, "compare": {"metric": "GCR"}}, _summary(GCR))
    with pytest.raises(ConfigError, match="unknown key"):
        evaluate_claim({**BEST, "compare": {**BEST["compare"], "eval": "1+1"}}, _summary(GCR))
    with pytest.raises(ConfigError, match="--paper"):
        paper_plan("nope")


def test_shipped_claims_parse_and_name_papers():
    claims = load_claims()
    assert set(claims["papers"]) == {"dkn", "amig", "ql", "kn-thesis"}  # 004 via linguistic-control (issue 31)
    assert all(c["paper"] in claims["papers"] and c["task"] in claims["papers"][c["paper"]]["tasks"]
               for c in claims["claims"])


def test_report_written_with_references_and_missing_tasks(tmp_path: Path):
    refs = [{"source": "000 Table 1", "model": "gpt2", "method": "ntc", "metric": "GCR", "group": "2", "value": 12.5}]
    summary = _summary(GCR, refs, {"gcr_by_cardinality": [{"method": "ntc", "2": 9.0, "Average": 5.0}]})
    assert reference_rows(summary)[0]["ours"] == 9.0 and reference_rows(summary)[0]["paper"] == 12.5
    overall = _summary(GCR, [{**refs[0], "group": "all", "value": 26.82}])
    assert reference_rows(overall)[0]["ours"] == 5.0  # the paper's "all" column = our overall record
    claims = {"papers": {"dkn": {"paper": "000", "title": "DKN paper", "tasks": {"gcr": ["ntc"], "gone": ["ntc"]}}},
              "claims": [BEST]}
    outcomes = [TaskOutcome("gcr", "ran", ["ntc", "kmeans"], summary=summary, output="x/gcr"),
                TaskOutcome("gone", "not available")]
    path = write_report("dkn", claims["papers"]["dkn"], outcomes, claims, tmp_path, model="tiny", preset="cpu", limit=3)
    md = path.read_text()
    html = (tmp_path / "report.html").read_text()
    assert "| NTC best | gcr | **supports** |" in md
    assert "## gone" in md and "**not available**" in md
    assert "| 000 Table 1 | gpt2 | ntc | GCR | 2 | 12.5 | 9 |" in md
    assert "| method | 2 | Average |" in md
    assert "<b>supports</b>" in html and "not available" in html


def test_run_paper_skips_missing_tasks_and_reports_failures(tmp_path: Path, monkeypatch):
    """run_paper with a fake runner: no model runs; a failing task is listed, not faked."""
    calls = []

    def fake_runner(spec):
        calls.append((spec.task, tuple(spec.methods), spec.preset, spec.limit))
        if spec.task == "perturbation-robustness":
            raise ConfigError("boom")
        out = Path(spec.output)
        out.mkdir(parents=True, exist_ok=True)
        return write_json(out / "summary.json", _summary(GCR))

    run_paper("dkn", preset="cpu", limit=2, output=tmp_path, runner=fake_runner)
    md = (tmp_path / "report.md").read_text()
    ran = {c[0] for c in calls}
    assert "gcr" in ran and all(c[3] == 2 for c in calls)
    assert ("gcr", ("ntc", "kmeans", "dbscan", "hierarchical", "amig-pairs"), "cpu", 2) in calls
    if "perturbation-robustness" in ran:
        assert "**failed**: ConfigError: boom" in md
    assert "NTC has the highest average GCR" in md


def _fake_runner(fail: str | None = None):
    """A harness stand-in: writes a summary per task, raises ConfigError for task ``fail``."""
    def runner(spec):
        if spec.task == fail:
            raise ConfigError(f"{fail} broke")
        out = Path(spec.output)
        out.mkdir(parents=True, exist_ok=True)
        return write_json(out / "summary.json", _summary(GCR))
    return runner


def test_failed_task_gives_nonzero_exit_naming_it(tmp_path: Path, monkeypatch, capsys):
    from dknbench import harness
    from dknbench.cli import main

    tasks = list(paper_plan("dkn")["tasks"])
    monkeypatch.setattr(harness, "run", _fake_runner())
    assert main(["reproduce", "--paper", "dkn", "--output", str(tmp_path / "ok"), "--limit", "2"]) == 0
    assert "failed" not in capsys.readouterr().err
    monkeypatch.setattr(harness, "run", _fake_runner(fail=tasks[1]))
    assert main(["reproduce", "--paper", "dkn", "--output", str(tmp_path / "bad"), "--limit", "2"]) == 1
    err = capsys.readouterr().err
    assert f"task(s) failed: {tasks[1]};" in err
    # one line per task in a log: started, then its status
    assert f"reproduce dkn [1/{len(tasks)}] {tasks[0]}: running" in err
    assert f"reproduce dkn [2/{len(tasks)}] {tasks[1]}: failed (ConfigError: {tasks[1]} broke)" in err
    assert f"reproduce dkn [{len(tasks)}/{len(tasks)}] {tasks[-1]}: ran" in err
    md = (tmp_path / "bad" / "report.md").read_text()
    assert f"**failed**: ConfigError: {tasks[1]} broke" in md and "Partial report" not in md


def test_interrupted_reproduce_leaves_a_partial_report(tmp_path: Path, monkeypatch, capsys):
    """The first task runs for real on a tiny model; the second is interrupted (Ctrl-C)."""
    import re

    from dknbench import harness
    from dknbench.cli import main

    tasks = list(paper_plan("dkn")["tasks"])
    real = harness.run

    def interrupt_after_first(spec):
        if spec.task != tasks[0]:
            raise KeyboardInterrupt
        return real(spec)

    monkeypatch.setattr(harness, "run", interrupt_after_first)
    code = main(["reproduce", "--paper", "dkn", "--model", "tiny-gpt2", "--limit", "2", "--output", str(tmp_path)])
    assert code == 130
    md = (tmp_path / "report.md").read_text()
    assert f"**Partial report**: not finished yet or interrupted; tasks still to run: {', '.join(tasks[1:])}." in md
    # the finished task is in the report: random tiny weights know none of the facts, so it is the
    # harness's exit-3 case, reported with its reason (issue 21) rather than an empty result
    assert re.search(rf"^## {tasks[0]}\s+\*\*nothing usable\*\*: no fact meets the task's requirements "
                     r"\(passed over: not_known: \d+\)", md, flags=re.M)
    assert re.search(rf"^## {tasks[1]}\s+\*\*interrupted\*\*", md, flags=re.M)
    assert all(re.search(rf"^## {t}\s+\*\*pending\*\*", md, flags=re.M) for t in tasks[2:])
    assert "Partial report" in (tmp_path / "report.html").read_text()
    err = capsys.readouterr().err
    assert f"reproduce dkn [1/{len(tasks)}] {tasks[0]}: nothing usable" in err
    assert f"partial report: {tmp_path / 'report.md'}" in err
    # the known gate is a declared requirement: the selection found no fact, so no fact ran (no
    # per-fact progress line) and no attribution was paid for
    assert not re.search(rf"^{tasks[0]} \d+/\d+, elapsed", err, flags=re.M)


def test_reproduce_tasks_runs_only_those_and_reports_the_rest_as_not_selected(tmp_path: Path, monkeypatch,
                                                                             capsys):
    from dknbench import harness
    from dknbench.cli import main

    calls = []
    runner = _fake_runner()
    monkeypatch.setattr(harness, "run", lambda spec: calls.append(spec.task) or runner(spec))
    tasks = list(paper_plan("amig")["tasks"])
    assert main(["reproduce", "--paper", "amig", "--tasks", f"{tasks[1]}", "--model", "tiny-gpt2",
                 "--output", str(tmp_path / "one"), "--limit", "2"]) == 0
    assert calls == [tasks[1]]
    md = (tmp_path / "one" / "report.md").read_text()
    assert md.count("**not selected (--tasks)**") == len(tasks) - 1
    # a name that is not one of the paper's tasks: one line naming it and the paper's tasks, exit 2
    capsys.readouterr()
    assert main(["reproduce", "--paper", "amig", "--tasks", f"{tasks[0]},gcr", "--model", "tiny-gpt2",
                 "--output", str(tmp_path / "two")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tasks" in err[0] and "gcr is not a task of paper amig" in err[0]
    assert f"its tasks: {', '.join(tasks)}" in err[0] and calls == [tasks[1]]
    assert not (tmp_path / "two").exists()  # refused before anything was written
