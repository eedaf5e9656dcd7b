"""`dknbench results`: collect run directories into one table; optionally write the dataset."""

from __future__ import annotations

import argparse

TABLE_COLUMNS = ["task", "metric", "group", "method", "model", "dataset", "seed", "value",
                 "ci_low", "ci_high", "n"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "results",
        help="collect run directories into one results table / dataset",
        description="Read every summary.json below RUNS_DIR (run directories, folders of them, or a "
                    "results dataset folder), print one row per metric record, and with --output "
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


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..results import filter_results, load_source, write_results

    frame, runs = load_source(args.runs)
    frame = filter_results(frame, task=args.task, method=args.method, model=args.model,
                           metric=args.metric)
    if frame.empty:
        print("no metric records found")
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None,
                               "display.width", 200):
            print(frame[TABLE_COLUMNS].to_string(index=False))
    if args.output:
        kept = set(frame["run_dir"].dropna())
        runs = [run for run in runs if str(run.run_dir) in kept]
        out = write_results(frame, args.output, runs=runs)
        print(f"wrote {len(frame)} rows from {len(runs)} runs to {out}")
    return 0
