"""Where things live: the user's cache, and the task/leaderboard folders (checkout or wheel)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def cache_dir() -> Path:
    """$DKNBENCH_CACHE, else $XDG_CACHE_HOME/dknbench, else ~/.cache/dknbench."""
    root = os.environ.get("DKNBENCH_CACHE")
    if root:
        path = Path(root)
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dknbench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_data_dir() -> Path:
    """The raw public datasets: $DKNBENCH_SHARED_DATA, else ../shared/data beside the checkout."""
    return Path(os.environ.get("DKNBENCH_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")


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
