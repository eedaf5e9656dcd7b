"""The exact cuts of issue 29: each fast path equals the plain path it replaces, on every tiny family.

* Suppression (SuppressionScorer: GCR's k-subsets, the functional filter) starting at each set's
  lowest suppressed layer over the clean run's hidden states, against full forwards with the
  suppression hooks.
* Enhancement (x2) the same way (kn-localization, query-kn-mapping, perturbation-robustness's values),
  weight edits from the edit's lowest layer at every position (perturbation-robustness's weights),
  ΔPPL after knowledge-editing's edits, and activation reads that stop after the highest layer read
  (fact-checking, knowledge-synapses); end to end, fact files with and without the cuts.
"""

import contextlib

import pytest
import torch

from conftest import ALL_CAUSAL, ALL_FAMILIES, family_line, one_per_kind
from dknbench.interventions import suppress_activations
from dknbench.scoring import AnswerScorer

QUERIES = ["The capital of France is [Y].", "France's capital city is [Y]."]
ANSWER = "Paris"


def _sets(n_layers: int) -> list:
    """Empty, layer-0, single upper-layer, multi-layer and top-layer-only sets, mixed in one chunk."""
    top = n_layers - 1
    return [[], [(0, 1)], [(top, 3)], [(1, 2), (top, 5)], [(1, i) for i in range(12)],
            [(0, 5), (top, 5)], [(top, 7), (1, 7)], [(top, i) for i in range(6)]]


@pytest.mark.parametrize("mode", ["first", "joint"])
@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_suppression_from_the_lowest_layer_equals_full_forwards(tiny, family, mode, monkeypatch):
    from dknbench.tasks.dkn_common import SuppressionScorer

    lm = tiny(family)
    if mode == "joint" and lm.is_masked_lm:
        pytest.skip("joint scoring is for causal LMs")
    monkeypatch.setattr(SuppressionScorer, "CHUNK", 5)  # a chunk boundary inside the sets
    scorer = AnswerScorer(lm, mode=mode)
    answer = "Paris city" if mode == "joint" else ANSWER
    sets = _sets(lm.adapter.n_layers)
    cut = SuppressionScorer(scorer, lm.adapter, QUERIES, answer)
    assert cut.lowest_layer == (lm.adapter.fast_path and not lm.is_masked_lm)
    fast = cut.prob_suppressing_many(sets)
    encoded = [scorer.encode(q, answer) for q in QUERIES]
    for neurons, value in zip(sets, fast):
        with suppress_activations(lm.adapter, neurons):
            plain = float(scorer.probs_encoded(encoded).mean())
        assert value == pytest.approx(plain, rel=1e-6, abs=1e-12), neurons
    assert len({f"{v:.5e}" for v in fast}) > 4  # the sets really change the answer's Prob


# the cut is the fast path's (blocks that run as a staircase over a shared cache): its families of each kind
@pytest.mark.parametrize("family", one_per_kind([f for f in ALL_CAUSAL if family_line(f).fast]))
def test_the_lowest_layer_start_runs_no_block_below_it(tiny, family):
    """The cut is real: a set confined to the top layer runs only the top block over the tail."""
    from dknbench.tasks.dkn_common import SuppressionScorer

    lm = tiny(family)
    scorer = AnswerScorer(lm)
    cut = SuppressionScorer(scorer, lm.adapter, QUERIES[:1], ANSWER)
    top = lm.adapter.n_layers - 1
    calls = {l: 0 for l in range(lm.adapter.n_layers)}
    handles = [lm.adapter.blocks[l].register_forward_pre_hook(
        lambda m, a, l=l: calls.__setitem__(l, calls[l] + 1)) for l in calls]
    try:
        cut.prob_suppressing([(top, 1), (top, 2)])
    finally:
        for h in handles:
            h.remove()
    assert calls[top] == 1 and all(calls[l] == 0 for l in range(top))


TEXTS = ["The capital of France is Paris. Rome is located in Italy.",
         "Mozart was a composer born in Austria. The day after Monday is Tuesday.", "A"]


