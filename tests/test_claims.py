"""claims.yaml as tests with verdicts (issue 31): the claims, their statistics against scipy, and
the reports that `dknbench reproduce --report-only` regenerates from run folders byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dknbench.errors import ConfigError
from dknbench.reproduce import load_claims
from dknbench.reproduce.pages import SUMMARY_END, SUMMARY_START, paper_markdown, summary_markdown
from dknbench.reproduce.verdicts import VERDICTS, RunData, evaluate, fact_values, validate_test

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
CLAIMS = load_claims()
BY_ID = {c["id"]: c for c in CLAIMS["claims"]}


def _run(rows, options=None, summary=None) -> RunData:
    return RunData(Path("."), rows, summary, {"resolved": {"options": options or {}}}, len(rows), None, None)


def test_at_least_25_claims_each_citing_its_paper_section():
    claims = CLAIMS["claims"]
    assert len(claims) >= 25
    assert len({c["id"] for c in claims}) == len(claims)
    for claim in claims:
        paper = CLAIMS["papers"][claim["paper"]]
        assert claim["task"] in paper["tasks"], claim["id"]
        # the section names the paper's number and a section, appendix or table/figure
        assert re.match(rf"{paper['paper']} (§|App\.|abstract)", claim["section"]), claim["id"]
        assert claim["text"].strip() and str(claim["paper_value"]).strip() and claim["reading"].strip()
        outcomes = [k for k in ("test", "not_testable", "undefined") if claim.get(k)]
        assert len(outcomes) == 1, claim["id"]
    for paper in ("dkn", "amig", "ql", "kn-thesis"):
        assert any(c["paper"] == paper for c in claims)


@pytest.mark.parametrize("claim", CLAIMS["claims"], ids=lambda c: c["id"])
def test_every_claim_gets_exactly_one_of_the_four_verdicts(claim):
    for run in (None, _run([]), _run([{"fact_id": "f", "method": "ntc", "cs2": 0.5}], {"static_threshold": 0.1},
                                     {"metrics": [], "comparisons": []})):
        verdict = evaluate(claim, run)
        assert verdict.verdict in VERDICTS
        if claim.get("not_testable"):
            assert verdict.verdict == "not testable here" and verdict.reason == claim["not_testable"]
        elif verdict.verdict == "undefined":
            assert verdict.reason  # an undefined verdict always says why


def _perturbation_rows(d, n, facts):
    return [{"fact_id": f, "method": "ntc", "has_dkn": True,
             "delta_prob": {"values/D": a, "values/N": b, "values/empty": 0.0, "values/Rnd": 0.0}}
            for f, a, b in zip(facts, d, n)]


def test_paired_t_equals_scipy_on_the_common_facts():
    rng = np.random.default_rng(0)
    d, n = rng.normal(0.3, 0.1, 12), rng.normal(0.2, 0.1, 12)
    rows = _perturbation_rows(d, n, [f"f{i}" for i in range(12)])
    rows[3]["delta_prob"]["values/N"] = None  # a fact without N: left out of the pairs
    rows.append({"fact_id": "f99", "method": "ntc", "has_dkn": True, "delta_prob": {"values/D": 50.0}})  # outlier
    verdict = evaluate(BY_ID["dkn-robust-d-over-n"], _run(rows))
    keep = [i for i in range(12) if i != 3]
    expected = stats.ttest_rel(d[keep], n[keep], alternative="greater")
    assert verdict.n == 11 and verdict.p == pytest.approx(expected.pvalue, rel=1e-12)
    assert verdict.estimate == pytest.approx(float(np.mean(d[keep] - n[keep])))
    low, high = stats.ttest_rel(d[keep], n[keep], alternative="greater").confidence_interval(0.95)
    assert high == np.inf  # one-sided, as the test: it excludes 0 exactly when p < 0.05
    assert verdict.ci == pytest.approx((low, high))
    assert verdict.verdict == ("supported" if expected.pvalue < 0.05 else "not supported")
    # the other direction is not supported, whatever the p-value of the wrong tail
    flipped = _perturbation_rows(n, d, [f"f{i}" for i in range(12)])
    assert evaluate(BY_ID["dkn-robust-d-over-n"], _run(flipped)).verdict == "not supported"


def test_welch_binomial_and_one_sample_equal_scipy():
    rng = np.random.default_rng(1)
    cs2 = np.concatenate([rng.uniform(0.2, 0.9, 9), rng.uniform(0.0, 0.1, 14)])
    rows = [{"fact_id": f"f{i}", "method": "ig", "cs2": float(v)} for i, v in enumerate(cs2)]
    run = _run(rows, {"static_threshold": 0.1})
    high, low = cs2[cs2 > 0.1], cs2[cs2 <= 0.1]
    welch = evaluate(BY_ID["ql-ki-kii-differ"], run)
    assert welch.p == pytest.approx(stats.ttest_ind(high, low, equal_var=False, alternative="greater").pvalue)
    assert welch.n == cs2.size
    share = evaluate(BY_ID["ql-kii-majority"], run)  # K_II share against 0.5
    assert share.estimate == pytest.approx(14 / 23)
    assert share.p == pytest.approx(stats.binomtest(14, 23, 0.5, alternative="greater").pvalue)
    # one-sample t on a per-fact difference of two fields (minus), rows of a fact averaged
    true, wrong = rng.normal(1.0, 0.5, 24), rng.normal(0.8, 0.5, 24)
    fc = [{"fact_id": f"f{i // 2}", "method": "ntc", "role": "eval", "activation_true": float(a),
           "activation_wrong": float(b)} for i, (a, b) in enumerate(zip(true, wrong))]
    fc.append({"fact_id": "tuned", "method": "ntc", "role": "tune", "activation_true": 9.0, "activation_wrong": 0.0})
    margin = (true - wrong).reshape(12, 2).mean(axis=1)
    one = evaluate(BY_ID["amig-factcheck-dkn-helps"], _run(fc))
    assert one.n == 12 and one.p == pytest.approx(stats.ttest_1samp(margin, 0, alternative="greater").pvalue)


def test_fewer_facts_than_min_n_give_undefined_never_a_verdict():
    """A run in progress is read as it stands: at n = 9 (< MIN_N = 10) even a decisive t-test
    gives undefined with the reason, while the statistic is still shown."""
    from dknbench.reproduce.verdicts import MIN_N

    assert MIN_N == 10
    ids = [f"f{i}" for i in range(12)]
    d, n = np.linspace(1.0, 2.0, 12), np.zeros(12)  # D far above N: p is tiny
    claim = BY_ID["dkn-robust-d-over-n"]
    assert evaluate(claim, _run(_perturbation_rows(d, n, ids))).verdict == "supported"
    few = evaluate(claim, _run(_perturbation_rows(d[:9], n[:9], ids[:9])))
    assert few.verdict == "undefined" and few.n == 9 and few.p < 1e-6
    assert "too few facts: n = 9 < 10" in few.reason and "in progress" in few.reason
    # a claim may ask for more
    strict = {**claim, "test": {**claim["test"], "min_n": 20}}
    assert evaluate(strict, _run(_perturbation_rows(d, n, ids))).verdict == "undefined"
    # Welch: each group needs min_n
    rows = [{"fact_id": f"f{i}", "method": "ig", "cs2": v} for i, v in enumerate([*np.linspace(0.4, 0.6, 20), 0.01, 0.02, 0.04])]
    welch = evaluate(BY_ID["ql-ki-kii-differ"], _run(rows, {"static_threshold": 0.1}))
    assert welch.verdict == "undefined" and "n = 3 < 10" in welch.reason
    with pytest.raises(ConfigError, match="min_n"):
        validate_test({**claim["test"], "min_n": 1}, "claim x")


def test_exploded_edits_typed_facts_and_curves():
    rows = []
    rng = np.random.default_rng(2)
    for i in range(8):
        edits = [{"set": s, "op": "erasure", "gen": float(rng.uniform()), "query_index": q}
                 for s in ("local", "global") for q in range(2)]
        rows.append({"fact_id": f"f{i}", "method": "ig", "cs2": 0.05 if i < 6 else 0.5, "edits": edits})
    run = _run(rows, {"static_threshold": 0.1})
    spec = BY_ID["ql-edit-kii-global-gen"]["test"]
    a, _ = fact_values(run, spec["a"])
    assert sorted(a) == [f"f{i}" for i in range(6)]  # K_II facts only
    assert a["f0"] == pytest.approx(np.mean([e["gen"] for e in rows[0]["edits"] if e["set"] == "global"]))
    b, _ = fact_values(run, spec["b"])
    verdict = evaluate(BY_ID["ql-edit-kii-global-gen"], run)
    expected = stats.ttest_rel([a[f] for f in sorted(a)], [b[f] for f in sorted(a)], alternative="greater")
    assert verdict.p == pytest.approx(expected.pvalue)
    curve = _run([{"fact_id": "x", "method": "ntc", "outlier": False, "delta_prob_curve": [0.1, 0.3, 0.2, 0.7]}])
    last = fact_values(curve, BY_ID["dkn-fig4-sudden-change"]["test"]["a"])[0]
    partial = fact_values(curve, BY_ID["dkn-fig4-sudden-change"]["test"]["b"])[0]
    assert last == {"x": 0.7} and partial == {"x": 0.3}


def test_records_and_comparisons():
    claim = BY_ID["amig-sr-over-ig"]
    rec = lambda m, v, lo, hi: {"method": m, "metric": "SR", "group": "", "value": v, "ci_low": lo, "ci_high": hi}  # noqa: E731
    assert evaluate(claim, _run([], summary={"metrics": [rec("amig", 3, 2.5, 3.5), rec("ig", 2, 1.5, 2.4)]})).verdict == "supported"
    assert evaluate(claim, _run([], summary={"metrics": [rec("amig", 3, 2.0, 3.5), rec("ig", 2, 1.5, 2.4)]})).verdict == "not supported"
    undefined = {"method": "amig", "metric": "SR", "group": "", "value": None, "undefined": "irrelevant CI contains 0"}
    result = evaluate(claim, _run([], summary={"metrics": [undefined, rec("ig", 2, 1.5, 2.4)]}))
    assert result.verdict == "undefined" and "irrelevant CI contains 0" in result.reason
    # a share record without a CI (∩:II) is tested as share x n facts against the bar, exactly
    shared = {"method": "ig+amig", "metric": "cap_II", "group": "static", "value": 0.25, "n": 40,
              "ci_low": None, "ci_high": None}
    share = evaluate(BY_ID["ql-kii-shared"], _run([], summary={"metrics": [shared]}))
    assert share.n == 40 and share.p == pytest.approx(stats.binomtest(10, 40, 0.1, alternative="greater").pvalue)
    comparison = {"method_a": "ntc:Θ(D)", "method_b": "ntc:Θ(N)", "metric": "acc_qnew", "t": 2.5, "n_a": 30, "n_b": 30}
    verdict = evaluate(BY_ID["dkn-finetune-d-over-n"], _run([], summary={"metrics": [], "comparisons": [comparison]}))
    assert verdict.p == pytest.approx(stats.t.sf(2.5, 58)) and verdict.verdict == "supported"


def test_a_tasks_per_fact_sample_reads_as_independent_units():
    new, au = [1, 1, 0, 1, 1, 1, 0, 1], [1, 0, 0, 1, 0, 1, 0, 0, 1, 0]
    summary = {"metrics": [], "per_fact": {"ntc:Θ(D)": {"acc_qnew": new, "acc_qau": au}}}
    verdict = evaluate(BY_ID["dkn-finetune-qau-drop"], _run([], summary=summary))
    expected = stats.ttest_ind(new, au, equal_var=False, alternative="greater")
    assert verdict.n == 18 and verdict.p == pytest.approx(expected.pvalue)
    listed = {"kind": "paired_t", "a": {"field": "acc_qnew", "method": "ntc:Θ(D)", "source": "per_fact"},
              "b": {"field": "acc_qau", "method": "ntc:Θ(D)", "source": "per_fact"}}
    unpaired = evaluate({"id": "x", "paper": "dkn", "task": "t", "test": listed}, _run([], summary=summary))
    assert unpaired.verdict == "undefined" and "nothing to pair" in unpaired.reason


def test_a_per_fact_mapping_pairs_by_fact_id():
    """kn-localization keeps rel_minus_irr per fact id (the facts every localizer keeps): amig vs ig
    is scipy's paired t on the facts both have."""
    rng = np.random.default_rng(3)
    ids = [f"f{i}" for i in range(15)]
    ig = dict(zip(ids, rng.normal(2.0, 1.0, 15)))
    amig = {f: v + 0.5 + rng.normal(0, 0.3) for f, v in ig.items() if f != "f7"}
    summary = {"metrics": [], "per_fact": {"amig": {"rel_minus_irr": amig}, "ig": {"rel_minus_irr": ig}}}
    verdict = evaluate(BY_ID["amig-relirr-over-ig"], _run([], summary=summary))
    common = sorted(amig)
    expected = stats.ttest_rel([amig[f] for f in common], [ig[f] for f in common], alternative="greater")
    assert verdict.n == 14 and verdict.p == pytest.approx(expected.pvalue) and verdict.verdict == "supported"


