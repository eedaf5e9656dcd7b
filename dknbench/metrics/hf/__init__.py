"""The benchmark's metrics as Hugging Face ``evaluate`` modules, one folder per metric.

``evaluate.load(dknbench.metrics.hf.path("gcr"))`` loads one offline (``evaluate.load`` of a
local folder needs the folder to contain ``<folder name>.py``, which each does). The modules call
dknbench.metrics, so they compute exactly what the tasks report; they exist so that results can be
recomputed from per-fact data with the tooling people already use.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UnknownNameError

METRICS_DIR = Path(__file__).resolve().parent
NAMES = ("consistency", "delta_ppl", "editing", "fact_checking", "gcr", "sr")


def path(name: str) -> str:
    """The folder of metric ``name`` (a string, as ``evaluate.load`` expects)."""
    if name not in NAMES:
        raise UnknownNameError("evaluate metric", name, NAMES)
    return str(METRICS_DIR / name)


def names() -> list[str]:
    return list(NAMES)
