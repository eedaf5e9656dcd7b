"""A run's folder: checked before anything is written, undone when the start fails, trusted on
resume only when it provably holds this run.

* ``start_checked``: ``--output`` must be new, empty or hold this run (same config hash); a start
  that fails before its first fact file exists leaves the folder absent or as it was, so a typo
  never blocks the corrected command.
* ``check_settings`` / ``check_fact_files``: a folder is untrusted input. Finished facts must have
  been computed with the same run settings (provenance.RUN_SETTINGS), and every ``facts/*.json``
  must be the record of the fact the resolved fact set has at that index; anything else is refused
  with one line naming the file instead of mixing foreign results into the summary.
* ``fact_file`` / ``finished_rows``: where a fact's record lives and reading them back.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError, DKNBenchError
from ..io import inside, read_json, write_json
from .provenance import RUN_SETTINGS


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


FACT_NAME = re.compile(r"^\d{6}\.json$")
_FRESH = "choose another --output or delete the folder"


def fact_files(output: Path) -> list[Path]:
    folder = output / "facts"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def check_settings(output: Path, settings: dict) -> None:
    """Finished facts were computed with the same run settings (check_output has already
    required run.json and the same config hash)."""
    output = Path(output)
    run_file = output / "run.json"
    if not fact_files(output) or not run_file.is_file():
        return  # nothing computed yet: the new settings simply replace the old
    previous = read_json(inside(output, "run.json", str(run_file)))
    recorded = previous.get("settings") if isinstance(previous, dict) else None
    for name in RUN_SETTINGS:
        before = recorded.get(name, "(not recorded)") if isinstance(recorded, dict) else "(not recorded)"
        if before != settings[name]:
            raise ConfigError(f"{run_file}: resuming with {name}={settings[name]!r} but the finished facts "
                              f"were computed with {name}={before!r}; rerun with the same {name} or {_FRESH}")


def check_fact_files(output: Path, facts: list) -> None:
    """Every finished fact file is the record of ``facts[index]`` (its name gives the index)."""
    for path in fact_files(Path(output)):
        where = str(path)
        if not FACT_NAME.match(path.name):
            raise ConfigError(f"{where}: not a fact file written by dknbench (expected NNNNNN.json); {_FRESH}")
        index = int(path.stem)
        record = read_json(inside(output, f"facts/{path.name}", where))
        if index >= len(facts):
            raise ConfigError(f"{where}: fact index {index} is beyond the {len(facts)} facts of this run; {_FRESH}")
        if not isinstance(record, dict) or record.get("index") != index or not isinstance(record.get("rows"), list):
            raise ConfigError(f"{where}: not a fact record with index {index} and a rows list; {_FRESH}")
        if record.get("fact_id") != facts[index].id:
            raise ConfigError(f"{where}: fact_id {record.get('fact_id')!r} is not fact {index} of this run "
                              f"({facts[index].id!r}); the folder holds another fact set; {_FRESH}")


def fact_file(output: Path, index: int) -> Path:
    return output / "facts" / f"{index:06d}.json"


def rows_if_finished(output: Path, index: int):
    path = fact_file(output, index)
    return read_json(path)["rows"] if path.is_file() else None


def finished_rows(output: Path, n_facts: int) -> list[dict]:
    """Every finished fact's rows, in fact order."""
    rows = []
    for index in range(n_facts):
        path = fact_file(output, index)
        if path.is_file():
            rows.extend(read_json(path)["rows"])
    return rows


def record_model(output: Path, lm) -> None:
    """Add the loaded model's fingerprint and shape to run.json."""
    run_file = output / "run.json"
    write_json(run_file, {**read_json(run_file), "model_fingerprint": lm.fingerprint,
                          "n_layers": lm.adapter.n_layers, "n_neurons": lm.adapter.n_neurons})
