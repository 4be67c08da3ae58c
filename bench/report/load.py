"""Read what a grid's runs left on disk: ``grid.json``, the gathered tidy CSV and each run folder.

Layout read (written by ``bench run`` and ``bench gather``)::

    <results_root>/<grid key>.csv                  tidy: one row per run x step x protocol x metric
    <results_root>/<grid key>/grid.json            the grid's cells, scale and the paper's numbers
    <results_root>/<grid key>/<cell id>/           config.json, status.json, metrics.csv, per_class.csv,
                                                   samples/step-<N>.png

The report never gathers by itself: a missing tidy CSV is an error that says to run ``bench gather``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.config import AT_NON_DEFAULT, GATHERED, OPTIONS
from bench.errors import ConfigError, DataNotFoundError

# The gathered option columns come from the option table (bench.config, as bench.results writes them).
TIDY_COLUMNS = ("grid", "cell", "label", *(column for _, column in GATHERED), "step",
                "source", "protocol", "extractor", "reference", "label_mix", "metric", "value")
PER_CLASS_COLUMNS = ("step", "source", "protocol", "extractor", "class", "class_name", "train_count", "n_real",
                     "n_fake", "fid", "cond_acc")
AXES = tuple(column for name, column in GATHERED if OPTIONS[name].axis is not None)
# Gathered columns the report groups by that are not grid axes (bf16, channels_last): read per cell from the tidy CSV
RUN_GROUPS = tuple(column for name, column in GATHERED if OPTIONS[name].group and OPTIONS[name].axis is None)
# Columns added after CSVs existed: options added after runs existed (hashed only at a non-default value) and the
# numeric path (bf16, channels_last: gathered since the cpu and lab scales pick it per machine); a CSV gathered before
# them reads their default
LATER = {column: str(OPTIONS[name].gathered(OPTIONS[name].default)) for name, column in GATHERED
         if OPTIONS[name].hashed == AT_NON_DEFAULT or OPTIONS[name].id_suffix}
PAPER_KEYS = ("fid", "is", "best_step", "step_unit", "best_iteration", "selection", "note")
SAMPLE_NAME = re.compile(r"step-(\d+)\.png$")


class NoResultsError(DataNotFoundError):
    """A grid has nothing on disk to report yet."""


def no_results(grid: str, root: Path, scale: str | None = None) -> NoResultsError:
    return NoResultsError(f"no results for grid {grid}{f' at scale {scale}' if scale else ''} in {root}: run "
                          f"`{_advice('run', grid, root, scale)}` then `{_advice('gather', grid, root, scale)}`")


@dataclass
class RunFolder:
    """What one cell's run folder holds (empty dicts where a file is absent)."""

    cell: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)  # config.json
    status: dict[str, Any] = field(default_factory=dict)  # status.json
    samples: dict[int, Path] = field(default_factory=dict)  # step -> samples/step-<N>.png
    has_metrics_rows: bool = False  # metrics.csv holds at least one row


@dataclass
class ReportData:
    """Everything a report is rendered from.

    Attributes:
        grid: the grid's name (decides the table layout: table1, table3, anything else = generic).
        key: the grid key, i.e. the folder name under the results root.
        scale: paper | cpu | smoke ("mixed" when the cells disagree).
        description: the grid's one-line description.
        protocols: protocols named by grid.json, else those found in the results.
        cells: one row per cell, in grid order: cell, label, the AXES (options as canonical JSON), order,
            paper_<key> for each of PAPER_KEYS (selection: min_fid | last, how the paper picked its number),
            state, step, steps, error.
        tidy: the gathered CSV (value numeric; text columns with "" for missing).
        per_class: every run folder's per_class.csv rows, with a ``cell`` column.
        runs: cell id -> RunFolder, for the cells that have a run folder.
        missing: (cell id, label, reason) for cells of grid.json without a run folder or without metrics.
        results_dir: ``<results_root>/<key>``.
        csv_path: ``<results_root>/<key>.csv``.
        claims: the grid's ``[[claims]]`` as grid.json holds them.
    """

    grid: str
    key: str
    scale: str
    description: str
    protocols: list[str]
    cells: pd.DataFrame
    tidy: pd.DataFrame
    per_class: pd.DataFrame
    runs: dict[str, RunFolder]
    missing: list[tuple[str, str, str]]
    results_dir: Path
    csv_path: Path
    claims: list[dict[str, Any]] = field(default_factory=list)  # grid.json's claims (bench.report.claims)