@pytest.mark.parametrize("operation", ["erasure", "update"])
@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_edited_perplexity_from_the_lowest_layer_equals_full_forwards(tiny, family, operation):
    """knowledge-editing's ΔPPL: a weight edit changes nothing below its lowest layer, so each text
    starts there from the clean run's block outputs."""
    from dknbench.tasks.knowledge_editing import (clean_states, edit_write_vectors, lowest_layer,
                                                  perplexity, update_delta)

    lm = tiny(family)
    if family == "phi3":
        pytest.skip("phi3's fused gate/up matrix: weight edits are refused for it")
    clean = clean_states(lm, TEXTS, 16)
    assert (clean is None) == (lm.is_masked_lm or not lm.adapter.fast_path)
    top = lm.adapter.n_layers - 1
    delta = update_delta(lm, 5, 9, 2.0, 2.0) if operation == "update" else None
    values = []
    for neurons in ([(1, 3), (top, 4)], [(top, i) for i in range(8)], [(0, 2), (top, 2)]):
        with edit_write_vectors(lm.adapter, neurons, operation, delta):
            plain = perplexity(lm, TEXTS, 16)
            cut = perplexity(lm, TEXTS, 16, clean, lowest_layer(neurons))
        assert cut == pytest.approx(plain, rel=1e-6), neurons
        values.append(plain)
    unedited = perplexity(lm, TEXTS, 16)
    assert all(v != unedited for v in values)  # every edit changes the PPL (6-digit text collided on one draw)
    # the unedited perplexity from the clean run's last block (knowledge-editing's PPL before)
    assert perplexity(lm, TEXTS, 16, clean, lm.adapter.n_layers) == pytest.approx(unedited, rel=1e-6)


