"""The paper's claims as a verdict table: each claim of a grid file (``[[claims]]``) tested on the grid's results.

A claim names rows of the results by axis values (``{ method = "ecogan", sampling = "balanced" }``; a key left
out matches any value, ``g_cond = ""`` the paper's conditioning), within each dataset of the grid. Kinds:

* ``less``: ``better`` has a lower ``metric`` (default ``fid_best``) than ``worse`` on every dataset where both
  exist (Welch over seeds, p < 0.05).
* ``order``: the rows of ``order`` have increasing ``metric``, each pair of neighbours as for ``less``.
* ``slope``: the rows of ``improving`` keep improving while those of ``stalls`` stop: the least-squares slope of
  FID against step over the last third of each run's evaluations is lower for each improving row than for each
  stalling row (Welch over seeds).
* ``tail``: per-class FID rises toward the tail: Spearman's ρ between a class's training count and its FID at
  each run's best step is negative (one-sample t-test of the runs' ρ; one run, or runs with identical ρ: every
  run's own Spearman p-value must be below 0.05); ``match``
  restricts the runs (default all).

Verdicts: **holds** (every comparison significant in the claimed direction), **fails** (some comparison
significant against it), **inconclusive** (otherwise: too few seeds, differences within the noise, or no rows
to compare), each with the numbers behind it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.grid import check_claim, check_claim_rows
from bench.report.load import ReportData, canonical_options
from bench.report.stats import ALPHA, Comparison, last_third_slope, one_sample, spearman, welch
from bench.report.summary import GROUP_AXES, dataset_name
from bench.report.tables import Table, slugify

KINDS = ("less", "order", "slope", "tail")
HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


@dataclass
class Verdict:
    claim: str  # id
    text: str
    verdict: str
    evidence: str
    paper: str


def matches(row: pd.Series, where: dict[str, Any]) -> bool:
    """Whether a group row has the axis values of ``where`` (``method_options`` / ``options`` compared as JSON)."""
    for key, value in where.items():
        if key in ("method_options", "options"):
            if row["options"] != canonical_options(value):
                return False
        elif str(row.get(key, "")) != ("" if value is None else str(value)):
            return False
    return True


def _pick(g: pd.DataFrame, where: dict[str, Any]) -> tuple[pd.Series | None, str]:
    hits = g[[matches(row, where) for _, row in g.iterrows()]]
    if len(hits) == 1:
        return hits.iloc[0], ""
    return None, ("no row matches " if hits.empty else f"{len(hits)} rows match ") + json.dumps(where)


def _combine(outcomes: list[str]) -> str:
    if not outcomes:
        return INCONCLUSIVE
    if FAILS in outcomes:
        return FAILS
    return HOLDS if all(o == HOLDS for o in outcomes) else INCONCLUSIVE


def _outcome(c: Comparison) -> str:
    """A comparison of the claimed-lower side (a) with the other (b)."""
    if not c.significant:
        return INCONCLUSIVE
    return HOLDS if c.diff < 0 else FAILS


def _describe(c: Comparison, a: str, b: str) -> str:
    p = "p n/a" if not np.isfinite(c.p) else f"p = {c.p:.3f}"
    return (f"{a} {c.mean_a:.2f} (n={c.n_a}) vs {b} {c.mean_b:.2f} (n={c.n_b}), Δ = {c.diff:+.2f}, {p}"
            + ("" if c.significant else " (n.s.)"))


class ClaimJudge:
    """Evaluates claims on one protocol and extractor of a report's results."""

    def __init__(self, groups: pd.DataFrame, per_run: pd.DataFrame, points: pd.DataFrame, per_class: pd.DataFrame,
                 protocol: str, extractor: str) -> None:
        def sel(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[(frame["protocol"] == protocol) & (frame["extractor"] == extractor)]

        self.groups, self.per_run, self.points, self.per_class = sel(groups), sel(per_run), sel(points), per_class
        self.protocol, self.extractor = protocol, extractor

    def values(self, group: str, column: str) -> list[float]:
        return [float(v) for v in self.per_run.loc[self.per_run["group"] == group, column] if pd.notna(v)]

    def slopes(self, group: str) -> list[float]:
        pts = self.points[(self.points["group"] == group) & (self.points["source"] == "train")]
        return [last_third_slope(run["step"].to_numpy(), run["fid"].to_numpy()) for _, run in pts.groupby("cell")]

    def compare(self, lower: dict, higher: dict, metric: str, label=None) -> tuple[list[str], list[str]]:
        """Welch comparisons of ``lower`` vs ``higher`` on every dataset: outcomes and evidence lines."""
        outcomes, lines = [], []
        for dataset, g in self.groups.groupby("dataset", sort=False):
            a, why_a = _pick(g, lower)
            b, why_b = _pick(g, higher)
            if a is None or b is None:
                if not (why_a.startswith("no row") or why_b.startswith("no row")):
                    lines.append(f"{dataset_name(dataset)}: {why_a or why_b}")
                    outcomes.append(INCONCLUSIVE)
                continue
            if label is None:
                c = welch(self.values(a["group"], metric), self.values(b["group"], metric))
            else:
                c = welch(label(a["group"]), label(b["group"]))
            outcomes.append(_outcome(c))
            lines.append(f"{dataset_name(dataset)}: " + _describe(c, a["group_short"], b["group_short"]))
        return outcomes, lines

    def judge(self, claim: dict[str, Any]) -> Verdict:
        kind = claim["kind"]
        metric = claim.get("metric", "fid_best")
        outcomes: list[str] = []
        lines: list[str] = []
        if kind == "less":
            outcomes, lines = self.compare(claim["better"], claim["worse"], metric)
        elif kind == "order":
            for lower, higher in zip(claim["order"], claim["order"][1:], strict=False):
                o, ln = self.compare(lower, higher, metric)
                outcomes += o
                lines += ln
        elif kind == "slope":
            for up in claim["improving"]:
                for flat in claim["stalls"]:
                    o, ln = self.compare(up, flat, "fid", label=self.slopes)
                    outcomes += o
                    lines += [f"last-third FID slope per 1,000 steps, {line}" for line in ln]
        elif kind == "tail":
            outcomes, lines = self.tail(claim.get("match") or {})
        if not lines:
            lines = ["no rows of this grid to compare"]
        return Verdict(claim=str(claim["id"]), text=str(claim["text"]), verdict=_combine(outcomes),
                       evidence="; ".join(lines), paper=str(claim.get("paper", "")))

    def tail(self, where: dict[str, Any]) -> tuple[list[str], list[str]]:
        runs = self.per_run[[matches(row, where) for _, row in self.per_run.iterrows()]] if where else self.per_run
        pc = self.per_class.copy()
        pc["fid"] = pd.to_numeric(pc["fid"], errors="coerce")
        pc["train_count"] = pd.to_numeric(pc["train_count"], errors="coerce")
        rhos, ps = [], []
        for row in runs.itertuples():
            at = pc[(pc["cell"] == row.cell) & (pc["protocol"] == self.protocol) & (pc["extractor"] == self.extractor)
                    & (pc["source"] == row.best_source) & (pc["step"] == row.best_step)]
            rho, p = spearman(at["train_count"].to_numpy(), at["fid"].to_numpy())
            if math.isfinite(rho):
                rhos.append(rho)
                ps.append(p)
        if not rhos:
            return [INCONCLUSIVE], ["no per-class FIDs with unequal training counts"]
        mean, p, n = one_sample(rhos)
        test = "one-sample t-test over runs"
        if not math.isfinite(p):  # one run, or runs whose ρ agree exactly: each run's own test must hold
            p, test = max(ps), "Spearman's test of each run (largest p)"
        significant = math.isfinite(p) and p < ALPHA
        outcome = INCONCLUSIVE if not significant else (HOLDS if mean < 0 else FAILS)
        p_text = "p n/a" if not math.isfinite(p) else f"p = {p:.3f}"
        return [outcome], [f"Spearman ρ(training count, per-class FID at the best step) = {mean:+.2f} over {n} "
                           f"run(s), {test} {p_text}" + ("" if significant else " (n.s.)")]


def checked_claims(data: ReportData) -> list[dict[str, Any]]:
    """grid.json's claims, each checked as a grid file's are when it loads (``bench.grid.check_claim``: grid.json
    written by an older bench may hold a misspelt metric or a malformed row) and its rows checked against the
    grid's cells; a ConfigError naming grid.json, the claim and the closest name otherwise."""
    source = data.results_dir / "grid.json"
    cells = [{**{axis: row[axis] for axis in GROUP_AXES if axis != "options"},
              "method_options": json.loads(row["options"] or "{}")} for _, row in data.cells.iterrows()]
    claims = []
    for i, raw in enumerate(data.claims):
        where = f"{source}, claim #{i + 1}" + (f" ({raw['id']})" if isinstance(raw, dict) and "id" in raw else "")
        claims.append(check_claim(raw, where))
        check_claim_rows(claims[-1], cells, where)
    return claims


def verdict_tables(data: ReportData, groups: pd.DataFrame, per_run: pd.DataFrame, points: pd.DataFrame,
                   per_class: pd.DataFrame) -> list[Table]:
    """One verdict table per protocol and extractor for the grid's claims (none when the grid states none)."""
    if not data.claims:
        return []
    claims = checked_claims(data)
    tables = []
    for (protocol, extractor), _ in groups.groupby(["protocol", "extractor"], sort=False):
        judge = ClaimJudge(groups, per_run, points, per_class, protocol, extractor)
        verdicts = [judge.judge(claim) for claim in claims]
        rows = [[v.claim, v.text, v.verdict, v.evidence, v.paper or "–"] for v in verdicts]
        numeric = pd.DataFrame([v.__dict__ for v in verdicts]).assign(protocol=protocol, extractor=extractor)
        tables.append(Table(
            slug=slugify("verdicts", protocol, extractor), title=f"The paper's claims, tested ({protocol} protocol)",
            caption=(f"Each claim as the grid file states it, tested on these results (protocol {protocol}, "
                     f"features {extractor}, scale {data.scale}): holds = every comparison significant (p < "
                     f"{ALPHA:g}) in the claimed direction; fails = one significant against it; inconclusive = "
                     f"neither, at this scale and seed count. Comparisons: Welch's t over seeds within a dataset."),
            columns=[("Claim", "l"), ("Statement", "l"), ("Verdict", "l"), ("Numbers", "l"), ("Paper", "l")],
            rows=rows, numeric=numeric, protocol=protocol, extractor=extractor))
    return tables
