"""causal-tracing's restorations from each neuron's own layer (issue 29), timed against every row
running every block, on a real model.

    OMP_NUM_THREADS=1 python benchmarks/trace_cut.py [--model smollm2-135m] [--facts 2]

causal-tracing (AtP*-style) measures the exact indirect effect of the top-200 atp neurons, one batch
row per neuron, for each of its 10 noise draws: 2000 tail forwards per query. A row restoring a
neuron of layer l computes, below l, exactly the corrupted run; the cut starts it there
(``causal_tracing._restored_from_own_layer``). For the first query of each of the first ``--facts``
built-in facts (the preset's defaults: top_k 200, 10 draws, target position), the whole localizer is
run plain and cut, alternating which goes first, with a cold attribution (no cache): CPU-seconds
(``time.process_time``) per query, and the largest difference of the two score arrays relative to
the largest score (the tests hold it under 1e-6 on the tiny families), whether the KN sets (score >
tau x max) are the same, and the median layer of the measured neurons. The restored neurons' layers
decide the gain (rows of upper layers skip more).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import dknbench  # noqa: E402,F401  (before torch: its OpenMP wait-policy default applies)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--facts", type=int, default=2)
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    from dknbench.data.loading import load_facts
    from dknbench.localization import IGEngine, build_localizer
    from dknbench.localization.causal_tracing import CausalTracing
    from dknbench.models import load_model
    from dknbench.scoring import AnswerScorer

    lm = load_model(args.model)
    scorer = AnswerScorer(lm)
    engine = IGEngine(lm, scorer)
    tracer = build_localizer("causal-tracing")
    rows = []
    for fact in load_facts("builtin", limit=args.facts):
        encoded = scorer.encode(fact.queries[0], fact.object)
        seconds, scores = {}, {}
        for flag in ((True, False) if len(rows) % 2 == 0 else (False, True)):
            CausalTracing.LOWEST_LAYER = flag
            start = time.process_time()
            scores[flag] = tracer.scores(engine, encoded, subject=fact.subject)
            seconds[flag] = time.process_time() - start
        CausalTracing.LOWEST_LAYER = True
        measured = np.argwhere(scores[False] != 0)
        diff = float(np.abs(scores[True] - scores[False]).max() / np.abs(scores[False]).max())
        layers = measured[:, 0] if len(measured) else np.zeros(0)
        kns = [set(map(tuple, np.argwhere(s > tracer.tau * s.max()).tolist())) for s in (scores[True], scores[False])]
        rows.append((fact.id, seconds[False], seconds[True], diff, kns[0] == kns[1],
                     float(np.median(layers)) if len(layers) else float("nan")))
        print(f"  {fact.id}: plain {seconds[False]:.1f} cut {seconds[True]:.1f} CPU-s", file=sys.stderr, flush=True)
    print(f"{args.model} ({lm.adapter.n_layers} layers), causal-tracing (top_k {tracer.top_k}, "
          f"{tracer.noise_samples} draws) on one query per fact, CPU-s, torch threads {torch.get_num_threads()}, "
          f"load {os.getloadavg()[0]:.1f}")
    head = f"{'fact':>28} {'plain':>7} {'cut':>7} {'x':>5} {'max|diff|/max':>14} {'KNs equal':>9} {'median layer':>13}"
    print(head + "\n" + "-" * len(head))
    for fid, plain, cut, diff, same, median in rows:
        print(f"{fid:>28} {plain:>7.1f} {cut:>7.1f} {plain / cut:>5.2f} {diff:>14.1e} {str(same):>9} {median:>13.1f}")
    total_plain, total_cut = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'all':>28} {total_plain:>7.1f} {total_cut:>7.1f} {total_plain / total_cut:>5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
