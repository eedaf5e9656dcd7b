"""What the process is doing right now, in words, for the progress heartbeat.

Lower layers (localization, fine-tuning) say what they are doing with ``with phase("..."):``;
``harness/progress.py`` reads ``current()`` from its watcher thread when a fact runs longer than a
minute. It lives at the bottom of the layers so any module may name its phase without importing
the harness. Phases nest: the innermost one is current.
"""

from __future__ import annotations

import contextlib

_stack: list[str] = []  # appended and popped by the working thread only; read by the watcher


@contextlib.contextmanager
def phase(text: str):
    _stack.append(text)
    try:
        yield
    finally:
        _stack.pop()


def current() -> str:
    """The innermost phase, or "" when none is set."""
    stack = list(_stack)  # a copy: the working thread may pop meanwhile
    return stack[-1] if stack else ""
