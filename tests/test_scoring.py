"""Prob(answer): tokenisation (no BOS before the answer, leading space), batching, joint mode."""

import numpy as np
import pytest
import torch

from conftest import CAUSAL_FAMILY_KINDS, FAMILY_KINDS
from dknbench.scoring import AnswerScorer, SkipQuery

QUERIES = ["The capital of France is [Y].", "Mozart was a composer born in [Y]",
           "The day after Monday is [Y].", "A puppy is a young [Y]."]
ANSWERS = ["Paris", "Austria", "Tuesday", "dog"]


@pytest.mark.parametrize("family", FAMILY_KINDS)
def test_batched_equals_one_by_one(tiny, family):
    scorer = AnswerScorer(tiny(family), batch_size=4)
    batched = scorer.probs(QUERIES, ANSWERS)
    single = np.array([scorer.probs([q], [a])[0] for q, a in zip(QUERIES, ANSWERS)])
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-9)
    assert np.all((batched > 0) & (batched < 1))


@pytest.mark.parametrize("family", CAUSAL_FAMILY_KINDS)
def test_joint_is_teacher_forced_product(tiny, family):
    lm = tiny(family)
    scorer = AnswerScorer(lm, mode="joint")
    answer = "Paris city"
    encoded = scorer.encode(QUERIES[0], answer)
    tok = lm.tokenizer
    prompt_ids = tok("The capital of France is")["input_ids"]
    full_ids = tok("The capital of France is Paris city")["input_ids"]
    assert encoded.answer_ids == full_ids[len(prompt_ids):] and len(encoded.answer_ids) > 1
    expected = 1.0
    with torch.no_grad():
        for i, token in enumerate(encoded.answer_ids):
            ids = torch.tensor([prompt_ids + encoded.answer_ids[:i]])
            expected *= torch.softmax(lm.model(input_ids=ids).logits[0, -1], -1)[token].item()
    assert scorer.probs([QUERIES[0]], [answer])[0] == pytest.approx(expected, rel=1e-5)
    first = AnswerScorer(lm, mode="first").probs([QUERIES[0]], [answer])[0]
    assert first > scorer.probs([QUERIES[0]], [answer])[0]


def test_answer_has_leading_space_and_no_bos(tiny):
    lm = tiny("gpt2")
    encoded = AnswerScorer(lm).encode(QUERIES[0], "Paris")
    assert lm.tokenizer.decode(encoded.answer_ids) == " Paris"
    assert encoded.input_ids == lm.tokenizer("The capital of France is")["input_ids"]
    assert encoded.target == len(encoded.input_ids) - 1


def test_masked_lm_scores_at_the_mask(tiny):
    lm = tiny("bert")
    encoded = AnswerScorer(lm).encode(QUERIES[0], "Paris")
    assert encoded.input_ids[encoded.target] == lm.tokenizer.mask_token_id
    assert encoded.answer_ids == lm.tokenizer("paris", add_special_tokens=False)["input_ids"][:1]


@pytest.mark.parametrize("query,answer,reason", [
    ("[Y] is the capital of France.", "Paris", "slot_not_last"),
    ("The capital of France is [Y].", "", "empty_answer"),
    ("The capital of France is.", "Paris", "query_without_single_slot"),
    (("word " * 200) + "[Y]", "Paris", "query_too_long"),
])
def test_unusable_queries_are_skipped_with_a_reason(tiny, query, answer, reason):
    with pytest.raises(SkipQuery) as skip:
        AnswerScorer(tiny("gpt2")).encode(query, answer)
    assert skip.value.reason == reason
