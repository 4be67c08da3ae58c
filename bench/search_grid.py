"""A search grid: the ``[tune]`` table of a grid file (how ``bench tune`` draws trials and scores them) and its cells as
the entries to tune, both checked when the grid loads (``bench.grid.load_grid``), before any trial runs.

::

    [tune]
    sampler = "sobol"            # sobol (scrambled Sobol, quasi-random) | random (uniform)
    sampler_seed = 0             # seeds the sampler: the same trials on every machine
    trials = 8                   # trials per grid cell (method), the default of --trials
    seeds = [100]                # the seeds every trial runs with (--seeds N: N seeds from the first); keep them
                                 # apart from the seeds the tuned grid is reported on (0, 1, 2)
    keys = ["lr_g", "lr_d"]      # optional: search only these keys of each method's space (the rest stay as written)
    protocol = "standard"        # whose metrics rows score the trials
    description = "..."          # optional: the tuned grid file's description

    [tune.objective]             # computed on half A of the reference only (and on reference-free numbers)
    minimize = "fid_half_a"      # or maximize = "<column>": the score
    at_most = { collapsed_half_a = 0 }      # constraints; a trial that breaks one ranks after every trial that
    at_least = { cond_acc = 0.5 }           # breaks fewer, whatever its score

    [[tune.variants]]            # extra cells of the tuned grid: a tuned recipe with some axes changed
    of = { method = "ecogan", sampling = "none" }   # selects one cell of the search grid
    set = { g_cond = "scale" }
    label = "ECOGAN, tuned, with the paper's conditioning"

The objective may name only columns measured without half B of the reference (:data:`HALF_A_COLUMNS`,
:data:`REFERENCE_FREE_COLUMNS`), and must punish collapse: one of :data:`COLLAPSE_COLUMNS` is its score or in a
constraint. A bad key, value or column is a ConfigError naming the grid file, the key and the closest name.

Each cell of a search grid is an *entry* (:class:`Entry`): its written axes are its method's paper recipe, and it
searches its method's search space (``bench.methods.search``), cut to ``keys``. :func:`search_entries` checks them
against the cells' run plans (the backbone each resolves to takes the ``g_cond`` values searched), and
:func:`variant_entry` that each variant selects one entry. The trials and their runs are ``bench.tune``'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.config import AXES, make_cell_id, make_label
from bench.errors import ConfigError, check, closest
from bench.methods import get_method
from bench.methods.backbones import get_backbone
from bench.methods.search import AXIS_KEYS, Dimension, SearchSpace
from bench.metrics.halves import HALF_HEALTH_COLUMNS
from bench.plan import RunPlan

SAMPLERS = ("sobol", "random")
TUNE_KEYS = ("sampler", "sampler_seed", "trials", "seeds", "keys", "protocol", "description", "objective", "variants")
OBJECTIVE_KEYS = ("minimize", "maximize", "at_least", "at_most")
VARIANT_KEYS = ("of", "set", "label")
VARIANT_AXES = ("sampling", "quirks", "g_cond", "regularizer", "augment")  # what a variant may change
assert set(VARIANT_AXES) <= set(AXES), "a variant changes grid axes of the option table (bench.config)"
HALF_A_COLUMNS = ("fid_half_a", *(c for c in HALF_HEALTH_COLUMNS if c.endswith("_half_a")))  # metrics.csv's
REFERENCE_FREE_COLUMNS = ("cond_acc", "label_sens", "is_mean", "d_acc_fake")  # measured on the fakes alone
COLLAPSE_COLUMNS = ("collapsed_half_a", "coverage_half_a", "diversity_half_a")
DEFAULT_SEEDS = (100,)


@dataclass(frozen=True)
class Objective:
    """The score of an evaluation (``column``, minimised or maximised) and its constraints (column -> bound)."""

    column: str
    minimize: bool = True
    at_least: Mapping[str, float] = field(default_factory=dict)
    at_most: Mapping[str, float] = field(default_factory=dict)

    def columns(self) -> list[str]:
        """Every column the objective reads: the score's, then the constraints'."""
        return list(dict.fromkeys([self.column, *self.at_least, *self.at_most]))

    def describe(self) -> str:
        """``minimize fid_half_a subject to collapsed_half_a <= 0, cond_acc >= 0.5``."""
        bounds = [f"{k} >= {v:g}" for k, v in self.at_least.items()]
        bounds += [f"{k} <= {v:g}" for k, v in self.at_most.items()]
        return (f"{'minimize' if self.minimize else 'maximize'} {self.column}"
                + (f" subject to {', '.join(bounds)}" if bounds else ""))

    def broken(self, row: Mapping[str, float]) -> list[str]:
        """The constraints ``row`` (column -> number) breaks, as :meth:`describe` writes them (``cond_acc >= 0.5``);
        a missing or NaN number breaks its constraint."""
        def value(column: str) -> float:
            v = row.get(column, math.nan)
            return math.nan if v is None else float(v)

        low = [f"{k} >= {bound:g}" for k, bound in self.at_least.items() if not value(k) >= bound]
        high = [f"{k} <= {bound:g}" for k, bound in self.at_most.items() if not value(k) <= bound]
        return low + high

    def violations(self, row: Mapping[str, float]) -> int:
        """How many constraints ``row`` (column -> number) breaks (:meth:`broken`)."""
        return len(self.broken(row))

    def score(self, row: Mapping[str, float]) -> float:
        """The score to minimise: the column's value (negated for ``maximize``); inf when it is missing or NaN."""
        v = row.get(self.column)
        if v is None or not math.isfinite(float(v)):
            return math.inf
        return float(v) if self.minimize else -float(v)


