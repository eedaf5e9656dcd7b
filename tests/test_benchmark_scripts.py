"""The benchmark scripts still run against the package they time: a rename in dknbench once made
``suite.py --reproduce`` print a table of empty rows (every task failed inside its timer). These run
each script on a tiny model and check what it prints, not how fast anything is."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]


def _run(args, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DKNBENCH_SHARED_DATA": str(shared_data())}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)


def test_suite_reproduce_times_every_task_of_a_paper(tmp_path, isolated_cache):
    out = _run([str(ROOT / "benchmarks" / "suite.py"), "--reproduce", "dkn", "--limit", "1",
                "--model", "tiny-gpt2", "--flops"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert ": FAILED: " not in out.stderr
    timed, counted = out.stdout.split("counted GFLOP per selected fact")
    rows = {line.split()[1]: line.split() for line in timed.splitlines() if line.startswith("dkn ")}
    # gcr's known-fact gate drops every fact of a random model; the other two compute theirs
    assert rows["knowledge-update"][2] == "1/1" and rows["perturbation-robustness"][2] == "1/1"
    assert float(rows["knowledge-update"][5]) > 0  # its fine-tuning was timed
    # --flops: the same parts counted in FLOPs (one decimal of GFLOP: a tiny model's counts are small)
    flops = {line.split()[1]: line.split() for line in counted.splitlines() if line.startswith("dkn ")}
    from dknbench.reproduce import load_claims

    assert set(flops) == set(load_claims()["papers"]["dkn"]["tasks"]) | {"(paper)"}  # every task of the paper
    assert float(flops["knowledge-update"][4]) > 0  # fine-tuning FLOPs
    assert float(flops["perturbation-robustness"][7]) > 0  # GFLOP per fact


def test_suite_says_which_task_failed_and_exits_non_zero(tmp_path, isolated_cache):
    # a task that raises inside the timer: the perturbation builder's source is not there
    env_data = tmp_path / "no-shared-data"
    env_data.mkdir()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--reproduce", "dkn",
                          "--limit", "1", "--model", "tiny-gpt2"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1", "DKNBENCH_SHARED_DATA": str(env_data)},
                         timeout=900)
    assert out.returncode == 1
    assert "dkn knowledge-update: FAILED: " in out.stderr
    assert any(line.split()[1:3] == ["knowledge-update", "FAILED"] for line in out.stdout.splitlines()
               if line.startswith("dkn "))


def test_trace_cut_prints_equal_kn_sets_on_a_tiny_model(tmp_path, isolated_cache):
    out = _run([str(ROOT / "benchmarks" / "trace_cut.py"), "--model", "tiny-llama", "--facts", "1"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    row = next(line.split() for line in out.stdout.splitlines() if line.strip().startswith("animal_class"))
    # KN sets equal; scores equal up to float order (a random model's tiny effects amplify it; the
    # Probs themselves agree within 1e-6: tests/test_exact_cuts.py)
    assert row[5] == "True" and float(row[4]) <= 1e-3


def test_dtype_agreement_self_check_agrees_exactly(tmp_path, isolated_cache):
    from dknbench.cli import main

    reference = tmp_path / "reference"
    assert main(["run", "--task", "kn-localization", "--method", "ig,random", "--model", "tiny-llama", "--limit", "3",
                 "--set", "known_only=false", "--set", "random_match=ig", "--set", "max_queries=1",
                 "--output", str(reference), "--quiet"]) == 0
    out = _run([str(ROOT / "benchmarks" / "dtype_agreement.py"), "--reference", str(reference), "--methods",
                "ig,random", "--facts", "2", "--dtype", "float32", "--output", str(tmp_path / "rerun")], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert "2 common facts" in next(line for line in lines if "common facts" in line)
    for method in ("ig", "random"):
        row = next(line.split() for line in lines if line.startswith(method + " "))
        assert row[1] == "1.000" and row[5] == "2/2"  # every KN set identical
    metric = [line.split() for line in lines if "rel_minus_irr" in line]
    assert len(metric) == 2 and all(m[-1] == "yes" and m[1:4] == m[4:7] for m in metric)
    # a gate-on reference would select other facts at another precision: refused
    import json
    import shutil

    gated = tmp_path / "gated"
    shutil.copytree(reference, gated)
    info = json.loads((gated / "run.json").read_text())
    info["resolved"]["options"]["known_only"] = True
    (gated / "run.json").write_text(json.dumps(info))
    out = _run([str(ROOT / "benchmarks" / "dtype_agreement.py"), "--reference", str(gated), "--methods", "ig",
                "--dtype", "float32", "--output", str(tmp_path / "r2")], tmp_path)
    assert out.returncode != 0 and "known_only=false" in out.stderr


def test_variant_agreement_compares_the_variant_with_the_plain_method(tmp_path, isolated_cache):
    """--variant reruns ig as ig[quadrature=gauss-legendre,steps=3] and sets it beside the reference's ig:
    the rerun's rows are the variant's (other scores than the reference's), compared under one name."""
    import json

    from dknbench.cli import main

    reference = tmp_path / "reference"
    assert main(["run", "--task", "kn-localization", "--method", "ig", "--model", "tiny-llama", "--limit", "3",
                 "--set", "known_only=false", "--set", "max_queries=1", "--set", "steps=3",
                 "--output", str(reference), "--quiet"]) == 0
    out = _run([str(ROOT / "benchmarks" / "dtype_agreement.py"), "--reference", str(reference), "--methods", "ig",
                "--facts", "2", "--variant", "quadrature=gauss-legendre,steps=3", "--output", str(tmp_path / "gl")],
               tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert "against float32 [quadrature=gauss-legendre,steps=3]" in next(l for l in lines if "common facts" in l)
    row = next(line.split() for line in lines if line.startswith("ig "))
    assert 0.0 <= float(row[1]) <= 1.0
    rerun = sorted((tmp_path / "gl" / "facts").glob("*.json"))
    assert len(rerun) == 2
    methods = {r["method"] for f in rerun for r in json.loads(f.read_text())["rows"]}
    assert methods == {"ig[quadrature=gauss-legendre,steps=3]"}
    ours = json.loads(rerun[0].read_text())["rows"][0]
    theirs = json.loads(sorted((reference / "facts").glob("*.json"))[0].read_text())["rows"][0]
    assert ours["fact_id"] == theirs["fact_id"] and ours["method"] != theirs["method"]
    # quadrature_accuracy.py sets runs against a truth run: the truth against itself agrees exactly,
    # the plain Riemann run is read under the same name on the same 2 facts
    out = _run([str(ROOT / "benchmarks" / "quadrature_accuracy.py"), "--truth", str(tmp_path / "gl"),
                "--methods", "ig", "--runs", f"self={tmp_path / 'gl'}", f"riemann={reference}"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split()[1]: line.split() for line in out.stdout.splitlines() if line.startswith("ig ")}
    assert rows["self"][2] == "2" and rows["self"][3] == "1.000" and rows["self"][-1] == "2/2"
    assert rows["riemann"][2] == "2" and 0.0 <= float(rows["riemann"][3]) <= 1.0
    out = _run([str(ROOT / "benchmarks" / "quadrature_accuracy.py"), "--truth", str(tmp_path / "gl"),
                "--runs", "nofolder"], tmp_path)
    assert out.returncode == 2 and "NAME=FOLDER" in out.stderr


def test_ig_completeness_measures_the_rule_error_on_a_tiny_model(tmp_path, isolated_cache):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch
    from ig_completeness import against_reference, attribute, baseline_for, completeness_errors, layer_deltas

    from dknbench.data.loading import load_facts
    from dknbench.localization import IGEngine
    from dknbench.models import load_model
    from dknbench.scoring import AnswerScorer

    lm = load_model("tiny-llama", device="cpu")
    scorer = AnswerScorer(lm)
    fact = load_facts("builtin", limit=1, seed=42)[0]
    encoded = scorer.encode(fact.queries[0], fact.object)
    activations = IGEngine(lm, scorer).target_activations(encoded).cpu()
    assert torch.equal(baseline_for(activations, "zero", 0), torch.zeros_like(activations))
    baseline = baseline_for(activations, "uniform", 0)
    assert bool(((baseline >= torch.minimum(activations, 0 * activations))
                 & (baseline <= torch.maximum(activations, 0 * activations))).all())
    deltas = layer_deltas(lm, scorer, encoded, baseline)
    prob = scorer.probs_encoded([encoded])[0]
    assert len(deltas) == lm.adapter.n_layers and any(abs(d) > 0 for d in deltas)
    one_step_scores = attribute(lm, scorer, encoded, "riemann-right", 1, baseline)
    gauss_scores = attribute(lm, scorer, encoded, "gauss-legendre", 16, baseline)
    one_step = completeness_errors(one_step_scores, deltas, prob)
    gauss = completeness_errors(gauss_scores, deltas, prob)
    # a smooth tiny path: 16 Gauss-Legendre nodes close the gap to float precision, one Riemann step
    # leaves a measurable one (tiny-llama: ~5e-4 of the change at most)
    assert max(gauss) < 2e-5 and max(one_step) > 20 * max(gauss)

    # against itself: identical sets and no difference; against a shifted copy: the shift, in units of the max
    same = against_reference(gauss_scores, gauss_scores)
    assert same["jaccard"] == 1.0 and same["layer0_diff"] == same["other_diff"] == 0.0
    assert same["max_layer"] == same["ref_max_layer"] == int(gauss_scores.argmax()) // gauss_scores.shape[1]
    bumped = gauss_scores.clone()
    bumped[0] += 0.5 * gauss_scores.max()
    moved = against_reference(bumped, gauss_scores)
    assert moved["layer0_diff"] == pytest.approx(0.5) and moved["other_diff"] == 0.0

    out = _run([str(ROOT / "benchmarks" / "ig_completeness.py"), "--model", "tiny-llama", "--facts", "1",
                "--rules", "riemann-right:1", "gauss-legendre:16", "--kn-sets"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "riemann-right:1" in out.stdout and "gauss-legendre:16" in out.stdout and "zero baseline" in out.stdout
    assert "against gauss-legendre:16" in out.stdout and "KN Jaccard" in out.stdout
    bad = _run([str(ROOT / "benchmarks" / "ig_completeness.py"), "--rules", "simpson:8"], tmp_path)
    assert bad.returncode == 2 and "RULE:STEPS" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_floor_counts_forward_and_input_gradient_flops_and_projects_the_floor(tmp_path, isolated_cache):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch
    from floor import count_flops, floor_lines, measure

    from dknbench.data.loading import load_facts
    from dknbench.localization.locate import build_localizer
    from dknbench.models import load_model
    from dknbench.scoring import AnswerScorer

    # the counter sees the backward: a head's forward and its input gradient, 2 x 2 m d V
    h, weight = torch.randn(3, 8, requires_grad=True), torch.randn(50, 8)
    assert count_flops(lambda: torch.autograd.grad(torch.nn.functional.linear(h, weight).sum(), h)) == 2 * 2 * 3 * 8 * 50

    lm = load_model("tiny-gpt2", device="cpu")
    scorer = AnswerScorer(lm)
    fact = load_facts("builtin", limit=1, seed=42)[0]
    encoded = scorer.encode(fact.queries[0], fact.object)
    runs = {steps: measure(lm, scorer, build_localizer("ig", steps=steps), encoded, steps) for steps in (2, 3, 4)}
    # one row per (layer, step): the FLOPs are a fixed part (the clean forwards) plus the same amount per step
    assert runs[3]["rows"] == 3 * lm.adapter.n_layers
    assert runs[4]["flops"] - runs[2]["flops"] == 2 * (runs[3]["flops"] - runs[2]["flops"]) > 0
    assert 0 < runs[4]["head"] < runs[4]["flops"] and runs[4]["cpu"] > 0

    lines = floor_lines(0.5, attribution=100.0, other=50.0, n=72, goal=1.0)
    assert lines[0].endswith("3.00 CPU-h at n = 72 (measured)")  # 150 s x 72 facts
    assert lines[1].endswith(": 1.00 CPU-h") and lines[2].endswith(": 2.00 CPU-h")
    assert "below it" in lines[3]  # 1.00 <= 1.0
    assert "above it" in floor_lines(0.5, 100.0, 50.0, 73, 1.0)[3]

    out = _run([str(ROOT / "benchmarks" / "floor.py"), "--model", "tiny-gpt2", "--facts", "1", "--steps", "2",
                "--suite-attribution", "100", "--suite-other", "50", "--goal", "4"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.split()[:1] in (["ig"], ["amig"])}
    assert set(rows) == {"ig", "amig"} and float(rows["amig"][2]) > float(rows["ig"][2]) > 0  # GFLOP
    assert all(float(row[6]) > 0 for row in rows.values())  # efficiency
    assert "goal 4 CPU-h" in out.stdout
