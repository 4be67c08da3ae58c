"""Comparison tables in the paper's layouts, one per protocol and extractor, written as CSV, Markdown and LaTeX.

Layouts, chosen by the grid's name:
  * ``table1``: the paper's Table 1 (metric-learning losses): Method, Data (balance | imbalance), FID, IS.
  * ``table3``: the paper's Table 3 (pre-training methods vs ECOGAN): Model, Data, Best step, FID, IS,
    Pre-trained, Sampling.
  * anything else: a generic table, one row per cell (seeds pooled).
Every measured value stands beside the paper's number (where the grid gives one) and the difference; a second
table per protocol lists the other metrics at the best step (KID, precision, recall, intra-class FID, ...).
The CSV keeps the numbers (mean and std apart); Markdown, LaTeX and HTML show "mean ± std".
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.metrics.collapse import RULE, SELECTION
from bench.report.load import ReportData
from bench.report.summary import DETAIL_METRICS, GROUP_AXES, aid_name, dataset_name, method_name

DASH = "–"
DETAIL_NAMES = {"kid_mean": ("KID↓", 4), "precision": ("Precision↑", 3), "recall": ("Recall↑", 3),
                "ifid_mean": ("Intra-class FID↓", 2), "fid_head": ("Head FID↓", 2), "fid_tail": ("Tail FID↓", 2),
                "coverage": ("Coverage↑", 3), "density": ("Density", 3), "diversity": ("Diversity↑", 2),
                "diversity_min": ("Min class diversity↑", 2), "collapsed_classes": ("Collapsed classes↓", 1),
                "collapsed": ("Collapsed (share of seeds)", 2), "cond_acc": ("Cond. accuracy↑", 3),
                "judge_acc": ("Judge on real↑", 3),
                "d_acc_real": ("D acc. real", 3), "d_acc_fake": ("D acc. fake", 3), "label_sens": ("Label sens.↑", 2),
                "ifid_rare10": ("iFID rarest 10%↓", 2), "ifid_rare20": ("iFID rarest 20%↓", 2),
                "ikid_rare10": ("iKID rarest 10%↓", 4), "ikid_rare20": ("iKID rarest 20%↓", 4)}
LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
LATEX_UNICODE = {"±": r"$\pm$", "Δ": r"$\Delta$", "↓": r"$\downarrow$", "↑": r"$\uparrow$", "–": "--",
                 "·": r"$\cdot$", "×": r"$\times$", "≥": r"$\geq$"}


INTERVAL_NOTE = ("Mean ± the half-width of its 95% t-interval over the seeds of a row (their count in the Seeds "
                 "column); with one seed, an FID shows its 95% bootstrap interval [lo, hi] over the evaluation's "
                 "real and fake features (basic bootstrap, which corrects FID's upward bias on finite samples, so "
                 "the interval may sit below the value).")


@dataclass
class Table:
    """One rendered table.

    Attributes:
        slug: file stem under reports/<key>/, e.g. ``table3-paper-torchvision-inception``.
        title: one line, e.g. "Table 3: pre-training methods vs ECOGAN (paper protocol)".
        caption: names the protocol, extractor, reference, label mix, sample sizes and how best/last are picked.
        columns: (header, "l" | "r") pairs.
        rows: formatted cells, one list per row.
        numeric: the same rows as numbers (means, stds, paper values, differences), written as CSV.
        protocol, extractor: what measured every number in the table.
    """

    slug: str
    title: str
    caption: str
    columns: list[tuple[str, str]]
    rows: list[list[str]]
    numeric: pd.DataFrame
    protocol: str
    extractor: str


def fmt(mean: float, std: float = math.nan, digits: int = 2) -> str:
    """"mean ± std" with ``digits`` decimals; just the mean when std is NaN (one seed); "–" when no mean."""
    if mean is None or pd.isna(mean):
        return DASH
    text = f"{mean:.{digits}f}"
    return text if std is None or pd.isna(std) else f"{text} ± {std:.{digits}f}"


def fmt_diff(value: float, digits: int = 2) -> str:
    """A signed difference ("+1.23"), or "–"."""
    return DASH if value is None or pd.isna(value) else f"{value:+.{digits}f}"


def flag(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def is_imbalanced(data: ReportData, dataset: str) -> bool:
    """Whether a dataset's training classes have unequal counts (config.json ``data.class_counts`` of any of its
    runs); a name ending in ``_lt`` when no run says."""
    cells = set(data.cells.loc[data.cells["dataset"] == dataset, "cell"])
    for cell, run in data.runs.items():
        counts = (run.config.get("data") or {}).get("class_counts")
        if cell in cells and counts:
            return len(set(counts)) > 1
    return dataset.endswith("_lt")


def pretrained(row: pd.Series) -> str:
    """Table 3's "Pre-trained": TRUE/FALSE for the methods with an autoencoder stage (``Method.pretrains``, unless
    the run's ``pretrained`` option says otherwise), "-" for the others."""
    options = json.loads(row["options"])
    if "pretrained" in options:
        return flag(bool(options["pretrained"]))
    from bench.methods import METHODS

    method = METHODS.entries.get(row["method"])
    return flag(True) if method is not None and method.pretrains else "-"


