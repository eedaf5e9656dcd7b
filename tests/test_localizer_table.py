"""scripts/localizer_table.py on run folders that kn-localization actually wrote (tiny-llama):
one table per gate, an --extra run of a method variant merged and paired on the facts every
method has, a run still in progress read from its fact files, a computed comparison between the
gates, and the same bytes on every call (issue 26.6)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from dknbench.cli import main as cli

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "localizer_table.py"
# tiny-llama's random weights give gold probabilities near 1/vocabulary: at this floor the gate
# passes over some facts and keeps others, so the gate-on run has passed_over counts
GATE_ON = ["--set", "known_min_prob=0.0024"]
GATE_OFF = ["--set", "known_only=false"]
VARIANT = "atp[direction=corrupt]"


def script():
    spec = importlib.util.spec_from_file_location("localizer_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(folder: Path, methods: str, limit: int, gate: list[str]) -> Path:
    code = cli(["run", "--task", "kn-localization", "--model", "tiny-llama", "--limit", str(limit), "--quiet",
                "--method", methods, "--set", "tau=0.05", *gate, "--output", str(folder)])
    assert code == 0
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """on: gate on, finished; off: gate off, left in progress (3 of 4 facts, no summary);
    off_variant: the atp variant on off's settings, finished on all 4 facts."""
    from dknbench import paths

    root = tmp_path_factory.mktemp("localizer-table")
    with pytest.MonkeyPatch.context() as patch:  # a cache of its own; the embedded model where it is
        real = paths.cache_dir()
        patch.setenv("DKNBENCH_CACHE", str(root / "cache"))
        (root / "cache").mkdir()
        if (real / "models").exists():
            (root / "cache" / "models").symlink_to(real / "models")
        on = run(root / "on", "grad-x-act,atp,random", 3, GATE_ON)
        off = run(root / "off", "grad-x-act,atp,random", 4, GATE_OFF)
        off_variant = run(root / "off-variant", VARIANT, 4, GATE_OFF)
    for name in ("summary.json", "samples.parquet", "facts/000003.json"):  # as if stopped after 3 facts
        (off / name).unlink()
    return {"on": on, "off": off, "off_variant": off_variant}


def argv(runs) -> list[str]:
    return ["--run", f"known-facts={runs['on']}", "--run", f"all-facts={runs['off']}", "--extra",
            str(runs["off_variant"])]


def rows_of(text: str, section: str) -> list[list[str]]:
    """The table rows (cells) of one '## section'."""
    part = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in part.splitlines()
            if line.startswith("| ") and not line.startswith("| localizer")]


def test_each_gate_is_one_paired_table_with_the_extra_method_and_the_in_progress_run(runs, capsys):
    module = script()
    assert module.main(argv(runs)) == 0
    text = capsys.readouterr().out
    on, off = rows_of(text, "known-facts"), rows_of(text, "all-facts")
    assert [r[0] for r in on] == ["grad-x-act", "atp", "random"]
    assert [r[0] for r in off] == ["grad-x-act", "atp", VARIANT, "random"]  # the extra, the floor last
    # the in-progress run is read from its 3 fact files and says so; the variant's 4th fact is left out
    assert f"{runs['off']} (grad-x-act, atp, random): in progress, 3 of 4 facts finished" in text
    assert f"{runs['off_variant']} ({VARIANT}): finished, 4 facts with rows of 4" in text
    assert "paired: 3 facts every localizer of the table has" in text
    assert "CPU s/fact" not in text and all(len(r) == 9 for r in on + off)  # no --cost: no cost column
    # one n for every method's ranked columns: the table's records, from the task's own summary
    for name, folders in (("known-facts", [runs["on"]]), ("all-facts", [runs["off"], runs["off_variant"]])):
        table = module.build(name, [module.read_run(f) for f in folders])
        ns = {table.record(m, metric)["n"] for m in table.methods for metric in module.PAIRED[1:]}
        assert len(ns) == 1 and ns.pop() <= len(table.fact_ids)
        assert set(table.fact_ids) == {r["fact_id"] for r in table.main.rows}  # the unfinished run's facts
    # the finished gate-on run alone reads as the summary the run itself wrote
    summary = json.loads((runs["on"] / "summary.json").read_text())
    table = module.build("known-facts", [module.read_run(runs["on"])])
    written = {(r["method"], r["metric"]): r["value"] for r in summary["metrics"]}
    assert {(r["method"], r["metric"]): r["value"] for r in table.metrics} == written
    # the comparison: every method's rank under each gate, the CI reading, the gate's passed-over count
    compare = text.split("## known-facts vs all-facts\n", 1)[1]
    ranks = {r[0]: r[1:] for r in rows_of(text, "known-facts vs all-facts")}
    assert set(ranks) == {"grad-x-act", "atp", "random", VARIANT} and ranks[VARIANT][0] == "—"
    assert ranks[VARIANT][1].split(" of ")[1].startswith("4:")
    assert "- known-facts (known_only=true, n = " in compare and "- all-facts (known_only=false, n = " in compare
    passed = json.loads((runs["on"] / "run.json").read_text())["passed_over"]
    assert passed and f"- known-facts passed over {sum(passed.values())} facts before its 3" in compare


