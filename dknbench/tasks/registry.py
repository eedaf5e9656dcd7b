"""Find task YAML files (bundled tasks/ plus --include-path folders) and their classes.

``class:`` names a registered task class (``gcr``), a class in a Python file beside the YAML
(``my_task.py:MyTask``) or an importable one (``package.module:MyTask``), so a task outside the
package brings its own code. Files whose name starts with ``_`` are bases for ``include:``, not
tasks.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from ..errors import ConfigError, UnknownNameError, closest
from ..paths import tasks_dir
from .base import TASK_CLASSES, Task
from .config import TaskConfig, load_task_config

_INDEX: dict[tuple, dict[str, TaskConfig]] = {}  # one scan per set of files and their mtimes


def import_task_classes() -> None:
    """Import every module of this package so task classes register themselves."""
    TASK_CLASSES.discover()


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
    module_ref, _, attr = ref.rpartition(":")
    if module_ref.endswith(".py"):
        file = (config.path.parent / module_ref).resolve()
        if not file.is_file():
            raise ConfigError(f"{config.path}: class {ref!r}: {module_ref} not found next to {config.path.name}")
        name = f"dknbench_user_tasks.{file.stem}_{abs(hash(str(file))):x}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except (Exception, SystemExit) as error:  # sys.exit(0) in the file must not end dknbench silently
                del sys.modules[name]
                what = f"SystemExit({error.code!r}): the file calls sys.exit() when imported" if isinstance(
                    error, SystemExit) else f"{type(error).__name__}: {error}"
                raise ConfigError(f"{file}: importing it failed: {what}") from None
        module = sys.modules[name]
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as error:
            raise ConfigError(f"{config.path}: class {ref!r}: cannot import {module_ref!r} ({error})") from None
        except SystemExit as error:
            raise ConfigError(f"{config.path}: class {ref!r}: importing {module_ref!r} called "
                              f"sys.exit({error.code!r})") from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise ConfigError(f"{config.path}: class {ref!r}: {attr!r} is not a dknbench Task subclass "
                          f"in {module_ref}")
    return cls


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
