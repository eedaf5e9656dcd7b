"""TransformerLens HookedTransformer through the suite's neuron adapter (models/hooked.py).

The tiny Hugging Face GPT-2 and LLaMA are converted to HookedTransformers with TransformerLens'
own weight converters, so the same weights run through both backends: attributions, the
kn-localization task's per-fact rows and an intervention must agree.
"""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import needs
from dknbench.cli import main
from dknbench.errors import DKNBenchError
from dknbench.localization.engine import IGEngine
from dknbench.models.loading import tiny_loaded
from dknbench.models.tiny import tiny_model
from dknbench.scoring import AnswerScorer

QUERY, ANSWER = "The capital of France is [Y].", "Paris"


@pytest.fixture(autouse=True)
def transformer_lens():
    needs(importlib.util.find_spec("transformer_lens") is not None,
          "transformer_lens (pip install 'dknbench[transformer-lens]')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TL 3.x announces HookedTransformer's removal
        import transformer_lens

        yield transformer_lens


def hooked_copy(family: str):
    """The tiny HF model of ``family`` and a HookedTransformer holding the same weights."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights, convert_llama_weights

    hf, tokenizer = tiny_model(family)
    c = hf.config
    if family == "gpt2":
        cfg = HookedTransformerConfig(
            n_layers=c.n_layer, d_model=c.n_embd, d_head=c.n_embd // c.n_head, n_heads=c.n_head,
            d_mlp=c.n_inner or 4 * c.n_embd, d_vocab=c.vocab_size, n_ctx=c.n_positions,
            act_fn=c.activation_function, normalization_type="LN", eps=c.layer_norm_epsilon,
            default_prepend_bos=False)
        convert = convert_gpt2_weights
    else:
        cfg = HookedTransformerConfig(
            n_layers=c.num_hidden_layers, d_model=c.hidden_size, d_head=c.head_dim,
            n_heads=c.num_attention_heads, n_key_value_heads=c.num_key_value_heads,
            d_mlp=c.intermediate_size, d_vocab=c.vocab_size, n_ctx=c.max_position_embeddings,
            act_fn=c.hidden_act, normalization_type="RMS", eps=c.rms_norm_eps, final_rms=True,
            positional_embedding_type="rotary", rotary_dim=c.head_dim, rotary_base=10000,
            rotary_adjacent_pairs=False, gated_mlp=True, default_prepend_bos=False)
        convert = convert_llama_weights
    hooked = HookedTransformer(cfg, tokenizer=tokenizer)
    hooked.load_state_dict(convert(hf, cfg), strict=False)  # rotary tables and masks are buffers
    return hooked, tokenizer


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_a_hooked_transformer_gives_the_attributions_of_the_same_hf_weights(family):
    from dknbench.models.hooked import wrap_hooked

    hooked, tokenizer = hooked_copy(family)
    lm_tl, lm_hf = wrap_hooked(hooked, tokenizer), tiny_loaded(family)
    assert lm_tl.adapter.is_gated == (family == "llama")
    results = {}
    for name, lm in (("tl", lm_tl), ("hf", lm_hf)):
        scorer = AnswerScorer(lm)
        encoded = scorer.encode(QUERY, ANSWER)
        engine = IGEngine(lm, scorer, steps=8)  # auto: full for TL, fast for HF
        zeros = torch.zeros(lm.adapter.n_layers, 1, lm.adapter.n_neurons)
        results[name] = (engine.path, engine.attribute(encoded, zeros), float(scorer.probs_encoded([encoded])[0]),
                         lm.adapter.write_vectors(1), lm.adapter.read_vectors(1))
    assert results["tl"][0] == "full" and results["hf"][0] == "fast"
    torch.testing.assert_close(results["tl"][1], results["hf"][1], atol=1e-7, rtol=1e-4)
    assert results["tl"][2] == pytest.approx(results["hf"][2], rel=1e-5)
    torch.testing.assert_close(results["tl"][3], results["hf"][3])  # W_out rows = down columns
    torch.testing.assert_close(results["tl"][4], results["hf"][4])


def test_kn_localization_runs_on_a_hooked_transformer_like_on_the_hf_model(tmp_path, monkeypatch):
    """The full task path (harness, localizers, suppression/enhancement, summary) on TL weights
    gives the HF model's per-fact rows."""
    import dknbench.models
    from dknbench.models.hooked import wrap_hooked

    facts = tmp_path / "facts.jsonl"
    facts.write_text("\n".join(json.dumps(r) for r in [
        {"id": "f1", "relation": "r1", "subject": "France", "object": "Paris",
         "queries": ["The capital of France is [Y].", "France's capital is [Y]."]},
        {"id": "f2", "relation": "r2", "subject": "Rome", "object": "Italy",
         "queries": ["Rome is a city in [Y].", "Rome lies in [Y]."]},
    ]) + "\n")
    samples = {}
    for backend in ("tl", "hf"):
        loaded = wrap_hooked(*hooked_copy("gpt2")) if backend == "tl" else tiny_loaded("gpt2")
        monkeypatch.setattr(dknbench.models, "load_model", lambda *a, _lm=loaded, **k: _lm)
        out = tmp_path / backend
        assert main(["run", "--task", "kn-localization", "--method", "ig,random", "--dataset", str(facts),
                     "--output", str(out), "--set", "steps=4", "--set", "random_match=ig", "--set", "known_only=false",
                     "--quiet",
                     "--no-cache"]) == 0
        samples[backend] = pd.read_parquet(out / "samples.parquet").sort_values(["fact_id", "method"])
    tl, hf = samples["tl"], samples["hf"]
    assert len(tl) == 4
    for column in ("kns",):
        assert [list(map(list, v)) for v in tl[column]] == [list(map(list, v)) for v in hf[column]]
    numeric = [c for c in tl.columns if pd.api.types.is_float_dtype(tl[c])]
    assert numeric
    np.testing.assert_allclose(tl[numeric].to_numpy(float), hf[numeric].to_numpy(float), rtol=1e-4, atol=1e-7)


def test_an_intervention_on_hook_post_is_the_one_on_the_down_projection():
    from dknbench.interventions.activations import intervene_activations
    from dknbench.models.hooked import wrap_hooked

    lm_tl, lm_hf = wrap_hooked(*hooked_copy("llama")), tiny_loaded("llama")
    neurons = [(0, 3), (1, 10), (2, 63)]
    probs = []
    for lm in (lm_tl, lm_hf):
        scorer = AnswerScorer(lm)
        with intervene_activations(lm.adapter, neurons, lambda values, index: values * 0):
            probs.append(float(scorer.probs([QUERY], [ANSWER])[0]))
    assert probs[0] == pytest.approx(probs[1], rel=1e-5)
    assert probs[0] != pytest.approx(float(AnswerScorer(lm_hf).probs([QUERY], [ANSWER])[0]), rel=1e-6)


def test_a_hook_before_the_nonlinearity_is_refused():
    """The adapter's probe check: the tensor the hooks see must equal act(hook_pre). An adapter
    hooking ``hook_pre`` (pre-activation, as public code hooks ``c_fc`` or ``gate_proj``) is refused."""
    from dknbench.models.hooked import HookedAdapter, HookedLM

    class PreActivation(HookedAdapter):
        def write_module(self, layer):
            return self.blocks[layer].mlp.hook_pre

    for family in ("gpt2", "llama"):
        hooked, _ = hooked_copy(family)
        HookedAdapter(HookedLM(hooked))  # the right place passes
        with pytest.raises(DKNBenchError, match="layer 0: the hooked tensor is not act\\(hook_pre\\)"):
            PreActivation(HookedLM(hooked))


def test_the_cached_path_is_refused_without_a_kv_cache():
    from dknbench.models.hooked import wrap_hooked

    lm = wrap_hooked(*hooked_copy("gpt2"))
    with pytest.raises(ValueError, match="Hugging Face KV cache"):
        IGEngine(lm, path="cached")
