"""The numbers the leaderboard shows, one comparable configuration at a time.

A *configuration* is what must be equal for two methods' numbers to be comparable: task, model
(by its usual name, ``openai-community/gpt2`` = ``gpt2``), dataset, number of facts, seed (it picks
the facts), dtype and every task option except those that only choose an execution path
(``NEUTRAL_OPTIONS``). Methods are ranked and tested only against methods of the same
configuration; a rerun of a method in the same configuration supersedes the older one.

Ranking: a metric's direction comes from its task YAML (``metrics: {name: higher_is_better |
lower_is_better | none}``); ``none`` and undeclared metrics are shown, never ranked. The winner is
marked best only when it beats the runner-up significantly (``ALPHA`` two-sided): a paired t-test
on the facts both methods have a value for when the per-fact values carry fact ids, Welch's t-test on
the per-fact values when they do not, or the runs' own comparison record (its paired test first)
when per-fact values were not kept; otherwise both are marked "tie". ``n_test`` is the n of the test.

Per-fact values convention: a run's summary.json may hold ``per_fact`` =
``{method: {key: {fact_id: value, ...}}}`` (or a plain list ``[values, ...]``, which cannot be
paired) with key = the metric name, or ``"<metric>@<group>"`` for a grouped record. With ≥ 2 finite
values the CI is the t-interval of their mean, unless the record's ``ci_method`` names another
method (a count's interval clipped at 0, a bootstrap): that CI is kept as the run wrote it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..models.loading import canonical_model_name
from ..results.schema import RANKED_DIRECTIONS, higher_is_better
from ..results.store import Run
from ..stats import CI_T, cohens_d, mean_ci, paired_t, welch_t

CONFIDENCE = 0.95
ALPHA = 0.05
TEST = "paired t-test on the facts both methods have (Welch's t-test where a run kept no fact ids)"
NEUTRAL_OPTIONS = frozenset({"engine"})  # IG execution path: the engine tests show equal results


def public_name(value):
    """A value fit for a public page: a local path becomes its last component (a dataset folder's
    name); ``build:NAME:SOURCE`` keeps NAME; Hub ids and plain words are unchanged."""
    if not isinstance(value, str):
        return value
    if value.startswith("build:"):
        name, _, source = value[len("build:"):].partition(":")
        return f"build:{name}:{public_name(source)}"
    if value.startswith(("/", "./", "../", "~")) or "\\" in value:
        return Path(value.rstrip("/\\").replace("\\", "/")).name
    return value


@dataclass(frozen=True)
class Configuration:
    task: str
    model: str
    dataset: str
    n: int | None
    seed: int | None
    dtype: str
    options: tuple  # sorted (name, value) pairs

    @property
    def id(self) -> str:
        text = json.dumps([self.task, self.model, self.dataset, self.n, self.seed, self.dtype,
                           [list(o) for o in self.options]], default=str)
        return "cfg-" + hashlib.sha1(text.encode()).hexdigest()[:8]

    def describe(self, varying: set[str] | None = None, used: str | None = None) -> str:
        """One line: model, dataset, the facts (``used``: "7/20 used", the facts that gave rows of
        those selected, as the console says it; else the number selected), seed and the options
        that tell this configuration apart from the task's others (``varying``; all when None)."""
        facts = f"facts {used}" if used else f"facts {self.n if self.n is not None else '?'} selected"
        parts = [f"model {self.model}", f"dataset {self.dataset}", facts, f"seed {self.seed}"]
        if self.dtype:
            parts.append(f"dtype {self.dtype}")
        shown = [f"{k}={v}" for k, v in self.options if varying is None or k in varying]
        if varying is not None and "dtype" in varying and not self.dtype:
            parts.append("dtype float32")
        return " · ".join(parts + shown)


def configuration_of(run: Run) -> Configuration:
    summary = run.summary
    config = summary.get("config") or {}
    options = config.get("options") or {}
    dtype = config.get("dtype") or ""
    return Configuration(
        task=summary["task"], model=canonical_model_name(summary["model"]),
        dataset=str(public_name(str(summary.get("dataset") if summary.get("dataset") is not None else ""))),
        n=summary.get("n_facts"), seed=summary.get("seed"), dtype=str(dtype),
        options=tuple(sorted((str(k), public_name(v)) for k, v in options.items() if k not in NEUTRAL_OPTIONS)),
    )


