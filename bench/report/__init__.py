"""``bench report``: a grid's results as paper-layout tables, curves, minority-class views, samples and one HTML page.

Reads ``<results_root>/<key>.csv`` (from ``bench gather``), ``<results_root>/<key>/grid.json`` and the run
folders; writes into ``<reports_root>/<key>/``::

    <layout>-<protocol>-<extractor>.{csv,md,tex}    comparison table (table1 | table3 | table), one per protocol
    details-<protocol>-<extractor>.{csv,md,tex}     KID, precision/recall, intra-class and head/tail FID, ...
    significance-*, ranking-*                       pairwise Welch tests of best FID over seeds; ranks with ties
    heldout-*                                       the best step chosen on half of the reference, reported on the other
    verdicts-*                                      the grid's [[claims]], each holds / fails / inconclusive
    gate-<key>.{csv,md,tex}                         cells with another harness's published numbers, and the gate
    speed-<key>.{csv,md,tex}                        what each cell cost per phase (from <key>-speed.csv), if gathered
    tuning-*, sensitivity-*, figures/tuning-*.png   a search grid's trials (bench tune): every trial, each option's
                                                    sensitivity, the objective against the trials
    figures/curves-*.png, minority-*.png, headtail-*.png
    samples/<cell>-step-<N>.png                     each cell's last and best sample grids
    missing-cells.csv                               cells without a run folder or metrics (when there are any)
    index.html                                      with ``html=True``: everything above in one self-contained page

The folder is rendered anew beside the old one and then swapped in (:func:`staged_folder`), so a report killed
half-way leaves the previous one whole.

The report does not gather by itself: when the tidy CSV is missing it says to run ``bench gather``.
"""

from __future__ import annotations

import csv
import glob
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report.claims import verdict_tables
from bench.report.comparisons import heldout_tables, significance_tables
from bench.report.figures import render_figures
from bench.report.gate import gate_tables
from bench.report.html import write_page
from bench.report.load import ReportData, load_results, missing_counts
from bench.report.samples import collect_samples
from bench.report.speed import speed_tables
from bench.report.summary import summarize
from bench.report.tables import build_tables, write_table
from bench.report.tuning import tuning_figures, tuning_tables

__all__ = ["render_report", "load_results"]


def write_missing(data: ReportData, out_dir: Path) -> Path | None:
    """Write ``missing-cells.csv`` (cell, label, reason) when cells are missing."""
    if not data.missing:
        return None
    path = out_dir / "missing-cells.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "label", "reason"])
        writer.writerows(data.missing)
    return path


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A new, empty folder beside ``out`` (``.<name>.render-<pid>-<random>``) to write a whole report into; when
    the block ends without an error it takes ``out``'s place (the old folder is renamed aside, then removed), so
    a render that is killed or fails leaves the previous report whole, and a new one holds no file of an old
    render (a figure that no longer applies). Leftovers of a killed render are cleared first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(out)
    stage = out.parent / f".{out.name}.render-{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()  # mode from the umask, as the report folder had
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)


def _clear_leftovers(out: Path) -> None:
    """Remove the stage folders of renders that died (their process is gone) and the old folders of finished
    swaps; a render killed between its two renames left the previous report as an old folder: it is put back."""
    olds = sorted(out.parent.glob(f".{glob.escape(out.name)}.old-*"))
    if olds and not out.exists():
        os.replace(olds.pop(), out)
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)
    for stage in out.parent.glob(f".{glob.escape(out.name)}.render-*"):
        pid = stage.name.rsplit(".render-", 1)[1].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def render_report(grid: str, results_root: Path | str = "results", reports_root: Path | str = "reports",
                  html: bool = True, scale: str | None = None) -> Path:
    """Render a grid's report into ``<reports_root>/<grid key>/``.

    The report is written into a new folder beside it that then replaces the old report (:func:`staged_folder`):
    an interrupted render leaves the previous report as it was.

    Args:
        grid: grid name (e.g. ``table3``), grid key (the folder name under ``results_root``) or the grid file's
            path as ``bench run --grid`` took it (``path/mine.toml``).
        results_root: where ``bench run`` wrote the run folders and ``bench gather`` the tidy CSV.
        reports_root: where reports go.
        html: also write the self-contained ``index.html``.
        scale: the scale whose results to report (``bench run --scale``); None = the one on disk.

    Returns:
        The path of ``index.html`` when ``html``, else the report folder.

    Raises:
        NoResultsError (a DataNotFoundError): nothing to report; the message says to run ``bench run`` and
            ``bench gather``.
        DataNotFoundError: run folders exist but were never gathered.
        ConfigError: a results file is malformed (the message names it).
    """
    data = load_results(grid, Path(results_root), scale)
    out = Path(reports_root) / data.key
    points, per_run, groups = summarize(data)
    tables = (build_tables(data, groups) + significance_tables(data, groups, per_run) + heldout_tables(data, groups)
              + verdict_tables(data, groups, per_run, points, data.per_class) + gate_tables(data, per_run)
              + speed_tables(data) + tuning_tables(data))
    with staged_folder(out) as stage:
        files = {t.slug: write_table(t, stage) for t in tables}
        figures = render_figures(points, per_run, data.per_class, stage / "figures", data)
        figures += tuning_figures(data, stage / "figures")
        samples = collect_samples(data, per_run, stage / "samples")
        missing = write_missing(data, stage)
        if html:
            write_page(stage / "index.html", data, tables, files, figures, samples, per_run)
    if missing is not None:
        print(f"note: {len(data.missing)} of {len(data.cells)} cells of grid {data.grid} have no results "
              f"({missing_counts(data.missing)}; listed in {out / missing.name})", file=sys.stderr)
    return out / "index.html" if html else out
