"""Where each model family keeps its MLP neurons.

A neuron is one unit of the *input of the MLP's down/output projection* (post-nonlinearity and
post-gating for every family; hooking GPT-2's ``c_fc`` output would be pre-GELU and LLaMA's
``gate_proj`` would ignore ``up_proj``). Its *read vector* is the row of the up-projection that
produces it and its *write vector* the column of the down-projection that consumes it.

A family is one line of data (``families.FAMILIES``): model types, the block list, the input
embedding and its MLP rule ``act(fc) -> down`` or ``act(gate)*up -> down`` with module paths inside
one block. A model of any other type gets a spec found by introspection (``generic.py``). Every
adapter checks its rule on a probe input when built: the tensor the hooks see must equal the rule recomputed from the read
modules' outputs, so a wrong path (a pre-activation hook) fails at load, not in the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from ..errors import DKNBenchError
from .families import _HALF, FAMILIES, MOE_FIELDS, FamilySpec, _get, supported_line, supported_model_types
from .generic import check_rule, introspect_family

__all__ = ["ArchitectureAdapter", "FAMILIES", "FamilySpec", "NeuronAdapter", "ParamSlice", "find_family",
           "supported_model_types"]


class NeuronAdapter(Protocol):
    """What the suite needs of a model's MLP neurons. ``ArchitectureAdapter`` implements it for
    Hugging Face models, ``hooked.HookedAdapter`` for TransformerLens HookedTransformers."""

    family: object  # .name (reports), .layers (the fast path's block list)
    n_layers: int
    n_neurons: int
    d_model: int
    is_masked_lm: bool
    fast_path: bool  # block output = R + down(neurons): the engine's fast path holds
    supports_kv_cache: bool  # Hugging Face past_key_values: the cached path and prefix caches

    def write_module(self, layer: int) -> nn.Module:
        """A module whose forward input is ``layer``'s neurons (every hook is a pre-hook on it)."""

    def input_embeddings(self) -> nn.Module: ...

    def read_vectors(self, layer: int, which: str = "gate") -> torch.Tensor: ...

    def write_vectors(self, layer: int) -> torch.Tensor: ...

    def neuron_params(self, layer: int) -> list["ParamSlice"]: ...


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
            check_rule(self)

    # --- modules -------------------------------------------------------------------------------
    @property
    def is_gated(self) -> bool:
        return "gate" in self.family.read

    @property
    def is_masked_lm(self) -> bool:
        return self.family.masked_lm

    @property
    def supports_kv_cache(self) -> bool:
        return not self.family.masked_lm

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
