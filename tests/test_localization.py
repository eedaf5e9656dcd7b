"""IG: completeness, agreement with a simple reference loop, localizers, cache."""

import numpy as np
import pytest
import torch

from conftest import ALL_CAUSAL, ALL_FAMILIES, FAMILY_KINDS, LOCALIZERS
from dknbench.data.schema import Fact
from dknbench.interventions import suppress_activations
from dknbench.localization import (AttributionCache, IGEngine, KNLocator, build_localizer,
                                   refine_across_queries, select_above)
from dknbench.scoring import AnswerScorer

QUERY, ANSWER = "The capital of France is [Y].", "Paris"


def reference_ig(lm, encoded, steps):
    """Deliberately simple: one layer, one step, one full forward at a time."""
    scorer, adapter = AnswerScorer(lm), lm.adapter
    ids, mask, _ = scorer.collate([encoded])
    base = IGEngine(lm, scorer).target_activations(encoded)
    out = np.zeros((adapter.n_layers, adapter.n_neurons))
    for layer in range(adapter.n_layers):
        total = torch.zeros(adapter.n_neurons)
        for k in range(1, steps + 1):
            x = (k / steps * base[layer]).clone().requires_grad_(True)

            def hook(module, args):
                hidden = args[0].clone()
                hidden[0, encoded.target] = x
                return (hidden,) + args[1:]

            handle = adapter.write_module(layer).register_forward_pre_hook(hook)
            logits = lm.model(input_ids=ids, attention_mask=mask).logits
            handle.remove()
            logp = torch.log_softmax(logits[0, encoded.target], -1)[encoded.answer_ids[0]]
            (grad,) = torch.autograd.grad(logp.exp(), x)
            total += grad
        out[layer] = (base[layer] * total / steps).numpy()
    return out


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_engine_agrees_with_reference_loop(tiny, family):
    lm = tiny(family)
    encoded = AnswerScorer(lm).encode(QUERY, ANSWER)
    zero = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    fast = IGEngine(lm, steps=8, batch_size=7).attribute(encoded, zero)[:, 0].numpy()
    slow = reference_ig(lm, encoded, steps=8)
    assert np.abs(fast - slow).max() <= 1e-5 * max(np.abs(slow).max(), 1e-12) + 1e-12


# joint scoring (a multi-token answer) is defined for causal LMs only
@pytest.mark.parametrize("family,mode", [(f, "first") for f in ALL_FAMILIES] + [(f, "joint") for f in ALL_CAUSAL])
def test_completeness(tiny, family, mode):
    """Sum of a layer's attributions = Prob(a) - Prob(zero baseline) within 2% at 200 steps (the
    Riemann error falls as 1/steps; tiny-gpt_neo's layer 1 nets 1% of its attribution mass and needs
    200)."""
    lm = tiny(family)
    scorer = AnswerScorer(lm, mode=mode)
    encoded = scorer.encode(QUERY, "Paris city" if mode == "joint" else ANSWER)
    engine = IGEngine(lm, scorer, steps=200)
    zero = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    attributions = engine.attribute(encoded, zero)[:, 0]
    prob = scorer.probs_encoded([encoded])[0]
    for layer in range(lm.adapter.n_layers):
        with suppress_activations(lm.adapter, [(layer, i) for i in range(lm.adapter.n_neurons)]):
            prob_zero = scorer.probs_encoded([encoded])[0]
        expected = prob - prob_zero
        # expected is a difference of two float32 probabilities: a few ulps of prob is its floor
        floor = max(1e-12, 1e-6 * prob)
        assert float(attributions[layer].sum()) == pytest.approx(expected, rel=0.02, abs=floor)


@pytest.mark.parametrize("family", ALL_CAUSAL)
def test_cached_path_equals_full_path(tiny, family):
    lm = tiny(family)
    for mode in ("first", "joint"):
        scorer = AnswerScorer(lm, mode=mode)
        encoded = scorer.encode(QUERY, "Paris city")
        base = torch.rand(lm.adapter.n_layers, 2, lm.adapter.n_neurons)
        full = IGEngine(lm, scorer, steps=5, path="full").attribute(encoded, base)
        cached = IGEngine(lm, scorer, steps=5, path="cached").attribute(encoded, base)
        assert (full - cached).abs().max() <= 1e-5 * full.abs().max()


@pytest.mark.parametrize("family", FAMILY_KINDS)
@pytest.mark.parametrize("name", LOCALIZERS.names())
def test_localizers_run_on_every_family(tiny, family, name, tmp_path):
    lm = tiny(family)
    # count: a fixed number for the random floor (else it matches a reference localizer's count);
    # the subject for the localizers that corrupt it
    localizer = build_localizer(name, steps=4, count=5)
    locator = KNLocator(lm, localizer, cache=AttributionCache(tmp_path))
    scores = locator.query_scores(QUERY, ANSWER, "France")
    assert scores.shape == (lm.adapter.n_layers, lm.adapter.n_neurons)
    assert np.isfinite(scores).all() and np.abs(scores).max() > 0
    kns = locator.query_kns(QUERY, ANSWER, "France")
    assert kns and all(scores[l, i] > 0.2 * scores.max() for l, i in kns)


def test_amig_normalisation_makes_layer_abs_sums_one(tiny, tmp_path):
    lm = tiny("llama")
    locator = KNLocator(lm, build_localizer("amig", steps=4), cache=AttributionCache(tmp_path))
    scores = locator.query_scores(QUERY, ANSWER)
    np.testing.assert_allclose(np.abs(scores).sum(axis=1), 1.0, rtol=1e-5)
    sig = KNLocator(lm, build_localizer("sig", steps=4), cache=AttributionCache(tmp_path))
    assert not np.allclose(np.abs(sig.query_scores(QUERY, ANSWER)).sum(axis=1), 1.0)


