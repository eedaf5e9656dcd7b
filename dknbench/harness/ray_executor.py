"""Run the facts of one task on Ray actors (``dknbench run --executor ray``).

The fact indices are sharded round-robin over actors; each actor loads the model once (one GPU
per actor with ``--device cuda`` on a cluster with GPUs, else CPU actors sharing the CPUs), builds the task exactly as the
local executor does (``facts.build_task``) and calls ``facts.run_facts`` on its shard. Results go
to the same per-fact files (``<output>/facts/<index>.json``, written atomically), so a Ray run is
resumable, can be resumed locally and vice versa, and ``finish`` aggregates it the same way.
Per-fact seeds depend on the fact index only, so results equal the local executor's.

The attribution cache is shared between actors through the file system: entries are written with
an atomic rename (``io.atomic_write``), so a reader sees a whole file or none; two actors missing
the same entry at once both compute it and the last rename wins (identical content). On a
multi-node cluster, point ``--cache-dir`` and ``--output`` at a shared file system.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'dknbench[ray]'") from None
    return ray


RAY_CONNECT_TIMEOUT_S = 10.0


def check_reachable(address: str, timeout: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """Fail in seconds when nothing listens at a Ray ``host:port`` (ray.init itself retries the
    GCS forever). ``auto`` and addresses without a port are left to Ray."""
    import socket

    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConfigError(f"--address {address}: cannot reach a Ray cluster there "
                          f"({error.strerror or error}; waited at most {timeout:g} s); start one with `ray start --head` or check the address") from None


def _init(ray, spec, num_cpus: int | None):
    if ray.is_initialized():
        return
    if spec.ray_address:
        check_reachable(spec.ray_address)
    root = str(Path(__file__).resolve().parents[2])  # lets workers import an uninstalled checkout
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}}
    if spec.ray_address:
        ray.init(address=spec.ray_address, runtime_env=env, log_to_driver=not spec.quiet)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, runtime_env=env,
                 include_dashboard=False, log_to_driver=not spec.quiet)


class _FactWorker:
    """One model per actor; runs shards of fact indices."""

    def __init__(self, spec, threads: int):
        import torch

        from ..models import load_model

        from .spec import resolve

        torch.set_num_threads(max(1, threads))
        self.spec = spec
        self.resolved = resolve(spec)  # once per actor (a process of its own), as the driver did
        self.lm = load_model(spec.model, device=spec.device, dtype=spec.dtype)

    def info(self) -> dict:
        return {"model_fingerprint": self.lm.fingerprint, "n_layers": self.lm.adapter.n_layers,
                "n_neurons": self.lm.adapter.n_neurons}

    def run(self, facts, output: str, indices: list[int]) -> int:
        from .facts import build_task, run_facts

        task = build_task(self.resolved, self.lm, facts, Path(output))
        return run_facts(task, facts, Path(output), self.spec.seed, indices=indices, quiet=True)


def run_facts_on_ray(spec, facts: list, output, num_workers: int | None = None,
                     num_cpus: int | None = None) -> int:
    """Compute every unfinished fact of ``facts`` on Ray actors; returns how many were computed.

    ``num_workers``: actors (default: one per GPU, else one per CPU of the cluster, at most one
    per unfinished fact). ``num_cpus``: CPUs of a local cluster started here (default: all).
    """
    from .rundir import check_fact_files, fact_file, record_model_info

    ray = _ray()
    output = Path(output)
    todo = [i for i in range(len(facts)) if not fact_file(output, i).is_file()]
    _init(ray, spec, num_cpus)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = gpus > 0 and str(spec.device).startswith("cuda")  # --device cuda: one GPU per actor
    if num_workers is None:
        num_workers = gpus if use_gpu and gpus else int(resources.get("CPU", 1))
    num_workers = max(1, min(num_workers, len(todo) or 1))
    if use_gpu:
        actor_cls = ray.remote(num_gpus=1, num_cpus=1)(_FactWorker)
        threads = 1
    else:
        actor_cls = ray.remote(num_cpus=1)(_FactWorker)
        threads = max(1, int(resources.get("CPU", 1)) // num_workers)
    workers = [actor_cls.remote(spec, threads) for _ in range(num_workers)]
    info = ray.get(workers[0].info.remote())
    check_fact_files(output, facts, info["model_fingerprint"])  # finished facts: the same weights
    record_model_info(output, info)
    facts_ref = ray.put(facts)
    shards = [todo[k::num_workers] for k in range(num_workers)]
    done = sum(ray.get([w.run.remote(facts_ref, str(output), shard)
                        for w, shard in zip(workers, shards) if shard]))
    for w in workers:
        ray.kill(w)
    return done
