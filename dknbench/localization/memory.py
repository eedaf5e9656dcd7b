"""How much memory one IG batch row needs, and how many rows fit in a budget.

The engine's rows differ in cost: on the fast path a row of layer l runs only the blocks above l,
so a row of layer 0 costs about n_layers times a row of the last layer. A row's bytes are

    blocks it runs x (tokens it runs x activation bytes per token per block + its KV expansion)
    + scored positions x vocab x logit bytes (the head's logits, their float32 log-softmax, grads)

in the model's dtype. The activation coefficients count the tensors autograd keeps per token per
block (attention input/outputs, norms upcast to float32, the MLP's up/gate/nonlinearity/product),
rounded up; the KV expansion is each block's cache grown to the row (keys and values, once
concatenated and once repeated to every query head by grouped-query attention).
``benchmarks/scale.py`` prints these predictions next to measured peaks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from ..errors import ConfigError

# autograd-saved tensors per token per block, in units of d_model / n_neurons elements of the
# model's dtype, plus float32 copies of d_model made by the two norms (rounded up, see above)
D_MODEL_TENSORS = 10
NEURON_TENSORS = 6
FLOAT32_NORM_TENSORS = 4
# per scored position and vocabulary entry: logits + their grad in the dtype, the float32 copy,
# its log-softmax and their grads (float32)
LOGIT_DTYPE_TENSORS = 2
LOGIT_FLOAT32_TENSORS = 3
# scratch the libraries hold during a batch beyond the counted tensors (GEMM packing buffers,
# cuBLAS workspace, attention masks, rotary tables, the allocator's rounding): benchmarks/scale.py
# measured up to ~17 MB above the counted tensors on the bf16 LLaMA-2-7B-width stack on a CPU
WORKSPACE_BYTES = 32 * 2**20
AUTO_FRACTION = 0.5
MAX_MEMORY_BYTES = 2**63 - 1  # what an int64 size holds (far above any machine)  # --max-memory auto: this share of the free RAM (or free VRAM on CUDA)

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "K": 10**3, "M": 10**6, "G": 10**9}


def parse_memory(text: str | int | None) -> int | str | None:
    """``"8GB"`` -> 8e9 bytes (GB = 10^9, GiB = 2^30); ``"auto"`` stays "auto"; None/"none" -> no limit."""
    if text is None or isinstance(text, int):
        return text
    value = str(text).strip()
    if value.lower() in ("auto", "none"):
        return value.lower() if value.lower() == "auto" else None
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([A-Za-z]*)", value)
    if not match or match.group(2).upper() not in _UNITS:
        raise ConfigError(f"--max-memory {text!r}: expected a size such as 8GB, 512MB, 2GiB, "
                          "a number of bytes, 'auto' or 'none'")
    size = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if not math.isfinite(size) or size > MAX_MEMORY_BYTES:  # 9999...TB: int(inf) would be an OverflowError
        raise ConfigError(f"--max-memory {text!r}: too large; at most {MAX_MEMORY_BYTES // 10**15:,} PB")
    size = int(size)
    if size <= 0:
        raise ConfigError(f"--max-memory {text!r}: must be > 0")
    return size


def free_memory(device: str | torch.device) -> int:
    """Free bytes on ``device``: free VRAM on CUDA, MemAvailable of /proc/meminfo otherwise."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def resolve_budget(max_memory, device) -> int | None:
    """Bytes the attribution may add on top of what is already allocated (None: no limit)."""
    value = parse_memory(max_memory)
    if value == "auto":
        return int(AUTO_FRACTION * free_memory(device))
    return value