def test_the_output_is_the_same_bytes_on_every_call(runs, capsys):
    module = script()
    outputs = []
    for _ in range(2):
        assert module.main(argv(runs)) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0].count("## ") == 3


def test_an_extra_run_on_other_settings_is_refused_naming_the_option(runs, capsys):
    module = script()
    assert module.main(["--run", f"known-facts={runs['on']}", "--extra", str(runs["off_variant"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "option known_" in err and str(runs["off_variant"]) in err
    assert module.main(["--run", f"all-facts={runs['off']}", "--extra", str(runs["off"])]) == 2
    assert "method 'grad-x-act' is already in the table" in capsys.readouterr().err
    assert module.main(["--extra", str(runs["off"])]) == 2
    assert "comes after the --run" in capsys.readouterr().err


def test_the_cost_column_reads_the_first_line_of_each_table_fact(runs, tmp_path, capsys):
    """--cost: a (fact, method)'s first line counts (a later file would time cache hits), and only
    the table's facts; a method without lines shows '—'."""
    module = script()
    facts = sorted({r["fact_id"] for r in module.read_run(runs["on"]).rows})
    first, later = tmp_path / "first.jsonl", tmp_path / "later.jsonl"
    first.write_text("".join(json.dumps({"fact_id": f, "method": "atp", "cpu_seconds": float(i + 1), "seconds": 9.0})
                             + "\n" for i, f in enumerate(facts))
                     + json.dumps({"fact_id": "not:in_the_table", "method": "atp", "cpu_seconds": 500.0,
                                   "seconds": 500.0}) + "\n")
    later.write_text(json.dumps({"fact_id": facts[0], "method": "atp", "cpu_seconds": 70.0, "seconds": 70.0}) + "\n")
    assert module.main(["--run", f"known-facts={runs['on']}", "--cost", str(first), "--cost", str(later)]) == 0
    cost = {r[0]: r[-1] for r in rows_of(capsys.readouterr().out, "known-facts")}
    from dknbench.stats import mean_ci

    expected = mean_ci([float(i + 1) for i in range(len(facts))])
    assert cost["atp"] == f"{expected.estimate:.3g} [{expected.low:.3g}, {expected.high:.3g}] ({len(facts)})"
    assert cost["grad-x-act"] == "—" and cost["random"] == "—"


def test_each_localizer_is_tested_against_the_top_one_paired_and_holm_adjusted(runs):
    """The comparison with the top localizer is scipy's paired t on the ranked facts, Holm-adjusted
    by statsmodels over the comparisons, and the line names each localizer on its side of 0.05."""
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    module = script()
    table = module.build("all-facts", [module.read_run(runs["off"]), module.read_run(runs["off_variant"])])
    order = [m for m in module.ranking(table) if m != module.FLOOR]
    tested = module.versus_top(table, order)
    assert [m for m, _, _ in tested] == order[1:]
    top = table.per_fact[order[0]]["rel_minus_irr"]
    raw = []
    for method, record, _ in tested:
        mine = table.per_fact[method]["rel_minus_irr"]
        facts = sorted(set(mine) & set(top))
        assert record["n_pairs"] == len(facts) == table.record(method, "rel_minus_irr")["n"]
        raw.append(stats.ttest_rel([mine[f] for f in facts], [top[f] for f in facts]).pvalue)
    finite = [p for p in raw if p == p]
    expected = list(multipletests(finite, method="holm")[1]) if finite else []
    assert [h for _, _, h in tested if h == h] == pytest.approx(expected, rel=1e-12)
    lines = module.comparison_lines([table])
    line = next(x for x in lines if x.startswith("- all-facts"))
    for method, _, holm in tested:
        assert f"{method} (p = {holm:.2g})" in line
