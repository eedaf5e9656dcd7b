"""Tasks with a post-facts phase (knowledge-update's fine-tuning, fact-checking's relation sets
and λ fit) give the local results under Ray with 2 workers: the harness runs the phase once, on
the driver, after every shard has finished."""

import json

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (optional extra: pip install 'dknbench[ray]')")
pytestmark = pytest.mark.slow  # Ray workers start in tens of seconds

from conftest import KU_FAST, fact_records, without_timing  # noqa: E402
from dknbench.harness.runner import RunSpec, run  # noqa: E402


def _facts(output):
    return {name: record["rows"] for name, record in fact_records(output).items()}


def _both(tmp_path, **spec):
    results = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        if executor == "ray":
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            run(RunSpec(output=str(out), cache_dir=str(tmp_path / f"cache-{executor}"),
                        executor=executor, quiet=True, **spec))
        finally:
            if executor == "ray":
                ray.shutdown()
        results[executor] = out
    return results["local"], results["ray"]


def _summary(out):
    data = json.loads((out / "summary.json").read_text())
    return {k: data[k] for k in ("metrics", "tables", "n_facts", "n_used", "skipped")}


def test_knowledge_update_under_ray_equals_local(tmp_path, tnl):
    local, remote = _both(tmp_path, task="knowledge-update", methods=["ntc"], model="tiny-gpt2",
                          dataset=str(tnl), seed=3, overrides=KU_FAST)
    assert _facts(local) == _facts(remote) and len(_facts(remote)) >= 2
    training = [json.loads((out / "training.json").read_text()) for out in (local, remote)]
    assert training[0]["facts"] == training[1]["facts"]
    assert len(training[1]["facts"]) == len(_facts(remote))  # trained on the whole D, not a shard's
    assert without_timing(training[0]["settings"]) == without_timing(training[1]["settings"])
    assert without_timing(_summary(local)) == without_timing(_summary(remote))


def test_fact_checking_under_ray_equals_local(tmp_path):
    facts = tmp_path / "facts.jsonl"
    rows = []
    for relation, pairs in {"capital": [("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"),
                                        ("Spain", "Madrid")],
                            "language": [("France", "French"), ("Japan", "Japanese"),
                                         ("Italy", "Italian"), ("Spain", "Spanish")]}.items():
        for subject, obj in pairs:
            query = (f"The capital of {subject} is [Y]." if relation == "capital"
                     else f"People in {subject} speak [Y].")
            rows.append({"id": f"{relation}:{subject}", "relation": relation, "subject": subject,
                         "object": obj, "queries": [query, query.replace("The ", "Indeed the ", 1)]})
    facts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    local, remote = _both(tmp_path, task="fact-checking", methods=["ntc"], model="tiny-gpt2",
                          dataset=str(facts), seed=3,
                          overrides=["localizer=ig", "steps=3", "tau=0.05", "tau2=0", "max_queries=2"])
    assert _facts(local) == _facts(remote) and len(_facts(remote)) == 8
    roles = {r["role"] for rows in _facts(remote).values() for r in rows}
    assert {"dkn", "eval"} <= roles
    assert _summary(local) == _summary(remote)
