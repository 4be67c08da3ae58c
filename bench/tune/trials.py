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

from bench.errors import ConfigError, check, closest
from bench.grid import Grid, _Spec, make_label
from bench.methods import get_method
from bench.methods.search import AXIS_KEYS, SHARED, Dimension, SearchSpace
from bench.tune.spec import TuneSpec, Variant


@dataclass(frozen=True)
class Entry:
    """One cell of the search grid to tune: its written axes (the paper's recipe) and the dimensions it searches."""

    index: int
    name: str  # a readable name, e.g. "ecogan · digits_lt · balanced sampling"
    axes: dict[str, Any]
    label: str | None
    dims: dict[str, Dimension]


@dataclass(frozen=True)
class Trial:
    """One trial of an entry: its 1-based number, the drawn values and the cells (one per seed) that run it."""

    entry: Entry
    number: int
    values: dict[str, Any]
    cells: tuple[str, ...]  # cell ids, in the order of the spec's seeds


def entries(grid: Grid, spec: TuneSpec, scale: str | None = None) -> list[Entry]:
    """The search grid's cells as entries, each with the dimensions it searches: its method's search space, cut to
    ``spec.keys`` when given. A ConfigError (naming the cell and key) for a method without a space, a ``keys`` entry
    no method searches, a cell that sets a key it searches, or a ``g_cond`` range the cell's backbone refuses."""
    where = f"grid file {grid.path}"
    found: list[Entry] = []
    cells = grid.cells(scale)
    every = sorted({k for s in grid.specs for k in getattr(get_method(s.axes["method"]), "search_space",
                                                          SearchSpace()).dimensions()})
    for key in spec.keys or ():
        check(key in every, f"{where}, [tune] keys: no cell's method searches {key!r}{closest(key, every)}; their "
                            f"keys: {', '.join(every)}")
    for i, (spec_cell, cell) in enumerate(zip(grid.specs, cells, strict=True)):
        method = get_method(spec_cell.axes["method"])
        dims = getattr(method, "search_space", SearchSpace()).dimensions()
        check(len(dims) > 0, f"{where}, cell {cell.id}: method {method.name!r} declares no search space "
                             f"(search_space = SearchSpace(...) next to its Hyper; bench.methods.search)")
        if spec.keys is not None:
            dims = {k: d for k, d in dims.items() if k in spec.keys}
        check(len(dims) > 0, f"{where}, cell {cell.id}: [tune] keys leave {method.name} nothing to search; its "
                             f"space: {', '.join(method.search_space.dimensions())}")
        for key in dims:
            written = spec_cell.axes.get(key) if key in AXIS_KEYS else spec_cell.axes["method_options"].get(key)
            unset = written is None or (key in ("regularizer", "augment") and written == "none")
            check(unset, f"{where}, cell {cell.id}: sets {key} = {written!r}, a key its method's search space varies; "
                  f"leave it to bench tune, or leave it out of [tune] keys")
        if "g_cond" in dims:
            from bench.methods.backbones import get_backbone

            backbone = get_backbone(cell.config.backbone or method.default_backbone)
            missing = [v for v in dims["g_cond"].extremes() if v not in backbone.g_conds]
            check(not missing, f"{where}, cell {cell.id}: backbone {backbone.name} does not take g_cond "
                               f"{', '.join(map(str, missing))}; drop g_cond from [tune] keys for this grid")
        name = make_label({**spec_cell.axes, "seed": 0}, grid.settings)
        found.append(Entry(index=i, name=name, axes=dict(spec_cell.axes), label=spec_cell.label, dims=dims))
    return found


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
    from bench.grid import make_cell_id

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
    return replace(grid, specs=specs, claims=[], tune={}), trials


def check_search_grid(grid: Grid) -> TuneSpec:
    """Everything about a search grid that needs its cells' methods: the [tune] keys each searches, and that each
    variant selects one cell. Returns the spec (:func:`bench.tune.spec.parse_tune`)."""
    from bench.tune.spec import parse_tune

    spec = parse_tune(grid.tune, f"grid file {grid.path}", grid.protocols)
    found = entries(grid, spec)
    for i, variant in enumerate(spec.variants):
        variant_entry(variant, found, f"grid file {grid.path}, [tune] variants #{i + 1}")
    return spec


def variant_entry(variant: Variant, found: list[Entry], where: str) -> Entry:
    """The one entry a variant's ``of`` selects (a ConfigError naming the variant when none or several do)."""
    def selects(entry: Entry) -> bool:
        return all(str(entry.axes.get(k)) == str(v) for k, v in variant.of.items())

    for key in variant.of:
        check(key in entry_axes_keys(), f"{where}: of selects by {key!r}, not an axis{closest(key, entry_axes_keys())}")
    hits = [e for e in found if selects(e)]
    if len(hits) != 1:
        names = "; ".join(e.name for e in found)
        raise ConfigError(f"{where}: of = {variant.of} selects {len(hits)} cells of the search grid, not one; its "
                          f"cells: {names}")
    return hits[0]


def entry_axes_keys() -> tuple[str, ...]:
    from bench.grid import AXES

    return tuple(a for a in AXES if a not in ("seed", "method_options"))
