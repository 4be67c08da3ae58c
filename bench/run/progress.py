"""The training loop's progress bar: on the terminal, or (a worker of the local executor) into a progress file.

With one worker the loop's tqdm bar goes straight to the terminal. With several, their output goes to log files,
so the local executor gives each worker a progress file (``BENCH_PROGRESS_FILE``): the worker's bar
(:func:`progress_bar`) rewrites it with its latest line (step/steps, rate, ETA) about once a second, and the
scheduler's ``bench.executors.progress.ProgressBoard`` shows it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.run.folder import atomic_write_text

PROGRESS_FILE_ENV = "BENCH_PROGRESS_FILE"
_LINE = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"  # no bar


class ProgressFile:
    """A file-like target for tqdm that keeps only the bar's latest line, written atomically to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.line = ""

    def write(self, text: str) -> None:
        last = text.replace("\n", "\r").split("\r")
        line = next((part for part in reversed(last) if part.strip()), "")
        if line:
            self.line = line.strip()

    def flush(self) -> None:
        if self.line:
            with contextlib.suppress(Exception):  # progress is a courtesy: never fail a run for it
                atomic_write_text(self.path, self.line + "\n")


def progress_bar(total: int, initial: int, desc: str, enabled: bool, **kwargs: Any) -> tqdm:
    """The training loop's bar: on stderr when ``enabled``; else, under a worker given ``BENCH_PROGRESS_FILE``,
    into that file (about once a second); else disabled."""
    target = os.environ.get(PROGRESS_FILE_ENV)
    if enabled or not target:
        return tqdm(total=total, initial=initial, desc=desc, file=sys.stderr, disable=not enabled,
                    dynamic_ncols=True, **kwargs)
    return tqdm(total=total, initial=initial, desc=desc, file=ProgressFile(Path(target)), mininterval=1.0,
                bar_format=_LINE, **kwargs)