def canonical_options(value: Any) -> str:
    """Method options as canonical JSON ("{}" for none), so that cells compare and group by them."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    elif value is None or (isinstance(value, float) and pd.isna(value)):
        value = {}
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a ConfigError naming the file when it does not parse."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def find_grid_key(grid: str, results_root: Path, scale: str | None = None) -> str:
    """The folder name under ``results_root`` that holds ``grid``: a grid key (``table3-cpu``), a grid's name, or
    the path of a grid file (``path/mine.toml``, as ``bench run --grid`` took it); with ``scale``, the results of
    that scale. A name or file is looked up among the ``*/grid.json`` manifests (the grid they name, and for a
    file the file they were run from when several match). Several keys for one grid is a ConfigError listing
    them."""
    is_file = str(grid).endswith(".toml") or Path(grid).is_file()
    name = Path(grid).stem if is_file else str(grid)
    candidates = [f"{name}-{scale}", name] if scale else [name]
    for key in candidates:
        if not ((results_root / key).is_dir() or (results_root / f"{key}.csv").is_file()):
            continue
        manifest = results_root / key / "grid.json"
        if key != name or scale is None or not manifest.is_file() or read_json(manifest).get("scale") == scale:
            return key
    manifests = {p.parent.name: read_json(p) for p in sorted(results_root.glob("*/grid.json"))}
    keys = [k for k, m in manifests.items() if m.get("grid") == name and (scale is None or m.get("scale") == scale)]
    if is_file and len(keys) > 1:  # grids of one name from several files: the one run from this file
        same = [k for k in keys if _same_file(manifests[k].get("source"), Path(grid))]
        keys = same or keys
    if len(keys) > 1:
        raise ConfigError(f"grid {grid!r} has results under several keys in {results_root}: {', '.join(keys)}; "
                          f"pass one of them as --grid (e.g. `{_advice('report', keys[0], results_root)}`)")
    if not keys:
        raise no_results(grid, results_root, scale)
    return keys[0]


def _same_file(source: Any, path: Path) -> bool:
    try:
        return source is not None and Path(source).resolve() == path.resolve()
    except OSError:
        return False


def load_results(grid: str, results_root: Path | str = "results", scale: str | None = None) -> ReportData:
    """Read a grid's results for the report.

    Args:
        grid: grid name, grid key (folder name under ``results_root``) or grid file path (:func:`find_grid_key`).
        results_root: the folder ``bench run`` and ``bench gather`` wrote to.
        scale: the scale whose results to read; None = the one the grid's results are at.

    Raises:
        NoResultsError: nothing to report (no results folder, or no metric rows at all).
        ConfigError: grid.json or a CSV is malformed (the message names the file).
        DataNotFoundError: run folders exist but the tidy CSV was never gathered.
    """
    root = Path(results_root)
    key = find_grid_key(str(grid), root, scale)
    results_dir, csv_path = root / key, root / f"{key}.csv"
    grid_json = read_json(results_dir / "grid.json") if (results_dir / "grid.json").is_file() else {}
    if not csv_path.is_file():
        if results_dir.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in results_dir.iterdir()):
            raise DataNotFoundError(f"results for grid {grid} in {root} are not gathered ({csv_path} is missing): "
                                    f"run `{_advice('gather', key, root)}`")
        raise no_results(grid, root)
    tidy = read_tidy(csv_path)
    if tidy.empty:
        raise no_results(grid, root)
    cells = cells_frame(grid_json, tidy, results_dir / "grid.json")
    runs = {cell: read_run_folder(cell, results_dir / cell) for cell in cells["cell"] if (results_dir / cell).is_dir()}
    for cell, run in runs.items():
        status = run.status
        cells.loc[cells["cell"] == cell, ["state", "step", "steps", "error"]] = [
            status.get("state", ""), status.get("step"), status.get("steps"), status.get("error") or ""]
    per_class = [read_per_class(run) for run in runs.values()]
    per_class = pd.concat(per_class, ignore_index=True) if per_class else empty_per_class()
    scales = sorted(set(tidy["scale"]) - {""})
    scale = grid_json.get("scale") or (scales[0] if len(scales) == 1 else "mixed" if scales else "unknown")
    protocols = list(grid_json.get("protocols") or sorted(set(tidy["protocol"])))
    return ReportData(grid=grid_json.get("grid") or key, key=key, scale=scale,
                      description=grid_json.get("description") or "", protocols=protocols, cells=cells,
                      tidy=tidy, per_class=per_class, runs=runs,
                      missing=missing_cells(cells, tidy, runs, grid, root), results_dir=results_dir,
                      csv_path=csv_path, claims=list(grid_json.get("claims") or []))


def read_tidy(path: Path) -> pd.DataFrame:
    """The gathered CSV, checked for its columns; ``value`` numeric, text columns without NaN."""
    try:
        frame = pd.read_csv(path, dtype={"options": str, "cell": str, "label": str})
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{path}: empty file; rebuild it with `bench gather`") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not a CSV file ({err})") from None
    for col, default in LATER.items():
        if col not in frame.columns:
            frame[col] = default
    absent = [c for c in TIDY_COLUMNS if c not in frame.columns]
    if absent:
        raise ConfigError(f"{path}: missing column(s) {', '.join(absent)}; rebuild it with `bench gather`")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["step"] = pd.to_numeric(frame["step"], errors="coerce")
    bad = frame["step"].isna()
    if bad.any():
        raise ConfigError(f"{path}: non-numeric step in row {int(bad.idxmax()) + 2}")
    frame["step"] = frame["step"].astype("int64")
    text = [c for c in TIDY_COLUMNS if c not in ("step", "value", "seed")]
    frame[text] = frame[text].astype(object).where(frame[text].notna(), "").astype(str)
    frame["options"] = frame["options"].map(canonical_options)
    return frame


def cells_frame(grid_json: dict[str, Any], tidy: pd.DataFrame, source: Path) -> pd.DataFrame:
    """One row per cell: grid.json's cells in their order, then cells found only in the tidy CSV."""
    rows = []
    for order, cell in enumerate(grid_json.get("cells") or []):
        if not isinstance(cell, dict) or "id" not in cell:
            raise ConfigError(f"{source}: cell {order} has no 'id'")
        axes = dict(cell.get("axes") or {})
        axes["options"] = canonical_options(axes.pop("method_options", axes.get("options")))
        paper = cell.get("paper") or {}
        row = {"cell": str(cell["id"]), "label": str(cell.get("label") or cell["id"]), "order": order}
        row.update({a: axes.get(a) for a in AXES})
        row.update({f"paper_{k}": paper.get(k) for k in PAPER_KEYS})
        rows.append(row)
    known = {r["cell"] for r in rows}
    extra = tidy.loc[~tidy["cell"].isin(known), ["cell", "label", *AXES]].drop_duplicates("cell")
    for order, row in enumerate(extra.to_dict("records"), start=len(rows)):
        rows.append({**row, "order": order, **{f"paper_{k}": None for k in PAPER_KEYS}})
    cells = pd.DataFrame(rows, columns=["cell", "label", "order", *AXES, *(f"paper_{k}" for k in PAPER_KEYS)])
    ran = tidy.drop_duplicates("cell").set_index("cell")
    for col in RUN_GROUPS:  # what the cell's plan resolved (the numeric path): the tidy CSV's, else the default
        cells[col] = cells["cell"].map(ran[col]).fillna(LATER.get(col, "")).astype(str)
    for col in ("paper_fid", "paper_is", "paper_best_step", "paper_best_iteration"):
        cells[col] = pd.to_numeric(cells[col], errors="coerce")
    for col in AXES:
        if col in ("seed", "options"):
            continue
        default = LATER.get(col, "")
        cells[col] = cells[col].fillna(default).replace("", default).astype(str)
    cells["state"], cells["step"], cells["steps"], cells["error"] = "", None, None, ""
    return cells


