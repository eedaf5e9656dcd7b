"""Print a run summary as plain-text tables.

Every table leads with what a row is (``method``, then its ``group`` when the task groups), then the
numbers: the metric records in the task YAML's ``metrics:`` order, each as ``value [ci_low, ci_high]``
to 3 significant figures, or ``undefined (reason)`` when the record says the number does not exist
(docs/ARCHITECTURE.md, metric record). Wide tables are cut into column blocks that each repeat the
leading columns, so a row can be read without counting columns across a wrapped terminal line.
"""

from __future__ import annotations

import math
import shutil

MISSING = "/"
COMPARISON_LEAD = ["method_a", "method_b", "metric"]
COMPARISON_ORDER = ["n_pairs", "paired_t", "paired_p", "t", "p", "welch_t", "welch_p", "cohens_d", "n_a", "n_b"]


def sig3(value) -> str:
    """A number to 3 significant figures: plain notation between 1e-3 and 1e5, else scientific;
    ints (counts) unchanged; None/NaN -> "/"."""
    if value is None or isinstance(value, bool):
        return MISSING if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return MISSING
    if math.isinf(value) or value == 0.0:
        return str(value) if math.isinf(value) else "0"
    magnitude = math.floor(math.log10(abs(value)))
    rounded = round(value, 2 - magnitude)
    magnitude = math.floor(math.log10(abs(rounded)))  # 0.09996 rounds up to 0.1: one digit less
    if not -3 <= magnitude < 5:
        return f"{value:.2e}"
    decimals = max(0, 2 - magnitude)
    return f"{round(value, 2 - magnitude):.{decimals}f}"


def format_value(value, low=None, high=None, undefined=None) -> str:
    """``value [low, high]`` (the CI only when both bounds are known), or ``undefined (reason)``."""
    if undefined:
        return f"undefined ({undefined})"
    text = sig3(value)
    if text != MISSING and not _missing(low) and not _missing(high):
        text += f" [{sig3(low)}, {sig3(high)}]"
    return text


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(value) -> str:
    return value if isinstance(value, str) else sig3(value)


def render_table(rows: list[dict], lead: list[str], order: list[str] = (), width: int | None = None) -> str:
    """Rows (dicts of already formatted or raw values) as aligned text. Columns: ``lead`` first
    (those present), then ``order``, then the others in first-seen order. Blocks of columns that
    fit ``width`` characters each repeat the ``lead`` columns."""
    if not rows:
        return ""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    keys = [c for c in lead if c in columns]
    rest = [c for c in order if c in columns and c not in keys]
    rest += [c for c in columns if c not in keys and c not in rest]
    cells = [{c: _cell(row.get(c, "")) if c in row else "" for c in columns} for row in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    width = width or max(80, shutil.get_terminal_size((120, 24)).columns)
    key_width = sum(widths[c] + 2 for c in keys)
    blocks, block, used = [], [], key_width
    for column in rest:
        if block and used + widths[column] + 2 > width:
            blocks.append(block)
            block, used = [], key_width
        block.append(column)
        used += widths[column] + 2
    blocks.append(block)
    out = []
    for block in blocks:
        shown = keys + block
        numeric = {c: c not in keys for c in shown}

        def line(values):
            return "  ".join(v.rjust(widths[c]) if numeric[c] else v.ljust(widths[c])
                             for c, v in zip(shown, values)).rstrip()

        out.append(line(shown))
        out += [line([r[c] for c in shown]) for r in cells]
        out.append("")
    return "\n".join(out).rstrip()


def metric_order(summary: dict) -> list[str]:
    """The task YAML's ``metrics:`` order (when the task is known here), then any other metric in
    the order the records give it."""
    return declared_order(summary["task"], [r["metric"] for r in summary.get("metrics") or []])


def declared_order(task: str, metrics) -> list[str]:
    """``metrics`` (deduplicated) in the order task ``task``'s YAML declares them, then the rest."""
    seen = list(dict.fromkeys(metrics))
    try:
        from ..tasks import get_task

        declared = list(get_task(task).metrics or [])
    except Exception:  # a task from --include-path, or an old summary: keep the records' order
        declared = []
    return [m for m in declared if m in seen] + [m for m in seen if m not in declared]


def pivot_records(records: list[dict], order: list[str], keys: list[str]) -> list[dict]:
    """One row per distinct ``keys`` tuple (first-seen order): the ``keys`` columns (a column whose
    every value is "" is left out), then each metric of ``order`` as a formatted cell, then ``n``:
    the facts most of the row's records were measured on (ties: the larger); a metric measured on
    another n says so in its cell. (Taking the first metric's n printed 0 beside "n=7" when the
    first record was undefined on every fact.)"""
    by_key: dict[tuple, dict[str, dict]] = {}
    for record in records:
        key = tuple(str(record.get(k) or "") for k in keys)
        by_key.setdefault(key, {})[record["metric"]] = record
    shown = [k for i, k in enumerate(keys) if i == 0 or any(key[i] for key in by_key)]
    rows = []
    for key, by_metric in by_key.items():
        row = {k: v for k, v in zip(keys, key) if k in shown}
        row_n = common_n([by_metric[m] for m in order if m in by_metric])
        for metric in order:
            record = by_metric.get(metric)
            if record is None:
                row[metric] = ""
                continue
            cell = format_value(record.get("value"), record.get("ci_low"), record.get("ci_high"),
                                record.get("undefined"))
            if record.get("n") != row_n:
                cell += f" n={record.get('n')}"
            row[metric] = cell
        row["n"] = row_n
        rows.append(row)
    return rows


def common_n(records: list[dict]):
    """The n most of ``records`` share (ties: the largest); None when none has one."""
    counts: dict = {}
    for record in records:
        if record.get("n") is not None:
            counts[record["n"]] = counts.get(record["n"], 0) + 1
    return max(counts, key=lambda n: (counts[n], n)) if counts else None


def facts_used(summary: dict) -> str:
    """``7/20 used``: the facts that gave rows out of those selected (skipped ones are not used);
    the console, `dknbench results` and the leaderboard all say it this way."""
    used = summary.get("n_used")
    return f"{'?' if used is None else used}/{summary.get('n_facts', '?')} used"


def metrics_table(summary: dict) -> list[dict]:
    """The run's metric records, one row per (method, group)."""
    return pivot_records(summary.get("metrics") or [], metric_order(summary), ["method", "group"])


def print_summary(summary: dict, stream) -> None:
    print(f"task {summary['task']} | model {summary['model']} | methods {', '.join(summary['methods'])} "
          f"| facts {facts_used(summary)} | seed {summary['seed']}",
          file=stream)
    if summary.get("metrics"):
        print("\nmetrics (value [95 % CI], 3 significant figures)", file=stream)
        print(render_table(metrics_table(summary), ["method", "group"]), file=stream)
    for name, rows in (summary.get("tables") or {}).items():
        if rows:
            print(f"\n{name}\n{render_table(rows, ['method'])}", file=stream)
    if summary.get("comparisons"):
        print(f"\ncomparisons\n{render_table(summary['comparisons'], COMPARISON_LEAD, COMPARISON_ORDER)}", file=stream)
    if summary.get("skipped"):
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(summary["skipped"].items()))
        print(f"\nskipped (counted, not errors): {skipped}", file=stream)
    if summary.get("passed_over"):
        passed = ", ".join(f"{k}: {v}" for k, v in sorted(summary["passed_over"].items()))
        print(f"passed over (did not meet the task's requirements; not counted by --limit): {passed}", file=stream)
    if summary.get("figures"):
        print(f"figures: {', '.join(summary['figures'])}", file=stream)
