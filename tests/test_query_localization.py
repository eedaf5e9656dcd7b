"""003 query-localization tasks: CS1/CS2, K_I/K_II splits, CAS, editing and KN-set interventions."""

import math

import numpy as np
import pytest
import torch

from dknbench.data.schema import Fact
from dknbench.interventions import record_activations, target_positions
from dknbench.localization import AttributionCache, LOCALIZERS
from dknbench.localization.cas import cas_neurons, cas_scores
from dknbench.metrics import consistency_scores, edit_scores
from dknbench.models.loading import tiny_loaded
from dknbench.scoring import AnswerScorer
from dknbench.tasks.base import RunContext
from dknbench.tasks.kn_consistency import class_table, shared_kii
from dknbench.tasks.knowledge_editing import KnowledgeEditingTask, edit_write_vectors, update_delta
from dknbench.tasks.query_common import (fact_query_kns, knowledge_type, neighbour_sets,
                                         split_threshold, top_token_ids)
from dknbench.tasks.query_kn_mapping import QueryKNMappingTask, set_effects

A, B, C, D = (0, 1), (0, 2), (1, 3), (2, 4)


def test_cs1_cs2_hand_made_sets():
    # union {A,B,C,D}; A in all three sets; B in two; C, D once
    sets = [[A, B], [A, B, C], [A, D]]
    cs1, cs2 = consistency_scores(sets)
    assert cs1 == pytest.approx(1 / 4) and cs2 == pytest.approx(2 / 4)
    # disjoint sets: nothing shared -> both 0, the K_II extreme
    assert consistency_scores([[A], [B], [C]]) == (0.0, 0.0)
    # identical sets: K_I extreme
    assert consistency_scores([[A, B], [A, B]]) == (1.0, 1.0)
    assert knowledge_type(0.5, 0.1) == "K_I" and knowledge_type(0.05, 0.1) == "K_II"
    assert knowledge_type(0.1, 0.1) == "K_II" and knowledge_type(float("nan"), 0.1) is None


def test_otsu_split_on_bimodal_cs2():
    rng = np.random.default_rng(0)
    low, high = rng.uniform(0.0, 0.05, 30), rng.uniform(0.4, 0.6, 10)
    cs2 = {f"f{i}": float(v) for i, v in enumerate(np.concatenate([low, high]))}
    thr = split_threshold(list(cs2.values()), "otsu", 0.1)
    assert low.max() <= thr < high.min()
    res = class_table(cs2, thr)
    assert res["R:II"] == pytest.approx(0.75) and res["R:I"] == pytest.approx(0.25)
    assert res["S:II"] == pytest.approx(low.mean()) and res["S:I"] == pytest.approx(high.mean())
    assert res["t"] > 10 and res["p"] < 1e-6
    static = class_table(cs2, split_threshold([], "static", 0.1))
    assert static["R:II"] == pytest.approx(0.75)


def test_shared_kii_across_localizers():
    by_method = {"ig": {"a": 0.0, "b": 0.5, "c": 0.02, "d": float("nan")},
                 "amig": {"a": 0.01, "b": 0.03, "c": 0.5, "d": 0.0}}
    share, n = shared_kii(by_method, {"ig": 0.1, "amig": 0.1})
    assert n == 3 and share == pytest.approx(1 / 3)  # only "a" is K_II under both


def test_neighbour_sets():
    sets = [[A], [A, B, C], [A, B], [B, D]]
    out = neighbour_sets(sets, 0)
    assert out["Union"] == sorted([A, B, C, D])
    assert out["Intersection"] == [B]
    assert out["Refine"] == sorted([A, B])  # A in 2 of the others, B in 3


def test_cas_prefers_consistent_neurons():
    # (0,0): 1.0 for every query (mean 1); (0,1): 6.0 once, then 0 (mean 2, std 2.83); (0,2): 0.1
    scores = [np.array([[1.0, 6.0, 0.1]]), np.array([[1.0, 0.0, 0.1]]), np.array([[1.0, 0.0, 0.1]])]
    cas = cas_scores(scores)
    assert cas[0, 0] == pytest.approx(0.7)
    assert cas[0, 1] == pytest.approx(0.7 * 2.0 - 0.3 * np.std([6.0, 0, 0]))  # ≈ 0.551
    assert cas[0, 1] < cas[0, 0]  # the higher mean loses to the consistent neuron
    assert cas_neurons(scores) == [(0, 0), (0, 1)]  # threshold 0.3·0.7 = 0.21
    assert cas_neurons(scores, threshold=0.8) == [(0, 0)]  # 0.56 > 0.551
    assert "cas" in LOCALIZERS


