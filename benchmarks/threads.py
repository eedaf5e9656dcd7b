"""Thread count and OpenMP wait policy on a shared CPU box: which default wastes the least.

    python benchmarks/threads.py [--units 3] [--rounds 2] [--model gpt2-small-shape|embedded]

One *unit* of work is one IG attribution (20 steps, zero baseline, every layer) of a prompt, the
kernel most of a reproduction's CPU goes into. Each configuration runs in fresh subprocesses (the
OpenMP runtime reads OMP_WAIT_POLICY once, at start), alternating configurations round by round:

* ``1 proc x 2 thr``: torch's default on this box (torch.get_num_threads() = cores);
* ``1 proc x 2 thr PASSIVE``: the same with OMP_WAIT_POLICY=PASSIVE (idle threads sleep at once
  instead of spinning for a descheduled sibling);
* ``1 proc x 1 thr``;
* ``2 procs x 1 thr``: two 1-thread processes at once, each doing the units (a pool of workers).

Printed per configuration: wall seconds per unit of throughput (units done / wall time of the
whole configuration) and CPU-seconds per unit (every thread of every process counts). The load
average is printed beside them: on a loaded box spinning threads burn CPU that other jobs need.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {"1 proc x 2 thr": (1, 2, None), "1 proc x 2 thr PASSIVE": (1, 2, "PASSIVE"),
           "1 proc x 1 thr": (1, 1, None), "2 procs x 1 thr": (2, 1, None)}


def child(model: str, units: int) -> None:
    """Load, warm up, then time ``units`` attributions; print {"wall", "cpu"} as JSON."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from attribution import PROMPTS, build
    from dknbench.localization.engine import IGEngine

    torch.set_num_threads(int(os.environ["DKNBENCH_BENCH_THREADS"]))
    lm = build(model, "cpu", None)
    engine = IGEngine(lm, steps=20)
    encoded = [engine.scorer.encode(q, a) for q, a in PROMPTS]
    zeros = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    engine.attribute(encoded[0], zeros)  # warm-up: allocator, kernels
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(units):
        engine.attribute(encoded[i % len(encoded)], zeros)
    print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - start_cpu}))


def run_config(name: str, model: str, units: int) -> dict:
    procs, threads, policy = CONFIGS[name]
    env = dict(os.environ, DKNBENCH_BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    env.pop("OMP_WAIT_POLICY", None)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    start = time.perf_counter()
    running = [subprocess.Popen([sys.executable, __file__, "--child", "--model", model, "--units", str(units)],
                                env=env, stdout=subprocess.PIPE, text=True) for _ in range(procs)]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in running]
    # throughput: units of every process over the longest timed section (loading is not timed)
    wall = max(r["wall"] for r in results)
    return {"units": units * procs, "wall": wall, "cpu": sum(r["cpu"] for r in results),
            "elapsed": time.perf_counter() - start, "load": os.getloadavg()[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2-small-shape", choices=("gpt2-small-shape", "embedded"))
    parser.add_argument("--units", type=int, default=3, help="attributions per process")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.model, args.units)
        return 0
    rows = {name: [] for name in args.configs}
    for rnd in range(args.rounds):
        order = args.configs if rnd % 2 == 0 else list(reversed(args.configs))
        for name in order:
            rows[name].append(run_config(name, args.model, args.units))
            r = rows[name][-1]
            print(f"  round {rnd} {name}: {r['wall'] / r['units']:.2f} wall-s/unit, "
                  f"{r['cpu'] / r['units']:.2f} CPU-s/unit, load {r['load']:.1f}", file=sys.stderr, flush=True)
    print(f"{args.model}, IG 20 steps per unit, {args.units} unit(s) per process, {args.rounds} round(s) "
          f"alternating, {os.cpu_count()} cores")
    head = f"{'configuration':<24} {'wall-s/unit':>11} {'CPU-s/unit':>10} {'load (1 min)':>12}"
    print(head + "\n" + "-" * len(head))
    for name, runs in rows.items():
        units = sum(r["units"] for r in runs)
        print(f"{name:<24} {sum(r['wall'] for r in runs) / units:>11.2f} {sum(r['cpu'] for r in runs) / units:>10.2f} "
              f"{sum(r['load'] for r in runs) / len(runs):>12.1f}")
    print("wall-s/unit: timed wall seconds / units done (lower = more throughput); CPU-s/unit: CPU time "
          "of every thread and process / units (what the box pays); load: 1-minute load average after the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
