"""Progress of cells that run in worker processes: one live line per worker in the scheduler's terminal.

With one worker the loop's tqdm bar goes straight to the terminal. With several, their output goes to log files,
so the local executor gives each worker a progress file (``BENCH_PROGRESS_FILE``): the worker's bar
(:func:`progress_bar`) rewrites it with its latest line (step/steps, rate, ETA) about once a second, and the
scheduler's :class:`ProgressBoard` shows one line per running worker: redrawn in place on a terminal, printed
every ``BENCH_PROGRESS_EVERY_S`` seconds (default 30) otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from bench.run_dir import atomic_write_text

PROGRESS_FILE_ENV = "BENCH_PROGRESS_FILE"
EVERY_ENV = "BENCH_PROGRESS_EVERY_S"
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


class ProgressBoard:
    """One line per running worker on ``stream``: ``[slot] <the worker's latest bar line>``.

    Call :meth:`update` often (it redraws at most every ``interval`` seconds) and :meth:`clear` before
    printing anything else, so that on a terminal the block is drawn in place below other output.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        every = float(os.environ.get(EVERY_ENV, "30"))
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
