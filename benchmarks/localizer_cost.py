"""Seconds per fact of each localizer, measured while filling the attribution cache of a run.

    python benchmarks/localizer_cost.py --methods ig,amig,atp --limit 100 --cache-dir C --out cost.jsonl \
        [--set max_queries=1 ...]
    dknbench run --task kn-localization --method ig,amig,atp --limit 100 --cache-dir C [--set ...]
    python benchmarks/localizer_cost.py --summarize cost.jsonl [more.jsonl ...] [--limit 100]

The locators are built exactly as the run builds them (the harness's task context, same options,
seed and fact order), so every attribution timed here is a cache hit for the run that follows: the
run then costs only its enhance/suppress measurements, and the timing is of a cold cache. Facts are
processed in order, every method on a fact before the next fact (so whatever n is reached covers all
methods); one JSON line per (fact, method) is appended, and a rerun skips the lines already there.
``random`` is timed after its reference localizer, whose scores it reads from the cache.
``--summarize`` prints mean seconds per fact with t-based 95 % CIs per method; when several files
time the same (fact, method), the first file's line counts (a later file replaying a filled cache
would time cache hits).
``seconds`` is wall-clock, ``cpu_seconds`` the process's CPU time (with OMP_NUM_THREADS=1 the
better figure on a shared machine): compare methods within one file, not across machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def summarize(files: list[str], limit: int | None) -> int:
    from dknbench.stats import mean_ci

    first: dict = {}
    for name in files:
        for line in Path(name).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                if limit is None or row["index"] < limit:
                    first.setdefault((row["index"], row["method"]), row)
    methods = sorted({m for _, m in first})
    print(f"{'method':16s} {'n':>4s} {'cpu s/fact [95 % CI]':>26s} {'wall s/fact':>12s} {'KNs/fact':>9s}")
    for method in methods:
        rows = [r for (_, m), r in sorted(first.items()) if m == method]
        cpu = mean_ci([r.get("cpu_seconds", r["seconds"]) for r in rows])
        wall = sum(r["seconds"] for r in rows) / len(rows)
        kns = sum(r["n_kns"] for r in rows) / len(rows)
        print(f"{method:16s} {len(rows):4d} {cpu.estimate:9.2f} [{cpu.low:6.2f}, {cpu.high:6.2f}] {wall:12.2f} {kns:9.1f}")
    return 0


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--summarize":
        limit = None
        if "--limit" in argv:
            at = argv.index("--limit")
            limit, argv = int(argv[at + 1]), argv[:at] + argv[at + 2:]
        return summarize(argv[1:], limit)
    from dknbench.data.loading import load_facts
    from dknbench.harness.runner import RunSpec, build_task, resolve, select_facts
    from dknbench.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="kn-localization")
    parser.add_argument("--methods", required=True, help="comma-separated localizers")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--out", required=True, help="JSON-lines file (appended; resumable)")
    args = parser.parse_args(argv)

    spec = RunSpec(task=args.task, methods=args.methods.split(","), model=args.model,
                   dataset=args.dataset, limit=args.limit, seed=args.seed, overrides=args.overrides,
                   cache_dir=args.cache_dir)
    resolved = resolve(spec)
    config, methods, options = resolved.config, resolved.methods, resolved.options
    facts = select_facts(load_facts(resolved.dataset), spec.limit, spec.seed)
    out = Path(args.out)
    done = set()
    if out.is_file():
        done = {(r["index"], r["method"]) for r in map(json.loads, out.read_text().splitlines()) if r}
    lm = load_model(spec.model)
    task = build_task(resolved, lm, facts, Path(args.out).parent)
    for index, fact in enumerate(facts):
        for method in methods:
            if (index, method) in done:
                continue
            locator = task.ctx.locator(method)
            start, cpu = time.perf_counter(), time.process_time()
            located = locator.localize(fact, options.get("max_queries"))
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            row = {"index": index, "fact_id": fact.id, "method": method, "seconds": seconds,
                   "cpu_seconds": cpu_seconds,
                   "n_queries": len(located.queries), "n_kns": len(located.kns)}
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
        print(f"fact {index + 1}/{len(facts)} done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
