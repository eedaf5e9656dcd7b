"""The fraction of a fact set that passes gcr's known-fact gate, per model (one forward per fact).

    python benchmarks/known_facts.py --models smollm2-135m,gemma-3-270m,qwen2.5-coder-0.5b \
        [--task gcr] [--dataset builtin] [--limit N] [--set max_queries=1 ...] [--json out.json]

The gate is the suite's own (tasks/dkn_common.py, option known_only): on the queries the task uses
(``usable_queries`` with the task's max_queries), the model ranks the gold first answer token first
or gives the answer Prob >= known_min_prob; the scorer is the task context's. A fact with no usable
query is counted apart (the task skips it before the gate). Plans runs with the gate on: a model
with a fraction f needs about n / f facts for n known ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from dknbench.data.loading import load_facts
    from dknbench.harness.runner import RunSpec, build_task, resolve, select_facts
    from dknbench.models import load_model
    from dknbench.tasks.common import usable_queries
    from dknbench.tasks.dkn_common import gold_rank_and_prob, is_known

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="smollm2-135m")
    parser.add_argument("--task", default="gcr")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--json", default=None, help="write the figures here too")
    args = parser.parse_args(argv)

    rows = []
    for model in args.models.split(","):
        spec = RunSpec(task=args.task, methods=[], model=model, dataset=args.dataset, limit=args.limit,
                       seed=args.seed, overrides=args.overrides)
        resolved = resolve(spec)
        options = resolved.options
        facts = select_facts(load_facts(resolved.dataset), spec.limit, spec.seed)
        lm = load_model(model)
        ctx = build_task(resolved, lm, facts, Path(tempfile.mkdtemp(prefix="known-facts-"))).ctx
        scorer = ctx.scorer()
        start = time.perf_counter()
        known = unusable = 0
        for fact in facts:
            queries, _ = usable_queries(scorer, fact, options["max_queries"])
            if not queries:
                unusable += 1
                continue
            checks = gold_rank_and_prob(scorer, queries, fact.object)
            known += all(is_known(r, p, options["known_min_prob"]) for r, p in checks)
        gated = len(facts) - unusable
        row = {"model": model, "task": args.task, "n_facts": len(facts), "no_usable_query": unusable,
               "known": known, "fraction_known": known / gated if gated else None,
               "known_min_prob": options["known_min_prob"], "max_queries": options["max_queries"],
               "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        fraction = "undefined (no usable query)" if gated == 0 else f"{known / gated:.3f}"
        print(f"{model:20s} known {known}/{gated} = {fraction} (no usable query: {unusable}; "
              f"{row['seconds']} s)", flush=True)
        del lm, ctx, scorer
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
