"""The arithmetic floor of attribution (issue 29.4, for the whole suite): how close IG and AMIG run
to this core's float32 matrix-product peak, and what that leaves for any exact speed-up.

    OMP_NUM_THREADS=1 python benchmarks/floor.py --model smollm2-135m --facts 3 --methods ig,amig \
        [--suite-attribution 203 --suite-other 63 --n 100 --goal 4]

Per method, on the first query of the first built-in facts (the suite's seeded order): the floating
point operations of one attribution, counted by ``torch.utils.flop_counter`` (forward and input
gradients, baseline forwards included), the share of them in the LM head (rows x 4 d V: its forward
and its input gradient; the softmax needs every logit, so no exact path skips it), the CPU-seconds of
the same attribution timed outside the counter, and the achieved rate against the peak: the fastest
of float32 products of the attribution's own shapes (batch rows x hidden x MLP width, x vocabulary,
and their transposes) and a 2048-square product, timed in the same process.

``efficiency`` = achieved / peak. Any implementation that performs the same arithmetic needs at
least (its CPU-seconds x efficiency) on this core, so, given the suite's measured attribution CPU per
fact (``--suite-attribution``, from ``benchmarks/suite.py --reproduce``: the three papers summed) and
the rest of its per-fact CPU (``--suite-other``), the script prints the floor of the n-fact
projection: attribution at the peak with no overhead, every other part at 0 (a lower bound) and at
its measured cost. The efficiency used is the highest of the methods measured (the lowest floor).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def count_flops(fn) -> int:
    """Floating point operations of ``fn()`` (matrix products and attention; elementwise ops are
    not counted by torch's counter, so the floor below is a lower bound)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def peak_gflops(shapes: list[tuple[int, int, int]], seconds: float = 0.5) -> tuple[float, str]:
    """The fastest float32 product rate (GFLOP/s) over ``shapes`` (m, k, n), each timed for
    ``seconds`` of CPU time after a warm-up; returns (rate, the shape that reached it)."""
    import torch

    best, where = 0.0, ""
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        for _ in range(2):
            a @ b
        start, reps = time.process_time(), 0  # CPU time, as the attributions: load does not count
        while time.process_time() - start < seconds:
            a @ b
            reps += 1
        rate = 2 * m * k * n * reps / (time.process_time() - start) / 1e9
        if rate > best:
            best, where = rate, f"{m}x{k}x{n}"
    return best, where


def attribution_shapes(lm, rows: int) -> list[tuple[int, int, int]]:
    """The products an attribution batch runs: hidden <-> MLP width and hidden <-> vocabulary, both
    directions, plus a large square product."""
    d, width = lm.model.config.hidden_size, lm.adapter.n_neurons
    vocab = lm.model.get_output_embeddings().weight.shape[0]
    return [(rows, d, width), (rows, width, d), (rows, d, vocab), (rows, vocab, d), (2048, 2048, 2048)]


def measure(lm, scorer, localizer, encoded, steps: int) -> dict:
    """One attribution of ``encoded``: counted FLOPs, head FLOPs, CPU-seconds (median of two)."""
    from dknbench.localization import IGEngine

    engine = IGEngine(lm, scorer, steps=steps)
    flops = count_flops(lambda: localizer.scores(engine, encoded))
    rows = sum(engine.batch_sizes)
    d = lm.model.config.hidden_size
    vocab = lm.model.get_output_embeddings().weight.shape[0]
    head = rows * len(encoded.answer_ids[:1]) * 4 * d * vocab
    cpu = []
    for _ in range(2):
        start = time.process_time()
        localizer.scores(engine, encoded)
        cpu.append(time.process_time() - start)
    return {"flops": flops, "head": head, "rows": rows, "cpu": statistics.median(cpu),
            "batch": max(engine.batch_sizes)}


def floor_lines(efficiency: float, attribution: float, other: float, n: int, goal: float | None) -> list[str]:
    """The projection's floor at ``n`` facts from per-fact CPU-seconds (attribution, other)."""
    hours = lambda seconds: seconds * n / 3600  # noqa: E731
    measured = hours(attribution + other)
    at_peak = hours(attribution * efficiency)
    lines = [f"suite per fact: attribution {attribution:.1f} CPU-s, other {other:.1f} CPU-s -> "
             f"{measured:.2f} CPU-h at n = {n} (measured)",
             f"floor, attribution at the peak with no overhead, every other part free: {at_peak:.2f} CPU-h",
             f"floor, attribution at the peak, the other parts as measured: {at_peak + hours(other):.2f} CPU-h"]
    if goal is not None:
        verdict = "below" if at_peak <= goal else "above"
        lines.append(f"goal {goal:g} CPU-h: the exact floor is {verdict} it "
                     f"(attribution alone would need {at_peak / goal:.2f}x the goal at the peak)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--facts", type=int, default=3)
    parser.add_argument("--methods", default="ig,amig")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--suite-attribution", type=float, help="CPU-s of attribution per fact, the papers summed")
    parser.add_argument("--suite-other", type=float, default=0.0, help="CPU-s of everything else per fact")
    parser.add_argument("--n", type=int, default=100, help="facts per task in the projection")
    parser.add_argument("--goal", type=float, help="CPU-hours the projection should reach")
    args = parser.parse_args(argv)

    import torch

    from dknbench.data.loading import load_facts
    from dknbench.localization.locate import build_localizer
    from dknbench.models import load_model
    from dknbench.scoring import AnswerScorer

    lm = load_model(args.model)
    scorer = AnswerScorer(lm)
    facts = load_facts("builtin", limit=args.facts)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    results: dict[str, list[dict]] = {m: [] for m in methods}
    for fact in facts:
        encoded = scorer.encode(fact.queries[0], fact.object)
        for method in methods:
            localizer = build_localizer(method, steps=args.steps)
            results[method].append(measure(lm, scorer, localizer, encoded, args.steps))
            print(f"{fact.id} {method}: {results[method][-1]['cpu']:.1f} CPU-s", file=sys.stderr, flush=True)
    batch = max(r["batch"] for rs in results.values() for r in rs)
    peak, where = peak_gflops(attribution_shapes(lm, batch))

    print(f"{args.model}: {len(facts)} facts (first query each), {args.steps} steps, torch threads "
          f"{torch.get_num_threads()}; float32 product peak {peak:.1f} GFLOP/s ({where})")
    print(f"{'method':8s} {'rows':>6s} {'GFLOP':>8s} {'head %':>7s} {'CPU-s':>7s} {'GFLOP/s':>8s} "
          f"{'efficiency':>10s} {'floor CPU-s':>11s}")
    efficiencies = []
    for method, runs in results.items():
        flops = sum(r["flops"] for r in runs) / len(runs)
        head = sum(r["head"] for r in runs) / len(runs)
        cpu = sum(r["cpu"] for r in runs) / len(runs)
        rows = sum(r["rows"] for r in runs) / len(runs)
        rate = flops / cpu / 1e9
        efficiencies.append(rate / peak)
        print(f"{method:8s} {rows:6.0f} {flops / 1e9:8.4g} {100 * head / flops:7.1f} {cpu:7.2f} {rate:8.3g} "
              f"{rate / peak:10.3g} {flops / 1e9 / peak:11.3g}")
    print("per attribution, means over the facts; floor = counted FLOPs at the peak (elementwise work not counted)")
    if args.suite_attribution is not None:
        for line in floor_lines(max(efficiencies), args.suite_attribution, args.suite_other, args.n, args.goal):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
