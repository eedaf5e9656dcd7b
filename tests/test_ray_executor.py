"""The Ray executor gives exactly the local executor's per-fact results (tiny model, 2 workers)."""

import json

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (optional extra: pip install 'dknbench[ray]')")
pytestmark = pytest.mark.slow  # Ray workers start in tens of seconds

from conftest import fact_records  # noqa: E402
from dknbench.harness.runner import RunSpec, run  # noqa: E402




def _spec(output, cache, executor):
    return RunSpec(task="kn-localization", methods=["ig"], model="tiny-gpt2", limit=4, seed=3,
                   overrides=["steps=5", "max_queries=2", "known_only=false"], output=str(output),
                   cache_dir=str(cache), executor=executor, quiet=True)


def _facts(output):
    return {name: record["rows"] for name, record in fact_records(output).items()}


def test_ray_matches_local(tmp_path):
    local = tmp_path / "local"
    run(_spec(local, tmp_path / "cache-local", "local"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = tmp_path / "ray"
        # a separate attribution cache: the Ray workers really compute the attributions
        summary = run(_spec(remote, tmp_path / "cache-ray", "ray"))
    finally:
        ray.shutdown()
    assert summary.is_file()
    local_facts, ray_facts = _facts(local), _facts(remote)
    assert len(ray_facts) == 4 and local_facts.keys() == ray_facts.keys()
    assert ray_facts == local_facts
    assert any(rows for rows in ray_facts.values())  # at least one fact produced rows
    run_info = json.loads((remote / "run.json").read_text())
    assert run_info["model_fingerprint"] == json.loads((local / "run.json").read_text())["model_fingerprint"]
    # both workers' cache entries landed in the shared cache folder
    assert len(list((tmp_path / "cache-ray").rglob("*.npy"))) > 0
