"""grad-x-act, atp and causal-tracing against slow references on tiny models (causal and masked)."""

from contextlib import nullcontext

import numpy as np
import pytest
import torch

from conftest import FAMILY_KINDS
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


@pytest.fixture(scope="module", params=FAMILY_KINDS)
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
    tracer = build_localizer("causal-tracing", seed=3, top_k=20, noise_samples=1)
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


# --- the conventions as plain loops: one layer's gradient at a time, one neuron patched at a time --
def _plain_prob(lm, scorer, encoded) -> float:
    with torch.no_grad():
        ids, mask, targets = scorer.collate([encoded])
        return float(scorer.answer_log_probs(scorer.logits(ids, mask, targets), [encoded])[0].exp())


def _plain_run(lm, scorer, encoded, corruption=None):
    """(activations, dProb/dactivation) at the target, [n_layers, n_neurons] each: for each layer
    in turn its target activation is made a leaf and Prob is differentiated by autograd."""
    acts, grads = [], []
    for layer in range(lm.adapter.n_layers):
        leaf = {}

        def hook(module, args):
            hidden = args[0].clone()
            leaf["x"] = hidden[0, encoded.target].detach().clone().requires_grad_(True)
            hidden[0, encoded.target] = leaf["x"]
            return (hidden,) + tuple(args[1:])

        handle = lm.adapter.write_module(layer).register_forward_pre_hook(hook)
        try:
            with torch.enable_grad(), (corruption.active() if corruption else nullcontext()):
                ids, mask, targets = scorer.collate([encoded])
                prob = scorer.answer_log_probs(scorer.logits(ids, mask, targets), [encoded])[0].exp()
                (grad,) = torch.autograd.grad(prob, leaf["x"])
        finally:
            handle.remove()
        acts.append(leaf["x"].detach().float())
        grads.append(grad.float())
    return torch.stack(acts).cpu(), torch.stack(grads).cpu()


def _patched_prob(lm, scorer, encoded, corruption, layer, index, value, position):
    """Prob of the corrupted run with neuron (layer, index) set to ``value`` at ``position``."""
    def hook(module, args):
        hidden = args[0].clone()
        hidden[:, position, index] = value
        return (hidden,) + tuple(args[1:])

    handle = lm.adapter.write_module(layer).register_forward_pre_hook(hook)
    try:
        with corruption.active():
            return _plain_prob(lm, scorer, encoded)
    finally:
        handle.remove()


@pytest.mark.parametrize("direction", ["restore", "corrupt"])
def test_atp_direction_equals_the_plain_gradient_loop(lm, direction):
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    scores = build_localizer("atp", seed=5, direction=direction).scores(IGEngine(lm, scorer), encoded, subject=SUBJECT)
    corruption = Corruption(lm, encoded, SUBJECT, seed=5)
    clean, clean_grad = _plain_run(lm, scorer, encoded)
    corrupt, corrupt_grad = _plain_run(lm, scorer, encoded, corruption)
    if direction == "restore":  # Nanda 2023: clean into the corrupted run, gradient there
        expected = (clean - corrupt) * corrupt_grad
    else:  # AtP*: c = (a_corrupt - a_clean) * grad on the clean run; the score is -c
        expected = -((corrupt - clean) * clean_grad)
    assert np.abs(expected.numpy()).max() > 0
    error = _rel(scores, expected.numpy())
    assert error <= 1e-4
    other = build_localizer("atp", seed=5, direction="corrupt" if direction == "restore" else "restore")
    # the two conventions are different numbers: farther apart than 10x this one's distance from its
    # reference (on a random tiny BERT the gradient barely changes with the noise, so they are close)
    assert _rel(other.scores(IGEngine(lm, scorer), encoded, subject=SUBJECT), scores) > max(10 * error, 1e-5)


def _plain_causal_trace(lm, scorer, encoded, seed, top_k, samples, positions):
    """Slow causal tracing: atp (restore) averaged over the draws proposes top_k neurons; each is
    restored alone in each draw (at the target, or at each position in turn: max over positions)."""
    draws = [Corruption(lm, encoded, SUBJECT, seed=seed, sample=s) for s in range(samples)]
    with torch.no_grad():
        from dknbench.interventions.activations import record_activations

        with record_activations(lm.adapter, positions="all") as records:
            scorer.logits(*scorer.collate([encoded]))
    clean_all = torch.stack([records[l][0] for l in range(lm.adapter.n_layers)]).float()
    clean = clean_all[:, encoded.target]
    estimate = np.zeros(tuple(clean.shape))
    for draw in draws:
        corrupt, grad = _plain_run(lm, scorer, encoded, draw)
        estimate += ((clean - corrupt) * grad).numpy() / samples
    top = np.argsort(-np.abs(estimate), axis=None, kind="stable")[:top_k]
    proposed = list(zip(*[a.tolist() for a in np.unravel_index(top, estimate.shape)]))
    base = np.mean([_corrupted_prob(lm, scorer, encoded, d) for d in draws])
    where = [encoded.target] if positions == "target" else range(clean_all.shape[1])
    expected = np.zeros(estimate.shape)
    for layer, index in proposed:
        effects = [np.mean([_patched_prob(lm, scorer, encoded, d, layer, index, float(clean_all[layer, t, index]), t)
                            for d in draws]) - base for t in where]
        expected[layer, index] = max(effects)
    return expected


def _corrupted_prob(lm, scorer, encoded, corruption):
    with corruption.active():
        return _plain_prob(lm, scorer, encoded)


@pytest.mark.parametrize("samples, positions", [(3, "target"), (2, "all")])
def test_causal_tracing_noise_samples_and_positions_equal_the_plain_loop(lm, samples, positions):
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(QUERY, ANSWER)
    top_k = 6
    tracer = build_localizer("causal-tracing", seed=4, top_k=top_k, noise_samples=samples, positions=positions)
    scores = tracer.scores(IGEngine(lm, scorer, batch_size=4), encoded, subject=SUBJECT)
    expected = _plain_causal_trace(lm, scorer, encoded, 4, top_k, samples, positions)
    assert np.count_nonzero(expected) > 0
    assert np.abs(scores - expected).max() <= 1e-5 * max(np.abs(expected).max(), 1e-3)
    # seeded: the same settings give the same scores; one draw is another computation
    assert np.array_equal(scores, tracer.scores(IGEngine(lm, scorer, batch_size=4), encoded, subject=SUBJECT))
    single = build_localizer("causal-tracing", seed=4, top_k=top_k, noise_samples=1, positions=positions)
    assert not np.array_equal(scores, single.scores(IGEngine(lm, scorer, batch_size=4), encoded, subject=SUBJECT))


def test_new_conventions_get_their_own_cache_keys_and_old_keys_stay(tmp_path):
    cache = AttributionCache(tmp_path)
    key = lambda loc: cache.key("fp", loc.name, loc.params(), "first", "p", [1])
    # the defaults of before these options keep their keys (restore; one draw at the target) ...
    assert build_localizer("atp", seed=1).params() == {"seed": 1, "noise": 3.0}
    assert build_localizer("causal-tracing", seed=1, noise_samples=1).params() == {"seed": 1, "noise": 3.0, "top_k": 200}
    # ... and every other setting is another key: restore scores are never served for corrupt
    assert key(build_localizer("atp", seed=1)) != key(build_localizer("atp", seed=1, direction="corrupt"))
    tracers = [build_localizer("causal-tracing", seed=1, noise_samples=n, positions=p)
               for n in (1, 3, 10) for p in ("target", "all")]
    assert len({key(t) for t in tracers}) == len(tracers)
    # ig and amig keys are what they were (a warm cache of them must stay valid)
    assert build_localizer("ig", steps=20).params() == {"steps": 20}
    assert build_localizer("amig", steps=20, norm="abs").params() == {"steps": 20, "norm": "abs", "baseline": "token-id"}
