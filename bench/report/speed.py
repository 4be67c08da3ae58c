"""The report's speed table: what each cell of a grid cost on the machine it ran on (cells × phases), from the
``<key>-speed.csv`` that ``bench gather`` writes out of every run's ``speed.json`` (:mod:`bench.speed`). It sits
beside the comparisons, never in them: a second is a fact about a machine, not about a method."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.report.load import ReportData
from bench.report.tables import DASH, Table, slugify
from bench.speed import PHASES

PHASE_NAMES = {"data": "Data", "judge": "Judge", "reference": "Reference feat.", "pretraining": "Pretraining",
               "training": "Training", "evaluation": "Evaluation"}


def speed_csv(data: ReportData) -> Path:
    """``<results_root>/<key>-speed.csv`` (as :func:`bench.results.speed_csv_path` names it)."""
    return data.results_dir.parent / f"{data.key}-speed.csv"


def _number(value: object, digits: int) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DASH
    return DASH if math.isnan(number) else f"{number:,.{digits}f}"


def speed_tables(data: ReportData) -> list[Table]:
    """One table, rows in grid order: the machine (device, dtype, threads), seconds per phase and in all,
    iterations, s/iteration, real images per second, peak memory; none when the grid has no speed records."""
    path = speed_csv(data)
    if not path.is_file():
        return []
    frame = pd.read_csv(path, dtype={"cell": str, "label": str})
    if frame.empty:
        return []
    order = {cell: i for i, cell in enumerate(data.cells["cell"])}
    labels = dict(zip(data.cells["cell"], data.cells["label"], strict=True))
    frame = frame.assign(order=frame["cell"].map(lambda c: order.get(c, len(order)))).sort_values(
        ["order", "cell"], kind="stable")
    seconds = [f"seconds_{p}" for p in PHASES]
    frame["seconds_total"] = frame[seconds].sum(axis=1, min_count=1)
    columns = [("Cell", "l"), ("Device", "l"), ("dtype · threads", "l"),
               *((f"{PHASE_NAMES[p]} s", "r") for p in PHASES), ("Total s", "r"), ("Iterations", "r"),
               ("s / iteration", "r"), ("Images / s", "r"), ("Peak RSS MB", "r"), ("CUDA peak MB", "r")]
    rows = [[labels.get(row.cell) or str(row.label), str(row.device), f"{row.dtype} · {_number(row.threads, 0)}",
             *(_number(getattr(row, c), 1) for c in seconds), _number(row.seconds_total, 1),
             _number(row.iterations, 0), _number(row.s_per_iteration, 3), _number(row.images_per_s, 0),
             _number(row.peak_rss_mb, 0), _number(row.cuda_peak_mb, 0)] for row in frame.itertuples()]
    caption = " ".join([
        f"Wall-clock seconds of each phase of each cell's run on the machine it ran on (its speed.json, gathered into "
        f"{path.name}), summed over a run's attempts on the same machine.",
        "Data = loading the train and reference splits; Judge = training (or loading) the reference classifier;",
        "Reference feat. = the reference features (cached: later cells of a dataset pay ~0);",
        "Pretraining = the method's pretraining stage; Training = the iterations with their checkpoints, without",
        "evaluations; Evaluation = the evaluations during training.",
        "Images / s = real images D sees per second of Training (iterations × D steps per iteration × batch /",
        "seconds). Peak RSS = the process's peak resident memory. A cell run beside others on a shared machine",
        "shows that machine's load, not the method's cost alone."])
    numeric = frame.drop(columns=["order"]).reset_index(drop=True)
    return [Table(slug=slugify("speed", data.key), title=f"What each cell cost ({data.key})", caption=caption,
                  columns=columns, rows=rows, numeric=numeric, protocol="", extractor="")]
