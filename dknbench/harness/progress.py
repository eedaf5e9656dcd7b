"""Progress of a long loop: a tqdm bar on a terminal, one plain line per item in a log.

A bar redrawn with carriage returns is unreadable in a file (CI logs, ``nohup``, Slurm), so
outside a terminal each finished item prints ``desc n/N, elapsed, ETA`` on its own line.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress(items, desc: str, unit: str = "fact", quiet: bool = False, stream=None):
    """Iterate ``items`` (a sized sequence) showing progress on ``stream`` (stderr)."""
    stream = stream or sys.stderr
    if quiet:
        yield from items
        return
    if stream.isatty():
        yield from tqdm(items, desc=desc, unit=unit, file=stream)
        return
    total, start = len(items), time.monotonic()
    for done, item in enumerate(items, 1):
        yield item
        elapsed = time.monotonic() - start
        eta = elapsed / done * (total - done)
        print(f"{desc} {done}/{total}, elapsed {_clock(elapsed)}, ETA {_clock(eta)}",
              file=stream, flush=True)
