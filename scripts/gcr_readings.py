"""GCR readings of the functional filter (issue 13.1): every DKN method x filter_scope x
filter_mode on the same facts, with the random-partition floor and NTC-vs-baseline tests.

    python scripts/gcr_readings.py measure OUT --limit 392 [--set localizer=ig ...]
    python scripts/gcr_readings.py table OUT            # Markdown table from OUT/<variant>/facts

``measure`` runs the gcr task's own per-fact code (GCRTask.run_fact) for each variant, but builds
each fact's KNs, distance graph and suppression scorer once and shares them across the variants
(the scorer memoises every suppression, so a BDC family found under two variants is measured
once). Per-fact files are written atomically and skipped when present, so it resumes.
``table`` summarises each variant with GCRTask.summarize over the facts every variant finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

METHODS = ["ntc", "kmeans", "dbscan", "hierarchical", "amig-pairs"]
VARIANTS = {f"{scope}-{mode}": {"filter_scope": scope, "filter_mode": mode, "amig_pairs_filter": True}
            for scope in ("candidates", "kns") for mode in ("relative", "absolute")}
VARIANTS["amig-pairs-algorithm1"] = {"amig_pairs_filter": False}  # 002 Algorithm 1: no filter


def measure(out: Path, limit: int, seed: int, overrides: list[str], cache_dir: str | None) -> None:
    from dknbench.data.loading import load_facts
    from dknbench.harness.runner import RunSpec, build_task, resolve, select_facts, select_run_facts
    from dknbench.io import write_json
    from dknbench.models import load_model
    from dknbench.scoring import SkipQuery
    from dknbench.tasks import SkipFact
    from dknbench.tasks import gcr as gcr_module

    spec = RunSpec(task="gcr", methods=METHODS, limit=limit, seed=seed, overrides=overrides,
                   cache_dir=cache_dir, quiet=True)
    dataset = resolve(spec)[4]
    ordered = select_facts(load_facts(dataset), None, seed)
    lm = load_model(spec.model)
    task = build_task(spec, lm, ordered, out)
    selection = select_run_facts(task, ordered, limit)  # as a run selects: known_only passes over
    facts = selection.facts
    base_options = dict(task.options)
    shared_of = {}
    real = gcr_module.FactDKNs
    gcr_module.FactDKNs = lambda ctx, fact: shared_of[fact.id]  # one FactDKNs per fact, all variants
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "readings.json", {"limit": limit, "seed": seed, "overrides": overrides,
                                       "passed_over": selection.passed_over,
                                       "options": base_options, "variants": VARIANTS, "methods": METHODS})
    for index, fact in enumerate(facts):
        todo = [v for v in VARIANTS if not (out / v / "facts" / f"{index:06d}.json").is_file()]
        if not todo:
            continue
        try:
            shared_of[fact.id] = real(task.ctx, fact)
            skipped = None
        except (SkipFact, SkipQuery) as skip:
            skipped = skip.reason
        for variant in todo:
            task.options = {**base_options, **VARIANTS[variant]}
            task.ctx.methods = ["amig-pairs"] if variant == "amig-pairs-algorithm1" else METHODS
            rows = [] if skipped else task.run_fact(fact, index)
            write_json(out / variant / "facts" / f"{index:06d}.json",
                       {"index": index, "fact_id": fact.id, "rows": rows, "skipped": skipped})
        shared_of.pop(fact.id, None)
        print(f"{index + 1}/{len(facts)} {fact.id} {skipped or 'used'}", flush=True)


def _fmt(value, digits=2) -> str:
    return "/" if value is None else f"{value:.{digits}f}"


def table(out: Path) -> str:
    from dknbench.tasks.gcr import GCRTask

    records = {}
    for variant in VARIANTS:
        files = sorted((out / variant / "facts").glob("*.json"))
        records[variant] = {p.name: json.loads(p.read_text()) for p in files}
    common = set.intersection(*(set(r) for r in records.values()))
    first = records["candidates-relative"]
    attempted = len(common)
    known = sum(1 for name in common if first[name]["skipped"] is None)
    skipped = {}
    for name in common:
        reason = first[name]["skipped"]
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
    passed = json.loads((out / "readings.json").read_text()).get("passed_over") or {}
    lines = [f"{attempted} facts attempted, {known} used; skipped: "
             + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
             + "; passed over by the task's requirements: "
             + (", ".join(f"{k} {v}" for k, v in sorted(passed.items())) or "none"), ""]
    header = ("| variant | method | facts with DKN | mean #BDCs | GCR n=2 (pp) [95% CI] | GCR n=3 | GCR n>=4 facts "
              "| Average (paper) | mean over facts | random floor (Average) | undefined | vs NTC: t / Welch t / d (n=2) |")
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    for variant, recs in records.items():
        rows = [row for name in sorted(common) for row in recs[name]["rows"]]
        methods = ["amig-pairs"] if variant == "amig-pairs-algorithm1" else METHODS
        task = GCRTask.__new__(GCRTask)
        task.ctx, task.options = SimpleNamespace(methods=methods, run_info={"n_layers": 30}), {}
        with tempfile.TemporaryDirectory() as tmp:
            summary = task.summarize(rows, Path(tmp))
        rec = {(m["method"], m["metric"], m["group"]): m for m in summary.metrics}
        comps = {(c["method_b"], c["metric"]): c for c in summary.comparisons if c["method_a"] == "ntc"}
        tab = {r["method"]: r for r in summary.tables["gcr_by_cardinality"]}
        for method in methods:
            def cell(group):
                r = rec.get((method, "GCR", group))
                if not r or r["value"] is None:
                    return "/"
                ci = "" if r["ci_low"] is None else f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                return f"{r['value']:.2f}{ci} (n={r['n']})"
            big = sum(1 for row in rows if row["method"] == method and row["cardinality"] >= 4 and not row["outlier"])
            c = comps.get((method, "GCR@2"))
            test = "" if method == "ntc" else ("/" if not c else
                                               f"{c['t']:.2f} / {c['welch_t']:.2f} / {c['cohens_d']:.2f}")
            lines.append(
                f"| {variant} | {method} | {tab[method]['facts with DKN']}/{tab[method]['facts']} "
                f"| {_fmt(rec[(method, 'mean_bdcs', '')]['value'])} | {cell('2')} | {cell('3')} | {big} "
                f"| {cell('')} | {_fmt(tab[method]['mean over facts'])} | {_fmt(tab[method]['random floor'])} "
                f"| {tab[method]['undefined']} | {test} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("out", type=Path)
    m.add_argument("--limit", type=int, default=392)
    m.add_argument("--seed", type=int, default=42)
    m.add_argument("--set", dest="overrides", action="append", default=["localizer=ig"])
    m.add_argument("--cache-dir")
    t = sub.add_parser("table")
    t.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "measure":
        measure(args.out, args.limit, args.seed, args.overrides, args.cache_dir)
    else:
        print(table(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
