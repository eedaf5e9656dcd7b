"""The per-fact loop, shared by the local and the Ray executor.

``build_task`` makes the task instance for a loaded model, ``run_facts`` runs it on each fact not
finished yet and writes one record per fact (``rundir.fact_file``) atomically: a crash costs at
most the fact in flight. Per-fact seeds depend on the fact index only, so any sharding of the
indices gives the same results.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import Skipped
from ..io import write_json
from .progress import progress
from .provenance import seed_everything
from .rundir import fact_file, fact_record, rows_if_finished
from .spec import ResolvedRun


def build_task(resolved: ResolvedRun, lm, facts: list, output: Path | None = None):
    """The task instance for a resolved run on a loaded model (local and Ray executors alike);
    ``output``: the run folder (default: the run's)."""
    from ..localization import AttributionCache
    from ..tasks import RunContext

    spec = resolved.spec
    output = Path(resolved.output if output is None else output)
    cache = AttributionCache(spec.cache_dir, enabled=not spec.no_cache)
    ctx = RunContext(config=resolved.config, options=resolved.options, methods=resolved.methods, lm=lm,
                     seed=resolved.seed, output=output, facts=facts, cache=cache, batch_size=spec.batch_size,
                     max_memory=spec.max_memory, dataset=resolved.dataset,
                     finished_rows=lambda index: rows_if_finished(output, index))
    return resolved.task_class(ctx)


def run_facts(task, facts, output: Path, seed: int, indices=None, quiet=False, desc="facts") -> int:
    """Run ``task`` on each fact not finished yet; returns how many were computed now."""
    indices = range(len(facts)) if indices is None else indices
    todo = [i for i in indices if not fact_file(output, i).is_file()]
    if not todo:
        return 0
    task.prepare()
    fingerprint = task.ctx.lm.fingerprint  # each fact file names the weights it was computed with
    done = 0
    shown = progress(todo, desc=desc, unit="fact", quiet=quiet, name=lambda i: facts[i].id)
    for index in shown:
        fact = facts[index]
        seed_everything(seed * 100_003 + index)  # per fact: resuming reproduces the same draws
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            record = fact_record(index, fact, fingerprint, task.run_fact(fact, index), None)
        except Skipped as skip:  # SkipFact or SkipQuery
            record = fact_record(index, fact, fingerprint, [], skip.reason)
        # the fact's cost, so a report can state the run's wall and CPU time from the folder alone
        record["seconds"] = {"wall": round(time.perf_counter() - wall, 3), "cpu": round(time.process_time() - cpu, 3)}
        if not record["rows"]:
            shown.skipped()  # fast: its time would make the ETA jump at the first computed fact
        write_json(fact_file(output, index), record)
        done += 1
    return done