def model_name(row: pd.Series, g: pd.DataFrame) -> str:
    """The paper's method name, with the quirks setting when the table mixes both."""
    return method_name(row["method"]) + (f" ({row['quirks']} quirks)" if g["quirks"].nunique() > 1 else "")


def seeds_cell(row: pd.Series) -> str:
    return f"{row['seeds']}" + (f" ({row['unfinished']} unfinished)" if row["unfinished"] else "")


BOOTSTRAP_OF = {"fid_best": "fid", "fid_head": "fid_head", "fid_tail": "fid_tail"}  # columns with an interval
COLLAPSED = "COLLAPSED"
STEREOTYPES = "> judge"
HEALTH_COLUMNS = [("Coverage↑", "r"), ("Diversity↑", "r"), ("Cond. acc.↑", "r"), ("Collapse", "l")]
HEALTH_NOTE = (f"Coverage (Naeem et al. 2020, k = 5) and diversity (the mean over classes of the fakes' RMS pairwise "
               f"feature distance over the reals') are measured in the same features as FID, at the best step; "
               f"Collapse gives the verdict of the best evaluation ({RULE}): {COLLAPSED} when every evaluation of "
               f"the run is collapsed, 'k/n seeds' when some seeds are; a row's model name is marked ⚠ then. "
               f"Cond. acc. marked '{STEREOTYPES}' exceeds the judge's own accuracy on real images: the fakes are "
               f"easier to classify than real images (class stereotypes).")


def collapse_cell(row: pd.Series) -> str:
    """The collapse verdict of a row's best evaluations: "no", COLLAPSED (every seed) or "k/n seeds"."""
    share, seeds = row.get("collapsed_mean", math.nan), int(row.get("seeds", 0) or 0)
    if share is None or pd.isna(share) or not seeds:
        return DASH
    collapsed = round(share * seeds)
    return "no" if collapsed == 0 else COLLAPSED if collapsed == seeds else f"{collapsed}/{seeds} seeds"


def cond_acc_cell(row: pd.Series) -> str:
    """Conditional accuracy, marked when it exceeds the judge's accuracy on real images (stereotypes)."""
    text = measured(row, "cond_acc", 3)
    acc, judge = row.get("cond_acc_mean", math.nan), row.get("judge_acc_mean", math.nan)
    return f"{text} ({STEREOTYPES} {judge:.2f})" if pd.notna(acc) and pd.notna(judge) and acc > judge else text


def health_cells(row: pd.Series) -> list[str]:
    """Coverage, diversity, conditional accuracy and the collapse verdict at the best step (HEALTH_COLUMNS)."""
    return [measured(row, "coverage", 3), measured(row, "diversity", 2), cond_acc_cell(row), collapse_cell(row)]


