"""The model families as data: one ``FamilySpec`` line per family (blocks, input embedding, MLP rule).

A rule reads ``act(fc) -> down`` or ``act(gate)*up -> down`` with module paths inside one block
(``name[0]``/``name[1]``: first/second half of a fused gate-and-up projection). ``adapters.py``
turns a spec into neuron access; ``generic.py`` checks a spec on a probe input and finds one for
a model whose type has no line here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

_RULE = re.compile(r"^(?P<act>[\w.]+)\((?P<gate>[\w.\[\]]+)\)(?:\*(?P<up>[\w.\[\]]+))? -> (?P<write>[\w.]+)$")
_HALF = re.compile(r"^(?P<path>[\w.]+)\[(?P<half>[01])\]$")


@dataclass(frozen=True)
class FamilySpec:
    name: str
    model_types: tuple[str, ...]
    layers: str  # path from the top-level model to the ModuleList of blocks
    embeddings: str  # path from the top-level model to the input embedding
    rule: str  # "act(fc) -> down" or "act(gate)*up -> down", paths within one block
    conv1d: bool = False  # GPT-2's Conv1D stores weight as [in_features, out_features]
    masked_lm: bool = False
    # The fast IG path needs block output = (something independent of the neurons) + down(x) and
    # blocks that run as a staircase over a shared cache. False: a norm follows the down
    # projection (gemma2) or the blocks' attention does not take that call (gpt_neo, bloom, falcon:
    # they use the cached path).
    fast: bool = True

    def parsed(self) -> dict:
        match = _RULE.match(self.rule)
        if match is None:
            raise ValueError(f"family {self.name}: rule {self.rule!r} is not 'act(fc) -> down' "
                             "or 'act(gate)*up -> down'")
        return match.groupdict()

    @property
    def read(self) -> dict:
        """"gate"/"up" -> module path (within a block) of the up-projection(s)."""
        rule = self.parsed()
        return {"gate": rule["gate"], "up": rule["up"]} if rule["up"] else {"up": rule["gate"]}

    @property
    def write(self) -> str:
        return self.parsed()["write"]

    @property
    def act(self) -> str:
        return self.parsed()["act"]


def _family(name, types, layers, embeddings, rule, **kw) -> FamilySpec:
    return FamilySpec(name, tuple(types.split()), layers, embeddings, rule, **kw)


FAMILIES = (
    _family("gpt2", "gpt2", "transformer.h", "transformer.wte", "mlp.act(mlp.c_fc) -> mlp.c_proj", conv1d=True),
    _family("gpt_neo", "gpt_neo", "transformer.h", "transformer.wte", "mlp.act(mlp.c_fc) -> mlp.c_proj", fast=False),
    _family("gptj", "gptj", "transformer.h", "transformer.wte", "mlp.act(mlp.fc_in) -> mlp.fc_out"),
    _family("gpt_neox", "gpt_neox", "gpt_neox.layers", "gpt_neox.embed_in",
            "mlp.act(mlp.dense_h_to_4h) -> mlp.dense_4h_to_h"),
    _family("bloom", "bloom", "transformer.h", "transformer.word_embeddings",
            "mlp.gelu_impl(mlp.dense_h_to_4h) -> mlp.dense_4h_to_h", fast=False),
    _family("falcon", "falcon", "transformer.h", "transformer.word_embeddings",
            "mlp.act(mlp.dense_h_to_4h) -> mlp.dense_4h_to_h", fast=False),
    # Qwen2 is a llama line by its MLP (SwiGLU, neurons = input of down_proj): its q/k/v biases and
    # untied head lie outside the neurons' path, and knowledge-update's LLaMA delta ratio applies
    _family("llama", "llama mistral qwen2 qwen3 smollm3 gemma olmo stablelm", "model.layers", "model.embed_tokens",
            "mlp.act_fn(mlp.gate_proj)*mlp.up_proj -> mlp.down_proj"),
    _family("gemma2", "gemma2", "model.layers", "model.embed_tokens",
            "mlp.act_fn(mlp.gate_proj)*mlp.up_proj -> mlp.down_proj", fast=False),  # post-FFN norm
    # Gemma 3 text (GeGLU with gelu-tanh, pre- and post-feedforward norms, tied 262k vocabulary,
    # scaled embeddings inside embed_tokens' forward): the post-FFN norm rules out the fast path
    _family("gemma3", "gemma3_text", "model.layers", "model.embed_tokens",
            "mlp.act_fn(mlp.gate_proj)*mlp.up_proj -> mlp.down_proj", fast=False),
    _family("phi", "phi", "model.layers", "model.embed_tokens", "mlp.activation_fn(mlp.fc1) -> mlp.fc2"),
    _family("phi3", "phi3", "model.layers", "model.embed_tokens",
            "mlp.activation_fn(mlp.gate_up_proj[0])*mlp.gate_up_proj[1] -> mlp.down_proj"),
    _family("bert", "bert", "bert.encoder.layer", "bert.embeddings.word_embeddings",
            "intermediate.intermediate_act_fn(intermediate.dense) -> output.dense", masked_lm=True),
    _family("roberta", "roberta xlm-roberta", "roberta.encoder.layer", "roberta.embeddings.word_embeddings",
            "intermediate.intermediate_act_fn(intermediate.dense) -> output.dense", masked_lm=True),
)

# Config fields that give a mixture-of-experts MLP more than one expert (Mixtral, Qwen-MoE,
# DeepSeek, OLMoE, ...): their neurons live in routed experts, which no path here attributes.
MOE_FIELDS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")


def supported_model_types() -> list[str]:
    return sorted(t for family in FAMILIES for t in family.model_types)


def supported_line() -> str:
    return ("supported model types: " + ", ".join(supported_model_types())
            + " (others: dense MLPs whose down projection's input is act(fc) or act(gate)*up)")


def _get(root: nn.Module, path: str):
    obj = root
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj
