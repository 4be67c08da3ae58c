"""Run a grid: expand its cells, skip what is finished, hand the rest to an executor, print a summary.

A cell is *skipped* when its run folder says ``done`` with the same config hash; *not retried* when it
failed before (unless ``retry_failed``); *locked* when another live process holds its lock; otherwise it
runs, and a partial run resumes from its checkpoint (the loop does that). Under the lock the worker checks
again whether the cell is done, so two schedulers started at once on the same results folder never train
a cell twice. Every training attempt appends a line to ``<run folder>/attempts.log``.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import OPTIONS
from bench.errors import check
from bench.estimate import estimate_cells, format_estimates, threads
from bench.executors import check_executor
from bench.executors.local import cpu_count, run_local
from bench.executors.slurm import SlurmOptions, check_slurm, run_slurm
from bench.executors.worker import (
    CellResult,
    CellSpec,
    load_train_fn,
    result_from_status,
    run_inline,
)
from bench.grid import GRIDS_DIR, Cell, Grid, load_grid, single_cell_grid
from bench.plan import RunPlan
from bench.results import describe_best, format_table, grid_dir, lock_path, write_manifest
from bench.run.folder import RunDir
from bench.run.locks import CellLock, is_stale, read_lock
from bench.run.state import (
    DONE,
    FAILED,
    INTERRUPTED,
    LOCKED,
    SKIPPED,
    RunState,
    config_changes,
    describe_changes,
    read_state,
    start_attempt,
)

__all__ = ["GridSummary", "SlurmOptions", "plan_cell", "run_grid", "run_single"]


@dataclass
class SingleOutcome:
    """What :func:`run_single` returns when the loop did not run: ``skipped`` (finished before; nothing is
    written), ``failed`` (its folder holds another config; nothing is written), ``dry-run`` or ``interrupted``
    (Ctrl-C; the CLI exits 130, as for a grid)."""

    status: str
    step: int | None = None
    error: str | None = None


@dataclass
class GridSummary:
    """What a grid run did: one :class:`CellResult` per selected cell, in grid order.

    ``exit_code`` is 0 when every cell is done, skipped (done earlier) or locked (running elsewhere), 1 when
    any failed (now or earlier, not retried), 130 when interrupted (the cells not finished then are listed as
    ``interrupted``); 0 for a dry run.
    """

    grid: str
    results: list[CellResult] = field(default_factory=list)
    dry_run: bool = False
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if any(r.state == FAILED for r in self.results) else 0

    def table(self) -> str:
        """The summary table: cell, state, step/steps, best FID (protocol, extractor), reason."""
        rows = [("cell", "state", "step", "best FID", "reason")]
        for r in self.results:
            step = f"{r.step}/{r.steps}" if r.step is not None else "-"
            rows.append((r.cell, r.state, step, describe_best(r.best), r.error or ""))
        return f"grid {self.grid}: {len(self.results)} cells: {_tally(self.results)}\n{format_table(rows)}"


def plan_cell(cell: Cell, spec: CellSpec, *, retry_failed: bool, force_restart: bool) -> CellResult | None:
    """Decide before dispatch: a CellResult for a cell that will not run (skipped, failed earlier and not
    retried, locked, its folder holding another config), or None for a cell to run. Nothing is written."""
    run_dir = Path(spec.run_dir)
    holder = read_lock(Path(spec.lock))
    if holder is not None and not is_stale(holder):
        return result_from_status(cell.id, LOCKED, run_dir, error=f"running elsewhere ({holder.describe()})")
    if force_restart:
        return None
    state, config_hash = read_state(run_dir), cell.plan.hash
    if state.done_with(config_hash):
        return result_from_status(cell.id, SKIPPED, run_dir)
    other = other_config(run_dir, cell.plan, state)
    if other is not None:
        return other
    if state.failed_with(config_hash) and not retry_failed:
        reason = (state.status or {}).get("error") or "no reason recorded"
        return result_from_status(cell.id, FAILED, run_dir, error=f"failed earlier, not retried "
                                                                   f"(--retry-failed): {reason}")
    return None


def other_config(run_dir: Path, plan: RunPlan, state: RunState) -> CellResult | None:
    """A folder that holds a run of another config: a finished run of the same options whose hash another version
    of bench wrote is kept (``skipped``, with a note); any other is not run (``failed``, naming the options that
    differ). None when the folder holds this plan's run or none."""
    run = RunDir(run_dir)
    if state.config_hash is None or state.config_hash == plan.hash:
        return None
    changes = describe_changes(run, plan)
    if state.state == DONE and not config_changes(run, plan):
        return result_from_status(run_dir.name, SKIPPED, run_dir, error=f"done by another version of bench with "
                                  f"the same options ({changes}); kept: --force-restart trains it again")
    return result_from_status(run_dir.name, FAILED, run_dir, error=f"not run: its folder holds a run of another "
                              f"config ({changes}); --force-restart starts it over (old files move to _previous/), "
                              f"or give another --results-root")


