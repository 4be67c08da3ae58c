"""Start a run: :func:`train` checks the run folder (done before? the same config?) and trains in this process,
or starts the ranks of a data-parallel run (``nproc`` > 1): one process per device through
``torch.multiprocessing`` (spawn), each running :func:`bench.run.loop.train_ranks`; see ``bench.run.distributed``.

The calling process only waits. Ctrl-C reaches the ranks with it (they share its process group; the local
executor signals a worker's whole group): they agree to stop after the same iteration, rank 0 checkpoints it,
and this process waits for them before it raises KeyboardInterrupt. A rank that dies takes the others down,
and the run is marked failed with the first line of its error.
"""

from __future__ import annotations

import multiprocessing as std_mp
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

from bench.errors import one_line
from bench.plan import RunPlan
from bench.run import distributed
from bench.run import state as run_state
from bench.run.folder import RunDir, check_columns, read_status, write_status
from bench.run.loop import RunOutcome, train_ranks
from bench.run.setup import metric_columns, resolve_device

RENDEZVOUS_TIMEOUT = timedelta(hours=2)  # ranks wait this long for rank 0's evaluations and checkpoints


def train(plan: RunPlan, run_dir: Path, *, force_restart: bool = False, progress: bool = True) -> RunOutcome:
    """Train (or resume, or skip) one run in ``run_dir``.

    Args:
        plan: the run plan (``bench.plan``), resolved and checked.
        run_dir: the run folder, results/<grid>/<cell-id>/ (created).
        force_restart: move the folder's contents to ``_previous/<time>/`` and start over.
        progress: show a tqdm bar on stderr.

    Returns:
        ``skipped`` when the folder holds a finished run of the same config; ``done`` after training;
        ``failed`` when the run stopped on an error (non-finite loss, missing data, out of memory...), which
        ``status.json`` and ``error.log`` then describe.

    Raises:
        ConfigError: the folder holds a run of a different config (the message lists the keys that differ).
        KeyboardInterrupt: on Ctrl-C or SIGTERM, after saving a checkpoint at the last whole step and marking the
            run pending.
    """
    run = RunDir(Path(run_dir))
    run.root.mkdir(parents=True, exist_ok=True)
    if force_restart:
        run_state.start_over(run.root)
    state = run_state.check_resumable(run, plan)
    if state.done_with(plan.hash):
        best = state.status.get("best") or {}
        return RunOutcome(run_state.SKIPPED, int(state.status.get("step", plan.budget.steps)), best.get("fid"), None)
    for path, columns in zip((run.metrics, run.per_class), metric_columns(), strict=True):
        check_columns(path, columns)  # a folder an older bench wrote: refused before any work
    if plan.config.nproc > 1:
        return train_parallel(plan, run, progress)
    return train_ranks(plan, run, progress)


def _rank_main(rank: int, saved_plan: dict[str, Any], root: str, progress: bool, port: int, threads: int,
               results: Any) -> None:
    """One rank: join the group, train, report rank 0's outcome through ``results``."""
    torch.set_num_threads(threads)
    plan = RunPlan.from_json(saved_plan)
    cfg = plan.config
    device = resolve_device(cfg.device, rank)
    if device.type == "cuda":
        device = torch.device("cuda", rank)
        torch.cuda.set_device(device)
    ranks = distributed.init_ranks(rank, cfg.nproc, port, device, timeout=RENDEZVOUS_TIMEOUT)
    try:
        outcome = train_ranks(plan, RunDir(Path(root)), progress, ranks)
        report = (outcome.status, outcome.step, outcome.best_fid, outcome.error)
    except KeyboardInterrupt:  # every rank stopped at the same iteration; rank 0 checkpointed it
        report = ("interrupted", 0, None, None)
    finally:
        distributed.close_ranks()
    if ranks.main:
        results.put(report)


def train_parallel(plan: RunPlan, run: RunDir, progress: bool) -> Any:
    """Train ``plan`` on its ``nproc`` ranks in ``run`` (already checked by :func:`train`); returns rank 0's
    RunOutcome."""
    cfg = plan.config
    context = std_mp.get_context("spawn")
    results = context.SimpleQueue()
    threads = max(1, torch.get_num_threads() // cfg.nproc)
    args = (plan.to_json(), str(run.root), progress, distributed.free_port(), threads, results)
    processes = mp.start_processes(_rank_main, args=args, nprocs=cfg.nproc, join=False, start_method="spawn")
    interrupted, report = False, None
    while True:
        try:
            if processes.join(timeout=1.0):
                break
        except KeyboardInterrupt:
            interrupted = True  # the ranks got the signal too: let them checkpoint and stop
            continue
        except Exception as err:  # a rank died; join has terminated the others
            if report is not None:  # rank 0 had reported (a failure it recorded): that outcome stands
                break
            line = next((ln.strip() for ln in reversed(str(err).splitlines()) if ln.strip()), one_line(err))[:300]
            status = read_status(run) or {}
            step = int(status.get("step") or 0)
            write_status(run, "failed", step, cfg.steps, error=f"a rank failed: {line}", best=status.get("best"))
            return RunOutcome("failed", step, None, f"a rank failed: {line}")
        if report is None and not results.empty():
            report = results.get()
            if report[0] == "failed":  # rank 0 stopped on an error: the others would wait for it forever
                for process in processes.processes:
                    if process.is_alive():
                        process.terminate()
    status, step, best_fid, error = report if report is not None else results.get()
    if interrupted or status == "interrupted":
        raise KeyboardInterrupt
    return RunOutcome(status, step, best_fid, error)
