"""Run one cell, whatever process it is in: the grid scheduler itself (``inline``, ``bench run`` single), a
worker subprocess of the local executor (``python -m bench.executors.worker SPEC RESULT``) or a Slurm job.

:func:`run_cell` takes the cell's lock, checks again under the lock that the cell is not already done
(another scheduler may have finished it meanwhile), appends a line to ``attempts.log`` and calls the
training loop. Every error of the cell becomes a ``failed`` result with its reason, so that the grid goes on.

The cell's run plan comes in its spec as the scheduler made it (``RunPlan.to_json``) and goes to the training function
as it is (``RunPlan.from_json``: nothing is resolved again). The training function is
:func:`bench.run.launch.train`; the environment variable ``BENCH_TRAIN_FN`` (``module:function``) replaces it, which
is how the scheduler's tests run without training anything.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError, one_line
from bench.plan import RunPlan
from bench.run.folder import RunDir, atomic_write_json, read_status
from bench.run.launch import train
from bench.run.locks import CellLock
from bench.run.state import DONE, FAILED, LOCKED, SKIPPED, read_state, start_attempt

TrainFn = Callable[..., Any]

SCHEDULER_PID_ENV = "BENCH_SCHEDULER_PID"
"""Set by the local executor to its own pid: a worker whose scheduler is gone interrupts itself (see
:func:`watch_scheduler`)."""


@dataclass
class CellSpec:
    """Everything a process needs to run one cell (JSON-serialisable).

    Attributes:
        cell: the cell id.
        plan: the cell's run plan, ``RunPlan.to_json()`` (its ``config`` entry: :attr:`config`).
        run_dir: the run folder ``results/<grid key>/<cell id>``.
        lock: the cell's lock file.
        force_restart: start over even if the run folder holds a checkpoint (or is done).
        progress: show the loop's progress bar.
        threads: torch CPU threads for this process; None = leave torch's default.
    """

    cell: str
    plan: dict[str, Any]
    run_dir: str
    lock: str
    force_restart: bool = False
    progress: bool = False
    threads: int | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The plan's resolved options (device, nproc ... for the executors)."""
        return self.plan["config"]


@dataclass
class CellResult:
    """How one cell ended in this invocation.

    Attributes:
        cell: the cell id.
        state: ``done`` (trained to the end now), ``failed``, ``skipped`` (done before, not trained again)
            ``locked`` (another live process is running it) or ``interrupted`` (Ctrl-C before it finished).
        step, steps: the run's step and planned steps (from ``status.json``), None when unknown.
        best: ``{"fid", "step", "protocol", "extractor"}`` of the best evaluation so far, or None.
        error: one line saying why, for failed and locked cells.
        seconds: wall time spent on the cell here.
    """

    cell: str
    state: str
    step: int | None = None
    steps: int | None = None
    best: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_train_fn() -> TrainFn:
    """``bench.run.launch.train``, or the function named by ``BENCH_TRAIN_FN`` (``module:function``)."""
    target = os.environ.get("BENCH_TRAIN_FN", "").strip()
    if not target:
        return train
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name or "train")


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads in this process (environment for libraries not loaded yet, torch if it is)."""
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def result_from_status(cell: str, state: str, run_dir: Path, error: str | None = None,
                       seconds: float = 0.0) -> CellResult:
    """A CellResult with step, steps and best read from the run folder's ``status.json``."""
    status = read_state(run_dir).status or {}
    return CellResult(cell=cell, state=state, step=status.get("step"), steps=status.get("steps"),
                      best=status.get("best"), error=error, seconds=seconds)


def run_cell(spec: CellSpec, train_fn: TrainFn | None = None) -> CellResult:
    """Run one cell under its lock and say how it ended (see :class:`CellResult`); never raises for a
    failure of the cell itself (KeyboardInterrupt and SystemExit pass through, the lock released)."""
    start = time.monotonic()
    run_dir = Path(spec.run_dir)
    set_threads(spec.threads)
    lock = CellLock(Path(spec.lock))
    try:
        acquired = lock.acquire()
    except BenchError as err:  # the lock cannot be written (read-only folder, full disk)
        return result_from_status(spec.cell, FAILED, run_dir, error=one_line(err))
    if not acquired:
        holder = lock.holder.describe() if lock.holder else "another process"
        return result_from_status(spec.cell, LOCKED, run_dir, error=f"running elsewhere ({holder})")
    try:
        plan = RunPlan.from_json(spec.plan, where=f"cell {spec.cell}")  # the scheduler's plan, as it made it
        if not spec.force_restart and read_state(run_dir).done_with(plan.hash):
            return result_from_status(spec.cell, SKIPPED, run_dir)
        start_attempt(run_dir, spec.force_restart)
        train = train_fn or load_train_fn()
        outcome = train(plan, run_dir, force_restart=False, progress=spec.progress)
        state = {DONE: DONE, SKIPPED: SKIPPED}.get(getattr(outcome, "status", None), FAILED)
        error = getattr(outcome, "error", None) if state == FAILED else None
        if state == FAILED and not error:
            error = (read_status(RunDir(run_dir)) or {}).get("error") or "the training loop reported a failure"
        return result_from_status(spec.cell, state, run_dir, error=error, seconds=time.monotonic() - start)
    except Exception as err:  # one cell's failure must not stop the grid
        if not isinstance(err, BenchError | OSError):  # a bug: its traceback helps; a user's error needs one line
            traceback.print_exc(file=sys.stderr)
        return result_from_status(spec.cell, FAILED, run_dir, error=one_line(err), seconds=time.monotonic() - start)
    finally:
        lock.release()


def run_inline(specs: list[CellSpec]) -> Iterator[CellResult]:
    """The ``inline`` executor: run the cells one after another in this process."""
    for spec in specs:
        yield run_cell(spec)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.executors.worker SPEC.json RESULT.json``: run the cell, write its CellResult."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.executors.worker SPEC.json RESULT.json", file=sys.stderr)
        return 2
    # SIGTERM (the scheduler or the system stopping us) is handled like Ctrl-C: the loop checkpoints the
    # last whole step and the lock is released on the way out
    signal.signal(signal.SIGTERM, _interrupt)
    # SIGINT comes only from the scheduler (we run in a session of our own); honour it even when this process
    # inherited SIGINT ignored, as background jobs of non-interactive shells do
    signal.signal(signal.SIGINT, signal.default_int_handler)
    spec = CellSpec(**json.loads(Path(args[0]).read_text(encoding="utf-8")))
    scheduler = os.environ.get(SCHEDULER_PID_ENV, "")
    if scheduler.isdigit():
        watch_scheduler(int(scheduler))
    try:
        result = run_cell(spec)
    except KeyboardInterrupt:
        return 130
    atomic_write_json(Path(args[1]), result.to_dict())
    return 0


def watch_scheduler(pid: int, period_s: float = 0.5) -> threading.Thread:
    """Send this process one SIGINT once its parent is no longer the scheduler ``pid``: a scheduler killed with
    SIGKILL (or the OOM killer) cannot stop its workers, which lead sessions of their own and would go on alone,
    holding their cells' locks, so that the same command run again would find those cells locked. Interrupted, the
    loop checkpoints its last whole step and the lock is released, as after Ctrl-C, and the next run resumes the
    cell. A daemon thread polling ``os.getppid()`` every ``period_s``; returned started."""
    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(period_s)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=watch, name="scheduler-watch", daemon=True)
    thread.start()
    return thread


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
