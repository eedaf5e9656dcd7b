"""The results dataset: every metric record of every run's summary.json as one table.

Runs are written independently (one folder per task x model x method ...); comparing them needs one
flat table. ``collect`` reads run folders (or folders of them, or a dataset written before) into a
DataFrame with one row per metric record; ``write_results`` saves it as a dataset folder that
``datasets.load_dataset(folder)`` loads (parquet + a README.md card whose YAML lists the files).
Alongside the metric rows the folder keeps one row per run (``data/runs.parquet``, the whole
summary as JSON) and the runs' figures, so the leaderboard can be rebuilt from the dataset alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..errors import DKNBenchError
from ..io import atomic_write, inside, read_json, read_parquet, replace_folder, write_parquet
from .schema import RESULT_COLUMNS, RESULT_ROWS, RUN_ROWS, STRING_COLUMNS, checked, validate_summary

SAMPLES_FILE = "samples.parquet"
RESULTS_FILE = Path("data") / "results.parquet"
RUNS_FILE = Path("data") / "runs.parquet"


@dataclass
class Run:
    """One run directory: its parsed summary.json and the figure files that exist."""

    run_dir: Path
    summary: dict
    figure_paths: list[Path] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        """A short stable name for the run (its folder path hashed), used for copied figures."""
        return hashlib.sha1(str(self.run_dir).encode()).hexdigest()[:10]

    @property
    def task(self) -> str:
        return self.summary["task"]

    @property
    def model(self) -> str:
        return self.summary["model"]


def _sample_column(values: list):
    """A per-fact column for parquet: lists (neuron lists ``[[layer, index], ...]``, curves) become a
    native list column when arrow can type them; dicts, and lists arrow cannot type (mixed kinds),
    stay JSON text as before."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (list, tuple)) for v in present):
        try:
            return pa.array([None if v is None else list(v) for v in values])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass
    if any(isinstance(v, (list, tuple, dict)) for v in present):
        return pa.array([None if v is None else json.dumps(v) for v in values], type=pa.string())
    return None  # plain scalars: let pandas/arrow infer as before


