"""The results schema, one home for the writer and the reader.

``metric_record`` / ``estimate_record`` build the metric records tasks return, ``summary_record``
is the summary.json the harness writes (``harness.runner.finish``), ``validate_summary`` is the
check every reader applies (``results.store.load_run``), and ``RESULT_COLUMNS`` are the columns of
the results dataset that ``results.store`` flattens the records into. docs/ARCHITECTURE.md
describes each field.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DKNBenchError

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
                  higher_is_better: bool = True, undefined: str | None = None,
                  ci_method: str | None = None) -> dict:
    """One metric record of summary.json (docs/ARCHITECTURE.md). ``undefined`` names why the
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
              "higher_is_better": bool(higher_is_better)}
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


def estimate_record(method: str, metric: str, estimate, group: str = "",
                    higher_is_better: bool = True) -> dict:
    """A metric record from a ``metrics.Estimate`` (value, CI and how it was computed, n, or the
    reason it is undefined)."""
    return metric_record(method, metric, estimate.value, estimate.n, group=group,
                         ci=(estimate.low, estimate.high), higher_is_better=higher_is_better,
                         undefined=estimate.undefined, ci_method=getattr(estimate, "ci_method", None))


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
    return validate_summary({key: fields[key] for key in SUMMARY_FIELDS}, path)


def _fail(path: Path, problem: str) -> DKNBenchError:
    return DKNBenchError(f"{path}: {problem} (see docs/ARCHITECTURE.md, summary.json)")


def validate_summary(summary, path: Path) -> dict:
    """The reader's check of a summary.json (``load_run``); ``finish`` runs it on what it writes."""
    if not isinstance(summary, dict):
        raise _fail(path, f"expected a JSON object, got {type(summary).__name__}")
    for key in ("task", "model"):
        if not isinstance(summary.get(key), str) or not summary[key]:
            raise _fail(path, f"field {key!r} must be a non-empty string, got {summary.get(key)!r}")
    records = summary.get("metrics")
    if not isinstance(records, list):
        raise _fail(path, f"field 'metrics' must be a list of metric records, got {records!r}")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise _fail(path, f"metrics[{i}] must be an object with {RECORD_FIELDS_TEXT}")
        for key in ("method", "metric"):
            if not isinstance(record.get(key), str) or not record[key]:
                raise _fail(path, f"metrics[{i}].{key} must be a non-empty string, got {record.get(key)!r}")
        if "value" not in record:
            raise _fail(path, f"metrics[{i}].value is missing; a metric record has {RECORD_FIELDS_TEXT}")
        value = record["value"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _fail(path, f"metrics[{i}].value must be a number or null, got {value!r}")
        if "undefined" in record:
            reason = record["undefined"]
            if not isinstance(reason, str) or not reason.strip():
                raise _fail(path, f"metrics[{i}].undefined must be a non-empty reason string, got {reason!r}")
            if value is not None:
                raise _fail(path, f"metrics[{i}] is undefined ({reason}) but has value {value!r}; "
                                  "an undefined metric has value null")
        if "ci_method" in record and record["ci_method"] not in ci_methods():
            raise _fail(path, f"metrics[{i}].ci_method must be one of {', '.join(map(repr, ci_methods()))}, "
                              f"got {record['ci_method']!r}")
    return summary
