"""Progress of every phase of a run, wherever its output goes: decoding images, training the judge, reference
features, pretraining, training, each evaluation.

Every phase shows a bar (:func:`bar`) whose description names the phase, so that no phase stays silent for more
than a few seconds:

- on a terminal: tqdm's bar on stderr, redrawn in place;
- on stderr that is a file (``bench run ... 2> log``): one line every ``BENCH_PROGRESS_LOG_S`` seconds (default
  5) and the last one when the phase ends (:class:`LogLines`), without a terminal's cursor moves;
- in a worker of a grid run with several workers (``BENCH_PROGRESS_FILE``): the bar's latest line, rewritten
  about once a second into that file, which the scheduler's live lines show (``bench.executors.progress``);
- nowhere, when progress is off (tests, ``progress=False``) and no progress file is set.

Every bar that shows also redraws itself while it is open (:class:`HeartbeatBar`: every second on a terminal and
in a progress file, every half period in a log file), so that a long unit of work (one protocol of an evaluation,
a slow batch) still shows its elapsed time: a log file is never silent for more than 1.5 periods.

Whether bars show, and the prefix naming the run, is set per block with :func:`shown` (the loop wraps a run in
it); outside any block they show on a terminal only.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.atomic import atomic_write_text

PROGRESS_FILE_ENV = "BENCH_PROGRESS_FILE"
LOG_EVERY_ENV = "BENCH_PROGRESS_LOG_S"
TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # tqdm's cursor moves between nested bars
LINE_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"

_SHOWN: contextvars.ContextVar[tuple[bool | None, str]] = contextvars.ContextVar("bench_progress", default=(None, ""))


@contextlib.contextmanager
def shown(enabled: bool, prefix: str = "") -> Iterator[None]:
    """Inside the block, bars show on stderr when ``enabled`` (else only into a worker's progress file) and their
    descriptions start with ``prefix`` (a cell id)."""
    token = _SHOWN.set((enabled, prefix))
    try:
        yield
    finally:
        _SHOWN.reset(token)


def _stderr_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def enabled() -> bool:
    """Whether bars show on stderr here: as :func:`shown` says, else when stderr is a terminal."""
    flag, _ = _SHOWN.get()
    return _stderr_is_terminal() if flag is None else flag


def describe(phase: str) -> str:
    """``<prefix> <phase>`` (the prefix of the enclosing :func:`shown` block, if any)."""
    _, prefix = _SHOWN.get()
    return f"{prefix} {phase}" if prefix else phase


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


class LogLines:
    """A file-like target for tqdm on a stream that is not a terminal (a log file): the bar's latest line as a
    line of its own: the first at once, then at most every ``every`` seconds, and the last when the bar closes."""

    def __init__(self, stream: Any, every: float) -> None:
        self.stream, self.every = stream, every
        self.line, self.written, self.last = "", "", -math.inf  # the first line at once

    def write(self, text: str) -> None:
        text = TERMINAL_CONTROL.sub("", text)
        parts = [part.strip() for part in text.replace("\n", "\r\n").split("\r")]
        for part in parts:
            if part:
                self.line = part
        closing = "\n" in text
        now = time.monotonic()
        if self.line and self.line != self.written and (closing or now - self.last >= self.every):
            with contextlib.suppress(Exception):
                self.stream.write(self.line + "\n")
                self.stream.flush()
            self.written, self.last = self.line, now

    def flush(self) -> None:
        pass


class HeartbeatBar(tqdm):
    """A tqdm bar that redraws itself every ``heartbeat`` seconds from a daemon thread while it is open (tqdm
    draws only when the work calls ``update``), so that its elapsed time keeps reaching a log or progress file."""

    def __init__(self, *args: Any, heartbeat: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stopped = threading.Event()
        if not self.disable:
            threading.Thread(target=self._beat, args=(heartbeat,), daemon=True, name="progress-heartbeat").start()

    def _beat(self, every: float) -> None:
        while not self._stopped.wait(every):
            with contextlib.suppress(Exception):  # progress is a courtesy: never fail a run for it
                self.refresh()

    def close(self) -> None:
        self._stopped.set()
        super().close()


def bar(total: int | None, phase: str, *, initial: int = 0, unit: str = "it", leave: bool = True,
        show: bool | None = None, **kwargs: Any) -> tqdm:
    """A progress bar for one phase (see the module docstring for where it goes).

    Args:
        total: units of the phase (None = unknown).
        phase: what runs, e.g. ``"pretrain"``, ``"eval step 300"``; prefixed by the enclosing :func:`shown`.
        initial: units already done (a resumed phase).
        unit: tqdm's unit name.
        leave: keep the finished bar on a terminal.
        show: show on stderr (None = :func:`enabled`).
        kwargs: tqdm's; ``disable=True`` gives a bar that shows nowhere.
    """
    desc = describe(phase)
    show = enabled() if show is None else show
    target = os.environ.get(PROGRESS_FILE_ENV)
    off = kwargs.pop("disable", False)
    common = {"total": total, "initial": initial, "desc": desc, "unit": unit, **kwargs}
    if off:
        return tqdm(disable=True, **common)
    if show and _stderr_is_terminal():
        return HeartbeatBar(file=sys.stderr, dynamic_ncols=True, leave=leave, heartbeat=1.0, **common)
    if show:
        every = float(os.environ.get(LOG_EVERY_ENV, "5"))
        return HeartbeatBar(file=LogLines(sys.stderr, every), bar_format=LINE_FORMAT, mininterval=min(1.0, every),
                            heartbeat=every / 2, **common)
    if target:
        return HeartbeatBar(file=ProgressFile(Path(target)), mininterval=1.0, bar_format=LINE_FORMAT, heartbeat=1.0,
                            **common)
    return tqdm(disable=True, **common)


def progress_bar(total: int, initial: int, desc: str, enabled: bool, **kwargs: Any) -> tqdm:
    """The training loop's bar (``desc`` as given, not prefixed): on stderr when ``enabled``; else, under a worker
    given ``BENCH_PROGRESS_FILE``, into that file (about once a second); else disabled."""
    with shown(enabled):
        return bar(total, desc, initial=initial, show=enabled, **kwargs)


def note(text: str) -> None:
    """A line on stderr when bars show here (it does not break a bar drawn on a terminal)."""
    if enabled():
        tqdm.write(describe(text), file=sys.stderr)
