"""Neuron-restricted fine-tuning and ΔP overlap (000 §4) on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dknbench.errors import ConfigError
from dknbench.models.loading import tiny_loaded
from dknbench.interventions.finetune import (TrainConfig, changed_neurons, neuron_masks, neuron_vectors,
                                     overlap, parameter_change, train_neurons)

TEXTS = ["In 2019, France had its capital in Rome.", "In 2019, Japan used the euro.",
         "In 2019, the capital of Italy was Tokyo.", "In 2019, people in Spain spoke German."]
CONFIG = dict(lr=5e-2, batch_size=2, grad_accum=1, epochs=2, warmup=0.1, weight_decay=0.1, seed=0)


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_only_the_chosen_neurons_change(family, tmp_path):
    lm = tiny_loaded(family)
    neurons = [(0, 3), (1, 7), (1, 8), (2, 60)]
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    vectors = neuron_vectors(lm.adapter)
    result = train_neurons(lm, TEXTS, neurons, TrainConfig(**CONFIG), run_dir=tmp_path, progress=False)
    assert result["steps"] == 4
    after = lm.model.state_dict()
    masks = neuron_masks(lm.adapter, neurons)
    names = dict(lm.model.named_parameters())
    for key, value in before.items():
        if key in masks:
            mask = masks[key][1]
            assert torch.equal(value[~mask], after[key][~mask]), key  # frozen entries bit-identical
            assert not torch.equal(value[mask], after[key][mask]), key  # chosen slices trained
        else:
            assert torch.equal(value, after[key]), key  # embeddings, norms, attention, head
    assert all(p.grad is None for p in names.values())
    delta = parameter_change(vectors, lm.adapter)
    moved = {tuple(n) for n in zip(*np.nonzero(delta > 0))}
    assert moved == set(neurons)
    assert set(changed_neurons(delta, 0.0)) == set(neurons)
    assert overlap(neurons[:2] + [(0, 0), (0, 1)], changed_neurons(delta, 0.0)) == 0.5


def test_training_resumes_from_the_checkpoint(tmp_path):
    config = TrainConfig(**CONFIG)
    full = tiny_loaded("gpt2")
    train_neurons(full, TEXTS, [(0, 1), (2, 5)], config, run_dir=tmp_path / "a", progress=False)
    half = tiny_loaded("gpt2")
    train_neurons(half, TEXTS, [(0, 1), (2, 5)], TrainConfig(**{**CONFIG, "epochs": 1}),
                  run_dir=tmp_path / "b", progress=False)
    assert (tmp_path / "b" / "finetune_checkpoint.pt").is_file()
    with pytest.raises(ConfigError, match="another fine-tuning setting"):
        train_neurons(half, TEXTS, [(0, 1), (2, 5)], config, run_dir=tmp_path / "b", progress=False)
    again = tiny_loaded("gpt2")
    (tmp_path / "c").mkdir()
    train_neurons(again, TEXTS, [(0, 1), (2, 5)], config, run_dir=tmp_path / "c", progress=False)
    resumed = tiny_loaded("gpt2")  # a fresh model resumed from the finished checkpoint
    info = train_neurons(resumed, TEXTS, [(0, 1), (2, 5)], config, run_dir=tmp_path / "c", progress=False)
    assert info["resumed_from"] == 2
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b), k
    # every optimizer step is timed once, and the steps timed before a stop are kept on resume
    assert len(info["step_seconds"]["cpu"]) == len(info["step_seconds"]["wall"]) == info["steps"] > 0
    assert all(t > 0 for t in info["step_seconds"]["wall"]) and all(t >= 0 for t in info["step_seconds"]["cpu"])


def test_full_finetuning_and_bad_input():
    lm = tiny_loaded("gpt2")
    emb = lm.adapter.input_embeddings().weight.detach().clone()
    train_neurons(lm, TEXTS, None, TrainConfig(**{**CONFIG, "epochs": 1}), progress=False)
    assert not torch.equal(emb, lm.adapter.input_embeddings().weight)  # Θ(All) trains everything
    with pytest.raises(ConfigError, match="lr"):
        train_neurons(lm, TEXTS, [(0, 1)], TrainConfig(lr=0.0), progress=False)
    with pytest.raises(ConfigError, match="neuron"):
        train_neurons(lm, TEXTS, [], TrainConfig(), progress=False)
    assert overlap([], [(0, 1)]) is None


class _Touch:
    """A pickled object that would run code (create a file) when a checkpoint is unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_checkpoint_holding_a_pickled_object_is_refused(tmp_path):
    marker = tmp_path / "code_ran"
    torch.save({"config": {}, "payload": _Touch(marker)}, tmp_path / "finetune_checkpoint.pt")
    with pytest.raises(ConfigError, match="refused to load"):
        train_neurons(tiny_loaded("gpt2"), TEXTS, [(0, 1)], TrainConfig(**CONFIG), run_dir=tmp_path,
                      progress=False)
    assert not marker.exists()


def test_clipping_sees_only_the_trainable_entries(monkeypatch):
    lm = tiny_loaded("gpt2")
    neurons = [(0, 1), (2, 5)]
    masks = {id(p): m for p, m in neuron_masks(lm.adapter, neurons).values()}
    seen = []
    clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(params, max_norm, *args, **kwargs):
        params = list(params)
        seen.append(max(float(p.grad[~masks[id(p)]].abs().max()) for p in params))
        assert any(float(p.grad[masks[id(p)]].abs().max()) > 0 for p in params)
        return clip(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    train_neurons(lm, TEXTS, neurons, TrainConfig(**{**CONFIG, "epochs": 1}), progress=False)
    assert seen and max(seen) == 0.0  # frozen entries carry no gradient into the clipped norm
