"""IG completeness per layer (issue 29.2, the quadrature caveat): how far each quadrature rule's
per-layer sum of attributions misses Prob(a) - Prob(baseline) on built-in facts.

    OMP_NUM_THREADS=1 python benchmarks/ig_completeness.py --model smollm2-135m --facts 3 \
        --rules riemann-right:20 riemann-right:100 gauss-legendre:64 [--baseline zero|uniform]

IG's attributions of one layer sum to Prob(a) - Prob(baseline) when the path integral is exact
(completeness). ``dknbench``'s ig is Dai et al.'s zero baseline with the 20-step right Riemann sum;
where its per-layer error is large, the KN set (score > tau x the fact's maximum) depends on the
rule, which is what ``quadrature_accuracy.py`` measures on KN sets. ``--baseline uniform`` starts
each neuron at U(0, 1) x its activation instead (the check tests/test_real_models.py uses), which
shows whether a miss comes from the rule or from a path that is sharp near the zero baseline.

Printed per rule, over every (fact, layer) pair: the relative error |sum IG - dProb| /
max(|dProb|, 0.05 Prob(a)) (the floor keeps layers that barely move Prob from dominating), its
median and maximum, the share of pairs over 2 % and over 10 %, and the layers most often over 2 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLOOR = 0.05  # dProb is floored at this share of Prob(a) in the relative error


def parse_rule(text: str) -> tuple[str, int]:
    """'gauss-legendre:64' -> ('gauss-legendre', 64)."""
    from dknbench.localization.engine import QUADRATURES

    rule, sep, steps = text.partition(":")
    if not sep or rule not in QUADRATURES or not steps.isdigit() or int(steps) < 1:
        raise ValueError(f"--rules {text!r}: give RULE:STEPS, RULE one of {', '.join(QUADRATURES)}")
    return rule, int(steps)


def baseline_for(activations, kind: str, seed: int):
    import torch

    if kind == "zero":
        return torch.zeros_like(activations)
    generator = torch.Generator().manual_seed(seed)
    return activations * torch.rand(activations.shape, generator=generator)


def layer_deltas(lm, scorer, encoded, baseline) -> list[float]:
    """Prob(a) - Prob(the layer's neurons at the baseline, at the target position), per layer."""
    from dknbench.interventions import intervene_activations

    prob = scorer.probs_encoded([encoded])[0]
    deltas = []
    for layer in range(lm.adapter.n_layers):
        neurons = [(layer, i) for i in range(lm.adapter.n_neurons)]
        values = baseline[layer]
        with intervene_activations(lm.adapter, neurons, lambda v, idx, values=values: values.to(v.device, v.dtype)[idx]):
            deltas.append(prob - scorer.probs_encoded([encoded])[0])
    return deltas


def completeness_errors(lm, scorer, encoded, rule: str, steps: int, baseline, deltas, prob: float) -> list[float]:
    """Per layer: |sum of the layer's IG - dProb| / max(|dProb|, FLOOR x Prob(a))."""
    from dknbench.localization import IGEngine

    attributions = IGEngine(lm, scorer, steps=steps, quadrature=rule).attribute(encoded, baseline[:, None, :])[:, 0]
    return [abs(float(attributions[layer].sum()) - delta) / max(abs(delta), FLOOR * prob)
            for layer, delta in enumerate(deltas)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--facts", type=int, default=3, help="the first N built-in facts of the seeded order")
    parser.add_argument("--rules", nargs="+", default=["riemann-right:20", "riemann-right:100", "gauss-legendre:64"])
    parser.add_argument("--baseline", choices=("zero", "uniform"), default="zero")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        rules = [parse_rule(r) for r in args.rules]
    except ValueError as error:
        print(f"ig_completeness.py: {error}", file=sys.stderr)
        return 2

    import torch

    from dknbench.data.loading import load_facts
    from dknbench.localization import IGEngine
    from dknbench.models import load_model
    from dknbench.scoring import AnswerScorer

    lm = load_model(args.model, device="cpu")
    scorer = AnswerScorer(lm)
    errors: dict[tuple[str, int], list[tuple[int, float]]] = {rule: [] for rule in rules}
    facts = load_facts("builtin", limit=args.facts, seed=args.seed)
    for number, fact in enumerate(facts, 1):
        encoded = scorer.encode(fact.queries[0], fact.object)
        activations = IGEngine(lm, scorer).target_activations(encoded).cpu()
        baseline = baseline_for(activations, args.baseline, args.seed + number)
        deltas = layer_deltas(lm, scorer, encoded, baseline)
        prob = scorer.probs_encoded([encoded])[0]
        for rule in rules:
            per_layer = completeness_errors(lm, scorer, encoded, *rule, baseline, deltas, prob)
            errors[rule] += list(enumerate(per_layer))
        print(f"fact {number}/{len(facts)}: {fact.id} ({encoded.prompt!r}, Prob {prob:.4f})", file=sys.stderr, flush=True)

    print(f"{args.model}: IG completeness per (fact, layer), {args.baseline} baseline, {len(facts)} facts x "
          f"{lm.adapter.n_layers} layers; error = |sum IG - dProb| / max(|dProb|, {FLOOR} Prob(a)); "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"{'rule':<22}{'median':>9}{'max':>9}{'> 2 %':>8}{'> 10 %':>8}  layers most often > 2 % (count)")
    print("-" * 96)
    for (rule, steps), pairs in errors.items():
        values = [e for _, e in pairs]
        over = Counter(layer for layer, e in pairs if e > 0.02)
        worst = ", ".join(f"{layer} ({count})" for layer, count in over.most_common(6)) or "-"
        print(f"{rule + ':' + str(steps):<22}{statistics.median(values):>9.4f}{max(values):>9.3f}"
              f"{sum(e > 0.02 for e in values) / len(values):>8.0%}{sum(e > 0.1 for e in values) / len(values):>8.0%}"
              f"  {worst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
