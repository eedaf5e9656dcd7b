"""The zoo's real checkpoints on 3 built-in facts: IG completeness within 1 % (64 Gauss-Legendre
nodes, see below), every engine path = the float64 reference loop within 5e-4, and kn-localization
and gcr end to end.

Marked ``real_model``. A model runs when ``DKNBENCH_REAL_MODELS`` names it ("all" or a
comma-separated list; it is fetched if needed), never merely because it is cached. Otherwise it is
skipped, also in CI: unlike shared data (conftest.needs), the ~750 MB of the two larger checkpoints
and their minutes of CPU are not something CI must pay, so DKNBENCH_REQUIRE_ALL does not turn this
skip into a failure. The default model's everyday checks are in test_embedded.py, which CI runs. ``DKNBENCH_REAL_DEVICE`` (default cpu) picks the device
(benchmarks/gpu_check.sh runs them on cuda).
"""

import json
import os

import pytest
import torch

from dknbench.cli import main
from dknbench.data.loading import load_facts
from dknbench.interventions import intervene_activations
from dknbench.localization import IGEngine
from dknbench.localization.reference import reference_attribute
from dknbench.models.embedded import EMBEDDED_MODELS
from dknbench.scoring import AnswerScorer

pytestmark = pytest.mark.real_model

ASKED = os.environ.get("DKNBENCH_REAL_MODELS", "")
DEVICE = os.environ.get("DKNBENCH_REAL_DEVICE", "cpu")
N_FACTS, SEED = 3, 42


def _wanted(name: str) -> bool:
    asked = {n.strip() for n in ASKED.split(",") if n.strip()}
    # opt-in only: a cached zoo model is not enough, so CI on a machine that happens to hold the
    # checkpoints stays as fast as on a fresh one (benchmarks/gpu_check.sh asks for all)
    return "all" in asked or name in asked


@pytest.fixture(scope="module", params=list(EMBEDDED_MODELS))
def real(request):
    name = request.param
    if not _wanted(name):
        pytest.skip(f"{name}: real-model checks run when asked (DKNBENCH_REAL_MODELS={name} or all)")
    from dknbench.models import load_model

    return load_model(name, device=DEVICE)


@pytest.fixture(scope="module")
def encoded_facts(real):
    """The first query of each of the 3 facts `--limit 3` selects, encoded for the first answer token."""
    scorer = AnswerScorer(real)
    facts = load_facts("builtin", limit=N_FACTS, seed=SEED)
    return scorer, [scorer.encode(f.queries[0], f.object) for f in facts]


