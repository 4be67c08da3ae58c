"""The sample grids a report shows: each cell's last grid and its grid at the best step of each protocol.

Run folders keep one fixed-z grid per evaluation (``samples/step-<N>.png``, rows = classes labelled with their
training counts). The best step's grid is the one at that step, or the nearest step that has a grid.
The tail view cuts a cell's best-step grid down to the rows of its tail classes (training count below the median,
as head/tail FID splits them), one figure per group of seeds.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.report.load import ReportData


@dataclass
class SampleSet:
    """One cell's grids to show: (caption, copied PNG) pairs, last first, one per distinct step."""

    cell: str
    label: str
    state: str
    images: list[tuple[str, Path]] = field(default_factory=list)


def nearest_step(steps: list[int], step: float) -> int:
    """The step in ``steps`` closest to ``step`` (the earlier one on a tie)."""
    return min(steps, key=lambda s: (abs(s - step), s))


def collect_samples(data: ReportData, per_run: pd.DataFrame, out_dir: Path) -> list[SampleSet]:
    """Copy each cell's last and best sample grids into ``out_dir`` (``<cell>-step-<N>.png``) and caption them.

    Args:
        data: the loaded results (run folders with their sample grids).
        per_run: best and last per (cell, protocol, extractor), from ``summary.summarize``.
        out_dir: ``reports/<key>/samples``.
    """
    out = []
    for row in data.cells.itertuples():
        run = data.runs.get(row.cell)
        if run is None or not run.samples:
            continue
        steps = sorted(run.samples)
        notes: dict[int, list[str]] = {steps[-1]: ["last"]}
        best = per_run[(per_run["cell"] == row.cell) & per_run["best_step"].notna()]
        for b in best.itertuples():
            step = nearest_step(steps, b.best_step)
            where = "" if step == b.best_step else f", nearest grid to step {int(b.best_step)}"
            notes.setdefault(step, []).append(f"best for the {b.protocol} protocol ({b.extractor}, "
                                              f"FID {b.fid_best:.2f}{where})")
        sample_set = SampleSet(cell=row.cell, label=row.label, state=row.state)
        out_dir.mkdir(parents=True, exist_ok=True)
        for step in sorted(notes, key=lambda s: (s != steps[-1], s)):
            copy = out_dir / f"{row.cell}-step-{step}.png"
            shutil.copyfile(run.samples[step], copy)
            sample_set.images.append((f"step {step}: " + "; ".join(notes[step]), copy))
        out.append(sample_set)
    return out


GRID_PAD = 2  # bench.run.samples pads tiles: rows start GRID_PAD pixels down, the picture ends GRID_PAD below
MAX_GRID_ROWS = 40  # bench.run.samples.MAX_GRID_ROWS: more classes than this show evenly spaced ones


def grid_rows(num_classes: int) -> list[int]:
    """The classes a run's sample grid shows, one per row, as :func:`bench.run.samples.grid_classes` picks them."""
    if num_classes <= MAX_GRID_ROWS:
        return list(range(num_classes))
    return sorted({int(round(v)) for v in np.linspace(0, num_classes - 1, MAX_GRID_ROWS)})


def tail_rows(picture: Image.Image, rows: list[int], keep: list[int]) -> Image.Image:
    """The rows ``keep`` (positions among the grid's ``rows``) of a sample grid, stacked in order."""
    height = (picture.height - GRID_PAD) // len(rows)
    strips = [picture.crop((0, GRID_PAD + r * height, picture.width, GRID_PAD + (r + 1) * height)) for r in keep]
    out = Image.new("RGB", (picture.width, height * len(strips) + GRID_PAD), "white")
    for i, strip in enumerate(strips):
        out.paste(strip, (0, GRID_PAD + i * height))
    return out


def tail_sample_figures(data: ReportData, per_run: pd.DataFrame, out_dir: Path) -> list[tuple[Path, str, str]]:
    """For the first seed of each group with tail classes: its best-step sample grid (first protocol) cut to
    the tail rows, written as ``tail-<cell>.png``; returns (path, title, caption) triples."""
    out, seen = [], set()
    for row in per_run.sort_values(["group_order", "seed", "protocol"], kind="stable").itertuples():
        run = data.runs.get(row.cell)
        if row.group in seen or run is None or not run.samples or pd.isna(row.best_step):
            continue
        counts = (run.config.get("data") or {}).get("class_counts") or []
        if len(set(counts)) < 2:
            continue
        shown = grid_rows(len(counts))
        median = float(np.median(counts))
        keep = [i for i, c in enumerate(shown) if counts[c] < median]
        if not keep:
            continue
        seen.add(row.group)
        step = nearest_step(sorted(run.samples), row.best_step)
        with Image.open(run.samples[step]) as picture:
            cropped = tail_rows(picture.convert("RGB"), shown, keep)
        path = out_dir / f"tail-{row.cell}.png"
        out_dir.mkdir(parents=True, exist_ok=True)
        cropped.save(path)
        out.append((path, row.group_label, f"{row.group_label}: the tail classes ({len(keep)} of {len(counts)}, "
                                           f"training count below the median {median:g}) at step {step}, the best "
                                           f"step for the {row.protocol} protocol ({row.extractor}); rows labelled "
                                           f"with their training counts."))
    return out