def read_run_folder(cell: str, path: Path) -> RunFolder:
    """config.json, status.json, the sample grids and whether metrics.csv has rows."""
    run = RunFolder(cell=cell, path=path)
    if (path / "config.json").is_file():
        run.config = read_json(path / "config.json")
    if (path / "status.json").is_file():
        run.status = read_json(path / "status.json")
    for png in (path / "samples").glob("step-*.png"):
        match = SAMPLE_NAME.search(png.name)
        if match:
            run.samples[int(match.group(1))] = png
    metrics = path / "metrics.csv"
    if metrics.is_file():
        with metrics.open() as handle:
            run.has_metrics_rows = sum(1 for line in handle if line.strip()) > 1
    return run


def empty_per_class() -> pd.DataFrame:
    return pd.DataFrame(columns=["cell", *PER_CLASS_COLUMNS])


def read_per_class(run: RunFolder) -> pd.DataFrame:
    """A run folder's per_class.csv with a ``cell`` column (empty when absent)."""
    path = run.path / "per_class.csv"
    if not path.is_file():
        return empty_per_class()
    try:
        frame = pd.read_csv(path, dtype={"class_name": str})
    except pd.errors.EmptyDataError:
        return empty_per_class()
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not a CSV file ({err})") from None
    absent = [c for c in PER_CLASS_COLUMNS if c not in frame.columns]
    if absent:
        raise ConfigError(f"{path}: missing column(s) {', '.join(absent)}")
    text = ["source", "protocol", "extractor", "class_name"]
    frame[text] = frame[text].astype(object).where(frame[text].notna(), "").astype(str)
    frame.insert(0, "cell", run.cell)
    return frame


