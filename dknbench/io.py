"""Atomic file writes (a crash never leaves a half-written result behind), and reading files that
come from outside (run folders, datasets, YAML) so that bad content is one clear error."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import yaml

# A YAML document may expand to at most this many nodes once its aliases are followed: task files
# and claims are a few hundred; an alias bomb ("billion laughs") is refused before anything expands it.
YAML_MAX_NODES = 100_000
# A line of a .jsonl file may be at most this long: a fact is a few KB; a longer line is refused
# before it is read whole (a one-line gzip bomb would otherwise fill the memory).
MAX_LINE_BYTES = 16 * 2**20


def umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask is process-wide)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def apply_umask(path: str | Path, directory: bool = False) -> None:
    """Give ``path`` the mode a plain open()/mkdir() would: tempfile creates 0600 files and 0700
    folders, which another user (a web server) could not read after the rename."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        apply_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


LOCK_FILE = ".dknbench.lock"
_HELD: set[str] = set()  # folders this process holds the lock of (a nested writer reuses it)


@contextmanager
def exclusive_writer(folder: str | Path, what: str = "--output"):
    """Hold an exclusive lock on ``folder`` (created when missing) while the block runs: a second
    dknbench writing into the same folder gets a DKNBenchError naming this process's pid.

    The lock is ``fcntl.flock`` on ``folder/.dknbench.lock``: the kernel releases it when the
    process exits in any way (kill -9 included), so a stale lock file never blocks a later run.
    The file is removed on release; a waiter that locked the removed file notices (its inode is no
    longer the one at the path) and locks the new one instead."""
    import fcntl

    from .errors import FolderLocked

    folder = Path(folder)
    key = os.path.realpath(folder)
    if key in _HELD:  # e.g. build-data's whole command, then write_dataset inside it
        yield folder
        return
    path = folder / LOCK_FILE
    top = folder  # the outermost folder made for the lock: removed again when left empty
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    made = not folder.exists()
    while True:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process
            holder = _lock_holder(fd)
            os.close(fd)
            raise FolderLocked(what, folder, holder) from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)  # the holder removed the file after we opened it: lock the new one
    _HELD.add(key)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield folder
    finally:
        _HELD.discard(key)
        try:
            if path.is_file() and os.stat(path).st_ino == os.fstat(fd).st_ino:
                path.unlink()
        except OSError:
            pass
        os.close(fd)
        if made:  # a command that failed before writing leaves no empty folder behind
            _remove_empty(folder, top)


def _remove_empty(folder: Path, top: Path) -> None:
    while True:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return
        if folder == top:
            return
        folder = folder.parent


def check_not_locked(folder: str | Path, what: str = "--output") -> None:
    """Raise ``FolderLocked`` when another process holds ``folder``'s writer lock (probed without
    creating anything): a refusal by the folder's content is then reported as the writer it is."""
    import fcntl

    from .errors import FolderLocked

    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        holder = _lock_holder(fd)
        raise FolderLocked(what, folder, holder) from None
    finally:
        os.close(fd)


def _lock_holder(fd: int) -> str:
    """The pid the holder wrote into the lock file (it writes it right after locking)."""
    for _ in range(50):
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
        time.sleep(0.01)
    return "unknown"


MARKER = ".dknbench"  # written into every folder dknbench replaces as a whole (datasets, results, sites)
_STAGING = re.compile(r"^\.(?P<name>.+)\.dknbench-(?:tmp|old)-[A-Za-z0-9_]+$")


def check_output_name(path: str, what: str = "--output") -> None:
    """A path with a control character (a newline pasted into --output) is refused: every
    message that names it must stay one line, and no one means such a folder."""
    from .errors import DKNBenchError

    if any(ord(c) < 32 or ord(c) == 127 for c in str(path)):
        raise DKNBenchError(f"{what} {str(path)!r} contains a control character (newline, tab, ...); "
                            "give a plain folder name")