def _spec(cell: Cell, results_root: Path, key: str, *, force_restart: bool, progress: bool) -> CellSpec:
    return CellSpec(cell=cell.id, plan=cell.plan.to_json(), run_dir=str(grid_dir(results_root, key) / cell.id),
                    lock=str(lock_path(results_root, key, cell.id)), force_restart=force_restart, progress=progress)


def _paper_text(paper: Mapping[str, Any] | None) -> str:
    if not paper:
        return "-"
    parts = [f"FID {paper['fid']:.2f}" if "fid" in paper else "", f"IS {paper['is']:.2f}" if "is" in paper else ""]
    if "best_step" in paper:
        unit = paper.get("step_unit", "")
        step = f"@{paper['best_step']} {unit}"
        if unit == "batches":
            step += f" (= {paper['best_iteration']} it)"
        parts.append(step)
    return "  ".join(p for p in parts if p)


def _external_text(external: Mapping[str, Any] | None) -> str:
    """E.g. "StudioGAN ReACGAN: FID 3.87, iFID 15.20 (gate)", or "-"."""
    if not external:
        return "-"
    numbers = [f"{name} {external[key]:.2f}" for key, name in (("fid", "FID"), ("ifid", "iFID"), ("is", "IS"))
               if key in external]
    return f"{external['harness']} {external['model']}: {', '.join(numbers)}" + (" (gate)" if external.get("gate")
                                                                                 else "")


def _fakes_text(eval_fakes: int | None, final_fakes: int | None) -> str:
    """How many fakes the evaluations generate, when the config says (the paper scale), else ""."""
    if eval_fakes is None and final_fakes is None:
        return ""
    monitor = f"{eval_fakes} fakes per evaluation" if eval_fakes else "one fake per reference image"
    final = f", the best and last measured again on {final_fakes}" if final_fakes else ""
    return f"\nevaluations: {monitor}{final} (the paper protocol: one fake per train image)"


def dry_run_listing(grid: Grid, scale: str, cells: list[Cell], results_root: Path) -> str:
    """The cells with their budget, their state on disk, the paper's numbers beside them and, where a cell has
    them, another harness's published numbers (``external``)."""
    key = grid.key(scale)
    protocols = cells[0].config.protocols if cells else OPTIONS["protocols"].default
    batch, size = (cells[0].config.batch_size, cells[0].config.image_size) if cells else (0, 0)
    fakes = (cells[0].config.eval_fakes, cells[0].config.final_fakes) if cells else (None, None)
    head = (f"grid {grid.name} at scale {scale}: {len(cells)} cells -> {grid_dir(results_root, key)}/\n"
            f"protocols {', '.join(protocols)}; batch {batch}, {size}x{size}"
            f"; steps are iterations (n_dis D steps + 1 G step); paper numbers as printed{_fakes_text(*fakes)}")
    external = any(cell.external for cell in cells)
    rows = [("cell", "label", "steps", "eval", "state", "paper", *(("published elsewhere",) if external else ()))]
    for cell in cells:
        state = read_state(grid_dir(results_root, key) / cell.id).state or "-"
        rows.append((cell.id, cell.label, str(cell.config.steps), str(cell.config.eval_every), state,
                     _paper_text(cell.paper), *((_external_text(cell.external),) if external else ())))
    gate = [c for c in cells if c.external and c.external.get("gate")]
    note = ("\ngate: a reproduction counts only if " + " and ".join(c.label for c in gate) + " land within the seed "
            "noise of the published numbers, measured by the " + " / ".join(dict.fromkeys(
                str(c.external.get("protocol", "?")) for c in gate if c.external)) + " protocol") if gate else ""
    return f"{head}\n{format_table(rows)}{note}"