def _advice(verb: str, grid: str, root: Path, scale: str | None = None) -> str:
    from bench.results import advice

    return advice(verb, grid, root, scale)


MISSING_KINDS = {"no run folder": "never run", "failed": "failed", "metrics not gathered": "not gathered",
                 "no metrics yet": "unfinished"}
"""The kinds of missing cell, by the start of :func:`missing_cells`'s reason."""


def missing_counts(missing: list[tuple[str, str, str]]) -> str:
    """The missing cells counted by kind, e.g. "30 never run, 1 failed": a grid run with ``--only`` or with more
    seeds for some cells lists cells that nobody asked to run, which is not the same news as a failed one."""
    kinds = Counter(next((kind for start, kind in MISSING_KINDS.items() if reason.startswith(start)), "other")
                    for _, _, reason in missing)
    return ", ".join(f"{n} {kind}" for kind, n in kinds.items())


def missing_cells(cells: pd.DataFrame, tidy: pd.DataFrame, runs: dict[str, RunFolder],
                  grid: str, root: Path | None = None) -> list[tuple[str, str, str]]:
    """Cells without a run folder or without gathered metrics, each with the reason in words."""
    measured = set(tidy.loc[tidy["value"].notna(), "cell"])
    out = []
    for row in cells.itertuples():
        if row.cell in measured:
            continue
        run = runs.get(row.cell)
        if run is None:
            reason = "no run folder"
        elif run.has_metrics_rows:
            reason = f"metrics not gathered yet: run `{_advice('gather', grid, root or Path('results'))}`"
        elif row.state == "failed":
            reason = f"failed: {row.error or 'no error recorded'}"
        else:
            where = f", step {row.step} of {row.steps}" if row.step is not None and row.steps is not None else ""
            reason = f"no metrics yet (state {row.state or 'unknown'}{where})"
        out.append((row.cell, row.label, reason))
    return out
