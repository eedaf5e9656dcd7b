"""`dknbench reproduce`: run one paper's tasks and write a report in the paper's layout.

For paper ``dkn`` (000), ``amig`` (002) or ``ql`` (003), every task of the paper that exists at run
time (``claims.yaml`` lists them) runs through ``harness.run``; a task that is not available or
fails is listed as such, never faked. The report (report.md, report.html) shows each run's
``tables``, our metric records beside the paper's ``references`` (same method, metric, group),
and one line per claim of ``claims.yaml`` saying whether our numbers support its direction.
The report is rewritten after every task, so an interrupted run leaves a partial one; progress
goes to stderr per task and per fact (a bar on a terminal, one line per item in a log).

Claims are data, evaluated by a small interpreter (no eval): see the header of claims.yaml.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, DKNBenchError, NothingUsable
from ..io import load_yaml
from .verdicts import check_keys, validate_test

CLAIMS_FILE = Path(__file__).resolve().parents[1] / "claims.yaml"
STATUSES = ("supports", "contradicts", "unavailable")
COMPARE_KEYS = {"metric", "group", "best", "among", "greater", "than", "lower"}
SIDE_KEYS = {"method", "group", "metric"}
OVERALL_GROUPS = ("all", "average", "avg")  # papers' "all" column = our record with group ""
LABEL_COLUMNS = ("method", "kind", "language", "variant", "intervention", "set", "group", "setting")


def load_claims(path: str | Path | None = None) -> dict:
    path = Path(path) if path else CLAIMS_FILE
    with open(path, encoding="utf-8") as handle:
        data = load_yaml(handle)
    if not isinstance(data, dict) or not isinstance(data.get("papers"), dict):
        raise ConfigError(f"{path}: expected a mapping with 'papers' and 'claims'")
    for i, claim in enumerate(data.get("claims") or []):
        missing = {"id", "paper", "text", "task"} - set(claim or {})
        if missing:
            raise ConfigError(f"{path}: claims[{i}] misses {', '.join(sorted(missing))}")
        where = f"{path}: claim {claim['id']}"
        outcomes = [key for key in ("test", "not_testable", "undefined") if claim.get(key)]
        if len(outcomes) > 1 or not (outcomes or "compare" in claim):
            raise ConfigError(f"{where}: give exactly one of test, not_testable, undefined"
                              f"{' (or an older compare)' if not outcomes else ''}; got {', '.join(outcomes)}")
        if "compare" in claim:
            validate_compare(claim["compare"], where)
        if claim.get("test"):
            validate_test(claim["test"], where)
    return data


def validate_compare(spec, where: str) -> None:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: compare must be a mapping")
    check_keys(spec, COMPARE_KEYS, where, "compare")
    if "metric" not in spec:
        raise ConfigError(f"{where}: compare needs 'metric'")
    has_best, has_greater = "best" in spec, "greater" in spec
    if has_best == has_greater:
        raise ConfigError(f"{where}: compare needs either best+among or greater+than")
    if has_best and not (isinstance(spec.get("among"), list) and spec["best"] in spec["among"]):
        raise ConfigError(f"{where}: 'among' must be a list that contains best {spec['best']!r}")
    if has_greater and "than" not in spec:
        raise ConfigError(f"{where}: 'greater' needs 'than'")
    for side in ("greater", "than"):
        value = spec.get(side)
        if isinstance(value, dict):
            check_keys(value, SIDE_KEYS, where, side)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_value(metrics: list[dict], method: str, metric: str, group) -> float | None:
    """The value of one metric record; group "*" averages every group's finite value."""
    group = "" if group is None else str(group)
    records = [m for m in metrics if m.get("method") == method and m.get("metric") == metric]
    if group == "*":
        values = [m["value"] for m in records if m.get("group") and _finite(m.get("value"))]
        return float(sum(values) / len(values)) if values else None
    for record in records:
        if str(record.get("group", "")) == group:
            return float(record["value"]) if _finite(record.get("value")) else None
    return None


