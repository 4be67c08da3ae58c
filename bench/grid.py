"""Grid files (``bench/grids/*.toml``) and their expansion into cells.

A grid file is declarative TOML. Top-level keys:

- ``description`` (str, required): one line for ``bench list grids``; more lines for the report.
- ``scale`` (str): the default scale (``paper`` | ``cpu`` | ``smoke``); default ``cpu``.
- ``protocols`` (list): the protocols every cell evaluates (``paper``, ``standard``).
- ``[settings]``: RunConfig keys shared by every cell that are neither axes nor budgets (``backbone``,
  ``extractor``, ``channels`` ...). A scale preset that names a network (``smoke`` → ``tiny``) wins over the
  settings' one; a cell's own ``backbone`` (which its id names) wins over both.
- ``[budget]``: RunConfig budget keys (steps, batch_size, image_size, eval_every ...), applied at scale
  ``paper`` only; the other scales take their preset's budget, and ``bench run`` says which keys it did not
  apply (:meth:`Grid.budget_note`). Order, later wins: defaults < ``[budget]`` (paper only) < the scale
  preset < ``[settings]`` (but a preset's network) < the cell's axes < ``--set`` (``bench.plan``).
- ``[axes]``: a list per axis (``dataset``, ``method``, ``sampling``, ``seed``, ``quirks``, ``backbone``,
  ``g_cond``, ``method_options``, ``regularizer``, ``augment``); the cells are their product, dataset varying
  slowest.
- ``[[cells]]``: explicit cells, each with axis values (``dataset`` and ``method`` required), an optional
  ``label``, a per-cell ``budget`` (paper scale only, over the grid's), ``paper`` numbers and ``external`` numbers
  (what another harness published for the same method and data; see below).
- ``[[paper]]``: paper numbers for product cells: ``match = {axis = value, ...}`` plus the paper keys.
- ``[[claims]]``: the paper's claims as testable statements (``id``, ``text``, ``kind`` = less | order | slope |
  tail and its rows; :mod:`bench.report.claims`); ``bench report`` prints a verdict for each.
- ``[scale_datasets]``: ``<scale> = "<dataset>"``: at that scale every cell runs on that dataset instead (a CIFAR
  grid's ``cpu`` variant on the embedded ``digits_lt``); the cells' ids then name that dataset.
- ``[tune]``: makes the file a *search grid*, whose cells ``bench tune`` tunes (sampler, trials, seeds, objective;
  :mod:`bench.search_grid`) instead of ``bench run`` running them.

Paper numbers (``paper = {...}``): ``fid``, ``is``, ``best_step`` and ``step_unit`` as printed
(``iterations`` | ``batches``: upstream's Lightning steps count 5 D + 1 G batches), ``best_iteration`` (the
best step in our iterations; required for ``batches``), ``selection`` (``min_fid`` | ``last``), ``source``,
``note``.

External numbers (``external = {...}``): ``harness`` and ``model`` (required: who published them, under which
name), ``fid``, ``ifid`` (intra-class FID), ``is``, ``protocol`` (the bench protocol that measures the same way, e.g.
``studiogan``), ``gate`` (true: a reproduction counts only if this cell lands within the seed noise of these
numbers; ``bench report`` states the verdict), ``source``, ``note``. The table1 grid's balanced rows carry
StudioGAN's CIFAR-10 numbers.

The axes, their order, the cell ids and labels and the ``--only`` keys come from the option table
(``bench.config``): cell ids are ``<dataset>-<method>-<sampling>-s<seed>``, then ``-<backbone>`` when a cell's
backbone differs from the grid's setting, ``-g_<g_cond>`` when the cell sets how G takes the class (``-g_concat``),
``-<option><value>`` per method option (``-div4``, ``-pretrained_false``), ``-reg_lecam`` and ``-aug_diffaug`` when
a training aid is on, ``-quirks_fixed``, and last ``-bf16`` / ``-chlast`` when the cell's plan trains with bf16
autocast / channels_last nets (``bench.config.ID_SUFFIXES``; the cpu and lab scales choose them per machine). A
``folder:<path>`` dataset appears as ``folder_<name>_<8 hex digits of its absolute path's sha256>``, so that
folders whose names differ only in characters outside ASCII never collide. An id longer than 120 characters
keeps its first 111 and ends in ``-`` and 8 hex digits of the whole id's sha256. Ids are built from the grid file
alone (and, for a relative folder path, the working directory) and the precision tokens, so they never change
with the scale (but for the dataset a ``[scale_datasets]`` entry swaps in and the precision a scale picks on this
machine) or the code, and name the run folders
``results/<grid key>/<cell id>/``.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import (
    AXES,
    AXIS_DEFAULTS,
    BUDGET_KEYS,
    FOLDER_PREFIX,
    OPTIONS,
    PROTOCOLS,
    SCALES,
    SETTING_KEYS,
    RunConfig,
    dataset_token,
    make_cell_id,
    make_label,
    without_id_suffixes,
)
from bench.errors import ConfigError, check, closest, unknown_name
from bench.metrics.summary_names import SUMMARY_METRICS
from bench.plan import RunPlan, make_plan
from bench.search_grid import Entry, TuneSpec, parse_tune, search_entries, variant_entry

__all__ = ["AXES", "AXIS_DEFAULTS", "FOLDER_PREFIX", "Cell", "Grid", "dataset_token", "describe_grids", "list_grids",
           "load_grid", "make_cell_id", "make_label", "seed_list", "single_cell_grid"]

GRIDS_DIR = Path(__file__).parent / "grids"
TOP_KEYS = ("description", "scale", "protocols", "settings", "budget", "axes", "cells", "paper", "claims",
            "scale_datasets", "tune")
CLAIM_KEYS = ("id", "text", "kind", "metric", "better", "worse", "order", "improving", "stalls", "match", "paper")
CLAIM_KINDS = {"less": ("better", "worse"), "order": ("order",), "slope": ("improving", "stalls"), "tail": ()}
CLAIM_OPTIONAL = {"less": ("metric",), "order": ("metric",), "slope": (), "tail": ("match",)}  # per kind
CLAIM_ROW_KEYS = (*(a for a in AXES if a != "seed"), "options")  # a claim compares groups of seeds
CELL_KEYS = (*AXES, "label", "budget", "paper", "external")
PAPER_KEYS = ("fid", "is", "best_step", "step_unit", "best_iteration", "selection", "source", "note")
EXTERNAL_KEYS = ("harness", "model", "fid", "ifid", "is", "protocol", "gate", "source", "note")
STEP_UNITS = ("iterations", "batches")
SELECTIONS = ("min_fid", "last")
# ``only`` filter keys: the scalar axes and the cell id.
FILTER_KEYS = (*(a for a in AXES if not isinstance(OPTIONS[a].default, dict)), "id")


@dataclass(frozen=True)
class Cell:
    """One run of a grid.

    Attributes:
        id: stable, readable, unique within the grid; the run folder's name.
        axes: the cell's axis values (``bench.config.AXES``).
        label: a human-readable name for tables.
        plan: the resolved, checked run plan (``plan.config.grid`` is the grid key).
        paper: the paper's numbers for this cell (see the module docstring), or None.
        external: what another harness published for this cell's method and data (the module docstring), or None.
    """

    id: str
    axes: dict[str, Any]
    label: str
    plan: RunPlan
    paper: dict[str, Any] | None = None
    external: dict[str, Any] | None = None

    @property
    def config(self) -> RunConfig:
        """The plan's resolved options."""
        return self.plan.config


