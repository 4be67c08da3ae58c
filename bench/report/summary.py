"""The numbers a report shows: each run's best and last evaluation per protocol, and their mean, std and 95%
t-interval over seeds (:mod:`bench.report.stats`).

Best step = the evaluation with the lowest FID under a protocol and extractor among the evaluations that are not
collapsed (:mod:`bench.metrics.collapse`; the lowest FID overall when every evaluation is collapsed, and then
``collapsed`` at the best step says so), IS and every other metric taken at that step. Without collapse this is the
paper's rule (upstream ``ModelCheckpoint(monitor='fid', mode='min')``: the best is chosen on the evaluation set
itself). Last = the evaluation at the highest step. Evaluations made during training
(source ``train``) are used when a protocol has any; otherwise ``bench eval``'s ``eval:best`` / ``eval:latest``.

Final measurement: a run with ``final_fakes`` (the paper scale: 50,000) measures its best and last checkpoints again
after its last step (sources ``final:best``, ``final:last``); those rows then give the best and last values (the
best step stays the one the monitoring evaluations picked), so headline numbers come from the larger sample.

Held-out best step: the step with the lowest FID against half A of the reference (``fid_half_a``), reported by
its FID against half B (``fid_heldout``) and half B's coverage, diversity and collapse verdict there
(``coverage_heldout``, ``diversity_heldout``, ``collapsed_heldout``; ``cond_acc_heldout``, which needs no reference),
healthy evaluations first as above, by the verdict on half A (``collapsed_half_a``; the whole reference's for runs
written before bench measured the halves' health);
``fid_half_b_min`` is half B's own minimum (the paper's rule on the
same half), so ``optimism`` = fid_heldout − fid_half_b_min ≥ 0 is what picking the step on the evaluation set
gains by luck.
"""

from __future__ import annotations

import json

import pandas as pd

from bench.config import GROUP_COLUMNS
from bench.metrics.collapse import selection_key
from bench.metrics.halves import HALF_HEALTH_COLUMNS
from bench.metrics.summary_names import (  # the per-run numbers (a leaf: grid files' claims name them)
    DETAIL_METRICS,
    HELDOUT_METRICS,
    INTERVAL_METRICS,
    SUMMARY_METRICS,
)
from bench.report.load import PAPER_KEYS, ReportData
from bench.report.stats import t_halfwidth

EVAL_KEYS = ["cell", "protocol", "extractor"]
POINT_INDEX = [*EVAL_KEYS, "reference", "label_mix", "source", "step"]
GROUP_AXES = list(GROUP_COLUMNS)  # the option table's grouping (bench.config): cells differing only by seed group

AID_NAMES = {"lecam": "LeCam", "diffaug": "DiffAugment", "none": "none"}
DATASET_NAMES = {"cifar10_lt": "CIFAR10_LT", "fashion_mnist_lt": "FashionMNIST_LT", "places_lt": "Places_LT",
                 "digits_lt": "Digits_LT", "cifar10": "CIFAR10", "fashion_mnist": "FashionMNIST"}


def method_name(method: str) -> str:
    """The name a method's class gives itself (``Method.display_name``: 2C for contragan, D2D-CE for reacgan ...);
    a method no longer registered here is its name upper-cased."""
    from bench.methods import METHODS

    return METHODS.entries[method].paper_name() if method in METHODS else method.upper()


def aid_name(value: str) -> str:
    """A training aid's name in the literature (LeCam, DiffAugment), else the value."""
    return AID_NAMES.get(value, value)


def dataset_name(dataset: str) -> str:
    """The paper's spelling of a dataset (CIFAR10_LT ...), else the registered name."""
    return DATASET_NAMES.get(dataset, dataset)


