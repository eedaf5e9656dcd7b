"""Facts per hour of each task on the embedded model, cold and warm attribution cache, and where the
time goes.

    python benchmarks/suite.py --quick          # 2 facts, 5 IG steps, 1 query, 4 tasks (a few minutes)
    python benchmarks/suite.py --limit 5        # every task but knowledge-update, the task defaults
    python benchmarks/suite.py --reproduce dkn amig ql --limit 2   # each paper's reproduce CPU preset

Each task runs twice through the harness (dknbench.harness.runner.run) into fresh output folders:
*cold* with an empty attribution cache, *warm* with the cache the cold run filled. The time of each
run is split by wrapping the harness's own functions:

* attribution: ``KNLocator.query_scores`` minus the cache reads/writes inside it;
* interventions: the rest of ``run_facts`` (suppress/enhance/edit experiments, scoring, fine-tuning);
* I/O: attribution-cache reads/writes and per-fact JSON writes;
* one-off: the rest of the run (loading the model and the facts, imports, config, ``finish``).

facts/h = computed (not skipped) facts per hour of ``run_facts`` time, i.e. without the one-off
part. knowledge-update needs a TempLAMA build from ../shared and is left out here.

``--reproduce PAPER ...`` times ``dknbench reproduce --paper PAPER --preset cpu --limit K`` (cold
attribution cache, every task of the paper, knowledge-update included) task by task, and projects
each task to its whole fact set at the same per-fact cost: projected = one-off + per-fact / K x N,
with N the facts of the task's dataset, per-fact the time in ``run_facts`` and in the task's
``after_facts`` (fine-tuning and the λ fit grow with the facts), one-off the rest.
The projection is labelled as one: facts the known_only gate drops cost less than computed ones.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TASKS = ["kn-localization", "kn-consistency", "knowledge-editing", "knowledge-synapses",
         "query-kn-mapping", "linguistic-control", "cross-lingual-editing", "gcr", "fact-checking",
         "perturbation-robustness"]
QUICK_TASKS = ["kn-localization", "knowledge-editing", "gcr", "query-kn-mapping"]
QUICK_OPTIONS = {"steps": 5, "max_queries": 2}  # 2: the query tasks need two paraphrases


class Clock:
    """Seconds spent inside wrapped functions, by part."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.patches = []

    def wrap(self, owner, name: str, part: str):
        original = getattr(owner, name)
        seconds = self.seconds

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[part] += time.perf_counter() - start

        setattr(owner, name, timed)
        self.patches.append((owner, name, original))

    @contextmanager
    def active(self):
        from dknbench.harness import facts, runner
        from dknbench.localization.cache import AttributionCache
        from dknbench.localization.locate import KNLocator

        self.wrap(runner, "run_facts", "facts")
        self.wrap(facts, "write_json", "io_json")  # the per-fact files (run_facts writes them)
        self.wrap(KNLocator, "query_scores", "query_scores")
        from dknbench.tasks import TASK_CLASSES, import_task_classes

        import_task_classes()
        for entry in TASK_CLASSES.entries(load=True):  # the post-facts phases (fine-tuning, λ fit)
            if "after_facts" in vars(entry.load()):
                self.wrap(entry.load(), "after_facts", "after_facts")
        self.wrap(AttributionCache, "get", "io_cache")
        self.wrap(AttributionCache, "put", "io_cache")
        try:
            yield self
        finally:
            for owner, name, original in reversed(self.patches):
                setattr(owner, name, original)


def task_options(task: str) -> set:
    from dknbench.tasks.config import load_task_config

    return set(load_task_config(ROOT / "tasks" / f"{task}.yaml").options)


def timed_run(task: str, output: Path, cache: Path, limit: int, overrides: dict) -> dict:
    import json

    from dknbench.harness.runner import RunSpec, run

    known = task_options(task)
    spec = RunSpec(task=task, limit=limit, seed=0, output=str(output), cache_dir=str(cache), quiet=True,
                   overrides=[f"{k}={v}" for k, v in overrides.items() if k in known])
    clock = Clock()
    start = time.perf_counter()
    from dknbench.errors import NothingUsable

    with clock.active():
        try:
            run(spec)
        except NothingUsable:  # every fact skipped (e.g. not known by the model): timed, 0 computed
            pass
    total = time.perf_counter() - start
    t = clock.seconds
    records = [json.loads(p.read_text()) for p in (output / "facts").glob("*.json")]
    computed = sum(1 for r in records if r.get("skipped") is None)
    per_fact = {"attribution": t["query_scores"] - t["io_cache"],
                "interventions": t["facts"] - t["query_scores"] - t["io_json"],
                "fact_io": t["io_cache"] + t["io_json"]}
    # one-off: model and data loading, imports and config resolution, the report
    once = total - sum(per_fact.values())
    return {"total": total, **per_fact, "once": once, "facts": len(records), "computed": computed,
            "facts_per_hour": 3600 * computed / t["facts"] if computed else float("nan")}


def dataset_size(task: str) -> int:
    from dknbench.data.loading import load_facts
    from dknbench.tasks.config import load_task_config

    return len(load_facts(load_task_config(ROOT / "tasks" / f"{task}.yaml").dataset))


