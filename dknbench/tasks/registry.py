"""Find task YAML files (bundled tasks/ plus --include-path folders) and their classes."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from ..errors import ConfigError, UnknownNameError
from ..paths import tasks_dir
from .base import TASK_CLASSES
from .config import TaskConfig, load_task_config


def import_task_classes() -> None:
    """Import every module of this package so task classes register themselves."""
    from .. import tasks as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("base", "config", "registry"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def discover_tasks(include_paths: list[str | Path] | None = None) -> dict[str, TaskConfig]:
    """Scan the bundled tasks folder and any extra folders for ``*.yaml`` task files."""
    folders = [tasks_dir()] + [Path(p) for p in include_paths or []]
    configs: dict[str, TaskConfig] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"--include-path {folder}: not a folder")
        for path in sorted(folder.glob("**/*.yaml")):
            config = load_task_config(path)
            if config.task in configs and configs[config.task].path != path:
                raise ConfigError(f"{path}: task {config.task!r} is also defined in {configs[config.task].path}")
            configs[config.task] = config
    return configs


def get_task(name: str, include_paths=None) -> TaskConfig:
    configs = discover_tasks(include_paths)
    if name not in configs:
        raise UnknownNameError("task", name, configs)
    return configs[name]


def task_class(config: TaskConfig):
    import_task_classes()
    if config.cls not in TASK_CLASSES:
        raise ConfigError(f"{config.path}: class {config.cls!r} is not a registered task class; "
                          f"available: {', '.join(TASK_CLASSES.names())}")
    return TASK_CLASSES.get(config.cls)
