"""``bench tune``: recipes chosen by a declared protocol, not by hand.

A *search grid* is a grid file with a ``[tune]`` table (:mod:`bench.search_grid`, checked when the grid loads). Its
cells are the methods to tune, each as its paper's recipe; :func:`tune`

1. draws the same number of trials for every cell from its method's search space (:mod:`bench.methods.search`), by
   one declared sampler, shared coordinates across methods (:mod:`bench.tune.trials`);
2. runs every trial on the same tuning seeds as a cell of the search grid's results folder, with the scale's
   D-update budget (equal for every method whatever its n_dis): locks, resume, skip-if-done, workers and Slurm are
   ``bench run``'s (:func:`bench.scheduler.run_grid`), so a killed tune resumes where it stopped;
3. scores each trial by the grid's objective on half A of the reference only, which must punish collapse, and
   chooses per cell (:mod:`bench.tune.score`);
4. writes the tuning table, the sensitivities and the tuned grid file, whose cells are each method's paper recipe
   and its chosen recipe (:mod:`bench.tune.output`). That grid is then run on other seeds and reported on half B
   (``bench run --grid <tuned> --seeds 3``, ``bench report``: the held-out table).

Lucic et al. 2018 ("Are GANs Created Equal?") and Kurach et al. 2019 compare GANs this way: the same search budget
per method, so that a ranking measures the methods, not the care their options got.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.config import make_cell_id
from bench.errors import ConfigError, check
from bench.grid import Grid, load_grid
from bench.results import gather, grid_dir
from bench.scheduler import grid_arg, run_grid
from bench.search_grid import Entry, TuneSpec
from bench.tune.output import tuned_grid_text, write_tables, write_tuned_grid
from bench.tune.score import TrialResult, score_trials, sensitivities
from bench.tune.trials import Trial, key_order, trial_grid

__all__ = ["TuneOutcome", "draw_trial_grid", "tune"]


@dataclass
class TuneOutcome:
    """What :func:`tune` did: ``exit_code`` 0 when every trial is scored and the tuned grid written, 130 when
    interrupted (run the same command again to resume), 1 when trials are unfinished or a cell has no finished
    trial; the trials' results, the files written."""

    exit_code: int
    results: list[TrialResult] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    tuned: Path | None = None


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cost(results: list[TrialResult]) -> dict[str, Any]:
    """Seconds the trials' runs took (their speed records): in total and per tuned cell (None where a run has none)."""
    per_cell: dict[str, float] = {}
    for r in results:
        per_cell[r.trial.entry.name] = per_cell.get(r.trial.entry.name, 0.0) + r.seconds
    total = sum(per_cell.values())
    return {"total": _rounded(total), "per_cell": {name: _rounded(s) for name, s in per_cell.items()}}


def _rounded(seconds: float) -> float | None:
    return round(seconds, 1) if math.isfinite(seconds) else None


def _hours(seconds: float | None) -> str:
    return "unknown time" if seconds is None else f"{seconds / 3600:.2f} h"


def draw_trial_grid(grid: Grid | str, trials: int | None = None, seeds: int | None = None,
                    scale: str | None = None) -> tuple[Grid, TuneSpec, list[Entry], Grid, list[Trial]]:
    """The search grid, its spec with ``--trials`` / ``--seeds`` applied, its entries (cells to tune), the grid of
    trial cells (each resolved into its run plan when the grid's cells are taken) and the trials."""
    search = grid if isinstance(grid, Grid) else load_grid(grid)
    check(search.tune is not None, f"grid {search.name!r} ({search.path}) has no [tune] table: bench tune needs a "
                                   f"search grid (see bench/grids/demo-search.toml)")
    spec = search.tune.with_budget(trials, seeds)
    found = search.search_entries(scale)
    trials_grid, drawn = trial_grid(search, spec, found)
    # a trial's run folders are its cells' ids as resolved at the scale: with -bf16 / -chlast where the scale's
    # "auto" picks the CPU's fast path on this machine
    resolved = {make_cell_id(c.axes, search.settings.get("backbone")): c.id for c in trials_grid.cells(scale)}
    drawn = [replace(t, cells=tuple(resolved.get(cell, cell) for cell in t.cells)) for t in drawn]
    return search, spec, found, trials_grid, drawn


