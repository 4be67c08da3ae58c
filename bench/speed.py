"""What a run costs on the machine it ran on: ``<run>/speed.json``, never part of the CSVs (which a resumed run
writes byte-identically) nor of the config hash.

``speed.json``::

    {"device": "cpu: Intel(R) Xeon(R) ...",   # or "cuda: NVIDIA H100 80GB HBM3"
     "dtype": "float32",                      # "bfloat16" with bf16 = true (the steps' autocast dtype)
     "threads": 2,                            # torch's CPU threads
     "phases": {"data": s, "judge": s, "reference": s, "pretraining": s, "training": s, "evaluation": s},
     "train": {"iterations": n, "seconds": s, "s_per_iteration": s, "images_per_s": x,
               "batch_size": b, "d_steps_per_iteration": n_dis},
     "peak_rss_mb": mb,                       # the process's peak resident memory
     "cuda_peak_mb": mb | null,               # torch's peak allocated CUDA memory; null on CPU
     "attempts": k}                           # the attempts (start + resumes) these numbers add up

Phases, in wall-clock seconds, each counted once (a phase nested in another is taken out of the outer one):
``data`` = loading the train and reference splits; ``judge`` = training (or loading) the reference classifier;
``reference`` = the reference features; ``pretraining`` = the method's pretraining stage; ``training`` = the
iterations, their loss rows and checkpoints, without the evaluations; ``evaluation`` = the evaluations during
training (generation, features, metrics, sample grids) less the judge and reference time spent inside them.
``train.seconds`` is the ``training`` phase, ``s_per_iteration`` = seconds / iterations, ``images_per_s`` = the real
images D sees per second = iterations · d_steps_per_iteration · batch_size / seconds.

A resumed run adds to the record of its earlier attempts when device, dtype and threads are the same, and starts a
new record otherwise (the numbers describe one machine). The record is rewritten at every checkpoint, so a run
killed in between keeps what its last checkpoint covered. ``bench gather`` collects every run's record into
``<grid key>-speed.csv``; ``bench report`` shows it per grid; ``bench run --dry-run`` may read it for its estimates.
"""

from __future__ import annotations

import contextlib
import json
import platform
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.atomic import atomic_write_json

if TYPE_CHECKING:  # torch is imported where it is used: bench gather reads records without it
    import torch

PHASES = ("data", "judge", "reference", "pretraining", "training", "evaluation")
SPEED_FILE = "speed.json"

_active: PhaseClock | None = None  # the clock of the run this process is training, if any


class PhaseClock:
    """Wall-clock seconds per phase, exclusive: while a nested phase runs, the enclosing one is paused."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self._open: list[list[Any]] = []  # [phase, start of its current stretch]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        assert name in PHASES, name
        now = time.perf_counter()
        if self._open:
            outer = self._open[-1]
            self.seconds[outer[0]] += now - outer[1]
        self._open.append([name, now])
        try:
            yield
        finally:
            now = time.perf_counter()
            _, start = self._open.pop()
            self.seconds[name] += now - start
            if self._open:
                self._open[-1][1] = now


@contextlib.contextmanager
def recording(clock: PhaseClock) -> Iterator[PhaseClock]:
    """Make ``clock`` the one :func:`phase` reports to while the block runs (one run at a time per process)."""
    global _active
    previous, _active = _active, clock
    try:
        yield clock
    finally:
        _active = previous


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as phase ``name`` of the run being recorded; nothing when no run is (tests, ``bench eval``)."""
    if _active is None:
        yield
        return
    with _active.phase(name):
        yield


def device_name(device: torch.device) -> str:
    """``cuda: <GPU name>`` or ``cpu: <CPU model>`` (``/proc/cpuinfo``'s model name, else the platform's)."""
    if device.type == "cuda":
        import torch

        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"cpu: {model or platform.processor() or platform.machine()}"


def peak_rss_mb() -> float:
    """The process's peak resident set size in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)


def read_record(run_root: Path) -> dict[str, Any] | None:
    """A run folder's speed.json, or None when it is absent or unreadable (a record never stops a run)."""
    try:
        record = json.loads((Path(run_root) / SPEED_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


class SpeedRecord:
    """The speed record of one run folder: the earlier attempts' (when comparable) plus this attempt's clock."""

    def __init__(self, root: Path, device: torch.device, dtype: str, threads: int, batch_size: int,
                 d_steps_per_iteration: int, previous: dict[str, Any] | None = None,
                 clock: PhaseClock | None = None) -> None:
        self.path = Path(root) / SPEED_FILE
        self.device = device
        self.machine = {"device": device_name(device), "dtype": dtype, "threads": threads}
        self.batch_size, self.n_dis = batch_size, d_steps_per_iteration
        self.clock = clock or PhaseClock()
        self.iterations = 0  # done in this attempt
        same = bool(previous) and all(previous.get(k) == v for k, v in self.machine.items())
        self.base = previous if same and previous is not None else None

    def as_dict(self) -> dict[str, Any]:
        """The record as speed.json holds it (see the module docstring)."""
        base = self.base or {}
        phases = {k: round((base.get("phases") or {}).get(k, 0.0) + self.clock.seconds[k], 3) for k in PHASES}
        iterations = int((base.get("train") or {}).get("iterations", 0)) + self.iterations
        seconds = phases["training"]
        cuda_peak = None
        if self.device.type == "cuda":
            import torch

            cuda_peak = round(max(torch.cuda.max_memory_allocated(self.device) / 2 ** 20,
                                  base.get("cuda_peak_mb") or 0.0), 1)
        return {**self.machine, "phases": phases,
                "train": {"iterations": iterations, "seconds": seconds,
                          "s_per_iteration": round(seconds / iterations, 6) if iterations else None,
                          "images_per_s": round(iterations * self.n_dis * self.batch_size / seconds, 2)
                          if iterations and seconds > 0 else None,
                          "batch_size": self.batch_size, "d_steps_per_iteration": self.n_dis},
                "peak_rss_mb": round(max(peak_rss_mb(), base.get("peak_rss_mb") or 0.0), 1),
                "cuda_peak_mb": cuda_peak, "attempts": int(base.get("attempts", 0)) + 1}

    def write(self) -> None:
        """Rewrite speed.json atomically."""
        atomic_write_json(self.path, self.as_dict())