def _higher_is_better(summary: dict, metric: str, spec) -> bool:
    """Which way a claim's ``best`` / ``greater`` reads ``metric``: the claim's own ``lower``, else
    the task's declared direction (summary.json's ``metric_directions``; for a summary written
    before those, the records' ``higher_is_better``). Only ``lower_is_better`` turns it round: a
    descriptive metric (``none``) compares plainly."""
    if "lower" in spec:
        return not bool(spec["lower"])
    directions = summary.get("metric_directions")
    if isinstance(directions, dict) and metric in directions:
        return directions[metric] != "lower_is_better"
    for record in summary.get("metrics") or []:
        if record.get("metric") == metric:
            return record.get("higher_is_better") is not False
    return True


def _side(metrics, side, spec) -> tuple[float | None, str]:
    if _finite(side):
        return float(side), f"{side:g}"
    if isinstance(side, str):
        side = {"method": side}
    method = side.get("method", "")
    metric = side.get("metric", spec["metric"])
    group = side.get("group", spec.get("group", ""))
    label = f"{method} {metric}" + (f"[{group}]" if group else "")
    return metric_value(metrics, method, metric, group), label


def evaluate_claim(claim: dict, summary: dict | None) -> dict:
    """{id, paper, task, text, status (supports|contradicts|unavailable), detail}."""
    result = {"id": claim["id"], "paper": claim["paper"], "task": claim["task"], "text": claim["text"]}
    if "compare" not in claim:  # a claim with a statistical test only: its verdict is in the paper report
        return {**result, "status": "unavailable", "detail": "no direction check; see the verdict table"}
    spec = claim["compare"]
    validate_compare(spec, f"claim {claim['id']}")
    if summary is None:
        return {**result, "status": "unavailable", "detail": f"task {claim['task']} has no run"}
    metrics = summary.get("metrics") or []
    if "best" in spec:
        values = {m: metric_value(metrics, m, spec["metric"], spec.get("group", "")) for m in spec["among"]}
        have = {m: v for m, v in values.items() if v is not None}
        shown = ", ".join(f"{m}={v:.4g}" for m, v in have.items())
        if values[spec["best"]] is None or len(have) < 2:
            return {**result, "status": "unavailable",
                    "detail": f"need {spec['best']} and another method with a value of {spec['metric']}; have: {shown or 'none'}"}
        pick = max if _higher_is_better(summary, spec["metric"], spec) else min
        winner = pick(have, key=have.get)
        supported = have[winner] == have[spec["best"]]
        return {**result, "status": "supports" if supported else "contradicts",
                "detail": f"{spec['metric']}: {shown} (best: {winner})"}
    a, label_a = _side(metrics, spec["greater"], spec)
    b, label_b = _side(metrics, spec["than"], spec)
    if a is None or b is None:
        missing = [label for label, value in ((label_a, a), (label_b, b)) if value is None]
        return {**result, "status": "unavailable", "detail": f"no value for {', '.join(missing)}"}
    higher = _higher_is_better(summary, spec["metric"], spec)
    supported = a > b if higher else a < b
    relation = ">" if a > b else ("<" if a < b else "=")
    return {**result, "status": "supports" if supported else "contradicts",
            "detail": f"{label_a} = {a:.4g} {relation} {label_b} = {b:.4g}"}


def reference_rows(summary: dict) -> list[dict]:
    """The paper's reference numbers beside ours (same method, metric, group)."""
    rows = []
    for ref in summary.get("references") or []:
        metrics = summary.get("metrics") or []
        ours = metric_value(metrics, ref.get("method", ""), ref["metric"], ref.get("group", ""))
        if ours is None and str(ref.get("group", "")).lower() in OVERALL_GROUPS:
            ours = metric_value(metrics, ref.get("method", ""), ref["metric"], "")  # the overall record
        rows.append({"source": ref.get("source", ""), "model": ref.get("model", ""),
                     "method": ref.get("method", ""), "metric": ref["metric"], "group": ref.get("group", ""),
                     "paper": ref["value"], "ours": ours, "note": ref.get("note", "")})
    return rows