def _tiny(family="gpt2"):
    lm = tiny_loaded(family)
    return lm, AnswerScorer(lm)


def _snapshot(lm):
    return {k: v.detach().clone() for k, v in lm.model.state_dict().items()}


def _same(lm, snap):
    return all(torch.equal(v, snap[k]) for k, v in lm.model.state_dict().items())


QUERY = "The capital of France is [Y]."


def _logits(lm, scorer, query=QUERY):
    enc = scorer.encode(query, "Paris")
    ids, mask, targets = scorer.collate([enc])
    with torch.no_grad():
        return scorer.logits(ids, mask, targets)[0, targets[0]].clone()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_erasing_all_mlp_neurons_drives_erasure_rel_to_one(family):
    lm, scorer = _tiny(family)
    adapter = lm.adapter
    every = [(l, i) for l in range(adapter.n_layers) for i in range(adapter.n_neurons)]
    base = top_token_ids(scorer, [QUERY])[0]
    with edit_write_vectors(adapter, every, "erasure"):
        erased_base = top_token_ids(scorer, [QUERY])[0]
    obj = next(t for t in range(5, 300) if t not in (base, erased_base))
    # construct a model whose MLPs carry the fact: push E(obj) through the last layer's neurons
    last = adapter.n_layers - 1
    enc = scorer.encode(QUERY, "x")
    ids, mask, targets = scorer.collate([enc])
    with record_activations(adapter, [last]) as rec, target_positions(targets), torch.no_grad():
        lm.model(input_ids=ids, attention_mask=mask)
    acts = rec[last][0]
    signs = torch.sign(acts)
    emb = lm.model.get_output_embeddings().weight.detach()[obj]
    part = [p for p in adapter.neuron_params(last) if p.role == "write"][0]
    with torch.no_grad():
        for n in range(adapter.n_neurons):
            push = 20.0 * signs[n] * emb / max(float(acts.abs().sum()), 1e-6) * 10
            if part.axis == 0:
                part.param.data[n] += push.to(part.param.dtype)
            else:
                part.param.data[:, n] += push.to(part.param.dtype)
    assert top_token_ids(scorer, [QUERY])[0] == obj  # the model now "knows" obj
    snap, logits = _snapshot(lm), _logits(lm, scorer)
    with edit_write_vectors(adapter, every, "erasure"):
        after = top_token_ids(scorer, [QUERY])[0]
    s = edit_scores([after], [obj], [], [], [], [], operation="erasure")
    assert s.reliability == 1.0
    assert _same(lm, snap) and torch.equal(_logits(lm, scorer), logits)


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_lambda_update_moves_top_prediction_to_new_object(family):
    lm, scorer = _tiny(family)
    adapter = lm.adapter
    old = top_token_ids(scorer, [QUERY])[0]
    new = next(t for t in range(5, 300) if t != old)
    enc = scorer.encode(QUERY, "x")
    ids, mask, targets = scorer.collate([enc])
    last = adapter.n_layers - 1
    with record_activations(adapter, [last]) as rec, target_positions(targets), torch.no_grad():
        lm.model(input_ids=ids, attention_mask=mask)
    # neurons firing positively at the target: their write vectors are added with weight > 0
    chosen = [(last, int(i)) for i in torch.nonzero(rec[last][0] > 0).flatten().tolist()]
    assert chosen
    snap = _snapshot(lm)
    # λ = 2 as in 003; tiny random embeddings are small, so the constructed case scales them
    delta = update_delta(lm, old, new, 2.0, 2.0) * 500
    with edit_write_vectors(adapter, chosen, "update", delta):
        moved = top_token_ids(scorer, [QUERY])[0]
    assert moved == new
    s = edit_scores([moved], [new], [], [], [], [], operation="update")
    assert s.reliability == 1.0
    assert _same(lm, snap) and top_token_ids(scorer, [QUERY])[0] == old


def test_edits_and_activation_interventions_are_undone_even_on_error():
    lm, scorer = _tiny("llama")
    snap, logits = _snapshot(lm), _logits(lm, scorer)
    neurons = [(0, 1), (1, 5), (2, 7)]
    with pytest.raises(RuntimeError):
        with edit_write_vectors(lm.adapter, neurons, "erasure"):
            assert not _same(lm, snap)
            raise RuntimeError("boom")
    assert _same(lm, snap)
    set_effects(scorer, lm.adapter, QUERY, "Paris", neurons)
    assert _same(lm, snap) and torch.equal(_logits(lm, scorer), logits)


