"""Figures (PNG, matplotlib's Agg canvas, seaborn): per dataset, protocol and extractor

* ``curves-*``: FID and IS against step for every cell, the kind of the paper's figure 5;
* ``conditioning-*``: conditional accuracy (with the judge's own accuracy on real images, its ceiling, dashed),
  D's accuracy on the fakes, G's label sensitivity and the intra-class diversity ratio (with the collapse threshold)
  against step: does each generator follow its labels without drawing one image per class?
* ``minority-*``: per-class FID and conditional accuracy against the class's training count (log x) at each
  run's best step, to show where each method fails on the tail;
* ``headtail-*``: FID on the head and on the tail classes at the best step, as bars;
* ``classes-*``: the training count of each class of a long-tailed set (log scale), under the ``ecogan`` and the
  ``exponential`` profile (the seed's figure (b)), the profile the runs used marked;
* ``width-*``: for a grid that varies the width divisor ``div``, FID and IS against step per width, and the best
  FID of each width (mean ± 95% t-interval over seeds);
* ``tail-*``: each cell's sample grid cut down to its tail classes (:mod:`bench.report.samples`).

Several seeds of a cell are drawn as their mean with a ± std band (whiskers on bars). Figures are built on
``matplotlib.figure.Figure`` with an Agg canvas, never through pyplot, so no display is needed and no global
backend is switched.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from bench.metrics.collapse import DIVERSITY_MIN
from bench.report.load import ReportData
from bench.report.samples import tail_sample_figures
from bench.report.stats import t_halfwidth
from bench.report.summary import dataset_name
from bench.report.tables import slugify

DPI = 96
HUE = "group_short"


@dataclass
class FigureFile:
    """A written figure and the words the HTML page puts under it."""

    path: Path
    section: str  # data | curves | conditioning | minority | width | tail-samples
    title: str
    caption: str


def make_palette(labels: list[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per label, stable across every figure of a report (tab10, then husl beyond ten)."""
    colors = sns.color_palette("tab10" if len(labels) <= 10 else "husl", n_colors=len(labels))
    return dict(zip(labels, colors, strict=True))


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG through an Agg canvas."""
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def shared_legend(fig: Figure, axes: list, n: int) -> None:
    """Move the first axis' legend below the figure, and drop the others."""
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(n, 3), frameon=False)


