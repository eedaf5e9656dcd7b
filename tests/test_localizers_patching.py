"""grad-x-act, atp and causal-tracing against slow references on tiny models (causal and masked)."""

import numpy as np
import pytest
import torch

from dknbench.interventions import set_activations
from dknbench.localization import IGEngine, KNLocator, build_localizer
from dknbench.localization.cache import AttributionCache
from dknbench.localization.patching import Corruption, subject_positions
from dknbench.localization.reference import reference_attribute
from dknbench.scoring import AnswerScorer, SkipQuery

QUERY, ANSWER, SUBJECT = "The capital of Japan is [Y].", "Tokyo", "Japan"


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.fixture(scope="module", params=["gpt2", "llama", "bert"])
def lm(request):
    from dknbench.models.loading import tiny_loaded

    return tiny_loaded(request.param, seed=1)


def test_grad_x_act_is_ig_with_one_right_rule_step_and_the_plain_loop(lm):
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    gxa = build_localizer("grad-x-act").scores(IGEngine(lm, scorer), encoded)
    zero = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    ig1 = build_localizer("ig", steps=1).scores(IGEngine(lm, scorer, steps=1), encoded)
    slow = reference_attribute(lm, encoded, zero, steps=1, scorer=scorer)[:, 0].numpy()
    assert np.abs(gxa).max() > 0
    assert _rel(gxa, ig1) <= 1e-5
    assert _rel(gxa, slow) <= 1e-5
    # and it is not IG with more steps (the test would not notice a wrong alpha otherwise)
    ig5 = build_localizer("ig", steps=5).scores(IGEngine(lm, scorer, steps=5), encoded)
    assert _rel(gxa, ig5) > 10 * _rel(gxa, ig1)


def test_subject_span_is_the_subject_tokens(lm):
    scorer = AnswerScorer(lm)
    encoded = scorer.encode("Most people in Japan speak [Y].", "Japanese")
    positions = subject_positions(lm.tokenizer, encoded, "japan")  # case-insensitive match
    text = lm.tokenizer.decode([encoded.input_ids[p] for p in positions]).strip().lower()
    assert text == "japan"
    with pytest.raises(SkipQuery) as skip:
        subject_positions(lm.tokenizer, encoded, "France")
    assert skip.value.reason == "subject_not_in_query"


def test_atp_equals_the_plain_gradient_loop_on_the_corrupted_run(lm):
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    engine = IGEngine(lm, scorer)
    atp = build_localizer("atp", seed=7)
    scores = atp.scores(engine, encoded, subject=SUBJECT)
    # slow reference: one layer at a time, the activation replaced by a leaf, on the corrupted run;
    # reference_attribute with steps=1 evaluates (act - base) * dProb/dx at x = act, so act = the
    # corrupted activation and base = 2 act - clean give (clean - corrupt) * grad at the corrupted run
    corruption = Corruption(lm, encoded, SUBJECT, seed=7)
    clean = engine.target_activations(encoded)
    with corruption.active():
        corrupt = engine.target_activations(encoded)
        slow = reference_attribute(lm, encoded, (2 * corrupt - clean)[:, None], steps=1, scorer=scorer,
                                   activations=corrupt)[:, 0].numpy()
    assert not torch.allclose(clean, corrupt)  # the noise reaches the target position
    assert np.abs(scores).max() > 0
    assert _rel(scores, slow) <= 1e-4
    # seeded: the same seed gives the same scores, another seed other scores
    assert np.array_equal(scores, build_localizer("atp", seed=7).scores(engine, encoded, subject=SUBJECT))
    assert _rel(build_localizer("atp", seed=8).scores(engine, encoded, subject=SUBJECT), scores) > 1e-3


def test_corruption_noise_is_three_embedding_stds_on_the_subject_only(lm):
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    corruption = Corruption(lm, encoded, SUBJECT, seed=0)
    ids = torch.tensor([encoded.input_ids])
    embed = lm.adapter.input_embeddings()
    with torch.no_grad():
        plain = embed(ids)
        with corruption.active():
            noisy = embed(ids)
    changed = sorted(set(torch.nonzero((noisy - plain).abs().sum(-1)[0]).flatten().tolist()))
    assert changed == corruption.positions
    weight_std = float(embed.weight.float().std())
    ratio = float(corruption.noise.std()) / weight_std
    assert 2.0 < ratio < 4.2  # 3 x the embedding std, from a small sample of noise


def test_causal_tracing_batched_equals_one_neuron_at_a_time(lm):
    # the KV-shared path ("auto") exists for causal LMs only; masked LMs run the full path
    for path in (["full"] if lm.is_masked_lm else ["auto", "full"]):
        _check_causal_tracing_against_one_neuron_loop(lm, path)


def _check_causal_tracing_against_one_neuron_loop(lm, path):
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    engine = IGEngine(lm, scorer, batch_size=7, path=path)  # 7: several batches, a ragged last one
    tracer = build_localizer("causal-tracing", seed=3, top_k=20)
    scores = tracer.scores(engine, encoded, subject=SUBJECT)
    estimate = build_localizer("atp", seed=3).scores(engine, encoded, subject=SUBJECT)
    top = np.argsort(-np.abs(estimate), axis=None, kind="stable")[:20]
    proposed = set(zip(*[a.tolist() for a in np.unravel_index(top, estimate.shape)]))
    measured = {tuple(n) for n in np.argwhere(scores != 0).tolist()}
    assert measured <= proposed and measured  # only atp's top-K are measured
    # reference: restore one neuron at a time through the ordinary intervention, score, subtract
    corruption = Corruption(lm, encoded, SUBJECT, seed=3)
    clean = engine.target_activations(encoded)
    with corruption.active():
        base = scorer.probs_encoded([encoded])[0]
        for layer, index in sorted(proposed):
            with set_activations(lm.adapter, {(layer, index): float(clean[layer, index])}):
                restored = scorer.probs_encoded([encoded])[0]
            assert scores[layer, index] == pytest.approx(restored - base, abs=1e-6 * max(base, 1e-3)), (layer, index)


def test_subject_localizers_skip_queries_without_the_subject_and_cache_per_subject(tiny, tmp_path):
    from dknbench.data.schema import Fact

    lm = tiny("gpt2")
    fact = Fact(id="f", relation="capital", subject="Japan", object="Tokyo",
                queries=["Its capital is [Y].", QUERY])
    cache = AttributionCache(tmp_path)
    locator = KNLocator(lm, build_localizer("atp", seed=1), cache=cache)
    located = locator.localize(fact)
    assert located.queries == [QUERY] and located.skipped["subject_not_in_query"] == 1
    a = locator.query_scores("The capital of Japan and Spain is [Y].", "Tokyo", "Japan")
    b = locator.query_scores("The capital of Japan and Spain is [Y].", "Tokyo", "Spain")
    assert not np.array_equal(a, b)  # a different subject is a different corruption, not a cache hit
    assert len(list(tmp_path.rglob("*.npy"))) == 3
