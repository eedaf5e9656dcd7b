"""Name -> object registries filled by decorators, as in lm-evaluation-harness.

``Registry.register("name", description=...)`` decorates a class or function. Entries may also be
registered lazily as a ``"module:attribute"`` string so that importing the package stays fast; the
module is imported the first time the entry is looked up.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import UnknownNameError


@dataclass
class Entry:
    name: str
    target: Any  # the registered object, or "module:attribute" until first use
    description: str = ""
    metadata: dict = field(default_factory=dict)

    def load(self) -> Any:
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attr)
        return self.target


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, description: str = "", **metadata) -> Callable:
        def decorator(obj):
            self.add(name, obj, description or (obj.__doc__ or "").strip().split("\n")[0], **metadata)
            return obj

        return decorator

    def add(self, name: str, target: Any, description: str = "", **metadata) -> None:
        from .paths import check_name

        check_name(self.kind, name)  # a method or builder name becomes a folder or file name
        previous = self._entries.get(name)
        if previous is not None and previous.target is not target and not _names(previous.target, target):
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, target, description, metadata)

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def get(self, name: str) -> Any:
        return self.entry(name).load()

    def loaded_entry(self, name: str) -> Entry:
        """The entry after its module is imported: a lazy entry that the module's own decorator
        registers again comes back with the decorator's description and metadata."""
        self.get(name)
        return self.entry(name)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self, load: bool = False) -> list[Entry]:
        return [self.loaded_entry(n) if load else self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        return name in self._entries


def _names(lazy: Any, target: Any) -> bool:
    """A lazy ``"module:attribute"`` entry is replaced by the object it names, when that object's
    module registers it (a decorator runs on import)."""
    return isinstance(lazy, str) and lazy == f"{getattr(target, '__module__', '')}:{getattr(target, '__name__', '')}"
