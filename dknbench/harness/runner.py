"""Run one task with one or more methods on one model and fact set.

Each finished fact is written to ``<output>/facts/<index>.json`` atomically; rerunning the same
command skips those, so a crash or Ctrl-C costs at most the fact in flight. ``run.json`` pins the
resolved configuration: resuming with a different one is refused rather than mixing results.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .progress import progress

from ..selection import select_facts  # scripts import it from here too
from ..errors import ConfigError, NothingUsable, UnknownNameError
from ..tasks.base import Task
from ..io import read_json, write_json
from ..results.store import SAMPLES_FILE, write_samples
from .provenance import config_hash, git_commit, run_settings, seed_everything, versions
from .resume import check_fact_files, check_settings


@dataclass
class RunSpec:
    task: str
    methods: list[str] = field(default_factory=list)  # empty: the task's default method
    model: str = "smollm2-135m"
    dataset: str | None = None
    limit: int | None = None
    seed: int = 42
    output: str | None = None
    overrides: list[str] = field(default_factory=list)
    preset: str | None = None
    include_paths: list[str] = field(default_factory=list)
    device: str = "cpu"
    dtype: str | None = None
    batch_size: int = 128
    max_memory: int | str | None = None  # bytes, "auto" or None (no limit); results do not depend on it
    cache_dir: str | None = None
    no_cache: bool = False
    executor: str = "local"
    ray_address: str | None = None
    quiet: bool = False


LOCALIZER_OPTIONS = ("localizer", "random_match")
MAX_SEED = 2**32


def method_registry(kind: str):
    if kind == "localizer":
        from ..localization import LOCALIZERS

        return LOCALIZERS
    from ..dkn import DKN_METHODS

    return DKN_METHODS


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def resolve(spec: RunSpec):
    """Validate everything that can be validated before loading a model."""
    from ..tasks import get_task, task_class

    config = get_task(spec.task, spec.include_paths)
    cls = task_class(config)
    methods = spec.methods or ([config.default_method] if config.default_method else [])
    if not methods:
        raise ConfigError(f"{config.path.name}: task {config.task!r} needs --method")
    registry = method_registry(config.method_kind)
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise ConfigError(f"--method lists {', '.join(repeated)} more than once; give each method once")
    for method in methods:
        if method not in registry:
            raise UnknownNameError(f"{config.method_kind} method (task {config.task!r} benchmarks "
                                   f"{config.method_kind} methods)", method, registry.names())
    options = config.resolve_options(spec.preset, spec.overrides)
    localizers = method_registry("localizer")
    for key in LOCALIZER_OPTIONS:  # options that name a localizer: checked like --method
        if key in options and options[key] not in localizers:
            raise UnknownNameError(f"localizer in --set {key}", options[key], localizers.names())
    if spec.limit is not None and spec.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {spec.limit}")
    if not spec.model.strip():
        raise ConfigError("--model is empty; give an embedded model name, a local folder or a Hub id")
    if spec.output is not None and not str(spec.output).strip():  # '' would mean the default folder
        raise ConfigError("--output is empty; give a folder, or leave --output out for runs/<task>/...")
    if spec.cache_dir is not None and (not str(spec.cache_dir).strip() or (
            Path(spec.cache_dir).exists() and not Path(spec.cache_dir).is_dir())):
        raise ConfigError(f"--cache-dir {spec.cache_dir!r}: must name a folder (new or existing), "
                          "not a file or ''")
    if not 0 <= spec.seed < MAX_SEED:  # numpy takes 32-bit seeds; a huge one overflows in torch
        raise ConfigError(f"--seed must be in [0, {MAX_SEED - 1}], got {spec.seed}")
    if spec.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {spec.batch_size}")
    from ..models.device import check_device

    check_device(spec.device)
    dataset = spec.dataset or config.dataset
    resolved = {"task": config.task, "methods": methods, "model": spec.model, "dataset": dataset,
                "limit": spec.limit, "seed": spec.seed, "options": options, "dtype": spec.dtype}
    digest = config_hash(resolved)
    output = Path(spec.output) if spec.output else (
        Path("runs") / config.task / _slug(spec.model) / f"{_slug('+'.join(methods))}-seed{spec.seed}-{digest[:8]}")
    return config, cls, methods, options, dataset, resolved, digest, output


def run(spec: RunSpec) -> Path:
    from .start import start_checked

    config, cls, methods, options, dataset, resolved, digest, output = resolve(spec)
    settings = run_settings(spec)
    with start_checked(output, digest):
        check_settings(output, settings)
        facts, lm, task = prepare_start(spec, config, dataset, output)
        check_fact_files(output, facts)
        output.mkdir(parents=True, exist_ok=True)  # only now: every check above has passed
        write_json(output / "run.json", {"config_hash": digest, "resolved": resolved, "versions": versions(),
                                         "task_file": str(config.path), "settings": settings})
        if spec.executor == "ray":
            from .ray_executor import run_facts_on_ray

            run_facts_on_ray(spec, facts, output)
        else:
            record_model(output, lm)
            run_facts(task, facts, output, spec.seed, quiet=spec.quiet, desc=f"{config.task}")
    if (type(task) if task is not None else cls).after_facts is not Task.after_facts:
        # the post-facts phase runs here, on the driver, once every shard has finished
        if task is None:
            from ..models import load_model

            task = build_task(spec, load_model(spec.model, device=spec.device, dtype=spec.dtype),
                              facts, output)
        task.prepare()
        task.after_facts(finished_rows(output, len(facts)))
    return finish(spec, output)


def prepare_start(spec: RunSpec, config, dataset, output: Path):
    """Load the facts, the model and the task before anything is written: every user error of
    the start (dataset, model, option a task checks itself) is raised here."""
    from ..data.loading import check_answers, load_facts
    from ..models import load_model

    facts = select_facts(load_facts(dataset), spec.limit, spec.seed)
    if not facts:
        raise ConfigError(f"dataset {dataset!r} has no facts")
    if spec.executor == "ray":
        return facts, None, None
    lm = load_model(spec.model, device=spec.device, dtype=spec.dtype)
    check_answers(facts, lm.tokenizer)
    return facts, lm, build_task(spec, lm, facts, output)


def finished_rows(output: Path, n_facts: int) -> list[dict]:
    """Every finished fact's rows, in fact order."""
    rows = []
    for index in range(n_facts):
        path = fact_file(output, index)
        if path.is_file():
            rows.extend(read_json(path)["rows"])
    return rows


