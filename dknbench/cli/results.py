"""`dknbench results`: collect run directories into one table; optionally write the dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

# run settings compared between the rows of one task; the rest of a run's config names the task
# or the methods, which the table shows anyway
SETTINGS = ("model", "dataset", "limit", "seed", "dtype")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "results",
        help="collect run directories into one results table / dataset",
        description="Read every summary.json below RUNS_DIR (run directories, folders of them, or a "
                    "results dataset folder), print one table per task (a row per method and configuration: "
                    "the settings that differ between runs, then each metric as value [95 % CI]), "
                    "and with --output "
                    "write a dataset folder that datasets.load_dataset() can load.",
    )
    parser.add_argument("runs", nargs="*", default=["runs"], metavar="RUNS_DIR",
                        help="run directories or folders containing them (default: ./runs)")
    parser.add_argument("--task", action="append", help="keep only this task (repeatable)")
    parser.add_argument("--method", action="append", help="keep only this method (repeatable)")
    parser.add_argument("--model", action="append", help="keep only this model (repeatable)")
    parser.add_argument("--metric", action="append", help="keep only this metric (repeatable)")
    parser.add_argument("--output", metavar="DIR", help="write the results dataset into DIR")
    parser.set_defaults(func=run)


def run_settings(summary: dict) -> dict:
    """What a run was configured with: model, dataset, limit, seed, dtype and every task option,
    from summary.json's resolved ``config`` (top-level fields for older summaries)."""
    config = summary.get("config") or {}
    settings = {key: config.get(key, summary.get(key)) for key in SETTINGS}
    settings.update(config.get("options") or {})
    return settings


def differing_settings(settings: list[dict]) -> list[str]:
    """The settings whose value is not the same in every run (absent counts as a value)."""
    keys = list(dict.fromkeys(k for s in settings for k in s))
    missing = object()
    return [k for k in keys if len({repr(s.get(k, missing)) for s in settings}) > 1]


def task_tables(frame, runs) -> list[tuple[str, list[dict]]]:
    """One (header, rows) per task: rows lead with method (and group), then ``config``, the
    settings that differ between this task's runs (so rows of two configurations never look the
    same), then the metrics in the task YAML's order as value [CI]. Settings common to all the
    task's runs go into the header."""
    from ..harness.report import declared_order, facts_used, pivot_records

    by_dir = {str(run.run_dir): run_settings(run.summary) for run in runs}
    tables = []
    for task, rows in frame.groupby("task", sort=True):
        run_dirs = list(dict.fromkeys(rows["run_dir"]))
        settings = {d: by_dir.get(d) or {key: rows.loc[rows["run_dir"] == d, key].iloc[0]
                                         for key in ("model", "dataset", "seed")} for d in run_dirs}
        differ = differing_settings(list(settings.values()))
        common = {k: v for k, v in next(iter(settings.values())).items() if k not in differ and v is not None}
        labels = {d: " ".join(f"{k}={settings[d].get(k)}" for k in differ) for d in run_dirs}
        duplicated = len(set(labels.values())) < len(run_dirs)
        records = []
        for row in rows.to_dict("records"):
            record = {k: (None if _nan(v) else v) for k, v in row.items()}
            record["config"] = labels[row["run_dir"]]
            # two runs of one configuration: name the folder, or their rows would merge
            record["run"] = Path(row["run_dir"]).name if duplicated else ""
            records.append(record)
        order = declared_order(task, rows["metric"])
        # the facts used of those selected, as the console says it, when every run of the task agrees
        # (else each row's n column tells)
        used = {facts_used(run.summary) for run in runs if str(run.run_dir) in run_dirs}
        header = " | ".join([task, *(f"{k} {v}" for k, v in common.items() if k in SETTINGS),
                             *(f"facts {u}" for u in used if len(used) == 1)])
        tables.append((header, pivot_records(records, order, ["method", "group", "config", "run"])))
    return tables


def _nan(value) -> bool:
    import pandas as pd

    return not isinstance(value, (list, dict)) and bool(pd.isna(value))


def run(args: argparse.Namespace) -> int:
    from ..harness.report import render_table
    from ..results import filter_results, load_source, write_results

    if args.output:  # before reading the runs: a folder that is not dknbench's is refused up front
        from ..io import check_replaceable

        check_replaceable(args.output)
    frame, runs = load_source(args.runs)
    frame = filter_results(frame, task=args.task, method=args.method, model=args.model,
                           metric=args.metric)
    if frame.empty:
        print("no metric records found")
    for header, rows in ([] if frame.empty else task_tables(frame, runs)):
        print(f"{header}\n{render_table(rows, ['method', 'group', 'config', 'run'])}\n")
    if args.output:
        kept = set(frame["run_dir"].dropna())
        runs = [run for run in runs if str(run.run_dir) in kept]
        out = write_results(frame, args.output, runs=runs)
        print(f"wrote {len(frame)} rows from {len(runs)} runs to {out}")
    return 0