def test_bad_tests_are_refused():
    with pytest.raises(ConfigError, match="kind"):
        validate_test({"kind": "eval"}, "claim x")
    with pytest.raises(ConfigError, match="unknown key"):
        validate_test({"kind": "paired_t", "a": {"field": "x", "code": "1"}, "b": {"field": "y"}}, "claim x")
    with pytest.raises(ConfigError, match="needs 'bar'"):
        validate_test({"kind": "one_sample_t", "a": {"field": "x"}}, "claim x")


def _committed_claims_block() -> str:
    text = (RESULTS / "README.md").read_text(encoding="utf-8")
    assert text.startswith(SUMMARY_START)  # the README opens with the summary table
    return text[: text.index(SUMMARY_END) + len(SUMMARY_END)] + "\n"


def test_committed_reports_are_what_report_only_prints():
    """docs/results/<paper>.md and the README's summary: regenerated from the committed folders."""
    assert _committed_claims_block() == summary_markdown(RESULTS, CLAIMS)
    for paper in CLAIMS["papers"]:
        committed = (RESULTS / f"{paper}.md").read_text(encoding="utf-8")
        assert committed == paper_markdown(paper, RESULTS / paper, CLAIMS), paper


def test_report_only_on_a_tiny_model_run_is_byte_identical(tmp_path: Path, capsys):
    from dknbench.cli import main

    paper_dir = tmp_path / "dkn"
    code = main(["run", "--task", "gcr", "--method", "ntc,kmeans", "--model", "tiny-gpt2", "--limit", "3",
                 "--set", "steps=2", "--set", "known_only=false", "--output", str(paper_dir / "gcr"), "--quiet"])
    assert code == 0
    assert main(["reproduce", "--paper", "dkn", "--report-only", "--output", str(paper_dir)]) == 0
    first, readme = (tmp_path / "dkn.md").read_bytes(), (tmp_path / "README.md").read_bytes()
    assert main(["reproduce", "--paper", "dkn", "--report-only", "--output", str(paper_dir)]) == 0
    assert (tmp_path / "dkn.md").read_bytes() == first and (tmp_path / "README.md").read_bytes() == readme
    text = first.decode()
    assert "| gcr | finished | 3 (" in text and "| knowledge-update | no run |" in text
    gcr_row = next(line for line in text.splitlines() if line.startswith("| gcr |"))
    assert "not recorded" not in gcr_row.split("|")[5]  # the facts' wall time is recorded and summed
    assert "tiny-gpt2" in gcr_row and "dknbench 0.1.0" in gcr_row
    # one verdict per dkn claim, each one of the four
    verdicts = [line for line in text.splitlines() if "(`dkn-" in line]
    assert len(verdicts) == sum(c["paper"] == "dkn" for c in CLAIMS["claims"])
    assert all(re.search(r"\*\*(supported|not supported|undefined|not testable here)\*\*", v) for v in verdicts)
    assert readme.decode().startswith(SUMMARY_START)
    # samples.parquet (what a finished folder keeps) and facts/*.json give the same verdicts
    import shutil

    from dknbench.reproduce.verdicts import load_run_data

    samples_only = tmp_path / "samples-only"
    shutil.copytree(paper_dir / "gcr", samples_only, ignore=shutil.ignore_patterns("facts"))
    for claim in (c for c in CLAIMS["claims"] if c["task"] == "gcr"):
        a, b = evaluate(claim, load_run_data(paper_dir / "gcr")), evaluate(claim, load_run_data(samples_only))
        assert (a.verdict, a.n, a.statistic) == (b.verdict, b.n, b.statistic), claim["id"]
    # a run still in progress (fact files, no summary.json yet) is read as it stands
    (paper_dir / "gcr" / "summary.json").unlink()
    assert main(["reproduce", "--paper", "dkn", "--report-only", "--output", str(paper_dir)]) == 0
    partial = (tmp_path / "dkn.md").read_text()
    assert "| gcr | in progress (no summary.json yet) | 3 so far (" in partial
    # a fact computed before the harness recorded its seconds: the sum says what it covers
    import json

    first_fact = sorted((paper_dir / "gcr" / "facts").glob("*.json"))[0]
    record = json.loads(first_fact.read_text())
    del record["seconds"]
    first_fact.write_text(json.dumps(record))
    assert main(["reproduce", "--paper", "dkn", "--report-only", "--output", str(paper_dir)]) == 0
    assert "(2 of 3 facts timed)" in (tmp_path / "dkn.md").read_text()
    # a folder that does not exist is a one-line error, exit 2
    assert main(["reproduce", "--paper", "dkn", "--report-only", "--output", str(tmp_path / "nope")]) == 2
    assert "no such folder of run folders" in capsys.readouterr().err


