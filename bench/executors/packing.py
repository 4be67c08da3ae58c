"""Which devices each running cell gets: pure functions of the device list, tested without GPUs.

A *slot* is a place for one running cell: the GPUs it sees (``CUDA_VISIBLE_DEVICES``) or, without GPUs, none.
With G visible GPUs, ``K`` cells per GPU (``--cells-per-gpu``) and cells of ``n`` ranks each (``nproc``), the
GPUs form ⌊G / n⌋ groups of n consecutive ones and each group holds K slots. Slots are ordered round robin
over the groups (every group's first slot, then every group's second...), so that whatever the number of
cells, the first cells spread over all GPUs before any GPU gets a second one, and a cell that ends frees a
slot the next pending cell takes (the local executor's loop): all GPUs stay busy while cells remain.

On Slurm, ``--cells-per-job K`` packs the cells into jobs of K (:func:`chunk`); a job runs its cells at once
through the local executor on the GPUs Slurm gave it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import check


@dataclass(frozen=True)
class Slot:
    """One running cell's place: ``index`` in dispatch order and the device ids it sees (empty = CPU)."""

    index: int
    devices: tuple[str, ...] = ()

    @property
    def visible(self) -> str:
        """The ``CUDA_VISIBLE_DEVICES`` value of a cell in this slot."""
        return ",".join(self.devices)


def worker_slots(devices: Sequence[str], cells_per_gpu: int = 1, gpus_per_cell: int = 1,
                 cpu_workers: int = 1) -> list[Slot]:
    """The slots of a machine, in dispatch order.

    Args:
        devices: visible GPU ids (``CUDA_VISIBLE_DEVICES`` entries); empty = a CPU machine.
        cells_per_gpu: cells running at once on each GPU (K).
        gpus_per_cell: GPUs of one cell (its ``nproc``); the GPUs left over by ⌊G / n⌋ groups stay idle.
        cpu_workers: slots of a CPU machine (``--workers``).

    Returns:
        ``K · ⌊G / n⌋`` GPU slots round robin over the GPU groups, or ``cpu_workers`` CPU slots.
    """
    check(cells_per_gpu >= 1, f"--cells-per-gpu must be >= 1, got {cells_per_gpu}")
    check(gpus_per_cell >= 1, f"nproc must be >= 1, got {gpus_per_cell}")
    check(cpu_workers >= 1, f"--workers must be >= 1, got {cpu_workers}")
    if not devices:
        return [Slot(i) for i in range(cpu_workers)]
    groups = [tuple(devices[i:i + gpus_per_cell]) for i in range(0, len(devices) - gpus_per_cell + 1,
                                                                  gpus_per_cell)]
    check(bool(groups), f"a cell of nproc = {gpus_per_cell} needs {gpus_per_cell} GPUs; "
                        f"{len(devices)} visible ({', '.join(devices)})")
    order = [group for _ in range(cells_per_gpu) for group in groups]
    return [Slot(i, group) for i, group in enumerate(order)]


def first_wave(n_cells: int, slots: Sequence[Slot]) -> list[Slot]:
    """The slots the first ``min(n_cells, len(slots))`` cells start in (cell i in slot i)."""
    return list(slots[:n_cells])


def gpu_load(slots: Sequence[Slot]) -> dict[str, int]:
    """Cells per GPU id when every slot in ``slots`` runs one."""
    return dict(Counter(device for slot in slots for device in slot.devices))


def chunk(items: Sequence, size: int) -> list[list]:
    """``items`` in consecutive groups of ``size`` (the last one shorter): the cells of each Slurm job."""
    check(size >= 1, f"--cells-per-job must be >= 1, got {size}")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
