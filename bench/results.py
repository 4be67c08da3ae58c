"""The results folder of a grid: its manifest, the gathered tidy CSV and a status table.

Layout (``<key>`` is the grid key: the grid's name at its default scale, else ``<name>-<scale>``)::

    results/<key>/grid.json            the grid as run: name, scale, description, protocols, cells
    results/<key>/<cell id>/           one run folder each (bench.run.folder)
    results/<key>/.locks/<cell>.lock   held while a process runs the cell (bench.run.locks)
    results/<key>/.logs/<cell>.log     output of local workers (when several run at once)
    results/<key>.csv                  ``bench gather``: one row per run x step x source x protocol x metric
    results/<key>-speed.csv            ``bench gather``: one row per run with its speed record (bench.speed)
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.config import GATHERED, OPTIONS, SCALES
from bench.errors import BenchError, DataNotFoundError
from bench.grid import AXES, Cell, Grid, list_grids, load_grid, make_label
from bench.metrics.halves import HALF_HEALTH_COLUMNS
from bench.metrics.tail import TAIL_COLUMNS
from bench.run.folder import RunDir, atomic_write_json, atomic_write_text, read_csv_header, read_json, read_rows
from bench.run.state import folder_state
from bench.speed import PHASES, read_record

MANIFEST = "grid.json"
METRICS = ("fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "ifid_mean", "fid_head",
           "fid_tail", "cond_acc", "judge_acc", "d_acc_real", "d_acc_fake", "label_sens", "n_real", "n_fake",
           "fid_lo", "fid_hi", "fid_head_lo", "fid_head_hi", "fid_tail_lo", "fid_tail_hi", "fid_half_a", "fid_half_b",
           "density", "coverage", "diversity", "diversity_min", "collapsed_classes", "collapsed",
           *TAIL_COLUMNS, *HALF_HEALTH_COLUMNS)
# the option table's gathered columns (bench.config: dataset, method, sampling, seed, quirks, scale, backbone,
# g_cond, regularizer, augment, options) between the run's names and the measurement's
COLUMNS = ("grid", "cell", "label", *(column for _, column in GATHERED), "step", "source", "protocol", "extractor",
           "reference", "label_mix", "metric", "value")
SPEED_COLUMNS = ("grid", "cell", "label", "dataset", "method", "sampling", "seed", "scale", "device", "dtype",
                 "threads", *(f"seconds_{p}" for p in PHASES), "iterations", "train_seconds", "s_per_iteration",
                 "images_per_s", "batch_size", "d_steps_per_iteration", "peak_rss_mb", "cuda_peak_mb", "attempts")


def grid_dir(results_root: Path | str, key: str) -> Path:
    return Path(results_root) / key


def lock_path(results_root: Path | str, key: str, cell_id: str) -> Path:
    return grid_dir(results_root, key) / ".locks" / f"{cell_id}.lock"


def log_path(results_root: Path | str, key: str, cell_id: str) -> Path:
    return grid_dir(results_root, key) / ".logs" / f"{cell_id}.log"


def cell_entry(cell: Cell) -> dict[str, Any]:
    """A cell as the manifest records it."""
    entry = {"id": cell.id, "axes": cell.axes, "label": cell.label, "paper": cell.paper, "hash": cell.plan.hash}
    return entry | ({"external": cell.external} if cell.external else {})


def write_manifest(grid: Grid, scale: str, cells: list[Cell], results_root: Path | str) -> Path:
    """Write ``results/<key>/grid.json``: grid name, scale, key, description, protocols and per cell its id,
    axes, label, paper numbers and config hash. Cells of an earlier manifest that this one lacks (another
    ``--set``) are kept after the current ones, so their runs stay labelled. An unchanged manifest is not
    written again."""
    key = grid.key(scale)
    path = grid_dir(results_root, key) / MANIFEST
    entries = [cell_entry(c) for c in cells]
    if path.exists():
        ids = {e["id"] for e in entries}
        entries += [e for e in read_json(path).get("cells", []) if e.get("id") not in ids]
    manifest = {"grid": grid.name, "scale": scale, "key": key, "description": grid.description,
                "protocols": grid.protocols, "source": str(grid.path), "cells": entries, "claims": grid.claims}
    if not path.exists() or read_json(path) != json.loads(json.dumps(manifest)):
        atomic_write_json(path, manifest)  # unchanged: no write (a finished grid on a read-only disk)
    return path


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    return read_json(path) if path.exists() else None


def resolve_key(grid: Grid | str | Path, results_root: Path | str, scale: str | None = None) -> tuple[str, Grid | None]:
    """The grid key and (when it can be loaded) the Grid for ``grid``: a Grid, a grid name or path, or a
    grid key such as ``table3-cpu`` naming an existing results folder."""
    if isinstance(grid, Grid):
        return grid.key(scale), grid
    grid = str(grid)
    # a results folder's manifest names its grid: also ad-hoc runs and grid files that moved have one
    candidates = [grid] if scale is None else [f"{grid}-{scale}", grid]
    for key in candidates:
        manifest = read_manifest(grid_dir(results_root, key)) if "/" not in key else None
        if manifest is not None and (scale is None or manifest.get("scale") == scale):
            try:
                loaded = load_grid(manifest.get("grid", key)) if manifest.get("grid") != ADHOC else None
            except BenchError:  # the grid file may have moved; the manifest is enough
                loaded = None
            return key, loaded
    name, _, suffix = str(grid).rpartition("-")
    if grid == ADHOC or (name == ADHOC and suffix in SCALES):  # ad-hoc runs: no grid file, the key is enough
        scale = scale or (suffix if name == ADHOC else None)
        return (ADHOC if scale in (None, OPTIONS["scale"].default) else f"{ADHOC}-{scale}"), None
    if scale is None and suffix in SCALES and name and (Path(name).suffix or name in _shipped()):
        loaded = load_grid(name)
        return loaded.key(suffix), loaded
    loaded = load_grid(grid)
    return loaded.key(scale), loaded


def _shipped() -> list[str]:
    return list_grids()


ADHOC = "adhoc"  # the grid of ``bench run --dataset --method`` (bench.grid.single_cell_grid)


def default_results_root() -> Path:
    """The CLI's default ``--results-root``: ``$BENCH_RESULTS``, else ``./results``."""
    return Path(os.environ.get("BENCH_RESULTS") or "results")


