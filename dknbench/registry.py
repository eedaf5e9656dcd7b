"""Name -> object registries filled by decorators, as in lm-evaluation-harness.

One discovery mechanism for every registry (localizers, DKN methods, task classes, data builders):
a member registers itself with ``@REGISTRY.register("name", description=...)`` in a module of the
registry's ``package``, and the registry imports every module of that package (``_``-prefixed ones
excepted) the first time it is asked for a member. So a new member is a new file, its name is
written once (the decorator; with ``name_attribute`` the class gets it as an attribute too), and
importing a package stays fast until a member is needed. The registry refuses a member that is not
a subclass of its ``base`` (or that its ``check`` refuses). ``import_package_modules`` is the same
scan for the CLI's commands.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import UnknownNameError


@dataclass
class Entry:
    name: str
    target: Any  # the registered object
    description: str = ""
    metadata: dict = field(default_factory=dict)

    def load(self) -> Any:
        return self.target


def import_package_modules(package: str) -> list:
    """Import every module of ``package`` whose name does not start with ``_``, in name order."""
    path = importlib.import_module(package).__path__  # a package still initialising has its path
    return [importlib.import_module(f"{package}.{info.name}")
            for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name) if not info.name.startswith("_")]


class Registry:
    def __init__(self, kind: str, base: type | None = None, package: str | None = None,
                 check: Callable[[Any], str | None] | None = None, name_attribute: str | None = None):
        """``base``: the class every member derives from; ``check(obj)``: why ``obj`` cannot be a
        member (None when it can), for registries of functions; ``package``: where the members
        live (imported on first lookup); ``name_attribute``: the class attribute that receives
        the registered name (a localizer's ``name``)."""
        self.kind, self.base, self.package, self.check = kind, base, package, check
        self.name_attribute = name_attribute
        self._entries: dict[str, Entry] = {}
        self._discovered = package is None

    def register(self, name: str, description: str = "", **metadata) -> Callable:
        def decorator(obj):
            self.add(name, obj, description or (obj.__doc__ or "").strip().split("\n")[0], **metadata)
            return obj

        return decorator

    def add(self, name: str, target: Any, description: str = "", **metadata) -> None:
        from .errors import DKNBenchError
        from .paths import check_name

        check_name(self.kind, name)  # a method or builder name becomes a folder or file name
        what = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
        if self.base is not None and not (isinstance(target, type) and issubclass(target, self.base)):
            raise DKNBenchError(f"{self.kind} {name!r}: {what} is not a subclass of "
                                f"{self.base.__module__}.{self.base.__qualname__}")
        problem = self.check(target) if self.check else None
        if problem:
            raise DKNBenchError(f"{self.kind} {name!r}: {what} {problem}")
        previous = self._entries.get(name)
        if previous is not None and previous.target is not target:
            raise DKNBenchError(f"{self.kind} {name!r} is registered twice: by "
                                f"{previous.target.__module__} and by {getattr(target, '__module__', '?')}")
        if self.name_attribute:
            setattr(target, self.name_attribute, name)
        self._entries[name] = Entry(name, target, description, metadata)

    def discover(self) -> "Registry":
        """Import the package's modules once, so that every member has registered itself."""
        if not self._discovered:
            self._discovered = True  # set first: a module that looks a member up while importing
            try:
                import_package_modules(self.package)
            except BaseException:
                self._discovered = False
                raise
        return self

    def entry(self, name: str) -> Entry:
        self.discover()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def get(self, name: str) -> Any:
        return self.entry(name).target

    def names(self) -> list[str]:
        return sorted(self.discover()._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        return name in self.discover()._entries
