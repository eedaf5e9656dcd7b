"""Where each model family keeps its MLP neurons.

A neuron is one unit of the *input of the MLP's down/output projection* (post-nonlinearity and
post-gating for every family; hooking GPT-2's ``c_fc`` output would be pre-GELU and LLaMA's
``gate_proj`` would ignore ``up_proj``). Its *read vector* is the row of the up-projection that
produces it and its *write vector* the column of the down-projection that consumes it.

The families are declared as data: module paths relative to one transformer block, and whether the
linear layers are GPT-2 ``Conv1D`` (weight stored ``[in, out]``) or ``nn.Linear`` (``[out, in]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import DKNBenchError


@dataclass(frozen=True)
class FamilySpec:
    name: str
    model_types: tuple[str, ...]
    layers: str  # path from the top-level model to the ModuleList of blocks
    read: dict  # "gate"/"up" -> module path (within a block) of the up-projection(s)
    write: str  # module path (within a block) of the down projection; its input = the neurons
    embeddings: str  # path from the top-level model to the input embedding
    conv1d: bool = False  # GPT-2's Conv1D stores weight as [in_features, out_features]
    masked_lm: bool = False


FAMILIES = (
    FamilySpec("gpt2", ("gpt2",), "transformer.h", {"up": "mlp.c_fc"}, "mlp.c_proj",
               "transformer.wte", conv1d=True),
    FamilySpec("llama", ("llama", "mistral", "qwen2", "qwen3", "smollm3"), "model.layers",
               {"gate": "mlp.gate_proj", "up": "mlp.up_proj"}, "mlp.down_proj", "model.embed_tokens"),
    FamilySpec("gpt_neox", ("gpt_neox",), "gpt_neox.layers", {"up": "mlp.dense_h_to_4h"},
               "mlp.dense_4h_to_h", "gpt_neox.embed_in"),
    FamilySpec("bert", ("bert",), "bert.encoder.layer", {"up": "intermediate.dense"},
               "output.dense", "bert.embeddings.word_embeddings", masked_lm=True),
)


def supported_model_types() -> list[str]:
    return sorted(t for family in FAMILIES for t in family.model_types)


@dataclass(frozen=True)
class ParamSlice:
    """A parameter whose slice ``param.select(axis, neuron)`` belongs to one neuron."""

    param: nn.Parameter
    axis: int
    role: str  # "read" or "write"


class ArchitectureAdapter:
    """Uniform access to a model's MLP neurons, whatever its family."""

    def __init__(self, model: nn.Module):
        model_type = getattr(model.config, "model_type", None)
        for family in FAMILIES:
            if model_type in family.model_types:
                self.family = family
                break
        else:
            raise DKNBenchError(
                f"unsupported architecture {model_type!r}; supported model types: "
                + ", ".join(supported_model_types())
            )
        self.model = model
        self.blocks = _get(model, self.family.layers)
        self.n_layers = len(self.blocks)
        self.n_neurons = self._weight_shape(self.write_module(0))[0]
        self.d_model = self._weight_shape(self.write_module(0))[1]

    # --- modules -------------------------------------------------------------------------------
    @property
    def is_gated(self) -> bool:
        return "gate" in self.family.read

    @property
    def is_masked_lm(self) -> bool:
        return self.family.masked_lm

    def write_module(self, layer: int) -> nn.Module:
        """The down projection of ``layer``: a forward pre-hook on it sees the neurons."""
        return _get(self.blocks[layer], self.family.write)

    def read_modules(self, layer: int) -> dict[str, nn.Module]:
        return {name: _get(self.blocks[layer], path) for name, path in self.family.read.items()}

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

    def read_vectors(self, layer: int, which: str = "gate") -> torch.Tensor:
        """[n_neurons, d_model]: rows of the up-projection (gated: ``which`` = gate | up)."""
        modules = self.read_modules(layer)
        if which == "both":
            which = "gate"  # callers combining gate and up ask for each separately
        if which not in modules:
            which = "up" if "up" in modules else next(iter(modules))
        weight = modules[which].weight
        return weight.detach().T if self._neuron_axis("read") == 1 else weight.detach()

    def write_vectors(self, layer: int) -> torch.Tensor:
        """[n_neurons, d_model]: columns of the down projection."""
        weight = self.write_module(layer).weight
        return weight.detach() if self._neuron_axis("write") == 0 else weight.detach().T

    def neuron_params(self, layer: int) -> list[ParamSlice]:
        """Every parameter slice that belongs to the neurons of ``layer``: read rows (and their
        biases) and write columns. The write module's bias is shared by all neurons: not included."""
        slices = []
        for module in self.read_modules(layer).values():
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
