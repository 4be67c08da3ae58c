"""Executors: where the cells of a grid run.

- ``local`` (default): ``workers`` cells at once, each in its own subprocess (``bench.executors.local``);
- ``slurm``: one Slurm job per cell through submitit (``bench.executors.slurm``);
- ``inline``: one after another in the calling process (debugging, tests).

Each takes a list of :class:`~bench.executors.worker.CellSpec` and yields a
:class:`~bench.executors.worker.CellResult` per cell as it finishes; the scheduler decides what to run.
(Nothing is imported here, so that ``python -m bench.executors.worker`` starts clean.)
"""

from __future__ import annotations

from bench.errors import unknown_name

EXECUTORS = ("local", "slurm", "inline")


def check_executor(name: str) -> str:
    """``name`` if it is a known executor; a ConfigError with the closest name otherwise."""
    if name not in EXECUTORS:
        raise unknown_name("executor", name, EXECUTORS)
    return name
