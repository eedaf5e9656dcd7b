"""Attribution cache: attribution is the expensive part and every task reuses it.

Keyed by model fingerprint, localizer name, its score-changing parameters, scoring mode and the
exact prompt and answer tokens. One ``.npy`` per query, written atomically, so concurrent workers
(Ray) can share the folder: the worst case is two workers computing the same entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..io import atomic_write
from ..paths import cache_dir


class AttributionCache:
    def __init__(self, root: str | Path | None = None, enabled: bool = True):
        self.root = Path(root) if root else cache_dir() / "attributions"
        self.enabled = enabled
        self.hits = self.misses = 0

    def key(self, fingerprint: str, localizer: str, params: dict, mode: str, prompt: str,
            answer_ids: list[int]) -> Path:
        blob = json.dumps([localizer, params, mode, prompt, answer_ids], sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:32]
        return self.root / fingerprint / localizer / digest[:2] / f"{digest}.npy"

    def get(self, path: Path) -> np.ndarray | None:
        if not self.enabled or not path.is_file():
            self.misses += 1
            return None
        try:
            value = np.load(path, allow_pickle=False)
        except (ValueError, OSError):  # a torn file from a killed process: recompute
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, path: Path, scores: np.ndarray) -> None:
        if self.enabled:
            atomic_write(path, lambda tmp: np.save(open(tmp, "wb"), scores.astype(np.float32)))
