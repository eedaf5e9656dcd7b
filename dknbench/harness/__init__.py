"""The harness: resolve a run, iterate facts resumably, write results atomically."""

from .runner import RunSpec, run

__all__ = ["RunSpec", "run"]
