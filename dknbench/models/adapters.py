"""Where each model family keeps its MLP neurons.

A neuron is one unit of the *input of the MLP's down/output projection* (post-nonlinearity and
post-gating for every family; hooking GPT-2's ``c_fc`` output would be pre-GELU and LLaMA's
``gate_proj`` would ignore ``up_proj``). Its *read vector* is the row of the up-projection that
produces it and its *write vector* the column of the down-projection that consumes it.

A family is one line of data (``FAMILIES``): model types, the block list, the input embedding and
its MLP rule ``act(fc) -> down`` or ``act(gate)*up -> down`` with module paths inside one block
(``name[0]``/``name[1]``: first/second half of a fused gate-and-up projection). A model of any
other type gets a spec found by introspection (``generic.py``). Every adapter checks its rule on
a probe input when built: the tensor the hooks see must equal the rule recomputed from the read
modules' outputs, so a wrong path (a pre-activation hook) fails at load, not in the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import DKNBenchError

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
    _family("llama", "llama mistral qwen2 qwen3 smollm3 gemma olmo stablelm", "model.layers", "model.embed_tokens",
            "mlp.act_fn(mlp.gate_proj)*mlp.up_proj -> mlp.down_proj"),
    _family("gemma2", "gemma2", "model.layers", "model.embed_tokens",
            "mlp.act_fn(mlp.gate_proj)*mlp.up_proj -> mlp.down_proj", fast=False),  # post-FFN norm
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


def find_family(model: nn.Module) -> FamilySpec:
    """The spec of ``model``: its family's line, else one found by introspection."""
    config = model.config
    model_type = getattr(config, "model_type", None)
    experts = [f"{f}={getattr(config, f)}" for f in MOE_FIELDS if (getattr(config, f, 0) or 0) > 1]
    if experts:
        raise DKNBenchError(f"mixture-of-experts model {model_type!r} ({experts[0]}) is not supported: "
                            f"its MLP neurons are split over routed experts; {supported_line()}")
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    from .generic import introspect_family

    return introspect_family(model)


@dataclass(frozen=True)
class ParamSlice:
    """A parameter whose slice ``param.select(axis, neuron)`` belongs to one neuron."""

    param: nn.Parameter
    axis: int
    role: str  # "read" or "write"


class ArchitectureAdapter:
    """Uniform access to a model's MLP neurons, whatever its family."""

    def __init__(self, model: nn.Module, family: FamilySpec | None = None, check: bool = True):
        self.family = family or find_family(model)
        self.model = model
        self.blocks = _get(model, self.family.layers)
        self.n_layers = len(self.blocks)
        self.n_neurons = self._weight_shape(self.write_module(0))[0]
        self.d_model = self._weight_shape(self.write_module(0))[1]
        if check:
            from .generic import check_rule

            check_rule(self)

    # --- modules -------------------------------------------------------------------------------
    @property
    def is_gated(self) -> bool:
        return "gate" in self.family.read

    @property
    def is_masked_lm(self) -> bool:
        return self.family.masked_lm

    @property
    def fast_path(self) -> bool:
        """Whether the fast IG path holds for this model (see ``FamilySpec.fast``)."""
        return self.family.fast

    def write_module(self, layer: int) -> nn.Module:
        """The down projection of ``layer``: a forward pre-hook on it sees the neurons."""
        return _get(self.blocks[layer], self.family.write)

    def act_module(self, layer: int):
        return _get(self.blocks[layer], self.family.act)

    def read_parts(self, layer: int) -> dict[str, tuple[nn.Module, int | None]]:
        """"gate"/"up" -> (module, half): half is None, or 0/1 for a fused gate-and-up module."""
        parts = {}
        for name, path in self.family.read.items():
            half = _HALF.match(path)
            parts[name] = ((_get(self.blocks[layer], half["path"]), int(half["half"])) if half
                           else (_get(self.blocks[layer], path), None))
        return parts

    def read_modules(self, layer: int) -> dict[str, nn.Module]:
        return {name: module for name, (module, _) in self.read_parts(layer).items()}

    def input_embeddings(self) -> nn.Module:
        return _get(self.model, self.family.embeddings)

    # --- weights -------------------------------------------------------------------------------
    def _weight_shape(self, module: nn.Module) -> tuple[int, int]:
        """(in_features, out_features) whatever the storage orientation."""
        w = module.weight
        return (w.shape[0], w.shape[1]) if self.family.conv1d else (w.shape[1], w.shape[0])

    def _neuron_axis(self, role: str) -> int:
        # Linear weight is [out, in]: the neuron is the output (row) of a read module and the
        # input (column) of the write module. Conv1D is transposed.
        if role == "read":
            return 1 if self.family.conv1d else 0
        return 0 if self.family.conv1d else 1

    def _read_weight(self, module: nn.Module, half: int | None) -> torch.Tensor:
        """[n_neurons, d_model] rows (the neuron's half of a fused module)."""
        weight = module.weight.detach()
        weight = weight.T if self._neuron_axis("read") == 1 else weight
        return weight if half is None else weight[half * self.n_neurons:(half + 1) * self.n_neurons]

    def read_vectors(self, layer: int, which: str = "gate") -> torch.Tensor:
        """[n_neurons, d_model]: rows of the up-projection (gated: ``which`` = gate | up)."""
        parts = self.read_parts(layer)
        if which == "both":
            which = "gate"  # callers combining gate and up ask for each separately
        if which not in parts:
            which = "up" if "up" in parts else next(iter(parts))
        return self._read_weight(*parts[which])

    def write_vectors(self, layer: int) -> torch.Tensor:
        """[n_neurons, d_model]: columns of the down projection."""
        weight = self.write_module(layer).weight
        return weight.detach() if self._neuron_axis("write") == 0 else weight.detach().T

    def neuron_params(self, layer: int) -> list[ParamSlice]:
        """Every parameter slice that belongs to the neurons of ``layer``: read rows (and their
        biases) and write columns. The write module's bias is shared by all neurons: not included."""
        parts = self.read_parts(layer)
        if any(half is not None for _, half in parts.values()):
            raise DKNBenchError(f"editing weights of {self.family.name} models is not supported: its "
                                "gate and up rows share one fused matrix; attribution tasks work, "
                                "weight edits need a family with separate gate/up projections")
        slices = []
        for module, _ in parts.values():
            slices.append(ParamSlice(module.weight, self._neuron_axis("read"), "read"))
            if getattr(module, "bias", None) is not None:
                slices.append(ParamSlice(module.bias, 0, "read"))
        slices.append(ParamSlice(self.write_module(layer).weight, self._neuron_axis("write"), "write"))
        return slices


def _get(root: nn.Module, path: str):
    obj = root
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj
