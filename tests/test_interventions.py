"""Every intervention changes what it should while inside and restores the model exactly."""

import pytest
import torch

from conftest import ALL_FAMILIES, CAUSAL_FAMILY_KINDS, FAMILY_KINDS, mlp_kind
from dknbench.errors import DKNBenchError
from dknbench.interventions import (enhance_activations, enhance_weights, suppress_activations,
                                    suppress_weights, record_activations)
from dknbench.scoring import AnswerScorer

QUERY, ANSWER = "The capital of France is [Y].", "Paris"


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(model, before):
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key


def logits(lm):
    scorer = AnswerScorer(lm)
    with torch.no_grad():
        return scorer.logits(*scorer.collate([scorer.encode(QUERY, ANSWER)]))


@pytest.mark.parametrize("family", ALL_FAMILIES)
@pytest.mark.parametrize("make,on_weights", [
    pytest.param(lambda a, n: suppress_activations(a, n), False, id="sup-act"),
    pytest.param(lambda a, n: enhance_activations(a, n), False, id="enh-act"),
    pytest.param(lambda a, n: suppress_activations(a, n, positions="all"), False, id="sup-act-all"),
    pytest.param(lambda a, n: suppress_weights(a, n), True, id="sup-w"),
    pytest.param(lambda a, n: enhance_weights(a, n), True, id="enh-w")])
def test_intervention_changes_then_restores(tiny, family, make, on_weights):
    lm = tiny(family)
    neurons = [(0, i) for i in range(0, 40, 3)] + [(2, 1), (2, 9)]
    params, reference = snapshot(lm.model), logits(lm)
    if on_weights and mlp_kind(family)[3]:  # gate and up rows in one fused matrix: refused
        with pytest.raises(DKNBenchError, match=f"editing weights of {lm.adapter.family.name} models is not supported"):
            make(lm.adapter, neurons).__enter__()
        assert_same(lm.model, params)
        return
    with make(lm.adapter, neurons):
        inside = logits(lm)
    assert not torch.allclose(inside, reference), "the intervention had no effect"
    assert_same(lm.model, params)
    assert torch.equal(logits(lm), reference)


def test_weights_restored_after_an_exception(tiny):
    lm = tiny("llama")
    params = snapshot(lm.model)
    with pytest.raises(RuntimeError):
        with suppress_weights(lm.adapter, [(1, 3), (1, 4)]):
            raise RuntimeError("boom")
    assert_same(lm.model, params)


def test_target_position_only_leaves_earlier_positions(tiny):
    lm = tiny("gpt2")
    scorer = AnswerScorer(lm)
    batch = scorer.collate([scorer.encode(QUERY, ANSWER)])
    with torch.no_grad():
        base = scorer.logits(*batch)
        with suppress_activations(lm.adapter, [(0, i) for i in range(lm.adapter.n_neurons)]):
            target_only = scorer.logits(*batch)
    t = int(batch[2][0])
    assert torch.allclose(base[0, :t], target_only[0, :t])
    assert not torch.allclose(base[0, t], target_only[0, t])


def test_suppress_sets_activation_to_zero_and_enhance_doubles(tiny):
    lm = tiny("llama")
    scorer = AnswerScorer(lm)
    batch = scorer.collate([scorer.encode(QUERY, ANSWER)])
    neurons = [(1, 2), (1, 5)]
    with torch.no_grad():
        with record_activations(lm.adapter, [1]) as plain:
            scorer.logits(*batch)
        # recording hooks run before (registered earlier than) the intervention hooks, so nest
        # the other way round: intervene first, then record what the down projection receives
        with enhance_activations(lm.adapter, neurons):
            with record_activations(lm.adapter, [1]) as enhanced:
                scorer.logits(*batch)
    # hooks run in registration order: the recorder registered last sees the edited input
    assert torch.allclose(enhanced[1][0, [2, 5]], 2 * plain[1][0, [2, 5]])
    assert torch.allclose(enhanced[1][0, 3], plain[1][0, 3])


@pytest.mark.parametrize("family,mode", [(f, "first") for f in FAMILY_KINDS] +
                         [(f, "joint") for f in CAUSAL_FAMILY_KINDS])
def test_batched_per_row_suppression_equals_one_set_at_a_time(tiny, family, mode, monkeypatch):
    """SuppressionScorer batches many suppression sets into one forward pass (sharing the prefix
    KV cache for causal LMs); each row must see exactly its own set, as if suppressed alone."""
    from dknbench.tasks.dkn_common import SuppressionScorer

    monkeypatch.setattr(SuppressionScorer, "CHUNK", 4)  # forces several chunks
    lm = tiny(family)
    scorer = AnswerScorer(lm, mode=mode)
    queries = [QUERY, "France's capital city is [Y]."]
    sets = [[], [(0, 1)], [(0, 1), (2, 7)], [(1, i) for i in range(20)], [(2, 3)], [(0, 5), (1, 5)]]
    answer = "Paris city" if mode == "joint" else ANSWER
    batched = SuppressionScorer(scorer, lm.adapter, queries, answer).prob_suppressing_many(sets)
    for neurons, value in zip(sets, batched):
        encoded = [scorer.encode(q, answer) for q in queries]
        with suppress_activations(lm.adapter, neurons):
            alone = float(scorer.probs_encoded(encoded).mean())
        assert value == pytest.approx(alone, rel=1e-5, abs=1e-12)
    assert len(set(round(v, 12) for v in batched)) > 3  # the sets really differ