@dataclass
class _Spec:
    """A cell as written in the grid file, before resolution."""

    axes: dict[str, Any]
    label: str | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, Any] | None = None
    external: dict[str, Any] | None = None


@dataclass
class Grid:
    """A loaded grid file. :meth:`cells` expands it at a scale."""

    name: str
    path: Path
    description: str
    scale: str
    protocols: list[str] | None
    settings: dict[str, Any]
    budget: dict[str, Any]
    specs: list[_Spec]
    claims: list[dict[str, Any]] = field(default_factory=list)
    scale_datasets: dict[str, str] = field(default_factory=dict)  # scale -> the dataset every cell uses there
    tune: TuneSpec | None = None  # a search grid's [tune] table, checked (bench.search_grid); None for other grids

    def key(self, scale: str | None = None) -> str:
        """The results folder name: the grid name at its default scale, else ``<name>-<scale>``."""
        scale = scale or self.scale
        return self.name if scale == self.scale else f"{self.name}-{scale}"

    def cells(self, scale: str | None = None, only: str | None = None,
              overrides: Mapping[str, Any] | None = None, *, strict: bool = True) -> list[Cell]:
        """Expand the grid into resolved cells.

        Args:
            scale: scale preset; None = the grid's default scale.
            only: ``key=value[,key=value]`` filter on the grid's axes (keys: dataset, method, sampling, seed,
                quirks, backbone, id); values of one key are alternatives, different keys must all match. A value
                is matched against the cells as the overrides make them (``--seeds 3 --only seed=2``), and against
                the grid file's values of the axes no override replaces (:meth:`_filtered`).
            overrides: ``--set`` values. Axis keys (and ``method_options.<key>``) change the cells' axes, and
                so their ids; ``seed`` may be a list (``--seeds N`` = ``[0, ..., N-1]``): each cell once per seed;
                cells an override makes identical are kept once, and a changed cell drops its
                paper numbers. Other keys go to the run plan (:func:`bench.plan.make_plan`).
            strict: a cell that does not resolve (an unknown name or option, a bad value) is a ConfigError naming
                the cell, the key and the closest name; False leaves such cells out (the manifest of a grid run
                with ``only``, where ``--set method_options.<key>`` may not apply to the cells not selected).

        Returns:
            The cells in grid order, each with its checked run plan, whose ``config.grid`` is :meth:`key`.
        """
        scale = scale or self.scale
        check(scale in SCALES, f"unknown scale {scale!r}{closest(scale, SCALES)}; known: {', '.join(SCALES)}")
        key = self.key(scale)
        axis_over, config_over = _split_overrides(overrides or {})
        seeds = seed_list(axis_over.pop("seed", None))
        changed = {*axis_over, *(["seed"] if seeds != [None] else [])}  # axes whose file values the overrides replace
        expanded = []
        for spec in self.specs:
            for seed in seeds:  # --seeds N: every cell once per seed
                axes = _apply_axis_overrides(spec.axes, axis_over if seed is None else {**axis_over, "seed": seed})
                if scale in self.scale_datasets:  # e.g. the cpu variant of a CIFAR grid runs on digits_lt
                    axes["dataset"] = self.scale_datasets[scale]
                expanded.append((spec, axes))
        cells: list[Cell] = []
        seen: set[str] = set()
        for spec, axes in self._filtered(expanded, only, changed):
            cell_id = make_cell_id(axes, self.settings.get("backbone"))
            if cell_id in seen:
                continue
            seen.add(cell_id)
            try:
                plan = self._resolve(axes, spec.budget, scale, key, config_over)
            except ConfigError:
                if strict:
                    raise
                continue
            cell_id = make_cell_id(axes, self.settings.get("backbone"), plan.config)  # with -bf16 / -chlast
            same = _without_seed(axes) == _without_seed(spec.axes)  # the seed never changes the paper's row
            paper = spec.paper if same else None
            external = spec.external if same else None
            label = spec.label if spec.label and same else make_label(axes, self.settings)
            cells.append(Cell(id=cell_id, axes=axes, label=label, plan=plan, paper=paper, external=external))
        return cells

    def search_entries(self, scale: str | None = None) -> list[Entry]:
        """A search grid's cells as the entries ``bench tune`` tunes, each with the dimensions it searches, checked
        against the cells' run plans at ``scale`` (:func:`bench.search_grid.search_entries`)."""
        check(self.tune is not None, f"grid {self.name!r} ({self.path}) has no [tune] table: it is not a search grid")
        return search_entries(f"grid file {self.path}", [(s.axes, s.label) for s in self.specs],
                              [c.plan for c in self.cells(scale)], self.settings, self.tune)

    def budget_note(self, scale: str | None = None) -> str | None:
        """One line saying which budget keys of the grid file ``scale`` does not apply (``[budget]`` and the
        cells' ``budget`` are the paper scale's; another scale's preset wins) and what the preset sets instead;
        None when there are none."""
        scale = scale or self.scale
        if scale == "paper":
            return None
        cell_keys = sorted({k for spec in self.specs for k in spec.budget})
        if not self.budget and not cell_keys:
            return None
        preset = SCALES[scale]

        def instead(key: str) -> str:
            if key in preset:
                return f" (the {scale} scale sets {preset[key]})"
            if key in ("steps", "eval_every", "ckpt_every") and "d_updates" in preset:
                return f" (the {scale} scale gives every method {preset['d_updates']} D updates)"
            return ""

        unused = [f"{k}={v}{instead(k)}" for k, v in self.budget.items()]
        if cell_keys:
            unused.append(f"the [[cells]] budgets ({', '.join(cell_keys)})")
        return (f"note: grid {self.name!r} ({self.path}): [budget] {', '.join(unused)} applies at scale paper only; "
                f"scale {scale} takes its own budget (use --set KEY=VALUE to set a key at any scale)")

    def _resolve(self, axes: dict[str, Any], budget: dict[str, Any], scale: str, key: str,
                 overrides: dict[str, Any]) -> RunPlan:
        """The cell's run plan (``bench.plan.make_plan``); a ConfigError names the grid file and the cell."""
        values = {**{k: v for k, v in axes.items() if v is not None}, "grid": key}
        if self.protocols is not None:
            values["protocols"] = list(self.protocols)
        try:
            return make_plan(values, scale, {**self.budget, **budget}, overrides, settings=self.settings)
        except ConfigError as err:
            raise ConfigError(f"grid {self.name!r} ({self.path}), cell {make_cell_id(axes)}: {err}") from None

    def _filtered(self, expanded: list[tuple[_Spec, dict[str, Any]]], only: str | None,
                  changed: set[str]) -> list[tuple[_Spec, dict[str, Any]]]:
        """The (spec, axes) pairs that ``only`` selects. A cell matches a value of a key when its axes (after the
        overrides, the seeds and the scale's dataset) have it, or the grid file's do for an axis no override
        replaced (``dataset=cifar10_lt`` still names a CIFAR cell that a scale runs on digits_lt; ``seed=1`` with
        ``--seeds 3`` names the seed-1 copies only)."""
        if not only:
            return expanded
        wanted: dict[str, set[str]] = {}
        for item in only.split(","):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            check(bool(sep and key and value), f"--only expects key=value[,key=value], got {item!r}")
            if key == "id":
                value = without_id_suffixes(value)
            check(key in FILTER_KEYS, f"--only: unknown key {key!r}{closest(key, FILTER_KEYS)}; "
                                      f"keys: {', '.join(FILTER_KEYS)}")
            present = sorted({v for spec, axes in expanded for v in self._filter_values(spec, axes, key, changed)})
            check(value in present, f"--only: {key} = {value!r} is not in grid {self.name!r}"
                                    f"{closest(value, present)}; its values: {', '.join(present)}")
            wanted.setdefault(key, set()).add(value)
        return [(spec, axes) for spec, axes in expanded
                if all(self._filter_values(spec, axes, k, changed) & v for k, v in wanted.items())]

    def _filter_values(self, spec: _Spec, axes: dict[str, Any], key: str, changed: set[str]) -> set[str]:
        """The values of ``key`` a cell answers to in ``--only``: its own, and the grid file's unless an override
        replaced that axis (for ``id``: unless any did)."""
        own = _filter_value(axes, key, self.settings)
        replaced = bool(changed) if key == "id" else key in changed
        return {own} if replaced else {own, _filter_value(spec.axes, key, self.settings)}


