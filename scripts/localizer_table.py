"""The localizer table of the README (issues 14.3, 26.2, 26.6): kn-localization's SR and its defined
companion for every localizer, paired on one common fact set, beside 002's per-method outlier rule
and each localizer's cost per fact; for the known-fact gate on and off, with a computed comparison.

    python benchmarks/localizer_cost.py --methods ... --limit N --cache-dir C --out cost.jsonl
    dknbench run --task kn-localization --method ig,amig,... --limit N --output ON
    dknbench run --task kn-localization --method 'atp[direction=corrupt]' --limit N --output ON-VARIANT
    dknbench run ... --set known_only=false --output OFF   (and its variant run OFF-VARIANT)
    python scripts/localizer_table.py --run known-facts=ON --extra ON-VARIANT \\
        --run all-facts=OFF --extra OFF-VARIANT [--cost cost.jsonl ...]
    python scripts/localizer_table.py RUN [cost.jsonl ...]        (one run, one table)

A run folder is read finished (samples.parquet + summary.json) or in progress (the rows of its
finished facts/*.json, settings from run.json's ``resolved``); the header says which. ``--extra``
adds the methods of another run on the same settings (model, weights, data set, seed, options) to
the table of the ``--run`` before it. The numbers are the task's own summary
(``KNLocalizationTask.summarize``, the run's seed and outlier_limit) of the rows of the facts
*every* method of the table has, so every column shares those facts (value [95 % CI]; an undefined
SR prints its reason). The ranked columns share one n, the facts every localizer keeps under the
outlier rule; "per method" applies 002's rule to each localizer alone, with the facts it loses.
Costs come from the JSON lines of ``localizer_cost.py`` restricted to the table's facts (the first
file's line of a (fact, method) counts: a later file replaying a filled cache would time cache hits).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TASK = "kn-localization"
FLOOR = "random"
ALPHA = 0.05  # level of the paired tests against the top localizer (Holm-adjusted)
PAIRED = ["SR", "rel_minus_irr", "rel_minus_irr_enh", "rel_minus_irr_sup"]
PER_METHOD = "rel_minus_irr_outliers_per_method"
SHOWN_OPTIONS = ("steps", "max_queries", "random_match", "known_only", "known_min_prob", "outlier_limit")
SAME_SETTINGS = ("task", "model", "dataset", "seed", "options")  # what an --extra run must share


class BadInput(Exception):
    """A folder or argument the script cannot read; main prints it on one line and exits 2."""


class Run(NamedTuple):  # a NamedTuple, not a dataclass: tests load this file without sys.modules
    folder: Path
    settings: dict  # task, model, dataset, seed, limit, options
    methods: list[str]
    fingerprint: str | None
    rows: list[dict]
    state: str  # "finished, ..." or "in progress, ..."
    passed_over: dict
    skipped: dict


def read_run(folder: Path) -> Run:
    """A run folder, finished (samples.parquet + summary.json) or in progress (facts/*.json + run.json)."""
    summary_file, samples = folder / "summary.json", folder / "samples.parquet"
    if summary_file.is_file() and samples.is_file():
        import pandas as pd

        summary = json.loads(summary_file.read_text())
        settings = {k: summary[k] for k in ("task", "model", "dataset", "seed", "limit")}
        settings["options"] = summary["config"]["options"]
        state = f"finished, {summary['n_used']} facts with rows of {summary['n_facts']}"
        return Run(folder, settings, list(summary["methods"]), summary.get("model_fingerprint"),
                   pd.read_parquet(samples).to_dict("records"), state, summary.get("passed_over") or {},
                   summary.get("skipped") or {})
    if not (folder / "run.json").is_file():
        raise BadInput(f"{folder}: no summary.json + samples.parquet and no run.json; not a dknbench run folder")
    from dknbench.errors import DKNBenchError
    from dknbench.harness.rundir import fact_files, read_fact_file, read_run_file

    try:
        info = read_run_file(folder)
        records = [read_fact_file(folder, path) for path in fact_files(folder)]
    except DKNBenchError as error:
        raise BadInput(str(error)) from None
    resolved = info.get("resolved")
    if not resolved:
        raise BadInput(f"{folder / 'run.json'}: no 'resolved' settings; written by an older dknbench")
    settings = {k: resolved[k] for k in ("task", "model", "dataset", "seed", "limit", "options")}
    used = sum(1 for r in records if r["rows"])
    state = (f"in progress, {len(records)} of {info.get('n_facts', '?')} facts finished "
             f"({used} with rows; no summary.json yet)")
    return Run(folder, settings, list(resolved["methods"]), info.get("model_fingerprint"),
               [row for r in records for row in r["rows"]], state, info.get("passed_over") or {},
               dict(Counter(r["skipped"] for r in records if r["skipped"])))


class Table(NamedTuple):
    name: str
    runs: list[Run]
    methods: list[str]
    fact_ids: list[str]  # the facts every method has, in the first run's order
    metrics: list[dict]
    comparisons: list[dict]
    per_fact: dict  # method -> {"rel_minus_irr": {fact id: value}, ...} on the ranked facts

    @property
    def main(self) -> Run:
        return self.runs[0]

    def record(self, method: str, metric: str) -> dict | None:
        return next((r for r in self.metrics if r["method"] == method and r["metric"] == metric
                     and r.get("group") in (None, "", "all")), None)


def merge(main: Run, extras: list[Run]) -> tuple[list[str], list[dict], list[str]]:
    """The methods of ``main`` and its extra runs (the random floor last), the rows of the facts
    every one of them has, and those facts' ids. Extra runs must share main's settings and weights,
    and a fact must have drawn the same irrelevant fact in each (same fact set and seed)."""
    if main.settings["task"] != TASK:
        raise BadInput(f"{main.folder}: task {main.settings['task']!r}; this table reads {TASK} runs")
    methods = list(main.methods)
    for extra in extras:
        for key in SAME_SETTINGS:
            mine, theirs = extra.settings[key], main.settings[key]
            if key == "options" and mine != theirs:  # name the options that differ, not two whole dicts
                differ = sorted(k for k in set(mine) | set(theirs)
                                if mine.get(k, "(unset)") != theirs.get(k, "(unset)"))
                key = f"option {differ[0]}"
                mine, theirs = mine.get(differ[0], "(unset)"), theirs.get(differ[0], "(unset)")
            if mine != theirs:
                raise BadInput(f"--extra {extra.folder}: {key} {mine!r} differs from {main.folder}'s "
                               f"{theirs!r}; an extra run must share its settings")
        if extra.fingerprint and main.fingerprint and extra.fingerprint != main.fingerprint:
            raise BadInput(f"--extra {extra.folder}: model weights {extra.fingerprint} differ from "
                           f"{main.folder}'s {main.fingerprint}")
        twice = [m for m in extra.methods if m in methods]
        if twice:
            raise BadInput(f"--extra {extra.folder}: method {twice[0]!r} is already in the table; "
                           "give each method from one run")
        methods += extra.methods
    if FLOOR in methods:
        methods = [m for m in methods if m != FLOOR] + [FLOOR]
    rows = [row for run in (main, *extras) for row in run.rows if row["method"] in methods]
    has = {m: set() for m in methods}
    irrelevant: dict = {}
    for row in rows:
        has[row["method"]].add(row["fact_id"])
        drawn = irrelevant.setdefault(row["fact_id"], row["irrelevant_fact_id"])
        if drawn != row["irrelevant_fact_id"]:
            raise BadInput(f"fact {row['fact_id']}: irrelevant fact {row['irrelevant_fact_id']} in one run, "
                           f"{drawn} in another (different --limit or fact set); runs cannot be paired")
    every = set.intersection(*has.values()) if has else set()
    fact_ids = [f for f in dict.fromkeys(row["fact_id"] for row in rows) if f in every]
    return methods, [row for row in rows if row["fact_id"] in every], fact_ids


def build(name: str, runs: list[Run]) -> Table:
    """The table of ``runs[0]`` and its extras, summarized by the task's own summary."""
    from types import SimpleNamespace

    from dknbench.tasks.kn_localization import KNLocalizationTask

    main = runs[0]
    methods, rows, fact_ids = merge(main, runs[1:])
    if not rows:
        raise BadInput(f"{main.folder}: no fact has rows for every method of the table ({', '.join(methods)})")
    ctx = SimpleNamespace(methods=methods, seed=main.settings["seed"], options=main.settings["options"])
    result = KNLocalizationTask(ctx).summarize(rows, main.folder)
    return Table(name, runs, methods, fact_ids, result.metrics, result.comparisons, result.per_fact)


def cell(record: dict | None) -> str:
    if record is None:
        return "—"
    if record.get("undefined"):
        return "undefined"
    value, low, high = record.get("value"), record.get("ci_low"), record.get("ci_high")
    if value is None:
        return "—"
    text = f"{value:.3g}"
    return text + (f" [{low:.3g}, {high:.3g}]" if low is not None and high is not None else "")


def costs(files: list[str], fact_ids: set[str]) -> dict:
    from dknbench.stats import mean_ci

    first: dict = {}
    for name in files:
        for line in Path(name).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                if row["fact_id"] in fact_ids:
                    first.setdefault((row["fact_id"], row["method"]), row)
    out = {}
    for method in {m for _, m in first}:
        rows = [r for (_, m), r in first.items() if m == method]
        out[method] = (mean_ci([r.get("cpu_seconds", r["seconds"]) for r in rows]), len(rows))
    return out


def table_lines(table: Table, cost_files: list[str]) -> list[str]:
    main = table.main
    settings = main.settings
    options = settings["options"]
    shown = {k: options.get(k) for k in SHOWN_OPTIONS}
    lines = [f"{settings['task']} on {settings['model']}, seed {settings['seed']}, limit {settings['limit']}, "
             f"options {json.dumps(shown)}"]
    for run in table.runs:
        lines.append(f"- {run.folder} ({', '.join(run.methods)}): {run.state}; skipped: "
                     f"{json.dumps(run.skipped, sort_keys=True)}; passed over before the run: "
                     f"{json.dumps(run.passed_over, sort_keys=True)}")
    common = sorted({table.record(m, "rel_minus_irr")["n"] for m in table.methods if table.record(m, "rel_minus_irr")})
    lines.append(f"paired: {len(table.fact_ids)} facts every localizer of the table has; every ranked column on "
                 f"the same n = {', '.join(map(str, common))} of them (kept by every localizer under the outlier "
                 f"rule)")
    lines.append("")
    cost = costs(cost_files, set(table.fact_ids))
    floor = {c["method_a"]: c for c in table.comparisons if c["metric"] == "rel_minus_irr" and c["method_b"] == FLOOR}
    header = PAIRED + ["vs random: paired t p (n)", "rel_minus_irr, outlier rule per method (n)",
                       "facts lost to it", "mean_kns"] + (["CPU s/fact [95 % CI] (n)"] if cost_files else [])
    lines.append("| localizer | " + " | ".join(header) + " |")
    lines.append("|---" * (len(header) + 1) + "|")
    reasons = []
    for method in table.methods:
        spent = cost.get(method)
        spent_text = (f"{spent[0].estimate:.3g} [{spent[0].low:.3g}, {spent[0].high:.3g}] ({spent[1]})"
                      if spent else "—")
        test = floor.get(method)
        test_text = f"{test['paired_p']:.3g} ({test['n_pairs']})" if test else "—"
        own = table.record(method, PER_METHOD)
        own_text = cell(own) + (f" ({own['n']})" if own else "")
        lost = table.record(method, "facts_lost_to_outliers")
        cells = [cell(table.record(method, m)) for m in PAIRED] + [
            test_text, own_text, "—" if lost is None else f"{lost['value']:.0f}",
            cell(table.record(method, "mean_kns"))] + ([spent_text] if cost_files else [])
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
        sr = table.record(method, "SR")
        if sr and sr.get("undefined"):
            reasons.append(f"- {method}: SR undefined, {sr['undefined']}")
    return lines + ([""] + reasons if reasons else [])


def ranking(table: Table) -> list[str]:
    """The localizers by paired rel_minus_irr, best first (higher is better); table order breaks ties."""
    values = {m: table.record(m, "rel_minus_irr") for m in table.methods}
    scored = [m for m in table.methods if values[m] and values[m].get("value") is not None]
    return sorted(scored, key=lambda m: -values[m]["value"])


def ranks(table: Table) -> dict[str, int]:
    """Each localizer's rank by paired rel_minus_irr; equal values share the better rank (1, 1, 3)."""
    order = ranking(table)
    value = {m: table.record(m, "rel_minus_irr")["value"] for m in order}
    return {m: 1 + sum(1 for other in order if value[other] > value[m]) for m in order}


def versus_top(table: Table, order: list[str]) -> list[tuple[str, dict, float]]:
    """Each localizer after the top one against it, by the paired t-test on the ranked facts
    (two-sided, as nothing says which should win), Holm-adjusted over the comparisons:
    (method, compare_paired record, Holm p)."""
    from statsmodels.stats.multitest import multipletests

    from dknbench.stats.ttest import compare_paired

    top = table.per_fact[order[0]]["rel_minus_irr"]
    tests = [(m, compare_paired(table.per_fact[m]["rel_minus_irr"], top, m, order[0], "rel_minus_irr"))
             for m in order[1:]]
    raw = [t["paired_p"] for _, t in tests]
    finite = [i for i, p in enumerate(raw) if p is not None and np.isfinite(p)]
    holm = [float("nan")] * len(raw)
    if finite:
        adjusted = multipletests([raw[i] for i in finite], method="holm")[1]
        for i, value in zip(finite, adjusted):
            holm[i] = float(value)
    return [(m, t, h) for (m, t), h in zip(tests, holm)]


def comparison_lines(tables: list[Table]) -> list[str]:
    """Each localizer's rank under each table, which localizers' paired rel_minus_irr CIs overlap the
    top one's, the gate's passed-over counts: computed from the tables, nothing typed in."""
    names = [t.name for t in tables]
    rank = {t.name: ranks(t) for t in tables}
    methods = list(dict.fromkeys(m for t in tables for m in t.methods))
    lines = [f"| localizer | " + " | ".join(f"rank, {n} (rel_minus_irr)" for n in names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for method in methods:
        cells = []
        for t in tables:
            place = rank[t.name].get(method)
            cells.append("—" if place is None else
                         f"{place} of {len(rank[t.name])}: {cell(t.record(method, 'rel_minus_irr'))}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append("")
    for t in tables:
        order = [m for m in ranking(t) if m != FLOOR]
        if not order:
            lines.append(f"- {t.name}: no localizer with a defined rel_minus_irr")
            continue
        top = t.record(order[0], "rel_minus_irr")
        tests = versus_top(t, order)
        below = [f"{m} (p = {h:.2g})" for m, _, h in tests if h < ALPHA]
        level = [f"{m} (p = {h:.2g})" for m, _, h in tests if not h < ALPHA]
        lines.append(f"- {t.name} (known_only={json.dumps(t.main.settings['options'].get('known_only'))}, "
                     f"n = {top['n']} paired facts): top {order[0]} {cell(top)}. Paired t-test of each "
                     f"localizer's rel_minus_irr against it on those facts, two-sided, Holm-adjusted p: "
                     f"below it at {ALPHA:g}: {', '.join(below) or 'none'}; not distinguishable from it: "
                     f"{', '.join(level) or 'none'} ({FLOOR} is the floor, tested by the table's paired p)")
    if len(tables) > 1:
        tops = [", ".join(m for m, r in rank[n].items() if r == 1) or "none" for n in names]
        same = len(set(tops)) == 1
        lines.append(f"- rank 1: {'; '.join(f'{n}: {m}' for n, m in zip(names, tops))} "
                     f"({'the same' if same else 'different'} under {' and '.join(names)})")
        shared = set.intersection(*(set(t.fact_ids) for t in tables))
        lines.append(f"- facts in every table: {len(shared)}; the tables are not paired with each other (each run "
                     "selects its own fact list, and a fact's irrelevant fact is drawn by its index in it)")
    for t in tables:
        passed = t.main.passed_over
        if passed:
            lines.append(f"- {t.name} passed over {sum(passed.values())} facts before its "
                         f"{t.main.settings['limit']} ({', '.join(f'{k}: {v}' for k, v in sorted(passed.items()))})")
    return lines


def parse(argv: list[str]) -> tuple[list[tuple[str, list[Path]]], list[str]]:
    """--run NAME=DIR [--extra DIR ...] ... [--cost FILE ...], or the one-run form RUN [COST ...]."""
    if argv and not argv[0].startswith("--"):
        return [(Path(argv[0]).name, [Path(argv[0])])], argv[1:]
    runs: list[tuple[str, list[Path]]] = []
    cost_files: list[str] = []
    items = iter(argv)
    for flag in items:
        value = next(items, None)
        if flag not in ("--run", "--extra", "--cost") or value is None:
            raise BadInput(f"argument {flag!r}: expected --run NAME=DIR, --extra DIR or --cost FILE, "
                           "each with its value")
        if flag == "--run":
            name, sep, folder = value.partition("=")
            if not sep or not name or not folder:
                raise BadInput(f"--run {value!r}: expected NAME=DIR "
                               "(e.g. known-facts=docs/results/localizers/known-facts)")
            runs.append((name, [Path(folder)]))
        elif flag == "--extra":
            if not runs:
                raise BadInput(f"--extra {value}: comes after the --run it adds methods to")
            runs[-1][1].append(Path(value))
        else:
            cost_files.append(value)
    if not runs:
        raise BadInput("no --run NAME=DIR given")
    return runs, cost_files


def render(argv: list[str]) -> str:
    runs, cost_files = parse(argv)
    for name in cost_files:
        if not Path(name).is_file():
            raise BadInput(f"--cost {name}: no such file")
    for _, folders in runs:
        for folder in folders:
            if not folder.is_dir():
                raise BadInput(f"{folder}: no such run folder")
    tables = [build(name, [read_run(folder) for folder in folders]) for name, folders in runs]
    if len(tables) == 1 and not argv[0].startswith("--"):
        return "\n".join(table_lines(tables[0], cost_files)) + "\n"
    out = []
    for t in tables:
        out += [f"## {t.name}", ""] + table_lines(t, cost_files) + [""]
    out += [f"## {' vs '.join(t.name for t in tables)}", ""] + comparison_lines(tables)
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        text = render(argv)
    except BadInput as error:
        print(f"localizer_table: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