def varying_options(configurations: list[Configuration]) -> set[str]:
    """Option names (and dtype) whose values differ between the given configurations."""
    values: dict[str, set] = {}
    for config in configurations:
        seen = dict(config.options)
        for name in {k for c in configurations for k, _ in c.options}:
            values.setdefault(name, set()).add(json.dumps(seen.get(name), default=str))
    names = {name for name, vals in values.items() if len(vals) > 1}
    if len({c.dtype for c in configurations}) > 1:
        names.add("dtype")
    return names


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
    direction: str                  # higher_is_better | lower_is_better | none
    run_dir: str
    config_id: str = ""
    undefined: str = ""             # reason when the value is undefined (record "undefined")
    ci_source: str = "run"          # "per-fact" | "run" | ""
    reference: float | None = None  # the paper's number for the same model/method/metric/group
    reference_source: str = ""
    rank: str = ""                  # "best" (significantly ahead of the runner-up) | "tie" | ""
    versus: str = ""                # best other method of the same configuration
    p: float | None = None          # p-value against `versus` (paired where the facts are known)
    d: float | None = None          # Cohen's d against `versus` (positive: this method larger)
    test_source: str = ""           # "per-fact, paired" | "per-fact" (Welch) | "comparisons" | ""
    n_test: int | None = None       # values the test used per method (paired: the common facts)
    order: int = 0                  # the metric's place in the task YAML (tables keep that order)

    @property
    def key(self) -> str:
        return self.metric if not self.group else f"{self.metric}@{self.group}"

    @property
    def best(self) -> bool:
        return self.rank == "best"

    @property
    def higher_is_better(self) -> bool | None:
        return higher_is_better(self.direction)

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
    configurations: dict[str, Configuration] = field(default_factory=dict)  # id -> configuration
    run_configs: dict[str, str] = field(default_factory=dict)  # run_dir -> configuration id

    def tasks(self) -> list[str]:
        return sorted({r.task for r in self.rows} | {run.task for run in self.runs})

    def configurations_for(self, task: str) -> list[Configuration]:
        found = {r.config_id for r in self.rows if r.task == task}
        return sorted((self.configurations[i] for i in found),
                      key=lambda c: (c.model, c.dataset, c.n or 0, str(c.seed), c.dtype, str(c.options)))

    def rows_for(self, task: str | None = None, config_id: str | None = None) -> list[Row]:
        return [r for r in self.rows if (task is None or r.task == task)
                and (config_id is None or r.config_id == config_id)]

    def runs_for(self, task: str) -> list[Run]:
        return [run for run in self.runs if run.task == task]


def _finite(value) -> bool:
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def _per_fact_raw(run: Run | None, method: str, key: str) -> dict | list | None:
    """The run's per-fact values of ``key``: {fact_id: value} (pairable), a list, or None."""
    if run is None:
        return None
    table = (run.summary.get("per_fact") or {}).get(method) or {}
    values = table.get(key)
    if isinstance(values, dict):
        return {str(k): float(v) for k, v in values.items() if _finite(v)}
    return values if isinstance(values, list) else None


def _per_fact(run: Run | None, method: str, key: str) -> np.ndarray | None:
    values = _per_fact_raw(run, method, key)
    if isinstance(values, dict):
        values = list(values.values())
    if values is None:
        return None
    array = np.array([v for v in values if _finite(v)], dtype=float)
    return array if array.size >= 2 else None


def _task_directions(task: str) -> dict[str, str]:
    """The task YAML's metric directions (empty when the task is not installed here)."""
    from ..tasks import discover_tasks

    config = discover_tasks().get(task)
    return dict(config.metric_directions) if config is not None else {}


def _directions(run: Run, cache: dict) -> dict[str, str]:
    recorded = run.summary.get("metric_directions")
    if isinstance(recorded, dict) and recorded:
        return recorded
    if run.task not in cache:
        cache[run.task] = _task_directions(run.task)
    return cache[run.task]


def _record_field(run: Run | None, method: str, metric: str, group: str, name: str) -> str:
    """A string field of the run's metric record (e.g. ``undefined``, ``ci_method``), or ""."""
    for record in (run.summary.get("metrics") or []) if run else []:
        if (record.get("method"), record.get("metric"), str(record.get("group") or "")) == (method, metric, group):
            value = record.get(name)
            return str(value) if value else ""
    return ""


def _undefined(run: Run | None, method: str, metric: str, group: str) -> str:
    return _record_field(run, method, metric, group, "undefined")


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """One record per (configuration, method, metric, group): the most recently created run wins,
    because a rerun after a fix supersedes the old numbers."""
    keys = ["config_key", "method", "metric", "group"]
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


OVERALL_GROUPS = ("", "all", "average", "avg")  # a paper's "all" column = our record without group


def _match_reference(row: Row, references: list[dict]) -> tuple[float | None, str]:
    for ref in references:
        group = str(ref.get("group") or "")
        same_group = group == row.group or (row.group == "" and group.lower() in OVERALL_GROUPS)
        if (canonical_model_name(str(ref.get("model") or "")) == row.model and ref.get("method") == row.method
                and ref.get("metric") == row.metric and same_group and _finite(ref.get("value"))):
            return float(ref["value"]), str(ref.get("source", ""))
    return None, ""


def _from_comparisons(runs: list[Run], a: str, b: str, key: str) -> tuple[float | None, float | None, int | None]:
    """(p, Cohen's d of a vs b, n) from the runs' ``comparisons``: the paired test where the record
    has one, else Welch's; a reversed record flips d."""
    for run in runs:
        for record in run.summary.get("comparisons") or []:
            if record.get("metric") != key:
                continue
            paired = record.get("paired_p") is not None
            p = record.get("paired_p") if paired else record.get("welch_p")
            d = record.get("cohens_d")
            n = record.get("n_pairs") if paired else None
            if (record.get("method_a"), record.get("method_b")) == (a, b):
                return p, d, n
            if (record.get("method_a"), record.get("method_b")) == (b, a):
                return p, None if d is None else -d, n
    return None, None, None


