"""The report's tuning section, for the results of a search grid (``bench tune`` wrote ``tuning.csv``,
``sensitivity.csv`` and ``tuning.json`` into the results folder): the tuning table (every trial: options, the
objective's numbers on half A, verdicts, rank, the chosen one), each option's sensitivity, and a figure of the
objective against the trials per method.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from bench.report.figures import FigureFile, save
from bench.report.load import ReportData
from bench.report.tables import DASH, Table, slugify

OPTION_SEPARATOR = ", "


def _record(data: ReportData) -> dict | None:
    path = data.results_dir / "tuning.json"
    return json.loads(path.read_text()) if path.is_file() and (data.results_dir / "tuning.csv").is_file() else None


def _num(value: float, digits: int) -> str:
    return DASH if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _options(text: str) -> str:
    values = json.loads(text)
    return OPTION_SEPARATOR.join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items())


def tuning_tables(data: ReportData) -> list[Table]:
    """The tuning and sensitivity tables of a search grid's results; none for other grids."""
    record = _record(data)
    if record is None:
        return []
    protocol, extractor = record.get("protocol", ""), record.get("extractor", "")
    trials = pd.read_csv(data.results_dir / "tuning.csv")
    rows = [[r.entry, f"{r.trial}{' ✓' if r.chosen else ''}", _options(r.options) + ("" if r.state == "done"
                                                                                     else f" ({r.state})"),
             _num(r.fid_half_a, 1), _num(r.coverage_half_a, 3), _num(r.diversity_half_a, 2),
             _num(r.collapsed_half_a, 2), _num(r.cond_acc, 3), _num(r.constraints_broken, 1), str(r.rank)]
            for r in trials.itertuples()]
    how = (f"{record['trials']} trials per cell from its method's search space ({record['sampler']} sampler, seed "
           f"{record['sampler_seed']}), each on tuning seed(s) {', '.join(map(str, record['seeds']))} with the "
           f"scale's D-update budget (`{record['command']}`). Objective: {record['objective']}, on half A of the "
           f"{protocol} protocol's reference, at each trial's best evaluation by that objective (mean over the "
           f"tuning seeds); a trial that breaks more constraints ranks after one that breaks fewer, whatever its "
           f"score. ✓ = the chosen trial, whose recipe the tuned grid runs. Half B of the reference is never seen.")
    tables = [Table(slug=slugify("tuning", protocol, extractor), title=f"Tuning: every trial ({protocol})",
                    caption=how, columns=[("Cell", "l"), ("Trial", "r"), ("Options", "l"), ("FID↓ half A", "r"),
                                          ("Coverage↑ A", "r"), ("Diversity↑ A", "r"), ("Collapsed A", "r"),
                                          ("Cond. accuracy↑", "r"), ("Constraints broken", "r"), ("Rank", "r")],
                    rows=rows, numeric=trials, protocol=protocol, extractor=extractor)]
    path = data.results_dir / "sensitivity.csv"
    if path.is_file():
        sens = pd.read_csv(path)
        tables.append(Table(
            slug=slugify("sensitivity", protocol, extractor), title=f"Tuning: each option's sensitivity ({protocol})",
            caption=("Per cell and option: the trials grouped by the option's value (a choice by value; a range at its "
                     "median into a low and a high half), each group's mean rank, and the spread = (highest − lowest "
                     "mean rank) / (trials − 1): 0 when the option did not move the ranking, 1 when it decided it. "
                     "Descriptive only: with a handful of trials per cell, options drawn together are confounded."),
            columns=[("Cell", "l"), ("Option", "l"), ("Spread", "r"), ("Best group", "l"), ("Groups", "l")],
            rows=[[r.entry, r.key, f"{r.spread:.2f}", str(r.best), r.groups] for r in sens.itertuples()],
            numeric=sens, protocol=protocol, extractor=extractor))
    return tables


def tuning_figures(data: ReportData, out_dir: Path) -> list[FigureFile]:
    """The objective against the trials, one panel per tuned cell: each trial's score (filled: meets the
    constraints; ×: breaks some), the chosen one ringed, and the best so far (constraints first) as a step line."""
    record = _record(data)
    if record is None:
        return []
    trials = pd.read_csv(data.results_dir / "tuning.csv")
    column = record["objective"].split()[1]
    entries = list(dict.fromkeys(trials["entry"]))
    fig = Figure(figsize=(3.2 * len(entries), 3.0))
    axes = fig.subplots(1, len(entries), squeeze=False)[0]
    for ax, entry in zip(axes, entries, strict=True):
        rows = trials[trials["entry"] == entry].sort_values("trial")
        value = rows[column] if column in rows else rows["score"]
        ok = rows["constraints_broken"] == 0
        ax.scatter(rows["trial"][ok], value[ok], color="tab:blue", label="meets the constraints", zorder=3)
        ax.scatter(rows["trial"][~ok], value[~ok], color="tab:red", marker="x", label="breaks some", zorder=3)
        chosen = rows["chosen"] == 1
        ax.scatter(rows["trial"][chosen], value[chosen], s=160, facecolors="none", edgecolors="black",
                   label="chosen", zorder=4)
        best, key = [], (math.inf, math.inf)
        for broken, score, shown in zip(rows["constraints_broken"].fillna(math.inf), rows["score"].fillna(math.inf),
                                        value, strict=True):
            if (broken, score) < key:
                key, current = (broken, score), shown
            best.append(current if key[0] < math.inf else math.nan)
        ax.step(rows["trial"], best, where="post", color="grey", linewidth=1, label="best so far")
        ax.set_title(entry, fontsize=9)
        ax.set_xlabel("trial")
        ax.set_xticks(list(rows["trial"]))
    axes[0].set_ylabel(f"{column} (the objective's score)")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Objective against trials: {record['objective']}", fontsize=10)
    fig.tight_layout()
    path = save(fig, out_dir / f"tuning-{slugify(record.get('protocol', ''), record.get('extractor', ''))}.png")
    return [FigureFile(path, "tuning", "Objective against trials",
                       f"{record['objective']} on half A, per trial and tuned cell; ringed: the chosen trial; grey: "
                       f"the best trial so far (fewest constraints broken, then the score).")]