def marked_name(name: str, row: pd.Series) -> str:
    """A row's name with ⚠ when any seed's best evaluation is collapsed."""
    share = row.get("collapsed_mean", math.nan)
    return f"{name} ⚠" if pd.notna(share) and share > 0 else name


def measured(row: pd.Series, which: str, digits: int = 2) -> str:
    """Formatted ``which`` (fid_best, is_best, a detail metric, ...) or a step column: mean ± the half-width of
    the 95% t-interval over seeds; with one seed, an FID with a bootstrap interval shows it as [lo, hi]."""
    if which.endswith("step"):  # seeds usually share their last step: no "± 0"
        ci = row.get(f"{which}_ci", math.nan)
        return fmt(row[f"{which}_mean"], math.nan if ci == 0 else ci, 0)
    text = fmt(row[f"{which}_mean"], row.get(f"{which}_ci", math.nan), digits)
    boot = BOOTSTRAP_OF.get(which)
    if boot and row.get("seeds", 0) < 2 and pd.notna(row.get(f"{boot}_lo_mean")) and text != DASH:
        text += f" [{row[f'{boot}_lo_mean']:.{digits}f}, {row[f'{boot}_hi_mean']:.{digits}f}]"
    return text


def paper_step(row: pd.Series) -> float:
    """The paper's best step in our iterations where the grid converts it, else as the paper counts it."""
    value = row["paper_best_iteration"]
    return row["paper_best_step"] if pd.isna(value) else value


def has_paper(g: pd.DataFrame) -> bool:
    """Whether any row has a paper number to compare with."""
    return bool(g["paper_fid"].notna().any() or g["paper_is"].notna().any())


def with_differences(g: pd.DataFrame) -> pd.DataFrame:
    """Add fid_diff and is_diff (measured mean − paper) and diff_basis: each paper number is compared with the
    measured value picked the same way (its ``selection``: ``last`` → the last step, else the min-FID step)."""
    last = g["paper_selection"].eq("last")
    return g.assign(fid_diff=g["fid_last_mean"].where(last, g["fid_best_mean"]) - g["paper_fid"],
                    is_diff=g["is_last_mean"].where(last, g["is_best_mean"]) - g["paper_is"],
                    diff_basis=last.map({True: "last", False: "best"}))


def numeric_frame(g: pd.DataFrame, display: list[list[str]], headers: list[str]) -> pd.DataFrame:
    """The CSV form: the display's identifying columns, then the axes and every number."""
    numbers = ["seeds", "unfinished"] + [f"{m}_{s}" for m in ("best_step", "fid_best", "is_best", "last_step",
                                                              "fid_last", "is_last") for s in ("mean", "std", "ci")]
    numbers += [c for c in ("fid_lo_mean", "fid_hi_mean") if c in g.columns]
    numbers += [f"{m}_{s}" for m in ("coverage", "diversity", "cond_acc", "judge_acc", "collapsed")
                for s in ("mean", "std", "ci") if f"{m}_{s}" in g.columns]
    frame = pd.DataFrame(display, columns=headers, index=g.index)
    extra = g[["protocol", "extractor", "reference", "label_mix", *GROUP_AXES, *numbers, "paper_fid", "paper_is"]]
    frame = pd.concat([frame, extra], axis=1)
    frame["paper_best_step"] = g.apply(paper_step, axis=1) if len(g) else []
    frame[["fid_diff", "is_diff", "diff_basis"]] = g[["fid_diff", "is_diff", "diff_basis"]]
    return frame.reset_index(drop=True)


