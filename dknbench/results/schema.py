"""The results schema, one home for the writer and the reader.

``metric_record`` / ``estimate_record`` build the metric records tasks return, ``summary_record``
is the summary.json the harness writes (``harness.runner.finish``), ``validate_summary`` is the
check every reader applies (``results.store.load_run``), and ``RESULT_COLUMNS`` are the columns of
the results dataset that ``results.store`` flattens the records into. docs/ARCHITECTURE.md
describes each field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..errors import DKNBenchError

# A metric's direction has one home: its task YAML's ``metrics: {name: direction}``. The harness
# writes it into every record (``with_directions``) and into summary.json's ``metric_directions``;
# tasks never state it in code.
METRIC_DIRECTIONS = ("higher_is_better", "lower_is_better", "none")  # none: descriptive, not ranked
RANKED_DIRECTIONS = ("higher_is_better", "lower_is_better")
METRIC_FIELDS = ("method", "metric", "group", "value", "n", "ci_low", "ci_high", "higher_is_better")
# undefined: present only when the number does not exist, with the reason;
# ci_method: how the CI was computed (stats.CI_*), present where a task names it
OPTIONAL_METRIC_FIELDS = ("undefined", "ci_method")
RECORD_FIELDS_TEXT = f"{', '.join(METRIC_FIELDS)} (and {', '.join(OPTIONAL_METRIC_FIELDS)})"
SUMMARY_FIELDS = (
    "task", "task_kind", "methods", "model", "model_fingerprint", "dataset", "seed", "limit", "config",
    "config_hash", "versions", "git_commit", "n_facts", "n_used", "skipped", "passed_over", "metrics", "tables",
    "comparisons", "references", "figures", "per_fact", "paper", "description", "metric_directions",
    "created",
)

RESULT_COLUMNS = [
    "task", "metric", "group", "method", "model", "model_fingerprint", "dataset", "seed", "value",
    "n", "ci_low", "ci_high", "higher_is_better", "undefined", "ci_method", "config_hash", "dknbench_version",
    "torch_version", "transformers_version", "run_dir", "created",
]
STRING_COLUMNS = ["task", "metric", "group", "method", "model", "model_fingerprint", "dataset", "undefined",
                  "ci_method", "config_hash", "dknbench_version", "torch_version", "transformers_version",
                  "run_dir", "created"]


def metric_record(method: str, metric: str, value, n: int, group: str = "", ci=(None, None),
                  undefined: str | None = None, ci_method: str | None = None) -> dict:
    """One metric record of summary.json (docs/ARCHITECTURE.md). Its ``higher_is_better`` is
    None here: the harness sets it from the task YAML's direction (``with_directions``). ``undefined`` names why the
    number does not exist (e.g. a ratio whose denominator's 95 % CI contains 0): the record then
    carries ``"undefined": reason`` and null value and CI, so no reader can mistake it for a
    measurement; a NaN value without a reason stays a plain null. ``ci_method`` names how the CI
    was computed (one of ``CI_METHODS``, e.g. a count's t interval clipped at 0); it is written
    only beside a CI."""
    if undefined is not None and not str(undefined).strip():
        raise ValueError("undefined must name the reason, got an empty string")
    if undefined is not None:
        value, ci = None, (None, None)
    clean = None if value is None or value != value else float(value)
    record = {"method": method, "metric": metric, "group": str(group), "value": clean, "n": int(n),
              "ci_low": None if ci[0] is None else float(ci[0]),
              "ci_high": None if ci[1] is None else float(ci[1]),
              "higher_is_better": None}
    if undefined is not None:
        record["undefined"] = str(undefined)
    if ci_method is not None and record["ci_low"] is not None:
        if ci_method not in ci_methods():
            raise ValueError(f"ci_method must be one of {ci_methods()}, got {ci_method!r}")
        record["ci_method"] = ci_method
    return record


def ci_methods() -> tuple[str, ...]:
    """The allowed ``ci_method`` values: the names dknbench.stats gives its intervals."""
    from ..stats import CI_BOOTSTRAP, CI_T, CI_T_CLIPPED, CI_WELCH_T

    return (CI_T, CI_T_CLIPPED, CI_WELCH_T, CI_BOOTSTRAP)


def estimate_record(method: str, metric: str, estimate, group: str = "") -> dict:
    """A metric record from a ``metrics.Estimate`` (value, CI and how it was computed, n, or the
    reason it is undefined)."""
    return metric_record(method, metric, estimate.value, estimate.n, group=group,
                         ci=(estimate.low, estimate.high), undefined=estimate.undefined, ci_method=getattr(estimate, "ci_method", None))


def higher_is_better(direction: str | None) -> bool | None:
    """A record's ``higher_is_better`` for a declared direction: None for ``none`` (descriptive)
    and for a metric its task does not declare."""
    return {"higher_is_better": True, "lower_is_better": False}.get(direction or "")


def with_directions(records: list[dict], directions: dict[str, str]) -> list[dict]:
    """``records`` with each one's ``higher_is_better`` from its task's declared directions
    (``metrics:`` in the task YAML)."""
    return [{**record, "higher_is_better": higher_is_better(directions.get(record["metric"]))}
            for record in records]


def summary_record(path: Path, **fields) -> dict:
    """summary.json's content: exactly ``SUMMARY_FIELDS``, checked as a reader would check it."""
    missing = [key for key in SUMMARY_FIELDS if key not in fields]
    extra = sorted(set(fields) - set(SUMMARY_FIELDS))
    if missing or extra:
        raise ValueError(f"summary fields: missing {missing}, not in the schema {extra}")
    for i, record in enumerate(fields["metrics"]):  # the writer is strict: every field, nothing else
        keys = set(record) if isinstance(record, dict) else set()
        if not set(METRIC_FIELDS) <= keys <= set(METRIC_FIELDS + OPTIONAL_METRIC_FIELDS):
            raise ValueError(f"metrics[{i}] of {path}: a metric record has {RECORD_FIELDS_TEXT}, got "
                             f"{sorted(keys)}; build it with results.schema.metric_record")
    import json

    from ..io import json_default

    # checked as a reader will read it back: numpy numbers and tuples as JSON stores them
    data = json.loads(json.dumps({key: fields[key] for key in SUMMARY_FIELDS}, default=json_default))
    return validate_summary(data, path)


def _fail(path: Path, problem: str) -> DKNBenchError:
    return DKNBenchError(f"{path}: {problem} (see docs/ARCHITECTURE.md, summary.json)")


# --- declared schemas of the files dknbench reads back (pydantic, strict: "1.5" is not a number,
# "yes" is not a boolean). Extra fields are allowed (a newer writer may add some); the fields
# readers use are typed, so a hand-edited file is one line naming the file, field and type.

Int64 = Annotated[int, Field(ge=-2**63, le=2**63 - 1)]  # what parquet's int64 columns hold
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
Name = Annotated[str, Field(min_length=1)]


class _Schema(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=True)


class MetricRecordSchema(_Schema):
    method: Name
    metric: Name
    group: str = ""
    value: Optional[float]
    n: Optional[Count] = None
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    higher_is_better: Optional[bool] = None
    undefined: Optional[Name] = None
    ci_method: Optional[Name] = None


class ComparisonSchema(_Schema):
    method_a: Optional[str] = None
    method_b: Optional[str] = None
    metric: Optional[str] = None
    t: Optional[float] = None
    p: Optional[float] = None
    welch_t: Optional[float] = None
    welch_p: Optional[float] = None
    cohens_d: Optional[float] = None
    n_a: Optional[Count] = None
    n_b: Optional[Count] = None


class ReferenceSchema(_Schema):
    metric: Name
    value: Optional[float]
    source: Optional[str] = None
    model: Optional[str] = None
    method: Optional[str] = None
    group: Optional[Union[str, Int64]] = None
    note: Optional[str] = None


class ConfigSchema(_Schema):
    """summary.json's ``config`` (the resolved run configuration): the parts readers use."""

    options: Optional[dict[str, Any]] = None
    dtype: Optional[str] = None
    methods: Optional[list[str]] = None


class SummarySchema(_Schema):
    task: Name
    task_kind: Optional[str] = None
    methods: Optional[list[str]] = None
    model: Name
    model_fingerprint: Optional[str] = None
    dataset: Optional[str] = None
    seed: Optional[Int64] = None
    limit: Optional[Int64] = None
    config: Optional[ConfigSchema] = None
    config_hash: Optional[str] = None
    versions: Optional[dict[str, Optional[str]]] = None
    git_commit: Optional[str] = None
    n_facts: Optional[Count] = None
    n_used: Optional[Count] = None
    skipped: Optional[dict[str, Count]] = None
    passed_over: Optional[dict[str, Count]] = None
    metrics: list[MetricRecordSchema]
    tables: Optional[dict[str, list[dict[str, Any]]]] = None
    comparisons: Optional[list[ComparisonSchema]] = None
    references: Optional[list[ReferenceSchema]] = None
    figures: Optional[list[str]] = None
    # method -> key -> {fact_id: value} (pairable), or a plain list where facts cannot be paired
    per_fact: Optional[dict[str, dict[str, Union[dict[str, Optional[float]], list[Optional[float]]]]]] = None
    paper: Optional[str] = None
    description: Optional[str] = None
    metric_directions: Optional[dict[str, str]] = None
    created: Optional[str] = None


class RunFileSchema(_Schema):
    """run.json (harness/runner.py writes it)."""

    config_hash: Name
    resolved: Optional[dict[str, Any]] = None
    settings: Optional[dict[str, Any]] = None
    versions: Optional[dict[str, Optional[str]]] = None
    task_file: Optional[str] = None
    n_facts: Optional[Count] = None
    facts_hash: Optional[str] = None
    fact_hashes: Optional[list[str]] = None
    model_fingerprint: Optional[str] = None
    n_layers: Optional[Count] = None
    n_neurons: Optional[Count] = None
    passed_over: Optional[dict[str, Count]] = None


class FactFileSchema(_Schema):
    """facts/<n>.json: one fact's rows and what they were computed from (harness/rundir.py)."""

    index: Count
    fact_id: str
    fact_hash: Optional[str] = None  # absent in files of older versions: refused on resume
    model_fingerprint: Optional[str] = None
    rows_hash: Optional[str] = None
    rows: list[dict[str, Any]]
    skipped: Optional[str]


class ResultRowSchema(_Schema):
    """One row of a results dataset's data/results.parquet (``RESULT_COLUMNS``)."""

    task: Name
    metric: Name
    group: Optional[str] = None
    method: Name
    model: Name
    model_fingerprint: Optional[str] = None
    dataset: Optional[str] = None
    seed: Optional[Int64] = None
    value: Optional[float] = None
    n: Optional[Int64] = None
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    higher_is_better: Optional[bool] = None
    undefined: Optional[str] = None
    config_hash: Optional[str] = None
    dknbench_version: Optional[str] = None
    torch_version: Optional[str] = None
    transformers_version: Optional[str] = None
    run_dir: Optional[str] = None
    created: Optional[str] = None


class RunRowSchema(_Schema):
    """One row of a results dataset's data/runs.parquet."""

    run_id: Name
    run_dir: str
    task: Name
    model: Name
    created: Optional[str] = None
    figures: str
    summary: str


def _field(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the whole file)"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def checked(schema, data, where):
    """``data`` validated against ``schema`` (a pydantic model, or a TypeAdapter for a list of
    rows), or a DKNBenchError of one line: the file, the field, the expected type, the value."""
    try:
        if isinstance(schema, TypeAdapter):
            schema.validate_python(data)
        else:
            schema.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        expected = first["msg"].replace("Input should be", "expected")
        if first["type"] == "missing":
            problem = "missing (required)"
        elif first["type"] in ("model_type", "dict_type"):
            problem = f"expected an object, got {_short(first['input'])}"
        elif first["type"] == "string_too_short":
            problem = f"expected a non-empty string, got {_short(first['input'])}"
        else:
            problem = f"{expected}, got {_short(first['input'])}"
        loc = first["loc"]
        if isinstance(schema, TypeAdapter) and loc and isinstance(loc[0], int):  # a table's rows
            field = f"row {loc[0]}, field {_field(loc[1:])}"
        else:
            field = f"field {_field(loc)}"
        raise DKNBenchError(f"{where}: {field}: {problem}") from None
    return data


RESULT_ROWS = TypeAdapter(list[ResultRowSchema])
RUN_ROWS = TypeAdapter(list[RunRowSchema])


def validate_summary(summary, path: Path) -> dict:
    """The reader's check of a summary.json (``load_run``); ``finish`` runs it on what it writes."""
    if not isinstance(summary, dict):
        raise _fail(path, f"expected a JSON object, got {type(summary).__name__}")
    checked(SummarySchema, summary, path)
    for i, record in enumerate(summary["metrics"]):
        if "value" not in record:
            raise _fail(path, f"metrics[{i}].value is missing; a metric record has {RECORD_FIELDS_TEXT}")
        reason, value = record.get("undefined"), record["value"]
        if reason is not None and value is not None:
            raise _fail(path, f"metrics[{i}] is undefined ({reason}) but has value {value!r}; "
                              "an undefined metric has value null")
        if "ci_method" in record and record["ci_method"] not in ci_methods():
            raise _fail(path, f"metrics[{i}].ci_method must be one of {', '.join(map(repr, ci_methods()))}, "
                              f"got {record['ci_method']!r}")
    return summary
