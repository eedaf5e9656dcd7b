"""IG's Gauss-Legendre quadrature, the opt-in of issue 29.2 (``ig[quadrature=gauss-legendre,steps=8]``):
every engine path equals the plain reference loop with the same nodes, the rule is the Gauss-Legendre
rule, it is closer to the path integral than the Riemann sum at the same number of forwards, and the
default (Dai et al.'s Riemann sum) is untouched, cache keys included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import ALL_CAUSAL, ALL_FAMILIES
from dknbench.errors import ConfigError
from dknbench.interventions import suppress_activations
from dknbench.localization import IGEngine, build_localizer
from dknbench.localization.engine import quadrature_nodes
from dknbench.localization.reference import reference_attribute
from dknbench.scoring import AnswerScorer

QUERY, ANSWER = "The capital of France is [Y].", "Paris"


def test_the_nodes_are_the_gauss_legendre_rule_on_0_1():
    alphas, weights, divisor = quadrature_nodes(5, "gauss-legendre")
    assert divisor == 1.0 and all(0 < a < 1 for a in alphas)
    assert sum(weights) == pytest.approx(1.0, abs=1e-12)
    for degree in range(2 * 5):  # exact for polynomials of degree <= 2m - 1
        assert sum(w * a ** degree for a, w in zip(alphas, weights)) == pytest.approx(1 / (degree + 1), rel=1e-12)
    # the default is Dai et al.'s Riemann sum, alpha = k/m, summed then divided by m
    assert quadrature_nodes(4) == ([0.25, 0.5, 0.75, 1.0], [1.0] * 4, 4.0)
    with pytest.raises(ValueError, match="quadrature must be one of riemann-right, gauss-legendre"):
        quadrature_nodes(4, "simpson")


@pytest.mark.parametrize("family", ALL_CAUSAL)
def test_every_engine_path_equals_the_reference_loop_with_gauss_legendre_nodes(tiny, family):
    lm = tiny(family)
    scorer = AnswerScorer(lm)
    encoded = scorer.encode("The capital of Japan is [Y].", "Tokyo")
    gen = torch.Generator().manual_seed(0)
    shape = (lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    baselines = torch.cat([torch.zeros(shape), 0.1 * torch.randn(shape, generator=gen)], dim=1)
    ref = reference_attribute(lm, encoded, baselines, steps=3, scorer=scorer, quadrature="gauss-legendre")
    riemann = reference_attribute(lm, encoded, baselines, steps=3, scorer=scorer)
    assert ref.abs().max() > 0 and (ref - riemann).abs().max() > 1e-4 * ref.abs().max()  # the rule reaches the loop
    paths = (["fast"] if lm.adapter.fast_path else []) + ["cached", "full"]
    for path in paths:
        got = IGEngine(lm, scorer, steps=3, path=path, quadrature="gauss-legendre").attribute(encoded, baselines)
        assert float((got - ref).abs().max() / ref.abs().max()) <= 1e-5, path


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_gauss_legendre_is_closer_to_completeness_than_riemann_at_the_same_forwards(tiny, family):
    """Sum of a layer's attributions against Prob(a) - Prob(zero): at 8 nodes the Gauss-Legendre error,
    summed over layers, is below the 8-step Riemann sum's and within 2 % of the total (what the
    Riemann sum needs 200 steps for, test_localization.test_completeness)."""
    lm = tiny(family)
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    zero = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    prob = scorer.probs_encoded([encoded])[0]
    expected = []
    for layer in range(lm.adapter.n_layers):
        with suppress_activations(lm.adapter, [(layer, i) for i in range(lm.adapter.n_neurons)]):
            expected.append(prob - scorer.probs_encoded([encoded])[0])
    expected = np.array(expected)
    error = {}
    for rule in ("gauss-legendre", "riemann-right"):
        got = IGEngine(lm, scorer, steps=8, quadrature=rule).attribute(encoded, zero)[:, 0].sum(-1).numpy()
        error[rule] = float(np.abs(got - expected).sum())
    assert error["gauss-legendre"] < error["riemann-right"]
    assert error["gauss-legendre"] <= 0.02 * float(np.abs(expected).sum()) + 1e-9


def test_the_variant_is_an_opt_in_with_its_own_cache_key():
    ig = build_localizer("ig")
    assert ig.quadrature == "riemann-right" and ig.params() == {"steps": 20}  # keys cached before still hit
    gl = build_localizer("ig", steps=8, quadrature="gauss-legendre")
    assert gl.params() == {"steps": 8, "quadrature": "gauss-legendre"}
    amig = build_localizer("amig", quadrature="gauss-legendre")
    assert amig.params()["quadrature"] == "gauss-legendre"
    assert "quadrature" not in build_localizer("amig").params()
    with pytest.raises(ConfigError, match="quadrature"):
        build_localizer("ig", quadrature="simpson")
    from dknbench.harness import RunSpec
    from dknbench.harness.spec import resolve

    resolved = resolve(RunSpec(task="kn-localization", methods=["ig[quadrature=gauss-legendre,steps=8]"],
                               model="tiny-gpt2", limit=2))
    assert resolved.methods == ["ig[quadrature=gauss-legendre,steps=8]"]
    with pytest.raises(ConfigError, match="simpson"):
        resolve(RunSpec(task="kn-localization", methods=["ig[quadrature=simpson]"], model="tiny-gpt2", limit=2))


def test_the_locator_scores_with_the_localizers_rule(tiny):
    """KNLocator builds its engine with the localizer's rule: the variant's scores are the
    Gauss-Legendre engine's, the default's the Riemann engine's, and each has its own cache entry."""
    from dknbench.localization import AttributionCache, KNLocator

    lm = tiny("gpt2")
    cache = AttributionCache()
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    zero = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    for rule in ("gauss-legendre", "riemann-right"):
        locator = KNLocator(lm, build_localizer("ig", steps=4, quadrature=rule), scorer=scorer, cache=cache)
        scores = locator.query_scores(QUERY, ANSWER)
        direct = IGEngine(lm, scorer, steps=4, quadrature=rule).attribute(encoded, zero)[:, 0].numpy()
        np.testing.assert_allclose(scores, direct, rtol=1e-6, atol=1e-12)
    gl = KNLocator(lm, build_localizer("ig", steps=4, quadrature="gauss-legendre"), scorer=scorer, cache=cache)
    plain = KNLocator(lm, build_localizer("ig", steps=4), scorer=scorer, cache=cache)
    a, b = gl.query_scores(QUERY, ANSWER), plain.query_scores(QUERY, ANSWER)
    assert np.abs(a - b).max() > 1e-4 * np.abs(b).max()