def advice(verb: str, grid: str, results_root: Path | str, scale: str | None = None) -> str:
    """A ``bench <verb>`` command line for a grid name, path or key (``table3-cpu``, ``adhoc-smoke``) that works
    when typed: a key's scale becomes ``--scale``, ad-hoc runs get an example ``--dataset``/``--method`` run, and
    a results root other than the default is passed on."""
    grid = str(grid)
    name, _, suffix = grid.rpartition("-")
    if scale is None and name and suffix in SCALES:
        grid, scale = name, suffix
    if verb == "run":  # run takes a grid name or path and a scale
        args = ["--dataset", "digits_lt", "--method", "ecogan"] if grid == ADHOC else ["--grid", grid]
        args += ["--scale", scale] if scale else []
    elif grid.endswith(".toml"):  # a grid file: gather and status take its path and the scale
        args = ["--grid", grid] + (["--scale", scale] if scale else [])
    else:  # gather, status and report take the key
        args = ["--grid", f"{grid}-{scale}" if scale else grid]
    if Path(results_root) != default_results_root():
        args += ["--results-root", str(results_root)]
    return " ".join(["bench", verb, *(shlex.quote(a) for a in args)])


def _missing(key: str, results_root: Path | str, grid: str | None = None,
             scale: str | None = None) -> DataNotFoundError:
    """No results folder for ``key``; the advice names the grid as the user gave it (``grid``, ``scale``)."""
    root = Path(results_root)
    name = key.split("-")[0]
    others = sorted(p.name for p in root.glob(f"{name}*") if p.is_dir()) if root.is_dir() else []
    hint = f"; results folders for this grid: {', '.join(others)}" if others else \
        f"; run `{advice('run', grid or key, results_root, scale)}` first"
    return DataNotFoundError(f"no results for grid {key!r} in {grid_dir(results_root, key)}{hint}")


def _run_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
                  and (p / "config.json").exists())


