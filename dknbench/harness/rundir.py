"""A run's folder: checked before anything is written, undone when the start fails, trusted on
resume only when it provably holds this run.

* ``start_checked``: ``--output`` must be new, empty or hold this run (same config hash); a start
  that fails before its first fact file exists leaves the folder absent or as it was, so a typo
  never blocks the corrected command.
  The whole command holds the folder's writer lock (``io.exclusive_writer``): a second dknbench
  writing into it exits 2 naming this one's pid.
* ``check_settings`` / ``check_fact_files`` / ``check_fact_set``: a folder is untrusted input.
  Finished facts must have been computed with the same run settings (provenance.RUN_SETTINGS), by
  the same model weights (``model_fingerprint``, recorded in run.json and in every fact file), and
  every ``facts/*.json`` must be the record of the fact the resolved fact set has at that index,
  with the same content (``fact_hash``), while run.json's ``facts_hash`` pins the whole set (a
  task may draw other facts of the set, e.g. an irrelevant fact, so an unfinished fact matters
  too). Anything else is refused with one line naming the file, the fact or the model, instead of
  mixing results of two inputs into one summary.
* ``fact_file`` / ``finished_rows``: where a fact's record lives and reading them back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..data.schema import fact_to_row
from ..errors import ConfigError, DKNBenchError, FolderLocked
from ..io import LOCK_FILE, check_not_locked, exclusive_writer, inside, json_default, read_json, write_json
from ..results.schema import FactFileSchema, RunFileSchema, checked
from .provenance import RUN_SETTINGS, config_hash

# files dknbench itself keeps in an output folder; they never make a folder "someone else's"
OWN_FILES = (LOCK_FILE,)


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
                previous_hash = read_run_file(output)["config_hash"]
            except (OSError, ValueError, DKNBenchError) as error:  # non-UTF-8, invalid JSON, schema
                raise ConfigError(f"{run_file} is not a readable run.json ({str(error).partition(': ')[2] or error}); "
                                  "choose another --output") from None
            if previous_hash != digest:
                raise ConfigError(f"{output} holds a run with another configuration "
                                  f"({previous_hash} != {digest}); choose another --output")
        elif any(entry.name not in OWN_FILES for entry in output.iterdir()):
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
    """Check ``output`` and hold its writer lock for the block; on any failure before the first
    fact file exists, remove what was added."""
    try:
        check_output(output, digest)  # before anything is created: a typo leaves no folder behind
    except DKNBenchError:
        check_not_locked(output)  # another run is writing it: say so, not what it has written so far
        raise
    existed = output.is_dir()
    before = set(output.iterdir()) if existed else set()
    top = output  # the outermost folder this start creates (mkdir parents=True)
    while not existed and not top.parent.exists():
        top = top.parent

    def undo_unless_started():
        if not any((output / "facts").glob("*.json")):
            _undo(output, top, existed, before)

    locked = False
    try:
        with exclusive_writer(output):
            locked = True
            try:
                check_output(output, digest)  # again under the lock: a writer may have finished meanwhile
                remove_stale_temp_files(output)
                yield
            except BaseException:
                undo_unless_started()  # still under the lock: no other writer can have started in it
                raise
    except BaseException as error:
        if not locked and not isinstance(error, FolderLocked):  # the lock file could not be made
            undo_unless_started()
        raise


# io.atomic_write's temporary file: ".<name>.<8 random characters>.tmp" beside its target
_TEMP_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def remove_stale_temp_files(output: Path) -> None:
    """A killed run leaves the temporary file of the write it was in; under the folder's lock no
    live writer owns one, so they go (run.json's, summary.json's, a fact file's)."""
    for folder in (output, output / "facts"):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in folder.iterdir():
            if _TEMP_FILE.match(entry.name) and entry.is_file() and not entry.is_symlink():
                entry.unlink(missing_ok=True)


def _undo(output: Path, top: Path, existed: bool, before: set) -> None:
    if not existed:
        shutil.rmtree(top, ignore_errors=True)
        return
    for entry in set(output.iterdir()) - before if output.is_dir() else ():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def read_run_file(output: Path) -> dict:
    """run.json, checked against its declared schema (results.schema.RunFileSchema)."""
    run_file = Path(output) / "run.json"
    return checked(RunFileSchema, read_json(inside(output, "run.json", str(run_file))), run_file)


def read_fact_file(output: Path, path: Path) -> dict:
    """One facts/<n>.json, checked against its declared schema and, when it records one, against
    the hash of its rows (a hand-edited row is refused, not summarised)."""
    record = checked(FactFileSchema, read_json(inside(output, f"facts/{path.name}", str(path))), path)
    if record.get("rows_hash") is not None and record["rows_hash"] != rows_hash(record["rows"]):
        raise ConfigError(f"{path}: its rows are not the ones dknbench wrote (rows_hash differs); the file "
                          f"was edited; delete it to recompute that fact, or {_FRESH}")
    return record


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
    recorded = read_run_file(output).get("settings")
    for name in RUN_SETTINGS:
        before = recorded.get(name, "(not recorded)") if isinstance(recorded, dict) else "(not recorded)"
        if before != settings[name]:
            raise ConfigError(f"{run_file}: resuming with {name}={settings[name]!r} but the finished facts "
                              f"were computed with {name}={before!r}; rerun with the same {name} or {_FRESH}")


def fact_hash(fact) -> str:
    """The content hash of one fact: every field of the fact schema, not only its id."""
    return config_hash(fact_to_row(fact))


def facts_hash(hashes: list[str]) -> str:
    """The hash of a resolved fact set: its facts' content hashes, in order."""
    return config_hash(hashes)


def rows_hash(rows: list) -> str:
    """The hash of a fact's rows as JSON stores them (numpy values and tuples as written)."""
    return config_hash(json.loads(json.dumps(rows, default=json_default, allow_nan=True)))


def fact_record(index: int, fact, fingerprint: str, rows: list, skipped) -> dict:
    """What ``facts/<index>.json`` holds: the rows, and what they were computed from."""
    return {"index": index, "fact_id": fact.id, "fact_hash": fact_hash(fact), "model_fingerprint": fingerprint,
            "rows_hash": rows_hash(rows), "rows": rows, "skipped": skipped}


def check_fact_files(output: Path, facts: list, fingerprint: str | None = None) -> None:
    """Every finished fact file is the record of ``facts[index]`` (its name gives the index), of
    the same content, computed by the model with ``fingerprint`` (not checked when None: the Ray
    executor checks it once its actors have loaded the model)."""
    for path in fact_files(Path(output)):
        where = str(path)
        if not FACT_NAME.match(path.name):
            raise ConfigError(f"{where}: not a fact file written by dknbench (expected NNNNNN.json); {_FRESH}")
        index = int(path.stem)
        record = read_fact_file(output, path)
        if index >= len(facts):
            raise ConfigError(f"{where}: fact index {index} is beyond the {len(facts)} facts of this run; {_FRESH}")
        if not isinstance(record, dict) or record.get("index") != index or not isinstance(record.get("rows"), list):
            raise ConfigError(f"{where}: not a fact record with index {index} and a rows list; {_FRESH}")
        fact = facts[index]
        if record.get("fact_id") != fact.id:
            raise ConfigError(f"{where}: fact_id {record.get('fact_id')!r} is not fact {index} of this run "
                              f"({fact.id!r}); the folder holds another fact set; {_FRESH}")
        if "fact_hash" not in record:
            raise ConfigError(f"{where}: written by a dknbench that did not record the fact's content "
                              f"hash, so it cannot be checked against fact {fact.id!r}; {_FRESH}")
        if record["fact_hash"] != fact_hash(fact):
            raise ConfigError(f"{where}: fact {index} ({fact.id!r}) has changed since it was computed "
                              f"(content hash {record['fact_hash']!r}, now {fact_hash(fact)!r}); the data "
                              f"was edited under the same id; {_FRESH}")
        if fingerprint is not None and record.get("model_fingerprint") != fingerprint:
            raise ConfigError(f"{where}: fact {index} was computed by a model with fingerprint "
                              f"{record.get('model_fingerprint')!r}, but --model now loads weights with "
                              f"fingerprint {fingerprint!r} (the model's weights changed); {_FRESH}")


def check_fact_set(output: Path, facts: list, hashes: list[str]) -> None:
    """When facts are finished, run.json's fact set (``facts_hash``) is the resolved one; names
    the first fact that differs (a task may use any fact of the set for another fact's rows)."""
    run_file = Path(output) / "run.json"
    if not fact_files(Path(output)) or not run_file.is_file():
        return
    previous = read_run_file(output)
    if previous.get("facts_hash") == facts_hash(hashes):
        return
    before = previous.get("fact_hashes")
    if not isinstance(before, list):
        raise ConfigError(f"{run_file}: records no fact set hash (written by an older dknbench), so the "
                          f"finished facts cannot be checked against this fact set; {_FRESH}")
    for index, (old, new) in enumerate(zip(before, hashes)):
        if old != new:
            raise ConfigError(f"{run_file}: fact {index} ({facts[index].id!r}) of the fact set differs from "
                              "the one the finished facts were computed with; the data changed; " + _FRESH)
    raise ConfigError(f"{run_file}: the fact set had {len(before)} facts when the finished facts were "
                      f"computed and has {len(hashes)} now; the data changed; {_FRESH}")


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
    record_model_info(output, {"model_fingerprint": lm.fingerprint, "n_layers": lm.adapter.n_layers,
                               "n_neurons": lm.adapter.n_neurons})


def record_model_info(output: Path, info: dict) -> None:
    write_json(output / "run.json", {**read_run_file(output), **info})