@dataclass(frozen=True)
class ModelShape:
    n_layers: int
    d_model: int
    n_neurons: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    dtype_bytes: int

    @classmethod
    def from_lm(cls, lm) -> "ModelShape":
        config, adapter = lm.model.config, lm.adapter
        heads = int(getattr(config, "num_attention_heads"))
        kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
        head_dim = int(getattr(config, "head_dim", None) or adapter.d_model // heads)
        dtype = next(lm.model.parameters()).dtype
        return cls(adapter.n_layers, adapter.d_model, adapter.n_neurons, heads, kv_heads, head_dim,
                   int(config.vocab_size), torch.finfo(dtype).bits // 8)


@dataclass(frozen=True)
class RowMemory:
    """The memory model of one query on one engine path.

    ``prefix``: tokens before the target (held in the shared KV cache on the cached/fast paths);
    ``tail``: tokens each row runs; ``scored``: positions the head scores (answer tokens);
    ``logit_positions``: positions whose logits the model call materialises (the whole sequence on
    the full path, the scored ones otherwise)."""

    shape: ModelShape
    path: str
    prefix: int
    tail: int
    scored: int
    logit_positions: int

    @classmethod
    def for_query(cls, shape: ModelShape, path: str, encoded) -> "RowMemory":
        length, target, scored = len(encoded.input_ids), encoded.target, len(encoded.answer_ids)
        if path == "full":
            return cls(shape, path, 0, length, scored, length)
        return cls(shape, path, target, length - target, scored, scored)

    def activation_bytes_per_token(self) -> int:
        s = self.shape
        return (s.dtype_bytes * (D_MODEL_TENSORS * s.d_model + NEURON_TENSORS * s.n_neurons)
                + 4 * FLOAT32_NORM_TENSORS * s.d_model)

    def kv_bytes(self) -> int:
        """One row's keys and values in one block: the cache concatenated with its own tokens, and
        repeated to every query head (grouped-query attention), plus the attention weights."""
        s, keys = self.shape, self.prefix + self.tail
        per_key = 2 * s.head_dim * (s.n_kv_heads + s.n_heads) + 2 * s.n_heads * self.tail
        return s.dtype_bytes * keys * per_key

    def block_bytes(self) -> int:
        """One row through one block."""
        return self.tail * self.activation_bytes_per_token() + self.kv_bytes()

    def head_bytes(self) -> int:
        s = self.shape
        return (s.vocab * (self.logit_positions * LOGIT_DTYPE_TENSORS * s.dtype_bytes
                           + self.scored * LOGIT_FLOAT32_TENSORS * 4))

    def blocks_run(self, layer: int) -> int:
        return self.shape.n_layers - 1 - layer if self.path == "fast" else self.shape.n_layers

    def row_bytes(self, layer: int) -> int:
        """One row whose interpolation point sits in ``layer``."""
        s = self.shape
        entry = self.tail * s.d_model * s.dtype_bytes * 2 + 2 * s.n_neurons * 4  # block-l output, the leaf
        return self.blocks_run(layer) * self.block_bytes() + self.head_bytes() + entry

    def fixed_bytes(self, n_rows_layers: int, n_baselines: int) -> int:
        """Memory held across batches: the gradient sums, the prefix cache, the plain forward's
        per-layer records and the libraries' scratch (WORKSPACE_BYTES)."""
        s = self.shape
        grads = n_rows_layers * n_baselines * s.n_neurons * 4
        cache = s.n_layers * 2 * s.n_kv_heads * s.head_dim * max(self.prefix, 1) * s.dtype_bytes * 2
        records = s.n_layers * (self.tail + 2) * s.d_model * s.dtype_bytes
        one_forward = (self.prefix + self.tail) * (s.d_model * 4 + s.n_neurons) * s.dtype_bytes \
            + (self.prefix + self.tail) * s.vocab * s.dtype_bytes
        return grads + cache + records + one_forward + WORKSPACE_BYTES


class MemoryBudgetError(ConfigError):
    """--max-memory is below what a single attribution row needs."""


def plan_batches(costs: list[int], budget: int | None, max_rows: int) -> list[range]:
    """Consecutive row ranges of at most ``max_rows`` rows whose summed cost stays within
    ``budget`` (None: no limit)."""
    if max_rows < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {max_rows}")
    batches, start, total = [], 0, 0
    for i, cost in enumerate(costs):
        if budget is not None and cost > budget:
            raise MemoryBudgetError(
                f"--max-memory {budget / 1e6:.1f} MB is below the {cost / 1e6:.1f} MB one attribution "
                "row needs on this model; raise --max-memory")
        if i > start and (i - start >= max_rows or (budget is not None and total + cost > budget)):
            batches.append(range(start, i))
            start, total = i, 0
        total += cost
    if costs:
        batches.append(range(start, len(costs)))
    return batches