def layout_table1(data: ReportData, g: pd.DataFrame) -> tuple[list[tuple[str, str]], list[list[str]], pd.DataFrame]:
    """Paper Table 1: Method | Data | FID | IS, balanced rows first, best and last values beside the paper's.
    (The paper's balanced rows are its last step, its imbalanced rows the min-FID step: see with_differences.)"""
    g = with_differences(g.assign(imbalanced=g["dataset"].map(lambda d: is_imbalanced(data, d))))
    g = g.sort_values(["imbalanced", "group_order"], kind="stable")
    columns = [("Method", "l"), ("Data", "l"), ("FID↓ best", "r"), ("FID↓ last", "r"), ("FID↓ paper", "r"),
               ("ΔFID", "r"), ("IS↑ best", "r"), ("IS↑ last", "r"), ("IS↑ paper", "r"), ("ΔIS", "r"),
               *HEALTH_COLUMNS, ("Best step", "r"), ("Last step", "r"), ("Seeds", "r")]
    rows = [[marked_name(model_name(row, g), row), "imbalance" if row["imbalanced"] else "balance",
             measured(row, "fid_best"), measured(row, "fid_last"), fmt(row["paper_fid"]), fmt_diff(row["fid_diff"]),
             measured(row, "is_best"), measured(row, "is_last"), fmt(row["paper_is"]), fmt_diff(row["is_diff"]),
             *health_cells(row), measured(row, "best_step"), measured(row, "last_step"), seeds_cell(row)]
            for _, row in g.iterrows()]
    return columns, rows, numeric_frame(g, [r[:2] for r in rows], ["Method", "Data"])


def layout_table3(data: ReportData, g: pd.DataFrame) -> tuple[list[tuple[str, str]], list[list[str]], pd.DataFrame]:
    """Paper Table 3: Model | Data | Best step | FID | IS | Pre-trained | Sampling, in grid order, each measured
    value beside the paper's and the difference (best-step values; last-step values after them)."""
    g = with_differences(g)
    columns = [("Model", "l"), ("Data", "l"), ("Best step", "r"), ("Best step paper", "r"), ("FID↓", "r"),
               ("FID↓ paper", "r"), ("ΔFID", "r"), ("IS↑", "r"), ("IS↑ paper", "r"), ("ΔIS", "r"),
               ("Pre-trained", "l"), ("Sampling", "l"), *HEALTH_COLUMNS, ("FID↓ last", "r"), ("IS↑ last", "r"),
               ("Last step", "r"), ("Seeds", "r")]
    rows = [[marked_name(model_name(row, g), row), dataset_name(row["dataset"]),
             measured(row, "best_step"), fmt(paper_step(row), digits=0),
             measured(row, "fid_best"), fmt(row["paper_fid"]), fmt_diff(row["fid_diff"]),
             measured(row, "is_best"), fmt(row["paper_is"]), fmt_diff(row["is_diff"]),
             pretrained(row), flag(row["sampling"] == "balanced"), *health_cells(row),
             measured(row, "fid_last"), measured(row, "is_last"), measured(row, "last_step"), seeds_cell(row)]
            for _, row in g.iterrows()]
    headers = ["Model", "Data", "Pre-trained", "Sampling"]
    return columns, rows, numeric_frame(g, [[r[0], r[1], r[10], r[11]] for r in rows], headers)


def layout_generic(data: ReportData, g: pd.DataFrame) -> tuple[list[tuple[str, str]], list[list[str]], pd.DataFrame]:
    """One row per cell (seeds pooled): its name, best step, FID, IS, last-step values; paper columns when the
    grid gives paper numbers; Regulariser and Augment columns when a cell uses a training aid."""
    with_paper = has_paper(g)
    with_aids = bool(len(g)) and bool((g[["regularizer", "augment"]] != "none").to_numpy().any())
    g = with_differences(g)
    columns = [("Cell", "l"), ("Dataset", "l"), ("Best step", "r"), ("FID↓", "r"), ("IS↑", "r"), *HEALTH_COLUMNS,
               ("FID↓ last", "r"), ("IS↑ last", "r"), ("Last step", "r"), ("Seeds", "r")]
    if with_paper:
        columns[9:9] = [("FID↓ paper", "r"), ("ΔFID", "r"), ("IS↑ paper", "r"), ("ΔIS", "r")]
    if with_aids:
        columns[2:2] = [("Regulariser", "l"), ("Augment", "l")]
    rows = []
    for _, row in g.iterrows():
        cells = [marked_name(row["group_label"], row), dataset_name(row["dataset"]), measured(row, "best_step"),
                 measured(row, "fid_best"), measured(row, "is_best"), *health_cells(row), measured(row, "fid_last"),
                 measured(row, "is_last"), measured(row, "last_step"), seeds_cell(row)]
        if with_paper:
            cells[9:9] = [fmt(row["paper_fid"]), fmt_diff(row["fid_diff"]), fmt(row["paper_is"]),
                          fmt_diff(row["is_diff"])]
        if with_aids:
            cells[2:2] = [aid_name(row["regularizer"]), aid_name(row["augment"])]
        rows.append(cells)
    return columns, rows, numeric_frame(g, [r[:1] for r in rows], ["Cell"])