def test_another_models_reproduction_adds_a_verdict_column(tmp_path: Path):
    """Issue 31.4: a reproduction under <root>/<model>/<paper>/ gets its own report there and one
    verdict column in the root's summary; refreshing it rewrites the root's README, not one of its own."""
    import shutil

    from dknbench.cli import main

    root = tmp_path / "results"
    code = main(["run", "--task", "gcr", "--method", "ntc,kmeans", "--model", "tiny-gpt2", "--limit", "3",
                 "--set", "steps=2", "--set", "known_only=false", "--output", str(root / "dkn" / "gcr"), "--quiet"])
    assert code == 0
    assert main(["reproduce", "--paper", "dkn", "--report-only", "--output", str(root / "dkn")]) == 0
    alone = (root / "README.md").read_text()
    assert "verdict, " not in alone.split(SUMMARY_END)[0]  # no other model yet: one verdict column
    shutil.copytree(root / "dkn" / "gcr", root / "tiny-other" / "dkn" / "gcr")
    assert main(["reproduce", "--paper", "dkn", "--report-only", "--output", str(root / "tiny-other" / "dkn")]) == 0
    assert (root / "tiny-other" / "dkn.md").is_file() and not (root / "tiny-other" / "README.md").exists()
    summary = (root / "README.md").read_text().split(SUMMARY_END)[0]
    assert summary == summary_markdown(root, CLAIMS).split(SUMMARY_END)[0]
    header = next(line for line in summary.splitlines() if line.startswith("| paper |"))
    assert header.endswith("| verdict | verdict, tiny-other |")
    rows = [line for line in summary.splitlines() if line.startswith("| [dkn]")]
    assert len(rows) == sum(c["paper"] == "dkn" for c in CLAIMS["claims"])
    for line, claim in zip(rows, (c for c in CLAIMS["claims"] if c["paper"] == "dkn")):
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        mine = evaluate(claim, load_run_data_for(root / "dkn", claim))
        other = cells[-1]
        # the copy holds the same rows, so the other column repeats our verdict (or says no run)
        assert other == ("no run" if mine.reason.startswith("no run of task") and mine.verdict == "undefined"
                         else mine.verdict + ("" if mine.n is None else f" (n = {mine.n})")), claim["id"]
    line = next(x for x in summary.splitlines() if x.startswith("  - tiny-other ([tiny-other/dkn.md](tiny-other/dkn.md)): "))
    # claims of tasks the model has not run (knowledge-update, perturbation-robustness) are counted
    # apart, not as undefined; the counts add up to the paper's claims
    not_run = sum(1 for c in CLAIMS["claims"] if c["paper"] == "dkn" and c.get("test") and c["task"] != "gcr")
    assert line.endswith(f"; {not_run} on tasks it has not run")
    counts = [int(n) for n in re.findall(r"(\d+) (?:supported|not supported|undefined|not testable here|on tasks)", line)]
    assert sum(counts) == sum(c["paper"] == "dkn" for c in CLAIMS["claims"])
    assert sum(cell == "no run" for cell in (r.strip("|").split(" | ")[-1].strip() for r in rows)) == not_run


def load_run_data_for(paper_dir: Path, claim: dict):
    from dknbench.reproduce.verdicts import load_run_data

    return load_run_data(paper_dir / claim["task"])


def test_a_training_phase_counts_its_timed_fine_tuning_steps(tmp_path: Path):
    """knowledge-update's fine-tuning runs after the facts: the report adds the CPU and wall seconds
    of its timed steps to the task's compute, and says how many of its runs were timed."""
    import json

    from dknbench.reproduce.verdicts import finetune_seconds

    steps = {"cpu": [1.0, 2.0], "wall": [3.0, 4.0]}
    training = {"incremental": {"steps": 2, "step_seconds": None},  # written before steps were timed
                "settings": {"ntc-D": {"available": True, "steps": 2, "step_seconds": steps},
                             "All": {"available": True, "steps": 2, "step_seconds": steps},
                             "ntc-N": {"available": False, "reason": "no DKN"}}}
    (tmp_path / "training.json").write_text(json.dumps(training))
    assert finetune_seconds(tmp_path / "training.json") == {"wall": 14.0, "cpu": 6.0, "timed": 2, "phases": 3}
    assert finetune_seconds(tmp_path / "missing.json") is None
