"""The reduced-precision opt-in (``--dtype bfloat16``) against a float32 run (issue 29.2): agreement
of the KN sets and of the metric, on the same facts.

    OMP_NUM_THREADS=1 python benchmarks/dtype_agreement.py --reference docs/results/localizers/all-facts \
        --dtype bfloat16 --methods ig,amig --facts 30 --output /tmp/bf16-run

bf16 blocks cut attribution 2.3-2.5x (``attribution.py``) but change the numbers, so the suite keeps
float32 as its only default and offers bf16 as an opt-in whose agreement is measured here. The
reference is a finished or in-progress kn-localization run folder at float32 with the known-fact
gate off (``known_only=false``): the first ``--facts`` facts of its seeded order are rerun at
``--dtype`` with the reference's model, data set, seed, limit and options (checked equal after
resolving), so both sides hold the same facts with the same irrelevant facts drawn. The rerun is
resumable (its own run folder, its own attribution cache under ``--output``).

Printed per method, on the facts both sides have:

* the KN sets' Jaccard overlap (per fact: |A ∩ B| / |A ∪ B|, 1 when both are empty), its mean with a
  t-interval, its median, and the share of facts whose sets are identical;
* the task's own summary (``KNLocalizationTask.summarize``) of each side's rows on those facts: SR
  and rel_minus_irr with their 95 % CIs, and whether the two CIs overlap;
``--dtype float32`` is the script's self-check: the rerun must agree exactly (every KN set identical).

``--variant PARAMS`` reruns each method as the variant ``METHOD[PARAMS]`` at float32 (unless --dtype is
given) and compares it with the reference's plain METHOD, the same way: the IG quadrature opt-in,

    OMP_NUM_THREADS=1 python benchmarks/dtype_agreement.py --reference docs/results/localizers/all-facts \
        --variant quadrature=gauss-legendre,steps=8 --methods ig,amig --facts 30 --output /tmp/gl8-run

* CPU-seconds per fact of each side (``seconds.cpu`` of the fact files; the reference's are those it
  recorded, possibly with cache hits from earlier runs, so only the rerun's are a cold-cache cost).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import dknbench  # noqa: E402,F401  (before torch: its OpenMP wait-policy default applies)


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def variant_of(method: str, variant: str | None) -> str:
    return f"{method}[{variant}]" if variant else method


def rerun(reference: Path, dtype: str, methods: list[str], n: int, output: Path, variant: str | None = None) -> None:
    """The first ``n`` facts of the reference's run, at ``dtype`` (each method as its ``variant``),
    into ``output`` (resumable)."""
    from dknbench.harness.facts import run_facts
    from dknbench.harness.runner import prepare_start
    from dknbench.harness.spec import RunSpec, resolve
    from dknbench.io import write_json

    ref = json.loads((reference / "run.json").read_text())["resolved"]
    if ref["task"] != "kn-localization" or ref["options"].get("known_only"):
        raise SystemExit(f"{reference}: needs a kn-localization run with known_only=false (the gate would "
                         "select other facts at another precision)")
    spec = RunSpec(task=ref["task"], methods=[variant_of(m, variant) for m in methods], model=ref["model"], dataset=ref["dataset"],
                   limit=ref["limit"], seed=ref["seed"], dtype=dtype, output=str(output), quiet=False,
                   cache_dir=str(output / "attribution-cache"),
                   overrides=[f"{k}={_text(v)}" for k, v in ref["options"].items()])
    resolved = resolve(spec)
    if resolved.hashed["options"] != ref["options"]:
        raise SystemExit(f"options resolve to {resolved.hashed['options']}, not the reference's {ref['options']}")
    facts, lm, task, _ = prepare_start(resolved)
    (output / "facts").mkdir(parents=True, exist_ok=True)
    # not a run.json: this folder is a partial rerun the harness must not take for a run of its own
    write_json(output / "rerun.json", {"resolved": resolved.hashed, "reference": str(reference),
                                       "model_fingerprint": lm.fingerprint})
    run_facts(task, facts, output, spec.seed, indices=list(range(min(n, len(facts)))), desc=f"{dtype} rerun")


def fact_rows(folder: Path, rename: dict | None = None) -> dict:
    """fact id -> (rows, cpu seconds) of a run folder's finished fact files; ``rename`` maps a
    variant's label back to its method, so both sides' rows carry the same names."""
    out = {}
    for path in sorted((folder / "facts").glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("rows"):
            rows = [{**r, "method": (rename or {}).get(r["method"], r["method"])} for r in record["rows"]]
            out[record["fact_id"]] = (rows, (record.get("seconds") or {}).get("cpu"))
    return out


def jaccard(a, b) -> float:
    a, b = {tuple(x) for x in a}, {tuple(x) for x in b}
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def compare(reference: Path, other: Path, methods: list[str], dtype: str, variant: str | None = None) -> None:
    from types import SimpleNamespace

    import numpy as np

    from dknbench.stats import mean_ci
    from dknbench.tasks.kn_localization import KNLocalizationTask

    ref = fact_rows(reference)
    new = fact_rows(other, {variant_of(m, variant): m for m in methods})
    common = [f for f in new if f in ref]
    resolved = json.loads((other / "rerun.json").read_text())["resolved"]
    label = f"{dtype} [{variant}]" if variant else dtype
    print(f"kn-localization, float32 ({reference}) against {label} ({other}), {len(common)} common facts, "
          f"model {resolved['model']}, options as the reference")
    dtype = label  # the rerun side's name in the table
    head = (f"{'method':<8} {'KN Jaccard mean [95 % CI]':>28} {'median':>7} {'identical':>9}  "
            f"{'metric':<14} {'float32':>28} {dtype:>28} {'CIs overlap':>11}")
    print(head + "\n" + "-" * len(head))
    summaries = {}
    for side, runs in (("reference", ref), ("rerun", new)):  # keyed by side: the self-check's names are equal
        rows = [r for f in common for r in runs[f][0] if r["method"] in methods]
        ctx = SimpleNamespace(methods=methods, seed=resolved["seed"], options=resolved["options"])
        summaries[side] = KNLocalizationTask(ctx).summarize(rows, other).metrics
    for method in methods:
        pairs = [(next(r for r in ref[f][0] if r["method"] == method)["kns"],
                  next(r for r in new[f][0] if r["method"] == method)["kns"]) for f in common]
        values = [jaccard(a, b) for a, b in pairs]
        ci = mean_ci(values)
        same = sum(1 for v in values if v == 1.0)
        for number, metric in enumerate(("SR", "rel_minus_irr")):
            cells, bounds = [], []
            for side in ("reference", "rerun"):
                rec = next((m for m in summaries[side] if m["method"] == method and m["metric"] == metric
                            and m.get("group") in (None, "", "all")), None)
                if rec is None or rec.get("value") is None or rec["value"] != rec["value"]:
                    cells.append("undefined")
                    bounds.append(None)
                else:
                    cells.append(f"{rec['value']:.3g} [{rec['ci_low']:.3g}, {rec['ci_high']:.3g}]")
                    bounds.append((rec["ci_low"], rec["ci_high"]))
            overlap = ("-" if None in bounds else
                       "yes" if bounds[0][0] <= bounds[1][1] and bounds[1][0] <= bounds[0][1] else "no")
            lead = (f"{method:<8} {f'{ci.estimate:.3f} [{ci.low:.3f}, {ci.high:.3f}]':>28} "
                    f"{float(np.median(values)):>7.3f} {f'{same}/{len(values)}':>9}") if number == 0 else " " * 55
            print(f"{lead}  {metric:<14} {cells[0]:>28} {cells[1]:>28} {overlap:>11}")
    cpu = {side: [runs[f][1] for f in common if runs[f][1] is not None]
           for side, runs in (("reference (float32)", ref), (f"rerun ({dtype})", new))}
    print("CPU-s per fact (mean over the common facts; the float32 side as recorded by the reference run): "
          + ", ".join(f"{side} {np.mean(v):.1f}" for side, v in cpu.items() if v))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, type=Path)
    parser.add_argument("--dtype", choices=["bfloat16", "float16", "float32"],
                        help="float32: the self-check (every set identical; tiny models are float32 only); "
                             "default bfloat16, or float32 with --variant")
    parser.add_argument("--variant", help="rerun each method as METHOD[VARIANT], e.g. quadrature=gauss-legendre,steps=8")
    parser.add_argument("--methods", default="ig,amig")
    parser.add_argument("--facts", type=int, default=30)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    dtype = args.dtype or ("float32" if args.variant else "bfloat16")
    rerun(args.reference, dtype, methods, args.facts, args.output, args.variant)
    compare(args.reference, args.output, methods, dtype, args.variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
