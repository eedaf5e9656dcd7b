"""knowledge-synapses: attention read/edit through the eager path, on tiny GPT-2 and LLaMA."""

import pytest
import torch

from dknbench.models.loading import tiny_loaded
from dknbench.scoring import AnswerScorer
from dknbench.interventions import attention_maps, scale_attention
from dknbench.tasks.knowledge_synapses import knowledge_synapses, predominance

QUERY = "The capital of France is [Y]."


def _logits(lm, scorer):
    enc = scorer.encode(QUERY, "Paris")
    ids, mask, targets = scorer.collate([enc])
    with torch.no_grad():
        return scorer.logits(ids, mask, targets).clone()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_attention_interventions(family):
    lm = tiny_loaded(family)
    scorer = AnswerScorer(lm)
    state = {k: v.clone() for k, v in lm.model.state_dict().items()}
    base = _logits(lm, scorer)
    attn = attention_maps(lm, scorer, QUERY)
    L, H, R, C = attn.shape
    assert torch.allclose(attn.sum(-1), torch.ones(L, H, R), atol=1e-5)
    with scale_attention(lm.model, [], 0.0):  # empty synapse set: nothing changes
        assert torch.equal(_logits(lm, scorer), base)
    with scale_attention(lm.model, [(C + 5, 0, 0)], 0.0):  # a column beyond the query: no-op
        assert torch.equal(_logits(lm, scorer), base)
    syn = knowledge_synapses(attn, 0.3)
    tau = 0.3 * float(attn.sum(dim=(2, 3)).mean())
    assert syn and all(float(attn[l, h, :, c].sum()) > tau for c, l, h in syn)
    with scale_attention(lm.model, syn, 0.0):
        changed = _logits(lm, scorer)
    assert not torch.equal(changed, base)
    assert lm.model.config._attn_implementation == "eager"
    assert torch.equal(_logits(lm, scorer), base)  # undone: same logits, same parameters
    assert all(torch.equal(v, state[k]) for k, v in lm.model.state_dict().items())


def test_predominance():
    assert predominance(["Paris", "Paris", "France", "Paris"]) == 0.75
    assert predominance(["a", "b"]) == 0.5