def record_model(output: Path, lm) -> None:
    """Add the loaded model's fingerprint and shape to run.json."""
    run_file = output / "run.json"
    write_json(run_file, {**read_json(run_file), "model_fingerprint": lm.fingerprint,
                          "n_layers": lm.adapter.n_layers, "n_neurons": lm.adapter.n_neurons})


def build_task(spec: RunSpec, lm, facts: list, output: Path):
    """The task instance for ``spec`` on a loaded model (local and Ray executors alike)."""
    from ..localization import AttributionCache
    from ..tasks import RunContext

    config, cls, methods, options, dataset, *_ = resolve(spec)
    cache = AttributionCache(spec.cache_dir, enabled=not spec.no_cache)
    ctx = RunContext(config=config, options=options, methods=methods, lm=lm, seed=spec.seed,
                     output=Path(output), facts=facts, cache=cache, batch_size=spec.batch_size,
                     max_memory=spec.max_memory, dataset=dataset,
                     finished_rows=lambda index: _rows_if_finished(Path(output), index))
    return cls(ctx)


def _rows_if_finished(output: Path, index: int):
    path = fact_file(output, index)
    return read_json(path)["rows"] if path.is_file() else None


def fact_file(output: Path, index: int) -> Path:
    return output / "facts" / f"{index:06d}.json"


def run_facts(task, facts, output: Path, seed: int, indices=None, quiet=False, desc="facts") -> int:
    """Run ``task`` on each fact not finished yet; returns how many were computed now."""
    from ..scoring import SkipQuery
    from ..tasks import SkipFact

    indices = range(len(facts)) if indices is None else indices
    todo = [i for i in indices if not fact_file(output, i).is_file()]
    if not todo:
        return 0
    task.prepare()
    done = 0
    for index in progress(todo, desc=desc, unit="fact", quiet=quiet):
        fact = facts[index]
        seed_everything(seed * 100_003 + index)  # per fact: resuming reproduces the same draws
        try:
            record = {"index": index, "fact_id": fact.id, "rows": task.run_fact(fact, index),
                      "skipped": None}
        except (SkipFact, SkipQuery) as skip:
            record = {"index": index, "fact_id": fact.id, "rows": [], "skipped": skip.reason}
        write_json(fact_file(output, index), record)
        done += 1
    return done


def finish(spec: RunSpec, output: Path) -> Path:
    """Aggregate the per-fact files into samples.parquet and summary.json."""
    from ..tasks import RunContext

    config, cls, methods, options, dataset, resolved, digest, _ = resolve(spec)
    records = [read_json(p) for p in sorted((output / "facts").glob("*.json"))]
    rows = [row for r in records for row in r["rows"]]
    skipped = Counter(r["skipped"] for r in records if r["skipped"])
    for r in records:  # queries a task could not use are reported by the first row of a fact
        for reason, count in (r["rows"][0].get("skipped_queries") or {} if r["rows"] else {}).items():
            skipped[f"query:{reason}"] += count
    if not any(r["rows"] for r in records):
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items())) or "no rows"
        reason = f"all {len(records)} facts skipped ({reasons})"
        raise NothingUsable(f"{output}: no usable fact, {reason}; no summary written", reason)
    run_info = read_json(output / "run.json")
    ctx = RunContext(config=config, options=options, methods=methods, lm=None, seed=spec.seed,
                     output=output, facts=[], cache=None, run_info=run_info)
    summary = cls(ctx).summarize(rows, output)
    write_samples(output / SAMPLES_FILE, rows)
    fingerprint = run_info.get("model_fingerprint")
    data = {
        "task": config.task, "task_kind": config.method_kind, "methods": methods,
        "model": spec.model, "model_fingerprint": fingerprint, "dataset": dataset,
        "seed": spec.seed, "limit": spec.limit, "config": resolved, "config_hash": digest,
        "versions": versions(), "git_commit": git_commit(), "n_facts": len(records),
        "n_used": len({r["fact_id"] for r in records if r["rows"]}),
        "skipped": dict(skipped), "metrics": summary.metrics, "tables": summary.tables,
        "comparisons": summary.comparisons, "references": config.references,
        "figures": summary.figures, "per_fact": summary.per_fact,
        "paper": config.paper, "description": config.description,
        "metric_directions": config.metric_directions,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return write_json(output / "summary.json", data)
