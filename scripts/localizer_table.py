"""The localizer table of the README (issues 14.3, 26.2): kn-localization's SR and its defined
companion for every localizer of one run, paired on one common fact set, beside 002's per-method
outlier rule and each localizer's cost per fact.

    python benchmarks/localizer_cost.py --methods ... --limit N --cache-dir C --out cost.jsonl
    dknbench run --task kn-localization --method ig,amig,... --limit N --cache-dir C --output RUN
    python scripts/localizer_table.py RUN cost.jsonl [more.jsonl ...]

The numbers are the task's own summary (``KNLocalizationTask.summarize``, the run's seed and
outlier_limit) of the run's rows in RUN/samples.parquet, so a run written before a change to the
summary is read as the current code summarizes it (value [95 % CI]; an undefined SR prints its
reason). The ranked columns share one n, the facts every localizer has and keeps under the outlier
rule; "per method" applies 002's rule to each localizer alone, with the facts it loses. Costs come
from the JSON lines of ``localizer_cost.py`` restricted to the run's facts (the first file's line of
a (fact, method) counts: a later file replaying a filled cache would time cache hits).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAIRED = ["SR", "rel_minus_irr", "rel_minus_irr_enh", "rel_minus_irr_sup"]
PER_METHOD = "rel_minus_irr_outliers_per_method"


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


def summarize(run: Path, summary: dict) -> tuple[list[dict], list[dict]]:
    """(metric records, comparisons) of the run's rows as the kn-localization task summarizes them."""
    from types import SimpleNamespace

    import pandas as pd

    from dknbench.tasks.kn_localization import KNLocalizationTask

    rows = pd.read_parquet(run / "samples.parquet").to_dict("records")
    task = KNLocalizationTask.__new__(KNLocalizationTask)
    task.ctx = SimpleNamespace(methods=summary["methods"], seed=summary["seed"])
    task.options = summary["config"]["options"]
    result = task.summarize(rows, run)
    return result.metrics, result.comparisons


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print(__doc__)
        return 2
    run, cost_files = Path(argv[0]), argv[1:]
    summary = json.loads((run / "summary.json").read_text())
    metrics, comparisons = summarize(run, summary)
    records = {(r["method"], r["metric"]): r for r in metrics if r.get("group") in (None, "", "all")}
    import pandas as pd

    fact_ids = set(pd.read_parquet(run / "samples.parquet", columns=["fact_id"])["fact_id"])
    cost = costs(cost_files, fact_ids)
    sr_reasons = [(m, r["undefined"]) for (m, k), r in records.items() if k == "SR" and r.get("undefined")]
    floor = {c["method_a"]: c for c in comparisons if c["metric"] == "rel_minus_irr"}
    options = summary["config"]["options"]
    shown = {k: options.get(k) for k in ("steps", "max_queries", "random_match", "known_only", "known_min_prob",
                                         "outlier_limit")}
    common = {records[(m, "rel_minus_irr")]["n"] for m in summary["methods"]}
    print(f"{summary['task']} on {summary['model']}, n = {summary['n_used']} facts of {summary['n_facts']} "
          f"(skipped: {json.dumps(summary['skipped'])}), seed {summary['seed']}, options {json.dumps(shown)}")
    print(f"paired: every ranked column on the same n = {', '.join(map(str, sorted(common)))} facts (every "
          f"localizer has them and keeps them under the outlier rule)")
    print()
    header = PAIRED + ["vs random: paired t p (n)", "rel_minus_irr, outlier rule per method (n)",
                       "facts lost to it", "mean_kns", "CPU s/fact [95 % CI] (n)"]
    print("| localizer | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for method in summary["methods"]:
        spent = cost.get(method)
        spent_text = (f"{spent[0].estimate:.3g} [{spent[0].low:.3g}, {spent[0].high:.3g}] ({spent[1]})"
                      if spent else "—")
        test = floor.get(method)
        test_text = f"{test['paired_p']:.3g} ({test['n_pairs']})" if test else "—"
        own = records.get((method, PER_METHOD))
        own_text = cell(own) + (f" ({own['n']})" if own else "")
        lost = records.get((method, "facts_lost_to_outliers"))
        cells = [cell(records.get((method, m))) for m in PAIRED] + [
            test_text, own_text, "—" if lost is None else f"{lost['value']:.0f}",
            cell(records.get((method, "mean_kns"))), spent_text]
        print(f"| {method} | " + " | ".join(cells) + " |")
    if sr_reasons:
        print()
    for method, reason in sr_reasons:
        print(f"- {method}: SR undefined, {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
