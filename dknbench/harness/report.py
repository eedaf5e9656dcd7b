"""Print a run summary as plain-text tables."""

from __future__ import annotations

import pandas as pd


def _fmt(value):
    if value is None:
        return "/"
    if isinstance(value, float):
        return "/" if value != value else f"{value:.4g}"
    return value


def print_summary(summary: dict, stream) -> None:
    print(f"task {summary['task']} | model {summary['model']} | methods {', '.join(summary['methods'])} "
          f"| facts {summary.get('n_used', 0)}/{summary['n_facts']} used | seed {summary['seed']}",
          file=stream)
    for name, rows in (summary.get("tables") or {}).items():
        if rows:
            frame = pd.DataFrame(rows).map(_fmt)
            print(f"\n{name}\n{frame.to_string(index=False)}", file=stream)
    if summary.get("comparisons"):
        frame = pd.DataFrame(summary["comparisons"]).map(_fmt)
        print(f"\ncomparisons\n{frame.to_string(index=False)}", file=stream)
    if summary.get("skipped"):
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(summary["skipped"].items()))
        print(f"\nskipped (counted, not errors): {skipped}", file=stream)
    if summary.get("figures"):
        print(f"figures: {', '.join(summary['figures'])}", file=stream)
