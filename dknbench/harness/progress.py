"""Progress of a long loop: a tqdm bar on a terminal, one plain line per item in a log.

A bar redrawn with carriage returns is unreadable in a file (CI logs, ``nohup``, Slurm), so
outside a terminal each finished item prints ``desc n/N, elapsed, ETA`` on its own line.

The ETA is the items left times the mean time of the items *computed* so far: an item the caller
marks ``skipped()`` (a fact the model does not know) takes a fraction of a second, and counting it
would make the ETA jump from minutes to hours at the first fact that really runs. Before any item
was computed the ETA is "?". An item that runs longer than ``heartbeat`` seconds (a minute) gets a
line every ``heartbeat`` seconds naming it and its phase (``dknbench.activity.current()``: e.g. the
attribution of which query by which localizer), so a long fact is never silent; of nested loops
(reproduce's tasks, a task's facts) only the innermost beats.
"""

from __future__ import annotations

import sys
import threading
import time

from tqdm.auto import tqdm

from ..activity import current as current_phase

HEARTBEAT_S = 60.0
_active: list["Progress"] = []  # nested loops (reproduce's tasks > a task's facts): the innermost beats


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Iterate ``items`` (a sized sequence) showing progress on ``stream`` (stderr). ``name(item)``
    names an item in heartbeat lines; ``clock`` is for tests."""

    def __init__(self, items, desc: str, unit: str = "fact", quiet: bool = False, stream=None,
                 name=None, heartbeat: float = HEARTBEAT_S, clock=time.monotonic):
        self.items, self.desc, self.unit, self.quiet = items, desc, unit, quiet
        self.stream = stream or sys.stderr
        self.name = name or str
        self.heartbeat, self.clock = heartbeat, clock
        self.total = len(items)
        self.done = 0
        self.computed_s: list[float] = []  # seconds of each computed item
        self.n_skipped = 0
        self._skip_current = False
        self._item = None
        self._item_start = self._last_beat = 0.0
        self._bar = None
        self._lock = threading.Lock()

    def skipped(self) -> None:
        """The current item was skipped: its time does not count toward the ETA."""
        self._skip_current = True

    def eta(self) -> float | None:
        """Seconds left: items left x mean seconds per computed item; None before one was computed."""
        if not self.computed_s:
            return None
        return (self.total - self.done) * sum(self.computed_s) / len(self.computed_s)

    def eta_text(self) -> str:
        eta = self.eta()
        return "?" if eta is None else _clock(eta)

    def beat(self, now: float | None = None) -> str | None:
        """A heartbeat line when the current item has run ``heartbeat`` seconds since it began or
        since the last line (printed, and returned); else None."""
        now = self.clock() if now is None else now
        with self._lock:
            if self._item is None or now - self._last_beat < self.heartbeat or _active[-1:] != [self]:
                return None
            self._last_beat = now
            line = (f"{self.desc}: {self.unit} {self.done + 1}/{self.total} ({self.name(self._item)}) still running "
                    f"after {_clock(now - self._item_start)}: {current_phase() or 'computing'}")
        self._write(line)
        return line

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def _watch(self, stop: threading.Event) -> None:
        # wakes a few times per heartbeat; beat() decides whether a line is due
        while not stop.wait(min(self.heartbeat / 4, 5.0)):
            self.beat()

    def __iter__(self):
        if self.quiet:
            yield from self.items
            return
        if self.stream.isatty():
            self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit, file=self.stream,
                             bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stop,), daemon=True)
        watcher.start()
        _active.append(self)
        start = self.clock()
        try:
            for item in self.items:
                with self._lock:
                    self._item, self._skip_current = item, False
                    self._item_start = self._last_beat = self.clock()
                yield item
                with self._lock:
                    seconds = self.clock() - self._item_start
                    self._item = None
                    self.done += 1
                    if self._skip_current:
                        self.n_skipped += 1
                    else:
                        self.computed_s.append(seconds)
                self._report(self.clock() - start)
        finally:
            _active.remove(self)
            stop.set()
            if self._bar is not None:
                self._bar.close()

    def _report(self, elapsed: float) -> None:
        skipped = f", {self.n_skipped} skipped" if self.n_skipped else ""
        if self._bar is not None:
            self._bar.set_postfix_str(f"ETA {self.eta_text()}{skipped}", refresh=False)
            self._bar.update(1)
            return
        print(f"{self.desc} {self.done}/{self.total}, elapsed {_clock(elapsed)}, ETA {self.eta_text()}{skipped}",
              file=self.stream, flush=True)


def progress(items, desc: str, unit: str = "fact", quiet: bool = False, stream=None, **options) -> Progress:
    """Iterate ``items`` with progress (see ``Progress``); call ``.skipped()`` on the returned
    object inside the loop for an item that was skipped."""
    return Progress(items, desc, unit=unit, quiet=quiet, stream=stream, **options)