def seed_list(value: Any) -> list[int | None]:
    """The seeds an override asks for: ``--set seed=3`` one, ``--set seed=[0,1,2]`` (``--seeds 3``) several,
    none (``[None]``: each cell keeps its own)."""
    if value is None:
        return [None]
    values = value if isinstance(value, list) else [value]
    check(len(values) > 0 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values),
          f"--set seed / --seeds: seeds must be non-negative integers, got {value!r}")
    return list(dict.fromkeys(values))


def _without_seed(axes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in axes.items() if k != "seed"}


def _filter_value(axes: Mapping[str, Any], key: str, settings: Mapping[str, Any]) -> str:
    if key == "id":
        return make_cell_id(axes, settings.get("backbone"))
    value = axes.get(key)
    if key == "backbone" and value is None:
        value = settings.get("backbone")
    return str(value)


def _split_overrides(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``--set`` values into axis overrides (change cell ids) and config overrides."""
    for key in ("grid", "scale"):
        check(key not in overrides, f"--set {key}=... cannot be overridden for a grid"
                                    f"{' (use --scale)' if key == 'scale' else ''}")
    axis = {k: v for k, v in overrides.items() if k in AXES or k.startswith("method_options.")}
    return axis, {k: v for k, v in overrides.items() if k not in axis}


def _apply_axis_overrides(axes: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``axes`` with the axis overrides applied (and checked)."""
    out = dict(axes)
    options = dict(out.get("method_options") or {})
    if not overrides:
        out["method_options"] = options
        return out
    for key, value in overrides.items():
        if key.startswith("method_options."):
            options[key.split(".", 1)[1]] = value
        elif key == "method_options":
            check(isinstance(value, dict), f"--set method_options must be a JSON object, got {value!r}")
            options = dict(value)
        else:
            out[key] = value
    out["method_options"] = options
    _check_axes(out, "--set")
    return out


# -- loading -------------------------------------------------------------------------------------
def single_cell_grid(axes: Mapping[str, Any], name: str = "adhoc") -> Grid:
    """A one-cell grid for ``bench run --dataset --method``: default scale ``cpu``, no settings or budget."""
    values = {**AXIS_DEFAULTS, **{k: v for k, v in axes.items() if v is not None}}
    _check_keys(values, AXES, Path(name), "")
    values["method_options"] = dict(values["method_options"])
    _check_axes(values, f"{name} run")
    return Grid(name=name, path=Path(name), description="ad-hoc runs (bench run --dataset --method)",
                scale=RunConfig.scale, protocols=None, settings={}, budget={}, specs=[_Spec(axes=values)])


def list_grids() -> list[str]:
    """Names of the grids shipped in ``bench/grids``, sorted."""
    return sorted(p.stem for p in GRIDS_DIR.glob("*.toml"))


def describe_grids() -> str:
    """A table of the shipped grids: name, number of cells, default scale and the description's first line."""
    rows = [("name", "cells", "scale", "description")]
    for name in list_grids():
        grid = load_grid(name)
        rows.append((name, str(len(grid.specs)), grid.scale, _headline(grid.description)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)


def _headline(description: str, width: int = 100) -> str:
    """The description's first sentence, cut at a word boundary to ``width`` characters."""
    first = description.strip().splitlines()[0].split(". ")[0].rstrip(".")
    return first if len(first) <= width else first[: first.rfind(" ", 0, width - 1)] + " …"


def load_grid(name_or_path: str | Path) -> Grid:
    """Load and check a grid: a shipped grid's name (``bench list grids``) or a path to a ``.toml`` file.

    Every cell is resolved once at the grid's default scale, so a bad value anywhere is reported here.
    Raises ConfigError naming the file and the key (with the closest valid key) for anything malformed,
    and the closest shipped names for an unknown grid.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".toml") or path.is_file()):
        if text not in list_grids():
            raise unknown_name("grid", text, list_grids())
        path = GRIDS_DIR / f"{text}.toml"
    check(path.is_file(), f"grid file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"grid file {path}: invalid TOML ({err})") from None
    grid = _parse(path.stem, path, data)
    grid.cells()
    if grid.tune is not None:  # a search grid: its [tune] keys and variants against its cells' methods and plans
        found = grid.search_entries()
        for i, variant in enumerate(grid.tune.variants):
            variant_entry(variant, found, f"grid file {path}, [tune] variants #{i + 1}")
    return grid


def _where(path: Path, section: str) -> str:
    return f"grid file {path}{', ' + section if section else ''}"


def _check_keys(data: Mapping[str, Any], valid: tuple[str, ...], path: Path, section: str) -> None:
    for key in data:
        if key not in valid:
            raise ConfigError(f"{_where(path, section)}: unknown key {key!r}{closest(key, valid)}; "
                              f"valid keys: {', '.join(valid)}")


def _parse(name: str, path: Path, data: dict[str, Any]) -> Grid:
    _check_keys(data, TOP_KEYS, path, "")
    description = data.get("description")
    check(isinstance(description, str) and description.strip() != "",
          f"{_where(path, '')}: 'description' must be a non-empty string")
    scale = data.get("scale", RunConfig.scale)
    check(scale in SCALES, f"{_where(path, '')}: scale = {scale!r} is not one of {', '.join(SCALES)}"
                           f"{closest(str(scale), SCALES)}")
    protocols = data.get("protocols")
    if protocols is not None:
        check(isinstance(protocols, list) and len(protocols) > 0,
              f"{_where(path, '')}: 'protocols' must be a non-empty list")
        for p in protocols:
            check(p in PROTOCOLS, f"{_where(path, '')}: protocol {p!r} is not one of {', '.join(PROTOCOLS)}"
                                  f"{closest(str(p), PROTOCOLS)}")
    settings = _table(data, "settings", path)
    for key in settings:
        if key in BUDGET_KEYS:
            raise ConfigError(f"{_where(path, '[settings]')}: {key!r} is a budget key; put it under [budget]")
        if key in OPTIONS and key not in SETTING_KEYS:
            raise ConfigError(f"{_where(path, '[settings]')}: {key!r} cannot be a setting "
                              f"(axes go under [axes] or [[cells]], protocols at the top level)")
    _check_keys(settings, SETTING_KEYS, path, "[settings]")
    for key, value in settings.items():
        _checked(OPTIONS[key], value, _where(path, "[settings]"))
    budget = _budget(_table(data, "budget", path), path, "[budget]")

    specs: list[_Spec] = []
    axes = _table(data, "axes", path)
    if axes:
        specs += _product(axes, path)
    for i, raw in enumerate(_array(data, "cells", path)):
        specs.append(_explicit_cell(raw, path, f"[[cells]] #{i + 1}"))
    check(len(specs) > 0, f"{_where(path, '')}: no cells (give [axes] and/or [[cells]])")
    for i, raw in enumerate(_array(data, "paper", path)):
        _attach_paper(raw, specs, path, f"[[paper]] #{i + 1}")

    ids: dict[str, int] = {}
    for i, spec in enumerate(specs):
        cell_id = make_cell_id(spec.axes, settings.get("backbone"))
        check(cell_id not in ids, f"{_where(path, '')}: two cells have the id {cell_id!r}")
        ids[cell_id] = i
    claims = [_claim(raw, path, f"[[claims]] #{i + 1}") for i, raw in enumerate(_array(data, "claims", path))]
    for i, claim in enumerate(claims):
        check_claim_rows(claim, [spec.axes for spec in specs], _where(path, f"[[claims]] #{i + 1} ({claim['id']})"))
    scale_datasets = _table(data, "scale_datasets", path)
    for key, value in scale_datasets.items():
        check(key in SCALES, f"{_where(path, '[scale_datasets]')}: {key!r} is not a scale; scales: "
                             f"{', '.join(SCALES)}{closest(key, SCALES)}")
        check(isinstance(value, str) and value != "", f"{_where(path, '[scale_datasets]')}: {key} must name a "
                                                      f"dataset, got {value!r}")
    raw_tune = _table(data, "tune", path)
    tune = parse_tune(raw_tune, _where(path, ""), protocols) if raw_tune else None
    return Grid(name=name, path=path, description=description.strip(), scale=scale, protocols=protocols,
                settings=settings, budget=budget, specs=specs, claims=claims, scale_datasets=scale_datasets, tune=tune)


def _claim(raw: dict[str, Any], path: Path, section: str) -> dict[str, Any]:
    """A claim checked as :func:`check_claim` does, its ``where`` naming the grid file and section."""
    return check_claim(raw, _where(path, section))


def check_claim(raw: Any, where: str) -> dict[str, Any]:
    """Check one ``[[claims]]`` entry (``where`` names it in errors): its keys, kind and the keys that kind takes,
    the row selections (tables of axis values; lists of them for order, improving and stalls; ``match`` of a
    tail claim), and ``metric`` (a per-run column of the report, e.g. ``fid_best``, with the closest name).
    Returns a copy. Whether the rows select cells is :func:`check_claim_rows`."""
    check(isinstance(raw, dict), f"{where}: a claim must be a table, got {raw!r}")
    for key in raw:
        check(key in CLAIM_KEYS, f"{where}: unknown key {key!r}{closest(key, CLAIM_KEYS)}; valid keys: "
                                 f"{', '.join(CLAIM_KEYS)}")
    for key in ("id", "text", "kind"):
        check(isinstance(raw.get(key), str) and raw[key] != "", f"{where}: {key!r} must be a non-empty string")
    kind = raw["kind"]
    check(kind in CLAIM_KINDS, f"{where}: kind = {kind!r} is not one of {', '.join(CLAIM_KINDS)}"
                               f"{closest(kind, CLAIM_KINDS)}")
    takes = (*CLAIM_KINDS[kind], *CLAIM_OPTIONAL[kind])
    for key in raw:
        check(key in ("id", "text", "kind", "paper", *takes),
              f"{where}: {key!r} does not apply to a {kind} claim, which takes {', '.join(takes) or 'no rows'}")
    check(isinstance(raw.get("paper", ""), str), f"{where}: 'paper' must be a string, got {raw.get('paper')!r}")
    for key, tables in claim_rows(raw):
        check(raw.get(key) is not None, f"{where}: a {kind} claim needs {key!r} (a table of axis values, or for "
                                        f"order, improving and stalls a list of them)")
        check(len(tables) > 0 and all(isinstance(t, dict) for t in tables),
              f"{where}: {key} must be a table of axis values"
              f"{' (or a list of them)' if key in ('order', 'improving', 'stalls') else ''}, e.g. "
              f"{key} = {{ method = \"ecogan\" }}, got {raw.get(key)!r}")
        for table in tables:
            for axis in table:
                check(axis != "seed", f"{where}: {key} selects by seed, but a claim compares the groups of cells "
                                      f"that differ only by seed; leave seed out")
                check(axis in CLAIM_ROW_KEYS, f"{where}, {key}: unknown axis {axis!r}"
                                              f"{closest(axis, CLAIM_ROW_KEYS)}; axes: {', '.join(CLAIM_ROW_KEYS)}")
    if kind == "order":
        check(len(raw["order"]) >= 2, f"{where}: 'order' needs at least two rows")
    if "metric" in raw:
        metric = raw["metric"]
        check(isinstance(metric, str) and metric in SUMMARY_METRICS,
              f"{where}: metric = {metric!r} is not a per-run number of the report"
              f"{closest(str(metric), SUMMARY_METRICS)}; metrics: {', '.join(SUMMARY_METRICS)}")
    return dict(raw)


def claim_rows(claim: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """The row selections of a claim: (key, tables) for each key its kind takes (``match`` of a tail claim only
    when given); a key's single table is a list of one."""
    kind = claim["kind"]
    keys = [*CLAIM_KINDS[kind], *(["match"] if kind == "tail" and "match" in claim else [])]
    out = []
    for key in keys:
        value = claim.get(key)
        out.append((key, [] if value is None else value if isinstance(value, list) else [value]))
    return out


def _claim_text(value: Any) -> str:
    """An axis value as the report compares it: None (a cell that leaves the axis to the grid) is ""."""
    return "" if value is None else str(value)


def _claim_options(value: Any) -> str:
    return json.dumps(value or {}, sort_keys=True, separators=(",", ":"))


def claim_selects(where: Mapping[str, Any], axes: Mapping[str, Any]) -> bool:
    """Whether a cell of axis values ``axes`` is a row of the claim table ``where`` (as
    :func:`bench.report.claims.matches` decides on the report's rows: ``options`` / ``method_options`` compared as
    canonical JSON, other axes as text, ``""`` for an axis the cell leaves unset)."""
    for key, value in where.items():
        if key in ("options", "method_options"):
            if _claim_options(axes.get("method_options")) != _claim_options(value):
                return False
        elif _claim_text(axes.get(key)) != _claim_text(value):
            return False
    return True


def check_claim_rows(claim: Mapping[str, Any], cells: list[Mapping[str, Any]], where: str) -> None:
    """A ConfigError when a row selection of ``claim`` selects none of ``cells`` (their axes), naming the axis value
    that no cell has and the closest one that some cell has."""
    for key, tables in claim_rows(claim):
        for table in tables:
            if any(claim_selects(table, axes) for axes in cells):
                continue
            for axis, value in table.items():
                is_options = axis in ("options", "method_options")
                present = sorted({(_claim_options(a.get("method_options")) if is_options else
                                   _claim_text(a.get(axis))) for a in cells})
                wanted = _claim_options(value) if is_options else _claim_text(value)
                if wanted not in present:
                    raise ConfigError(f"{where}: {key} {_inline(table)} selects no cell: no cell has {axis} = "
                                      f"{value!r}{closest(wanted, present)}; the cells' values: "
                                      f"{', '.join(repr(v) for v in present)}")
            raise ConfigError(f"{where}: {key} {_inline(table)} selects no cell: no cell has all of these values")


def _inline(table: Mapping[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + " }"


def _table(data: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    check(isinstance(value, dict), f"{_where(path, '')}: {key!r} must be a table ([{key}])")
    return dict(value)


def _array(data: Mapping[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    value = data.get(key, [])
    check(isinstance(value, list) and all(isinstance(v, dict) for v in value),
          f"{_where(path, '')}: {key!r} must be an array of tables ([[{key}]])")
    return value


def _budget(budget: dict[str, Any], path: Path, section: str) -> dict[str, Any]:
    _check_keys(budget, BUDGET_KEYS, path, section)
    for key, value in budget.items():
        check(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
              f"{_where(path, section)}: {key} must be a positive integer, got {value!r}")
    return budget


def _check_axes(axes: Mapping[str, Any], where: str) -> None:
    """Each axis value against its option's rule (names of datasets and methods are looked up by the plan)."""
    for key in AXES:
        _checked(OPTIONS[key], axes.get(key, OPTIONS[key].default), where)


def _checked(option: Any, value: Any, where: str) -> Any:
    try:
        return option.check(value)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _product(axes: dict[str, Any], path: Path) -> list[_Spec]:
    _check_keys(axes, AXES, path, "[axes]")
    for key in ("dataset", "method"):
        check(key in axes, f"{_where(path, '[axes]')}: {key!r} is required")
    lists: list[list[Any]] = []
    for key in AXES:
        values = axes.get(key, [AXIS_DEFAULTS.get(key)])
        check(isinstance(values, list) and len(values) > 0,
              f"{_where(path, '[axes]')}: {key} must be a non-empty list, got {values!r}")
        lists.append(values)
    specs = []
    for combo in itertools.product(*lists):
        cell = dict(zip(AXES, combo, strict=True))
        _check_axes(cell, _where(path, "[axes]"))
        cell["method_options"] = dict(cell["method_options"])
        specs.append(_Spec(axes=cell))
    return specs


def _explicit_cell(raw: dict[str, Any], path: Path, section: str) -> _Spec:
    _check_keys(raw, CELL_KEYS, path, section)
    for key in ("dataset", "method"):
        check(key in raw, f"{_where(path, section)}: {key!r} is required")
    axes = {key: raw.get(key, AXIS_DEFAULTS.get(key)) for key in AXES}
    _check_axes(axes, _where(path, section))
    axes["method_options"] = dict(axes["method_options"])
    label = raw.get("label")
    check(label is None or isinstance(label, str), f"{_where(path, section)}: label must be a string")
    budget = _budget(dict(raw.get("budget", {})), path, f"{section} budget")
    paper = _paper(raw["paper"], path, f"{section} paper") if "paper" in raw else None
    external = _external(raw["external"], path, f"{section} external") if "external" in raw else None
    return _Spec(axes=axes, label=label, budget=budget, paper=paper, external=external)


def _external(raw: Any, path: Path, section: str) -> dict[str, Any]:
    """Check another harness's published numbers (keys :data:`EXTERNAL_KEYS`; ``harness`` and ``model`` required)."""
    where = _where(path, section)
    check(isinstance(raw, dict), f"{where}: must be a table")
    _check_keys(raw, EXTERNAL_KEYS, path, section)
    for key in ("harness", "model"):
        check(isinstance(raw.get(key), str) and raw[key], f"{where}: {key!r} is required (a name)")
    for key in ("fid", "ifid", "is"):
        if key in raw:
            check(isinstance(raw[key], int | float) and not isinstance(raw[key], bool),
                  f"{where}: {key} must be a number, got {raw[key]!r}")
    if "protocol" in raw:
        check(raw["protocol"] in PROTOCOLS, f"{where}: protocol = {raw['protocol']!r} is not one of "
                                            f"{', '.join(PROTOCOLS)}{closest(str(raw['protocol']), PROTOCOLS)}")
    check(isinstance(raw.get("gate", False), bool), f"{where}: gate must be true or false")
    return dict(raw)


def _paper(raw: Any, path: Path, section: str) -> dict[str, Any]:
    """Check the paper numbers and fill ``best_iteration`` when the unit is iterations."""
    check(isinstance(raw, dict), f"{_where(path, section)}: must be a table")
    _check_keys(raw, PAPER_KEYS, path, section)
    where = _where(path, section)
    for key in ("fid", "is"):
        if key in raw:
            check(isinstance(raw[key], int | float) and not isinstance(raw[key], bool),
                  f"{where}: {key} must be a number, got {raw[key]!r}")
    paper = dict(raw)
    if "best_step" in paper:
        unit = paper.get("step_unit")
        check(unit in STEP_UNITS, f"{where}: step_unit must be one of {', '.join(STEP_UNITS)}, got {unit!r}")
        for key in ("best_step", "best_iteration"):
            if key in paper:
                check(isinstance(paper[key], int) and paper[key] >= 0, f"{where}: {key} must be an integer")
        if unit == "iterations":
            paper.setdefault("best_iteration", paper["best_step"])
            check(paper["best_iteration"] == paper["best_step"],
                  f"{where}: best_iteration must equal best_step when step_unit is iterations")
        check("best_iteration" in paper, f"{where}: best_iteration is required when step_unit is batches")
    if "selection" in paper:
        check(paper["selection"] in SELECTIONS, f"{where}: selection must be one of {', '.join(SELECTIONS)}")
    return paper


def _attach_paper(raw: dict[str, Any], specs: list[_Spec], path: Path, section: str) -> None:
    check("match" in raw and isinstance(raw["match"], dict), f"{_where(path, section)}: needs match = {{...}}")
    match = raw["match"]
    _check_keys(match, AXES, path, f"{section} match")
    paper = _paper({k: v for k, v in raw.items() if k != "match"}, path, section)
    hits = [s for s in specs if all(s.axes.get(k) == v for k, v in match.items())]
    check(len(hits) > 0, f"{_where(path, section)}: match {match} selects no cell")
    for spec in hits:
        check(spec.paper is None, f"{_where(path, section)}: cell {make_cell_id(spec.axes)} already has "
                                  f"paper numbers")
        spec.paper = paper