@dataclass
class TaskOutcome:
    task: str
    status: str  # ran | not available | failed | interrupted | pending
    methods: list[str] = field(default_factory=list)
    skipped_methods: list[str] = field(default_factory=list)
    summary: dict | None = None
    output: str = ""
    error: str = ""


@dataclass
class Reproduction:
    """What ``run_paper`` did: the report it wrote and one outcome per task of the paper."""

    report: Path
    outcomes: list[TaskOutcome]

    @property
    def failed(self) -> list[str]:
        return [o.task for o in self.outcomes if o.status == "failed"]

    @property
    def nothing_usable(self) -> bool:
        """No task produced a result and at least one had every fact skipped (exit 3)."""
        return (any(o.status == "nothing usable" for o in self.outcomes)
                and not any(o.status == "ran" for o in self.outcomes))


def paper_plan(paper: str, claims: dict | None = None) -> dict:
    claims = claims or load_claims()
    if paper not in claims["papers"]:
        raise ConfigError(f"--paper {paper!r}: unknown; choose one of {', '.join(sorted(claims['papers']))}")
    return claims["papers"][paper]


def _say(message: str, quiet: bool) -> None:
    # tqdm.write keeps a bar on a terminal intact; in a log it is one plain line
    if not quiet:
        from tqdm.auto import tqdm

        tqdm.write(message, file=sys.stderr)


def run_paper(paper: str, model: str = "smollm2-135m", preset: str | None = "cpu", limit: int | None = None,
              output: str | Path = "reproduce", seed: int = 42, quiet: bool = True, runner=None,
              only: list[str] | None = None) -> Reproduction:
    """Run the paper's available tasks, writing report.md/report.html into ``output`` after each
    task, so an interrupted run leaves a report of the tasks done so far (the rest marked).
    ``only``: run just these tasks of the paper (e.g. its cheapest on another model); the others
    are reported as not selected."""
    from ..harness import RunSpec
    from ..harness import run as harness_run
    from ..harness.progress import progress
    from ..tasks.methods import is_known
    from ..io import read_json
    from ..tasks import discover_tasks

    claims = load_claims()
    plan = paper_plan(paper, claims)
    output = Path(output)
    available = discover_tasks()
    if only is not None:
        unknown = [t for t in only if t not in plan["tasks"]]
        if unknown or not only:
            raise ConfigError(f"--tasks {','.join(only) or '(empty)'}: {', '.join(unknown) or 'no task'} "
                              f"{'is' if len(unknown) == 1 else 'are'} not a task of paper {paper}; "
                              f"its tasks: {', '.join(plan['tasks'])}")
    selected = [t for t in plan["tasks"] if only is None or t in only]
    check_preset(preset, [available[t] for t in selected if t in available], paper)
    # what every task's run would refuse: refused once here, before the report folder exists
    if not str(model).strip():
        raise DKNBenchError("--model is empty; give an embedded model name, a local folder or a Hub id")
    if limit is not None and limit < 1:
        raise DKNBenchError(f"--limit must be >= 1, got {limit}")
    if output.exists() and not output.is_dir():
        raise DKNBenchError(f"--output {output} is a file; give a folder for the report")
    output.mkdir(parents=True, exist_ok=True)
    runner = runner or harness_run
    tasks = [(t, m) for t, m in plan["tasks"].items() if t in selected]
    outcomes: list[TaskOutcome] = []
    left_out = [TaskOutcome(t, "not selected (--tasks)") for t in plan["tasks"] if t not in selected]

    def report() -> Path:
        pending = [TaskOutcome(task, "pending") for task, _ in tasks[len(outcomes):]]
        return write_report(paper, plan, outcomes + pending + left_out, claims, output, model=model, preset=preset,
                            limit=limit)

    report()
    for number, (task, methods) in enumerate(progress(tasks, desc=f"reproduce {paper}", unit="task", quiet=quiet), 1):
        if task not in available:
            outcomes.append(TaskOutcome(task, "not available"))
            _say(f"reproduce {paper} [{number}/{len(tasks)}] {task}: not available", quiet)
            report()
            continue
        kind = available[task].method_kind  # a plan may name a variant: atp[direction=corrupt]
        usable = [m for m in methods if is_known(kind, m)]
        outcome = TaskOutcome(task, "ran", usable, [m for m in methods if not is_known(kind, m)],
                              output=str(output / task))
        task_preset = preset if preset in (available[task].presets or {}) else None
        _say(f"reproduce {paper} [{number}/{len(tasks)}] {task}: running {', '.join(usable)}", quiet)
        try:
            path = runner(RunSpec(task=task, methods=usable, model=model, limit=limit, seed=seed,
                                  output=str(output / task), preset=task_preset, quiet=quiet))
            outcome.summary = read_json(path)
        except KeyboardInterrupt:
            outcome.status = "interrupted"
            outcomes.append(outcome)
            # the partial report: tasks done, this one interrupted, the rest pending
            print(f"reproduce {paper}: interrupted in {task}; partial report: {report()}", file=sys.stderr)
            raise
        except NothingUsable as error:  # the harness's exit-3 case, reported with its reasons
            outcome.status, outcome.error = "nothing usable", error.reason
        except (DKNBenchError, Exception) as error:  # a failed task is reported, the others still run
            outcome.status, outcome.error = "failed", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        outcomes.append(outcome)
        _say(f"reproduce {paper} [{number}/{len(tasks)}] {task}: {outcome.status}"
             + (f" ({outcome.error})" if outcome.error else ""), quiet)
        report()
    return Reproduction(report(), outcomes)