def check_replaceable(folder: str | Path, what: str = "--output", overwrite: bool = True) -> None:
    """``folder`` may be replaced by a dknbench output: it is absent, empty, or holds dknbench's
    marker (then only with ``overwrite``). A folder with anything else is someone's files: refused
    with or without --overwrite (a README.md proves nothing)."""
    from .errors import DKNBenchError

    check_output_name(str(folder), what)
    folder = Path(folder)
    if folder.is_symlink() and not folder.exists():
        raise DKNBenchError(f"{what} {folder} is a symlink that leads nowhere; give a real folder")
    if folder.exists() and not folder.is_dir():
        raise DKNBenchError(f"{what} {folder} is a file; give a folder")
    if not folder.is_dir() or not any(e.name not in (LOCK_FILE,) for e in folder.iterdir()):
        return
    if not (folder / MARKER).is_file():
        raise DKNBenchError(f"{what} {folder} holds files that dknbench did not write (no {MARKER} marker); "
                            "give a new or empty folder (--overwrite replaces only dknbench's own outputs)")
    if not overwrite:
        raise DKNBenchError(f"{what} {folder} already exists; choose another folder or pass --overwrite")


def remove_stale_staging(folder: Path) -> None:
    """Temporary and superseded copies of ``folder`` left by a killed writer (hidden siblings
    ``.NAME.dknbench-tmp-*`` / ``.NAME.dknbench-old-*``); called under ``folder``'s lock, so no
    live writer of this folder owns them. Only folders holding dknbench's marker (or nothing but a
    lock file) are removed."""
    import shutil

    parent = folder.parent
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        match = _STAGING.match(entry.name)
        if not match or match["name"] != folder.name or entry.is_symlink() or not entry.is_dir():
            continue
        if (entry / MARKER).is_file() or all(e.name == LOCK_FILE for e in entry.iterdir()):
            shutil.rmtree(entry, ignore_errors=True)


def write_marker(folder: Path, command: str) -> None:
    from . import __version__

    (folder / MARKER).write_text(json.dumps({"written_by": f"dknbench {command}", "version": __version__}) + "\n")


@contextmanager
def replace_folder(folder: str | Path, command: str, what: str = "--output", overwrite: bool = True):
    """Write a whole output folder: lock ``folder``, refuse one that is not dknbench's
    (``check_replaceable``), clear a killed writer's leftovers, yield a fresh hidden sibling to
    write into (it holds the marker already), and swap it into place at the end. An error leaves
    the folder as it was: no half-written dataset or site."""
    import shutil

    folder = Path(folder)
    check_replaceable(folder, what, overwrite)  # before the lock creates the folder
    with exclusive_writer(folder, what):
        check_replaceable(folder, what, overwrite)
        remove_stale_staging(folder)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.dknbench-tmp-", dir=folder.parent))
        try:
            apply_umask(tmp, directory=True)  # mkdtemp makes it 0700; an output is meant to be shared
            write_marker(tmp, command)
            yield tmp
            old = None
            if folder.exists():  # keep the old folder until the new one is in place, then drop it
                old = folder.with_name(f".{folder.name}.dknbench-old-{os.getpid()}")
                os.replace(folder, old)
            os.replace(tmp, folder)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def inside(root: str | Path, name, where: str) -> Path:
    """``root / name`` resolved (symlinks followed); a DKNBenchError when it leaves ``root``.

    Every path that a run folder or dataset names (summary.json ``figures``, runs.parquet) goes
    through here, so ``../../etc/passwd`` or a symlink to ``~/.bashrc`` is never read or copied."""
    from .errors import DKNBenchError

    root = Path(root).resolve()
    if not isinstance(name, str) or not name or "\x00" in name:
        raise DKNBenchError(f"{where}: path {name!r} must be a non-empty string relative to {root}")
    target = (root / name).resolve()
    if not target.is_relative_to(root):
        raise DKNBenchError(f"{where}: path {name!r} points outside {root}; only files inside it are allowed")
    return target


