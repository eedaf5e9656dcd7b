"""Ray at the issue's scale: 50 facts on 2 local Ray workers give exactly the local run's per-fact
results and the same aggregate (tiny model, 2 IG steps, 1 query per fact, so it stays fast)."""

import json

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (optional extra: pip install 'dknbench[ray]')")
pytestmark = pytest.mark.slow  # Ray workers start in tens of seconds

from conftest import fact_records  # noqa: E402
from dknbench.harness.runner import RunSpec, run  # noqa: E402

N_FACTS = 50


def _spec(output, cache, executor):
    return RunSpec(task="kn-localization", methods=["ig"], model="tiny-gpt2", limit=N_FACTS, seed=5,
                   overrides=["steps=2", "max_queries=1", "known_only=false"], output=str(output), cache_dir=str(cache),
                   executor=executor, quiet=True)


def _facts(output):
    """Each fact record less its timing ("seconds"), which no two runs share."""
    return {name: {k: v for k, v in record.items() if k != "seconds"} for name, record in fact_records(output).items()}


def test_ray_50_facts_two_workers_equal_local(tmp_path):

    local = tmp_path / "local"
    local_summary = run(_spec(local, tmp_path / "cache-local", "local"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert ray.cluster_resources()["CPU"] == 2  # two actors: one per CPU of this local cluster
        remote = tmp_path / "ray"
        # a cache of its own, so the workers compute every attribution themselves
        remote_summary = run(_spec(remote, tmp_path / "cache-ray", "ray"))
    finally:
        ray.shutdown()
    local_facts, ray_facts = _facts(local), _facts(remote)
    assert len(local_facts) == N_FACTS and ray_facts.keys() == local_facts.keys()
    assert ray_facts == local_facts
    assert sum(bool(f.get("rows")) for f in ray_facts.values()) > N_FACTS // 2  # most facts produced rows
    # the aggregate too (figures are paths inside each run's own folder)
    got, expected = (json.loads(s.read_text()) for s in (remote_summary, local_summary))
    for key in ("metrics", "tables", "comparisons", "per_fact", "skipped"):
        assert got[key] == expected[key], key