def _layers(lm):
    return [0, lm.adapter.n_layers // 2, lm.adapter.n_layers - 1]


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


# Completeness is checked from a baseline away from 0 (each neuron uniformly in [0, a]) with the
# 64-node Gauss-Legendre rule, which makes the quadrature error negligible where the path is smooth
# (measured, this commit's session: within 0.16 % of the change on every (fact, layer) of all three
# models; the 100-step right Riemann sum is 0.2-6 % off on the same pairs). From the zero baseline some
# paths are sharp near alpha = 0, so no practical rule converges there:
# - Gemma 2 and 3 normalise the MLP's output (post-feedforward RMSNorm), so a block's output does not
#   change when a layer's neurons are scaled by alpha > ~1e-2 (gemma-3-270m, layer 0, the elephant
#   fact: Prob(alpha * a) is 0.0609 for every alpha in [0.01, 1] and moves only for alpha in
#   [1e-5, 1e-3]); by Euler's theorem a layer's zero-baseline IG then sums to ~0.
# - smollm2-135m's layer 0 from zero: 64 Gauss-Legendre nodes are 15-34 % off on two of the three
#   facts, 100 Riemann steps 19 % on "After Friday comes".


def _set_layer(adapter, layer, values):
    """The layer's neurons at the target position replaced by ``values`` while inside."""
    neurons = [(layer, i) for i in range(adapter.n_neurons)]
    return intervene_activations(adapter, neurons, lambda v, idx: values.to(v.device, v.dtype)[idx])


def test_ig_completeness_within_1_percent(real, encoded_facts):
    """Sum over a layer's neurons of IG = Prob(a) - Prob(baseline at that layer's target position)."""
    scorer, encoded = encoded_facts
    engine = IGEngine(real, scorer, steps=64, quadrature="gauss-legendre")
    layers = _layers(real)
    gen = torch.Generator().manual_seed(0)
    for e in encoded:
        acts = engine.target_activations(e).cpu()
        base = acts * torch.rand(acts.shape, generator=gen)
        attributions = engine.attribute(e, base[:, None, :], layers=layers)[:, 0]
        prob = scorer.probs_encoded([e])[0]
        for layer in layers:
            with _set_layer(real.adapter, layer, base[layer]):
                prob_base = scorer.probs_encoded([e])[0]
            expected = prob - prob_base
            # 1 % of the change, the change floored at 5 % of Prob(a): a layer whose removal barely
            # moves Prob is not held to a bound below 0.05 % of Prob, where float32 rounding of the
            # two probabilities starts to count
            scale = max(abs(expected), 0.05 * prob)
            assert abs(float(attributions[layer].sum()) - expected) <= 0.01 * scale, \
                (e.prompt, layer, float(attributions[layer].sum()), expected, prob)


def test_every_engine_path_equals_the_reference_loop(real, encoded_facts):
    """Each path within 5e-4 (of the largest score) of the reference loop run in float64, the bound the
    float32 loop itself meets. Measured in this commit's session, relative to the float64 loop: the
    float32 loop 3.9e-5 to 3.3e-4 (qwen2.5-coder-0.5b, "After Friday comes"), the engine's paths
    3.3e-5 to 2.7e-4, each within 1.1x of the float32 loop's error or below it; most of it is the
    float32 log-softmax over the vocabulary (with a float64 model and a float32 softmax the paths are
    within 1e-5). So the float32 loop is no oracle at 1e-4 on these checkpoints, and a real bug
    (a wrong position, layer or cache entry) is orders of magnitude larger; the tiny models check
    every path against the float32 loop at 1e-4 (test_engine_speedpaths.py)."""
    scorer, encoded = encoded_facts
    layers = _layers(real)
    gen = torch.Generator().manual_seed(0)
    shape = (real.adapter.n_layers, 1, real.adapter.n_neurons)
    paths = (["fast"] if real.adapter.fast_path else []) + ["cached", "full"]
    for e in encoded:
        acts = IGEngine(real, scorer).target_activations(e)
        baselines = torch.cat([torch.zeros(shape), 0.5 * acts[:, None, :] * torch.rand(shape, generator=gen)], 1)
        got = {path: IGEngine(real, scorer, steps=4, path=path).attribute(e, baselines, layers=layers)[layers]
               for path in paths}
        dtype = next(real.model.parameters()).dtype
        real.model.double()  # float32 -> float64 -> float32 is exact, so the fixture's model is unchanged
        try:
            ref = reference_attribute(real, e, baselines.double(), steps=4, scorer=scorer, layers=layers,
                                      activations=acts.double())[layers]
        finally:
            real.model.to(dtype)
        assert ref.abs().max() > 0
        for path, values in got.items():
            assert _rel(values.double(), ref) <= 5e-4, (e.prompt, path, _rel(values.double(), ref))


def test_kn_localization_and_gcr_run_end_to_end(real, tmp_path, isolated_cache):
    out = tmp_path / "kn"
    assert main(["run", "--task", "kn-localization", "--method", "ig", "--model", real.name, "--limit",
                 str(N_FACTS), "--set", "steps=4", "--set", "max_queries=1", "--device", DEVICE,
                 "--output", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == real.name and summary["n_facts"] >= 2
    assert any(m["metric"] == "SR" and m["method"] == "ig" for m in summary["metrics"])

    out = tmp_path / "gcr"
    assert main(["run", "--task", "gcr", "--method", "ntc,kmeans", "--model", real.name, "--limit",
                 str(N_FACTS), "--set", "localizer=ig", "--set", "steps=4", "--set", "known_only=false",
                 "--device", DEVICE, "--output", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == real.name and summary["n_facts"] == N_FACTS
    assert [r["method"] for r in summary["tables"]["gcr_by_cardinality"]] == ["ntc", "kmeans"]
