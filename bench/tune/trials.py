"""Trials as grid cells: each cell of a search grid (an *entry*: a method on a dataset with its sampling ...) gets the
same number of trials, drawn by one sampler, each run with the same seeds and the scale's D-update budget.

The sampler draws one point u ∈ [0, 1)^D per trial index over the union of the entries' keys (D of them, in
:data:`bench.methods.search.SHARED` order, then each method's own keys), and every entry reads its own keys'
coordinates: trial i of ECOGAN and trial i of 2C share their learning rates, n_dis, λ, τ, conditioning and aids (a
paired design: differences between methods are not differences between the draws). Sobol points are scrambled with
``sampler_seed`` (``torch.quasirandom.SobolEngine``); random points come from a generator seeded with it. Both give
the same first N trials whatever the total, so ``--trials 16`` after ``--trials 8`` adds 8 trials and keeps the first
8 (finished cells are skipped).

A trial is a cell of the search grid with the drawn values set (Hyper options in ``method_options``; ``g_cond``,
``regularizer``, ``augment`` as axes) and a tuning seed, so its id names its options and its run folder lives in
``results/<search grid key>/``: locks, resume, skip-if-done, workers and Slurm are the grid's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from bench.config import make_cell_id
from bench.grid import Grid, _Spec
from bench.methods.search import AXIS_KEYS, SHARED
from bench.search_grid import Entry, TuneSpec


@dataclass(frozen=True)
class Trial:
    """One trial of an entry: its 1-based number, the drawn values and the cells (one per seed) that run it."""

    entry: Entry
    number: int
    values: dict[str, Any]
    cells: tuple[str, ...]  # cell ids, in the order of the spec's seeds


def key_order(found: list[Entry]) -> list[str]:
    """Every key the entries search, once: the shared keys in SHARED's order, then the own keys as they come."""
    shared = [k for k in SHARED if any(k in e.dims for e in found)]
    own = [k for e in found for k in e.dims if k not in SHARED]
    return shared + list(dict.fromkeys(own))


def unit_points(sampler: str, trials: int, dimensions: int, seed: int) -> torch.Tensor:
    """(trials, dimensions) float64 points in [0, 1): scrambled Sobol or uniform random, from ``seed``; the first
    rows do not depend on ``trials``."""
    if sampler == "sobol":
        engine = torch.quasirandom.SobolEngine(dimensions, scramble=True, seed=seed)
        return engine.draw(trials, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(trials, dimensions, generator=generator, dtype=torch.float64)


def draw_trials(found: list[Entry], spec: TuneSpec) -> dict[int, list[dict[str, Any]]]:
    """Per entry index, ``spec.trials`` dicts of drawn values (key -> value), read from shared points."""
    keys = key_order(found)
    points = unit_points(spec.sampler, spec.trials, len(keys), spec.sampler_seed).tolist()
    column = {k: i for i, k in enumerate(keys)}
    return {e.index: [{k: d.value(row[column[k]]) for k, d in e.dims.items()} for row in points] for e in found}


def trial_axes(entry: Entry, values: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
    """The entry's axes with ``values`` set: Hyper options into ``method_options``, axis keys as axes; ``seed``."""
    axes = {**entry.axes, "method_options": dict(entry.axes["method_options"])}
    for key, value in values.items():
        if key in AXIS_KEYS:
            axes[key] = value
        else:
            axes["method_options"][key] = value
    if seed is not None:
        axes["seed"] = seed
    return axes


def trial_grid(grid: Grid, spec: TuneSpec, found: list[Entry]) -> tuple[Grid, list[Trial]]:
    """The grid whose cells are every trial on every tuning seed (entry by entry, trial by trial), and the trials.
    It keeps the search grid's name, file, scale, settings and budget (so its results folder is the search grid's)
    and no claims or ``[tune]``."""
    drawn = draw_trials(found, spec)
    specs: list[_Spec] = []
    trials: list[Trial] = []
    for entry in found:
        for number, values in enumerate(drawn[entry.index], 1):
            ids = []
            for seed in spec.seeds:
                axes = trial_axes(entry, values, seed)
                label = f"{entry.label or entry.name} · trial {number}/{spec.trials}"
                specs.append(_Spec(axes=axes, label=label))
                ids.append(make_cell_id(axes, grid.settings.get("backbone")))
            trials.append(Trial(entry=entry, number=number, values=values, cells=tuple(ids)))
    # two trials that drew the same values (a space of choices only) share their cells: Grid.cells keeps one
    return replace(grid, specs=specs, claims=[], tune=None), trials
