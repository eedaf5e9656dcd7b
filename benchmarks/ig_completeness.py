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

``--kn-sets`` also sets each rule against the last one named, per fact: the KN sets' Jaccard, the layer
holding each side's maximum score (the KN threshold is tau x that maximum) and the largest per-neuron
difference in layer 0 and in the other layers, which shows where the sets' disagreement comes from.

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
TAU = 0.2  # ig's KN threshold: score > TAU x the fact's maximum (SPEC §2)


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


def attribute(lm, scorer, encoded, rule: str, steps: int, baseline):
    """IG scores [layers, neurons] from ``baseline`` with the rule."""
    from dknbench.localization import IGEngine

    return IGEngine(lm, scorer, steps=steps, quadrature=rule).attribute(encoded, baseline[:, None, :])[:, 0]


def completeness_errors(attributions, deltas, prob: float) -> list[float]:
    """Per layer: |sum of the layer's IG - dProb| / max(|dProb|, FLOOR x Prob(a))."""
    return [abs(float(attributions[layer].sum()) - delta) / max(abs(delta), FLOOR * prob)
            for layer, delta in enumerate(deltas)]


def against_reference(scores, reference, tau: float = TAU) -> dict:
    """A rule's scores against the reference rule's: the KN sets' Jaccard (score > tau x the fact's
    maximum, ig's rule), the layer of each side's maximum, and the largest per-neuron difference
    (in units of the reference's maximum) in layer 0 and in the other layers."""
    kns, ref_kns = scores > tau * scores.max(), reference > tau * reference.max()
    union = int((kns | ref_kns).sum())
    diff = (scores - reference).abs() / reference.max()
    return {"jaccard": int((kns & ref_kns).sum()) / union if union else 1.0,
            "max_layer": int(scores.argmax()) // scores.shape[1],
            "ref_max_layer": int(reference.argmax()) // reference.shape[1],
            "layer0_diff": float(diff[0].max()), "other_diff": float(diff[1:].max()) if diff.shape[0] > 1 else 0.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--facts", type=int, default=3, help="the first N built-in facts of the seeded order")
    parser.add_argument("--rules", nargs="+", default=["riemann-right:20", "riemann-right:100", "gauss-legendre:64"])
    parser.add_argument("--baseline", choices=("zero", "uniform"), default="zero")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--kn-sets", action="store_true",
                        help="also set each rule's KN set and scores against the last rule's, per fact")
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
    kn_rows = []
    facts = load_facts("builtin", limit=args.facts, seed=args.seed)
    for number, fact in enumerate(facts, 1):
        encoded = scorer.encode(fact.queries[0], fact.object)
        activations = IGEngine(lm, scorer).target_activations(encoded).cpu()
        baseline = baseline_for(activations, args.baseline, args.seed + number)
        deltas = layer_deltas(lm, scorer, encoded, baseline)
        prob = scorer.probs_encoded([encoded])[0]
        scores = {rule: attribute(lm, scorer, encoded, *rule, baseline) for rule in rules}
        for rule in rules:
            errors[rule] += list(enumerate(completeness_errors(scores[rule], deltas, prob)))
            if args.kn_sets:
                kn_rows.append((fact.id, rule, against_reference(scores[rule], scores[rules[-1]])))
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
    if kn_rows:
        reference = "%s:%d" % rules[-1]
        print(f"\nper fact, against {reference} (KNs: score > {TAU} x max; |diff| in units of {reference}'s max)")
        print(f"{'fact':<28}{'rule':<22}{'KN Jaccard':>11}{'max layer':>10}{'ref max layer':>14}"
              f"{'layer 0 |diff|':>15}{'others |diff|':>14}")
        for fact_id, (rule, steps), row in kn_rows:
            if (rule, steps) == rules[-1]:
                continue
            print(f"{fact_id:<28}{rule + ':' + str(steps):<22}{row['jaccard']:>11.3f}{row['max_layer']:>10}"
                  f"{row['ref_max_layer']:>14}{row['layer0_diff']:>15.3f}{row['other_diff']:>14.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
