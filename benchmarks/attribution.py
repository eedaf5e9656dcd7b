"""Seconds per prompt of IG / AMIG attribution: engine paths vs the plain reference loop.

    python benchmarks/attribution.py            # full run (slow: the reference loop is slow)
    python benchmarks/attribution.py --quick    # 5 steps, 2 prompts, 1 repeat, fewer models

Each model runs in its own subprocess so ru_maxrss is that model's peak. Times are medians over
--repeats x prompts; the reference loop (one sequence, one layer, one step at a time) runs on
--ref-layers layers and is scaled by n_layers / ref_layers (its cost per layer is constant); its
results are also compared with the engine's (max abs diff / max |score|). GFLOP/s = FLOPs counted
by torch.utils.flop_counter for one attribution / median seconds, next to a measured fp32 matmul
peak of this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [("The capital of France is [Y].", "Paris"), ("The currency of Japan is the [Y].", "yen"),
           ("Mozart was a composer born in [Y].", "Austria"), ("People in Germany speak [Y].", "German")]
MODELS = ("gpt2-small-shape", "llama-shape", "embedded")


def build(name: str, device: str, dtype: str | None):
    import torch

    from dknbench.models import load_model
    from dknbench.models.loading import DTYPES, wrap_model
    from dknbench.models.tiny import _causal_tokenizer

    if name == "embedded":
        return load_model(device=device, dtype=dtype)
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if name == "gpt2-small-shape":
        model = GPT2LMHeadModel(GPT2Config(n_layer=12, n_embd=768, n_head=12, n_inner=3072,
                                           vocab_size=50257))
    else:  # a LLaMA-family block stack of SmolLM2-360M-like width, 12 layers
        model = LlamaForCausalLM(LlamaConfig(hidden_size=960, intermediate_size=2560,
                                             num_hidden_layers=12, num_attention_heads=15,
                                             num_key_value_heads=5, vocab_size=49152))
    model.config._attn_implementation = "eager"
    model.to(DTYPES[dtype or "float32"])
    return wrap_model(name, model, _causal_tokenizer(), device=device)


class PeakRSS:
    """Samples this process's RSS every 5 ms while inside (torch's allocator bypasses tracemalloc)."""

    def __enter__(self):
        self.peak, self.stop = self._rss(), False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _loop(self):
        while not self.stop:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()


def matmul_peak(device: str) -> float:
    import torch

    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * 2048**3 / best / 1e9


def bench_model(args) -> list[dict]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from dknbench.localization.engine import IGEngine
    from dknbench.localization.gradient import AMIG, word_baselines
    from dknbench.localization.reference import reference_attribute
    from dknbench.scoring import AnswerScorer

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    lm = build(args.only, args.device, args.dtype)
    load_s = time.perf_counter() - t0
    scorer = AnswerScorer(lm)
    L, N = lm.adapter.n_layers, lm.adapter.n_neurons
    prompts = [scorer.encode(q, a) for q, a in PROMPTS[: args.prompts]]
    ref_layers = list(range(0, L, max(1, L // args.ref_layers)))[: args.ref_layers]
    peak = matmul_peak(args.device)
    rows = []
    for localizer in args.localizers:
        for path in args.paths + ["reference"]:
            times, worst, flops = [], 0.0, None
            with PeakRSS() as rss:
                for encoded in prompts:
                    engine = IGEngine(lm, scorer, steps=args.steps, batch_size=args.batch_size,
                                      path="full" if path == "reference" else path)
                    if localizer == "ig":
                        baselines = torch.zeros(L, 1, N)
                    else:
                        baselines = word_baselines(engine, encoded, AMIG().baseline_token(engine))
                    acts = engine.target_activations(encoded)
                    for _ in range(args.repeats):
                        t = time.perf_counter()
                        if path == "reference":
                            out = reference_attribute(lm, encoded, baselines, args.steps, scorer,
                                                      acts, layers=ref_layers)
                            dt = (time.perf_counter() - t) * L / len(ref_layers)
                        else:
                            out = engine.attribute(encoded, baselines, acts)
                            dt = time.perf_counter() - t
                        times.append(dt)
                    if path != "reference":
                        ref = reference_attribute(lm, encoded, baselines, args.steps, scorer, acts,
                                                  layers=ref_layers[:1])
                        l0 = ref_layers[0]
                        worst = max(worst, float((out[l0] - ref[l0]).abs().max()
                                                 / ref[l0].abs().max().clamp_min(1e-30)))
                    if flops is None and path != "reference":
                        with FlopCounterMode(display=False) as counter:
                            engine.attribute(encoded, baselines, acts)
                        flops = counter.get_total_flops()
            seconds = statistics.median(times)
            rows.append({"model": args.only, "localizer": localizer, "path": path,
                         "steps": args.steps, "s_per_prompt": seconds, "n_timings": len(times),
                         "max_rel_diff_vs_ref": None if path == "reference" else worst,
                         "gflops": None if flops is None else flops / seconds / 1e9,
                         "matmul_peak_gflops": peak, "peak_rss_mb": rss.peak / 2**20,
                         "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                         "load_s": load_s, "threads": args.threads,
                         "ref_layers": len(ref_layers), "n_layers": L})
    return rows


def table(rows: list[dict]) -> str:
    head = (f"{'model':18} {'loc':5} {'path':9} {'s/prompt':>9} {'speedup':>8} {'rel.diff':>9} "
            f"{'GFLOP/s':>8} {'peak':>6} {'RSS MB':>7} {'maxrss':>7}")
    out = [head, "-" * len(head)]
    ref = {(r["model"], r["localizer"]): r["s_per_prompt"] for r in rows if r["path"] == "reference"}
    for r in rows:
        speed = ref.get((r["model"], r["localizer"]), float("nan")) / r["s_per_prompt"]
        diff = "-" if r["max_rel_diff_vs_ref"] is None else f"{r['max_rel_diff_vs_ref']:.1e}"
        gf = "-" if r["gflops"] is None else f"{r['gflops']:.1f}"
        out.append(f"{r['model']:18} {r['localizer']:5} {r['path']:9} {r['s_per_prompt']:9.3f} "
                   f"{speed:8.1f} {diff:>9} {gf:>8} {r['matmul_peak_gflops']:6.0f} "
                   f"{r['peak_rss_mb']:7.0f} {r['ru_maxrss_mb']:7.0f}")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 steps, 2 prompts, 1 repeat")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--localizers", nargs="+", default=["ig", "amig"], choices=["ig", "amig"])
    parser.add_argument("--paths", nargs="+", default=["fast", "cached", "full"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ref-layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1 is fastest on a busy shared 2-core box)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.prompts, args.repeats, args.ref_layers = 5, 2, 1, 1
    if args.only:
        print(json.dumps(bench_model(args)))
        return
    rows = []
    for model in args.models:
        cmd = [sys.executable, __file__, "--only", model, "--steps", str(args.steps),
               "--prompts", str(args.prompts), "--repeats", str(args.repeats),
               "--ref-layers", str(args.ref_layers), "--batch-size", str(args.batch_size),
               "--threads", str(args.threads), "--device", args.device,
               "--localizers", *args.localizers, "--paths", *args.paths]
        if args.dtype:
            cmd += ["--dtype", args.dtype]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(f"{model}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.extend(json.loads(done.stdout.strip().splitlines()[-1]))
        print(table(rows), flush=True) if model == args.models[-1] else None
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
