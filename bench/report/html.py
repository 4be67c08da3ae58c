"""The one self-contained HTML page of a report (jinja2): every image is a base64 data URI, no script, font or
style sheet is fetched, so the page opens from disk on a machine without network."""

from __future__ import annotations

import base64
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from bench.metrics.collapse import RULE
from bench.report.figures import FigureFile
from bench.report.load import ReportData
from bench.report.samples import SampleSet
from bench.report.tables import Table

TEMPLATES = Path(__file__).parent / "templates"
SECTIONS = {
    "data": ("class-distribution", "Class distribution",
             "Training images per class of each long-tailed set (log scale), under the profile each run used and "
             "under the other long-tail profile, as the seed's figure (b)."),
    "curves": ("curves", "Curves", "FID and IS against training step, one figure per dataset and protocol."),
    "conditioning": ("conditioning", "Conditioning",
                     "Whether each generator follows its labels: without that, per-class and minority-class numbers "
                     "measure nothing."),
    "minority": ("minority", "Minority classes",
                 "Where each method fails on the tail: per-class FID and conditional accuracy against the class's "
                 "training count, and FID on head vs tail classes, at each run's best step."),
    "width": ("width", "Width study", "FID and IS against step for each width divisor (div 1–5), and the best FID "
                                      "of each width."),
    "tuning": ("tuning", "Tuning", "bench tune's trials: the objective (on half A of the reference) against the "
                                   "trials of each tuned cell."),
    "tail-samples": ("tail-samples", "Tail classes", "Generated samples of the tail classes only (training count "
                                                     "below the median), at each cell's best step."),
}


def data_uri(path: Path, mime: str = "image/png") -> str:
    """The file as a ``data:`` URI (base64)."""
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def distinct_versions(data: ReportData) -> tuple[list[tuple[str, str]], list[str]]:
    """(package, version(s)) pairs and git commits recorded in the runs' config.json; values that differ
    between runs are joined with " / "."""
    versions: dict[str, list[str]] = {}
    commits: list[str] = []
    for run in data.runs.values():
        for name, value in (run.config.get("versions") or {}).items():
            versions.setdefault(name, [])
            if str(value) not in versions[name]:
                versions[name].append(str(value))
        commit = run.config.get("git_commit")
        if commit and commit not in commits:
            commits.append(str(commit))
    return [(name, " / ".join(values)) for name, values in versions.items()], commits


