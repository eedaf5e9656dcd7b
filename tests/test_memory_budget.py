"""--max-memory: the IG engine's per-row memory model, the batches it plans under a budget, and
results that do not depend on the budget."""

import subprocess
import sys

import pytest
import torch

from dknbench.errors import ConfigError
from dknbench.localization.engine import IGEngine
from dknbench.localization.memory import (MemoryBudgetError, ModelShape, RowMemory, parse_memory,
                                          plan_batches, resolve_budget)
from dknbench.models.loading import tiny_loaded
from dknbench.scoring import AnswerScorer

SHAPE = ModelShape(n_layers=4, d_model=8, n_neurons=16, n_heads=2, n_kv_heads=1, head_dim=4,
                   vocab=10, dtype_bytes=2)


def test_row_memory_arithmetic():
    model = RowMemory(SHAPE, "fast", prefix=3, tail=1, scored=1, logit_positions=1)
    # activations per token per block: 2 B x (10 x 8 + 6 x 16) + 4 B x 4 x 8 = 352 + 128
    assert model.activation_bytes_per_token() == 480
    # keys 3 + 1 = 4; per key: 2 x 4 x (1 kv + 2 heads) + 2 x 2 heads x 1 token = 28 elements of 2 B
    assert model.kv_bytes() == 224
    assert model.block_bytes() == 704
    # head: vocab 10 x (1 position x 2 dtype tensors x 2 B + 1 scored x 3 float32 tensors x 4 B)
    assert model.head_bytes() == 160
    # a layer-0 row runs the 3 blocks above it; entry = 1 x 8 x 2 B x 2 + 2 x 16 x 4 B = 160
    assert model.row_bytes(0) == 3 * 704 + 160 + 160
    assert model.row_bytes(3) == 160 + 160  # the last layer's rows run the head only
    # the full path runs every block on the whole sequence and materialises all its logits
    full = RowMemory(SHAPE, "full", prefix=0, tail=4, scored=1, logit_positions=4)
    assert full.blocks_run(3) == 4
    assert full.head_bytes() == 10 * (4 * 2 * 2 + 1 * 3 * 4)
    # float32 doubles the dtype-sized parts
    wide = RowMemory(ModelShape(**{**SHAPE.__dict__, "dtype_bytes": 4}), "fast", 3, 1, 1, 1)
    assert wide.activation_bytes_per_token() == 4 * 176 + 128


def test_shape_from_model():
    lm = tiny_loaded("llama", seed=1)
    shape = ModelShape.from_lm(lm)
    config = lm.model.config
    assert (shape.n_layers, shape.d_model, shape.n_neurons) == (3, 32, 64)
    assert (shape.n_heads, shape.n_kv_heads, shape.head_dim) == (4, 2, 8)
    assert shape.vocab == config.vocab_size and shape.dtype_bytes == 4
    lm.model.to(torch.bfloat16)
    assert ModelShape.from_lm(lm).dtype_bytes == 2


def test_plan_batches():
    assert plan_batches([5, 5, 5, 5, 5], None, 2) == [range(0, 2), range(2, 4), range(4, 5)]
    assert plan_batches([6, 5, 4, 3, 2, 1], 10, 128) == [range(0, 1), range(1, 3), range(3, 6)]
    for batch in plan_batches([6, 5, 4, 3, 2, 1], 9, 2):
        assert len(batch) <= 2 and sum([6, 5, 4, 3, 2, 1][batch.start:batch.stop]) <= 9
    with pytest.raises(MemoryBudgetError, match="raise --max-memory"):
        plan_batches([3, 12], 10, 128)


def test_parse_memory():
    assert parse_memory("8GB") == 8 * 10**9
    assert parse_memory("512MB") == 512 * 10**6
    assert parse_memory("2GiB") == 2 * 2**30
    assert parse_memory("1.5G") == 1_500_000_000
    assert parse_memory("1000") == 1000
    assert parse_memory("auto") == "auto" and parse_memory("none") is None
    for bad in ("lots", "8XB", "0GB", "-1GB"):
        with pytest.raises(ConfigError, match="--max-memory"):
            parse_memory(bad)
    auto = resolve_budget("auto", "cpu")
    assert 0 < auto < 2**50


@pytest.mark.parametrize("path", ["fast", "cached", "full"])
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_small_budget_keeps_results(family, path):
    lm = tiny_loaded(family, seed=1)
    scorer = AnswerScorer(lm)
    encoded = scorer.encode("The capital of Japan is [Y].", "Tokyo")
    gen = torch.Generator().manual_seed(0)
    shape = (lm.adapter.n_layers, 2, lm.adapter.n_neurons)
    baselines = torch.cat([torch.zeros(shape[0], 1, shape[2]),
                           0.1 * torch.randn(shape[0], 1, shape[2], generator=gen)], dim=1)
    unbounded = IGEngine(lm, scorer, steps=5, path=path)
    expected = unbounded.attribute(encoded, baselines)
    assert unbounded.batch_sizes == [30]
    model = unbounded.memory_model(encoded)
    budget = model.fixed_bytes(3, 2) + 3 * model.row_bytes(0)
    bounded = IGEngine(lm, scorer, steps=5, path=path, max_memory=budget)
    got = bounded.attribute(encoded, baselines)
    assert len(bounded.batch_sizes) > 3 and sum(bounded.batch_sizes) == 30
    layers = [layer for layer in range(3) for _ in range(2 * 5)]  # the engine's row order
    start = 0
    for size in bounded.batch_sizes:  # every batch's predicted bytes fit the room left
        assert sum(model.row_bytes(l) for l in layers[start:start + size]) <= 3 * model.row_bytes(0)
        start += size
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)
    with pytest.raises(MemoryBudgetError, match="raise --max-memory"):
        IGEngine(lm, scorer, steps=5, path=path, max_memory=model.fixed_bytes(3, 2)).attribute(encoded, baselines)


@pytest.mark.slow
def test_cli_flag():
    help_text = subprocess.run([sys.executable, "-m", "dknbench", "run", "--help"],
                               capture_output=True, text=True, check=True).stdout
    assert "--max-memory" in help_text
    bad = subprocess.run([sys.executable, "-m", "dknbench", "run", "--task", "kn-localization",
                          "--max-memory", "lots"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "--max-memory 'lots'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
