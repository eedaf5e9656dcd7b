"""User-facing errors: one clear line, exit code 2 (see dknbench.cli)."""

from __future__ import annotations


class DKNBenchError(Exception):
    """Bad input from the user (unknown name, malformed file, wrong value).

    The CLI prints ``str(error)`` on one line and exits with code 2. The message must name the
    file, field or value at fault and what is allowed.
    """

    exit_code = 2


class Skipped(Exception):
    """A fact or a query that cannot be used: not an error, but counted by its short ``reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConfigError(DKNBenchError):
    """A task YAML or a --set override is invalid."""


class UnknownNameError(DKNBenchError):
    """A task, method, model or builder name that is not registered."""

    def __init__(self, kind: str, name: str, known):
        known = sorted(known)
        close = closest(name, known)
        hint = f" (did you mean {close!r}?)" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}; available: {', '.join(known) or '(none)'}")
        self.kind, self.name, self.known, self.closest = kind, name, known, close


def closest(name, known) -> str | None:
    """The known name nearest to ``name`` (difflib's ratio >= 0.6, case ignored), or None."""
    import difflib

    if not isinstance(name, str):
        return None
    lowered = {k.lower(): k for k in known if isinstance(k, str)}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return lowered[found[0]] if found else None


class FolderLocked(DKNBenchError):
    """Another dknbench process is writing into the output folder (its writer lock is held)."""

    def __init__(self, what: str, folder, holder: str):
        super().__init__(f"{what} {folder} is being written by another dknbench process (pid {holder}); "
                         "wait for it to finish or choose another folder")
        self.holder = holder


class NothingUsable(DKNBenchError):
    """Every fact was skipped: there is no result to report (exit code 3, not a silent 0)."""

    exit_code = 3

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message  # short: "all 5 facts skipped (no_usable_query: 5)"
