"""The fast IG path (layer skipping, head at the scored positions) equals the plain reference loop
and the cached/full paths, on tiny GPT-2, LLaMA and NeoX models, first and joint scoring."""

import pytest
import torch

from conftest import ALL_CAUSAL, needs
from dknbench.localization.engine import IGEngine
from dknbench.localization.reference import reference_attribute
from dknbench.models.loading import tiny_loaded
from dknbench.scoring import AnswerScorer

STEPS = 4




@pytest.fixture(scope="module", params=ALL_CAUSAL)
def lm(request):
    return tiny_loaded(request.param, seed=1)


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("mode", ["first", "joint"])
def test_fast_equals_reference_and_other_paths(lm, mode):
    scorer = AnswerScorer(lm, mode=mode)
    encoded = scorer.encode("The capital of Japan is [Y].", "Tokyo city")
    if mode == "joint":
        assert len(encoded.answer_ids) > 1
    gen = torch.Generator().manual_seed(0)
    shape = (lm.adapter.n_layers, 2, lm.adapter.n_neurons)
    baselines = torch.cat([torch.zeros(shape[0], 1, shape[2]),
                           0.1 * torch.randn(shape[0], 1, shape[2], generator=gen)], dim=1)
    ref = reference_attribute(lm, encoded, baselines, steps=STEPS, scorer=scorer)
    assert ref.abs().max() > 0
    results = {}
    # families whose blocks cannot run the fast staircase (adapter.fast_path False) refuse it
    fast = [("fast", 5), ("fast", 128)] if lm.adapter.fast_path else []
    if not lm.adapter.fast_path:
        with pytest.raises(ValueError, match="fast path"):
            IGEngine(lm, scorer, path="fast")
    for path, batch in fast + [("cached", 7), ("cached", 128), ("full", 128)]:
        engine = IGEngine(lm, scorer, steps=STEPS, batch_size=batch, path=path)
        results[(path, batch)] = engine.attribute(encoded, baselines)
        assert results[(path, batch)].shape == ref.shape
        assert _rel(results[(path, batch)], ref) <= 1e-4, (path, batch)
    assert _rel(results[("cached", 7)], results[("full", 128)]) <= 1e-4
    if fast:
        assert _rel(results[("fast", 5)], results[("cached", 7)]) <= 1e-4
        assert _rel(results[("fast", 128)], results[("full", 128)]) <= 1e-4


def test_fast_layer_subset_and_first_position_target(lm):
    if not lm.adapter.fast_path:
        pytest.skip(f"{lm.adapter.family.name} runs the cached path (adapter.fast_path is False)")
    scorer = AnswerScorer(lm)
    zero = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
    encoded = scorer.encode("Paris is in [Y].", "France")
    ref = reference_attribute(lm, encoded, zero, steps=STEPS, scorer=scorer, layers=[1, 2])
    fast = IGEngine(lm, scorer, steps=STEPS, path="fast").attribute(encoded, zero, layers=[1, 2])
    assert _rel(fast, ref) <= 1e-4
    assert torch.all(fast[0] == 0)  # layers not asked for stay at 0
    # a one-token prompt: the target is position 0, there is no prefix cache
    ids = scorer.tokenizer("Paris")["input_ids"][:1]
    one = type(encoded)(ids, 0, encoded.answer_ids, "Paris")
    ref = reference_attribute(lm, one, zero, steps=STEPS, scorer=scorer)
    fast = IGEngine(lm, scorer, steps=STEPS, path="fast").attribute(one, zero)
    assert _rel(fast, ref) <= 1e-4


def test_fast_leaves_model_intact_and_auto_choice(lm):
    blocks = lm.adapter.blocks
    scorer = AnswerScorer(lm)
    engine = IGEngine(lm, scorer, steps=2)
    assert engine.path == ("fast" if lm.adapter.fast_path else "cached")
    encoded = scorer.encode("The capital of Japan is [Y].", "Tokyo")
    before = scorer.probs_encoded([encoded])
    engine.attribute(encoded, torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons))
    owner = lm.model
    for part in lm.adapter.family.layers.split("."):
        owner = getattr(owner, part)
    assert owner is blocks  # the block list was put back
    assert scorer.probs_encoded([encoded]) == pytest.approx(before, abs=0)


def test_masked_lm_keeps_full_path():
    bert = tiny_loaded("bert")
    assert IGEngine(bert, steps=2).path == "full"
    with pytest.raises(ValueError):
        IGEngine(bert, steps=2, path="fast")
    with pytest.raises(ValueError):
        IGEngine(bert, steps=2, path="warp")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("path", ["fast", "cached", "full"])
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_half_precision_paths_track_float32(family, path, dtype):
    """`--dtype bfloat16|float16` on every engine path: scores within half precision of float32
    and the same strongest neurons."""
    lm32 = tiny_loaded(family, seed=1)
    lm16 = tiny_loaded(family, seed=1)
    lm16.model.to(getattr(torch, dtype))
    zero = torch.zeros(lm32.adapter.n_layers, 1, lm32.adapter.n_neurons)
    scores = {}
    for name, lm in (("fp32", lm32), ("half", lm16)):
        scorer = AnswerScorer(lm)
        encoded = scorer.encode("The capital of Japan is [Y].", "Tokyo")
        try:
            scores[name] = IGEngine(lm, scorer, steps=STEPS, path=path).attribute(encoded, zero)[:, 0]
        except RuntimeError as error:  # an op this CPU build has no half kernel for
            if name == "half" and "Half" in str(error):  # a skip here, a failure in CI
                needs(False, f"{dtype} kernels in this build of torch ({error})")
            raise
    assert scores["half"].dtype == torch.float32 and torch.isfinite(scores["half"]).all()
    assert _rel(scores["half"], scores["fp32"]) <= 0.05  # measured ~0.01 (bf16)
    top = lambda s: set(torch.topk(s.flatten(), 10).indices.tolist())  # noqa: E731
    assert len(top(scores["half"]) & top(scores["fp32"])) >= 7
