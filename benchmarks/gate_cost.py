"""Seconds per fact of the requirement checks --limit runs, next to the attribution they save.

    python benchmarks/gate_cost.py                 # gcr's options, embedded model, 5 facts attributed
    python benchmarks/gate_cost.py --facts 3 --limit 20

For the first --facts facts of the built-in set (seeded order) it times, per fact: the cheap check
(queries the scorer can encode: tokenizer only), the known-to-model gate (one batched forward pass
over the fact's usable queries, tasks/requirements.known_to_model) and the attribution gcr then pays
(the task's localizer and steps, attribution cache off). Then the whole selection of ``--limit``
facts for gcr (``select_meeting``: how many facts it looked at and the seconds it took). Medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--facts", type=int, default=5, help="facts whose attribution is timed")
    parser.add_argument("--limit", type=int, default=20, help="--limit of the selection timed")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    import torch

    from dknbench.data.loading import load_facts
    from dknbench.localization import AttributionCache
    from dknbench.models import load_model
    from dknbench.selection import select_facts
    from dknbench.tasks import RunContext, get_task, task_class
    from dknbench.tasks.requirements import encodable_queries, known_to_model, select_meeting

    config = get_task("gcr")
    options = config.resolve_options(None, args.overrides)
    lm = load_model(args.model)
    ordered = select_facts(load_facts("builtin"), None, args.seed)
    ctx = RunContext(config=config, options=options, methods=["ntc"], lm=lm, seed=args.seed, output=Path("."),
                     facts=ordered, cache=AttributionCache(None, enabled=False))
    task = task_class(config)(ctx)
    cheap, gate = encodable_queries(1), known_to_model()
    gate.check(task, ordered[0])  # warm-up: the first forward pass pays one-time costs
    rows = []
    for fact in ordered[: args.facts]:
        t_cheap, _ = timed(lambda: cheap.check(task, fact))
        t_gate, known = timed(lambda: gate.check(task, fact))
        locator = ctx.locator(options["localizer"])
        t_attr, _ = timed(lambda: locator.localize(fact, options["max_queries"]))
        rows.append({"fact": fact.id, "cheap_s": t_cheap, "gate_s": t_gate, "attribution_s": t_attr, "known": known})
    t_select, selection = timed(lambda: select_meeting(task, ordered, args.limit))
    looked_at = len(selection.facts) + sum(selection.passed_over.values())
    result = {
        "model": args.model, "threads": torch.get_num_threads(), "localizer": options["localizer"],
        "steps": options["steps"], "max_queries": options["max_queries"],
        "cheap_s_median": statistics.median(r["cheap_s"] for r in rows),
        "gate_s_median": statistics.median(r["gate_s"] for r in rows),
        "attribution_s_median": statistics.median(r["attribution_s"] for r in rows),
        "selection": {"limit": args.limit, "selected": len(selection.facts), "looked_at": looked_at,
                      "passed_over": selection.passed_over, "seconds": t_select},
        "per_fact": rows,
    }
    result["attribution_over_gate"] = result["attribution_s_median"] / result["gate_s_median"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
