"""Run one task with one or more methods on one model and fact set.

Each finished fact is written to ``<output>/facts/<index>.json`` atomically; rerunning the same
command skips those, so a crash or Ctrl-C costs at most the fact in flight. ``run.json`` pins the
resolved configuration: resuming with a different one is refused rather than mixing results.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, NothingUsable
from ..io import write_json
from ..results.schema import summary_record
from ..results.store import SAMPLES_FILE, write_samples
from ..selection import select_facts  # scripts import it from here too
from ..tasks.base import Task
from .facts import build_task, run_facts
from .provenance import git_commit, run_settings, versions
from .rundir import (check_fact_files, check_fact_set, check_settings, fact_files, fact_hash, facts_hash,
                     finished_rows, read_fact_file, read_run_file, record_model, start_checked)
from .spec import RunSpec, method_registry, resolve

__all__ = ["RunSpec", "build_task", "finish", "method_registry", "resolve", "run", "run_facts", "select_facts"]


def run(spec: RunSpec) -> Path:
    config, cls, methods, options, dataset, resolved, digest, output = resolve(spec)
    settings = run_settings(spec)
    with start_checked(output, digest):  # also holds the folder's writer lock until the summary is written
        check_settings(output, settings)
        facts, lm, task = prepare_start(spec, config, dataset, output)
        hashes = [fact_hash(fact) for fact in facts]
        check_fact_files(output, facts, lm.fingerprint if lm is not None else None)
        check_fact_set(output, facts, hashes)  # the rest of the set: a task may use any fact of it
        output.mkdir(parents=True, exist_ok=True)  # only now: every check above has passed
        write_json(output / "run.json", {"config_hash": digest, "resolved": resolved, "versions": versions(),
                                         "task_file": str(config.path), "settings": settings,
                                         "n_facts": len(facts), "facts_hash": facts_hash(hashes),
                                         "fact_hashes": hashes})
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


def finish(spec: RunSpec, output: Path) -> Path:
    """Aggregate the per-fact files into samples.parquet and summary.json."""
    from ..tasks import RunContext

    config, cls, methods, options, dataset, resolved, digest, _ = resolve(spec)
    records = [read_fact_file(output, p) for p in fact_files(output)]
    rows = [row for r in records for row in r["rows"]]
    skipped = Counter(r["skipped"] for r in records if r["skipped"])
    for r in records:  # queries a task could not use are reported by the first row of a fact
        for reason, count in (r["rows"][0].get("skipped_queries") or {} if r["rows"] else {}).items():
            skipped[f"query:{reason}"] += count
    if not any(r["rows"] for r in records):
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items())) or "no rows"
        reason = f"all {len(records)} facts skipped ({reasons})"
        raise NothingUsable(f"{output}: no usable fact, {reason}; no summary written", reason)
    run_info = read_run_file(output)
    ctx = RunContext(config=config, options=options, methods=methods, lm=None, seed=spec.seed,
                     output=output, facts=[], cache=None, run_info=run_info)
    summary = cls(ctx).summarize(rows, output)
    write_samples(output / SAMPLES_FILE, rows)
    fingerprint = run_info.get("model_fingerprint")
    data = summary_record(
        output / "summary.json",
        task=config.task, task_kind=config.method_kind, methods=methods,
        model=spec.model, model_fingerprint=fingerprint, dataset=dataset,
        seed=spec.seed, limit=spec.limit, config=resolved, config_hash=digest,
        versions=versions(), git_commit=git_commit(), n_facts=len(records),
        n_used=sum(1 for r in records if r["rows"]),
        skipped=dict(skipped), metrics=summary.metrics, tables=summary.tables,
        comparisons=summary.comparisons, references=config.references,
        figures=summary.figures, per_fact=summary.per_fact,
        paper=config.paper, description=config.description,
        metric_directions=config.metric_directions,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return write_json(output / "summary.json", data)