def test_random_localizer_matches_reference_count_and_is_seeded(tiny, tmp_path):
    lm = tiny("gpt2")
    cache = AttributionCache(tmp_path)
    reference = KNLocator(lm, build_localizer("ig", steps=4), cache=cache)
    draw = lambda seed: KNLocator(lm, build_localizer("random", seed=seed), cache=cache,
                                  reference=reference).query_kns(QUERY, ANSWER)
    assert len(draw(1)) == len(reference.query_kns(QUERY, ANSWER))
    assert draw(1) == draw(1) and draw(1) != draw(2)
    # a fact's refined set is matched too (refining independent per-query draws would empty it)
    fact = Fact("f", "capital", "France", "Paris", [QUERY, "France's capital is [Y].", "The capital city of France is [Y]."])
    wanted = len(KNLocator(lm, build_localizer("ig", steps=4, tau=0.05), cache=cache).localize(fact).kns)
    reference = KNLocator(lm, build_localizer("ig", steps=4, tau=0.05), cache=cache)
    located = KNLocator(lm, build_localizer("random", seed=1), cache=cache, reference=reference).localize(fact)
    assert wanted > 0 and len(located.kns) == wanted
    assert [len(k) for k in located.query_kns] == [len(reference.query_kns(q, "Paris")) for q in located.queries]


def test_cache_second_run_computes_nothing(tiny, tmp_path):
    lm = tiny("gpt2")
    fact = Fact("f", "capital", "France", "Paris", [QUERY, "France's capital is [Y]."])
    first = KNLocator(lm, build_localizer("ig", steps=4), cache=AttributionCache(tmp_path))
    result_a = first.localize(fact)
    assert first.engine.forward_passes > 0
    second = KNLocator(lm, build_localizer("ig", steps=4), cache=AttributionCache(tmp_path))
    result_b = second.localize(fact)
    assert second.engine.forward_passes == 0 and second.cache.hits == 2
    assert result_a.query_kns == result_b.query_kns
    other_steps = KNLocator(lm, build_localizer("ig", steps=5), cache=AttributionCache(tmp_path))
    other_steps.localize(fact)
    assert other_steps.engine.forward_passes > 0  # the key includes the parameters


def test_selection_and_refinement():
    scores = np.array([[0.1, 1.0, 0.3], [0.15, -2.0, 0.25]])
    assert select_above(scores, 0.2) == [(0, 1), (0, 2), (1, 2)]
    sets = [[(0, 1), (0, 2)], [(0, 1)], [(0, 1), (1, 2)]]
    assert refine_across_queries(sets, 0.5) == [(0, 1)]
    assert refine_across_queries(sets, 0.0) == [(0, 1), (0, 2), (1, 2)]


def test_cas_localizer_applies_eq7_across_queries(tiny, tmp_path):
    """The registered `cas` picks a fact's KNs by CAS (003 Eq. 7), not by IG's refinement (issue 19)."""
    from dknbench.localization.cas import cas_neurons

    lm = tiny("gpt2")
    cache = AttributionCache(tmp_path)
    fact = Fact("f", "capital", "France", "Paris", [QUERY, "France's capital is [Y].", "The capital city of France is [Y]."])
    ig = KNLocator(lm, build_localizer("ig", steps=4), cache=cache).localize(fact)
    cas = KNLocator(lm, build_localizer("cas", steps=4), cache=cache).localize(fact)
    assert cas.queries == ig.queries and len(ig.queries) == 3
    ig_scores = [KNLocator(lm, build_localizer("ig", steps=4), cache=cache).query_scores(q, "Paris") for q in ig.queries]
    # Eq. 7 by hand: 0.7·mean − 0.3·population std over the three queries, > 0.3·max
    stacked = np.stack(ig_scores)
    by_hand = 0.7 * stacked.mean(0) - 0.3 * np.sqrt(((stacked - stacked.mean(0)) ** 2).mean(0))
    expected = sorted((int(l), int(i)) for l, i in zip(*np.nonzero(by_hand > 0.3 * by_hand.max())))
    assert expected == cas_neurons(ig_scores)
    assert ig.kns != expected  # on this fact Eq. 7 selects other neurons than IG's refinement
    assert cas.kns == expected


def test_no_cache_runs_each_query_attribution_once(tiny, tmp_path):
    """--no-cache: a task asking for the scores of the queries it just localized (the DKN tasks
    rank KNs by them) must not run IG again."""
    from dknbench.data.schema import Fact
    from dknbench.localization import AttributionCache, KNLocator, build_localizer

    lm = tiny("gpt2")
    localizer = build_localizer("ig", steps=3, tau=0.2)
    calls = []
    original = localizer.scores
    localizer.scores = lambda engine, encoded, **kw: calls.append(encoded.prompt) or original(engine, encoded, **kw)
    locator = KNLocator(lm, localizer, cache=AttributionCache(tmp_path, enabled=False))
    fact = Fact(id="f", relation="r", subject="Paris", object="France",
                queries=["Paris is in [Y].", "Paris lies in [Y]."])
    located = locator.localize(fact, max_queries=2)
    again = [locator.query_scores(q, fact.object, fact.subject) for q in located.queries]
    assert len(calls) == len(located.queries) == 2
    assert all(a.shape == again[0].shape for a in again)