def dry_run_estimates(cells: list[Cell], results_dir: Path, workers: int = 1) -> str:
    """Each cell's phase budgets and estimated seconds on this machine, with the threads a local worker gets
    (``OMP_NUM_THREADS``, else the cores shared by the workers); :mod:`bench.estimate`."""
    count = int(os.environ["OMP_NUM_THREADS"]) if os.environ.get("OMP_NUM_THREADS", "").isdigit() else \
        max(1, cpu_count() // max(1, workers))
    with threads(count):
        return format_estimates(estimate_cells(cells, results_dir, say=_say), workers)


def run_grid(grid: Grid | str, *, results_root: Path | str, scale: str | None = None, executor: str = "local",
             workers: int = 1, only: str | None = None, dry_run: bool = False, retry_failed: bool = False,
             force_restart: bool = False, overrides: Mapping[str, Any] | None = None,
             slurm: SlurmOptions | None = None, cells_per_gpu: int | None = None,
             estimate: bool = False) -> GridSummary:
    """Run (or, with ``dry_run``, list) the cells of a grid and print a summary table to stdout.

    Args:
        grid: a Grid, or a grid name or ``.toml`` path (:func:`bench.grid.load_grid`).
        results_root: folder holding ``<grid key>/<cell id>/``.
        scale: scale preset; None = the grid's default. Another scale writes to ``<name>-<scale>``.
        executor: ``local`` (subprocess workers), ``slurm`` (submitit) or ``inline`` (this process).
        workers: local executor: cells at once.
        cells_per_gpu: local executor with GPUs: cells at once on each GPU (``bench.executors.packing``); None =
            ``workers`` cells round robin over the GPUs.
        only: ``key=value[,key=value]`` cell filter (:meth:`bench.grid.Grid.cells`).
        dry_run: print the cells with the paper's numbers and run nothing.
        estimate: with ``dry_run``, also each phase's budget and estimated time per cell (``bench.estimate``:
            recorded rates, the rates cache, else a short calibration unless ``BENCH_CALIBRATE=0``).
        retry_failed: run cells that failed before (skipped by default).
        force_restart: start cells over even when done or partly done.
        overrides: ``--set`` values (axis keys change cell ids).
        slurm: Slurm settings for the slurm executor.

    Returns:
        The GridSummary (``exit_code`` for the CLI).
    """
    loaded = grid if isinstance(grid, Grid) else load_grid(grid)
    check(not loaded.tune, f"grid {loaded.name!r} ({loaded.path}) is a search grid (it has a [tune] table): bench tune "
                           f"runs its trials and writes the tuned grid; run `bench tune --grid {grid_arg(loaded)}`")
    scale = scale or loaded.scale
    results_root = Path(results_root)
    check_executor(executor)
    check(isinstance(workers, int) and workers >= 1, f"--workers must be a positive integer, got {workers!r}")
    check(cells_per_gpu is None or (isinstance(cells_per_gpu, int) and cells_per_gpu >= 1),
          f"--cells-per-gpu must be a positive integer, got {cells_per_gpu!r}")
    cells = loaded.cells(scale, only, overrides)
    key = loaded.key(scale)
    note = loaded.budget_note(scale)
    if note:
        _say(note)
    if dry_run:
        print(dry_run_listing(loaded, scale, cells, results_root))
        if estimate:
            print(dry_run_estimates(cells, grid_dir(results_root, key), workers if executor == "local" else 1))
        sys.stdout.flush()
        return GridSummary(grid=key, dry_run=True)
    slurm = slurm or SlurmOptions()
    if executor == "slurm":
        check_slurm(slurm)  # before anything is written or submitted
    every = cells if only is None else loaded.cells(scale, None, overrides, strict=False)  # the manifest's cells
    write_manifest(loaded, scale, every, results_root)

    results: dict[str, CellResult] = {}
    to_run: list[CellSpec] = []
    progress = executor == "inline" or (executor == "local" and workers == 1 and cells_per_gpu is None)
    for cell in cells:
        spec = _spec(cell, results_root, key, force_restart=force_restart, progress=progress)
        planned = plan_cell(cell, spec, retry_failed=retry_failed, force_restart=force_restart)
        if planned is None:
            to_run.append(spec)
        else:
            results[cell.id] = planned
    _say(f"grid {key}: {len(cells)} cells, {len(to_run)} to run (not run: {_tally(results.values())}) "
         f"-> {grid_dir(results_root, key)}/")
    summary = GridSummary(grid=key)
    finished = _execute(to_run, executor, workers, slurm, results_root, key, cells_per_gpu)
    try:
        for i, result in enumerate(finished, 1):
            results[result.cell] = result
            _say(f"[{i}/{len(to_run)}] {result.cell}: {result.state}"
                 f"{', best FID ' + describe_best(result.best) if result.best else ''}"
                 f"{' - ' + result.error if result.error else ''} ({result.seconds:.0f}s)")
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if hasattr(finished, "close"):
            finished.close()  # stops (and waits for) workers still running
    summary.results = [results.get(c.id) or result_from_status(c.id, INTERRUPTED, grid_dir(results_root, key) / c.id,
                                                               error="not finished: interrupted") for c in cells]
    print(summary.table())
    sys.stdout.flush()
    return summary


def grid_arg(grid: Grid) -> str:
    """How to name ``grid`` on the command line: a shipped grid's name, else its file."""
    return grid.name if grid.path.parent.resolve() == GRIDS_DIR.resolve() else str(grid.path)


def _execute(specs: list[CellSpec], executor: str, workers: int, slurm: SlurmOptions, results_root: Path,
             key: str, cells_per_gpu: int | None = None) -> Iterator[CellResult]:
    if not specs:
        return iter(())
    if executor == "inline":
        return run_inline(specs)
    if executor == "slurm":
        return run_slurm(specs, options=slurm, folder=grid_dir(results_root, key) / ".submitit", name=f"bench-{key}")
    return run_local(specs, workers=workers, log_dir=grid_dir(results_root, key) / ".logs",
                     cells_per_gpu=cells_per_gpu)


def _tally(results: Iterable[CellResult]) -> str:
    """``2 done, 1 failed`` (states in alphabetical order), or ``none``."""
    counts = Counter(r.state for r in results)
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_single(cell: Mapping[str, Any], *, results_root: Path | str, scale: str | None = None,
               overrides: Mapping[str, Any] | None = None, force_restart: bool = False, dry_run: bool = False):
    """Run one ad-hoc cell in this process, with the progress bar, under the same lock as grid cells.

    Args:
        cell: axis values: ``dataset`` and ``method`` required; ``sampling``, ``seed``, ``quirks`` optional.
        results_root: the run folder is ``<results_root>/adhoc[-<scale>]/<cell id>`` (grid ``adhoc``, whose
            default scale is ``cpu``); its ``grid.json`` lists every ad-hoc cell run there, so that ``bench
            gather``, ``status`` and ``report`` take ``--grid adhoc[-<scale>]`` like any grid key.
        scale: scale preset; None = ``cpu``.
        overrides: ``--set`` values; axis keys (and ``method_options.<key>``) become part of the cell id. One seed:
            a list of seeds is a grid's (``--seeds``), refused here in one line.
        force_restart: start over even if the run folder holds a checkpoint or is done.
        dry_run: print the resolved cell (id, folder, budget, recipe, hash) and stop; nothing is written.

    Returns:
        The loop's RunOutcome (``status`` done | skipped | failed), or a :class:`SingleOutcome` (skipped
        before taking the lock, interrupted, dry-run, or not run: its folder holds another config).
        Raises LockedError when another live process runs this cell.
    """
    seeds = (overrides or {}).get("seed")
    check(not isinstance(seeds, list | tuple) or len(seeds) == 1,
          f"--set seed={seeds!r}: a single run takes one seed; for several, run a grid with --seeds N (bench run "
          f"--grid FILE --seeds {len(seeds) if isinstance(seeds, list | tuple) else 2}) or one --seed at a time")
    adhoc = single_cell_grid(cell)
    (resolved,) = adhoc.cells(scale, None, overrides)
    key = adhoc.key(scale)
    run_dir = grid_dir(results_root, key) / resolved.id
    if dry_run:
        print(describe_plan(resolved, run_dir))
        return SingleOutcome("dry-run")
    _say(f"run {resolved.label} -> {run_dir}/")
    config_hash = resolved.plan.hash
    holder = read_lock(lock_path(results_root, key, resolved.id))
    state = read_state(run_dir)
    done = state.done_with(config_hash)
    free = holder is None or is_stale(holder)
    if done and not force_restart and free:
        result = result_from_status(resolved.id, SKIPPED, run_dir)  # as a finished grid cell: no write at all
        _say(f"{resolved.id}: skipped (done before){', best FID ' + describe_best(result.best) if result.best else ''}")
        return SingleOutcome(SKIPPED, result.step)
    other = None if force_restart or not free else other_config(run_dir, resolved.plan, state)
    if other is not None:  # nothing written: the folder keeps the other run
        _say(f"{resolved.id}: {other.state} - {other.error}")
        return SingleOutcome(other.state, other.step, other.error)
    # ad-hoc runs are gathered and reported like a grid's: results/adhoc[-<scale>]/grid.json lists them
    write_manifest(adhoc, scale or adhoc.scale, [resolved], results_root)
    try:
        with CellLock(lock_path(results_root, key, resolved.id)):
            done = read_state(run_dir).done_with(config_hash)
            if force_restart or not done:  # a finished run is not an attempt: the loop just reports it
                start_attempt(run_dir, force_restart)
            outcome = load_train_fn()(resolved.plan, run_dir, force_restart=False, progress=True)
    except KeyboardInterrupt:  # the loop has checkpointed its last whole step and released the lock
        result = result_from_status(resolved.id, INTERRUPTED, run_dir)
        step = f" at step {result.step}/{result.steps}" if result.step is not None else ""
        _say(f"{resolved.id}: interrupted{step}; run the same command again to resume")
        return SingleOutcome(INTERRUPTED, result.step, INTERRUPTED)
    result = result_from_status(resolved.id, outcome.status, run_dir, error=getattr(outcome, "error", None))
    _say(f"{resolved.id}: {outcome.status}{', best FID ' + describe_best(result.best) if result.best else ''}"
         f"{' - ' + result.error if result.error else ''}")
    return outcome


def describe_plan(cell: Cell, run_dir: Path) -> str:
    """A resolved cell in a few lines (``bench run --dataset --method --dry-run``): id and label, folder, budget,
    recipe, data and hash."""
    plan = cell.plan
    recipe, budget, cfg = plan.recipe(), plan.budget, plan.config
    cap = f" of at most {cfg.pretrain_images:,} images" if cfg.pretrain_images else ""
    pretrain = f", pretraining {budget.pretrain_epochs} epochs{cap}" if budget.pretrain_epochs else ""
    options = ", ".join(f"{k}={v}" for k, v in recipe["hyper"].items())
    return "\n".join([
        f"cell {cell.id} ({cell.label})",
        f"folder {run_dir}/ (state: {read_state(run_dir).state or '-'})",
        f"scale {cfg.scale}: {budget.steps} steps of {plan.n_dis} D + 1 G ({budget.d_updates} D updates), batch "
        f"{cfg.batch_size}, evaluation every {budget.eval_every}, checkpoint every {budget.ckpt_every}{pretrain}",
        f"data {cfg.dataset}, {cfg.image_size}x{cfg.image_size}, sampling {cfg.sampling}; protocols "
        f"{', '.join(cfg.protocols)}, extractor {cfg.extractor or 'each protocol' + chr(39) + 's own'}",
        f"recipe: backbone {plan.backbone}, G takes the class {plan.g_cond or 'in its latent'}, adversarial loss "
        f"{recipe['adv_loss']}, GP weight {recipe['gp_weight']}, regularizer {cfg.regularizer}, augment "
        f"{cfg.augment}, quirks {cfg.quirks}{', bf16' if cfg.bf16 else ''}"
        f"{', channels_last' if cfg.channels_last else ''}",
        f"hyperparameters: {options}",
        f"config hash {plan.hash}",
    ])