LAYOUTS = {"table1": ("Table 1: metric-learning losses on balanced and imbalanced data", layout_table1),
           "table3": ("Table 3: pre-training methods vs ECOGAN", layout_table3)}


def distinct(values: pd.Series, digits: int | None = None) -> str:
    """The distinct non-empty values of a column, joined with " / " ("?" when there are none)."""
    vals = [v for v in dict.fromkeys(values.dropna()) if v != ""]
    if digits is not None:
        vals = [f"{v:.{digits}f}" for v in vals]
    return " / ".join(str(v) for v in vals) or "?"


def caption(data: ReportData, g: pd.DataFrame, protocol: str, extractor: str, layout: str,
            with_paper: bool = True) -> str:
    """The caption: protocol, extractor, reference, label mix, sample sizes, how best and last are picked."""
    text = [f"Protocol {protocol}, features {extractor}, reference {distinct(g['reference'])}, "
            f"generated labels {distinct(g['label_mix'])}, {distinct(g['n_real'], 0)} real and "
            f"{distinct(g['n_fake'], 0)} generated images {sample_sizes(data, protocol, extractor)}.",
            f"Best = {SELECTION} under this protocol, every other number at that step; like the paper, "
            "the best step is picked on the evaluation set itself, so best values are optimistic. "
            "Last = the final evaluation. Steps are iterations (n_dis D steps + 1 G step).",
            HEALTH_NOTE, INTERVAL_NOTE + (" Δ = measured − paper." if with_paper else "")]
    if with_paper and g["paper_selection"].eq("last").any():
        text.append("Where the paper reports its last step rather than its min-FID step (" +
                    ", ".join(g.loc[g["paper_selection"].eq("last"), "group_label"]) +
                    "), Δ compares our last-step value.")
    notes = [f"{label}: {note}" for label, note in zip(g["group_label"], g["paper_note"], strict=True)
             if isinstance(note, str) and note]
    if with_paper and notes:
        text.append("Paper notes: " + "; ".join(notes) + ".")
    if layout == "table3":
        units = distinct(g["paper_step_unit"])
        text.append(f"Paper best steps are in our iterations where the grid converts them (the paper counts "
                    f"{units}).")
    if (g["unfinished"] > 0).any():
        text.append("Rows with unfinished seeds: their last step is the latest evaluation so far.")
    if data.scale != "paper":
        text.append(f"Scale {data.scale}: numbers not comparable to the paper's.")
    return " ".join(text)


def sample_sizes(data: ReportData, protocol: str, extractor: str) -> str:
    """How the caption's image counts were used: "per evaluation", or, where runs measured their best and last
    checkpoints again at the end (``final_fakes``), that and the count the monitoring evaluations used."""
    tidy = data.tidy
    mine = tidy[(tidy["protocol"] == protocol) & (tidy["extractor"] == extractor) & (tidy["metric"] == "n_fake")]
    if not mine["source"].str.startswith("final:").any():
        return "per evaluation"
    monitored = distinct(mine.loc[mine["source"] == "train", "value"], 0)
    return (f"in the headline measurement: the best and last checkpoints measured again after training (Best and "
            f"Last); the monitoring evaluations that picked the best step used {monitored} generated images "
            f"(--set eval_fakes=N --set final_fakes=M changes them)")


