"""The sample grids a report shows: each cell's last grid and its grid at the best step of each protocol.

Run folders keep one fixed-z grid per evaluation (``samples/step-<N>.png``, rows = classes labelled with their
training counts). The best step's grid is the one at that step, or the nearest step that has a grid.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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
