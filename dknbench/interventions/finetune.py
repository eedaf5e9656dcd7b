"""Neuron-restricted fine-tuning and parameter-change overlap (000 §4, Eq. 12-14, Table 3).

* ``train_neurons``: plain-torch causal-LM fine-tuning where only the chosen neurons' read rows
  (and read biases) and write columns change (``adapter.neuron_params``); ``neurons=None`` is full
  fine-tuning (Θ(All), "i.e., full fine-tuning", 000 §4.2). Frozen entries of a partly trainable
  parameter are restored from a snapshot after every optimizer step, so AdamW's decoupled weight
  decay cannot move them either; parameters with no trainable entry have ``requires_grad=False``.
  AdamW, linear schedule with warm-up, gradient accumulation, clipping, seeded; a checkpoint
  (trainable tensors + optimizer + scheduler + step) is written atomically after every epoch into
  ``run_dir`` and picked up again by a rerun (resumable); tqdm progress bar.
* ``parameter_change`` (Eq. 13) and ``changed_neurons`` (Eq. 12, τ_ΔN = ratio x max) and
  ``overlap`` (Eq. 14).
"""

from __future__ import annotations

import math
import os
import pickle
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import ConfigError
from .activations import group_by_layer


@dataclass
class TrainConfig:
    lr: float = 3e-5
    batch_size: int = 16
    grad_accum: int = 4
    epochs: int = 50
    warmup: float = 0.1
    weight_decay: float = 0.01
    clip: float = 1.0
    seed: int = 0

    def check(self) -> "TrainConfig":
        for name in ("lr", "batch_size", "grad_accum", "epochs"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"option {name}: expected a positive number, got {getattr(self, name)!r}")
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"option warmup: expected a share in [0, 1), got {self.warmup!r}")
        return self


def neuron_masks(adapter, neurons) -> dict[str, tuple[torch.nn.Parameter, torch.Tensor]]:
    """name -> (parameter, bool mask of its trainable entries) for the neurons' slices."""
    names = {id(p): n for n, p in adapter.model.named_parameters()}
    masks: dict[str, tuple] = {}
    for layer, indices in group_by_layer(neurons).items():
        for part in adapter.neuron_params(layer):
            name = names[id(part.param)]
            if name not in masks:
                masks[name] = (part.param, torch.zeros_like(part.param, dtype=torch.bool))
            index = torch.tensor(sorted(set(indices)), dtype=torch.long, device=part.param.device)
            masks[name][1].index_fill_(part.axis, index, True)
    return masks