def unmeasured(ax, name: str) -> None:
    ax.text(0.5, 0.5, f"{name}: not measured", ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def log_axis(ax, values: pd.Series) -> None:
    """A log x axis labelled with plain numbers: at each distinct value when there are few (class counts)."""
    ax.set_xscale("log")
    distinct = sorted(set(values.dropna()))
    if len(distinct) <= 12:
        ax.set_xticks(distinct)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def lines(frame: pd.DataFrame, x: str, panels: list[tuple[str, str]], palette: dict, title: str,
          log_x: bool = False) -> Figure:
    """One panel per (column, axis label): ``column`` against ``x``, a line per HUE value (mean ± std band)."""
    fig = Figure(figsize=(5.2 * len(panels), 3.8), layout="constrained")
    axes = list(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, (col, name) in zip(axes, panels, strict=True):
        sub = frame.dropna(subset=[col])
        if sub.empty:
            unmeasured(ax, name)
            continue
        sns.lineplot(data=sub, x=x, y=col, hue=HUE, palette=palette, hue_order=[h for h in palette if h in
                     set(sub[HUE])], errorbar="sd", marker="o", markersize=4, ax=ax)
        ax.set_ylabel(name)
        if log_x:
            log_axis(ax, sub[x])
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    shared_legend(fig, axes, frame[HUE].nunique())
    return fig


def ceiling(fig: Figure, frame: pd.DataFrame) -> None:
    """Draw the judge's accuracy on real images (``judge_acc``, the same for every cell of a dataset) as a dashed
    line on the conditional-accuracy panel, and chance (1 / C) as a dotted one."""
    ax = fig.axes[0]
    judge = frame["judge_acc"].dropna() if "judge_acc" in frame else pd.Series(dtype=float)
    if len(judge):
        ax.axhline(float(judge.mean()), color="0.3", linestyle="--", linewidth=1)
        ax.annotate(f"judge on real images {judge.mean():.2f}", (0.01, float(judge.mean())),
                    xycoords=("axes fraction", "data"), va="bottom", fontsize=8, color="0.3")
    ax.set_ylim(0, 1.02)


def diversity_floor(fig: Figure) -> None:
    """Draw the collapse rule's diversity threshold and the data's own level (1) on the diversity panel."""
    ax = fig.axes[3]
    if ax.has_data():
        ax.axhline(DIVERSITY_MIN, color="0.3", linestyle="--", linewidth=1)
        ax.annotate(f"collapse below {DIVERSITY_MIN}", (0.01, DIVERSITY_MIN), xycoords=("axes fraction", "data"),
                    va="bottom", fontsize=8, color="0.3")
        ax.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
        ax.set_ylim(bottom=0)


def head_tail_bars(best: pd.DataFrame, palette: dict, title: str) -> Figure:
    """FID on head and tail classes per cell at its best step (bars = mean over seeds, whiskers = ± std)."""
    long = best.melt(id_vars=[HUE], value_vars=["fid_head", "fid_tail"], var_name="classes", value_name="FID")
    long["classes"] = long["classes"].map({"fid_head": "head", "fid_tail": "tail"})
    order = [h for h in palette if h in set(long[HUE])]
    fig = Figure(figsize=(max(5.0, 1.3 * len(order) + 2), 3.8), layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=long.dropna(subset=["FID"]), x=HUE, y="FID", hue="classes", order=order,
                palette={"head": "0.65", "tail": "tab:red"}, errorbar="sd", ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("FID (lower is better)")
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=11)
    return fig


def finite(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ±inf (an FID on too few samples) as NaN, so that axes keep finite limits."""
    numeric = frame.select_dtypes("number").columns
    return frame.assign(**{c: frame[c].where(np.isfinite(frame[c])) for c in numeric})


def profile_counts(counts: list[int]) -> dict[str, list[int]]:
    """A long-tailed set's counts under both long-tail profiles, from the counts a run trained on: the source is
    taken as balanced with n = the largest count per class (class 0 keeps all its images under both rules), the
    exponential ratio as the set's own imbalance n_max / n_min."""
    from bench.datasets.longtail import longtail_counts

    base = [max(counts)] * len(counts)
    ratio = max(counts) / max(min(counts), 1)
    return {"ecogan": longtail_counts("ecogan", base),
            "exponential": longtail_counts("exponential", base, ratio if ratio > 1 else 2.0)}


def class_distribution(dataset: str, counts: list[int], names: list[str]) -> tuple[Figure, str]:
    """Bars of training images per class (log y) under both profiles; returns the figure and the profile the
    runs used ("its own" when it is neither)."""
    profiles = profile_counts(counts)
    used = next((name for name, c in profiles.items() if c == counts), None)
    labels = [names[i] if i < len(names) else str(i) for i in range(len(counts))]
    frame = pd.DataFrame([{"class": labels[i], "profile": name + (" (used)" if name == used else ""), "images": n}
                          for name, c in profiles.items() for i, n in enumerate(c)])
    if used is None:
        frame = pd.concat([frame, pd.DataFrame({"class": labels, "profile": "as trained",
                                                "images": counts})])
    fig = Figure(figsize=(max(5.5, 0.45 * len(counts) + 2), 3.6), layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=frame, x="class", y="images", hue="profile", ax=ax, palette="muted")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    within_a_decade = frame["images"].max() < 10 * max(frame["images"].min(), 1)  # else minor labels crowd
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}") if within_a_decade else NullFormatter())
    ax.legend(title="profile", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_xlabel("class")
    ax.set_ylabel("training images (log scale)")
    ax.tick_params(axis="x", labelrotation=45 if len(counts) > 10 else 0)
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Class distribution — {dataset_name(dataset)}", fontsize=11)
    return fig, used or "its own"


def width_figure(train: pd.DataFrame, best: pd.DataFrame, title: str) -> Figure:
    """FID and IS against step per width divisor, and best FID against the divisor (mean ± 95% t-interval)."""
    fig = Figure(figsize=(15.6, 3.8), layout="constrained")
    axes = list(fig.subplots(1, 3))
    train = train.assign(width=train["div"].map(lambda d: f"div{d:g}"))
    order = [f"div{d:g}" for d in sorted(train["div"].unique())]
    palette = dict(zip(order, sns.color_palette("viridis", n_colors=len(order)), strict=True))
    for ax, (col, name) in zip(axes[:2], [("fid", "FID (lower is better)"), ("is_mean", "IS (higher is better)")],
                               strict=True):
        sub = train.dropna(subset=[col])
        if sub.empty:
            unmeasured(ax, name)
            continue
        sns.lineplot(data=sub, x="step", y=col, hue="width", hue_order=order, palette=palette, errorbar="sd",
                     marker="o", markersize=4, ax=ax)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    summary = best.groupby("div")["fid_best"].agg(["mean", t_halfwidth]).reset_index()
    axes[2].errorbar(summary["div"], summary["mean"], yerr=summary["t_halfwidth"].fillna(0), marker="o", capsize=3)
    axes[2].set_xlabel("width divisor (div)")
    axes[2].set_ylabel("best FID (lower is better)")
    axes[2].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[2].grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    return fig


def cell_divisors(data: ReportData) -> pd.Series:
    """cell -> its ``div`` method option (cells without one left out)."""
    import json

    divs = {row.cell: json.loads(row.options).get("div") for row in data.cells.itertuples()}
    return pd.Series({c: float(d) for c, d in divs.items() if isinstance(d, int | float)}, dtype=float)


def data_figures(data: ReportData, out_dir: Path) -> list[FigureFile]:
    """The class-distribution figure of each long-tailed dataset of the report (counts from config.json)."""
    out, seen = [], set()
    for cell, run in data.runs.items():
        info = run.config.get("data") or {}
        counts = info.get("class_counts")
        dataset = data.cells.loc[data.cells["cell"] == cell, "dataset"]
        if not counts or dataset.empty or dataset.iloc[0] in seen or len(set(counts)) < 2:
            continue
        dataset = dataset.iloc[0]
        seen.add(dataset)
        fig, used = class_distribution(dataset, [int(c) for c in counts], list(info.get("class_names") or []))
        out.append(FigureFile(save(fig, out_dir / f"classes-{slugify(dataset)}.png"), "data", dataset_name(dataset),
                              f"Training images per class of {dataset_name(dataset)} (log scale; {sum(counts):,} in "
                              f"all, imbalance {max(counts) / max(min(counts), 1):.0f}:1). Its runs used the "
                              f"{used} profile; the other bars show the same set under the other long-tail rule "
                              f"(ecogan: class c keeps 100·c images; exponential: n_max·ρ^(−c/(C−1)))."))
    return out


def render_figures(points: pd.DataFrame, per_run: pd.DataFrame, per_class: pd.DataFrame,
                   out_dir: Path, data: ReportData | None = None) -> list[FigureFile]:
    """Write every figure into ``out_dir`` and describe them.

    Args:
        points: evaluations with ``dataset`` and HUE columns (``summary.summarize``'s first frame).
        per_run: best and last per run with ``dataset`` and HUE columns (its second frame).
        per_class: the run folders' per_class.csv rows (with ``cell``).
        out_dir: ``reports/<key>/figures``.
        data: the loaded results, for the class-distribution, width and tail-sample figures (None: without them).
    """
    palette = make_palette(list(dict.fromkeys(per_run.sort_values("group_order")[HUE])))
    at_best = per_class.merge(per_run[["cell", "protocol", "extractor", "best_source", "best_step", "dataset", HUE]],
                              left_on=["cell", "protocol", "extractor", "source", "step"],
                              right_on=["cell", "protocol", "extractor", "best_source", "best_step"])
    for col in ("train_count", "fid", "cond_acc"):
        at_best[col] = pd.to_numeric(at_best[col], errors="coerce")
    points, per_run, at_best = (finite(f) for f in (points, per_run, at_best))
    out = data_figures(data, out_dir) if data is not None else []
    divisors = cell_divisors(data) if data is not None else pd.Series(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # seaborn's palette-length notes on partial hues
        for (dataset, protocol, extractor), runs in per_run.groupby(["dataset", "protocol", "extractor"], sort=False):
            where = f"{dataset_name(dataset)}: {protocol} protocol, {extractor} features"
            stem = slugify(dataset, protocol, extractor)
            sel = (points["dataset"] == dataset) & (points["protocol"] == protocol) & (points["extractor"] == extractor)
            train = points[sel & (points["source"] == "train")]
            if len(train):
                fig = lines(train, "step", [("fid", "FID (lower is better)"), ("is_mean", "IS (higher is better)")],
                            palette, f"FID and IS against step — {where}")
                out.append(FigureFile(save(fig, out_dir / f"curves-{stem}.png"), "curves", where,
                                      f"FID and IS against step (iterations) for every cell on "
                                      f"{dataset_name(dataset)}; lines = mean over seeds, bands = ± std "
                                      f"(the paper's figure 5)."))
            if len(train) and "cond_acc" in train and train["cond_acc"].notna().any():
                fig = lines(train, "step", [("cond_acc", "conditional accuracy (higher is better)"),
                                            ("d_acc_fake", "D's accuracy on the fakes"),
                                            ("label_sens", "label sensitivity"),
                                            ("diversity", "intra-class diversity (1 = the data's)")],
                            palette, f"Does G follow its labels, without collapsing? — {where}")
                ceiling(fig, train)
                diversity_floor(fig)
                out.append(FigureFile(save(fig, out_dir / f"conditioning-{stem}.png"), "conditioning", where,
                                      "Left: the share of each class's fakes that the reference classifier (the judge) "
                                      "assigns to that class, against step; dashed: the judge's own accuracy on real "
                                      "images it never trained on (the ceiling). Middle: D's own class view of the "
                                      "fakes (nearest proxy, class head or best label). Third: ‖G(z,y)−G(z,y′)‖ over "
                                      "‖G(z,y)−G(z′,y)‖; near 0, G ignores its labels; far above the data's own "
                                      "spread, z barely moves the image. Right: the intra-class diversity ratio "
                                      "(the fakes' RMS pairwise feature distance over the real images', per class, "
                                      "averaged); dashed: the collapse threshold. A generator that draws one image "
                                      "per class reaches high accuracy with diversity near 0."))
            classes = at_best[(at_best["dataset"] == dataset) & (at_best["protocol"] == protocol)
                              & (at_best["extractor"] == extractor)].sort_values("train_count")
            if len(classes):
                fig = lines(classes, "train_count", [("fid", "per-class FID (lower is better)"),
                                                     ("cond_acc", "conditional accuracy (higher is better)")],
                            palette, f"Per class at the best step — {where}", log_x=True)
                for ax in fig.axes:
                    if ax.get_xlabel():
                        ax.set_xlabel("training images of the class (log scale)")
                out.append(FigureFile(save(fig, out_dir / f"minority-{stem}.png"), "minority", where,
                                      "Per-class FID and conditional accuracy against the class's training count "
                                      "(log scale; the tail is on the left), at each run's best step; classes of "
                                      "equal count and seeds are averaged (band = ± std)."))
            if divisors.size and train["cell"].isin(divisors.index).any():
                wide = train[train["cell"].isin(divisors.index)].assign(div=lambda f: f["cell"].map(divisors))
                best = runs[runs["cell"].isin(divisors.index)].assign(div=lambda f: f["cell"].map(divisors))
                fig = width_figure(wide, best, f"Width study — {where}")
                out.append(FigureFile(save(fig, out_dir / f"width-{stem}.png"), "width", where,
                                      "FID and IS against step for each width divisor (lines = mean over seeds, "
                                      "bands = ± std), and each width's best FID (mean ± 95% t-interval over seeds); "
                                      "the paper's figure 6."))
            ht = runs.dropna(subset=["fid_head", "fid_tail"], how="all")
            if len(ht):
                fig = head_tail_bars(ht, palette, f"Head vs tail FID at the best step — {where}")
                out.append(FigureFile(save(fig, out_dir / f"headtail-{stem}.png"), "minority", where,
                                      "FID on the head and on the tail classes at each run's best step "
                                      "(bars = mean over seeds, whiskers = ± std)."))
    if data is not None:
        out += [FigureFile(path, "tail-samples", title, caption)
                for path, title, caption in tail_sample_figures(data, per_run, out_dir)]
    return out
