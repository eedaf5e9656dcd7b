"""A claim's verdict from a run folder's per-fact values: the statistic, its CI and n.

A claim of ``claims.yaml`` carries either ``not_testable: reason`` or a ``test``:

    test: {kind, a: VALUES, b: VALUES, bar: number, alternative: greater|less, alpha: 0.05}

kind: ``paired_t`` (a vs b on the facts both have, scipy.stats.ttest_rel), ``welch_t`` (a vs b
as independent groups, ttest_ind equal_var=False), ``one_sample_t`` (a against ``bar``,
ttest_1samp: the CI of the mean excludes the floor), ``binomial`` (a's 0/1 values against the
share ``bar``, binomtest), ``comparison`` (a t-test the task itself wrote into summary.json's
``comparisons``, picked by ``method_a``, ``method_b``, ``metric``; ``welch: true`` reads its
Welch columns, ``paired: true`` its paired t over the units both sides share) or ``record`` (set-level numbers with one value per run, e.g. an F1: ``a`` and
``b`` are {method, metric, group} records of summary.json, or ``bar`` a number; supported when
a's 95 % CI lies beyond b's CI, undefined without CIs; ``share: true`` with a ``bar`` tests a
share record of n facts by the binomial test on share x n). The tests are one-sided in the paper's
direction (``alternative``, default greater) at level ``alpha`` (default 0.05), and the CI shown is
the test's own one-sided (1 - alpha) interval, e.g. [low, inf): it excludes the paper's floor
exactly when the test rejects.

VALUES picks one number per fact from the run's rows (samples.parquet, or facts/*.json of a run
that has not finished, so a partial run is read as it stands):

    {method, field, minus, reduce, explode, where, type, abs_limit, split}

``field`` is a dotted path into the row (``delta_prob.values/D``); ``explode`` names a list column
whose items become the rows (knowledge-editing's ``edits``, query-kn-mapping's ``effects``);
``where`` keeps rows whose dotted fields equal the given values; ``source: per_fact`` reads
instead the sample ``summary.json["per_fact"][method][field]`` (a list: independent units, no
pairing; a mapping fact id -> value: facts, paired by id); ``type`` K_I / K_II keeps the
facts of that type by their CS2 and the run's threshold (003 §2.1; static from the run's options,
Otsu from the summary's ``threshold`` record), and ``field: "@K_II"`` gives 1 when a fact is K_II
and 0 when K_I; ``abs_limit`` drops values beyond it (the papers' 900 % outlier rule, applied to
the tested number); ``reduce`` turns a list (a ΔProb curve, per-query probabilities) into one number
(mean, last, max_but_last, mean_but_last) and ``minus`` subtracts a second field of the same row,
reduced alike. Rows of one fact are averaged, so every test unit is a fact.

Verdicts: **supported** (the test rejects at alpha in the paper's direction), **not supported**
(it does not), **undefined** (the run is missing, or too few facts, or the statistic is NaN, with
the reason, or the claim's own ``undefined`` reason) and **not testable here** (the claim's
``not_testable`` reason).

Too few facts: a test with fewer than ``min_n`` units (default ``MIN_N`` = 10 facts; for Welch,
each group; for a record, its n) gives **undefined**, never a verdict. A run in progress is read
as it stands, and at n = 2 a t-test that fails to reject says nothing about the claim; below 10
units the t-test's normal approximation of the mean is also not one to lean on. A claim may set
its own ``min_n`` in its test (e.g. higher where the paper's effect is small).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError

VERDICTS = ("supported", "not supported", "undefined", "not testable here")
KINDS = ("paired_t", "welch_t", "one_sample_t", "binomial", "comparison", "record")
VALUE_KEYS = {"method", "field", "explode", "where", "type", "abs_limit", "split", "reduce", "minus", "source"}
TEST_KEYS = {"kind", "a", "b", "bar", "alternative", "alpha", "method_a", "method_b", "metric", "welch", "paired",
             "share", "min_n"}
MIN_N = 10  # fewer test units than this give "undefined", never a verdict (see the module docstring)
RECORD_KEYS = {"method", "metric", "group"}
REDUCERS = ("mean", "last", "max_but_last", "mean_but_last")
TYPES = ("K_I", "K_II")


@dataclass
class Verdict:
    """One claim's outcome: the verdict, the statistic's text, its CI, n and the reason/reading."""

    verdict: str
    statistic: str = ""
    estimate: float | None = None
    ci: tuple[float, float] | None = None
    n: int | None = None
    p: float | None = None
    reason: str = ""
    extra: dict = field(default_factory=dict)


def check_keys(spec: dict, allowed, where: str, what: str) -> None:
    """A claims-file mapping (``what`` at ``where``) holds only ``allowed`` keys."""
    unknown = set(spec) - set(allowed)
    if unknown:
        raise ConfigError(f"{where}: {what} has unknown key(s) {', '.join(sorted(unknown))}")


def validate_test(spec, where: str) -> None:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: test must be a mapping")
    check_keys(spec, TEST_KEYS, where, "test")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: test kind {kind!r}; allowed: {', '.join(KINDS)}")
    if spec.get("alternative", "greater") not in ("greater", "less"):
        raise ConfigError(f"{where}: alternative must be greater or less, got {spec.get('alternative')!r}")
    alpha = spec.get("alpha", 0.05)
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ConfigError(f"{where}: alpha must be in (0, 1), got {alpha!r}")
    min_n = spec.get("min_n", MIN_N)
    if not isinstance(min_n, int) or isinstance(min_n, bool) or min_n < 2:
        raise ConfigError(f"{where}: min_n must be an integer >= 2, got {min_n!r}")
    if kind == "comparison":
        missing = {"method_a", "method_b", "metric"} - set(spec)
        if missing:
            raise ConfigError(f"{where}: a comparison test needs {', '.join(sorted(missing))}")
        if spec.get("welch") and spec.get("paired"):
            raise ConfigError(f"{where}: a comparison test reads welch or paired, not both")
        return
    if kind == "record":
        for side in ("a", "b"):
            record = spec.get(side)
            if side == "b" and record is None and "bar" in spec:
                continue
            if not isinstance(record, dict) or "metric" not in record or set(record) - RECORD_KEYS:
                raise ConfigError(f"{where}: a record test's {side} is a mapping of {', '.join(sorted(RECORD_KEYS))}"
                                  + (" (or give bar instead of b)" if side == "b" else ""))
        return
    needed = {"paired_t": ("a", "b"), "welch_t": ("a", "b"), "one_sample_t": ("a", "bar"),
              "binomial": ("a", "bar")}[kind]
    for key in needed:
        if key not in spec:
            raise ConfigError(f"{where}: a {kind} test needs {key!r}")
    for side in ("a", "b"):
        values = spec.get(side)
        if values is None:
            continue
        if not isinstance(values, dict) or "field" not in values:
            raise ConfigError(f"{where}: test.{side} must be a mapping with 'field'")
        check_keys(values, VALUE_KEYS, where, f"test.{side}")
        if values.get("source") not in (None, "rows", "per_fact"):
            raise ConfigError(f"{where}: test.{side}.source must be rows or per_fact, got {values['source']!r}")
        if values.get("reduce") not in (None, *REDUCERS):
            raise ConfigError(f"{where}: test.{side}.reduce must be one of {', '.join(REDUCERS)}, got {values['reduce']!r}")
        if values.get("type") not in (None, *TYPES):
            raise ConfigError(f"{where}: test.{side}.type must be K_I or K_II, got {values['type']!r}")


# ---------------------------------------------------------------------------------------- values

@dataclass
class RunData:
    """What a committed run folder holds, read without computing anything."""

    folder: Path
    rows: list[dict]
    summary: dict | None
    run_info: dict
    n_fact_files: int
    wall_s: float | None
    cpu_s: float | None
    timed_facts: int = 0  # fact files that record their seconds (older ones do not)
    # a post-facts fine-tuning phase (knowledge-update's training.json): {"wall", "cpu"} summed over
    # the timed steps, "timed"/"phases": how many of its fine-tuning runs were timed; None: no phase
    finetune_s: dict | None = None

    @property
    def options(self) -> dict:
        source = (self.summary or {}).get("config") or self.run_info.get("resolved") or {}
        return source.get("options") or {}


def load_run_data(folder: str | Path) -> RunData | None:
    """The run at ``folder`` (summary.json + samples.parquet, or run.json + facts/*.json), or None."""
    from ..io import read_json

    folder = Path(folder)
    summary_file, run_file = folder / "summary.json", folder / "run.json"
    fact_paths = sorted((folder / "facts").glob("*.json")) if (folder / "facts").is_dir() else []
    if not summary_file.is_file() and not fact_paths:
        return None
    summary = read_json(summary_file) if summary_file.is_file() else None
    run_info = read_json(run_file) if run_file.is_file() else {}
    records = [read_json(p) for p in fact_paths]
    if records:
        rows = [row for r in records for row in r.get("rows") or []]
    else:
        from ..results.store import SAMPLES_FILE, read_samples

        samples = folder / SAMPLES_FILE
        rows = read_samples(samples).to_dict("records") if samples.is_file() else []
    timed = [r.get("seconds") for r in records]
    timed = [t for t in timed if isinstance(t, dict)]
    wall = float(sum(t.get("wall", 0.0) for t in timed)) if timed else None
    cpu = float(sum(t.get("cpu", 0.0) for t in timed)) if timed else None
    return RunData(folder, rows, summary, run_info, len(records), wall, cpu, len(timed),
                   finetune_seconds(folder / "training.json"))


def finetune_seconds(training_file: Path) -> dict | None:
    """The timed fine-tuning steps of a knowledge-update run (its settings and the incremental
    start), summed; None when the run has no training phase (yet)."""
    from ..io import read_json

    if not training_file.is_file():
        return None
    training = read_json(training_file)
    phases = [training.get("incremental") or {}] + [s for s in (training.get("settings") or {}).values()
                                                    if s.get("available")]
    phases = [p for p in phases if p.get("steps")]  # a phase that ran at least one step
    timed = [p["step_seconds"] for p in phases if isinstance(p.get("step_seconds"), dict)]
    return {"wall": float(sum(sum(t.get("wall") or []) for t in timed)),
            "cpu": float(sum(sum(t.get("cpu") or []) for t in timed)),
            "timed": len(timed), "phases": len(phases)}


def _decode(value):
    """samples.parquet keeps dicts (and untyped lists) as JSON text; numpy arrays become lists."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, np.ndarray):
        return [_decode(v) for v in value.tolist()]
    return value


def _get(row: dict, path: str):
    value = row
    for part in path.split("."):
        value = _decode(value)
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return _decode(value)


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(float(value)):
        return float(value)
    return None


def type_threshold(run: RunData, method: str, split: str) -> float | None:
    """003's CS2 threshold of this run: static from the options, Otsu from the summary record."""
    if split == "static":
        value = run.options.get("static_threshold")
        return float(value) if value is not None else None
    for record in (run.summary or {}).get("metrics") or []:
        if record.get("method") == method and record.get("metric") == "threshold" and record.get("group") == split:
            return _number(record.get("value"))
    return None


def fact_values(run: RunData, spec: dict) -> tuple[dict[str, float], str]:
    """{fact_id: value} for one VALUES spec (rows of a fact averaged), and '' or why it is empty."""
    method = spec.get("method")
    if spec.get("source") == "per_fact":
        # a sample the task kept in summary.json's per_fact: a list (e.g. per-query 0/1 correctness
        # after a fine-tuning run) is independent units, numbered "#i", for a Welch or one-sample
        # test only; a mapping fact id -> value (kn-localization's paired facts) pairs by fact id
        kept = ((run.summary or {}).get("per_fact") or {}).get(method, {}).get(spec["field"]) or []
        items = kept.items() if isinstance(kept, dict) else ((f"#{i}", v) for i, v in enumerate(kept))
        values = {str(key): float(v) for key, v in items if _number(v) is not None}
        return values, "" if values else f"no per_fact sample {spec['field']} of {method} in summary.json"
    rows = [r for r in run.rows if method is None or r.get("method") == method]
    split = spec.get("split", "static")
    threshold = None
    if spec.get("type") or str(spec["field"]).startswith("@"):
        threshold = type_threshold(run, method, split)
        if threshold is None:
            return {}, f"no {split} CS2 threshold in the run"
    if spec.get("type"):
        rows = [r for r in rows if _type_of(r.get("cs2"), threshold) == spec["type"]]
    per_fact: dict[str, list[float]] = {}
    limit = spec.get("abs_limit")
    for row in rows:
        items = [row]
        if spec.get("explode"):
            items = [item if isinstance(item, dict) else {} for item in (_get(row, spec["explode"]) or [])]
        for item in items:
            if any(_get(item, k) != v for k, v in (spec.get("where") or {}).items()):
                continue
            if str(spec["field"]).startswith("@"):
                kind = _type_of(row.get("cs2"), threshold)
                value = None if kind is None else float(kind == spec["field"][1:])
            else:
                value = _reduced(_get(item, spec["field"]), spec.get("reduce"))
                if value is not None and spec.get("minus"):
                    other = _reduced(_get(item, spec["minus"]), spec.get("reduce"))
                    value = None if other is None else value - other
            if value is None or (limit is not None and abs(value) > limit):
                continue
            per_fact.setdefault(str(row.get("fact_id")), []).append(value)
    values = {fact: float(np.mean(v)) for fact, v in per_fact.items()}
    return values, "" if values else f"no value of {_describe(spec)}"


def _describe(spec: dict) -> str:
    """The VALUES spec in words, for an undefined verdict's reason."""
    text = f"{spec['field']}" + (f" - {spec['minus']}" if spec.get("minus") else "")
    text += f" for method {spec.get('method')}"
    if spec.get("type"):
        text += f" among {spec['type']} facts ({spec.get('split', 'static')} split)"
    if spec.get("where"):
        text += " where " + ", ".join(f"{k}={v}" for k, v in spec["where"].items())
    return text


def _reduced(value, how: str | None) -> float | None:
    """A number, or one number from a list (a curve, per-query values) when ``reduce`` says how."""
    if how is None:
        return _number(value)
    if not isinstance(value, list):
        return None
    numbers = [_number(v) for v in value]
    if not numbers or any(v is None for v in numbers):
        return None
    if how == "mean":
        return float(np.mean(numbers))
    if how == "last":
        return numbers[-1]
    if len(numbers) < 2:
        return None
    return float(max(numbers[:-1]) if how == "max_but_last" else np.mean(numbers[:-1]))


def _type_of(cs2, threshold):
    cs2 = _number(cs2)
    if cs2 is None or threshold is None:
        return None
    return "K_I" if cs2 > threshold else "K_II"


# ------------------------------------------------------------------------------------ statistics

def paired_t(a, b, alternative="greater", alpha=0.05) -> Verdict:
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = a - b
    if diff.size < 2:
        return Verdict("undefined", reason=f"n = {diff.size} paired facts (need >= 2)", n=int(diff.size))
    res = stats.ttest_rel(a, b, alternative=alternative)
    ci = res.confidence_interval(1 - alpha)
    return _decide(f"paired t({diff.size - 1}) = {res.statistic:.3g}", float(diff.mean()), ci, diff.size,
                   res.pvalue, alpha, "mean difference a - b")


def welch_t(a, b, alternative="greater", alpha=0.05) -> Verdict:
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or b.size < 2:
        return Verdict("undefined", reason=f"n = {a.size} and {b.size} facts (need >= 2 each)", n=int(a.size + b.size))
    res = stats.ttest_ind(a, b, equal_var=False, alternative=alternative)
    ci = res.confidence_interval(1 - alpha)
    verdict = _decide(f"Welch t({res.df:.1f}) = {res.statistic:.3g}", float(a.mean() - b.mean()), ci,
                      a.size + b.size, res.pvalue, alpha, f"difference of means (n = {a.size} vs {b.size})")
    verdict.extra["units"] = int(min(a.size, b.size))  # min_n holds for each group
    return verdict


def one_sample_t(a, bar, alternative="greater", alpha=0.05) -> Verdict:
    from scipy import stats

    a = np.asarray(a, float)
    if a.size < 2:
        return Verdict("undefined", reason=f"n = {a.size} facts (need >= 2)", n=int(a.size))
    res = stats.ttest_1samp(a, bar, alternative=alternative)
    ci = res.confidence_interval(1 - alpha)
    return _decide(f"t({a.size - 1}) = {res.statistic:.3g} vs {bar:g}", float(a.mean()), ci, a.size,
                   res.pvalue, alpha, f"mean against the bar {bar:g}")


def binomial(a, bar, alternative="greater", alpha=0.05) -> Verdict:
    from scipy import stats

    a = np.asarray(a, float)
    if a.size < 1:
        return Verdict("undefined", reason="no fact", n=0)
    k = int(round(a.sum()))
    res = stats.binomtest(k, int(a.size), bar, alternative=alternative)
    ci = res.proportion_ci(1 - alpha, method="wilson")
    return _decide(f"binomial {k}/{a.size} vs {bar:g}", k / a.size, ci, a.size, res.pvalue, alpha,
                   f"share against the bar {bar:g}")


def _decide(statistic, estimate, ci, n, p, alpha, what) -> Verdict:
    ci = (float(ci.low), float(ci.high)) if hasattr(ci, "low") else (float(ci[0]), float(ci[1]))
    if p is None or not math.isfinite(p):
        return Verdict("undefined", statistic, estimate, ci, int(n), None,
                       reason="the statistic is NaN (no variance among the facts)")
    verdict = "supported" if p < alpha else "not supported"
    return Verdict(verdict, f"{statistic}, p = {p:.3g}", estimate, ci, int(n), float(p), reason=what)


def comparison_verdict(summary: dict | None, spec: dict) -> Verdict:
    """A t-test the task computed itself (summary.json ``comparisons``), one-sided from its t."""
    from scipy import stats

    if summary is None:
        return Verdict("undefined", reason="the run has no summary.json yet (not finished)")
    found = [c for c in summary.get("comparisons") or []
             if c.get("method_a") == spec["method_a"] and c.get("method_b") == spec["method_b"]
             and c.get("metric") == spec["metric"]]
    if not found:
        return Verdict("undefined", reason=f"no comparison {spec['method_a']} vs {spec['method_b']} on {spec['metric']}")
    c = found[0]
    alpha = spec.get("alpha", 0.05)
    if spec.get("paired"):
        if "paired_t" not in c:
            return Verdict("undefined", reason="the task's comparison has no paired test (summarized before it had one)")
        n = int(c.get("n_pairs") or 0)
        t = _number(c.get("paired_t"))
        if t is None:
            return Verdict("undefined", n=n, reason=f"the paired t is NaN: the two sides differ on none of the "
                                                    f"{n} paired units (every difference is 0)" if n >= 2 else
                           f"the paired t is NaN: {n} paired units")
        df, name, units = max(1, n - 1), "paired", n
    else:
        t = _number(c.get("welch_t" if spec.get("welch") else "t"))
        n = int(c.get("n_a", 0)) + int(c.get("n_b", 0))
        if t is None:
            return Verdict("undefined", n=n, reason="the task's t is NaN")
        df = max(1, n - 2)  # Student df; for Welch a conservative bound
        name, units = "Welch" if spec.get("welch") else "Student", min(int(c.get("n_a", 0)), int(c.get("n_b", 0)))
    p = float(stats.t.sf(t, df) if spec.get("alternative", "greater") == "greater" else stats.t.cdf(t, df))
    statistic = f"paired t({df}) = {t:.3g}" if spec.get("paired") else f"t = {t:.3g} (task's {name} test)"
    return Verdict("supported" if p < alpha else "not supported", f"{statistic}, p = {p:.3g}",
                   None, None, n, p, reason=f"the task's comparison, n = {c.get('n_a')} vs {c.get('n_b')}"
                   + (f", {n} paired" if spec.get("paired") else ""), extra={"units": units})


def _record(summary: dict, spec: dict) -> dict | None:
    for record in summary.get("metrics") or []:
        if (record.get("method") == spec.get("method", record.get("method")) and record.get("metric") == spec["metric"]
                and str(record.get("group", "")) == str(spec.get("group", ""))):
            return record
    return None


def record_verdict(summary: dict | None, spec: dict) -> Verdict:
    """Set-level numbers (one per run, e.g. an F1 or a success-rate ratio): supported when a's 95 %
    CI lies wholly beyond b's CI (or beyond the bar) in the paper's direction, not supported when
    it does not; undefined when a number or its CI is missing, since one number is no test."""
    if summary is None:
        return Verdict("undefined", reason="the run has no summary.json yet (not finished)")
    greater = spec.get("alternative", "greater") == "greater"
    a = _record(summary, spec["a"])
    if a is None or a.get("value") is None:
        why = (a or {}).get("undefined") or "no such record"
        return Verdict("undefined", n=(a or {}).get("n"), reason=f"{_label(spec['a'])}: {why}")
    if spec.get("b") is not None:
        b = _record(summary, spec["b"])
        if b is None or b.get("value") is None:
            why = (b or {}).get("undefined") or "no such record"
            return Verdict("undefined", n=a.get("n"), reason=f"{_label(spec['b'])}: {why}")
        b_value, b_text = float(b["value"]), f"{_label(spec['b'])} = {b['value']:.4g}"
        b_edge = b.get("ci_high") if greater else b.get("ci_low")
    else:
        b_value = b_edge = float(spec["bar"])
        b_text = f"bar {b_value:g}"
        if spec.get("share") and None in (a.get("ci_low"), a.get("ci_high")):
            # a share of n facts kept without its count (e.g. kn-consistency's ∩:II): the count is
            # share x n, so the exact binomial test against the bar applies
            n = int(a.get("n") or 0)
            k = int(round(float(a["value"]) * n))
            return binomial([1.0] * k + [0.0] * (n - k), b_value, spec.get("alternative", "greater"),
                            spec.get("alpha", 0.05))
    ci = (a.get("ci_low"), a.get("ci_high"))
    statistic = f"{_label(spec['a'])} = {a['value']:.4g} vs {b_text}"
    if None in ci or b_edge is None:
        return Verdict("undefined", statistic, float(a["value"]), None, a.get("n"),
                       reason="a set-level number without a CI on both sides: one number per run is no test")
    beyond = ci[0] > b_edge if greater else ci[1] < b_edge
    return Verdict("supported" if beyond else "not supported", statistic, float(a["value"]), (ci[0], ci[1]),
                   a.get("n"), reason="95 % CIs compared (non-overlap, conservative)")


def _label(spec: dict) -> str:
    group = spec.get("group", "")
    return f"{spec.get('method', '')} {spec['metric']}" + (f"[{group}]" if group else "")


def evaluate(claim: dict, run: RunData | None) -> Verdict:
    """Exactly one of VERDICTS for ``claim`` on ``run`` (the claim's task's run folder); a verdict
    on fewer than the test's ``min_n`` units becomes undefined (the statistic is still shown)."""
    verdict = _evaluate(claim, run)
    spec = claim.get("test") or {}
    min_n = spec.get("min_n", MIN_N)
    units = verdict.extra.get("units", verdict.n)
    if verdict.verdict in ("supported", "not supported") and units is not None and units < min_n:
        return Verdict("undefined", verdict.statistic, verdict.estimate, verdict.ci, verdict.n, verdict.p,
                       reason=f"too few facts: n = {units} < {min_n} (a verdict needs >= {min_n})" + (
                           f"; the run is in progress ({run.n_fact_files} facts so far)"
                           if run is not None and run.summary is None else ""), extra=verdict.extra)
    return verdict


def _evaluate(claim: dict, run: RunData | None) -> Verdict:
    if claim.get("not_testable"):
        return Verdict("not testable here", reason=str(claim["not_testable"]))
    if claim.get("undefined"):  # a claim the papers leave without a testable margin
        return Verdict("undefined", reason=str(claim["undefined"]))
    spec = claim.get("test")
    if spec is None:
        return Verdict("undefined", reason="the claim has no test")
    validate_test(spec, f"claim {claim['id']}")
    if run is None:
        return Verdict("undefined", reason=f"no run of task {claim['task']}")
    alternative, alpha = spec.get("alternative", "greater"), spec.get("alpha", 0.05)
    if spec["kind"] == "comparison":
        return comparison_verdict(run.summary, spec)
    if spec["kind"] == "record":
        return record_verdict(run.summary, spec)
    a, why_a = fact_values(run, spec["a"])
    if not a:
        return Verdict("undefined", n=0, reason=why_a)
    if spec["kind"] in ("one_sample_t", "binomial"):
        test = one_sample_t if spec["kind"] == "one_sample_t" else binomial
        return test(list(a.values()), float(spec["bar"]), alternative, alpha)
    b, why_b = fact_values(run, spec["b"])
    if not b:
        return Verdict("undefined", n=0, reason=why_b)
    if spec["kind"] == "paired_t":
        if any(key.startswith("#") for key in (*a, *b)):
            return Verdict("undefined", n=0, reason="a per_fact list is numbered units, not facts: "
                                                    "nothing to pair (use welch_t)")
        common = sorted(set(a) & set(b))
        return paired_t([a[f] for f in common], [b[f] for f in common], alternative, alpha)
    return welch_t(list(a.values()), list(b.values()), alternative, alpha)
