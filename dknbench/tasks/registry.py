"""Find task YAML files (bundled tasks/ plus --include-path folders) and their classes.

``class:`` names a registered task class (``gcr``), a class in a Python file beside the YAML
(``my_task.py:MyTask``) or an importable one (``package.module:MyTask``), so a task outside the
package brings its own code. Files whose name starts with ``_`` are bases for ``include:``, not
tasks.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, UnknownNameError, closest
from ..paths import tasks_dir
from .base import TASK_CLASSES, Task
from .config import TaskConfig, load_task_config
from .user_code import load_class

_INDEX: dict[tuple, dict[str, TaskConfig]] = {}  # one scan per set of files and their mtimes


def _task_files(include_paths) -> list[Path]:
    files = []
    for folder in [tasks_dir()] + [Path(p) for p in include_paths or []]:
        if not folder.is_dir():
            raise ConfigError(f"--include-path {folder}: not a folder")
        files += [p for p in sorted(folder.glob("**/*.yaml")) if not p.name.startswith("_")]
    return files


def discover_tasks(include_paths: list[str | Path] | None = None) -> dict[str, TaskConfig]:
    """Scan the bundled tasks folder and any extra folders for ``*.yaml`` task files."""
    files = _task_files(include_paths)
    key = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    if key in _INDEX:
        return dict(_INDEX[key])
    configs: dict[str, TaskConfig] = {}
    for path in files:
        config = load_task_config(path)
        if config.task in configs and configs[config.task].path != path:
            raise ConfigError(f"{path}: task {config.task!r} is also defined in {configs[config.task].path}")
        configs[config.task] = config
    _INDEX[key] = configs
    return dict(configs)


def get_task(name: str, include_paths=None) -> TaskConfig:
    configs = discover_tasks(include_paths)
    if name not in configs:
        raise UnknownNameError("task", name, configs)
    return configs[name]


def task_origin(config: TaskConfig) -> str:
    """Where a task comes from: 'bundled' or the YAML's path."""
    return "bundled" if config.path.resolve().parent == tasks_dir().resolve() else str(config.path)


def _shown(path: Path) -> str:
    """A path relative to the working folder when inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def class_location(cls) -> str:
    """``file:line`` of a class's ``class`` statement (after its decorators)."""
    import inspect

    lines, start = inspect.getsourcelines(cls)
    offset = next((i for i, text in enumerate(lines) if text.lstrip().startswith("class ")), 0)
    return f"{_shown(inspect.getsourcefile(cls))}:{start + offset}"


def task_parts(config: TaskConfig) -> dict:
    """Every part of a task in one place (``dknbench list tasks``): its YAML, its class and where
    that is defined, its metrics with their direction, and the figures it writes."""
    try:
        cls = task_class(config)
        where = f"{cls.__name__} at {class_location(cls)}"
        needs = requirement_reasons(cls, config)
    except ConfigError as error:  # a broken user task is listed with the reason, not fatal
        where, needs = f"not loadable: {error}", []
    return {"yaml": _shown(config.path), "origin": task_origin(config), "class": where,
            "passed_over_when": needs,
            "metrics": {name: config.metric_directions.get(name, "unranked") for name in config.metrics},
            "figures": dict(config.figures)}


def requirement_reasons(cls, config: TaskConfig) -> list[str]:
    """The reasons a fact is passed over under the task's default options (tasks/requirements.py);
    ``[forward pass]`` marks a check that needs the model."""
    from .base import RunContext
    from .requirements import Requirement

    ctx = RunContext(config=config, options=config.resolve_options(), methods=[], lm=None, seed=0,
                     output=Path("."), facts=[], cache=None)
    return [r.reason + (" [forward pass]" if isinstance(r, Requirement) and r.forward_pass else "")
            for r in cls(ctx).requirements()]


def _load_class(config: TaskConfig, ref: str):
    """``file.py:Class`` (relative to the YAML's folder) or ``package.module:Class``."""
    return load_class(config.path, ref, Task)


def task_class(config: TaskConfig):
    if ":" in config.cls:
        return _load_class(config, config.cls)
    if config.cls not in TASK_CLASSES:
        close = closest(config.cls, TASK_CLASSES.names())
        raise ConfigError(f"{config.path}: class {config.cls!r} is not a registered task class"
                          f"{f' (did you mean {close!r}?)' if close else ''}; "
                          f"available: {', '.join(TASK_CLASSES.names())}, or file.py:Class, "
                          "or package.module:Class")
    return TASK_CLASSES.get(config.cls)
