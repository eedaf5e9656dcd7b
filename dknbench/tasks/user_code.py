"""User code beside a task YAML: ``file.py:Class`` (relative to the YAML's folder) or an importable
``package.module:Class``. A task's ``class:`` and a user's localizer or DKN method (``--method``,
``default_method``, ``localizer:``) are loaded the same way, so an extension is a ``.py`` in the
folder given with ``--include-path``, with no package edit.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from ..errors import ConfigError

USER_PACKAGE = "dknbench_user_tasks"  # the files are imported as modules under this name


def is_reference(text) -> bool:
    """``file.py:Class`` or ``package.module:Class`` (a registered name has no ':')."""
    return isinstance(text, str) and ":" in text


def load_class(yaml_path: Path, ref: str, base: type, field: str = "class"):
    """The class ``ref`` names, which must subclass ``base``; every failure is one ConfigError
    naming the YAML, the field (``class``, ``localizer``, ...) and what is allowed."""
    module_ref, _, attr = ref.rpartition(":")
    allowed = "file.py:Class (beside the YAML) or package.module:Class"
    if not module_ref or not attr:
        raise ConfigError(f"{yaml_path}: {field} {ref!r}: expected {allowed}")
    if module_ref.endswith(".py"):
        module = _import_file(yaml_path, ref, module_ref, field)
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as error:
            raise ConfigError(f"{yaml_path}: {field} {ref!r}: cannot import {module_ref!r} ({error})") from None
        except SystemExit as error:
            raise ConfigError(f"{yaml_path}: {field} {ref!r}: importing {module_ref!r} called "
                              f"sys.exit({error.code!r})") from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        found = [n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, base)
                 and v is not base and v.__module__ == module.__name__]
        raise ConfigError(f"{yaml_path}: {field} {ref!r}: {attr!r} is not a dknbench {base.__name__} subclass "
                          f"in {module_ref}; {base.__name__} subclasses there: {', '.join(found) or 'none'}")
    return cls


def _import_file(yaml_path: Path, ref: str, module_ref: str, field: str):
    file = (Path(yaml_path).parent / module_ref).resolve()
    if not file.is_file():
        raise ConfigError(f"{yaml_path}: {field} {ref!r}: {module_ref} not found next to {Path(yaml_path).name} "
                          "(a file.py:Class reference is relative to the task YAML's folder)")
    name = f"{USER_PACKAGE}.{file.stem}_{abs(hash(str(file))):x}"
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
    return sys.modules[name]
