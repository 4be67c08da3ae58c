"""The method registry: ``get_method(name)``, ``list_methods()``, ``register_method``.

Each method is one module in this package that registers itself with ``@register_method("name")``.
Importing this package imports every module in it, so a new file in ``methods/`` is all it takes to add a
method. Methods living outside the package register the same way; name their modules in the environment
variable ``BENCH_METHODS`` (comma-separated import paths) so that every process — grid workers and Slurm
jobs included — imports them.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from bench.errors import ConfigError
from bench.methods.base import METHODS, Method, MethodConfig, register_method


def _import_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    for module in filter(None, (m.strip() for m in os.environ.get("BENCH_METHODS", "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"BENCH_METHODS names {module!r}, which cannot be imported: {err}") from err


_import_all()


def get_method(name: str) -> type[Method]:
    """The Method subclass registered as ``name``; a ConfigError listing the known names otherwise."""
    return METHODS.get(name)


def list_methods() -> list[str]:
    """Registered method names: the paper's in table order (each class's ``paper_order``), then the rest
    alphabetically."""
    classes = METHODS.entries
    paper = sorted((c.paper_position(), name) for name, c in classes.items() if c.paper_position() is not None)
    return [name for _, name in paper] + sorted(name for name, c in classes.items() if c.paper_position() is None)


__all__ = ["METHODS", "Method", "MethodConfig", "get_method", "list_methods", "register_method"]