def test_openmp_threads_wait_passively_unless_the_user_chose():
    """Not a cut in numbers: the wait policy default (benchmarks/threads.py measured spinning
    threads burning 3-4x the CPU on a loaded box). Set before torch loads OpenMP; a user's value wins."""
    import os
    import subprocess
    import sys

    code = "import dknbench, os, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"
    late = "import torch, os; import dknbench; print(os.environ.get('OMP_WAIT_POLICY'))"
    env.pop("OMP_WAIT_POLICY")
    out = subprocess.run([sys.executable, "-c", late], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"  # too late to matter: left alone rather than half-applied


def _fact_files(folder):
    import json

    out = {}
    for p in sorted((folder / "facts").glob("*.json")):
        record = json.loads(p.read_text())
        # the fact's timing differs run to run, and rows_hash hashes the floats' last bits
        record.pop("seconds", None), record.pop("rows_hash", None)
        out[p.name] = record
    return out


def _assert_close(a, b):
    """Equal fact files: every non-float field (neuron sets, DKNs, counts, skip reasons) identical,
    every float within 1e-6 absolute or 1e-3 relative. The Probs themselves agree to 1e-6 relative
    (the tests above, and the log of every suppression below); fact files also hold ratios of small
    Prob differences (ΔProb, GCR and its random floor: a tiny random model's Probs barely move when
    a few neurons are suppressed), which amplify the float-order error up to ~1000x."""
    floats = []

    def walk(x, y, path):
        if isinstance(x, float) or isinstance(y, float):
            floats.append((path, x, y))
        elif isinstance(x, dict):
            assert x.keys() == y.keys(), path
            for k in x:
                walk(x[k], y[k], f"{path}.{k}")
        elif isinstance(x, list):
            assert len(x) == len(y), path
            for i, (p, q) in enumerate(zip(x, y)):
                walk(p, q, f"{path}[{i}]")
        else:
            assert x == y, path

    walk(a, b, "$")
    bad = [(path, x, y) for path, x, y in floats if not y == pytest.approx(x, rel=1e-3, abs=1e-6)]
    assert not bad, f"{len(bad)} of {len(floats)} floats differ, e.g. {bad[:3]}"
    assert floats, "nothing to compare"


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_gcr_fact_files_equal_with_and_without_the_lowest_layer_start(family, tmp_path, isolated_cache,
                                                                      monkeypatch):
    """End to end: gcr (k-subset suppressions and the functional filter) writes the same fact files."""
    from dknbench.cli import main
    from dknbench.tasks.dkn_common import SuppressionScorer

    def run(name):
        out = tmp_path / name
        assert main(["run", "--task", "gcr", "--method", "ntc,amig-pairs", "--model", f"tiny-{family}",
                     "--limit", "3", "--set", "known_only=false", "--set", "localizer=ig", "--set", "steps=2",
                     "--output", str(out), "--quiet"]) == 0
        return _fact_files(out)

    calls = []
    original = SuppressionScorer.prob_suppressing_many

    def logged(self, neuron_sets):  # every suppression the task asks for, and its Prob
        values = original(self, neuron_sets)
        calls.append((self.lowest_layer, [sorted(map(tuple, s)) for s in neuron_sets], values))
        return values

    monkeypatch.setattr(SuppressionScorer, "prob_suppressing_many", logged)
    cut = run("cut")
    cut_calls, calls[:] = list(calls), []
    monkeypatch.setattr(SuppressionScorer, "LOWEST_LAYER", False)
    plain = run("plain")
    assert all(c[0] for c in cut_calls) and not any(c[0] for c in calls)  # both paths really ran
    assert [c[1] for c in cut_calls] == [c[1] for c in calls]  # the same sets, in the same order
    assert sum(len(c[1]) for c in calls) > 20
    for (_, _, fast), (_, _, slow) in zip(cut_calls, calls):
        assert fast == pytest.approx(slow, rel=1e-6, abs=1e-12)
    assert cut.keys() == plain.keys()
    _assert_close(plain, cut)


def test_knowledge_editing_fact_files_equal_with_and_without_the_lowest_layer_ppl(tmp_path, isolated_cache,
                                                                                 monkeypatch):
    from conftest import shared_path
    from dknbench.cli import main
    from dknbench.tasks import knowledge_editing

    wikitext = shared_path("wikitext2")

    def run(name):
        out = tmp_path / name
        assert main(["run", "--task", "knowledge-editing", "--method", "ig", "--model", "tiny-gpt2",
                     "--limit", "2", "--set", "steps=2", "--set", "ppl_rows=2", "--set", "ppl_max_tokens=32",
                     "--set", f"wikitext_source={wikitext}", "--output", str(out), "--quiet"]) == 0
        return _fact_files(out)

    cut = run("cut")
    monkeypatch.setattr(knowledge_editing, "clean_states", lambda *a, **k: None)
    _plain_forwards(monkeypatch)  # the top-1 reads after each edit too
    plain = run("plain")
    dppl = [e["dppl"] for f in cut.values() for r in f.get("rows", []) for e in r.get("edits", [])
            if e.get("dppl") is not None]
    assert dppl, "no edit measured a ΔPPL: the comparison would be empty"
    _assert_close(plain, cut)


# --- issue 29, the remaining paths: enhancement, weight edits, kn-localization, perturbation-robustness


def _plain_reads(scorer, encoded):
    """(Prob, top-1 at the target is the answer's first token) per query from one hooked full forward."""
    ids, mask, targets = scorer.collate(encoded)
    with torch.no_grad():
        logits = scorer.logits(ids, mask, targets)
    probs = scorer.answer_log_probs(logits, encoded).exp().double().numpy()
    top = logits[torch.arange(len(encoded)), targets].argmax(-1).tolist()
    return probs, [t == e.answer_ids[0] for t, e in zip(top, encoded)]


@pytest.mark.parametrize("factor", [2.0, 0.0])
@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_scaling_from_the_lowest_layer_equals_full_forwards_per_query(tiny, family, factor):
    """kn-localization's enhance (x2) / suppress (x0) and perturbation-robustness's values
    interventions: each query's Prob and top-1 from the lowest layer equal the hooked full forward."""
    from dknbench.interventions import enhance_activations, suppress_activations
    from dknbench.tasks.dkn_common import SuppressionScorer

    lm = tiny(family)
    scorer = AnswerScorer(lm)
    sets = _sets(lm.adapter.n_layers)
    cut = SuppressionScorer(scorer, lm.adapter, QUERIES, ANSWER)
    encoded = [scorer.encode(q, ANSWER) for q in QUERIES]
    reads = cut.per_query(sets, factor)
    assert cut.prob_scaling_many(sets, factor) == [float(p.mean()) for p, _ in reads]
    for neurons, (probs, top1) in zip(sets, reads):
        edit = (lambda a, n: enhance_activations(a, n, factor=2.0)) if factor == 2.0 else suppress_activations
        with edit(lm.adapter, neurons):
            plain, plain_top1 = _plain_reads(scorer, encoded)
        assert probs == pytest.approx(plain, rel=1e-6, abs=1e-12), neurons
        assert list(top1) == plain_top1, neurons
    assert len({f"{p.mean():.5e}" for p, _ in reads}) > 4  # the sets really change the answer's Prob


@pytest.mark.parametrize("operation", ["suppress", "enhance"])
@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_weight_edits_from_the_lowest_layer_equal_full_forwards(tiny, family, operation):
    """perturbation-robustness's weights interventions: with the edit in place, each query starts
    at the edit's lowest layer from the clean run's block outputs at every position."""
    from dknbench.interventions import enhance_weights, suppress_weights
    from dknbench.tasks.dkn_common import SuppressionScorer

    lm = tiny(family)
    if family == "phi3":
        pytest.skip("phi3's fused gate/up matrix: weight edits are refused for it")
    scorer = AnswerScorer(lm)
    cut = SuppressionScorer(scorer, lm.adapter, QUERIES, ANSWER)
    encoded = [scorer.encode(q, ANSWER) for q in QUERIES]
    top = lm.adapter.n_layers - 1
    edit = suppress_weights if operation == "suppress" else enhance_weights
    unedited = _plain_reads(scorer, encoded)[0]
    for neurons in ([(1, 3), (top, 4)], [(top, i) for i in range(8)], [(0, 2), (top, 2)]):
        with edit(lm.adapter, neurons):
            plain, plain_top1 = _plain_reads(scorer, encoded)
        probs, top1 = cut.per_query_edited(lambda: edit(lm.adapter, neurons), min(l for l, _ in neurons))
        assert probs == pytest.approx(plain, rel=1e-6, abs=1e-12), neurons
        assert list(top1) == plain_top1, neurons
        assert not plain == pytest.approx(unedited, rel=1e-9)  # the edit changes the Probs


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_edited_logits_from_the_lowest_layer_equal_full_forwards(tiny, family):
    """The edited-logits start (perturbation-robustness's weights interventions) under knowledge-editing's
    erasure and update edits: target logits within 1e-5 of the full forward's, top-1 ids identical."""
    from dknbench.tasks.dkn_common import SuppressionScorer
    from dknbench.tasks.knowledge_editing import edit_write_vectors, update_delta
    from dknbench.tasks.query_common import top_token_ids

    lm = tiny(family)
    if family == "phi3":
        pytest.skip("phi3's fused gate/up matrix: weight edits are refused for it")
    scorer = AnswerScorer(lm)
    queries = QUERIES + ["Rome is located in [Y].", "The day after Monday is [Y]."]
    encoded = [scorer.encode(q, "x") for q in queries]
    cut = SuppressionScorer(scorer, lm.adapter, None, None, encoded=encoded)

    def target_logits(reads):
        return torch.stack([logits[0, at] for _, logits, at in reads])

    unedited = target_logits(cut.edited_logits(contextlib.nullcontext, 0))
    top = lm.adapter.n_layers - 1
    for operation, neurons in (("erasure", [(1, 3), (top, 4)]), ("update", [(top, i) for i in range(8)]),
                               ("update", [(0, 2), (top, 2)]), ("update", [(1, i) for i in range(16)])):
        delta = update_delta(lm, 5, 9, 50.0, 50.0) if operation == "update" else None
        with edit_write_vectors(lm.adapter, neurons, operation, delta):
            plain = top_token_ids(scorer, queries)
            ids, mask, targets = scorer.collate(encoded)
            with torch.no_grad():
                plain_logits = scorer.logits(ids, mask, targets)[torch.arange(len(encoded)), targets]

        def edit():
            return edit_write_vectors(lm.adapter, neurons, operation, delta)

        lowest = min(l for l, _ in neurons)
        fast_logits = target_logits(cut.edited_logits(edit, lowest))
        assert fast_logits.argmax(-1).tolist() == plain, (operation, neurons)
        scale = float(plain_logits.abs().max())
        assert float((fast_logits - plain_logits).abs().max()) <= 1e-5 * scale, (operation, neurons)
        # the edit changes the logits (where the start is cut: a wrong start would show)
        assert not cut.lowest_layer or float((plain_logits - unedited).abs().max()) > 1e-4 * scale


def _plain_forwards(monkeypatch):
    """SuppressionScorer on hooked full forwards: no prefix cache, no lowest-layer start."""
    from dknbench.tasks.dkn_common import SuppressionScorer

    monkeypatch.setattr(SuppressionScorer, "LOWEST_LAYER", False)
    monkeypatch.setattr(SuppressionScorer, "_context", lambda self, encoded: (None, None))


@pytest.mark.parametrize("task", ["kn-localization", "query-kn-mapping"])
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_enhance_suppress_fact_files_equal_with_and_without_the_lowest_layer_start(family, task, tmp_path,
                                                                                  isolated_cache, monkeypatch):
    from dknbench.cli import main

    def run(name):
        out = tmp_path / name
        gate = ["--set", "known_only=false"] if task == "kn-localization" else []
        assert main(["run", "--task", task, "--method", "ig,random", "--model", f"tiny-{family}",
                     "--limit", "3", *gate, "--set", "steps=2", "--output", str(out), "--quiet"]) == 0
        return _fact_files(out)

    cut = run("cut")
    _plain_forwards(monkeypatch)
    plain = run("plain")
    assert cut.keys() == plain.keys() and len(cut) == 3
    _assert_close(plain, cut)
    rows = [r for f in cut.values() for r in f.get("rows", [])]
    if task == "kn-localization":
        assert any(r["rel_enhanced"] != r["rel_before"] for r in rows)  # the interventions did something
    else:
        assert any(q[name]["sup"] != 0.0 for r in rows for q in r["effects"] for name in q)


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_perturbation_fact_files_equal_with_and_without_the_lowest_layer_start(family, tmp_path,
                                                                              isolated_cache, monkeypatch):
    from dknbench.cli import main

    def run(name):
        out = tmp_path / name
        assert main(["run", "--task", "perturbation-robustness", "--method", "ntc,amig-pairs",
                     "--model", f"tiny-{family}", "--limit", "4", "--set", "localizer=ig",
                     "--set", "steps=2", "--set", "intervention=both",
                     "--output", str(out), "--quiet"]) == 0
        return _fact_files(out)

    from dknbench.tasks.dkn_common import SuppressionScorer

    edited, original = [], SuppressionScorer.per_query_edited

    def logged(self, edit, lowest):  # the weight edits really took both paths
        edited.append((self.lowest_layer, lowest))
        return original(self, edit, lowest)

    monkeypatch.setattr(SuppressionScorer, "per_query_edited", logged)
    cut = run("cut")
    cut_edited, edited[:] = list(edited), []
    _plain_forwards(monkeypatch)
    plain = run("plain")
    assert cut_edited and all(flag for flag, _ in cut_edited) and edited and not any(flag for flag, _ in edited)
    assert family != "gpt2" or any(low > 0 for _, low in cut_edited)  # a start above layer 0 was compared
    assert cut.keys() == plain.keys()
    rows = [r for f in cut.values() for r in f.get("rows", []) if r.get("has_dkn")]
    assert rows, "no fact with a DKN: nothing intervened"
    _assert_close(plain, cut)


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_activation_reads_stop_after_the_highest_read_layer(tiny, family, monkeypatch):
    """fact-checking's object activations and knowledge-synapses' KN activations: the forward stops
    after the highest layer read (no upper block, no LM head), and the values are identical."""
    from dknbench.tasks import fact_checking, knowledge_synapses

    lm = tiny(family)
    scorer = AnswerScorer(lm)
    top = lm.adapter.n_layers - 1
    low = [(0, 3), (0, 9), (1, 2)]
    ran = []
    handles = [lm.adapter.blocks[l].register_forward_pre_hook(lambda m, a, l=l: ran.append(l))
               for l in range(lm.adapter.n_layers)]
    try:
        cut = [fact_checking.object_activations(lm, scorer, QUERIES, ANSWER, n) for n in (low, low + [(top, 4)])]
        cut += [knowledge_synapses.kn_mean_activation(lm, scorer, QUERIES[0], ANSWER, n) for n in (low, [(top, 1)])]
        assert top not in ran[: 2 * len(QUERIES)] and max(ran) == top  # the first reads stopped at layer 1
        full_forward = lambda adapter, layer, forward: forward()  # noqa: E731
        monkeypatch.setattr(fact_checking, "run_until", full_forward)
        monkeypatch.setattr(knowledge_synapses, "run_until", full_forward)
        plain = [fact_checking.object_activations(lm, scorer, QUERIES, ANSWER, n) for n in (low, low + [(top, 4)])]
        plain += [knowledge_synapses.kn_mean_activation(lm, scorer, QUERIES[0], ANSWER, n) for n in (low, [(top, 1)])]
    finally:
        for h in handles:
            h.remove()
    assert cut == plain
    assert len(set(plain)) == 4


# --- causal-tracing's restorations start at the restored neuron's layer ---------------------------
def _restorations(lm):
    """One noise draw of the Japan query and neurons on every layer, layer 0 and the top included,
    in no layer order (the cut sorts them and must give each row back its own Prob)."""
    from dknbench.localization import IGEngine
    from dknbench.localization.patching import Corruption

    scorer = AnswerScorer(lm)
    encoded = scorer.encode("The capital of Japan is [Y].", "Tokyo")
    engine = IGEngine(lm, scorer, batch_size=5)  # 5: chunks that mix layer 0 and upper layers
    corruption = Corruption(lm, encoded, "Japan", seed=2)
    clean = engine.target_activations(encoded)
    n = lm.adapter.n_layers
    neurons = [((7 * i) % n, (13 * i) % lm.adapter.n_neurons) for i in range(3 * n + 2)][::-1]
    return engine, encoded, corruption, neurons, clean


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_causal_tracing_restorations_from_their_layer_equal_full_forwards(tiny, family):
    from dknbench.localization.causal_tracing import restored_probs

    lm = tiny(family)
    engine, encoded, corruption, neurons, clean = _restorations(lm)
    cut = restored_probs(engine, encoded, corruption, neurons, clean)
    plain = restored_probs(engine, encoded, corruption, neurons, clean, lowest_layer=False)
    if not (lm.adapter.fast_path and not lm.is_masked_lm):  # the cut is off: the same path, bit for bit
        assert list(cut) == list(plain)
        return
    assert cut == pytest.approx(plain, rel=1e-6, abs=1e-12)
    assert len({f"{p:.5e}" for p in plain}) > 3  # the restorations really move the answer's Prob


@pytest.mark.parametrize("family", one_per_kind([f for f in ALL_CAUSAL if family_line(f).fast]))
def test_causal_tracing_restorations_run_no_block_below_their_layer(tiny, family):
    from dknbench.localization.causal_tracing import restored_probs

    lm = tiny(family)
    engine, encoded, corruption, _, clean = _restorations(lm)
    top = lm.adapter.n_layers - 1
    calls = {l: 0 for l in range(lm.adapter.n_layers)}
    handles = [lm.adapter.blocks[l].register_forward_pre_hook(
        lambda m, a, l=l: calls.__setitem__(l, calls[l] + 1)) for l in calls]
    try:
        restored_probs(engine, encoded, corruption, [(top, 1), (top, 2)], clean)
    finally:
        for h in handles:
            h.remove()
    # one corrupted run of every block (the rows' starting states), then the top block once
    assert calls[top] == 2 and all(calls[l] == 1 for l in range(top))
