"""Progress of cells that run in worker processes: one live line per worker in the scheduler's terminal.

With one worker the loop's tqdm bar goes straight to the terminal. With several, their output goes to log files,
so the local executor gives each worker a progress file (``BENCH_PROGRESS_FILE``): the bar of the phase the worker
is in (decoding, judge, reference features, pretraining, training, an evaluation; :mod:`bench.progress`) rewrites
it with its latest line (phase, done/total, rate, ETA) about once a second, and the scheduler's
:class:`ProgressBoard` shows one line per running worker: redrawn in place on a terminal, printed every
``BENCH_PROGRESS_EVERY_S`` seconds (default 10) otherwise.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from bench.progress import PROGRESS_FILE_ENV

__all__ = ["PROGRESS_FILE_ENV", "ProgressBoard"]
EVERY_ENV = "BENCH_PROGRESS_EVERY_S"


class ProgressBoard:
    """One line per running worker on ``stream``: ``[slot] <the worker's latest bar line>``.

    Call :meth:`update` often (it redraws at most every ``interval`` seconds) and :meth:`clear` before
    printing anything else, so that on a terminal the block is drawn in place below other output.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        every = float(os.environ.get(EVERY_ENV, "10"))
        self.interval = interval if interval is not None else (1.0 if self.tty else every)
        self.drawn = 0  # lines of the block now on the terminal
        self.last = 0.0

    def update(self, workers: Iterable[tuple[int, str, Path]], force: bool = False) -> None:
        """``workers``: (slot, cell id, progress file) of each running worker."""
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        lines = [f"[{slot + 1}] {_read_line(path) or cell + ': starting'}" for slot, cell, path in workers]
        if not lines:
            return
        width = shutil.get_terminal_size((120, 20)).columns - 1
        self.clear()
        self.stream.write("".join(line[:width] + "\n" for line in lines))
        self.stream.flush()
        self.drawn = len(lines) if self.tty else 0

    def clear(self) -> None:
        """Erase the block drawn on a terminal (nothing to do elsewhere)."""
        if self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")  # up to the block's first line, clear to the end
            self.stream.flush()
            self.drawn = 0


def _read_line(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