def check_preset(preset: str | None, configs: list, paper: str) -> None:
    """A preset no task of the paper defines is a typo, not "run the defaults" (exit 2)."""
    known = sorted({name for config in configs for name in (config.presets or {})})
    if preset is not None and preset not in known:
        raise ConfigError(f"--preset {preset!r}: no task of paper {paper!r} defines it; "
                          f"presets: {', '.join(known) or '(none)'}")


def write_report(paper: str, plan: dict, outcomes: list[TaskOutcome], claims: dict, output: Path,
                 model: str = "", preset: str | None = None, limit: int | None = None) -> Path:
    import jinja2

    from .pages import statistic_text, verdict_rows, verdict_text
    from .verdicts import load_run_data

    summaries = {o.task: o.summary for o in outcomes if o.summary is not None}
    results = [evaluate_claim(c, summaries.get(c["task"])) for c in claims.get("claims") or []
               if c["paper"] == paper and "compare" in c]
    # the statistical verdicts, from the per-fact values of the run folders written so far
    runs = {o.task: load_run_data(o.output) if o.output and o.status == "ran" else None for o in outcomes}
    verdicts = [{"id": c["id"], "text": c["text"], "section": c.get("section", ""), "task": c["task"],
                 "statistic": v.statistic or "–", "estimate": statistic_text(v) if v.estimate is not None else "–",
                 "n": "–" if v.n is None else v.n, "paper_value": c.get("paper_value", "–"),
                 "verdict": verdict_text(v), "verdict_plain": verdict_text(v).replace("**", "")}
                for c, v in verdict_rows(paper, claims, runs)]
    tasks = []
    for o in outcomes:
        entry = {"task": o.task, "status": o.status, "methods": o.methods, "skipped_methods": o.skipped_methods,
                 "error": o.error, "output": o.output, "tables": {}, "references": [], "figures": [],
                 "n_facts": None, "n_used": None, "paper_ref": ""}
        if o.summary:
            entry.update(tables={name: table_columns(rows) for name, rows in (o.summary.get("tables") or {}).items()},
                         references=reference_rows(o.summary),
                         figures=o.summary.get("figures") or [], n_facts=o.summary.get("n_facts"),
                         n_used=o.summary.get("n_used"), paper_ref=o.summary.get("paper", ""))
        tasks.append(entry)
    unfinished = [o.task for o in outcomes if o.status in ("pending", "interrupted")]
    context = {"paper": paper, "plan": plan, "tasks": tasks, "claims": results, "model": model,
               "verdicts": verdicts,
               "unfinished": unfinished,
               "preset": preset or "", "limit": limit,
               "counts": {s: sum(1 for r in results if r["status"] == s) for s in STATUSES},
               "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    md_env = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
    md_env.filters["cell"] = _cell
    html_env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html_env.filters["cell"] = _cell
    (output / "report.md").write_text(md_env.from_string(MARKDOWN).render(**context), encoding="utf-8")
    (output / "report.html").write_text(html_env.from_string(HTML).render(**context), encoding="utf-8")
    return output / "report.md"


def table_columns(rows: list[dict]) -> dict:
    """{cols, rows}: every row's keys, label columns (method, language, ...) first."""
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    cols = [c for c in LABEL_COLUMNS if c in cols] + [c for c in cols if c not in LABEL_COLUMNS]
    return {"cols": cols, "rows": rows}


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return str(value)[:60]
    return str(value).replace("|", "\\|").replace("\n", " ")


MARKDOWN = """# Reproduction report: {{ plan.title }} ({{ plan.paper }})

Model `{{ model }}`, preset `{{ preset or "default" }}`{% if limit %}, limit {{ limit }} facts per task{% endif %}; {{ created }}.
Small runs on a small model: the directions below are indications, not a replication.
{% if unfinished %}

**Partial report**: not finished yet or interrupted; tasks still to run: {{ unfinished | join(", ") }}.
{% endif %}

## Claims

{{ counts.supports }} supported, {{ counts.contradicts }} contradicted, {{ counts.unavailable }} unavailable.

| claim | task | our run | evidence |
| --- | --- | --- | --- |
{% for c in claims %}
| {{ c.text | cell }} | {{ c.task }} | **{{ c.status }}** | {{ c.detail | cell }} |
{% endfor %}

## Verdicts

One-sided tests in the paper's direction at α = 0.05 on the per-fact values (`dknbench/claims.yaml`
names the test and reading of each claim).

| claim | section | task | our statistic | estimate [95 % CI] | n | paper | verdict |
| --- | --- | --- | --- | --- | --- | --- | --- |
{% for v in verdicts %}
| {{ v.text | cell }} | {{ v.section | cell }} | {{ v.task }} | {{ v.statistic | cell }} | {{ v.estimate | cell }} | {{ v.n }} | {{ v.paper_value | cell }} | {{ v.verdict | cell }} |
{% endfor %}

{% for t in tasks %}
## {{ t.task }}{% if t.paper_ref %} ({{ t.paper_ref }}){% endif %}

{% if t.status != "ran" %}
**{{ t.status }}**{% if t.error %}: {{ t.error }}{% endif %}

{% else %}
Methods: {{ t.methods | join(", ") }}{% if t.skipped_methods %} (not available: {{ t.skipped_methods | join(", ") }}){% endif %}; facts: {{ t.n_facts }} ({{ t.n_used }} used); run folder `{{ t.output }}`.

{% for name, table in t.tables.items() %}
### {{ name }}

{% if table.rows %}
{% set cols = table.cols %}
| {{ cols | join(" | ") }} |
|{% for c in cols %} --- |{% endfor %}

{% for row in table.rows %}
|{% for c in cols %} {{ row.get(c) | cell }} |{% endfor %}

{% endfor %}
{% else %}
(empty)
{% endif %}

{% endfor %}
{% if t.references %}
### ours vs paper

| source | paper model | method | metric | group | paper | ours | note |
| --- | --- | --- | --- | --- | --- | --- | --- |
{% for r in t.references %}
| {{ r.source }} | {{ r.model }} | {{ r.method }} | {{ r.metric }} | {{ r.group | cell }} | {{ r.paper | cell }} | {{ r.ours | cell }} | {{ r.note | cell }} |
{% endfor %}

{% endif %}
{% for f in t.figures %}
![{{ f }}]({{ t.task }}/{{ f }})
{% endfor %}
{% endif %}
{% endfor %}
"""

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reproduction report: {{ plan.title }}</title>
<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;font-size:90%}.supports{color:#070}.contradicts{color:#a00}
.unavailable{color:#777}</style></head><body>
<h1>Reproduction report: {{ plan.title }} ({{ plan.paper }})</h1>
<p>Model <code>{{ model }}</code>, preset <code>{{ preset or "default" }}</code>{% if limit %}, limit {{ limit }} facts per task{% endif %}; {{ created }}.
Small runs on a small model: the directions below are indications, not a replication.</p>
{% if unfinished %}<p><b>Partial report</b>: not finished yet or interrupted; tasks still to run: {{ unfinished | join(", ") }}.</p>{% endif %}
<h2>Claims</h2>
<p>{{ counts.supports }} supported, {{ counts.contradicts }} contradicted, {{ counts.unavailable }} unavailable.</p>
<table><tr><th>claim</th><th>task</th><th>our run</th><th>evidence</th></tr>
{% for c in claims %}<tr><td>{{ c.text }}</td><td>{{ c.task }}</td><td class="{{ c.status }}"><b>{{ c.status }}</b></td><td>{{ c.detail }}</td></tr>
{% endfor %}</table>
<h2>Verdicts</h2>
<table><tr><th>claim</th><th>section</th><th>task</th><th>our statistic</th><th>estimate [95 % CI]</th><th>n</th><th>paper</th><th>verdict</th></tr>
{% for v in verdicts %}<tr><td>{{ v.text }}</td><td>{{ v.section }}</td><td>{{ v.task }}</td><td>{{ v.statistic }}</td><td>{{ v.estimate }}</td><td>{{ v.n }}</td><td>{{ v.paper_value }}</td><td>{{ v.verdict_plain }}</td></tr>
{% endfor %}</table>
{% for t in tasks %}
<h2>{{ t.task }}{% if t.paper_ref %} ({{ t.paper_ref }}){% endif %}</h2>
{% if t.status != "ran" %}<p><b>{{ t.status }}</b>{% if t.error %}: {{ t.error }}{% endif %}</p>
{% else %}
<p>Methods: {{ t.methods | join(", ") }}{% if t.skipped_methods %} (not available: {{ t.skipped_methods | join(", ") }}){% endif %}; facts: {{ t.n_facts }} ({{ t.n_used }} used); run folder <code>{{ t.output }}</code>.</p>
{% for name, table in t.tables.items() %}<h3>{{ name }}</h3>
{% if table.rows %}{% set cols = table.cols %}<table><tr>{% for c in cols %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in table.rows %}<tr>{% for c in cols %}<td>{{ row.get(c) | cell }}</td>{% endfor %}</tr>
{% endfor %}</table>{% else %}<p>(empty)</p>{% endif %}
{% endfor %}
{% if t.references %}<h3>ours vs paper</h3><table><tr><th>source</th><th>paper model</th><th>method</th><th>metric</th><th>group</th><th>paper</th><th>ours</th><th>note</th></tr>
{% for r in t.references %}<tr><td>{{ r.source }}</td><td>{{ r.model }}</td><td>{{ r.method }}</td><td>{{ r.metric }}</td><td>{{ r.group }}</td><td>{{ r.paper | cell }}</td><td>{{ r.ours | cell }}</td><td>{{ r.note }}</td></tr>
{% endfor %}</table>{% endif %}
{% for f in t.figures %}<img src="{{ t.task }}/{{ f }}" alt="{{ f }}" style="max-width:100%">{% endfor %}
{% endif %}
{% endfor %}
</body></html>
"""