def slugify(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "-", p).strip("-") for p in parts if p)


def details_table(data: ReportData, g: pd.DataFrame, protocol: str, extractor: str) -> Table | None:
    """The metrics beyond FID and IS at each row's best step, or None when the protocol measured none."""
    present = [m for m in DETAIL_METRICS if g[f"{m}_mean"].notna().any()]
    if not present:
        return None
    columns = [("Cell", "l"), ("Best step", "r")] + [(DETAIL_NAMES[m][0], "r") for m in present]
    rows = [[row["group_label"], measured(row, "best_step")]
            + [measured(row, m, DETAIL_NAMES[m][1]) for m in present]
            for _, row in g.iterrows()]
    numeric = g[["group_label", "protocol", "extractor", *GROUP_AXES, "seeds", "best_step_mean"]
                + [f"{m}_{s}" for m in present for s in ("mean", "std", "ci")]].rename(columns={"group_label": "Cell"})
    head = (f"Metrics at the best step ({protocol} protocol, {extractor} features): head/tail FID split the classes "
            f"by training count; cond. accuracy = the extractor's classifier agreeing with the requested label; "
            f"iFID / iKID rarest 10% and 20% = the mean intra-class FID / KID over the rarest 10% and 20% of the "
            f"classes by training count (at least one class).")
    return Table(slug=slugify("details", protocol, extractor), title=f"Other metrics at the best step ({protocol})",
                 caption=f"{head} {caption(data, g, protocol, extractor, 'details', with_paper=False)}",
                 columns=columns, rows=rows, numeric=numeric.reset_index(drop=True), protocol=protocol,
                 extractor=extractor)


def build_tables(data: ReportData, groups: pd.DataFrame) -> list[Table]:
    """The comparison table (and the details table) for each protocol and extractor present, in the layout
    that the grid's name selects."""
    title, layout = LAYOUTS.get(data.grid, (f"Grid {data.grid}", layout_generic))
    name = data.grid if data.grid in LAYOUTS else "table"
    tables = []
    for (protocol, extractor), g in groups.groupby(["protocol", "extractor"], sort=False):
        columns, rows, numeric = layout(data, g)
        tables.append(Table(slug=slugify(name, protocol, extractor), title=f"{title} ({protocol} protocol)",
                            caption=caption(data, g, protocol, extractor, data.grid, with_paper=has_paper(g)),
                            columns=columns, rows=rows,
                            numeric=numeric, protocol=protocol, extractor=extractor))
        details = details_table(data, g, protocol, extractor)
        if details is not None:
            tables.append(details)
    return tables


def to_markdown(table: Table) -> str:
    """A pipe table with the title and caption above it."""
    lines = [f"**{table.title}.** {table.caption}", ""]
    lines.append("| " + " | ".join(h for h, _ in table.columns) + " |")
    lines.append("|" + "|".join(":--" if a == "l" else "--:" for _, a in table.columns) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters, then spell the Unicode signs the tables use in math mode."""
    text = "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
    return "".join(LATEX_UNICODE.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``) with caption and label."""
    spec = "".join(a for _, a in table.columns)
    lines = ["% needs \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering", "\\small",
             f"\\caption{{{latex_escape(table.title)}. {latex_escape(table.caption)}}}",
             f"\\label{{tab:{table.slug}}}", f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & ".join(latex_escape(h) for h, _ in table.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(latex_escape(c) for c in row) + " \\\\" for row in table.rows]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(table: Table, out_dir: Path) -> dict[str, Path]:
    """Write ``<slug>.csv``, ``<slug>.md`` and ``<slug>.tex`` into ``out_dir``; returns them by suffix."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{table.slug}.{ext}" for ext in ("csv", "md", "tex")}
    table.numeric.to_csv(paths["csv"], index=False)
    paths["md"].write_text(to_markdown(table))
    paths["tex"].write_text(to_latex(table))
    return paths
