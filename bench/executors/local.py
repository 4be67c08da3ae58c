"""The local executor: ``workers`` cells at once on this machine, each in its own subprocess
(``python -m bench.executors.worker``), so that a crash (out of memory, a segfault) takes down one cell only.

With GPUs visible to torch, each running cell gets its slot's GPUs (``CUDA_VISIBLE_DEVICES``; one, or ``nproc``
for a data-parallel cell; ``cells_per_gpu`` cells share each GPU; see ``bench.executors.packing``); without,
each gets ``cores // workers`` CPU threads (unless ``OMP_NUM_THREADS`` is set).
With one worker its output goes to this terminal (the loop's progress bar); with several, to
``results/<key>/.logs/<cell>.log``, and this terminal shows one live line per worker (step, rate, ETA; see
``bench.executors.progress``).

Workers run in sessions of their own: Ctrl-C reaches the scheduler, which sends each running worker's process
group (the worker and the ranks of a data-parallel cell) one SIGINT, so that the loop checkpoints its last
whole step, marks the run pending and releases the lock. (A scheduler killed outright leaves its workers to
finish their cells, still holding their locks.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from bench.executors.packing import Slot, worker_slots
from bench.executors.progress import PROGRESS_FILE_ENV, ProgressBoard
from bench.executors.worker import SCHEDULER_PID_ENV, CellResult, CellSpec, result_from_status

POLL_S = 0.1
STOP_WAIT_S = 60.0  # a checkpoint of a big model may take a while


@dataclass
class _Running:
    proc: subprocess.Popen
    spec: CellSpec
    result: Path
    log: Path | None
    log_fh: IO[bytes] | None
    start: float
    progress: Path | None = None  # the worker's progress file (several workers)


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def visible_gpus() -> list[str]:
    """The GPUs a worker may be pinned to: ``CUDA_VISIBLE_DEVICES`` when set, else those torch counts."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def local_slots(gpus: list[str], workers: int, cells_per_gpu: int | None, nproc: int) -> list[Slot]:
    """The slots of this machine: ``cells_per_gpu`` cells on each GPU (group of ``nproc`` GPUs), or without it
    ``workers`` slots round robin over the GPUs (or CPU slots)."""
    if cells_per_gpu is not None and gpus:
        return worker_slots(gpus, cells_per_gpu, nproc)
    if not gpus:
        return worker_slots([], cpu_workers=workers)
    groups = max(1, len(gpus) // nproc)
    return worker_slots(gpus, -(-workers // groups), nproc)[:workers]


def run_local(specs: list[CellSpec], *, workers: int = 1, log_dir: Path | None = None,
              cells_per_gpu: int | None = None) -> Iterator[CellResult]:
    """Run ``specs`` in up to ``workers`` subprocesses at once; yield each result as its process ends.

    Args:
        specs: the cells to run (their lock files make a second scheduler skip them).
        workers: cells at once (without GPUs, or without ``cells_per_gpu``).
        log_dir: folder for per-cell output logs and the spec/result files of the workers; with one worker
            the output goes to this process's stderr instead.
        cells_per_gpu: with GPUs: cells at once on each GPU; the number of cells at once is then K × GPUs /
            nproc and ``workers`` is ignored.
    """
    if not specs:
        return
    log_dir = Path(log_dir or Path(specs[0].run_dir).parent / ".logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    wants_gpu = any(s.config.get("device", "auto") != "cpu" for s in specs)
    gpus = visible_gpus() if wants_gpu else []
    nproc = max(int(s.config.get("nproc", 1)) for s in specs)
    if cells_per_gpu is not None and not gpus:
        why = ("the cells run on the CPU (device cpu)" if not wants_gpu
               else "no GPU is visible (CUDA_VISIBLE_DEVICES, torch)")
        print(f"note: --cells-per-gpu {cells_per_gpu} packs cells on GPUs, and {why}: running --workers {workers} "
              f"cell(s) at once", file=sys.stderr, flush=True)
    slots = local_slots(gpus, workers, cells_per_gpu, nproc)
    threads = None if gpus or "OMP_NUM_THREADS" in os.environ else max(1, cpu_count() // len(slots))
    pending = list(specs)
    running: dict[int, _Running] = {}
    board = ProgressBoard() if len(slots) > 1 else None  # one worker: its own bar is on this terminal
    previous = _sigterm_as_interrupt()
    try:
        while pending or running:
            for slot in slots:
                if slot.index not in running and pending:
                    running[slot.index] = _start(pending.pop(0), slot, threads, log_dir, quiet=len(slots) > 1)
            finished = [slot for slot, r in running.items() if r.proc.poll() is not None]
            for slot in finished:
                if board is not None:
                    board.clear()
                yield _collect(running.pop(slot))
            if board is not None:
                board.update((slot, r.spec.cell, r.progress) for slot, r in sorted(running.items())
                             if r.progress is not None)
            if not finished:
                time.sleep(POLL_S)
    finally:
        if board is not None:
            board.clear()
        _stop_all(running.values())
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _sigterm_as_interrupt() -> Any:
    """Make SIGTERM (``kill``, a batch system's stop) act as Ctrl-C while workers run: the workers lead sessions of
    their own and would otherwise outlive a killed scheduler, holding their locks; as an interrupt, each gets one
    SIGINT, checkpoints its last whole step and exits, and the grid (or tune) resumes when run again. Returns the
    previous handler (None outside the main thread, where no handler can be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


def _start(spec: CellSpec, slot: Slot, threads: int | None, log_dir: Path, quiet: bool) -> _Running:
    # per scheduler process: another scheduler may be running the same grid on the same folder
    spec_path = log_dir / f"{spec.cell}.{os.getpid()}.spec.json"
    result_path = log_dir / f"{spec.cell}.{os.getpid()}.result.json"
    result_path.unlink(missing_ok=True)
    spec = CellSpec(**{**asdict(spec), "threads": spec.threads or threads, "progress": spec.progress and not quiet})
    spec_path.write_text(json.dumps(asdict(spec)), encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env[SCHEDULER_PID_ENV] = str(os.getpid())  # the worker interrupts itself if this process dies (SIGKILL)
    if slot.devices:
        env["CUDA_VISIBLE_DEVICES"] = slot.visible
    if spec.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(spec.threads)
    log = log_dir / f"{spec.cell}.log" if quiet else None
    progress = log_dir / f"{spec.cell}.{os.getpid()}.progress" if quiet else None
    if progress is not None:
        progress.unlink(missing_ok=True)
        env[PROGRESS_FILE_ENV] = str(progress)  # the worker's bar goes there; the scheduler shows it
    log_fh = log.open("ab") if log else None
    out = log_fh if log_fh else 2  # fd 2: this process's stderr, even when sys.stderr is replaced
    # a session of its own: Ctrl-C reaches the scheduler only, which forwards exactly one SIGINT (a second one
    # would stop the loop mid-step, without a checkpoint)
    proc = subprocess.Popen([sys.executable, "-m", "bench.executors.worker", str(spec_path), str(result_path)],
                            env=env, stdout=out, stderr=subprocess.STDOUT if log_fh else None,
                            start_new_session=True)
    return _Running(proc=proc, spec=spec, result=result_path, log=log, log_fh=log_fh, start=time.monotonic(),
                    progress=progress)


def _collect(run: _Running) -> CellResult:
    if run.log_fh:
        run.log_fh.close()
    seconds = time.monotonic() - run.start
    spec_path = run.result.with_name(run.result.name.replace(".result.json", ".spec.json"))
    spec_path.unlink(missing_ok=True)
    if run.progress is not None:
        run.progress.unlink(missing_ok=True)
    if run.proc.returncode == 0 and run.result.exists():
        result = CellResult(**json.loads(run.result.read_text(encoding="utf-8")))
        run.result.unlink()
        result.seconds = seconds
        return result
    where = f"see {run.log}" if run.log else "its output is above"
    last = _last_line(run.log) if run.log else ""
    return result_from_status(run.spec.cell, "failed", Path(run.spec.run_dir), seconds=seconds,
                              error=f"worker exited with code {run.proc.returncode} ({where}){last}")


def _last_line(path: Path | None) -> str:
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except (OSError, AttributeError):
        return ""
    return f": {lines[-1].strip()[:200]}" if lines else ""


def _stop_all(runs) -> None:
    """Stop still-running workers (Ctrl-C, an error here): one SIGINT lets the loop checkpoint its last whole
    step and the worker release its lock; a worker still alive after ``STOP_WAIT_S`` is killed."""
    runs = [r for r in runs if r.proc.poll() is None]
    for run in runs:
        try:  # the worker leads its own process group, which holds the ranks of a data-parallel cell
            os.killpg(run.proc.pid, signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            run.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_WAIT_S
    for run in runs:
        try:
            run.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait()
        if run.log_fh:
            run.log_fh.close()
