"""Tables that say whether differences are larger than the noise: pairwise significance of best FID over seeds,
a ranking with ties, and the held-out best step (how optimistic the paper's rule is).

Every test is Welch's t over the seeds of two rows (:mod:`bench.report.stats`), within one dataset, protocol
and extractor; a difference is called only when p < 0.05, everything else is *inconclusive* and marked so.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from bench.report.load import ReportData
from bench.report.stats import ALPHA, Comparison, ranks_with_ties, welch
from bench.report.summary import GROUP_AXES, dataset_name
from bench.report.tables import DASH, Table, fmt, measured, slugify

NOT_SIGNIFICANT = "n.s."


def seed_values(per_run: pd.DataFrame, group: str, protocol: str, extractor: str, column: str) -> list[float]:
    """The per-seed values of ``column`` of one group under a protocol and extractor."""
    sel = (per_run["group"] == group) & (per_run["protocol"] == protocol) & (per_run["extractor"] == extractor)
    return [float(v) for v in per_run.loc[sel, column] if pd.notna(v)]


def verdict_words(c: Comparison, a: str, b: str) -> str:
    """``A < B`` when significant, else ``inconclusive (reason)``."""
    words = c.verdict
    if words == "a lower":
        return f"{a} < {b}"
    if words == "b lower":
        return f"{b} < {a}"
    reason = words.removeprefix("inconclusive ").strip("()") if words.startswith("inconclusive") else (
        f"p ≥ {ALPHA:g}")
    return f"inconclusive ({reason})"


def fmt_p(c: Comparison) -> str:
    if not np.isfinite(c.p):
        return DASH
    text = f"{c.p:.3f}" if c.p >= 0.001 else "<0.001"
    return text if c.significant else f"{text} {NOT_SIGNIFICANT}"


def significance_tables(data: ReportData, groups: pd.DataFrame, per_run: pd.DataFrame) -> list[Table]:
    """Per protocol and extractor: every pair of rows of a dataset compared on best FID, and the ranking."""
    tables = []
    for (protocol, extractor), g in groups.groupby(["protocol", "extractor"], sort=False):
        pair_rows, pair_numbers, rank_rows, rank_numbers = [], [], [], []
        for dataset, d in g.groupby("dataset", sort=False):
            d = d.sort_values("group_order")
            values = {row.group: seed_values(per_run, row.group, protocol, extractor, "fid_best")
                      for row in d.itertuples()}
            labels = dict(zip(d["group"], d["group_short"], strict=True))
            for a, b in itertools.combinations(d["group"], 2):
                c = welch(values[a], values[b])
                interval = DASH if not np.isfinite(c.diff_lo) else f"[{c.diff_lo:+.2f}, {c.diff_hi:+.2f}]"
                pair_rows.append([dataset_name(dataset), labels[a], labels[b], fmt(c.mean_a), fmt(c.mean_b),
                                  f"{c.diff:+.2f}" if np.isfinite(c.diff) else DASH, interval, fmt_p(c),
                                  fmt(c.hedges_g), f"{c.n_a} / {c.n_b}", verdict_words(c, "A", "B")])
                pair_numbers.append({"dataset": dataset, "a": labels[a], "b": labels[b], "mean_a": c.mean_a,
                                     "mean_b": c.mean_b, "diff": c.diff, "diff_lo": c.diff_lo, "diff_hi": c.diff_hi,
                                     "p": c.p, "hedges_g": c.hedges_g, "n_a": c.n_a, "n_b": c.n_b,
                                     "significant": c.significant, "verdict": c.verdict})
            ranks = ranks_with_ties(values)
            shared = pd.Series(ranks).value_counts()
            ordered = sorted((row for _, row in d.iterrows()), key=lambda r: (ranks[r["group"]], r["fid_best_mean"]))
            for row in ordered:
                rank = ranks[row["group"]]
                tied = [labels[o] for o in d["group"] if o != row["group"] and ranks[o] == rank]
                rank_rows.append([dataset_name(dataset), f"{rank}{'=' if shared[rank] > 1 else ''}",
                                  labels[row["group"]], measured(row, "fid_best"), str(row["seeds"]),
                                  ", ".join(tied) or DASH])
                rank_numbers.append({"dataset": dataset, "rank": rank, "cell": labels[row["group"]],
                                     "fid_best_mean": row["fid_best_mean"], "fid_best_ci": row["fid_best_ci"],
                                     "seeds": row["seeds"], "tied_with": "; ".join(tied)})
        where = f"protocol {protocol}, features {extractor}"
        if pair_rows:
            tables.append(Table(
                slug=slugify("significance", protocol, extractor),
                title=f"Pairwise differences in best FID ({protocol})",
                caption=(f"Each pair of rows of a dataset ({where}): mean best FID of A and of B over their seeds, "
                         f"Δ = A − B with its 95% Welch interval, Welch's t-test p-value (two-sided), Hedges' g and "
                         f"the seeds on each side. A difference is called only when p < {ALPHA:g}; "
                         f"'{NOT_SIGNIFICANT}' marks p-values at or above it, and such pairs are inconclusive: they "
                         f"cannot be told apart at this scale and seed count."),
                columns=[("Dataset", "l"), ("A", "l"), ("B", "l"), ("FID↓ A", "r"), ("FID↓ B", "r"), ("Δ", "r"),
                         ("95% CI of Δ", "r"), ("p", "r"), ("Hedges' g", "r"), ("Seeds A / B", "r"),
                         ("Verdict", "l")],
                rows=pair_rows, numeric=pd.DataFrame(pair_numbers), protocol=protocol, extractor=extractor))
            tables.append(Table(
                slug=slugify("ranking", protocol, extractor), title=f"Ranking by best FID, with ties ({protocol})",
                caption=(f"Rank = 1 + the number of rows of the dataset with a significantly lower best FID "
                         f"(Welch, p < {ALPHA:g}; {where}); rows that cannot be told apart share a rank (marked =). "
                         f"FID: mean ± 95% t-interval over seeds."),
                columns=[("Dataset", "l"), ("Rank", "r"), ("Cell", "l"), ("FID↓ best", "r"), ("Seeds", "r"),
                         ("Tied with", "l")],
                rows=rank_rows, numeric=pd.DataFrame(rank_numbers), protocol=protocol, extractor=extractor))
    return tables


def heldout_tables(data: ReportData, groups: pd.DataFrame) -> list[Table]:
    """Per protocol and extractor: the paper's best-step rule beside the held-out one (see summary.held_out)."""
    tables = []
    for (protocol, extractor), g in groups.groupby(["protocol", "extractor"], sort=False):
        if "fid_heldout_mean" not in g or g["fid_heldout_mean"].isna().all():
            continue
        g = g.sort_values("group_order")
        rows = [[row["group_label"], measured(row, "best_step"), measured(row, "fid_best"),
                 measured(row, "heldout_step"), measured(row, "fid_heldout"), measured(row, "fid_half_b_min"),
                 measured(row, "optimism"), measured(row, "coverage_heldout", 3), measured(row, "diversity_heldout"),
                 measured(row, "collapsed_heldout"), measured(row, "cond_acc_heldout", 3), str(row["seeds"])]
                for _, row in g.iterrows()]
        numbers = [f"{m}_{s}" for m in ("best_step", "fid_best", "heldout_step", "fid_heldout", "fid_half_b_min",
                                        "optimism", "coverage_heldout", "diversity_heldout", "collapsed_heldout",
                                        "cond_acc_heldout") for s in ("mean", "ci")]
        numeric = g[["group_label", *GROUP_AXES, "seeds", *numbers]].rename(columns={"group_label": "Cell"})
        tables.append(Table(
            slug=slugify("heldout", protocol, extractor), title=f"Best step chosen on held-out data ({protocol})",
            caption=(f"Protocol {protocol}, features {extractor}. The paper's rule picks the step with the lowest FID "
                     "on the evaluation set and reports that FID (columns 2–3). Held out: the reference is split in "
                     "two halves (alternate images within each class); the step is chosen on half A and its FID "
                     "against half B is reported (columns 4–5). Half B at its own best step (column 6) is the paper's "
                     "rule on the same half; the optimism (column 7, ≥ 0) is what choosing on the evaluation set "
                     "gains by luck. Half-reference FIDs are higher than full-reference ones (fewer real images); "
                     "compare columns 5–7 with each other. At the step chosen on half A: half B's coverage and "
                     "diversity, its collapse verdict (share of seeds collapsed on half B) and the conditional "
                     "accuracy (columns 8–11); the step is chosen among the evaluations not collapsed on half A. "
                     "Mean ± 95% t-interval over seeds."),
            columns=[("Cell", "l"), ("Best step (eval set)", "r"), ("FID↓ best (eval set)", "r"),
                     ("Step chosen on half A", "r"), ("FID↓ half B there", "r"), ("FID↓ half B, own best", "r"),
                     ("Optimism", "r"), ("Coverage↑ half B", "r"), ("Diversity↑ half B", "r"),
                     ("Collapsed half B", "r"), ("Cond. accuracy↑", "r"), ("Seeds", "r")],
            rows=rows, numeric=numeric.reset_index(drop=True), protocol=protocol, extractor=extractor))
    return tables
