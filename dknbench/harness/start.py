"""The start of a run: check ``--output`` before anything is written, and undo a start that fails.

A typo (bad option, unloadable model, broken fact file) must not leave a ``run.json`` behind: the
folder would then refuse the corrected command as "another configuration". So the output folder
is checked first, and if the run fails before its first fact is saved, everything this start
added is removed again: the folder is absent or as it was.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError, DKNBenchError
from ..io import read_json


def check_output(output: Path, digest: str) -> None:
    """Refuse an --output that is a file, cannot be written, or holds another run."""
    for path in (output, *output.parents):  # exists() is False for a symlink loop or a dangling link
        if path.is_symlink() and not path.exists():
            raise ConfigError(f"--output {output}: {path} is a symlink that leads nowhere (a loop or a "
                              "missing target); give a real folder")
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} is a file; give a folder (new or holding this run)")
    if output.is_dir():
        run_file = output / "run.json"
        if run_file.is_file():
            try:
                previous = read_json(run_file)
                previous_hash = previous.get("config_hash") if isinstance(previous, dict) else None
            except (OSError, ValueError, DKNBenchError):  # io.read_json: non-UTF-8 / invalid JSON
                raise ConfigError(f"{run_file} is not a readable run.json; choose another --output") from None
            if previous_hash != digest:
                raise ConfigError(f"{output} holds a run with another configuration "
                                  f"({previous_hash} != {digest}); choose another --output")
        elif any(output.iterdir()):
            raise ConfigError(f"--output {output} is a folder with other files and no run.json; "
                              "give a new or empty folder")
    parent = output
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--output {output}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--output {output}: no permission to write in {parent}")


@contextmanager
def start_checked(output: Path, digest: str):
    """Check ``output``; on any failure before the first fact file exists, remove what was added."""
    check_output(output, digest)
    existed = output.is_dir()
    before = set(output.iterdir()) if existed else set()
    top = output  # the outermost folder this start creates (mkdir parents=True)
    while not existed and not top.parent.exists():
        top = top.parent
    try:
        yield
    except BaseException:
        if not any((output / "facts").glob("*.json")):
            _undo(output, top, existed, before)
        raise


def _undo(output: Path, top: Path, existed: bool, before: set) -> None:
    if not existed:
        shutil.rmtree(top, ignore_errors=True)
        return
    for entry in set(output.iterdir()) - before if output.is_dir() else ():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
