"""Every tiny-<family>: its neurons are post-nonlinearity and post-gating; the generic fallback
finds them by introspection or refuses; mixture-of-experts and flattening models are refused; and
`dknbench run` localizes with ig, atp and causal-tracing end to end.

(The IG engine agreement fast = cached = full = reference and completeness over every family are
in test_engine_speedpaths.py and test_localization.py, parametrized by conftest.ALL_FAMILIES.)
"""

import dataclasses
import json

import pytest
import torch

from conftest import ALL_FAMILIES, CAUSAL_FAMILY_KINDS, FAMILY_KINDS, REFUSED_FAMILIES
from dknbench.cli import main
from dknbench.errors import DKNBenchError
from dknbench.interventions import record_activations
from dknbench.models import ArchitectureAdapter
from dknbench.models.families import FAMILIES
from dknbench.models.tiny import TINY_FAMILIES, tiny_model


def _mlp_input_and_hooked(adapter, layer, ids):
    """(input of the layer's first read module, the adapter's hooked neurons) on one forward."""
    seen = {}
    module = next(iter(adapter.read_modules(layer).values()))
    handle = module.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0].detach()))
    with record_activations(adapter, [layer], positions="all") as records:
        adapter.model(input_ids=ids)
    handle.remove()
    return seen["x"], records[layer]


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_hooked_neurons_are_act_of_read_vectors(tiny, family):
    """From the MLP input alone: neurons = act(x . gate rows) * (x . up rows), or act(x . fc rows),
    with the adapter's read vectors (so orientation, fused halves and biases are checked too)."""
    lm = tiny(family)
    adapter, layer = lm.adapter, 1
    ids = lm.tokenizer("The capital of France is Paris", return_tensors="pt")["input_ids"]
    x, hooked = _mlp_input_and_hooked(adapter, layer, ids)

    def pre(which):
        module, half = adapter.read_parts(layer)[which]
        bias = getattr(module, "bias", None)
        bias = 0 if bias is None else bias.chunk(2)[half] if half is not None else bias
        return x @ adapter.read_vectors(layer, which).T + bias

    act = adapter.act_module(layer)
    expected = act(pre("gate")) * pre("up") if adapter.is_gated else act(pre("up"))
    assert hooked.shape[-1] == adapter.n_neurons
    torch.testing.assert_close(hooked.reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)
    # and the raw read output differs: the hook is not pre-activation
    assert not torch.allclose(hooked.reshape(expected.shape), pre("gate" if adapter.is_gated else "up"),
                              atol=1e-3)


@pytest.mark.parametrize("line", FAMILIES, ids=lambda line: line.name)
def test_every_family_line_has_a_tiny_model(line):
    """A family line is tested through a tiny model of one of its types (tiny.py's TINY_CONFIGS):
    a line added without one fails here rather than going untested."""
    assert set(line.model_types) & set(ALL_FAMILIES), (
        f"family {line.name}: add a tiny config for one of {line.model_types} to dknbench/models/tiny.py")


def test_every_tiny_model_is_a_family_line_or_a_refusal():
    types = {t for family in FAMILIES for t in family.model_types}
    assert set(ALL_FAMILIES) <= types and not set(REFUSED_FAMILIES) & types
    assert set(ALL_FAMILIES) | set(REFUSED_FAMILIES) == set(TINY_FAMILIES)


def test_a_wrong_rule_is_refused_at_load(tiny):
    """A llama spec that hooks gate_proj's output as if it were act(fc) is refused by the probe."""
    lm = tiny("llama")
    wrong = dataclasses.replace(lm.adapter.family, rule="mlp.act_fn(mlp.gate_proj) -> mlp.down_proj")
    with pytest.raises(DKNBenchError, match="pre-activation.*supported model types: .*llama"):
        ArchitectureAdapter(lm.model, family=wrong)


@pytest.mark.parametrize("family", CAUSAL_FAMILY_KINDS)  # one causal tiny model of each MLP kind
def test_generic_fallback_finds_the_same_neurons(family, monkeypatch):
    """An unknown model type with a dense MLP: introspection finds the family's own modules."""
    model, _ = tiny_model(family)
    known = ArchitectureAdapter(model)
    monkeypatch.setattr(model.config, "model_type", "mystery", raising=False)
    found = ArchitectureAdapter(model)
    assert found.family.name == "generic:mystery" and not found.family.fast
    assert (found.family.write, found.family.read) == (known.family.write, known.family.read)
    assert found.family.embeddings == known.family.embeddings
    torch.testing.assert_close(found.write_vectors(2), known.write_vectors(2))


def test_generic_fallback_refuses_a_pre_activation_down_input(monkeypatch):
    """A model whose down projection reads gate*up before the nonlinearity has no neurons here."""
    model, _ = tiny_model("llama")
    for block in model.model.layers:
        mlp = block.mlp
        monkeypatch.setattr(mlp, "forward", lambda x, mlp=mlp: mlp.act_fn(
            mlp.down_proj(mlp.gate_proj(x) * mlp.up_proj(x))))
    monkeypatch.setattr(model.config, "model_type", "mystery", raising=False)
    with pytest.raises(DKNBenchError) as error:
        ArchitectureAdapter(model)
    message = str(error.value)
    assert "'mystery'" in message and "mlp.down_proj" in message and "pre-activation" in message
    assert "supported model types:" in message and "\n" not in message


def test_mixture_of_experts_is_refused():
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model("mixtral", vocab_size=50, hidden_size=16, intermediate_size=32,
                                  num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                  num_local_experts=4, num_experts_per_tok=2)
    with pytest.raises(DKNBenchError, match=r"mixture-of-experts model 'mixtral' \(num_local_experts=4\)"
                                            r".*supported model types: .*gpt2"):
        ArchitectureAdapter(AutoModelForCausalLM.from_config(config))


def test_flattening_model_is_refused_in_one_line(capsys, tmp_path):
    assert main(["run", "--task", "kn-localization", "--method", "ig", "--model", "tiny-opt",
                 "--limit", "1", "--output", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'opt'" in err and "[batch, positions, neurons]" in err
    assert "supported model types:" in err


def test_list_models_lists_every_family(capsys):
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    for family in FAMILIES:
        assert f"{family.name} " in out and family.rule in out
    assert "tiny-opt" in out and "[refused]" in out and "mixture of experts" in out


# one tiny model of each MLP kind (conftest.FAMILY_KINDS: Conv1D, plain, gated, fused, masked), which
# between them take the fast and the cached IG paths; the by-hand sweep over every family is in the
# session's closing note
@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILY_KINDS)
def test_cli_localizes_with_ig_atp_and_causal_tracing(family, tmp_path, isolated_cache):
    out = tmp_path / "run"
    assert main(["run", "--task", "kn-localization", "--method", "ig,atp,causal-tracing", "--model",
                 f"tiny-{family}", "--limit", "2", "--output", str(out), "--set", "steps=2",
                 "--set", "known_only=false", "--quiet"]) == 0  # random weights know no fact
    summary = json.loads((out / "summary.json").read_text())
    # --limit 2: with one fact kn-localization skips it (no other fact to serve as irrelevant)
    assert {m["method"] for m in summary["metrics"] if m["metric"] == "SR"} == {"ig", "atp", "causal-tracing"}