def _ctx(lm, facts, options, tmp_path, methods=("ig",)):
    return RunContext(config=None, options=options, methods=list(methods), lm=lm, seed=0,
                      output=tmp_path, facts=facts, cache=AttributionCache(tmp_path / "cache"))


FACTS = [
    Fact(id="f1", relation="capital_of", subject="France", object="Paris",
         queries=["The capital of France is [Y].", "France's capital city is [Y].",
                  "The capital city of France is [Y]."], wrong_object="Rome"),
    Fact(id="f2", relation="language", subject="Brazil", object="Portuguese",
         queries=["The official language of Brazil is [Y].", "People in Brazil speak [Y]."]),
    Fact(id="f3", relation="currency", subject="Japan", object="yen",
         queries=["The currency of Japan is the [Y].", "Japan pays in [Y]."]),
]


def test_editing_task_runs_a_fact_and_leaves_the_model_unchanged(tmp_path):
    lm, _ = _tiny("gpt2")
    options = {"max_queries": 3, "edit_queries": 0, "lambda1": 2.0, "lambda2": 2.0, "cas_beta1": 0.7,
               "cas_beta2": 0.3, "cas_threshold": 0.3, "n_locality": 2, "ppl_rows": 2, "ppl_max_tokens": 16,
               "wikitext_min_words": 20, "wikitext_source": str(tmp_path / "missing"), "static_threshold": 0.1,
               "split": "static", "steps": 4, "tau": 0.2, "engine": "auto"}
    ctx = _ctx(lm, FACTS, options, tmp_path)
    snap = _snapshot(lm)
    with pytest.warns(UserWarning, match="WikiText-2"):
        task = KnowledgeEditingTask(ctx)
        task.prepare()
    rows = task.run_fact(FACTS[0], 0)
    assert _same(lm, snap)
    row = rows[0]
    assert row["warnings"] == ["wikitext_missing"] and row["n_locality"] == 2
    done = [e for e in row["edits"] if not e["empty"]]
    assert {e["set"] for e in done} >= {"local", "global"}
    assert {e["op"] for e in done} == {"erasure", "update"}
    for e in done:
        assert 0 <= e["rel"] <= 1 and 0 <= e["gen"] <= 1 and 0 <= e["loc"] <= 1 and e["dppl"] is None
    summary = task.summarize(rows, tmp_path)
    assert summary.tables["warnings"] == [{"warning": "wikitext_missing", "facts": 1}]
    assert any(r["edits"] > 0 for r in summary.tables["editing"])


def test_query_kn_mapping_task_on_tiny_model(tmp_path):
    lm, _ = _tiny("llama")
    options = {"max_queries": 3, "positions": "target", "static_threshold": 0.1, "split": "static",
               "outlier_limit": 9.0, "steps": 4, "tau": 0.2, "engine": "auto"}
    ctx = _ctx(lm, FACTS, options, tmp_path)
    task = QueryKNMappingTask(ctx)
    snap = _snapshot(lm)
    rows = task.run_fact(FACTS[0], 0)
    assert _same(lm, snap)
    effects = rows[0]["effects"]
    assert len(effects) == 3 and set(effects[0]) == {"Self", "Union", "Intersection", "Refine"}
    located, cs1, cs2 = fact_query_kns(ctx, "ig", FACTS[0], 3)
    assert rows[0]["cs2"] == cs2 or (math.isnan(cs2) and math.isnan(rows[0]["cs2"]))
    summary = task.summarize(rows, tmp_path)
    assert summary.figures == ["query_kn_mapping.png"] and (tmp_path / "query_kn_mapping.png").is_file()


def test_erasure_on_known_counts_only_queries_answered_right_before():
    from dknbench.tasks.knowledge_editing import erasure_on_known

    o, x = 7, 9  # the object's first token, and another token
    before, after = [o, x, o], [x, x, o]  # query 1 was never right; query 2 survives the edit
    known = erasure_on_known("erasure", 0, [1, 2], before, after, [o, o, o])
    assert known == {"rel_known": 1.0, "gen_known": 0.0}  # unconditioned Gen would be 1 − 1/2 = 0.5
    s = edit_scores([after[0]], [o], [after[1], after[2]], [o, o], [], [], operation="erasure")
    assert s.generalization == 0.5
    assert erasure_on_known("erasure", 1, [0, 2], before, after, [o, o, o])["rel_known"] is None
    assert erasure_on_known("update", 0, [1, 2], before, after, [o, o, o]) == {"rel_known": None, "gen_known": None}