def cell_summary(data: ReportData) -> str:
    """E.g. "6 cells: 4 done, 1 running, 1 missing"."""
    missing = {cell for cell, _, _ in data.missing}
    states = Counter(("missing" if row.cell in missing else row.state or "unknown") for row in data.cells.itertuples())
    parts = ", ".join(f"{n} {state}" for state, n in sorted(states.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{len(data.cells)} cells: {parts}"


RECIPE_COLUMNS = ("cell", "backbone", "G conditioning", "adversarial loss", "GP weight", "regulariser", "augment",
                  "D steps per G step", "lr G / D", "iterations", "D updates", "pretraining", "precision")
JUDGE_FLOOR = 0.8  # below this the judge compresses conditional accuracy and FID; the page says so


def recipe_rows(data: ReportData) -> list[tuple[str, ...]]:
    """Per cell with a run folder, the recipe it ran (config.json ``recipe``): backbone, how G takes the class,
    adversarial loss, GP weight, n_dis, learning rates, the budget in iterations and D updates, the pretraining
    budget and the precision."""
    rows = []
    for cell, run in data.runs.items():
        recipe = run.config.get("recipe") or {}
        if not recipe:
            continue
        hyper = recipe.get("hyper") or {}
        rows.append((cell, str(recipe.get("backbone")), str(recipe.get("g_cond") or "latent class Gaussians"),
                     str(recipe.get("adv_loss")), f"{recipe.get('gp_weight', 0.0):g}",
                     str(recipe.get("regularizer", "none")), str(recipe.get("augment", "none")),
                     str(recipe.get("n_dis")),
                     f"{hyper.get('lr_g', 0):g} / {hyper.get('lr_d', 0):g}",
                     str(recipe.get("steps")), str(recipe.get("d_updates")), str(recipe.get("pretrain") or "-"),
                     _precision(recipe.get("precision"))))
    return rows


def _precision(precision: dict[str, Any] | None) -> str:
    """``bf16 + channels_last`` / ``fp32`` from a recipe's ``precision`` (``-`` for runs that predate it)."""
    if not precision:
        return "-"
    text = "bf16" if precision.get("autocast") == "bf16" else "fp32"
    return text + (" + channels_last" if precision.get("channels_last") else "")


def weak_judges(data: ReportData) -> list[tuple[str, float]]:
    """(dataset, judge accuracy on real images) where the reference classifier stays below JUDGE_FLOOR."""
    tidy = data.tidy
    judge = tidy[tidy["metric"] == "judge_acc"]
    if judge.empty:
        return []
    lowest = judge.groupby("dataset")["value"].min()
    return [(dataset, float(value)) for dataset, value in lowest.items() if value < JUDGE_FLOOR]


def collapsed_runs(per_run: pd.DataFrame) -> list[dict[str, Any]]:
    """Runs whose best evaluation is collapsed (so every evaluation is: :mod:`bench.metrics.collapse`), with the
    numbers behind the verdict."""
    if per_run.empty or "collapsed" not in per_run:
        return []
    rows = per_run[per_run["collapsed"].fillna(0) > 0].sort_values(["protocol", "extractor", "cell"])
    return [{"cell": r["cell"], "protocol": r["protocol"], "extractor": r["extractor"],
             "coverage": r["coverage"], "density": r["density"], "diversity": r["diversity"],
             "classes": r["collapsed_classes"]} for _, r in rows.iterrows()]


def stereotype_runs(per_run: pd.DataFrame) -> list[dict[str, Any]]:
    """Runs whose conditional accuracy at the best step exceeds the judge's own accuracy on real images: the fakes
    are easier to classify than real images, as class stereotypes are."""
    if per_run.empty or "cond_acc" not in per_run:
        return []
    rows = per_run[per_run["cond_acc"] > per_run["judge_acc"]].sort_values(["protocol", "extractor", "cell"])
    return [{"cell": r["cell"], "protocol": r["protocol"], "extractor": r["extractor"], "cond_acc": r["cond_acc"],
             "judge_acc": r["judge_acc"]} for _, r in rows.iterrows()]


def bench_version() -> str:
    try:
        return metadata.version("ecogan-bench")
    except metadata.PackageNotFoundError:
        return "unknown"


def page_context(data: ReportData, tables: list[Table], files: dict[str, dict[str, Path]],
                 figures: list[FigureFile], samples: list[SampleSet],
                 per_run: pd.DataFrame | None = None) -> dict[str, Any]:
    """Everything the template shows, images already turned into data URIs; ``per_run`` (best and last per run,
    ``summary.summarize``) gives the collapse and stereotype notices."""
    per_run = per_run if per_run is not None else pd.DataFrame()
    versions, commits = distinct_versions(data)
    extractors = data.tidy.groupby("protocol", sort=False)["extractor"].agg(lambda s: ", ".join(dict.fromkeys(s)))
    protocols = [{"name": p, "extractors": extractors.get(p, "no results")} for p in
                 dict.fromkeys([*data.protocols, *extractors.index])]
    sections = []
    for key, (anchor, title, intro) in SECTIONS.items():
        figs = [{"src": data_uri(f.path), "title": f.title, "caption": f.caption, "name": f.path.name}
                for f in figures if f.section == key]
        sections.append({"id": anchor, "title": title, "intro": intro, "figures": figs})
    return {
        "grid": data.grid, "key": data.key, "scale": data.scale, "description": data.description,
        "notice": data.scale != "paper", "protocols": protocols, "versions": versions, "commits": commits,
        "cell_summary": cell_summary(data), "n_cells": len(data.cells), "missing": data.missing,
        "results": str(data.results_dir),
        "tables": [{"slug": t.slug, "title": t.title, "caption": t.caption, "columns": t.columns, "rows": t.rows,
                    "files": [(ext, p.name) for ext, p in files[t.slug].items()]} for t in tables],
        "figure_sections": sections,
        "samples": [{"cell": s.cell, "label": s.label, "state": s.state,
                     "images": [(caption, data_uri(path)) for caption, path in s.images]} for s in samples],
        "bench_version": bench_version(),
        "recipe_columns": RECIPE_COLUMNS, "recipes": recipe_rows(data), "weak_judges": weak_judges(data),
        "judge_floor": JUDGE_FLOOR, "collapsed": collapsed_runs(per_run), "stereotypes": stereotype_runs(per_run),
        "collapse_rule": RULE,
    }


def cell_mark(value: str) -> str:
    """Extra CSS classes of a table cell: verdicts coloured, non-significant differences marked, long text wrapped."""
    classes = []
    if value in ("holds", "fails", "inconclusive"):
        classes.append(value)
    elif value.startswith("inconclusive") or value.endswith("n.s.") or "(n.s.)" in value:
        classes.append("ns")
    if len(value) > 60:
        classes.append("wrap")
    return "".join(f" {c}" for c in classes)


def render_page(context: dict[str, Any]) -> str:
    """The HTML text of ``templates/report.html`` for ``context`` (autoescaped)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["mark"] = cell_mark
    return env.get_template("report.html").render(**context)


def write_page(path: Path, data: ReportData, tables: list[Table], files: dict[str, dict[str, Path]],
               figures: list[FigureFile], samples: list[SampleSet], per_run: pd.DataFrame | None = None) -> Path:
    """Render the page and write it to ``path`` (atomically: temporary file, then rename)."""
    text = render_page(page_context(data, tables, files, figures, samples, per_run))
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
