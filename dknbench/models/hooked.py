"""TransformerLens ``HookedTransformer`` models behind the suite's neuron adapter (optional extra
``dknbench[transformer-lens]``).

The suite reaches a model through two things only: ``model(input_ids=..., attention_mask=...)``
returning ``.logits`` (``HookedLM`` provides that call), and a ``NeuronAdapter`` (adapters.py)
whose ``write_module(layer)`` is a module whose forward *input* is the layer's neurons. In a
HookedTransformer that module is ``blocks[l].mlp.hook_post``: an identity ``HookPoint`` on the
post-nonlinearity (and post-gating) activation, right before ``W_out``. A forward pre-hook on it
is therefore the same intervention as a pre-hook on a Hugging Face down projection, and every
localizer and intervention runs unchanged. Weights follow TransformerLens' layout: ``W_in`` /
``W_gate`` are [d_model, d_mlp] and ``W_out`` is [d_mlp, d_model].

HookedTransformer keeps no Hugging Face key/value cache, so attribution takes the engine's
``full`` path (``supports_kv_cache`` is False). Batches are right-padded and attention is
causal, so the real positions' logits never see the pads and no attention mask is passed.
TransformerLens 4 removed ``HookedTransformer``; the extra pins ``transformer_lens<4``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, is_dataclass
from types import SimpleNamespace

import torch
from torch import nn

from ..errors import DKNBenchError


@dataclass(frozen=True)
class HookedFamily:
    """What the suite reads of a family, for a HookedTransformer (cf. families.FamilySpec)."""

    name: str = "transformer_lens"
    masked_lm: bool = False
    fast: bool = False
    layers: str = "hooked.blocks"


class HookedConfig:
    """The HF-config fields the suite reads (``to_dict`` for the fingerprint, context length,
    heads and vocabulary for the memory model), from a ``HookedTransformerConfig``."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.model_type = "transformer_lens"
        self.max_position_embeddings = int(cfg.n_ctx)
        self.num_attention_heads = int(cfg.n_heads)
        self.num_key_value_heads = int(getattr(cfg, "n_key_value_heads", None) or cfg.n_heads)
        self.head_dim = int(cfg.d_head)
        self.vocab_size = int(cfg.d_vocab)

    def to_dict(self) -> dict:
        fields = asdict(self.cfg) if is_dataclass(self.cfg) else dict(vars(self.cfg))
        return json.loads(json.dumps(fields, default=str))  # dtypes and devices as text


class HookedLM(nn.Module):
    """A HookedTransformer called like a Hugging Face causal LM."""

    def __init__(self, hooked: nn.Module):
        super().__init__()
        self.hooked = hooked
        self.config = HookedConfig(hooked.cfg)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        if kwargs.get("use_cache") or kwargs.get("past_key_values") is not None:
            raise DKNBenchError("a HookedTransformer has no Hugging Face KV cache: use the full path")
        return SimpleNamespace(logits=self.hooked(input_ids, return_type="logits"))

    def get_input_embeddings(self) -> nn.Module:
        return self.hooked.embed


class HookedAdapter:
    """The neuron adapter of a ``HookedLM`` (the NeuronAdapter protocol of adapters.py)."""

    is_masked_lm = False
    fast_path = False
    supports_kv_cache = False

    def __init__(self, model: HookedLM, check: bool = True):
        self.model = model
        self.family = HookedFamily()
        self.blocks = model.hooked.blocks
        cfg = model.hooked.cfg
        if getattr(cfg, "num_experts", None):
            raise DKNBenchError("mixture-of-experts HookedTransformers are not supported: their MLP "
                                "neurons are split over routed experts")
        if getattr(cfg, "attn_only", False):
            raise DKNBenchError("an attention-only HookedTransformer has no MLP neurons")
        self.n_layers = len(self.blocks)
        self.n_neurons = int(cfg.d_mlp)
        self.d_model = int(cfg.d_model)
        self.is_gated = hasattr(self.blocks[0].mlp, "W_gate")
        if check:
            self.check_rule()

    def write_module(self, layer: int) -> nn.Module:
        """``hook_post``: its forward input is the neurons, right before ``W_out``."""
        return self.blocks[layer].mlp.hook_post

    def input_embeddings(self) -> nn.Module:
        return self.model.hooked.embed

    def read_vectors(self, layer: int, which: str = "gate") -> torch.Tensor:
        mlp = self.blocks[layer].mlp
        weight = mlp.W_gate if self.is_gated and which in ("gate", "both") else mlp.W_in
        return weight.detach().T

    def write_vectors(self, layer: int) -> torch.Tensor:
        return self.blocks[layer].mlp.W_out.detach()

    def neuron_params(self, layer: int):
        from .adapters import ParamSlice

        mlp = self.blocks[layer].mlp
        slices = [ParamSlice(mlp.W_in, 1, "read"), ParamSlice(mlp.b_in, 0, "read")]
        if self.is_gated:
            slices.insert(0, ParamSlice(mlp.W_gate, 1, "read"))
        return slices + [ParamSlice(mlp.W_out, 0, "write")]

    @torch.no_grad()
    def check_rule(self) -> None:
        """The tensor the hooks see (``write_module``'s input) equals act(hook_pre) (gated:
        act(hook_pre) * hook_pre_linear), recomputed on a probe input, in every layer."""
        seen, handles = {}, []
        for layer, block in enumerate(self.blocks):
            def neurons(module, args, layer=layer):
                seen[layer, "neurons"] = args[0].detach()

            handles.append(self.write_module(layer).register_forward_pre_hook(neurons))
            for name in ["hook_pre"] + (["hook_pre_linear"] if self.is_gated else []):
                def keep(module, args, output, key=(layer, name)):
                    seen[key] = output.detach()

                handles.append(getattr(block.mlp, name).register_forward_hook(keep))
        device = next(self.model.parameters()).device
        probe = torch.arange(1, 6, device=device)[None] % self.model.config.vocab_size
        try:
            self.model(input_ids=probe)
        finally:
            for handle in handles:
                handle.remove()
        for layer, block in enumerate(self.blocks):
            expected = block.mlp.act_fn(seen[layer, "hook_pre"])
            if self.is_gated:
                expected = expected * seen[layer, "hook_pre_linear"]
            got = seen.get((layer, "neurons"))
            if got is None or got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-5, rtol=1e-4):
                rule = "act(hook_pre)" + (" * hook_pre_linear" if self.is_gated else "")
                raise DKNBenchError(f"HookedTransformer layer {layer}: the hooked tensor is not {rule}; "
                                    "the neurons would be read at the wrong place")


def wrap_hooked(hooked: nn.Module, tokenizer=None, name: str = "transformer-lens", device: str = "cpu"):
    """A LoadedModel around a HookedTransformer (its own tokenizer unless ``tokenizer`` is given)."""
    from .loading import LoadedModel, model_fingerprint

    tokenizer = tokenizer if tokenizer is not None else getattr(hooked, "tokenizer", None)
    if tokenizer is None:
        raise DKNBenchError("this HookedTransformer has no tokenizer: pass tokenizer=")
    model = HookedLM(hooked).to(device).eval()
    model.requires_grad_(False)  # attributions need activation gradients only
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, adapter=HookedAdapter(model),
                       fingerprint=model_fingerprint(model), device=torch.device(device))