def test_editing_summary_names_conditioned_and_unconditioned_erasure_apart(tmp_path):
    edit = lambda rel, rel_known: {"query_index": 0, "set": "local", "op": "erasure", "n_neurons": 2, "empty": False,
                                   "rel": rel, "gen": 1.0, "loc": 1.0, "avg": 1.0, "dppl": None,
                                   "rel_known": rel_known, "gen_known": None}
    rows = [{"method": "ig", "cs2": 0.5, "edits": [edit(1.0, None)], "warnings": []},  # never known: "erased"
            {"method": "ig", "cs2": 0.5, "edits": [edit(0.0, 0.0)], "warnings": []}]  # known, edit failed
    options = {"static_threshold": 0.1, "split": "static"}
    summary = KnowledgeEditingTask(_ctx(None, [], options, tmp_path)).summarize(rows, tmp_path)
    get = lambda name: next(r for r in summary.metrics if r["metric"] == name and r["group"] == "K_I/local/erasure")
    assert get("Rel")["value"] == 0.5 and get("Rel")["n"] == 2
    assert get("Rel_known")["value"] == 0.0 and get("Rel_known")["n"] == 1


def test_locality_draws_from_the_whole_fact_set(tmp_path):
    lm, _ = _tiny("gpt2")
    options = {"n_locality": 3, "lambda1": 2.0, "lambda2": 2.0}
    ctx = _ctx(lm, FACTS[:1], options, tmp_path)  # the run holds one fact (a --limit 1 run)
    ctx.dataset = "builtin"
    picked = KnowledgeEditingTask(ctx).locality_queries(FACTS[0], 0)
    assert len(picked) == 3
    assert not set(picked) & {q for f in FACTS for q in f.queries}


def test_a_fact_with_one_usable_query_is_skipped_before_any_attribution_or_perplexity(tmp_path, monkeypatch):
    from dknbench.localization.locate import KNLocator
    from dknbench.tasks import knowledge_editing
    from dknbench.tasks.base import SkipFact

    lm, _ = _tiny("gpt2")
    options = {"max_queries": 3, "edit_queries": 0, "lambda1": 2.0, "lambda2": 2.0, "cas_beta1": 0.7,
               "cas_beta2": 0.3, "cas_threshold": 0.3, "n_locality": 2, "ppl_rows": 2, "ppl_max_tokens": 16,
               "wikitext_min_words": 20, "wikitext_source": str(tmp_path / "missing"), "static_threshold": 0.1,
               "split": "static", "steps": 4, "tau": 0.2, "engine": "auto"}
    lonely = Fact(id="f9", relation="capital_of", subject="Italy", object="Rome",
                  queries=["The capital of Italy is [Y].", "Italy [Y] has no slot at the end and [Y] two."])
    with pytest.warns(UserWarning, match="WikiText-2"):
        task = KnowledgeEditingTask(_ctx(lm, [*FACTS, lonely], options, tmp_path))
        task.prepare()
    task._wikitext = ["some text to score " * 5]  # a perplexity would be computed if reached

    def paid(*a, **k):
        raise AssertionError("work done for a fact that is skipped")

    monkeypatch.setattr(KNLocator, "localize", paid)
    monkeypatch.setattr(knowledge_editing, "perplexity", paid)
    monkeypatch.setattr(task, "locality_queries", paid)
    with pytest.raises(SkipFact, match="fewer_than_2_queries"):
        task.run_fact(lonely, 3)


def test_kn_consistency_shares_have_a_ci_inside_0_1_and_pairable_per_fact_values(tmp_path, isolated_cache):
    """Issue 32.6: CS1 and CS2 are shares; their CI is the t interval cut to [0, 1] and says so.
    Per-fact values carry fact ids, so the leaderboard compares methods on the same facts."""
    import json

    from dknbench.cli import main
    from dknbench.stats import clipped_mean_ci

    out = tmp_path / "run"
    assert main(["run", "--task", "kn-consistency", "--method", "ig", "--model", "tiny-gpt2", "--limit", "4",
                 "--set", "steps=2", "--output", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for name in ("CS1", "CS2"):
        record = next(m for m in summary["metrics"] if m["metric"] == name)
        values = summary["per_fact"]["ig"][name]
        assert isinstance(values, dict) and len(values) == record["n"] >= 2
        expected = clipped_mean_ci(list(values.values()), 0.0, 1.0)
        assert (record["value"], record["ci_low"], record["ci_high"]) == pytest.approx(tuple(expected))
        assert 0.0 <= record["ci_low"] <= record["ci_high"] <= 1.0 and record["ci_method"] == "t, clipped"
