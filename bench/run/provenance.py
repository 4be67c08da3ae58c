"""What a run folder records about the code and environment that trained it (``config.json``'s ``versions`` and
``git_commit``): not hashed, since they do not define the run, but what a reader needs to trust its numbers."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

import bench


def environment_versions() -> dict[str, str | None]:
    """Versions of what moves the numbers: torch, torchvision, torch-fidelity, python, bench."""

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"torch": torch.__version__, "torchvision": version("torchvision"),
            "torch-fidelity": version("torch-fidelity"), "python": platform.python_version(),
            "bench": bench.__version__}


def git_commit() -> str | None:
    """The commit of the repository bench runs from, or None (not a checkout, no git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(bench.__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None
