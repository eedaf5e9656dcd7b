"""The lowest-layer start (issue 29), timed against the plain path on the embedded model.

    python benchmarks/cuts.py [--repeats 2] [--layers 0 15 24 29]

Two workloads, each run plain and cut alternately, CPU-seconds (``time.process_time``) per call:

* ``suppress``: a SuppressionScorer (3 queries of one fact) scoring every non-empty subset of 6
  neurons (63 sets: GCR's k-subsets, the functional filter's shape), the neurons in layers
  ``low``..top, so the lowest suppressed layer of the sets ranges from ``low`` up. A fresh scorer
  per call: its one-off clean run is included.
* ``ΔPPL``: the perplexity of 5 WikiText-2 rows x 128 tokens after erasing the write vectors of 6
  neurons whose lowest layer is ``low`` (knowledge-editing's ΔPPL after an edit). The clean run
  that the cut starts from is made once per fact and shared by all of its edits (6 per method at the
  CPU preset); its cost is printed on its own line.

The numbers are equal (tests/test_exact_cuts.py); only the time differs, and it depends on where the
neurons are: KNs sit mostly in the upper layers, where the cut skips most blocks.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import dknbench  # noqa: E402,F401  (before torch: its OpenMP wait-policy default applies)

QUERIES = ["The capital of France is [Y].", "France's capital city is [Y].", "The capital city of France is [Y]."]


def cpu(fn):
    start = time.process_time()
    fn()
    return time.process_time() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--layers", type=int, nargs="+", default=[0, 15, 24, 29])
    args = parser.parse_args(argv)
    import torch

    from dknbench.models import load_model
    from dknbench.paths import shared_data_dir
    from dknbench.scoring import AnswerScorer
    from dknbench.tasks import knowledge_editing as ke
    from dknbench.tasks.dkn_common import SuppressionScorer

    lm = load_model()
    scorer, top = AnswerScorer(lm), lm.adapter.n_layers - 1
    texts = (ke.load_wikitext_rows("", 20) or [])[:5]
    if not texts:
        raise SystemExit(f"WikiText-2 not found under {shared_data_dir()}: set DKNBENCH_SHARED_DATA")
    rows = []
    for low in args.layers:
        layers = [low] + sorted({min(top, low + (top - low) * i // 5) for i in range(1, 6)})
        neurons = [(l, 7 + 11 * i) for i, l in enumerate((layers + [top] * 6)[:6])]
        sets = [list(c) for k in range(1, 7) for c in itertools.combinations(neurons, k)]
        clean = ke.clean_states(lm, texts, 128)
        times = {"suppress plain": [], "suppress cut": [], "ΔPPL plain": [], "ΔPPL cut": []}
        for r in range(args.repeats):
            for flag in ((False, True) if r % 2 == 0 else (True, False)):
                name = "cut" if flag else "plain"
                times[f"suppress {name}"].append(cpu(lambda: SuppressionScorer(
                    scorer, lm.adapter, QUERIES, "Paris", lowest_layer=flag).prob_suppressing_many(sets)))
                with ke.edit_write_vectors(lm.adapter, neurons, "erasure"), torch.no_grad():
                    times[f"ΔPPL {name}"].append(cpu(lambda: ke.perplexity(
                        lm, texts, 128, clean if flag else None, ke.lowest_layer(neurons))))
        rows.append((low, {k: min(v) for k, v in times.items()}))
        print(f"  low={low}: " + ", ".join(f"{k} {min(v):.2f}" for k, v in times.items()), file=sys.stderr, flush=True)
    once = min(cpu(lambda: ke.clean_states(lm, texts, 128)) for _ in range(args.repeats))
    print(f"embedded model ({lm.adapter.n_layers} layers), CPU-s per call (best of {args.repeats}, alternating), "
          f"torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}")
    head = f"{'lowest layer':>12} {'63 suppressions':>16} {'cut':>6} {'x':>5} {'ΔPPL 5x128':>11} {'cut':>6} {'x':>5}"
    print(head + "\n" + "-" * len(head))
    for low, t in rows:
        print(f"{low:>12} {t['suppress plain']:>16.2f} {t['suppress cut']:>6.2f} "
              f"{t['suppress plain'] / t['suppress cut']:>5.1f} {t['ΔPPL plain']:>11.2f} {t['ΔPPL cut']:>6.2f} "
              f"{t['ΔPPL plain'] / t['ΔPPL cut']:>5.1f}")
    print(f"the ΔPPL cut's clean run, once per fact (shared by its edits): {once:.2f} CPU-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