def time_reproduce(papers: list[str], limit: int) -> int:
    """Each paper's reproduce CPU preset at ``limit`` facts per task, projected to every fact."""
    from dknbench.harness import run as harness_run
    from dknbench.reproduce import run_paper

    rows = []
    with tempfile.TemporaryDirectory(prefix="dknbench-reproduce-") as tmp:
        for paper in papers:
            clock_rows = []

            def timed(spec):
                spec.cache_dir = str(Path(tmp) / paper / "cache")  # a cold attribution cache per paper
                clock = Clock()
                start = time.perf_counter()
                try:
                    with clock.active():
                        return harness_run(spec)
                finally:
                    total = time.perf_counter() - start
                    clock_rows.append({"paper": paper, "task": spec.task, "total": total,
                                       "per_fact": clock.seconds["facts"] + clock.seconds["after_facts"]})
                    print(f"  {paper} {spec.task}: {total:.0f} s", file=sys.stderr, flush=True)

            start = time.perf_counter()
            done = run_paper(paper, preset="cpu", limit=limit, output=Path(tmp) / paper, runner=timed)
            wall = time.perf_counter() - start
            statuses = {o.task: o.status for o in done.outcomes}
            for row in clock_rows:
                import json

                n = dataset_size(row["task"])
                once = row["total"] - row["per_fact"]
                records = [json.loads(p.read_text()) for p in (Path(tmp) / paper / row["task"] / "facts").glob("*.json")]
                computed = sum(1 for r in records if r.get("skipped") is None)
                # a task that computed no fact has no per-fact cost to project from
                row.update(status=statuses.get(row["task"], "?"), n_full=n, computed=f"{computed}/{len(records)}",
                           projected=once + row["per_fact"] / limit * n if computed else float("nan"))
            rows += clock_rows
            known = [r["projected"] for r in clock_rows if r["projected"] == r["projected"]]
            rows.append({"paper": paper, "task": "(whole reproduce)", "total": wall, "per_fact": float("nan"),
                         "status": "" if len(known) == len(clock_rows) else "at least", "n_full": 0, "computed": "",
                         "projected": sum(known) + wall - sum(r["total"] for r in clock_rows)})
    print(f"dknbench reproduce --preset cpu --limit {limit}, embedded model, cold attribution cache")
    head = (f"{'paper':<6} {'task':<26} {'status':<15} {'computed':>8} {'measured s':>10} {'facts':>6} "
            f"{'projected h':>12}")
    print(head + "\n" + "-" * len(head))
    for r in rows:
        facts = f"{r['n_full']:>6}" if r["n_full"] else f"{'':>6}"
        hours = f"{r['projected'] / 3600:>12.1f}" if r["projected"] == r["projected"] else f"{'n/a':>12}"
        print(f"{r['paper']:<6} {r['task']:<26} {r['status']:<15} {r['computed']:>8} {r['total']:>10.0f} {facts} {hours}")
    print(f"computed: facts computed/selected at --limit {limit} (the rest skipped, e.g. not known by the model); "
          f"projected: one-off + per-fact time / {limit} x the task's facts, an estimate, not a measurement; "
          "n/a: no fact computed, so no per-fact cost to project ('at least' on the paper's line)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK_TASKS)}; 2 facts; steps=5, max_queries=2")
    parser.add_argument("--tasks", nargs="+", default=None)
    parser.add_argument("--limit", type=int, default=None, help="facts per task (default 2 quick, 3)")
    parser.add_argument("--reproduce", nargs="+", metavar="PAPER", default=None,
                        help="time each paper's `reproduce --preset cpu` at --limit facts per task")
    args = parser.parse_args(argv)
    if args.reproduce:
        return time_reproduce(args.reproduce, args.limit or 2)
    tasks = args.tasks or (QUICK_TASKS if args.quick else TASKS)
    limit = args.limit or (2 if args.quick else 3)
    overrides = QUICK_OPTIONS if args.quick else {}

    rows = []
    with tempfile.TemporaryDirectory(prefix="dknbench-suite-") as tmp:
        for task in tasks:
            cache = Path(tmp) / task / "cache"
            for state in ("cold", "warm"):
                r = timed_run(task, Path(tmp) / task / state, cache, limit, overrides)
                rows.append({"task": task, "cache": state, **r})
                print(f"  {task} {state}: {r['total']:.1f} s", file=sys.stderr, flush=True)

    print(f"embedded model, {limit} fact(s) per task" + (", --quick (steps=5, max_queries=2)" if args.quick else ""))
    head = (f"{'task':<24} {'cache':<5} {'facts':>5} {'facts/h':>8} {'attrib s':>9} {'interv s':>9} "
            f"{'I/O s':>6} {'one-off s':>10} {'total s':>8}")
    print(head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r['task']:<24} {r['cache']:<5} {r['computed']:>2}/{r['facts']:<2} {r['facts_per_hour']:>8.0f} "
              f"{r['attribution']:>9.1f} {r['interventions']:>9.1f} {r['fact_io']:>6.1f} {r['once']:>10.1f} "
              f"{r['total']:>8.1f}")
    print("facts: computed/selected (the rest skipped, e.g. not known by the model); facts/h: computed "
          "facts per hour of per-fact time; I/O: attribution cache + per-fact files; one-off: model and "
          "data load, imports, report")
    parts = {p: sum(r[p] for r in rows) for p in ("attribution", "interventions", "fact_io")}
    total = sum(parts.values())
    print("per-fact time, all runs: " + ", ".join(f"{p} {v / total:.0%}" for p, v in parts.items()))
    print(f"largest per-fact cost: {max(parts, key=parts.get)}; one-off total "
          f"{sum(r['once'] for r in rows):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
