"""The localizer table of the README (issue 14.3): kn-localization's SR and its defined companion for
every localizer of one run, beside each localizer's cost per fact.

    python benchmarks/localizer_cost.py --methods ... --limit N --cache-dir C --out cost.jsonl
    dknbench run --task kn-localization --method ig,amig,... --limit N --cache-dir C --output RUN
    python scripts/localizer_table.py RUN cost.jsonl [more.jsonl ...]

Values are read from RUN/summary.json as the task wrote them (value [95 % CI]; an undefined SR
prints its reason), costs from the JSON lines of ``localizer_cost.py`` restricted to the run's facts
(the first file's line of a (fact, method) counts: a later file replaying a filled cache would time
cache hits).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METRICS = ["SR", "rel_minus_irr", "rel_minus_irr_enh", "rel_minus_irr_sup", "mean_kns"]


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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print(__doc__)
        return 2
    run, cost_files = Path(argv[0]), argv[1:]
    summary = json.loads((run / "summary.json").read_text())
    records = {(r["method"], r["metric"]): r for r in summary["metrics"] if r.get("group") in (None, "", "all")}
    import pandas as pd

    fact_ids = set(pd.read_parquet(run / "samples.parquet", columns=["fact_id"])["fact_id"])
    cost = costs(cost_files, fact_ids)
    sr_reasons = [(m, r["undefined"]) for (m, k), r in records.items() if k == "SR" and r.get("undefined")]
    print(f"{summary['task']} on {summary['model']}, n = {summary['n_used']} facts of {summary['n_facts']}, "
          f"seed {summary['seed']}, options {json.dumps({k: summary['config']['options'].get(k) for k in ('steps', 'max_queries', 'random_match')})}")
    print()
    print("| localizer | " + " | ".join(METRICS) + " | CPU s/fact [95 % CI] (n) |")
    print("|---" * (len(METRICS) + 2) + "|")
    for method in summary["methods"]:
        spent = cost.get(method)
        spent_text = (f"{spent[0].estimate:.3g} [{spent[0].low:.3g}, {spent[0].high:.3g}] ({spent[1]})"
                      if spent else "—")
        print(f"| {method} | " + " | ".join(cell(records.get((method, m))) for m in METRICS) + f" | {spent_text} |")
    if sr_reasons:
        print()
    for method, reason in sr_reasons:
        print(f"- {method}: SR undefined, {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
