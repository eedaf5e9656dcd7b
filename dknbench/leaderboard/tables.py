"""The numbers the leaderboard shows: latest value per (task, model, method, metric, group), its
95% CI, the paper's reference value, and a significance mark against the best other method.

Per-fact values convention: a run's summary.json may hold ``per_fact`` =
``{method: {key: [values, ...]}}`` with key = the metric name, or ``"<metric>@<group>"`` for a
grouped record; the values are the per-fact numbers whose mean is the reported metric. When present
(≥ 2 finite values) the CI is the t-interval of their mean and the comparison is Welch's t-test
and Cohen's d computed here with dknbench.stats. Otherwise the record's own ci_low/ci_high are
shown and the comparison comes from the runs' ``comparisons`` records whose ``metric`` equals the
same key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..results.store import Run
from ..stats import cohens_d, mean_ci, welch_t

CONFIDENCE = 0.95


@dataclass
class Row:
    task: str
    model: str
    metric: str
    group: str
    method: str
    value: float
    ci_low: float
    ci_high: float
    n: int | None
    higher_is_better: bool
    run_dir: str
    ci_source: str = "run"          # "per-fact" | "run" | ""
    reference: float | None = None  # the paper's number for the same model/method/metric/group
    reference_source: str = ""
    best: bool = False              # best value among the methods of this metric/group
    versus: str = ""                # best other method it is compared with
    p: float | None = None          # Welch t-test p-value against `versus`
    d: float | None = None          # Cohen's d against `versus` (positive: this method larger)
    test_source: str = ""           # "per-fact" | "comparisons" | ""

    @property
    def key(self) -> str:
        return self.metric if not self.group else f"{self.metric}@{self.group}"

    @property
    def stars(self) -> str:
        if self.p is None or math.isnan(self.p):
            return ""
        return "***" if self.p < 0.001 else "**" if self.p < 0.01 else "*" if self.p < 0.05 else "n.s."


@dataclass
class LeaderboardData:
    rows: list[Row]
    runs: list[Run]
    references: dict[str, list[dict]] = field(default_factory=dict)  # task -> reference records

    def tasks(self) -> list[str]:
        return sorted({r.task for r in self.rows} | {run.task for run in self.runs})

    def models(self) -> list[str]:
        return sorted({r.model for r in self.rows})

    def rows_for(self, task: str | None = None, model: str | None = None) -> list[Row]:
        return [r for r in self.rows if (task is None or r.task == task) and (model is None or r.model == model)]

    def runs_for(self, task: str) -> list[Run]:
        return [run for run in self.runs if run.task == task]


def _finite(value) -> bool:
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def _per_fact(run: Run | None, method: str, key: str) -> np.ndarray | None:
    if run is None:
        return None
    table = (run.summary.get("per_fact") or {}).get(method) or {}
    values = table.get(key)
    if not isinstance(values, list):
        return None
    array = np.array([v for v in values if _finite(v)], dtype=float)
    return array if array.size >= 2 else None


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """One record per (task, model, method, metric, group): the most recently created run wins,
    because a rerun after a fix supersedes the old numbers."""
    keys = ["task", "model", "method", "metric", "group"]
    ordered = frame.assign(_created=frame["created"].fillna("")).sort_values("_created", kind="stable")
    return ordered.drop_duplicates(keys, keep="last").drop(columns="_created")


def _references(runs: list[Run]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for run in runs:
        seen = out.setdefault(run.task, [])
        for ref in run.summary.get("references") or []:
            if not isinstance(ref, dict):
                continue
            # only metric and value are required in a task YAML; the page shows every column
            ref = {"source": "", "model": "", "method": "", "group": "", "note": "", **ref}
            if ref not in seen:
                seen.append(ref)
    return out


def _match_reference(row: Row, references: list[dict]) -> tuple[float | None, str]:
    for ref in references:
        if (ref.get("model") == row.model and ref.get("method") == row.method
                and ref.get("metric") == row.metric and str(ref.get("group") or "") == row.group
                and _finite(ref.get("value"))):
            return float(ref["value"]), str(ref.get("source", ""))
    return None, ""


def _from_comparisons(runs: list[Run], a: str, b: str, key: str) -> tuple[float | None, float | None]:
    """(Welch p, Cohen's d of a vs b) from any run's ``comparisons``; a reversed record flips d."""
    for run in runs:
        for record in run.summary.get("comparisons") or []:
            if record.get("metric") != key:
                continue
            p = record.get("welch_p", record.get("p"))
            d = record.get("cohens_d")
            if (record.get("method_a"), record.get("method_b")) == (a, b):
                return p, d
            if (record.get("method_a"), record.get("method_b")) == (b, a):
                return p, None if d is None else -d
    return None, None


def _compare(rows: list[Row], runs_by_dir: dict[str, Run], task_runs: list[Run]) -> None:
    """Mark the best method and test each method against the best of the others."""
    scored = [r for r in rows if _finite(r.value)]
    if not scored:
        return
    sign = 1.0 if scored[0].higher_is_better else -1.0
    best = max(scored, key=lambda r: sign * r.value)
    best.best = True
    for row in scored:
        others = [r for r in scored if r is not row]
        if not others:
            continue
        rival = max(others, key=lambda r: sign * r.value)
        row.versus = rival.method
        mine = _per_fact(runs_by_dir.get(row.run_dir), row.method, row.key)
        theirs = _per_fact(runs_by_dir.get(rival.run_dir), rival.method, row.key)
        if mine is not None and theirs is not None:
            row.p, row.d, row.test_source = welch_t(mine, theirs).pvalue, cohens_d(mine, theirs), "per-fact"
            continue
        p, d = _from_comparisons(task_runs, row.method, rival.method, row.key)
        if p is not None or d is not None:
            row.p, row.d, row.test_source = p, d, "comparisons"


def prepare(frame: pd.DataFrame, runs: list[Run]) -> LeaderboardData:
    """Turn the results table and its runs into the leaderboard's rows."""
    runs_by_dir = {str(run.run_dir): run for run in runs}
    references = _references(runs)
    rows: list[Row] = []
    for record in _latest(frame).itertuples(index=False):
        row = Row(
            task=record.task, model=record.model, metric=record.metric, group=record.group or "",
            method=record.method, value=float(record.value), ci_low=float(record.ci_low),
            ci_high=float(record.ci_high), n=None if pd.isna(record.n) else int(record.n),
            higher_is_better=True if pd.isna(record.higher_is_better) else bool(record.higher_is_better),
            run_dir=str(record.run_dir),
        )
        values = _per_fact(runs_by_dir.get(row.run_dir), row.method, row.key)
        if values is not None:
            interval = mean_ci(values, CONFIDENCE)
            row.ci_low, row.ci_high, row.ci_source = interval.low, interval.high, "per-fact"
        elif not (_finite(row.ci_low) and _finite(row.ci_high)):
            row.ci_source = ""
        row.reference, row.reference_source = _match_reference(row, references.get(row.task, []))
        rows.append(row)
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault((row.task, row.model, row.metric, row.group), []).append(row)
    for (task, *_), members in groups.items():
        _compare(members, runs_by_dir, [run for run in runs if run.task == task])
    rows.sort(key=lambda r: (r.task, r.model, r.metric, _group_key(r.group), r.method))
    return LeaderboardData(rows, runs, references)


def _group_key(group: str):
    """Numeric groups (cardinalities 2..8) sort as numbers, the rest as text."""
    try:
        return (0, float(group), "")
    except ValueError:
        return (1, 0.0, group)
