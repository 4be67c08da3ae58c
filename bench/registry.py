"""One registry helper for every named thing a config picks: datasets, methods, backbones, feature extractors.

A :class:`Registry` maps names to entries, refuses a name registered twice with another entry, and answers an
unknown name with one ConfigError that lists the known names and the closest one (``bench.errors.unknown_name``)
— the same message for a grid cell, ``--dry-run`` and a run. An entry may be stored in a cheap form and turned
into the object on lookup (``load``: backbones are module paths imported on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from bench.errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Names → entries of one kind (``kind`` names it in errors: "method", "dataset" ...).

    Args:
        kind: what an entry is, in words.
        load: turns a stored entry into what :meth:`get` returns (None: the entry itself).
        also_known: names accepted outside the registry, shown in the unknown-name error (``folder:<path>``).
    """

    def __init__(self, kind: str, load: Callable[[Any], T] | None = None, also_known: Iterable[str] = ()) -> None:
        self.kind = kind
        self.entries: dict[str, Any] = {}
        self._load = load
        self._also_known = tuple(also_known)

    def add(self, name: str, entry: Any) -> Any:
        """Register ``entry`` as ``name``; ValueError if another entry already has the name. Returns the entry."""
        old = self.entries.get(name)
        if old is not None and old is not entry:
            where = getattr(old, "__module__", None)
            raise ValueError(f"{self.kind} {name!r} is already registered" + (f" by {where}" if where else ""))
        self.entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry registered as ``name``; a ConfigError naming the closest known name otherwise."""
        if name not in self.entries:
            raise unknown_name(self.kind, str(name), [*self.entries, *self._also_known])
        entry = self.entries[name]
        return self._load(entry) if self._load is not None else entry

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries
