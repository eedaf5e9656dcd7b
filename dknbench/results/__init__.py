"""Run directories -> one results dataset (a pandas frame, a parquet file, a Hub-style dataset)."""

from .store import (
    read_samples,
    write_samples,
    RESULT_COLUMNS,
    Run,
    collect,
    filter_results,
    frame_from_runs,
    load_runs,
    load_source,
    read_results,
    write_results,
)

__all__ = [
    "read_samples",
    "write_samples",
    "RESULT_COLUMNS",
    "Run",
    "collect",
    "filter_results",
    "frame_from_runs",
    "load_runs",
    "load_source",
    "read_results",
    "write_results",
]