def json_default(value: Any):
    """How write_json stores numpy values, tuples, sets and paths."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: str | Path, data: Any) -> Path:
    text = json.dumps(data, indent=2, sort_keys=True, default=json_default, allow_nan=True)
    return atomic_write(path, lambda tmp: tmp.write_text(text + "\n"))


def read_text(path: str | Path) -> str:
    """A UTF-8 text file; other bytes are a DKNBenchError naming the file and offset."""
    from .errors import DKNBenchError

    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():  # a FIFO would block, /dev/zero never ends
        raise DKNBenchError(f"{path}: not a regular file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DKNBenchError(f"{path}: not UTF-8 text (byte {error.start}); the file is corrupt "
                            "or not what dknbench wrote") from None


def read_json(path: str | Path) -> Any:
    """A JSON file; non-UTF-8 or invalid JSON is a DKNBenchError naming the file (a missing file
    stays FileNotFoundError for callers that handle it)."""
    from .errors import DKNBenchError

    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DKNBenchError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise DKNBenchError(f"{path}: JSON nested too deeply") from None


def write_parquet(path: str | Path, frame) -> Path:
    """Write a pandas DataFrame as parquet, atomically."""
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_parquet(path: str | Path):
    """A parquet file as a pyarrow Table; a truncated or foreign file is a DKNBenchError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .errors import DKNBenchError

    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise DKNBenchError(f"{path}: not a readable parquet file ({str(error).splitlines()[0]})") from None


def read_jsonl(path: str | Path):
    """Yield (line number, object) for each non-empty line of a .jsonl or .jsonl.gz file; a line
    that is not a JSON object, non-UTF-8 bytes or a corrupt .gz are a DKNBenchError naming the file."""
    import gzip
    import zlib

    from .errors import DKNBenchError

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:  # bytes, decoded per line: errors name the line
            # readline with a bound: a huge line (a gzip bomb of one line) is refused, not read whole
            for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
                if len(raw) > MAX_LINE_BYTES:
                    raise DKNBenchError(f"{path}:{number}: line longer than {MAX_LINE_BYTES:,} bytes; "
                                        "one JSON object per line is expected")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise DKNBenchError(f"{path}:{number}: not UTF-8 text (byte {error.start} of the line)") from None
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DKNBenchError(f"{path}:{number}: not valid JSON ({error.msg})") from None
                except RecursionError:
                    raise DKNBenchError(f"{path}:{number}: JSON nested too deeply") from None
                if not isinstance(row, dict):
                    raise DKNBenchError(f"{path}:{number}: expected one JSON object per line")
                yield number, row
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DKNBenchError(f"{path}: corrupt gzip file ({error})") from None


class YAMLTooLarge(yaml.YAMLError):
    """Raised by ``load_yaml`` for a document whose aliases expand beyond ``YAML_MAX_NODES``."""

    def __init__(self, nodes: int, mark=None):
        self.problem = (f"aliases expand to more than {YAML_MAX_NODES:,} nodes ({nodes:,}); "
                        "refusing a possible alias bomb")
        self.problem_mark = mark
        super().__init__(self.problem)


def _expanded_size(node, memo: dict) -> int:
    """Nodes of ``node`` with every alias followed, computed without expanding (memoised by id)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = YAML_MAX_NODES + 1  # a recursive alias counts as unbounded
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[key] = min(size, 10 * YAML_MAX_NODES)
    return memo[key]


class YAMLDuplicateKey(yaml.YAMLError):
    """Raised by ``load_yaml`` for a mapping that names one key twice (PyYAML keeps the last one
    silently, so `class: a` then `class: b` would run b without a word)."""

    def __init__(self, key: str, mark=None):
        self.problem = f"key {key!r} appears more than once in one mapping"
        self.problem_mark = mark
        super().__init__(self.problem)


def _check_duplicate_keys(node, seen: set) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if (key.tag, key.value) in keys:
                    raise YAMLDuplicateKey(key.value, key.start_mark)
                keys.add((key.tag, key.value))
            _check_duplicate_keys(value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _check_duplicate_keys(child, seen)


class BoundedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses documents whose aliases expand past ``YAML_MAX_NODES`` and
    mappings with a duplicate key."""

    def compose_document(self):
        node = super().compose_document()
        size = _expanded_size(node, {}) if node is not None else 0
        if size > YAML_MAX_NODES:
            raise YAMLTooLarge(size, node.start_mark)
        if node is not None:
            _check_duplicate_keys(node, set())
        return node


def load_yaml(text):
    """``yaml.safe_load`` with aliases bounded: the one YAML loader of dknbench. Errors stay
    ``yaml.YAMLError`` (with ``problem``/``problem_mark``) so callers name file and line."""
    return yaml.load(text, Loader=BoundedSafeLoader)


def compose_yaml(text):
    """The node tree (for line numbers), with the same bound as ``load_yaml``."""
    return yaml.compose(text, Loader=BoundedSafeLoader)