@dataclass(frozen=True)
class Variant:
    """A cell of the tuned grid that takes the tuned recipe of the search-grid cell ``of`` selects, with ``set``."""

    of: Mapping[str, Any]
    set: Mapping[str, Any]
    label: str | None = None


@dataclass(frozen=True)
class TuneSpec:
    """A checked ``[tune]`` table (see the module docstring)."""

    objective: Objective
    sampler: str = "sobol"
    sampler_seed: int = 0
    trials: int = 8
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    keys: tuple[str, ...] | None = None
    protocol: str = "standard"
    description: str | None = None
    variants: tuple[Variant, ...] = ()

    def with_budget(self, trials: int | None, seeds: int | None) -> TuneSpec:
        """This spec with ``--trials`` (trials per cell) and ``--seeds`` (that many seeds from the first) applied."""
        from dataclasses import replace

        check(trials is None or (_is_int(trials) and trials >= 1), f"--trials must be >= 1, got {trials!r}")
        check(seeds is None or (_is_int(seeds) and seeds >= 1), f"--seeds must be >= 1, got {seeds!r}")
        out = self if trials is None else replace(self, trials=trials)
        return out if seeds is None else replace(out, seeds=tuple(self.seeds[0] + i for i in range(seeds)))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _unknown(keys: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for key in keys:
        check(key in valid, f"{where}: unknown key {key!r}{closest(key, valid)}; valid keys: {', '.join(valid)}")


def _column(column: Any, where: str) -> str:
    valid = (*HALF_A_COLUMNS, *REFERENCE_FREE_COLUMNS)
    check(isinstance(column, str), f"{where}: a column name is needed, got {column!r}")
    if column in valid:
        return column
    half = f"{column}_half_a" if f"{column}_half_a" in HALF_A_COLUMNS else None
    if half or column.endswith("_half_b") or column in ("fid", "density", "coverage", "diversity", "collapsed"):
        raise ConfigError(f"{where}: {column!r} is measured with half B of the reference, which the tuner must not "
                          f"see (the tuned grid is reported on it); use "
                          f"{half or column.replace('_half_b', '_half_a')!r}")
    raise ConfigError(f"{where}: {column!r} is not a column the tuner scores{closest(column, valid)}; columns: "
                      f"{', '.join(valid)}")


def parse_objective(raw: Any, where: str) -> Objective:
    """Check ``[tune.objective]`` (``where`` names it in errors) and build the Objective."""
    check(isinstance(raw, dict), f"{where}: [tune.objective] is required, a table such as "
                                 f"{{ minimize = \"fid_half_a\", at_most = {{ collapsed_half_a = 0 }} }}")
    _unknown(raw, OBJECTIVE_KEYS, where)
    senses = [k for k in ("minimize", "maximize") if k in raw]
    check(len(senses) == 1, f"{where}: give exactly one of minimize = \"<column>\" or maximize = \"<column>\"")
    column = _column(raw[senses[0]], f"{where}, {senses[0]}")
    bounds: dict[str, dict[str, float]] = {}
    for side in ("at_least", "at_most"):
        table = raw.get(side, {})
        check(isinstance(table, dict), f"{where}: {side} must be a table of column = bound, got {table!r}")
        for key, bound in table.items():
            _column(key, f"{where}, {side}")
            check(_is_number(bound), f"{where}, {side}: {key} must be a finite number, got {bound!r}")
        bounds[side] = {k: float(v) for k, v in table.items()}
    objective = Objective(column, senses[0] == "minimize", bounds["at_least"], bounds["at_most"])
    check(any(c in COLLAPSE_COLUMNS for c in objective.columns()),
          f"{where}: the objective must punish collapse: name {', '.join(COLLAPSE_COLUMNS)} as its score or in "
          f"at_least / at_most (e.g. at_most = {{ collapsed_half_a = 0 }})")
    return objective


def parse_tune(raw: Any, where: str, protocols: list[str] | None) -> TuneSpec:
    """Check a grid file's ``[tune]`` table (``where`` names the file) and build the TuneSpec. Which keys each
    method may search is checked against the cells by :func:`bench.tune.trials.entries`."""
    where = f"{where}, [tune]"
    check(isinstance(raw, dict), f"{where}: must be a table")
    _unknown(raw, TUNE_KEYS, where)
    sampler = raw.get("sampler", "sobol")
    check(sampler in SAMPLERS, f"{where}: sampler = {sampler!r} is not one of {', '.join(SAMPLERS)}"
                               f"{closest(str(sampler), SAMPLERS)}")
    sampler_seed = raw.get("sampler_seed", 0)
    check(_is_int(sampler_seed) and sampler_seed >= 0, f"{where}: sampler_seed must be an integer >= 0")
    trials = raw.get("trials", 8)
    check(_is_int(trials) and trials >= 1, f"{where}: trials must be an integer >= 1, got {trials!r}")
    seeds = raw.get("seeds", list(DEFAULT_SEEDS))
    check(isinstance(seeds, list) and len(seeds) > 0 and all(_is_int(s) and s >= 0 for s in seeds)
          and len(set(seeds)) == len(seeds), f"{where}: seeds must be a list of distinct integers >= 0, got {seeds!r}")
    keys = raw.get("keys")
    check(keys is None or (isinstance(keys, list) and len(keys) > 0 and all(isinstance(k, str) for k in keys)),
          f"{where}: keys must be a non-empty list of search-space keys, got {keys!r}")
    protocol = raw.get("protocol", "standard")
    allowed = protocols or ["standard"]
    check(protocol in allowed, f"{where}: protocol = {protocol!r} is not one the grid evaluates "
                               f"({', '.join(allowed)}){closest(str(protocol), allowed)}")
    description = raw.get("description")
    check(description is None or (isinstance(description, str) and description.strip() != ""),
          f"{where}: description must be a non-empty string")
    variants = raw.get("variants", [])
    check(isinstance(variants, list) and all(isinstance(v, dict) for v in variants),
          f"{where}: variants must be an array of tables ([[tune.variants]])")
    return TuneSpec(objective=parse_objective(raw.get("objective"), f"{where.removesuffix(', [tune]')}, "
                                                                    f"[tune.objective]"),
                    sampler=sampler, sampler_seed=sampler_seed, trials=trials, seeds=tuple(seeds),
                    keys=tuple(keys) if keys is not None else None, protocol=protocol, description=description,
                    variants=tuple(_variant(v, f"{where}.variants #{i + 1}") for i, v in enumerate(variants)))


def _variant(raw: dict[str, Any], where: str) -> Variant:
    _unknown(raw, VARIANT_KEYS, where)
    of, changes, label = raw.get("of"), raw.get("set"), raw.get("label")
    check(isinstance(of, dict) and len(of) > 0,
          f"{where}: 'of' must select a cell, e.g. of = {{ method = \"ecogan\" }}")
    check(isinstance(changes, dict) and len(changes) > 0, f"{where}: 'set' must change an axis, e.g. "
                                                          f"set = {{ g_cond = \"scale\" }}")
    for key in changes:
        check(key in VARIANT_AXES, f"{where}, set: {key!r} is not an axis a variant changes"
                                   f"{closest(key, VARIANT_AXES)}; axes: {', '.join(VARIANT_AXES)}")
    check(label is None or isinstance(label, str), f"{where}: label must be a string")
    return Variant(of=dict(of), set=dict(changes), label=label)


@dataclass(frozen=True)
class Entry:
    """One cell of the search grid to tune: its written axes (the paper's recipe) and the dimensions it searches."""

    index: int
    name: str  # a readable name, e.g. "ecogan · digits_lt · balanced sampling"
    axes: dict[str, Any]
    label: str | None
    dims: dict[str, Dimension]


def search_entries(where: str, written: Sequence[tuple[Mapping[str, Any], str | None]], plans: Sequence[RunPlan],
                   settings: Mapping[str, Any], spec: TuneSpec) -> list[Entry]:
    """A search grid's cells as entries, each with the dimensions it searches: its method's search space, cut to
    ``spec.keys`` when given. ``written``: each cell's axes and label as the grid file writes them; ``plans``: the
    cells' run plans, in the same order; ``settings``: the grid's ``[settings]`` (for the names). A ConfigError
    (``where`` names the grid file; the message names the cell and key) for a method without a space, a ``keys``
    entry no method searches, a cell that sets a key it searches, or a ``g_cond`` value the backbone its plan
    resolves to refuses."""
    found: list[Entry] = []
    every = sorted({k for axes, _ in written for k in getattr(get_method(axes["method"]), "search_space",
                                                             SearchSpace()).dimensions()})
    for key in spec.keys or ():
        check(key in every, f"{where}, [tune] keys: no cell's method searches {key!r}{closest(key, every)}; their "
                            f"keys: {', '.join(every)}")
    for i, ((axes, label), plan) in enumerate(zip(written, plans, strict=True)):
        method = get_method(axes["method"])
        cell_id = make_cell_id(axes, settings.get("backbone"))
        dims = getattr(method, "search_space", SearchSpace()).dimensions()
        check(len(dims) > 0, f"{where}, cell {cell_id}: method {method.name!r} declares no search space "
                             f"(search_space = SearchSpace(...) next to its Hyper; bench.methods.search)")
        if spec.keys is not None:
            dims = {k: d for k, d in dims.items() if k in spec.keys}
        check(len(dims) > 0, f"{where}, cell {cell_id}: [tune] keys leave {method.name} nothing to search; its "
                             f"space: {', '.join(method.search_space.dimensions())}")
        for key in dims:
            value = axes.get(key) if key in AXIS_KEYS else (axes.get("method_options") or {}).get(key)
            unset = value is None or (key in ("regularizer", "augment") and value == "none")
            check(unset, f"{where}, cell {cell_id}: sets {key} = {value!r}, a key its method's search space varies; "
                  f"leave it to bench tune, or leave it out of [tune] keys")
        if "g_cond" in dims:
            backbone = get_backbone(plan.backbone)
            missing = [v for v in dims["g_cond"].extremes() if v not in backbone.g_conds]
            check(not missing, f"{where}, cell {cell_id}: backbone {backbone.name} does not take g_cond "
                               f"{', '.join(map(str, missing))}; drop g_cond from [tune] keys for this grid")
        name = make_label({**axes, "seed": 0}, settings)
        found.append(Entry(index=i, name=name, axes=dict(axes), label=label, dims=dims))
    return found


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
    """The axes a variant's ``of`` selects by: every grid axis but the seed and the method options."""
    return tuple(a for a in AXES if a not in ("seed", "method_options"))