def gather(grid: Grid | str | Path, results_root: Path | str = "results", scale: str | None = None) -> Path:
    """Rebuild ``results/<key>.csv`` from the run folders of a grid.

    Args:
        grid: a Grid, a grid name or path, or a grid key (``table3-cpu``).
        results_root: the results folder.
        scale: the scale whose results to gather; None = the grid's default (or the key's).

    Returns:
        The CSV path. It is tidy: one row per run x step x source x protocol x metric, with the columns
        :data:`COLUMNS` (the gathered options from each run's ``config.json``, as the option table says: ``options``
        the sorted JSON of its method options, an unset backbone or g_cond empty, an option a run predates at its
        default; ``value`` exactly as ``metrics.csv`` holds it; empty metrics are left out). Rows are sorted by cell,
        step, source, protocol and metric, and the file is written atomically.
    """
    key, _ = resolve_key(grid, results_root, scale)
    folder = grid_dir(results_root, key)
    if not folder.is_dir():
        raise _missing(key, results_root, str(grid.path) if isinstance(grid, Grid) else str(grid), scale)
    manifest = read_manifest(folder) or {}
    labels = {e["id"]: e.get("label") for e in manifest.get("cells", [])}
    rows: list[dict[str, Any]] = []
    older = []  # run folders whose metrics.csv predates the collapse metrics
    for run_dir in _run_dirs(folder):
        header = read_csv_header(RunDir(run_dir).metrics)
        if header is not None and "collapsed" not in header:
            older.append(run_dir.name)
        config = read_json(run_dir / "config.json").get("config", {})
        values = {name: config.get(name, OPTIONS[name].default) for name, _ in GATHERED}  # an older run: defaults
        axes = {name: values[name] for name in AXES}
        base = {"grid": key, "cell": run_dir.name, "label": labels.get(run_dir.name) or make_label(axes),
                **{column: OPTIONS[name].gathered(values[name]) for name, column in GATHERED}}
        for metric_row in read_rows(RunDir(run_dir).metrics):
            info = {k: metric_row.get(k, "") for k in ("step", "source", "protocol", "extractor", "reference",
                                                       "label_mix")}
            rows += [{**base, **info, "metric": m, "value": metric_row[m]}
                     for m in METRICS if metric_row.get(m) not in (None, "")]
    order = {m: i for i, m in enumerate(METRICS)}
    rows.sort(key=lambda r: (r["cell"], int(r["step"]), r["source"], r["protocol"], order[r["metric"]]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out = Path(results_root) / f"{key}.csv"
    atomic_write_text(out, buf.getvalue())
    if older:
        print(f"note: {len(older)} run(s) of {key} were written before bench measured coverage, diversity and "
              f"collapse (e.g. {older[0]}): their verdict shows as unknown; run them again with --force-restart, "
              f"or `bench eval` their checkpoints", file=sys.stderr)
    gather_speed(folder, key, results_root, labels)
    return out


def speed_csv_path(results_root: Path | str, key: str) -> Path:
    """``<results_root>/<key>-speed.csv``."""
    return Path(results_root) / f"{key}-speed.csv"


def gather_speed(folder: Path, key: str, results_root: Path | str, labels: Mapping[str, Any]) -> Path | None:
    """Write ``<key>-speed.csv``: one row per run folder that has a ``speed.json`` (:mod:`bench.speed`), with the
    columns :data:`SPEED_COLUMNS` (phases as ``seconds_<phase>``; empty where a record lacks a value). Returns the
    path, or None (and no file; a stale one is removed) when no run has a record."""
    rows = []
    for run_dir in _run_dirs(folder):
        record = read_record(run_dir)
        if record is None:
            continue
        config = read_json(run_dir / "config.json").get("config", {})
        phases, rates = record.get("phases") or {}, record.get("train") or {}
        rows.append({"grid": key, "cell": run_dir.name, "label": labels.get(run_dir.name) or run_dir.name,
                     **{k: config.get(k) for k in ("dataset", "method", "sampling", "seed", "scale")},
                     **{k: record.get(k) for k in ("device", "dtype", "threads", "peak_rss_mb", "cuda_peak_mb",
                                                   "attempts")},
                     **{f"seconds_{p}": phases.get(p) for p in PHASES},
                     "iterations": rates.get("iterations"), "train_seconds": rates.get("seconds"),
                     **{k: rates.get(k) for k in ("s_per_iteration", "images_per_s", "batch_size",
                                                  "d_steps_per_iteration")}})
    out = speed_csv_path(results_root, key)
    if not rows:
        out.unlink(missing_ok=True)
        return None
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SPEED_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    atomic_write_text(out, buf.getvalue())
    return out


def describe_best(best: Mapping[str, Any] | None) -> str:
    """``41.23 @300 (standard, random-cnn)`` or ``-``; ``… COLLAPSED`` when even the best evaluation is collapsed
    (no evaluation of the run is healthy, :mod:`bench.metrics.collapse`)."""
    if not best or best.get("fid") is None:
        return "-"
    text = f"{float(best['fid']):.2f} @{best.get('step')} ({best.get('protocol')}, {best.get('extractor')})"
    return text + (" COLLAPSED" if best.get("collapsed") else "")


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
                     for r in rows)


def grid_status(grid: Grid | str | Path, results_root: Path | str = "results", scale: str | None = None) -> str:
    """A table of each cell of the grid at ``scale``: state, step/steps, best FID (with protocol and
    extractor) and the error of failed cells, headed by the grid key and a count per state.

    The cells are those of the results folder's ``grid.json`` (every cell a run wrote there, also those that
    ``--seeds`` or ``--set`` added), then the grid file's cells that no run has written yet."""
    key, loaded = resolve_key(grid, results_root, scale)
    folder = grid_dir(results_root, key)
    ids = [e["id"] for e in (read_manifest(folder) or {}).get("cells", []) if isinstance(e, dict) and "id" in e]
    if loaded is not None and not loaded.tune:  # a search grid's cells are tuned, not run: its trials are in grid.json
        ids += [c.id for c in loaded.cells(scale or _manifest_scale(folder) or loaded.scale)]
    ids = list(dict.fromkeys(ids))
    rows = [("cell", "state", "step", "best FID", "error")]
    counts: dict[str, int] = {}
    for cell_id in ids:
        state, status = folder_state(folder / cell_id, lock_path(results_root, key, cell_id))
        counts[state] = counts.get(state, 0) + 1
        step = f"{status.get('step', 0)}/{status.get('steps', '?')}" if status else "-"
        rows.append((cell_id, state, step, describe_best(status.get("best")), status.get("error") or ""))
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return f"grid {key} ({folder}): {len(ids)} cells: {tally}\n" + format_table(rows)


def _manifest_scale(folder: Path) -> str | None:
    manifest = read_manifest(folder)
    return manifest.get("scale") if manifest else None
