"""Import bench from another checkout of this repository (a ``git worktree`` of a base ref), so that a
benchmark can time or compare two versions of the code with the same installed torch.

``python benchmarks/checkout.py ROOT -- ARGS`` runs ``bench ARGS`` (the CLI) with ``bench``,
``bench.methods`` and ``bench.datasets`` imported from ``ROOT`` instead of the installed package;
:func:`use_checkout` does the same inside a fresh interpreter before anything imports bench.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

PACKAGES = {"bench": "bench", "bench.methods": "methods", "bench.datasets": "datasets"}


class _CheckoutFinder(importlib.abc.MetaPathFinder):
    """Finds the three top-level packages of the repository (its pyproject ``package-dir``) under ``root``."""

    def __init__(self, root: Path) -> None:
        self.folders = {name: Path(root) / folder for name, folder in PACKAGES.items()}

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.folders:
            folder = self.folders[fullname]
            return importlib.util.spec_from_file_location(fullname, folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
        return None


def use_checkout(root: str | Path) -> None:
    """Make ``import bench`` (and its subpackages) load from the checkout at ``root``; call before any import
    of bench."""
    assert "bench" not in sys.modules, "bench is already imported"
    sys.meta_path.insert(0, _CheckoutFinder(Path(root).resolve()))


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        print("usage: python benchmarks/checkout.py ROOT -- BENCH-ARGS...", file=sys.stderr)
        sys.exit(2)
    use_checkout(sys.argv[1])
    from bench.cli import main

    sys.argv = ["bench", *sys.argv[3:]]
    main()
