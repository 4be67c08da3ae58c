"""The external gate: cells whose grid file carries another harness's published numbers (``external``, e.g. table 1's
balanced rows with StudioGAN's CIFAR-10 FID and intra-class FID), measured the same way (the protocol the numbers
name, ``studiogan``: TF-Inception, train reference), beside what this benchmark measured, with a verdict.

A measured value is *within the seed noise* of a published one when the published number lies in the 95% prediction
interval of one more run: x̄ ± t(0.975, n − 1) · s · √(1 + 1/n) over the n seeds of the cell (a published number is
itself one run, with its own seed). Verdicts: ``within`` | ``outside`` | ``inconclusive (one seed)`` | ``not
measured`` (no evaluation under that protocol). The gate holds when every gated cell (``gate = true``) is within on
every published metric, fails when one is outside, and is inconclusive otherwise (also below the paper scale, where
the numbers are not comparable). Best values: the evaluation with the lowest FID (the final measurement on
``final_fakes`` where the run made one, :mod:`bench.report.summary`).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from bench.report.load import ReportData
from bench.report.stats import CONFIDENCE
from bench.report.tables import DASH, Table, fmt, slugify

GATE_METRICS = (("fid", "fid_best", "FID"), ("ifid", "ifid_mean", "iFID"))


def external_numbers(data: ReportData) -> dict[str, dict]:
    """Cell id → its ``external`` entry, from the results' grid.json."""
    path = data.results_dir / "grid.json"
    if not path.is_file():
        return {}
    cells = json.loads(path.read_text()).get("cells") or []
    return {str(c["id"]): c["external"] for c in cells if isinstance(c, dict) and c.get("external")}


def prediction_halfwidth(values: np.ndarray) -> float:
    """Half-width of the 95% prediction interval of one more run, t(0.975, n − 1) · s · √(1 + 1/n); NaN for n < 2."""
    x = values[np.isfinite(values)]
    if x.size < 2:
        return math.nan
    return float(sps.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1) * x.std(ddof=1) * math.sqrt(1 + 1 / x.size))


def verdict(values: np.ndarray, published: float) -> str:
    """``within`` | ``outside`` the seed noise | ``inconclusive (one seed)`` | ``not measured``."""
    x = values[np.isfinite(values)]
    if x.size == 0:
        return "not measured"
    if x.size < 2:
        return "inconclusive (one seed)"
    return "within" if abs(x.mean() - published) <= prediction_halfwidth(x) else "outside"


def gate_tables(data: ReportData, per_run: pd.DataFrame) -> list[Table]:
    """One table of the cells with external numbers, seeds pooled (none when the grid has none); its caption states
    the gate."""
    external = external_numbers(data)
    if not external:
        return []
    columns = [("Cell", "l"), ("Published by", "l"), ("Protocol", "l"), ("Seeds", "r")]
    for _, _, name in GATE_METRICS:
        columns += [(f"{name} published", "r"), (f"{name} measured", "r"), (f"{name} verdict", "l")]
    labels = dict(zip(data.cells["cell"], data.cells["label"], strict=True))
    groups = dict(zip(per_run["cell"], per_run["group"], strict=True)) if len(per_run) else {}
    rows, numeric, gated, seen = [], [], [], set()
    for cell, ext in external.items():
        group = groups.get(cell, cell)
        if group in seen:  # another seed of a row already shown: its seeds are pooled there
            continue
        seen.add(group)
        protocol = str(ext.get("protocol") or "")
        mine = per_run[(per_run["group"] == group) & (per_run["protocol"] == protocol)]
        row = [labels.get(cell, cell), f"{ext['harness']} {ext['model']}", protocol or DASH, str(len(mine))]
        record = {"cell": cell, "harness": ext["harness"], "model": ext["model"], "protocol": protocol,
                  "gate": bool(ext.get("gate")), "seeds": len(mine)}
        verdicts = []
        for key, column, _ in GATE_METRICS:
            values = mine[column].to_numpy(dtype=float) if len(mine) else np.array([])
            if key not in ext:
                row += [DASH, fmt(np.nanmean(values) if np.isfinite(values).any() else math.nan), DASH]
                continue
            spread = prediction_halfwidth(values)
            mean = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
            verdicts.append(verdict(values, float(ext[key])))
            row += [fmt(float(ext[key])), fmt(mean, spread), verdicts[-1]]
            record |= {f"{key}_published": ext[key], f"{key}_mean": mean, f"{key}_prediction_halfwidth": spread,
                       f"{key}_verdict": verdicts[-1]}
        rows.append(row)
        numeric.append(record)
        if ext.get("gate"):
            gated.append((labels.get(cell, cell), verdicts))
    return [Table(slug=slugify("gate", data.key), title="External gate: published numbers of the same methods",
                  caption=gate_caption(data, gated), columns=columns, rows=rows, numeric=pd.DataFrame(numeric),
                  protocol="", extractor="")]


def gate_caption(data: ReportData, gated: list[tuple[str, list[str]]]) -> str:
    """The gate's statement and its verdict."""
    names = " and ".join(label for label, _ in gated) or "no cell"
    every = [v for _, verdicts in gated for v in verdicts]
    if data.scale != "paper":
        outcome = f"not decided at scale {data.scale} (the published numbers are paper-scale)"
    elif any(v == "outside" for v in every):
        outcome = "fails"
    elif every and all(v == "within" for v in every):
        outcome = "holds"
    else:
        outcome = "inconclusive (too few seeds or not measured under the named protocol)"
    return (f"Gate: a reproduction counts only if {names} land within the seed noise of the published numbers, "
            f"measured the way they were published (the Protocol column; studiogan = TF-Inception features, the "
            f"train set as reference, uniform labels). Verdict: {outcome}. Measured = mean ± the half-width of the "
            f"95% prediction interval of one more run over the seeds (a published number is one run); within = the "
            f"published number lies in it. Best values (the lowest-FID evaluation; the final measurement on more "
            f"fakes where the run made one); iFID = the mean intra-class FID.")
