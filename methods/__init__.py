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
import traceback

from bench.errors import ConfigError, one_line
from bench.methods.base import METHODS, Method, MethodConfig, register_method


def _import_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    for module in filter(None, (m.strip() for m in os.environ.get("BENCH_METHODS", "").split(","))):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is None or not (module == err.name or module.startswith(f"{err.name}.")):
                raise ConfigError(f"BENCH_METHODS module {module!r} failed at {_user_line(err)}: "
                                  f"{one_line(err)}") from err
            raise ConfigError(f"BENCH_METHODS names {module!r}, which cannot be imported: {err}") from err
        except Exception as err:  # a user's module: a SyntaxError, a NameError, a name registered twice ...
            raise ConfigError(f"BENCH_METHODS module {module!r} failed at {_user_line(err)}: "
                              f"{one_line(err)}") from err


def _user_line(err: Exception) -> str:
    """``file:line`` where a module imported through BENCH_METHODS went wrong: a SyntaxError's own place, else
    the innermost frame of the traceback outside bench and importlib (the user's decorator or statement)."""
    if isinstance(err, SyntaxError) and err.filename:
        return f"{err.filename}:{err.lineno}"
    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the folder holding methods/ and bench/
    frames = traceback.extract_tb(err.__traceback__)
    outside = [f for f in frames if not f.filename.startswith(("<", ours)) and "importlib" not in f.filename]
    frame = (outside or frames)[-1]
    return f"{frame.filename}:{frame.lineno}"


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
