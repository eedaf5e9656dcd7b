"""dknbench's ``ig`` side by side with two peers, in one process, on the same prompts and model.

    pip install 'dknbench[benchmark]'      # knowledge-neurons==0.0.2 (--no-deps) and captum
    python benchmarks/peers.py [--repeats 3] [--steps 20]

Model: a GPT-2-small-shape GPT2LMHeadModel (GPT2Config defaults: 12 layers, d=768, 3072 neurons,
vocab 50257), random weights, fp32, eager attention; the tiny BPE tokenizer of dknbench.models.tiny.
Neurons: the input of each block's down projection ``mlp.c_proj`` at the last prompt token (the
output of ``mlp.act``). Each method gives [12, 3072] integrated-gradients scores of Prob(answer's
first token) from the zero baseline, 20 steps:

* ``dknbench ig``: the ``ig`` localizer on the IGEngine's default path (``fast``).
* ``EleutherAI knowledge-neurons 0.0.2``: ``KnowledgeNeurons.get_scores`` (model_type ``gpt2``, its
  default batch_size 10). Shim: 0.0.2 patches ``mlp.c_fc``'s output, the *pre*-activation, on GPT
  models; the benchmark points it at ``mlp.act`` so both attribute the same neurons (its BERT path
  already uses the post-activation). Its quadrature is linspace(0, 1, m) (α = 0 and 1 both in),
  dknbench's α = k/m, k = 1..m, so agreement is high but not exact.
* ``captum LayerIntegratedGradients``: Captum 0.7+ on each layer's target-position slot
  (``dknbench.localization.captum_ig``) with full-sequence forwards (``riemann_right``, the same α
  as dknbench, so agreement is to float precision).

Timings alternate method by method within each (prompt, repeat); printed: median s/prompt, each
peer's ratio to dknbench, and the agreement of the scores (max |diff| / max |dknbench|, Pearson r,
and the Jaccard overlap of the KN sets score > 0.2 x max).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import dknbench  # noqa: E402,F401  (before torch: its OpenMP wait-policy default applies)

PROMPTS = [("The capital of France is [Y].", "Paris"), ("Rome is located in [Y].", "Italy"),
           ("People in Germany speak [Y].", "German")]


def build():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from dknbench.models.loading import wrap_model
    from dknbench.models.tiny import _causal_tokenizer

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config())  # GPT-2 small's shape: the config's defaults
    model.config._attn_implementation = "eager"
    model.eval()
    return wrap_model("gpt2-small-shape", model, _causal_tokenizer(), device="cpu")


def eleuther(lm):
    """knowledge-neurons 0.0.2 on the same model, pointed at the post-activation neurons."""
    from knowledge_neurons import KnowledgeNeurons

    kn = KnowledgeNeurons(lm.model, lm.tokenizer, model_type="gpt2", device="cpu")
    kn.input_ff_attr = "mlp.act"  # shim: 0.0.2 hooks mlp.c_fc (pre-GELU) on GPT models
    return kn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=len(PROMPTS))
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    from dknbench.localization.captum_ig import CaptumIntegratedGradients
    from dknbench.localization.engine import IGEngine
    from dknbench.localization.gradient import IntegratedGradients

    lm = build()
    fast, full = IGEngine(lm, steps=args.steps), IGEngine(lm, steps=args.steps, path="full")
    kn = eleuther(lm)
    ig, captum = IntegratedGradients(steps=args.steps), CaptumIntegratedGradients(steps=args.steps)
    prompts = PROMPTS[: args.prompts]
    methods = {
        "dknbench ig": lambda q, a, e: ig.scores(fast, e),
        "knowledge-neurons 0.0.2": lambda q, a, e: kn.get_scores(
            e.prompt, " " + a, batch_size=10, steps=args.steps, pbar=False).detach().numpy(),
        "captum LayerIG": lambda q, a, e: captum.scores(full, e),
    }
    times = {m: [] for m in methods}
    scores = {m: [] for m in methods}
    for p, (query, answer) in enumerate(prompts):
        encoded = fast.scorer.encode(query, answer)
        check = lm.tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        if len(check) != 1 or check != encoded.answer_ids:
            raise SystemExit(f"{answer!r} is not one token of the benchmark tokenizer; pick another prompt")
        for r in range(args.repeats):
            names = list(methods)
            names = names[(p + r) % len(names):] + names[: (p + r) % len(names)]  # rotate the order
            for name in names:
                start = time.perf_counter()
                with torch.enable_grad():
                    out = methods[name](query, answer, encoded)
                times[name].append(time.perf_counter() - start)
                if r == 0:
                    scores[name].append(np.asarray(out, dtype=np.float64))
    base = statistics.median(times["dknbench ig"])
    print(f"GPT-2-small shape (GPT2Config defaults, random weights, fp32), IG {args.steps} steps, "
          f"{len(prompts)} prompts x {args.repeats} repeats alternating, torch threads {torch.get_num_threads()}")
    head = f"{'method':<26} {'s/prompt':>9} {'ratio':>7} {'max|diff|/max':>14} {'pearson r':>10} {'KN Jaccard':>11}"
    print(head + "\n" + "-" * len(head))
    for name in methods:
        med = statistics.median(times[name])
        diffs, corr, jac = [], [], []
        for mine, ref in zip(scores[name], scores["dknbench ig"]):
            diffs.append(np.abs(mine - ref).max() / np.abs(ref).max())
            corr.append(np.corrcoef(mine.ravel(), ref.ravel())[0, 1])
            a, b = set(zip(*np.nonzero(mine > 0.2 * mine.max()))), set(zip(*np.nonzero(ref > 0.2 * ref.max())))
            jac.append(len(a & b) / len(a | b) if a | b else 1.0)
        print(f"{name:<26} {med:>9.3f} {med / base:>6.1f}x {max(diffs):>14.2e} {min(corr):>10.6f} {min(jac):>11.3f}")
    print("ratio: the method's median s/prompt / dknbench ig's; max|diff|/max, pearson r, KN Jaccard: "
          "worst prompt, against dknbench ig's scores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