def write_samples(path: str | Path, rows: list[dict]) -> Path:
    """Write the per-fact rows as ``samples.parquet`` (atomically), nested lists as list columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame(rows)
    columns = {}
    for name in frame.columns:
        values = [None if _missing(v) else v for v in frame[name].tolist()]
        column = _sample_column(values)
        columns[name] = column if column is not None else pa.array(frame[name], from_pandas=True)
    table = pa.table(columns) if columns else pa.table({})
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _json_list(value):
    if isinstance(value, str) and value[:1] == "[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def read_samples(path: str | Path) -> pd.DataFrame:
    """``samples.parquet`` with list columns as Python lists; a file written before list columns
    (nested values JSON-encoded as text) reads the same, its JSON lists decoded."""
    table = read_parquet(path)
    data = {}
    for name in table.column_names:
        column = table.column(name)
        if pa_is_list(column.type):
            data[name] = pd.Series(column.to_pylist(), dtype=object)
        elif str(column.type) in ("string", "large_string"):
            values = column.to_pylist()
            decoded = [_json_list(v) for v in values]
            data[name] = pd.Series(decoded, dtype=object) if decoded != values else column.to_pandas()
        else:
            data[name] = column.to_pandas()
    return pd.DataFrame(data)


def pa_is_list(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)


def load_run(run_dir: str | Path) -> Run:
    """Read and check ``run_dir/summary.json``; its figures must lie inside ``run_dir``."""
    run_dir = Path(run_dir).resolve()
    path = run_dir / "summary.json"
    try:
        summary = read_json(inside(run_dir, "summary.json", str(path)))
    except FileNotFoundError:
        raise DKNBenchError(f"{run_dir}: no summary.json; is this a finished run directory?") from None
    validate_summary(summary, path)
    return Run(run_dir, summary, _figures(run_dir, summary.get("figures"), f"{path} figures"))


def _figures(root: Path, names, where: str) -> list[Path]:
    """The figure files named (relative to ``root``) that exist; a name leading outside ``root``
    (``..``, an absolute path, a symlink out) is an error, so no outside file is ever copied."""
    if names is None:
        return []
    if not isinstance(names, list):
        raise DKNBenchError(f"{where}: must be a list of file names, got {type(names).__name__}")
    paths = [inside(root, name, where) for name in names]
    return [p for p in paths if p.is_file()]


def _summary_files(path: Path) -> list[Path]:
    if (path / "summary.json").is_file():
        return [path / "summary.json"]
    return sorted(p for p in path.rglob("summary.json") if p.is_file())


def _as_paths(paths) -> list[Path]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return [Path(p) for p in paths]


def load_runs(run_dirs_or_root) -> list[Run]:
    """Every run below the given paths: a path is a run directory (has summary.json) or any folder
    searched recursively for them. A path that does not exist is an error; one without runs too,
    because an empty leaderboard usually means a wrong path."""
    runs: list[Run] = []
    for path in _as_paths(run_dirs_or_root):
        if not path.exists():
            raise DKNBenchError(f"{path}: no such folder; pass run directories or a folder containing them")
        files = _summary_files(path)
        if not files:
            raise DKNBenchError(f"{path}: no summary.json found below it; pass run directories "
                                "written by `dknbench run` or a results dataset folder")
        runs.extend(load_run(f.parent) for f in files)
    return runs


def _number(value) -> float:
    if value is None:
        return math.nan
    return float(value)


def _rows(run: Run) -> list[dict]:
    summary, versions = run.summary, run.summary.get("versions") or {}
    base = {
        "task": summary["task"],
        "model": summary["model"],
        "model_fingerprint": summary.get("model_fingerprint"),
        "dataset": None if summary.get("dataset") is None else str(summary["dataset"]),
        "seed": summary.get("seed"),
        "config_hash": summary.get("config_hash"),
        "dknbench_version": versions.get("dknbench"),
        "torch_version": versions.get("torch"),
        "transformers_version": versions.get("transformers"),
        "run_dir": str(run.run_dir),
        "created": summary.get("created"),
    }
    rows = []
    for record in summary["metrics"]:
        rows.append({
            **base,
            "metric": record["metric"],
            "group": str(record.get("group") or ""),
            "method": record["method"],
            "value": _number(record.get("value")),
            "n": record.get("n"),
            "ci_low": _number(record.get("ci_low")),
            "ci_high": _number(record.get("ci_high")),
            "higher_is_better": record.get("higher_is_better"),
            "undefined": record.get("undefined"),
            "ci_method": record.get("ci_method"),
        })
    return rows


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Fixed column order and dtypes, so an empty or all-null column still has a type in parquet
    (``datasets`` needs the same schema whatever the runs contained)."""
    frame = frame.reindex(columns=RESULT_COLUMNS)
    for column in STRING_COLUMNS:
        frame[column] = frame[column].astype("string")
    for column in ("seed", "n"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    for column in ("value", "ci_low", "ci_high"):
        frame[column] = frame[column].astype("float64")
    frame["higher_is_better"] = frame["higher_is_better"].astype("boolean")
    return frame.reset_index(drop=True)


def frame_from_runs(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per metric record of each run, columns ``RESULT_COLUMNS``."""
    rows = [row for run in runs for row in _rows(run)]
    frame = _typed(pd.DataFrame(rows, columns=RESULT_COLUMNS))
    keys = ["task", "metric", "group", "method", "model", "seed", "run_dir"]
    return frame.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def _is_dataset(path: Path) -> bool:
    return (path / RESULTS_FILE).is_file()


def load_source(run_dirs_or_root) -> tuple[pd.DataFrame, list[Run]]:
    """(results table, runs) of run directories, folders of runs, and/or results dataset folders
    (one path or a list of them)."""
    frames, runs, loose = [], [], []
    for path in _as_paths(run_dirs_or_root):
        if _is_dataset(path):
            frame, dataset_runs = read_results(path)
            frames.append(frame)
            runs.extend(dataset_runs)
        else:
            found = load_runs(path)
            loose.extend(found)
            runs.extend(found)
    if loose:
        frames.append(frame_from_runs(loose))
    frames = [f for f in frames if len(f)]
    if not frames:
        return _typed(pd.DataFrame(columns=RESULT_COLUMNS)), runs
    return _typed(pd.concat(frames, ignore_index=True)), runs


def collect(run_dirs_or_root) -> pd.DataFrame:
    """The results table (one row per metric record, ``RESULT_COLUMNS``) of run directories,
    folders of runs, or results dataset folders."""
    return load_source(run_dirs_or_root)[0]


def filter_results(frame: pd.DataFrame, task=None, method=None, model=None, metric=None) -> pd.DataFrame:
    """Rows matching every given filter; each filter is a name or a list of names. A name that
    occurs nowhere in its column is an error naming what is available (a typo would otherwise
    print an empty table)."""
    mask = pd.Series(True, index=frame.index)
    for column, wanted in (("task", task), ("method", method), ("model", model), ("metric", metric)):
        if wanted is None:
            continue
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        available = set(frame[column].dropna())
        missing = [n for n in names if n not in available]
        if missing:
            raise DKNBenchError(f"no results with {column} {missing[0]!r}; available: "
                                f"{', '.join(sorted(available)) or '(none)'}")
        mask &= frame[column].isin(names)
    return frame[mask].reset_index(drop=True)


def _runs_table(runs: list[Run], figures: dict[str, list[str]]) -> pd.DataFrame:
    rows = [{
        "run_id": run.run_id,
        "run_dir": str(run.run_dir),
        "task": run.task,
        "model": run.model,
        "created": run.summary.get("created"),
        "figures": json.dumps(figures.get(run.run_id, [])),
        "summary": json.dumps(run.summary, sort_keys=True, default=str),
    } for run in runs]
    frame = pd.DataFrame(rows, columns=["run_id", "run_dir", "task", "model", "created", "figures", "summary"])
    return frame.astype("string")


def _card(frame: pd.DataFrame, with_runs: bool) -> str:
    from ..data.cards import card_text

    configs = [("default", RESULTS_FILE)] + ([("runs", RUNS_FILE)] if with_runs else [])
    metadata = {"configs": [{"config_name": name, "data_files": [{"split": "train", "path": path.as_posix()}]}
                            for name, path in configs], "tags": ["dknbench", "knowledge-neurons"]}
    tasks = ", ".join(sorted(frame["task"].dropna().unique())) or "(none)"
    models = ", ".join(sorted(frame["model"].dropna().unique())) or "(none)"
    body = f"""# dknbench results

Metric records collected from `dknbench run` directories by `dknbench results --output`.
One row per metric record of a run's `summary.json` (see docs/ARCHITECTURE.md of dknbench).

- rows: {len(frame)}
- tasks: {tasks}
- models: {models}

## Configurations

- `default` (`{RESULTS_FILE.as_posix()}`): columns {', '.join(f'`{c}`' for c in RESULT_COLUMNS)}.
  `value`, `ci_low`, `ci_high` are NaN where a run reported null; `undefined` holds the reason
  when the number does not exist (e.g. a ratio whose denominator's 95 % CI contains 0), else null;
  `ci_method` says how a CI was computed where the run named it (e.g. "t, clipped" for a count);
  `group` is "" when the metric has no grouping.
"""
    if with_runs:
        body += f"""- `runs` (`{RUNS_FILE.as_posix()}`): one row per run with its whole `summary.json` as JSON
  (references, per-fact values, comparisons) and its figures, copied under `figures/<run_id>/`.
"""
    body += """
## Loading

```python
import datasets
results = datasets.load_dataset("path/to/this/folder", split="train")
runs = datasets.load_dataset("path/to/this/folder", "runs", split="train")
```
"""
    return card_text(metadata, body)


def write_results(frame: pd.DataFrame, out_dir: str | Path, runs: list[Run] | None = None) -> Path:
    """Write ``frame`` (``RESULT_COLUMNS``) as a dataset folder; returns ``out_dir``.

    ``out_dir/data/results.parquet`` and the README.md card (YAML ``configs``/``data_files``) are
    always written; with ``runs`` also ``data/runs.parquet`` and the runs' figures. The folder is
    written beside ``out_dir`` and swapped into place whole (``io.replace_folder``), so a crash
    never leaves a card pointing at a half file, and only a folder dknbench wrote is replaced.
    """
    out_dir = Path(out_dir)
    missing = [c for c in RESULT_COLUMNS if c not in frame.columns]
    if missing:
        raise DKNBenchError(f"results frame lacks column {missing[0]!r}; expected {', '.join(RESULT_COLUMNS)}")
    # a whole new folder swapped into place: a folder dknbench did not write is refused, and an
    # error leaves the previous dataset as it was (io.replace_folder)
    with replace_folder(out_dir, "results") as tmp:
        write_parquet(tmp / RESULTS_FILE, _typed(frame))
        if runs is not None:
            figures: dict[str, list[str]] = {}
            for run in runs:
                for source in run.figure_paths:
                    relative = Path("figures") / run.run_id / source.name
                    atomic_write(tmp / relative, lambda t, src=source: shutil.copyfile(src, t))
                    figures.setdefault(run.run_id, []).append(relative.as_posix())
            write_parquet(tmp / RUNS_FILE, _runs_table(runs, figures))
        card = _card(frame, runs is not None)
        atomic_write(tmp / "README.md", lambda t: t.write_text(card))
    return out_dir


def read_results(out_dir: str | Path) -> tuple[pd.DataFrame, list[Run]]:
    """(results table, runs) of a dataset folder written by ``write_results``; the runs are rebuilt
    from ``data/runs.parquet`` (an empty list when the folder has none) with their figures
    pointing at the copies in the folder."""
    out_dir = Path(out_dir).resolve()
    if not _is_dataset(out_dir):
        raise DKNBenchError(f"{out_dir}: not a results dataset (no {RESULTS_FILE.as_posix()})")
    table = read_parquet(inside(out_dir, RESULTS_FILE.as_posix(), str(out_dir)))
    checked(RESULT_ROWS, table.to_pylist(), out_dir / RESULTS_FILE)  # its declared schema, row by row
    frame = _typed(table.to_pandas())
    runs: list[Run] = []
    if (out_dir / RUNS_FILE).is_file():
        where = str(out_dir / RUNS_FILE)
        table = read_parquet(inside(out_dir, RUNS_FILE.as_posix(), where))
        checked(RUN_ROWS, table.to_pylist(), where)
        table = table.to_pandas()
        for number, row in enumerate(table.itertuples(index=False)):
            try:
                summary, names = json.loads(row.summary), json.loads(row.figures)
            except (AttributeError, TypeError, json.JSONDecodeError) as error:
                raise DKNBenchError(f"{where} row {number}: summary/figures are not JSON ({error})") from None
            validate_summary(summary, Path(f"{where} row {number}"))
            runs.append(Run(Path(row.run_dir), summary, _figures(out_dir, names, f"{where} row {number} figures")))
    return frame, runs