def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    """A fine-tuning checkpoint: tensors and plain state only (weights_only), so a run folder
    received from someone else cannot run code when resumed."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path}: refused to load, it holds more than tensors and plain state "
                          f"({first}); remove it to restart the fine-tuning") from None


def text_batches(tokenizer, texts: list[str], batch_size: int, rng: random.Random,
                 max_length: int | None = None):
    """Shuffled right-padded batches; texts longer than ``max_length`` tokens are truncated."""
    order = list(range(len(texts)))
    rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        chunk = [texts[i] for i in order[start: start + batch_size]]
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        encoded = [tokenizer(t)["input_ids"][:max_length] for t in chunk]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, : len(e)] = torch.tensor(e)
            mask[row, : len(e)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        yield ids, mask, labels


def train_neurons(lm, texts: list[str], neurons, config: TrainConfig, run_dir: Path | None = None,
                  progress: bool = True) -> dict:
    """Fine-tune ``lm.model`` in place on ``texts`` (causal LM loss); only ``neurons`` train
    (``None``: every parameter). Returns {"steps", "losses", "resumed_from", "step_seconds"}:
    ``step_seconds`` holds each optimizer step's CPU seconds (this process, all its threads) and
    wall seconds, from its first micro-batch to the weights written back (000 App. F.2 compares
    training time between settings; a resumed run keeps the steps timed before the stop)."""
    config.check()
    if lm.is_masked_lm:
        raise ConfigError("knowledge-update fine-tuning is implemented for causal LMs only")
    model = lm.model
    if not texts:
        raise ConfigError("fine-tuning needs at least one text")
    if neurons is None:
        trainable = {n: (p, None) for n, p in model.named_parameters()}
    else:
        if not neurons:
            raise ConfigError("fine-tuning a neuron set needs at least one neuron")
        trainable = neuron_masks(lm.adapter, neurons)
    snapshots = {n: p.detach().clone() for n, (p, m) in trainable.items() if m is not None}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    for name, param in model.named_parameters():
        param.requires_grad_(name in trainable)
    params = [p for p, _ in trainable.values()]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    per_epoch = math.ceil(math.ceil(len(texts) / config.batch_size) / config.grad_accum)
    total = per_epoch * config.epochs
    warm = int(total * config.warmup)

    def factor(step):
        if step < warm:
            return (step + 1) / max(1, warm)
        return max(0.0, (total - step) / max(1, total - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    checkpoint = run_dir / "finetune_checkpoint.pt" if run_dir is not None else None
    start_epoch, step, losses, resumed = 0, 0, [], None
    timed = {"cpu": [], "wall": []}
    if checkpoint is not None and checkpoint.is_file():
        state = load_checkpoint(checkpoint)
        if state["config"] != asdict(config) or sorted(state["params"]) != sorted(trainable):
            raise ConfigError(f"{checkpoint} belongs to another fine-tuning setting; remove it or use another folder")
        with torch.no_grad():
            for name, tensor in state["params"].items():
                trainable[name][0].copy_(tensor)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, step, losses, resumed = state["epoch"], state["step"], state["losses"], state["epoch"]
        timed = state.get("step_seconds") or timed
    max_length = (getattr(model.config, "max_position_embeddings", None)
                  or getattr(model.config, "n_positions", None))
    model.train()
    try:
        bar = tqdm(total=total, initial=step, desc="fine-tune", unit="step", disable=not progress)
        for epoch in range(start_epoch, config.epochs):
            torch.manual_seed(config.seed * 1009 + epoch)
            rng = random.Random(f"{config.seed}/{epoch}")
            batches = list(text_batches(lm.tokenizer, texts, config.batch_size, rng, max_length))
            for i, (ids, mask, labels) in enumerate(batches):
                if i % config.grad_accum == 0:  # a step starts
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                out = model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device),
                            labels=labels.to(lm.device))
                (out.loss / config.grad_accum).backward()
                losses.append(float(out.loss.detach()))
                if (i + 1) % config.grad_accum == 0 or i + 1 == len(batches):
                    # frozen entries' gradients are discarded below, so they must not count in
                    # the norm that is clipped (000 A.3: clip 1.0 on what trains)
                    with torch.no_grad():
                        for param, m in trainable.values():
                            if m is not None and param.grad is not None:
                                param.grad.masked_fill_(~m, 0.0)
                    torch.nn.utils.clip_grad_norm_(params, config.clip)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    with torch.no_grad():
                        for name, (param, m) in trainable.items():
                            if m is not None:
                                param.copy_(torch.where(m, param, snapshots[name]))
                    step += 1
                    timed["cpu"].append(time.process_time() - cpu0)
                    timed["wall"].append(time.perf_counter() - wall0)
                    bar.update(1)
            if checkpoint is not None:
                _atomic_save({"config": asdict(config), "epoch": epoch + 1, "step": step, "losses": losses,
                              "step_seconds": timed,
                              "params": {n: p.detach().clone() for n, (p, _) in trainable.items()},
                              "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                             checkpoint)
        bar.close()
    finally:
        model.eval()
        for name, param in model.named_parameters():
            param.requires_grad_(flags[name])
            param.grad = None
    return {"steps": step, "losses": losses, "resumed_from": resumed, "step_seconds": timed}


def _read_rows(adapter, layer: int) -> torch.Tensor:
    """[n_neurons, sum of read widths]: every read module's row of each neuron (+ bias)."""
    parts = []
    for part in adapter.neuron_params(layer):
        if part.role != "read":
            continue
        t = part.param.detach().float()
        t = t.unsqueeze(1) if t.dim() == 1 else (t if part.axis == 0 else t.T)
        parts.append(t)
    return torch.cat(parts, dim=1)


def neuron_vectors(adapter) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer (read rows, write vectors), copies: the 'before' state for Eq. 13."""
    return [(_read_rows(adapter, l).clone(), adapter.write_vectors(l).float().clone())
            for l in range(adapter.n_layers)]


def parameter_change(before, adapter) -> np.ndarray:
    """ΔP(n) (000 Eq. 13) for every neuron: [n_layers, n_neurons]."""
    out = []
    for layer, (read1, write1) in enumerate(before):
        read2, write2 = _read_rows(adapter, layer), adapter.write_vectors(layer).float()
        r = (read2 - read1).norm(dim=1) / read1.norm(dim=1).clamp_min(1e-12)
        w = (write2 - write1).norm(dim=1) / write1.norm(dim=1).clamp_min(1e-12)
        out.append(torch.sqrt(r ** 2 + w ** 2).cpu().numpy())
    return np.stack(out)


def changed_neurons(delta: np.ndarray, ratio: float) -> list[tuple[int, int]]:
    """ΔN = {n | ΔP(n) > ratio x max ΔP} (000 Eq. 12 with the dynamic threshold)."""
    top = float(delta.max()) if delta.size else 0.0
    if top <= 0:
        return []
    layers, indices = np.nonzero(delta > ratio * top)
    return sorted(zip(layers.tolist(), indices.tolist()))


def overlap(neurons, delta_n) -> float | None:
    """O(X, ΔN) = |X ∩ ΔN| / |X| (000 Eq. 14); None for an empty X."""
    x = {tuple(n) for n in neurons}
    return len(x & {tuple(n) for n in delta_n}) / len(x) if x else None
