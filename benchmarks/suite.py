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

facts/h = computed (not skipped) facts per hour of ``run_facts`` CPU time, i.e. without the one-off
part. knowledge-update needs a TempLAMA build from ../shared and is left out here.

``--reproduce PAPER ...`` times ``dknbench reproduce --paper PAPER --preset cpu --limit K`` (every
task of the paper, knowledge-update included; one attribution cache for all papers, cold at the
start, so a query two papers attribute alike is attributed once, as in a user's run) task by task.
It prints CPU-seconds (``time.process_time``: every thread counts) per selected fact, split into
attribution (``query_scores`` minus its cache I/O), fine-tuning (knowledge-update's ``train_fn``),
ΔPPL (knowledge-editing's ``perplexity``), I/O (attribution cache + per-fact files) and
interventions (the rest of ``run_facts`` and ``after_facts``: suppress/enhance/edit experiments,
scoring, the λ fit), the cache's hits/lookups, and projects each task, paper and the three papers
to 100 facts per task and to the whole dataset: one-off + per-fact / K x N. Projections are
labelled as such: facts the known_only gate drops cost less than computed ones.

``--reproduce ... --compare DIR`` runs the same for the code tree DIR (the commit before a cut, e.g.
``git worktree add /tmp/before HEAD~1``) and this tree, one subprocess per paper and side,
alternating which side goes first, and prints both tables: before and after from one run.
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
# the tree whose dknbench (and task YAMLs) are timed: a side of --compare imports its own
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv else ROOT
sys.path.insert(0, str(CODE))

TASKS = ["kn-localization", "kn-consistency", "knowledge-editing", "knowledge-synapses",
         "query-kn-mapping", "linguistic-control", "cross-lingual-editing", "gcr", "fact-checking",
         "perturbation-robustness"]
QUICK_TASKS = ["kn-localization", "knowledge-editing", "gcr", "query-kn-mapping"]
QUICK_OPTIONS = {"steps": 5, "max_queries": 2}  # 2: the query tasks need two paraphrases


class Clock:
    """Wall and CPU seconds spent inside wrapped functions, by part (CPU: ``time.process_time``, so
    every thread of the process counts), and the attribution cache's hits and misses."""

    def __init__(self, counter=None):
        self.seconds = defaultdict(float)
        self.cpu = defaultdict(float)
        self.flops = defaultdict(float)  # with a torch FlopCounterMode ``counter``: FLOPs by part
        self.counter = counter
        self.patches = []

    def _flops_now(self) -> float:
        return float(self.counter.get_total_flops()) if self.counter is not None else 0.0

    def wrap(self, owner, name: str, part: str):
        raw = vars(owner).get(name) if isinstance(owner, type) else None
        original = getattr(owner, name)
        seconds, cpu, flops = self.seconds, self.cpu, self.flops

        def timed(*args, **kwargs):
            start, start_cpu, start_flops = time.perf_counter(), time.process_time(), self._flops_now()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[part] += time.perf_counter() - start
                cpu[part] += time.process_time() - start_cpu
                flops[part] += self._flops_now() - start_flops

        setattr(owner, name, staticmethod(timed) if isinstance(raw, staticmethod) else timed)
        self.patches.append((owner, name, raw if raw is not None else original))

    @contextmanager
    def active(self):
        from dknbench.harness import facts, runner
        from dknbench.localization.cache import AttributionCache
        from dknbench.localization.locate import KNLocator

        self.wrap(runner, "run_facts", "facts")
        self.wrap(facts, "write_json", "io_json")  # the per-fact files (run_facts writes them)
        self.wrap(KNLocator, "query_scores", "query_scores")
        from dknbench import tasks as task_package

        if hasattr(task_package, "import_task_classes"):  # a --compare tree before b00bda6
            task_package.import_task_classes()
            entries = task_package.TASK_CLASSES.entries(load=True)
        else:  # the registry discovers its package on first lookup
            entries = task_package.TASK_CLASSES.entries()
        for entry in entries:  # the post-facts phases (fine-tuning, λ fit)
            if "after_facts" in vars(entry.load()):
                self.wrap(entry.load(), "after_facts", "after_facts")
        from dknbench.tasks import knowledge_editing, knowledge_update

        self.wrap(knowledge_editing, "perplexity", "ppl")  # 003's ΔPPL after every edit
        self.wrap(knowledge_update.KnowledgeUpdateTask, "train_fn", "finetune")
        self.wrap(AttributionCache, "get", "io_cache")
        self.wrap(AttributionCache, "put", "io_cache")
        original_get = AttributionCache.get
        counts = self.seconds

        def counted(cache, path):  # hits and misses of the attribution cache, across caches
            value = original_get(cache, path)
            counts["cache_hits" if value is not None else "cache_misses"] += 1
            return value

        AttributionCache.get = counted
        self.patches.append((AttributionCache, "get", original_get))
        try:
            yield self
        finally:
            for owner, name, original in reversed(self.patches):
                setattr(owner, name, original)

    def split(self, what: str = "cpu") -> dict:
        """CPU seconds (or, ``what="flops"``, counted FLOPs) of the per-fact phases by kind
        (run_facts + after_facts)."""
        c = self.flops if what == "flops" else self.cpu
        return {"attribution": c["query_scores"] - c["io_cache"],
                "interventions": (c["facts"] + c["after_facts"] - c["query_scores"] - c["io_json"]
                                  - c["finetune"] - c["ppl"]),
                "finetune": c["finetune"], "dppl": c["ppl"], "io": c["io_cache"] + c["io_json"]}


def task_options(task: str) -> set:
    from dknbench.tasks.config import load_task_config

    return set(load_task_config(CODE / "tasks" / f"{task}.yaml").options)


def timed_run(task: str, output: Path, cache: Path, limit: int, overrides: dict) -> dict:
    import json

    from dknbench.harness.runner import RunSpec, run

    known = task_options(task)
    spec = RunSpec(task=task, limit=limit, seed=0, output=str(output), cache_dir=str(cache), quiet=True,
                   overrides=[f"{k}={v}" for k, v in overrides.items() if k in known])
    clock = Clock()
    start = time.process_time()
    from dknbench.errors import NothingUsable

    with clock.active():
        try:
            run(spec)
        except NothingUsable:  # every fact skipped (e.g. not known by the model): timed, 0 computed
            pass
    total = time.process_time() - start
    t = clock.cpu  # CPU seconds (time.process_time): on a shared box the wall clock measures the load
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

    return len(load_facts(load_task_config(CODE / "tasks" / f"{task}.yaml").dataset))


PARTS = ("attribution", "interventions", "finetune", "dppl", "io")
PART_NAMES = {"attribution": "attrib", "interventions": "interv", "finetune": "finetune", "dppl": "ΔPPL",
              "io": "I/O"}
N_PROJECTED = 100


def flop_counter():
    """torch's FLOP counter (matrix products and attention; elementwise work is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False)


def print_flops(rows: list[dict], limit: int, peak: float, where: str) -> None:
    """Counted GFLOP per selected fact by part, and the floor: those FLOPs at the float32 product
    peak ``peak`` (GFLOP/s, CPU time) with no other cost, projected to N_PROJECTED facts per task."""
    print(f"counted GFLOP per selected fact by part (torch FlopCounterMode: products and attention); "
          f"float32 product peak {peak:.1f} GFLOP/s ({where}, CPU time)")
    head = (f"{'paper':<6} {'task':<24} " + " ".join(f"{PART_NAMES[p]:>8}" for p in PARTS)
            + f" {'GFLOP/f':>8} {'floor s/f':>9} {'CPU-s/f':>8} {f'floor h@{N_PROJECTED}':>12}")
    print(head + "\n" + "-" * len(head))
    grand = 0.0
    for paper in dict.fromkeys(r["paper"] for r in rows):
        total_flops = total_cpu = 0.0
        for r in rows:
            if r["paper"] != paper or r.get("status") == "failed" or "flops_split" not in r:
                continue
            per = {p: r["flops_split"][p] / limit / 1e9 for p in PARTS}
            gflop, cpu = sum(per.values()), sum(r["split"].values()) / limit
            total_flops, total_cpu = total_flops + gflop, total_cpu + cpu
            print(f"{paper:<6} {r['task']:<24} " + " ".join(f"{per[p]:>8.4g}" for p in PARTS)
                  + f" {gflop:>8.4g} {gflop / peak:>9.3g} {cpu:>8.1f} {gflop / peak * N_PROJECTED / 3600:>12.2f}")
        grand += total_flops / peak * N_PROJECTED / 3600
        print(f"{paper:<6} {'(paper)':<24} " + " ".join(f"{'':>8}" for _ in PARTS)
              + f" {total_flops:>8.4g} {total_flops / peak:>9.3g} {total_cpu:>8.1f} "
              f"{total_flops / peak * N_PROJECTED / 3600:>12.2f}")
    print(f"{'all':<6} {'':<24} " + " ".join(f"{'':>8}" for _ in PARTS) + f" {'':>8} {'':>9} {'':>8} {grand:>12.2f}")
    print(f"floor s/f: the fact's counted FLOPs at the peak, nothing else (a lower bound for the same arithmetic); "
          f"CPU-s/f: this run's, inflated by the counter's overhead; floor h@{N_PROJECTED}: the floor at "
          f"{N_PROJECTED} facts per task, one-off parts left out")


class NotSelected(Exception):
    """A task of the paper that ``--tasks`` leaves out (run_paper reports it as failed, untimed)."""


def reproduce_rows(papers: list[str], limit: int, work: Path, cache_dir: Path, model: str = "smollm2-135m",
                   tasks: list[str] | None = None, flops: bool = False) -> list[dict]:
    """Run each paper's reproduce CPU preset at ``limit`` facts per task in this process, every task
    and paper sharing one attribution cache (cold at the start, as a user's first three-paper run):
    one row per task with its CPU seconds split by part, the cache's hits and misses, and the
    1-minute load average before and after it (the machine's load is part of every figure).
    ``flops``: every task also runs under torch's FlopCounterMode and its row gets the counted FLOPs
    by part (``flops_split``); the counter's own overhead inflates that run's CPU seconds."""
    import json
    import os
    from contextlib import nullcontext

    from dknbench.harness import run as harness_run
    from dknbench.reproduce import run_paper

    rows = []
    for paper in papers:
        paper_rows = []

        def timed(spec):
            if tasks and spec.task not in tasks:
                raise NotSelected(spec.task)
            spec.cache_dir = str(cache_dir)
            counting = flop_counter() if flops else nullcontext()
            load = os.getloadavg()[0]
            start, start_cpu = time.perf_counter(), time.process_time()
            with counting as counter:
                clock = Clock(counter)
                try:
                    with clock.active():
                        return harness_run(spec)
                finally:
                    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
                    split = clock.split()
                    paper_rows.append({"paper": paper, "task": spec.task, "wall": wall, "cpu": cpu, "split": split,
                                       **({"flops_split": clock.split("flops")} if flops else {}),
                                       "once": cpu - sum(split.values()),
                                       "hits": int(clock.seconds["cache_hits"]),
                                       "misses": int(clock.seconds["cache_misses"]),
                                       "load": [load, os.getloadavg()[0]]})
                    print(f"  {paper} {spec.task}: {wall:.0f} s wall, {cpu:.0f} CPU-s", file=sys.stderr, flush=True)

        done = run_paper(paper, model=model, preset="cpu", limit=limit, output=work / paper, runner=timed)
        statuses = {o.task: o.status for o in done.outcomes}
        for o in done.outcomes:  # a task that failed is not a task that costs nothing: say so
            if o.status == "failed":
                print(f"  {paper} {o.task}: FAILED: {o.error}", file=sys.stderr, flush=True)
                if not any(r["task"] == o.task for r in paper_rows):  # it failed before its timer started
                    paper_rows.append({"paper": paper, "task": o.task, "status": "failed"})
        for row in paper_rows:
            if statuses.get(row["task"]) == "failed":
                row["status"] = "failed"
                continue
            records = [json.loads(p.read_text()) for p in (work / paper / row["task"] / "facts").glob("*.json")]
            row.update(status=statuses.get(row["task"], "?"), selected=len(records), n_full=dataset_size(row["task"]),
                       computed=sum(1 for r in records if r.get("skipped") is None))
        rows += paper_rows
    return rows


def projected_cpu_s(row: dict, limit: int, n: int) -> float:
    """One-off + per-fact CPU / limit x n; NaN when no fact was computed (nothing to project)."""
    return row["once"] + sum(row["split"].values()) / limit * n if row["computed"] else float("nan")


def print_reproduce(rows: list[dict], limit: int, label: str = "", cache: str = "cold at the start") -> None:
    import os

    import torch

    loads = [x for r in rows for x in r.get("load", [])]
    print(f"dknbench reproduce --preset cpu --limit {limit}, one attribution cache for all "
          f"papers ({cache}){label}")
    print(f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"{os.cpu_count()} CPUs, 1-minute load average during the tasks "
          + (f"{min(loads):.1f}-{max(loads):.1f}" if loads else "not recorded"))
    head = (f"{'paper':<6} {'task':<24} {'computed':>8} " + " ".join(f"{PART_NAMES[p]:>8}" for p in PARTS)
            + f" {'CPU-s/f':>8} {'one-off':>8} {'hits':>9} {f'h@{N_PROJECTED}':>7} {'h@all':>7}")
    print("CPU-seconds per selected fact by part; one-off and hits/lookups of the attribution cache per task\n"
          + head + "\n" + "-" * len(head))
    papers = list(dict.fromkeys(r["paper"] for r in rows))
    grand, grand_all, partial = 0.0, 0.0, False
    for paper in papers:
        mine = [r for r in rows if r["paper"] == paper]
        for r in mine:
            if r.get("status") == "failed":  # its error went to stderr; its time is not a task's cost
                print(f"{paper:<6} {r['task']:<24} {'FAILED':>8}")
                continue
            per = {p: r["split"][p] / limit for p in PARTS}
            h100 = projected_cpu_s(r, limit, N_PROJECTED) / 3600
            hall = projected_cpu_s(r, limit, r["n_full"]) / 3600
            looks = r["hits"] + r["misses"]
            print(f"{paper:<6} {r['task']:<24} {r['computed']:>3}/{r['selected']:<4} "
                  + " ".join(f"{per[p]:>8.1f}" for p in PARTS)
                  + f" {sum(per.values()):>8.1f} {r['once']:>8.1f} {r['hits']:>4}/{looks:<4} "
                  + (f"{h100:>7.2f} {hall:>7.2f}" if h100 == h100 else f"{'n/a':>7} {'n/a':>7}"))
        timed = [r for r in mine if r.get("status") != "failed"]
        known = [r for r in timed if r["computed"]]
        h100 = sum(projected_cpu_s(r, limit, N_PROJECTED) for r in known) / 3600
        hall = sum(projected_cpu_s(r, limit, r["n_full"]) for r in known) / 3600
        partial |= len(known) < len(mine)
        grand, grand_all = grand + h100, grand_all + hall
        per = {p: sum(r["split"][p] for r in timed) / limit for p in PARTS}
        print(f"{paper:<6} {'(paper)':<24} {'':>8} " + " ".join(f"{per[p]:>8.1f}" for p in PARTS)
              + f" {sum(per.values()):>8.1f} {sum(r['once'] for r in timed):>8.1f} {'':>9} "
              f"{h100:>7.2f} {hall:>7.2f}" + ("  at least" if len(known) < len(mine) else ""))
    print(f"{'all':<6} {'(' + ' + '.join(papers) + ')':<24} {'':>8} " + " ".join(f"{'':>8}" for _ in PARTS)
          + f" {'':>8} {'':>8} {'':>9} {grand:>7.2f} {grand_all:>7.2f}" + ("  at least" if partial else ""))
    print(f"h@{N_PROJECTED}: projected CPU-hours at {N_PROJECTED} facts per task (one-off + per-fact CPU / {limit} x "
          f"{N_PROJECTED}); h@all: at every fact of the task's dataset. Projections, not measurements; n/a: no "
          "fact computed, no per-fact cost to project ('at least' on the totals); FAILED: the task raised (stderr "
          "says why)")


def time_reproduce(papers: list[str], limit: int, json_out: str | None = None, model: str = "smollm2-135m",
                   tasks: list[str] | None = None, flops: bool = False) -> int:
    """Each paper's reproduce CPU preset at ``limit`` facts per task, split and projected; with
    ``flops`` also the counted FLOPs and the floor they set at this core's product peak."""
    import json

    with tempfile.TemporaryDirectory(prefix="dknbench-reproduce-") as tmp:
        rows = reproduce_rows(papers, limit, Path(tmp), Path(tmp) / "cache", model, tasks, flops)
    if json_out:
        Path(json_out).write_text(json.dumps(rows))
    print_reproduce(rows, limit)
    if flops:
        from floor import attribution_shapes, peak_gflops

        from dknbench.models import load_model

        print()
        print_flops(rows, limit, *peak_gflops(attribution_shapes(load_model(model), 128)))
    return 1 if any(r.get("status") == "failed" for r in rows) else 0


def compare_reproduce(papers: list[str], limit: int, before: Path, rounds: int, model: str = "smollm2-135m",
                      tasks: list[str] | None = None, warm: Path | None = None) -> int:
    """Before (the code tree ``before``) and after (this tree), paper by paper in subprocesses,
    alternating which side runs first, each side with its own cache shared across its papers."""
    import json
    import os
    import subprocess

    results = {"before": [], "after": []}
    trees = {"before": before.resolve(), "after": ROOT}
    with tempfile.TemporaryDirectory(prefix="dknbench-compare-") as tmp:
        for rnd in range(rounds):
            for i, paper in enumerate(papers):
                order = ["before", "after"] if (i + rnd) % 2 == 0 else ["after", "before"]
                for side in order:
                    out = Path(tmp) / f"{side}-{rnd}-{paper}.json"
                    cache = Path(tmp) / f"cache-{side}-{rnd}"
                    if warm is not None and not cache.exists():  # each side its own copy: both start alike
                        import shutil

                        shutil.copytree(warm, cache)
                    env = dict(os.environ, PYTHONPATH=str(trees[side]))
                    subprocess.run([sys.executable, __file__, "--reproduce", paper, "--limit", str(limit),
                                    "--code", str(trees[side]), "--json", str(out), "--model", model,
                                    *(["--tasks", *tasks] if tasks else []),
                                    "--cache-dir", str(cache)],
                                   env=env, stdout=subprocess.DEVNULL)  # exit 1: a task failed, in the table
                    if not out.exists():
                        raise SystemExit(f"suite.py: the {side} side of paper {paper} crashed (its stderr above)")
                    results[side] += json.loads(out.read_text())
                for side in ("before", "after"):  # so far: an interrupted comparison still reports
                    print_reproduce(results[side], limit, f", {side}: {trees[side]}",
                                    f"a copy of {warm} at the start" if warm else "cold at the start")
                    print(flush=True)
    failed = [r for side in results.values() for r in side if r.get("status") == "failed"]
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK_TASKS)}; 2 facts; steps=5, max_queries=2")
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="the tasks to time (with --reproduce: the paper's tasks outside it are not run)")
    parser.add_argument("--limit", type=int, default=None, help="facts per task (default 2 quick, 3)")
    parser.add_argument("--reproduce", nargs="+", metavar="PAPER", default=None,
                        help="time each paper's `reproduce --preset cpu` at --limit facts per task")
    parser.add_argument("--compare", metavar="DIR", default=None,
                        help="with --reproduce: also time the code tree DIR (e.g. a `git worktree` of the "
                             "commit before a cut), paper by paper, alternating with this tree")
    parser.add_argument("--model", default="smollm2-135m",
                        help="with --reproduce: the model (default the embedded one; tiny-gpt2 checks the cache hits in seconds)")
    parser.add_argument("--warm-cache", metavar="DIR", default=None,
                        help="with --compare: each side starts from its own copy of this attribution cache "
                             "(e.g. ~/.cache/dknbench/attributions), so the cuts outside attribution are what "
                             "differs; the hits column says how much attribution it saved")
    parser.add_argument("--flops", action="store_true",
                        help="with --reproduce: also count each part's FLOPs and print the floor they set at "
                             "this core's float32 product peak (the counter slows the run)")
    parser.add_argument("--code", metavar="DIR", default=None, help=argparse.SUPPRESS)  # the tree to import
    parser.add_argument("--json", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reproduce and args.compare:
        return compare_reproduce(args.reproduce, args.limit or 2, Path(args.compare), 1, args.model, args.tasks,
                                 Path(args.warm_cache) if args.warm_cache else None)
    if args.reproduce and args.cache_dir:  # one side of --compare, in its own process
        import json

        with tempfile.TemporaryDirectory(prefix="dknbench-reproduce-") as work:
            rows = reproduce_rows(args.reproduce, args.limit or 2, Path(work), Path(args.cache_dir), args.model,
                                  args.tasks)
        Path(args.json).write_text(json.dumps(rows))
        return 0
    if args.reproduce:
        return time_reproduce(args.reproduce, args.limit or 2, args.json, args.model, args.tasks, args.flops)
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
                print(f"  {task} {state}: {r['total']:.1f} CPU-s", file=sys.stderr, flush=True)

    import os

    import torch

    print(f"embedded model, {limit} fact(s) per task" + (", --quick (steps=5, max_queries=2)" if args.quick else "")
          + f"; CPU-seconds; torch threads {torch.get_num_threads()}, 1-minute load average {os.getloadavg()[0]:.1f} at the end")
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