def eval_points(tidy: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows to one row per evaluation (cell, protocol, extractor, reference, label_mix, source, step) with
    one column per metric; a metric written twice for the same evaluation keeps its last value."""
    metrics = list(dict.fromkeys(tidy["metric"]))
    wide = tidy.groupby([*POINT_INDEX, "metric"], sort=False)["value"].last().unstack("metric")
    wide = wide.reindex(columns=metrics).reset_index()
    wide.columns.name = None
    for col in ("fid", "is_mean", *DETAIL_METRICS, *INTERVAL_METRICS, "fid_half_a", "fid_half_b", *HALF_HEALTH_COLUMNS,
                "n_real", "n_fake"):
        if col not in wide.columns:
            wide[col] = float("nan")
    return wide.sort_values([*EVAL_KEYS, "source", "step"], kind="stable").reset_index(drop=True)


def best_and_last(points: pd.DataFrame) -> pd.DataFrame:
    """One row per (cell, protocol, extractor): best_step, fid_best, is_best, the DETAIL_METRICS at the best
    step, last_step, fid_last, is_last, plus best_source (the ``source`` the best came from), reference,
    label_mix, n_real and n_fake of the best evaluation."""
    has_train = points.assign(is_train=points["source"] == "train").groupby(EVAL_KEYS)["is_train"].transform("any")
    train = points[(points["source"] == "train") & has_train]
    posthoc = points[~has_train]
    best = first_by_selection(train.dropna(subset=["fid"]), "fid")
    last = train.drop_duplicates(EVAL_KEYS, keep="last")
    best = pd.concat([best, posthoc[posthoc["source"] == "eval:best"].drop_duplicates(EVAL_KEYS, keep="last")])
    last = pd.concat([last, posthoc[posthoc["source"] == "eval:latest"].drop_duplicates(EVAL_KEYS, keep="last")])
    best = best.rename(columns={"step": "best_step", "fid": "fid_best", "is_mean": "is_best",
                                "source": "best_source"})
    best = best[[*EVAL_KEYS, "reference", "label_mix", "best_source", "best_step", "fid_best", "is_best",
                 *DETAIL_METRICS, *INTERVAL_METRICS, "n_real", "n_fake"]]
    last = last.rename(columns={"step": "last_step", "fid": "fid_last", "is_mean": "is_last"})
    last = last[[*EVAL_KEYS, "last_step", "fid_last", "is_last"]]
    merged = best.merge(last, on=EVAL_KEYS, how="outer").merge(held_out(train), on=EVAL_KEYS, how="left")
    return merged.sort_values(EVAL_KEYS).reset_index(drop=True)


def first_by_selection(points: pd.DataFrame, fid: str, verdict: str = "collapsed") -> pd.DataFrame:
    """Per (cell, protocol, extractor) the evaluation :func:`bench.metrics.collapse.selection_key` puts first: not
    collapsed (column ``verdict``) before collapsed (evaluations without a verdict count as not collapsed), then the
    lowest ``fid``, then the earliest step."""
    collapsed = points[verdict].fillna(0) if verdict in points else pd.Series(0, index=points.index)
    keys = [selection_key(f, c) for f, c in zip(points[fid], collapsed, strict=True)]
    ordered = points.assign(_key=keys).sort_values("_key", kind="stable")
    return ordered.drop_duplicates(EVAL_KEYS, keep="first").drop(columns="_key").sort_index()


FINAL_BEST, FINAL_LAST = "final:best", "final:last"


def with_final_measurements(per_run: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """``per_run`` (from :func:`best_and_last`) with the values of each run's final measurement where it has one:
    ``final:best`` gives best_step, fid_best, is_best, the DETAIL_METRICS, the intervals, n_real, n_fake and
    best_source; ``final:last`` gives last_step, fid_last, is_last (every value, NaN included: nothing is mixed)."""
    out = per_run.set_index(EVAL_KEYS)
    for source, renames in ((FINAL_BEST, {"step": "best_step", "fid": "fid_best", "is_mean": "is_best",
                                          "source": "best_source", "n_real": "n_real", "n_fake": "n_fake",
                                          **{m: m for m in (*DETAIL_METRICS, *INTERVAL_METRICS)}}),
                            (FINAL_LAST, {"step": "last_step", "fid": "fid_last", "is_mean": "is_last"})):
        final = points[points["source"] == source].drop_duplicates(EVAL_KEYS, keep="last").set_index(EVAL_KEYS)
        common = final.index.intersection(out.index)
        if len(common):
            out.loc[common, list(renames.values())] = final.loc[common, list(renames)].to_numpy()
    return out.reset_index()


def held_out(train: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, protocol, extractor): heldout_step (min ``fid_half_a`` among evaluations healthy on half A),
    fid_heldout (``fid_half_b`` there) with half B's coverage, diversity and verdict and the conditional accuracy
    there, fid_half_b_min and optimism = fid_heldout − fid_half_b_min (see the module docstring)."""
    scored = train.dropna(subset=["fid_half_a", "fid_half_b"])
    if scored.empty:
        return pd.DataFrame(columns=[*EVAL_KEYS, *HELDOUT_METRICS])
    verdict = "collapsed_half_a" if "collapsed_half_a" in scored and scored["collapsed_half_a"].notna().any() \
        else "collapsed"
    at_b = {"step": "heldout_step", "fid_half_b": "fid_heldout", "coverage_half_b": "coverage_heldout",
            "diversity_half_b": "diversity_heldout", "collapsed_half_b": "collapsed_heldout",
            "cond_acc": "cond_acc_heldout"}
    chosen = first_by_selection(scored, "fid_half_a", verdict)[[*EVAL_KEYS, *at_b]].rename(columns=at_b)
    own = scored.groupby(EVAL_KEYS)["fid_half_b"].min().rename("fid_half_b_min").reset_index()
    out = chosen.merge(own, on=EVAL_KEYS)
    out["optimism"] = out["fid_heldout"] - out["fid_half_b_min"]
    return out


def group_key(cells: pd.DataFrame) -> pd.Series:
    """A cell's group: its axes except the seed, as one string (cells of one group differ only by seed)."""
    return cells[GROUP_AXES].astype(str).agg("|".join, axis=1)


def varying_axes(cells: pd.DataFrame) -> list[str]:
    """The GROUP_AXES that take more than one value among ``cells``."""
    return [a for a in GROUP_AXES if cells[a].astype(str).nunique() > 1]


GROUP_TEXT = {
    "dataset": dataset_name,
    "sampling": lambda v: f"sampling {v}",
    "quirks": lambda v: f"quirks {v}",
    "backbone": lambda v: v or None,
    "g_cond": lambda v: f"G {v or 'paper'}",
    "regularizer": lambda v: aid_name(v) if v not in ("", "none") else None,
    "augment": lambda v: aid_name(v) if v not in ("", "none") else None,
    "options": lambda v: ", ".join(f"{k}={json.dumps(x)}" for k, x in json.loads(v).items()) if v != "{}" else None,
}
"""How a varying axis reads in a group's name; an axis not named here reads ``<column> <value>``."""


def group_label(row: pd.Series, axes: list[str]) -> str:
    """A short name for a group: the method's paper name, then the values of the other axes that vary, in the option
    table's order (:data:`GROUP_TEXT`)."""
    parts = [method_name(row["method"])]
    for axis in axes:
        if axis != "method":
            parts.append(GROUP_TEXT.get(axis, lambda v, a=axis: f"{a} {v}")(str(row[axis])))
    return " · ".join(p for p in parts if p)


def with_groups(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` plus ``group`` (key), ``group_order`` (first grid position), ``group_label`` and
    ``group_short`` (the label without the dataset, for figures of one dataset) columns."""
    cells = cells.copy()
    cells["group"] = group_key(cells)
    cells["group_order"] = cells.groupby("group")["order"].transform("min")
    axes = varying_axes(cells)
    short = [a for a in axes if a != "dataset"]
    cells["group_label"] = [group_label(row, axes) for _, row in cells.iterrows()]
    cells["group_short"] = [group_label(row, short) for _, row in cells.iterrows()]
    return cells


def summarize(data: ReportData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Compute the report's numbers.

    Returns:
        points: one row per evaluation (``eval_points``) with the cell's group columns.
        per_run: one row per (cell, protocol, extractor) (``best_and_last``) with the group columns.
        groups: one row per (group, protocol, extractor): the group's axes and paper numbers, ``seeds`` (runs
            with metrics), ``unfinished`` (runs not in state done), ``<m>_mean`` / ``<m>_std`` / ``<m>_ci`` for
            each of SUMMARY_METRICS (std over seeds, ddof 1, and the half-width of the 95% t-interval; NaN for
            one seed), reference, label_mix, n_real, n_fake.
    """
    cells = with_groups(data.cells)
    cols = ["cell", "group", "group_order", "group_label", "group_short", "dataset", "seed", "state"]
    points = eval_points(data.tidy).merge(cells[cols], on="cell", how="left")
    evaluations = points.drop(columns=cols[1:])
    per_run = with_final_measurements(best_and_last(evaluations), evaluations).merge(cells[cols], on="cell",
                                                                                     how="left")
    keys = ["group", "protocol", "extractor"]
    stats = per_run.groupby(keys, sort=False)[list(SUMMARY_METRICS)].agg(["mean", "std", ("ci", t_halfwidth)])
    stats.columns = [f"{m}_{s}" for m, s in stats.columns]
    counts = per_run.assign(unfinished=per_run["state"] != "done").groupby(keys, sort=False).agg(
        seeds=("cell", "nunique"), unfinished=("unfinished", "sum"),
        reference=("reference", "first"), label_mix=("label_mix", "first"),
        n_real=("n_real", "max"), n_fake=("n_fake", "max"))
    first = cells.sort_values("order").drop_duplicates("group")
    info = first[["group", "group_order", "group_label", "group_short", *GROUP_AXES,
                  *(f"paper_{k}" for k in PAPER_KEYS)]]
    groups = counts.join(stats).reset_index().merge(info, on="group", how="left")
    groups = groups.sort_values(["protocol", "extractor", "group_order"], kind="stable").reset_index(drop=True)
    return points, per_run, groups
