"""Run one task with one or more methods on one model and fact set.

Each finished fact is written to ``<output>/facts/<index>.json`` atomically; rerunning the same
command skips those, so a crash or Ctrl-C costs at most the fact in flight. ``run.json`` pins the
resolved configuration: resuming with a different one is refused rather than mixing results.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, NothingUsable
from ..io import write_json
from ..results.schema import summary_record, with_directions
from ..results.store import SAMPLES_FILE, write_samples
from ..selection import select_facts  # scripts import it from here too
from ..tasks.base import Task
from .facts import build_task, run_facts
from .provenance import git_commit, run_settings, versions
from .rundir import (check_fact_files, check_fact_set, check_settings, fact_files, fact_hash, facts_hash,
                     finished_rows, read_fact_file, read_run_file, record_model, start_checked)
from .spec import ResolvedRun, RunSpec, method_registry, resolve

__all__ = ["ResolvedRun", "RunSpec", "build_task", "finish", "method_registry", "resolve", "run", "run_facts", "select_facts",
           "select_run_facts"]


def run(spec: RunSpec) -> Path:
    resolved = resolve(spec)  # once: every step below reads this ResolvedRun
    output, config = resolved.output, resolved.config
    settings = run_settings(spec)
    with start_checked(output, resolved.config_hash):  # also holds the folder's writer lock until the summary is written
        check_settings(output, settings)
        facts, lm, task, passed_over = prepare_start(resolved)
        hashes = [fact_hash(fact) for fact in facts]
        check_fact_files(output, facts, lm.fingerprint if lm is not None else None)
        check_fact_set(output, facts, hashes)  # the rest of the set: a task may use any fact of it
        output.mkdir(parents=True, exist_ok=True)  # only now: every check above has passed
        write_json(output / "run.json", {"config_hash": resolved.config_hash, "resolved": resolved.hashed,
                                         "versions": versions(),
                                         "task_file": str(config.path), "settings": settings,
                                         "n_facts": len(facts), "facts_hash": facts_hash(hashes),
                                         "fact_hashes": hashes, "passed_over": passed_over})
        if spec.executor == "ray":
            from .ray_executor import run_facts_on_ray

            run_facts_on_ray(spec, facts, output)
        else:
            record_model(output, lm)
            run_facts(task, facts, output, spec.seed, quiet=spec.quiet, desc=f"{config.task}")
        if (type(task) if task is not None else resolved.task_class).after_facts is not Task.after_facts:
            # the post-facts phase runs here, on the driver, once every shard has finished
            if task is None:
                from ..models import load_model

                task = build_task(resolved, load_model(spec.model, device=spec.device, dtype=spec.dtype),
                                  facts, output)
            task.prepare()
            task.after_facts(finished_rows(output, len(facts)))
        return finish(resolved)


def prepare_start(resolved: ResolvedRun):
    """Load the facts, the model and the task, and select the facts that meet the task's
    requirements, before anything is written: every user error of the start (dataset, model,
    option a task checks itself) is raised here. Returns (facts, lm, task, passed_over)."""
    from ..data.loading import check_answers, load_facts
    from ..models import load_model

    spec, config, dataset, output = resolved.spec, resolved.config, resolved.dataset, resolved.output
    ordered = select_facts(load_facts(dataset), None, spec.seed)
    if not ordered:
        raise ConfigError(f"dataset {dataset!r} has no facts")
    if spec.executor == "ray" and not _declares_requirements(resolved.task_class):
        return ordered[: spec.limit] if spec.limit else ordered, None, None, {}
    lm = load_model(spec.model, device=spec.device, dtype=spec.dtype)
    task = build_task(resolved, lm, ordered, output)
    selection = select_run_facts(task, ordered, spec.limit)
    # a malformed fact among those looked at is a user error (exit 2), not a fact passed over
    check_answers(ordered[: selection.looked_at], lm.tokenizer)
    if not selection.facts:  # as when every fact is skipped: exit 3, nothing written
        raise NothingUsable(f"no usable fact: {selection.shortfall(config.task, len(ordered))}",
                            f"no fact meets the task's requirements (passed over: {selection.counts()})")
    if selection.short:  # run with what there is; the summary's limit, n_facts and passed_over say so
        print(f"dknbench: {selection.shortfall(config.task, len(ordered))}", file=sys.stderr)
    facts = selection.facts
    if spec.executor == "ray":  # the driver's model only served the selection; actors load their own
        return facts, None, None, selection.passed_over
    return facts, lm, task, selection.passed_over


def select_run_facts(task, ordered: list, limit: int | None):
    """The run's facts: the first ``limit`` of ``ordered`` (the seeded order) that meet the task's
    requirements, and what was passed over; sets them as the task's ``ctx.facts``."""
    from ..tasks.requirements import Selection, select_meeting

    selection = select_meeting(task, ordered, limit) if task.requirements() else Selection(
        ordered[:limit] if limit else ordered, {}, limit)
    task.ctx.facts = selection.facts
    return selection


def _declares_requirements(cls) -> bool:
    """Whether the task class overrides ``requirements`` (Ray: the driver then loads the model)."""
    return cls.requirements is not Task.requirements


def _with_method_params(resolved: ResolvedRun) -> dict:
    """The resolved config plus every hyper-parameter of each method the run built
    (``method_params``: name -> params, with ``kind``), so a summary says which convention ran
    (atp's direction, causal-tracing's noise samples) even when the options left the default. Not
    part of the config hash: it is what the options resolved to, not another request."""
    from ..tasks.methods import method_params

    return {**resolved.hashed, "method_params": method_params(resolved.kind, resolved.methods, resolved.options,
                                                              resolved.seed)}


def finish(resolved: ResolvedRun) -> Path:
    """Aggregate the per-fact files into samples.parquet and summary.json."""
    from ..tasks import RunContext

    config, methods, options, output = resolved.config, resolved.methods, resolved.options, resolved.output
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
    ctx = RunContext(config=config, options=options, methods=methods, lm=None, seed=resolved.seed,
                     output=output, facts=[], cache=None, run_info=run_info)
    summary = resolved.task_class(ctx).summarize(rows, output)
    write_samples(output / SAMPLES_FILE, rows)
    fingerprint = run_info.get("model_fingerprint")
    data = summary_record(
        output / "summary.json",
        task=config.task, task_kind=config.method_kind, methods=methods,
        model=resolved.model, model_fingerprint=fingerprint, dataset=resolved.dataset,
        seed=resolved.seed, limit=resolved.limit, config=_with_method_params(resolved),
        config_hash=resolved.config_hash,
        versions=versions(), git_commit=git_commit(), n_facts=len(records),
        n_used=sum(1 for r in records if r["rows"]),  # facts, not ids: (id, language) is the key
        skipped=dict(skipped), passed_over=dict(run_info.get("passed_over") or {}),
        metrics=with_directions(summary.metrics, config.metric_directions), tables=summary.tables,
        comparisons=summary.comparisons, references=config.references,
        figures=summary.figures, per_fact=summary.per_fact,
        paper=config.paper, description=config.description,
        metric_directions=config.metric_directions,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return write_json(output / "summary.json", data)
