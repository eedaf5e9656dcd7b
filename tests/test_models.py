"""Adapters put neurons at the input of the down projection, post-nonlinearity and post-gating."""

import pytest
import torch

from conftest import FAMILY_KINDS
from dknbench.errors import DKNBenchError
from dknbench.interventions import record_activations, set_activations
from dknbench.interventions.activations import target_positions
from dknbench.models import ArchitectureAdapter, supported_model_types


def _run(lm, text="The capital of France is"):
    ids = lm.tokenizer(text, return_tensors="pt")
    targets = torch.tensor([ids["input_ids"].shape[1] - 1])
    with target_positions(targets):
        return lm.model(**ids), ids, targets


# the neurons' values written by hand from each family's own modules, independently of its line
# (test_families.py checks every family through the adapter's read vectors)
BY_HAND = {
    "gpt2": lambda block, keep: block.mlp.c_fc.register_forward_hook(lambda m, i, o: keep(block.mlp.act(o))),
    "llama": lambda block, keep: block.mlp.gate_proj.register_forward_hook(
        lambda m, i, o: keep(block.mlp.act_fn(o) * block.mlp.up_proj(i[0]))),
    "gpt_neox": lambda block, keep: block.mlp.dense_h_to_4h.register_forward_hook(
        lambda m, i, o: keep(block.mlp.act(o))),
    "bert": lambda block, keep: block.intermediate.dense.register_forward_hook(
        lambda m, i, o: keep(block.intermediate.intermediate_act_fn(o))),
}


@pytest.mark.parametrize("family", sorted(BY_HAND))
def test_neurons_are_post_nonlinearity(tiny, family):
    lm = tiny(family)
    adapter = lm.adapter
    captured = {}

    def keep(value):  # a forward hook must return None, or it replaces the module's output
        captured.setdefault("x", value.detach().clone())

    handle = BY_HAND[family](adapter.blocks[1], keep)
    with record_activations(adapter, [1], positions="all") as records:
        _run(lm)
    handle.remove()
    assert records[1].shape[-1] == adapter.n_neurons
    torch.testing.assert_close(records[1], captured["x"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", FAMILY_KINDS)
def test_write_vector_is_what_a_neuron_adds(tiny, family):
    """Activating one neuron alone (others 0) makes the down projection output its write vector."""
    lm = tiny(family)
    adapter, layer, neuron = lm.adapter, 2, 5
    out = {}
    module = adapter.write_module(layer)
    handle = module.register_forward_hook(lambda m, i, o: out.update(y=o.detach().clone()))
    values = {(layer, n): (1.0 if n == neuron else 0.0) for n in range(adapter.n_neurons)}
    with set_activations(adapter, values):
        _, ids, targets = _run(lm)
    handle.remove()
    bias = module.bias if getattr(module, "bias", None) is not None else 0
    got = out["y"][0, targets[0]] - bias
    torch.testing.assert_close(got, adapter.write_vectors(layer)[neuron], rtol=1e-5, atol=1e-6)
    assert adapter.read_vectors(layer).shape == (adapter.n_neurons, adapter.d_model)


def test_gated_read_vectors_and_params(tiny):
    adapter = tiny("llama").adapter
    assert adapter.is_gated
    mlp = adapter.blocks[0].mlp
    torch.testing.assert_close(adapter.read_vectors(0, "gate")[3], mlp.gate_proj.weight[3])
    torch.testing.assert_close(adapter.read_vectors(0, "up")[3], mlp.up_proj.weight[3])
    roles = sorted(p.role for p in adapter.neuron_params(0))
    assert roles == ["read", "read", "write"]


def test_gpt2_conv1d_orientation(tiny):
    adapter = tiny("gpt2").adapter
    mlp = adapter.blocks[0].mlp
    torch.testing.assert_close(adapter.read_vectors(0)[7], mlp.c_fc.weight[:, 7])
    torch.testing.assert_close(adapter.write_vectors(0)[7], mlp.c_proj.weight[7, :])


def test_unknown_architecture_names_supported_ones():
    from transformers import OPTConfig, OPTForCausalLM

    model = OPTForCausalLM(OPTConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                     ffn_dim=32, num_attention_heads=2, word_embed_proj_dim=16))
    with pytest.raises(DKNBenchError) as error:
        ArchitectureAdapter(model)
    message = str(error.value)
    assert "opt" in message and all(t in message for t in supported_model_types())
    assert "gpt2" in supported_model_types()


def test_unknown_model_name_is_a_clear_error():
    from dknbench.models import load_model

    with pytest.raises(DKNBenchError, match="cannot load model 'nope'.*smollm2-135m.*tiny-gpt2.*gpt2, bert-base-uncased"):
        load_model("nope")


def test_half_precision_on_a_cpu_without_native_support_warns_in_one_line(monkeypatch, capsys):
    from dknbench.models import loading

    monkeypatch.setattr(loading, "cpu_flags", lambda: {"avx2", "fma"})  # x86 without bf16/fp16 products
    loading.warn_slow_half_precision(torch.bfloat16, "cpu")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--dtype bfloat16" in err[0] and "avx512_bf16" in err[0] and "float32" in err[0]
    for flags, dtype, device in (({"avx2", "avx512_bf16"}, torch.bfloat16, "cpu"),  # native support
                                 ({"avx2"}, torch.float32, "cpu"),  # float32: nothing to say
                                 ({"avx2"}, torch.bfloat16, "cuda"),  # a GPU
                                 (None, torch.bfloat16, "cpu")):  # flags unknown (not Linux)
        monkeypatch.setattr(loading, "cpu_flags", lambda flags=flags: flags)
        loading.warn_slow_half_precision(dtype, device)
        assert capsys.readouterr().err == ""
    monkeypatch.setattr(loading, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    loading.warn_slow_half_precision(torch.float16, "cpu")  # bf16 support says nothing of fp16
    assert "--dtype float16" in capsys.readouterr().err
