"""Memory model vs measurement on a LLaMA-2-7B-width stack, and predicted cost per fact at paper scale.

    python benchmarks/scale.py                                  # CPU: 2 layers in bf16 (< 3 min)
    python benchmarks/scale.py --device cuda --layers 32        # a GPU: the whole 7B-width stack

Part 1 builds a random LLaMA stack of LLaMA-2-7B width (hidden 4096, 11008 neurons, 32 heads,
vocab 32000; --layers of them), runs ig on one prompt under three --max-memory budgets and prints,
for each, the rows per batch the engine chose, the peak the memory model predicts
(dknbench/localization/memory.py: fixed bytes + the costliest batch), the measured peak (CPU: RSS
sampled every 5 ms above the RSS before the call; CUDA: max_memory_allocated above the allocated
bytes before) and the seconds per layer-row (one interpolation point of one layer).

Part 2 takes the effective speed of part 1 (weight-bytes-equivalent multiply-adds per second, see
``row_macs``) and the same memory model to predict the peak and the time per fact (ig and amig, 20
steps, --queries paraphrases of --prefix tokens) for GPT-2-small, GPT-2-XL, LLaMA-2-7B and
Llama-3-8B, beside the papers' figures. The last line is ``peak_within_budget=yes|no`` (part 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from attribution import PeakRSS  # noqa: E402  (one RSS sampler for both benchmarks)

PROMPT = ("The capital of France is [Y].", "Paris")


@dataclass(frozen=True)
class Paper:
    """A model of the papers, as a ModelShape plus the figures they report."""

    name: str
    n_layers: int
    d_model: int
    n_neurons: int
    n_heads: int
    n_kv_heads: int
    vocab: int
    paper: str


PAPER_MODELS = [
    Paper("GPT-2-small", 12, 768, 3072, 12, 12, 50257, "~20 s / fact (GPU)"),
    Paper("GPT-2-XL", 48, 1600, 6400, 25, 25, 50257, "-"),
    Paper("LLaMA-2-7B", 32, 4096, 11008, 32, 32, 32000, "~5 min / fact (GPU, 003)"),
    Paper("Llama-3-8B", 32, 4096, 14336, 32, 8, 128256, "~5 min / fact (GPU, 003)"),
]


def block_macs(shape) -> int:
    """Multiply-adds per token through one block: q/o (d x d), k/v (d x kv width), gate/up/down."""
    kv = shape.n_kv_heads * shape.head_dim
    return 2 * shape.d_model ** 2 + 2 * shape.d_model * kv + 3 * shape.d_model * shape.n_neurons


def row_macs(memory, layer: int) -> int:
    """Forward multiply-adds of one fast-path row (blocks above its layer on the tail, the head on
    the scored positions); the backward (activation gradients only) costs about the same again."""
    s = memory.shape
    return memory.blocks_run(layer) * memory.tail * block_macs(s) + memory.scored * s.vocab * s.d_model


def build_7b_width(layers: int, device: str, dtype):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    from dknbench.models.loading import wrap_model
    from dknbench.models.tiny import _causal_tokenizer

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=layers,
                         num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                         max_position_embeddings=512)
    config._attn_implementation = "eager"
    with torch.device("meta"):  # no float32 copy and no slow init: fill the bf16 weights below
        model = LlamaForCausalLM(config)
    model.to_empty(device=device)
    model.to(dtype)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.fill_(1.0) if "norm" in name else param.normal_(0, 0.02)
    model.model.rotary_emb = LlamaRotaryEmbedding(config).to(device)  # its inv_freq was on meta
    return wrap_model("llama-2-7b-width", model, _causal_tokenizer(), device=device)


class PeakCUDA:
    def __enter__(self):
        import torch

        torch.cuda.synchronize()
        self.base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc):
        import torch

        torch.cuda.synchronize()
        self.added = torch.cuda.max_memory_allocated() - self.base


def measure(lm, scorer, encoded, steps: int, budget: int | None, device: str) -> dict:
    import torch

    from dknbench.localization.engine import IGEngine, _Row

    engine = IGEngine(lm, scorer, steps=steps, batch_size=10**6, path="fast", max_memory=budget)
    memory = engine.memory_model(encoded)
    L = lm.adapter.n_layers
    rows = [_Row(l, 0, k / steps) for l in range(L) for k in range(1, steps + 1)]
    batches = engine.plan(encoded, rows, L, 1)
    costs = [memory.row_bytes(r.layer) for r in rows]
    predicted = memory.fixed_bytes(L, 1) + max(sum(costs[b.start:b.stop]) for b in batches)
    zero = torch.zeros(L, 1, lm.adapter.n_neurons)
    if device.startswith("cuda"):
        with PeakCUDA() as peak:
            start = time.perf_counter()
            engine.attribute(encoded, zero)
            torch.cuda.synchronize()
            seconds = time.perf_counter() - start
        added = peak.added
    else:
        before = PeakRSS._rss()
        with PeakRSS() as peak:
            start = time.perf_counter()
            engine.attribute(encoded, zero)
            seconds = time.perf_counter() - start
        added = peak.peak - before
    macs = sum(2 * row_macs(memory, r.layer) for r in rows)
    return {"budget": budget, "batches": engine.batch_sizes, "predicted": predicted, "measured": added,
            "seconds": seconds, "per_row": seconds / len(rows), "macs_per_s": macs / seconds}


def predict(paper: Paper, localizer: str, steps: int, prefix: int, words: int, queries: int,
            dtype_bytes: int, macs_per_s: float, batch_size: int) -> tuple[float, float]:
    """(peak bytes: weights + fixed + the costliest default batch, seconds per fact)."""
    from dknbench.localization.memory import ModelShape, RowMemory, plan_batches

    shape = ModelShape(paper.n_layers, paper.d_model, paper.n_neurons, paper.n_heads, paper.n_kv_heads,
                       paper.d_model // paper.n_heads, paper.vocab, dtype_bytes)
    memory = RowMemory(shape, "fast", prefix=prefix, tail=1, scored=1, logit_positions=1)
    n_base = 1 if localizer == "ig" else words
    layers = [l for l in range(shape.n_layers) for _ in range(n_base * steps)]
    costs = [memory.row_bytes(l) for l in layers]
    batches = plan_batches(costs, None, batch_size)
    weights = dtype_bytes * (shape.n_layers * (block_macs(shape) + 2 * shape.d_model)
                             + 2 * shape.vocab * shape.d_model)
    peak = weights + memory.fixed_bytes(shape.n_layers, n_base) + max(sum(costs[b.start:b.stop]) for b in batches)
    # per query: the rows (forward + activation backward) and 1 + n_base plain forwards (the
    # activations, and amig's baseline sentences), each running every block on the prompt
    forward = shape.n_layers * (prefix + 1) * block_macs(shape) + shape.vocab * shape.d_model * (prefix + 1)
    macs = sum(2 * row_macs(memory, l) for l in layers) + (1 + (n_base if localizer == "amig" else 0)) * forward
    return peak, queries * macs / macs_per_s


def main(argv=None) -> int:
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        # glibc keeps freed blocks below its mmap threshold in its heap, so RSS would count the
        # previous batches' freed tensors; above it every block is unmapped when freed
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    import torch

    from dknbench.localization.memory import ModelShape, RowMemory
    from dknbench.models.loading import DTYPES
    from dknbench.scoring import AnswerScorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2, help="blocks of the 7B-width stack (32: all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES))
    parser.add_argument("--steps", type=int, default=20, help="IG steps of the measured runs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--prefix", type=int, default=10, help="prompt tokens assumed in part 2")
    parser.add_argument("--words", type=int, default=6, help="words per prompt (amig baselines) in part 2")
    parser.add_argument("--queries", type=int, default=3, help="paraphrases per fact (max_queries) in part 2")
    parser.add_argument("--batch-size", type=int, default=128, help="engine rows per batch in part 2")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]

    start = time.perf_counter()
    lm = build_7b_width(args.layers, args.device, dtype)
    scorer = AnswerScorer(lm)
    encoded = scorer.encode(*PROMPT)
    print(f"LLaMA-2-7B-width stack: {args.layers} layers x (d 4096, 11008 neurons), vocab 32000, "
          f"{args.dtype} on {args.device}; built in {time.perf_counter() - start:.1f} s; prompt "
          f"{len(encoded.input_ids)} tokens, {args.steps} steps, ig, fast path")

    # three budgets: room for the fixed bytes plus about 1.5 rows, a quarter of the rows, all rows
    model = RowMemory.for_query(ModelShape.from_lm(lm), "fast", encoded)
    L = lm.adapter.n_layers
    fixed = model.fixed_bytes(L, 1)
    all_rows = sum(model.row_bytes(l) for l in range(L)) * args.steps
    budgets = [fixed + int(1.5 * model.row_bytes(0)), fixed + all_rows // 4, fixed + all_rows + 1]
    measure(lm, scorer, encoded, 2, None, args.device)  # warm-up: first-call allocations
    print(f"\n{'budget MB':>10} {'batches':>8} {'rows/batch':>11} {'predicted MB':>13} "
          f"{'measured MB':>12} {'s/layer-row':>12}")
    results = []
    for budget in budgets:
        r = measure(lm, scorer, encoded, args.steps, budget, args.device)
        results.append(r)
        print(f"{budget / 1e6:>10.0f} {len(r['batches']):>8} {max(r['batches']):>11} "
              f"{r['predicted'] / 1e6:>13.0f} {r['measured'] / 1e6:>12.0f} {r['per_row']:>12.4f}")
    speed = max(r["macs_per_s"] for r in results)
    print(f"effective speed: {speed / 1e9:.1f} G weight-MAC/s (forward + activation backward)")

    print(f"\nPredicted per fact: {args.queries} queries of {args.prefix + 1} tokens, 20 steps, "
          f"{args.dtype}, batches of {args.batch_size} rows, at the speed above ({args.device})")
    print(f"{'model':<12} {'loc':<5} {'peak GB':>8} {'s/fact':>9}  paper")
    for paper in PAPER_MODELS:
        for loc in ("ig", "amig"):
            peak, seconds = predict(paper, loc, 20, args.prefix, args.words, args.queries,
                                    torch.finfo(dtype).bits // 8, speed, args.batch_size)
            print(f"{paper.name:<12} {loc:<5} {peak / 1e9:>8.1f} {seconds:>9.0f}  {paper.paper}")

    within = all(r["measured"] <= r["budget"] for r in results)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    print(f"peak_within_budget={'yes' if within else 'no'}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