def tune(grid: Grid | str, *, results_root: Path | str, trials: int | None = None, seeds: int | None = None,
         out: Path | str | None = None, scale: str | None = None, executor: str = "local", workers: int = 1,
         dry_run: bool = False, retry_failed: bool = False, slurm=None) -> TuneOutcome:
    """Tune every cell of a search grid and write the tuned grid (module docstring).

    Args:
        grid: a search grid (name, path or Grid).
        results_root: where the trials' run folders go (``<results_root>/<search grid key>/``).
        trials: trials per cell (None = the grid's ``[tune] trials``).
        seeds: the number of tuning seeds, counted from the grid's first (None = the grid's ``seeds``).
        out: the tuned grid file (None = ``<results_root>/<search grid key>-tuned.toml``).
        scale: the scale the trials run at (None = the grid's).
        executor, workers, retry_failed, slurm: as for :func:`bench.scheduler.run_grid`.
        dry_run: list the trial cells and stop.
    """
    search, spec, found, trials_grid, drawn = draw_trial_grid(grid, trials, seeds, scale)
    command = (f"bench tune --grid {grid_arg(search)} --trials {spec.trials} --seeds {len(spec.seeds)}"
               + (f" --scale {scale}" if scale and scale != search.scale else ""))  # what decides the trials
    scale = scale or search.scale
    key = search.key(scale)
    _say(f"tune {search.name}: {len(found)} cells x {spec.trials} trials x "
         f"{len(spec.seeds)} seed(s) {list(spec.seeds)}, {spec.sampler} sampler (seed {spec.sampler_seed}); "
         f"objective: {spec.objective.describe()} (protocol {spec.protocol}, half A)")
    summary = run_grid(trials_grid, results_root=results_root, scale=scale, executor=executor, workers=workers,
                       dry_run=dry_run, retry_failed=retry_failed, slurm=slurm)
    if dry_run:
        return TuneOutcome(exit_code=0)
    if summary.interrupted:
        _say(f"tune {search.name}: interrupted; run the same command again to resume (finished trials are kept)")
        return TuneOutcome(exit_code=130)
    results = score_trials(drawn, spec, Path(results_root), key)
    folder = grid_dir(results_root, key)
    extractor = trials_grid.cells(scale)[0].config.extractor or spec.protocol
    record = {"grid": search.name, "source": str(search.path), "key": key, "scale": scale, "command": command,
              "extractor": extractor, "sampler": spec.sampler, "sampler_seed": spec.sampler_seed, "trials": spec.trials,
              "seeds": list(spec.seeds), "protocol": spec.protocol, "objective": spec.objective.describe(),
              "keys": key_order(found),
              "chosen": {r.trial.entry.name: {"trial": r.trial.number, "values": r.trial.values,
                                              "cells": list(r.trial.cells)} for r in results if r.chosen}}
    record["seconds"] = cost(results)
    written = write_tables(folder, results, sensitivities(results), spec, record)
    _say(f"tune {search.name}: the trials took {_hours(record['seconds']['total'])} of runs "
         f"({', '.join(f'{name} {_hours(s)}' for name, s in record['seconds']['per_cell'].items())}; their speed.json: "
         f"wall clock of each run, summed over runs, whatever ran at once)")
    gather(trials_grid, results_root, scale)
    outcome = TuneOutcome(exit_code=0, results=results, written=written)
    unfinished = [r for r in results if r.state == "unfinished"]
    if unfinished:
        _say(f"tune {search.name}: {len(unfinished)} trial(s) unfinished (e.g. {unfinished[0].trial.cells[0]}); the "
             f"tuned grid is written once every trial has run: run the same command again")
        outcome.exit_code = 1
        return outcome
    lost = sorted({r.trial.entry.name for r in results} - {r.trial.entry.name for r in results if r.chosen})
    if lost:
        raise ConfigError(f"tune {search.name}: no trial of {', '.join(lost)} finished (every one failed; see "
                          f"{folder / 'tuning.md'}); widen or move its search space, or tune with more trials")
    target = Path(out) if out is not None else Path(results_root) / f"{key}-tuned.toml"
    write_tuned_grid(target, tuned_grid_text(search, spec, found, results, command))
    outcome.tuned = target
    outcome.written.append(target)
    return outcome
