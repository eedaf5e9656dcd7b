"""Seconds per prompt of IG / AMIG attribution: engine paths vs the plain reference loop.

    python benchmarks/attribution.py            # full run (slow: the reference loop is slow)
    python benchmarks/attribution.py --quick    # 5 steps, 2 prompts, 1 repeat, fewer models

Each (model, dtype) runs in its own subprocess so ru_maxrss is its peak. Times are medians over
--repeats x prompts; the reference loop (one sequence, one layer, one step at a time) runs on
--ref-layers layers and is scaled by n_layers / ref_layers (its cost per layer is constant).
Accuracy is measured against ground truth, the same loop on a float64 copy of the model:
err64 = max |scores - truth| / max |truth| on the first reference layer (every path, the float32
loop included), and KN J = Jaccard of the KN sets (tau 0.2 x max). GFLOP/s = FLOPs counted by
torch.utils.flop_counter for one attribution / median seconds, next to a measured fp32 matmul peak
of this machine.
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


def kn_set(scores, tau: float = 0.2) -> set:
    """KNs of one query the way the localizers pick them (score > tau x max over all layers)."""
    from dknbench.localization.base import select_above

    return set(select_above(scores.float().numpy(), tau))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def bench_model(args) -> list[dict]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from dknbench.localization.engine import IGEngine
    from dknbench.localization.gradient import AMIG, word_baselines
    from dknbench.localization.reference import reference_attribute
    from dknbench.scoring import AnswerScorer

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    lm = build(args.only, args.device, args.dtype)
    load_s = time.perf_counter() - t0
    scorer = AnswerScorer(lm)
    L, N = lm.adapter.n_layers, lm.adapter.n_neurons
    prompts = [scorer.encode(q, a) for q, a in PROMPTS[: args.prompts]]
    ref_layers = list(range(0, L, max(1, L // args.ref_layers)))[: args.ref_layers]
    peak = matmul_peak(args.device)

    def baselines_for(engine, localizer, encoded):
        if localizer == "ig":
            return torch.zeros(L, 1, N)
        return word_baselines(engine, encoded, AMIG().baseline_token(engine))

    rows, outputs = [], {}
    for localizer in args.localizers:
        for path in args.paths + ["reference"]:
            times, flops = [], None
            with PeakRSS() as rss:
                for p, encoded in enumerate(prompts):
                    engine = IGEngine(lm, scorer, steps=args.steps, batch_size=args.batch_size,
                                      path="full" if path == "reference" else path)
                    baselines = baselines_for(engine, localizer, encoded)
                    acts = engine.target_activations(encoded)
                    for _ in range(args.ref_repeats if path == "reference" else args.repeats):
                        t = time.perf_counter()
                        if path == "reference":
                            out = reference_attribute(lm, encoded, baselines, args.steps, scorer,
                                                      acts, layers=ref_layers)
                            dt = (time.perf_counter() - t) * L / len(ref_layers)
                        else:
                            out = engine.attribute(encoded, baselines, acts)
                            dt = time.perf_counter() - t
                        times.append(dt)
                    outputs[localizer, path, p] = out.float().cpu()
                    if flops is None and path != "reference":
                        with FlopCounterMode(display=False) as counter:
                            engine.attribute(encoded, baselines, acts)
                        flops = counter.get_total_flops()
            seconds = statistics.median(times)
            rows.append({"model": args.only, "localizer": localizer, "path": path,
                         "dtype": args.dtype or "float32", "steps": args.steps,
                         "s_per_prompt": seconds, "n_timings": len(times),
                         "gflops": None if flops is None else flops / seconds / 1e9,
                         "matmul_peak_gflops": peak, "peak_rss_mb": rss.peak / 2**20,
                         "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                         "load_s": load_s, "threads": torch.get_num_threads(),
                         "ref_layers": len(ref_layers), "n_layers": L})
    accuracy_against_float64(args, lm, prompts, ref_layers[0], outputs, rows, baselines_for)
    return rows


def accuracy_against_float64(args, lm, prompts, layer, outputs, rows, baselines_for):
    """After the timings (so the memory columns do not see it): the plain loop on a float64 copy
    of the model is the ground truth. err64 = max |path - truth| / max |truth| on ``layer`` over
    the prompts; KN J = Jaccard of the first prompt's KN set (tau 0.2) with that of the float64
    fast path over all layers (the fast path equals the loop, see err64 and the tests)."""
    import copy
    import dataclasses

    from dknbench.localization.engine import IGEngine
    from dknbench.localization.reference import reference_attribute
    from dknbench.models.adapters import ArchitectureAdapter
    from dknbench.scoring import AnswerScorer

    model64 = copy.deepcopy(lm.model).double()
    lm64 = dataclasses.replace(lm, model=model64, adapter=ArchitectureAdapter(model64))
    scorer64 = AnswerScorer(lm64)
    for localizer in args.localizers:
        truth_kns, errors = None, {}
        for p, encoded in enumerate(prompts):
            engine = IGEngine(lm64, scorer64, steps=args.steps, batch_size=args.batch_size)
            baselines = baselines_for(engine, localizer, encoded).double()
            acts = engine.target_activations(encoded).double()
            truth = reference_attribute(lm64, encoded, baselines, args.steps, scorer64, acts,
                                        layers=[layer])[layer].float()
            if p == 0:
                truth_kns = kn_set(engine.attribute(encoded, baselines, acts)[:, 0])
            for path in args.paths + ["reference"]:
                diff = (outputs[localizer, path, p][layer] - truth).abs().max() / truth.abs().max()
                errors[path] = max(errors.get(path, 0.0), float(diff))
        for row in rows:
            if row["localizer"] == localizer:
                row["max_rel_err_vs_float64"] = errors[row["path"]]
                row["kn_jaccard_vs_float64"] = (None if row["path"] == "reference" else
                                                jaccard(kn_set(outputs[localizer, row["path"], 0][:, 0]),
                                                        truth_kns))


def table(rows: list[dict]) -> str:
    head = (f"{'model':17} {'loc':4} {'path':9} {'dtype':8} {'s/prompt':>8} {'speedup':>7} "
            f"{'err64':>7} {'KN J':>5} {'GFLOP/s':>7} {'peak':>5} {'RSS MB':>6} {'maxrss':>6}")
    out = [head, "-" * len(head)]
    ref = {(r["model"], r["localizer"], r["dtype"]): r["s_per_prompt"] for r in rows if r["path"] == "reference"}
    for r in rows:
        speed = ref.get((r["model"], r["localizer"], r["dtype"]), float("nan")) / r["s_per_prompt"]
        err = r.get("max_rel_err_vs_float64")
        jac = r.get("kn_jaccard_vs_float64")
        gf = "-" if r["gflops"] is None else f"{r['gflops']:.1f}"
        out.append(f"{r['model']:17} {r['localizer']:4} {r['path']:9} {r['dtype']:8} {r['s_per_prompt']:8.3f} "
                   f"{speed:7.1f} {'-' if err is None else f'{err:.1e}':>7} "
                   f"{'-' if jac is None else f'{jac:.3f}':>5} {gf:>7} {r['matmul_peak_gflops']:5.0f} "
                   f"{r['peak_rss_mb']:6.0f} {r['ru_maxrss_mb']:6.0f}")
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
    parser.add_argument("--ref-repeats", type=int, default=1,
                        help="timings of the slow reference loop per prompt")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: torch's default, one per core; on a busy "
                             "shared box 1 can be faster)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", nargs="+", default=["float32"],
                        help="model dtypes to time, e.g. float32 bfloat16 (each in its own process)")
    parser.add_argument("--dtype", default=None, help=argparse.SUPPRESS)  # child process mode
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.prompts, args.repeats, args.ref_layers = 5, 2, 1, 1
    if args.only:
        print(json.dumps(bench_model(args)))
        return
    rows = []
    for model, dtype in [(m, d) for m in args.models for d in args.dtypes]:
        cmd = [sys.executable, __file__, "--only", model, "--dtype", dtype, "--steps", str(args.steps),
               "--prompts", str(args.prompts), "--repeats", str(args.repeats),
               "--ref-layers", str(args.ref_layers), "--ref-repeats", str(args.ref_repeats),
               "--batch-size", str(args.batch_size),
               "--threads", str(args.threads), "--device", args.device,
               "--localizers", *args.localizers, "--paths", *args.paths]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(f"{model} {dtype}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    print(table(rows), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
