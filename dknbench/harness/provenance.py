"""What a result needs to be reproducible: versions, git commit, config hash, seeding."""

from __future__ import annotations

import hashlib
import json
import platform
import random
import subprocess

import numpy as np

from ..paths import source_checkout


def versions() -> dict:
    import torch
    import transformers

    from .. import __version__

    return {"dknbench": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}


def git_commit() -> str | None:
    checkout = source_checkout()
    if checkout is None:
        return None
    try:
        out = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def config_hash(resolved: dict) -> str:
    return hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:16]


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# Settings that change the numbers but not what was asked for: not in the config hash (the default
# folder name stays), recorded in run.json, and a resume that differs in any of them is refused
# (harness/rundir.py). Threads matter because CPU reductions differ by ~1e-5 across thread counts.
RUN_SETTINGS = ("threads", "device", "dtype", "batch_size")


def run_settings(spec) -> dict:
    import torch

    return {"threads": torch.get_num_threads(), "device": str(spec.device), "dtype": spec.dtype,
            "batch_size": spec.batch_size}
