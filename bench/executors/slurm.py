"""The Slurm executor: one job per cell, submitted as one job array through submitit; with ``cells_per_job`` K
> 1, one job per K cells, which it runs at once through the local executor on the job's GPUs (K cells sharing
``gpus`` GPUs; ``bench.executors.packing``).

Preemption and time limits: the job callable is a ``submitit.helpers.Checkpointable``, so when Slurm warns
a job (preemption, or ``--time`` running out) submitit requeues the same cell, and the loop resumes it from
its last checkpoint. A requeued job recognises its own lock (same Slurm job id) and takes it over. A job
that ends for good (a node failure beyond submitit's retries, ``scancel``) leaves an interrupted run folder;
``bench run --grid`` again resumes it.

``SlurmOptions(local=True)`` uses submitit's local executor instead (real subprocesses on this machine,
no Slurm): that is how the tests exercise this path.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import submitit

from bench.errors import ConfigError, check
from bench.executors.local import cpu_count, run_local, visible_gpus
from bench.executors.packing import chunk
from bench.executors.worker import CellResult, CellSpec, result_from_status, run_cell


@dataclass
class SlurmOptions:
    """Slurm settings of ``bench run --executor slurm``.

    Attributes:
        partition: Slurm partition; None = the cluster's default.
        gpus: GPUs per job.
        time_min: time limit of a job in minutes; a job that reaches it is requeued and resumes.
        array_parallelism: jobs of the array running at once.
        local: run the jobs with submitit's local executor (tests; no Slurm needed).
        cells_per_job: cells each job runs at once (1 = one job per cell).
    """

    partition: str | None = None
    gpus: int = 1
    time_min: int = 24 * 60
    array_parallelism: int = 16
    local: bool = False
    cells_per_job: int = 1


def check_slurm(options: SlurmOptions) -> None:
    """ConfigError unless jobs can be submitted: Slurm's ``sbatch`` on PATH, or local mode."""
    check(options.gpus >= 0, f"--gpus must be >= 0, got {options.gpus}")
    check(options.time_min >= 1, f"--time must be >= 1 minute, got {options.time_min}")
    check(options.array_parallelism >= 1, f"--array-parallelism must be >= 1, got {options.array_parallelism}")
    check(options.cells_per_job >= 1, f"--cells-per-job must be >= 1, got {options.cells_per_job}")
    if not options.local and shutil.which("sbatch") is None:
        raise ConfigError("--executor slurm needs Slurm's sbatch, which is not on PATH here; run from a Slurm "
                          "login node, or use --executor local")


class CellJob(submitit.helpers.Checkpointable):
    """The callable each Slurm job runs: one cell (a CellSpec as a dict) → its CellResult as a dict.

    ``checkpoint`` (inherited) resubmits the same call on preemption or timeout; the loop resumes the run."""

    def __call__(self, spec: dict[str, Any]) -> dict[str, Any]:
        return run_cell(CellSpec(**spec)).to_dict()


class CellsJob(submitit.helpers.Checkpointable):
    """The callable of a job that runs several cells at once (``cells_per_job`` > 1): CellSpec dicts → their
    CellResult dicts. The cells run in worker subprocesses of the local executor, sharing the job's GPUs
    (enough cells per GPU for all to run at once); a requeued job runs them again and finished ones are
    skipped."""

    def __call__(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cells = [CellSpec(**spec) for spec in specs]
        gpus = visible_gpus() if any(c.config.get("device", "auto") != "cpu" for c in cells) else []
        nproc = max(int(c.config.get("nproc", 1)) for c in cells)
        per_gpu = -(-len(cells) // max(1, len(gpus) // nproc)) if gpus else None
        log_dir = Path(cells[0].run_dir).parent / ".logs"
        return [r.to_dict() for r in run_local(cells, workers=len(cells), log_dir=log_dir, cells_per_gpu=per_gpu)]


def run_slurm(specs: list[CellSpec], *, options: SlurmOptions, folder: Path,
              name: str = "bench") -> Iterator[CellResult]:
    """Submit one job per cell (a job array) and yield each result as its job ends.

    Args:
        specs: the cells to run.
        options: partition, GPUs, time limit, array parallelism, local mode.
        folder: submitit's folder for job scripts and logs (``%j`` is the job id).
        name: the Slurm job name.
    """
    check_slurm(options)
    if not specs:
        return
    executor = submitit.AutoExecutor(folder=str(folder), cluster="local" if options.local else "slurm")
    gpus = options.gpus
    if options.local:
        gpus = min(gpus, 1) if any(s.config.get("device") != "cpu" for s in specs) and visible_gpus() else 0
        if "OMP_NUM_THREADS" not in os.environ:
            threads = max(1, cpu_count() // min(len(specs), options.array_parallelism))
            specs = [CellSpec(**{**asdict(s), "threads": s.threads or threads}) for s in specs]
    executor.update_parameters(name=name, timeout_min=options.time_min, gpus_per_node=gpus,
                               slurm_partition=options.partition, slurm_array_parallelism=options.array_parallelism)
    if options.cells_per_job > 1:
        groups = chunk(specs, options.cells_per_job)
        jobs = executor.map_array(CellsJob(), [[asdict(s) for s in group] for group in groups])
    else:
        groups = [[spec] for spec in specs]
        jobs = executor.map_array(CellJob(), [asdict(s) for s in specs])
    by_job = {job.job_id: group for job, group in zip(jobs, groups, strict=True)}
    print(f"submitted {len(jobs)} job(s) {', '.join(j.job_id for j in jobs[:4])}{' ...' if len(jobs) > 4 else ''}"
          f" (logs in {folder}); Ctrl-C stops waiting, not the jobs", file=sys.stderr)
    for job in submitit.helpers.as_completed(jobs, poll_frequency=0.5 if options.local else 30):
        group = by_job[job.job_id]
        try:
            result = job.result()
        except Exception as err:  # the job died: report its cells, go on with the others
            first = str(err).strip().splitlines()
            reason = first[-1][:200] if first else type(err).__name__
            for spec in group:
                yield result_from_status(spec.cell, "failed", Path(spec.run_dir),
                                         error=f"Slurm job {job.job_id} failed (see {job.paths.stderr}): {reason}")
            continue
        for one in result if isinstance(result, list) else [result]:
            yield CellResult(**one)
