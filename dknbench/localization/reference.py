"""The plain integrated-gradients loop every engine path is tested and benchmarked against.

Per layer, per baseline, per step: one sequence, one full forward with the layer's activation at
the target position replaced by the interpolation point, one backward to that point. Nothing is
batched, cached or skipped, so it is slow and obviously right:

    Attr[l, b] = (a_l - b_l) * (1/m) * sum_{k=1..m} dF/dx |_{x = b_l + (k/m)(a_l - b_l)}

(``quadrature="gauss-legendre"``: the nodes alpha_k and weights w_k of ``engine.quadrature_nodes`` in
place of k/m and 1/m.)
"""

from __future__ import annotations

import torch

from ..scoring import AnswerScorer, EncodedQuery


def reference_attribute(lm, encoded: EncodedQuery, baselines: torch.Tensor, steps: int = 20,
                        scorer: AnswerScorer | None = None, activations: torch.Tensor | None = None,
                        layers=None, quadrature: str = "riemann-right") -> torch.Tensor:
    """IG attributions [n_layers, n_baselines, n_neurons], like ``IGEngine.attribute``."""
    from .engine import IGEngine, quadrature_nodes

    alphas, weights, divisor = quadrature_nodes(steps, quadrature)

    scorer = scorer or AnswerScorer(lm)
    adapter = lm.adapter
    if activations is None:
        activations = IGEngine(lm, scorer, steps=steps, path="full").target_activations(encoded)
    layers = range(adapter.n_layers) if layers is None else list(layers)
    ids, mask, _ = scorer.collate([encoded])
    n = len(encoded.answer_ids)
    gold = torch.tensor(encoded.answer_ids, device=ids.device)
    # at least float32, and float64 when the model runs in float64 (a float64 oracle for the engine)
    exact = torch.promote_types(next(lm.model.parameters()).dtype, torch.float32)
    grads = torch.zeros_like(baselines, dtype=exact)
    for layer in layers:
        for b in range(baselines.shape[1]):
            base, act = baselines[layer, b], activations[layer]
            for alpha, weight in zip(alphas, weights):
                point = (base + alpha * (act - base)).to(lm.device).requires_grad_(True)

                def hook(module, args, point=point):
                    hidden = args[0].clone()
                    hidden[0, encoded.target] = point.to(hidden.dtype)
                    return (hidden,) + tuple(args[1:])

                handle = adapter.write_module(layer).register_forward_pre_hook(hook)
                try:
                    logits = lm.model(input_ids=ids, attention_mask=mask).logits
                finally:
                    handle.remove()
                logp = torch.log_softmax(logits[0, encoded.target : encoded.target + n].to(exact), -1)
                prob = logp[torch.arange(n, device=logp.device), gold].sum().exp()
                (grad,) = torch.autograd.grad(prob, point)
                grads[layer, b] += weight * grad.to(exact).cpu()
    return (activations[:, None, :] - baselines) * grads / divisor
