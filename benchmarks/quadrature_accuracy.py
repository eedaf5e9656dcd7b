"""How far IG's KN sets move with the quadrature (issue 29.2): KN sets of several runs against a
many-node run of the same facts.

    OMP_NUM_THREADS=1 python benchmarks/quadrature_accuracy.py --truth /tmp/agree/gl48 --methods ig,amig \
        --runs riemann-20=docs/results/localizers/all-facts riemann-8=/tmp/agree/rr8 gauss-legendre-8=/tmp/agree/gl8

``dtype_agreement.py --variant`` measures an opt-in against the suite's default (Dai et al.'s 20-step
Riemann sum). That says how far the numbers move, not which side is right: the default is itself an
approximation of the integral. Here every run is set against ``--truth``, a rerun with many nodes
(``--variant quadrature=gauss-legendre,steps=48``), on the facts all of them have; a run with fewer nodes
among ``--runs`` (e.g. 24) shows whether that truth has converged (benchmarks/README.md: amig's has,
ig's has not). Each folder is a run
folder or a ``dtype_agreement.py`` rerun folder (``facts/*.json``); a row's method may be a variant
(``ig[quadrature=...]``), read as its plain name. Printed per method and run: the KN sets' Jaccard
overlap with the truth's (mean [95 % t-interval], median, identical sets).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def kn_sets(folder: Path, methods: list[str]) -> dict:
    """(fact id, plain method) -> KN set of a folder's finished fact files."""
    out = {}
    for path in sorted((folder / "facts").glob("*.json")):
        record = json.loads(path.read_text())
        for row in record.get("rows") or []:
            plain = row["method"].split("[", 1)[0]
            if plain in methods:
                out[record["fact_id"], plain] = {tuple(n) for n in row["kns"]}
    return out


def main(argv=None) -> int:
    from dtype_agreement import jaccard

    from dknbench.stats import mean_ci

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", required=True, type=Path)
    parser.add_argument("--runs", required=True, nargs="+", help="NAME=FOLDER ...")
    parser.add_argument("--methods", default="ig,amig")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    runs = {}
    for item in args.runs:
        name, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "facts").is_dir():
            print(f"quadrature_accuracy.py: --runs {item!r}: give NAME=FOLDER with a facts/ folder", file=sys.stderr)
            return 2
        runs[name] = kn_sets(Path(folder), methods)
    truth = kn_sets(args.truth, methods)
    head = f"{'method':<8} {'run':<22} {'facts':>5} {'KN Jaccard vs truth [95 % CI]':>30} {'median':>7} {'identical':>9}"
    print(f"KN sets against {args.truth} on the facts every run has\n{head}\n{'-' * len(head)}")
    for method in methods:
        facts = sorted(f for f, m in truth if m == method and all((f, m) in r for r in runs.values()))
        for name, sets in runs.items():
            values = [jaccard(sets[f, method], truth[f, method]) for f in facts]
            if not values:
                print(f"{method:<8} {name:<22} {0:>5} {'no common facts':>30}")
                continue
            ci = mean_ci(values)
            median = statistics.median(values)
            interval = f"{ci.estimate:.3f} [{ci.low:.3f}, {ci.high:.3f}]" if len(values) > 1 else f"{ci.estimate:.3f}"
            same = sum(v == 1.0 for v in values)
            print(f"{method:<8} {name:<22} {len(values):>5} {interval:>30} {median:>7.3f} {f'{same}/{len(values)}':>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