def _test(row: Row, rival: Row, runs_by_dir: dict[str, Run], config_runs: list[Run]) -> None:
    row.versus = rival.method
    mine = _per_fact_raw(runs_by_dir.get(row.run_dir), row.method, row.key)
    theirs = _per_fact_raw(runs_by_dir.get(rival.run_dir), rival.method, row.key)
    if isinstance(mine, dict) and isinstance(theirs, dict):  # the same facts, paired
        common = sorted(mine.keys() & theirs.keys())
        if len(common) >= 2:
            a, b = np.array([mine[f] for f in common]), np.array([theirs[f] for f in common])
            row.p, row.d, row.n_test = paired_t(a, b).pvalue, cohens_d(a, b), len(common)
            row.test_source = "per-fact, paired"
        return
    mine = _per_fact(runs_by_dir.get(row.run_dir), row.method, row.key)
    theirs = _per_fact(runs_by_dir.get(rival.run_dir), rival.method, row.key)
    if mine is not None and theirs is not None:
        row.p, row.d, row.test_source = welch_t(mine, theirs).pvalue, cohens_d(mine, theirs), "per-fact"
        return
    p, d, n = _from_comparisons(config_runs, row.method, rival.method, row.key)
    if p is not None or d is not None:
        row.p, row.d, row.n_test, row.test_source = p, d, n, "comparisons"


def _compare(rows: list[Row], runs_by_dir: dict[str, Run], config_runs: list[Run]) -> None:
    """Within one configuration and metric/group: test each method against the best of the others,
    and mark the winner best only when its test against the runner-up is significant."""
    if rows[0].direction not in RANKED_DIRECTIONS:
        return
    sign = 1.0 if rows[0].direction == "higher_is_better" else -1.0
    scored = sorted((r for r in rows if _finite(r.value)), key=lambda r: -sign * r.value)
    if len(scored) < 2:
        return
    for row in scored:
        _test(row, scored[1] if row is scored[0] else scored[0], runs_by_dir, config_runs)
    winner, runner_up = scored[0], scored[1]
    ahead = sign * (winner.value - runner_up.value) > 0
    significant = winner.p is not None and _finite(winner.p) and winner.p < ALPHA
    if ahead and significant:
        winner.rank = "best"
    else:
        winner.rank = runner_up.rank = "tie"


def prepare(frame: pd.DataFrame, runs: list[Run]) -> LeaderboardData:
    """Turn the results table and its runs into the leaderboard's rows."""
    runs_by_dir = {str(run.run_dir): run for run in runs}
    configs = {str(run.run_dir): configuration_of(run) for run in runs}
    by_id = {c.id: c for c in configs.values()}
    references = _references(runs)
    direction_cache: dict[str, dict] = {}
    frame = frame.assign(config_key=[configs[d].id if d in configs else f"run:{d}" for d in frame["run_dir"]])
    rows: list[Row] = []
    for record in _latest(frame).itertuples(index=False):
        run = runs_by_dir.get(str(record.run_dir))
        if run is None:
            continue  # a results row without its run: no configuration to place it in
        group = record.group or ""
        directions = _directions(run, direction_cache)
        row = Row(
            task=record.task, model=canonical_model_name(record.model), metric=record.metric, group=group,
            method=record.method, value=float(record.value), ci_low=float(record.ci_low),
            ci_high=float(record.ci_high), n=None if pd.isna(record.n) else int(record.n),
            direction=directions.get(record.metric, "none"),
            order=list(directions).index(record.metric) if record.metric in directions else len(directions),
            run_dir=str(record.run_dir), config_id=record.config_key,
            undefined=_undefined(run, record.method, record.metric, group),
        )
        values = _per_fact(run, row.method, row.key)
        ci_method = _record_field(run, row.method, row.metric, group, "ci_method")
        if values is not None and ci_method in ("", CI_T):  # a clipped or bootstrap CI stays the run's
            interval = mean_ci(values, CONFIDENCE)
            row.ci_low, row.ci_high, row.ci_source = interval.low, interval.high, "per-fact"
        elif not (_finite(row.ci_low) and _finite(row.ci_high)):
            row.ci_source = ""
        row.reference, row.reference_source = _match_reference(row, references.get(row.task, []))
        rows.append(row)
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault((row.config_id, row.metric, row.group), []).append(row)
    for (config_id, *_), members in groups.items():
        config_runs = [run for d, run in runs_by_dir.items() if configs[d].id == config_id]
        _compare(members, runs_by_dir, config_runs)
    rows.sort(key=lambda r: (r.task, r.config_id, r.order, r.metric, _group_key(r.group), r.method))
    return LeaderboardData(rows, runs, references, by_id, {d: c.id for d, c in configs.items()})


def _group_key(group: str):
    """Numeric groups (cardinalities 2..8) sort as numbers, the rest as text."""
    try:
        return (0, float(group), "")
    except ValueError:
        return (1, 0.0, group)
