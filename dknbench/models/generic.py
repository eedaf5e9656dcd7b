"""The check every adapter passes, and the spec of a model whose type has no line in FAMILIES.

``check_rule`` runs one probe forward and recomputes each block's neurons from its read modules'
outputs (``act(fc)`` or ``act(gate)*up``): the down projection's input must equal it, else the
hooks would see pre-activation or pre-gating values and every attribution would be wrong.

``introspect_family`` finds the blocks (the ModuleList with one entry per layer), the down
projection (the only linear map in a block from a width other than d_model back to d_model), the
read modules (d_model -> that width, or twice it when gate and up are fused) and the activation
module, and keeps the one rule the probe confirms. It refuses, in one line, when nothing matches.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ..errors import DKNBenchError
from .families import _HALF, FamilySpec, _get, supported_line


def _probe_ids(model: nn.Module) -> torch.Tensor:
    vocab = model.get_input_embeddings().weight.shape[0]
    device = model.get_input_embeddings().weight.device
    return (torch.arange(1, 7, device=device) % vocab)[None]


def _capture(model: nn.Module, blocks, modules: dict[str, str], write: str) -> list[dict]:
    """Per block: output of each module path in ``modules`` and the input of ``write``."""
    seen: list[dict] = [{} for _ in blocks]
    handles = []
    for layer, block in enumerate(blocks):
        for path in set(modules.values()):
            handles.append(_get(block, path).register_forward_hook(
                lambda m, i, o, s=seen[layer], p=path: s.setdefault(p, o.detach())))
        handles.append(_get(block, write).register_forward_pre_hook(
            lambda m, args, s=seen[layer]: s.setdefault("<write>", args[0].detach())))
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(input_ids=_probe_ids(model))
    finally:
        model.train(training)
        for h in handles:
            h.remove()
    return seen


def _half(output: torch.Tensor, half: int | None) -> torch.Tensor:
    return output if half is None else output.chunk(2, dim=-1)[half]


def _recompute(act, outputs: dict, read: dict) -> torch.Tensor:
    """act(gate)*up or act(fc) from the captured read outputs (read: name -> (path, half))."""
    def value(path):
        half = _HALF.match(path)
        return _half(outputs[half["path"]], int(half["half"])) if half else outputs[path]

    with torch.no_grad():
        if "gate" in read:
            return act(value(read["gate"])) * value(read["up"])
        return act(value(read["up"]))


def _agrees(hooked: torch.Tensor, expected: torch.Tensor) -> bool:
    if hooked.shape != expected.shape:
        return False
    tol = 1e-4 if hooked.dtype == torch.float32 else 2e-2
    scale = float(expected.abs().max().clamp_min(1e-6))
    return bool(((hooked.float() - expected.float()).abs() <= tol * scale).all())


def check_rule(adapter) -> None:
    """Refuse (one line) unless every block's hooked tensor is the family's rule recomputed."""
    family, model = adapter.family, adapter.model
    paths = {name: (_HALF_PATH(path)) for name, path in family.read.items()}
    seen = _capture(model, adapter.blocks, paths, family.write)
    for layer, outputs in enumerate(seen):
        if "<write>" not in outputs or any(p not in outputs for p in paths.values()):
            raise DKNBenchError(f"{_type(model)} ({family.name}): block {layer} did not run "
                                f"{family.write} or its read modules on a probe input; {supported_line()}")
        hooked = outputs["<write>"]
        if hooked.dim() != 3 or hooked.shape[1] != _probe_ids(model).shape[1]:
            raise DKNBenchError(
                f"{_type(model)} ({family.name}): the input of {family.write} has shape "
                f"{tuple(hooked.shape)}, not [batch, positions, neurons] (the block flattens the "
                f"positions), so neurons cannot be hooked per position; {supported_line()}")
        expected = _recompute(adapter.act_module(layer), outputs, family.read)
        if not _agrees(outputs["<write>"], expected):
            raise DKNBenchError(
                f"{_type(model)} ({family.name}): the input of {family.write} in block {layer} is not "
                f"{family.rule.split(' -> ')[0]} on a probe input, so hooks there would see pre-activation "
                f"or pre-gating values; {supported_line()}")


def _HALF_PATH(path: str) -> str:  # noqa: N802 - the module path behind "name[0]"
    return path.split("[")[0]


def _type(model) -> str:
    return repr(getattr(model.config, "model_type", type(model).__name__))


def _linear_shape(module: nn.Module) -> tuple[int, int] | None:
    """(in, out) of a linear map (nn.Linear or GPT-2's Conv1D), else None."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or list(module.children()):
        return None
    if type(module).__name__ == "Conv1D":
        return weight.shape[0], weight.shape[1]
    if isinstance(module, nn.Linear) or hasattr(module, "in_features"):
        return weight.shape[1], weight.shape[0]
    return None


def _block_list(model: nn.Module) -> tuple[str, nn.ModuleList]:
    config = model.config
    n_layers = next((getattr(config, f) for f in ("num_hidden_layers", "n_layer", "num_layers")
                     if isinstance(getattr(config, f, None), int)), None)
    lists = [(name, m) for name, m in model.named_modules()
             if isinstance(m, nn.ModuleList) and len(m) > 0 and (n_layers is None or len(m) == n_layers)]
    if not lists:
        raise DKNBenchError(f"{_type(model)}: no list of {n_layers} transformer blocks found; {supported_line()}")
    return min(lists, key=lambda item: item[0].count("."))


def introspect_family(model: nn.Module) -> FamilySpec:
    layers, blocks = _block_list(model)
    embedding = model.get_input_embeddings()
    embeddings = next(name for name, m in model.named_modules() if m is embedding)
    d_model = embedding.weight.shape[1]
    linears = {name: shape for name, m in blocks[0].named_modules() if (shape := _linear_shape(m))}
    downs = [n for n, (i, o) in linears.items() if o == d_model and i != d_model]
    if len(downs) != 1:
        raise DKNBenchError(f"{_type(model)}: cannot tell the MLP down projection (found "
                            f"{len(downs)} linear maps back to width {d_model}: {', '.join(downs) or 'none'}); "
                            f"{supported_line()}")
    write, d_ff = downs[0], linears[downs[0]][0]
    reads = [n for n, (i, o) in linears.items() if i == d_model and o == d_ff]
    reads += [f"{n}[{h}]" for n, (i, o) in linears.items() if i == d_model and o == 2 * d_ff for h in (0, 1)]
    acts = [n for n, m in blocks[0].named_modules()
            if n and not list(m.children()) and not list(m.parameters(recurse=False))
            and not isinstance(m, (nn.Dropout, nn.Identity))]
    candidates = [f"{a}({r}) -> {write}" for a in acts for r in reads]
    candidates += [f"{a}({g})*{u} -> {write}" for a in acts for g, u in itertools.permutations(reads, 2)]
    outputs = _capture(model, blocks[:1], {r: _HALF_PATH(r) for r in reads}, write)[0]
    conv1d = type(_get(blocks[0], write)).__name__ == "Conv1D"
    masked = type(model).__name__.endswith("ForMaskedLM")
    for rule in candidates:
        spec = FamilySpec(f"generic:{getattr(model.config, 'model_type', '?')}", (), layers, embeddings,
                          rule, conv1d=conv1d, masked_lm=masked, fast=False)
        try:
            expected = _recompute(_get(blocks[0], spec.act), outputs, spec.read)
        except (RuntimeError, TypeError, KeyError, ValueError, AttributeError, IndexError):
            continue  # a wrong pairing's shapes, a module that is no activation (rotary tables)
        if "<write>" in outputs and _agrees(outputs["<write>"], expected):
            return spec
    raise DKNBenchError(f"{_type(model)}: the input of {write} is not act(fc) or act(gate)*up of "
                        f"{', '.join(reads) or 'any linear map from width ' + str(d_model)} on a probe input "
                        f"(hooks there would be pre-activation); {supported_line()}")
