"""Where things live: the user's cache, and the task/leaderboard folders (checkout or wheel)."""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


# A name that becomes one path component (a task, a method, a registered builder or model): a
# letter or digit first (so never "", "." or ".."), then letters, digits and . _ + -; no separator.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
SAFE_NAME_TEXT = "a letter or digit, then letters, digits, '.', '_', '+' or '-' (at most 128 characters)"


def check_name(kind: str, name, where: str = "") -> str:
    """``name`` if it is safe as a path component (``SAFE_NAME``), else a DKNBenchError naming it."""
    if isinstance(name, str) and SAFE_NAME.match(name):
        return name
    from .errors import DKNBenchError

    raise DKNBenchError(f"{where + ': ' if where else ''}{kind} name {name!r} is not allowed; a name "
                        f"becomes part of a file path, so it must be {SAFE_NAME_TEXT}")


def slug(text: str) -> str:
    """One safe path component from free text (a model path or Hub id, a method variant's label
    ``atp[direction=corrupt]`` -> ``atp-direction-corrupt``): never '', '.' or '..'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def cache_dir() -> Path:
    """$DKNBENCH_CACHE, else $XDG_CACHE_HOME/dknbench, else ~/.cache/dknbench. An empty or
    relative $XDG_CACHE_HOME counts as unset (the XDG spec: such a value is to be ignored), so the
    cache never lands in the working folder."""
    root = os.environ.get("DKNBENCH_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    xdg_used = bool(xdg) and Path(xdg).is_absolute()
    if root:
        path = Path(root)
    else:
        path = Path(xdg if xdg_used else Path.home() / ".cache") / "dknbench"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # the variable names a file, or a path under one
        from .errors import DKNBenchError

        source = "DKNBENCH_CACHE" if root else "XDG_CACHE_HOME" if xdg_used else "~/.cache"
        raise DKNBenchError(f"cache folder {path} (from {source}) is a file or lies under one; "
                            "point it at a folder") from None
    return path


SHARED_DATA_ENV = "DKNBENCH_SHARED_DATA"


def shared_data_candidates() -> list[Path]:
    """Where the raw public datasets may be, in order: $DKNBENCH_SHARED_DATA alone when set, else
    ``../shared/data`` and ``shared/data`` from the working directory. Nothing depends on where the
    package is installed, so ``pip install .`` and ``pip install -e .`` resolve the same way."""
    root = os.environ.get(SHARED_DATA_ENV)
    if root:
        return [Path(root).expanduser()]
    cwd = Path.cwd()
    return [cwd.parent / "shared" / "data", cwd / "shared" / "data"]


def shared_data_dir() -> Path:
    """The first existing folder of ``shared_data_candidates()`` (the first one when none exists,
    so an error message names where it looked)."""
    candidates = shared_data_candidates()
    return next((c for c in candidates if c.is_dir()), candidates[0])


def _is_dknbench_checkout(path: Path) -> bool:
    project = path / "pyproject.toml"
    return (path / ".git").exists() and project.is_file() and 'name = "dknbench"' in project.read_text()


def source_checkout() -> Path | None:
    """The git checkout of dknbench a run comes from: the package's own folder when it is one
    (a checkout or ``pip install -e .``), else the working directory or a folder above it when that
    is a dknbench checkout (``pip install .`` run from the checkout); None otherwise."""
    if _is_dknbench_checkout(REPO_ROOT):
        return REPO_ROOT
    cwd = Path.cwd()
    return next((p for p in (cwd, *cwd.parents) if _is_dknbench_checkout(p)), None)


def _bundled(name: str) -> Path:
    """A root-level folder of the design (tasks/, leaderboard/): the wheel ships it as
    dknbench/_<name>; an editable install or a checkout reads it from the repository root."""
    packaged = PACKAGE_DIR / f"_{name}"
    if packaged.is_dir():
        return packaged
    return REPO_ROOT / name


def tasks_dir() -> Path:
    return _bundled("tasks")


def leaderboard_dir() -> Path:
    return _bundled("leaderboard")
