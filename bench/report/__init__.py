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
    figures/curves-*.png, minority-*.png, headtail-*.png
    samples/<cell>-step-<N>.png                     each cell's last and best sample grids
    missing-cells.csv                               cells without a run folder or metrics (when there are any)
    index.html                                      with ``html=True``: everything above in one self-contained page

The report does not gather by itself: when the tidy CSV is missing it says to run ``bench gather``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from bench.report.claims import verdict_tables
from bench.report.comparisons import heldout_tables, significance_tables
from bench.report.figures import render_figures
from bench.report.gate import gate_tables
from bench.report.html import write_page
from bench.report.load import ReportData, load_results
from bench.report.samples import collect_samples
from bench.report.speed import speed_tables
from bench.report.summary import summarize
from bench.report.tables import build_tables, write_table

__all__ = ["render_report", "load_results"]


def write_missing(data: ReportData, out_dir: Path) -> Path | None:
    """Write ``missing-cells.csv`` (cell, label, reason) when cells are missing, remove a stale one otherwise."""
    path = out_dir / "missing-cells.csv"
    if not data.missing:
        path.unlink(missing_ok=True)
        return None
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "label", "reason"])
        writer.writerows(data.missing)
    return path


def clear_pngs(folder: Path) -> None:
    """Drop the PNGs an earlier render left, so that a figure or grid that no longer applies disappears."""
    for png in folder.glob("*.png"):
        png.unlink()


def render_report(grid: str, results_root: Path | str = "results", reports_root: Path | str = "reports",
                  html: bool = True) -> Path:
    """Render a grid's report into ``<reports_root>/<grid key>/``.

    Args:
        grid: grid name (e.g. ``table3``) or grid key (the folder name under ``results_root``).
        results_root: where ``bench run`` wrote the run folders and ``bench gather`` the tidy CSV.
        reports_root: where reports go.
        html: also write the self-contained ``index.html``.

    Returns:
        The path of ``index.html`` when ``html``, else the report folder.

    Raises:
        NoResultsError (a DataNotFoundError): nothing to report; the message says to run ``bench run`` and
            ``bench gather``.
        DataNotFoundError: run folders exist but were never gathered.
        ConfigError: a results file is malformed (the message names it).
    """
    data = load_results(grid, Path(results_root))
    out = Path(reports_root) / data.key
    out.mkdir(parents=True, exist_ok=True)
    points, per_run, groups = summarize(data)
    tables = (build_tables(data, groups) + significance_tables(data, groups, per_run) + heldout_tables(data, groups)
              + verdict_tables(data, groups, per_run, points, data.per_class) + gate_tables(data, per_run)
              + speed_tables(data))
    files = {t.slug: write_table(t, out) for t in tables}
    clear_pngs(out / "figures")
    clear_pngs(out / "samples")
    figures = render_figures(points, per_run, data.per_class, out / "figures", data)
    samples = collect_samples(data, per_run, out / "samples")
    missing = write_missing(data, out)
    if missing is not None:
        print(f"note: {len(data.missing)} of {len(data.cells)} cells of grid {data.grid} have no results yet "
              f"(listed in {missing})", file=sys.stderr)
    return write_page(out / "index.html", data, tables, files, figures, samples) if html else out
