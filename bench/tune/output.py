"""What ``bench tune`` writes: the tuning table (every trial), the sensitivities, a record of the protocol, and the
tuned grid file.

Into ``results/<search grid key>/``: ``tuning.csv`` and ``tuning.md`` (one row per trial: entry, trial, options,
state, constraints broken, the objective's score, the chosen step per seed, half-A coverage, diversity and
verdict, conditional accuracy, rank, chosen), ``sensitivity.csv`` and ``tuning.json`` (the protocol: sampler,
seeds, budget, objective, the chosen trial per entry). ``bench report`` on the search grid shows them
(:mod:`bench.report.tuning`).

The tuned grid file (TOML) holds, per cell of the search grid, the paper's recipe (the cell as written) and the
chosen recipe (the cell with the chosen trial's values), then the variants; every cell names its options in its
axes and so in its id. The search grid's ``[[claims]]`` are carried over with each row that selected one cell of the
search grid now selecting its tuned cell. The file is loaded back (every cell resolved, the claims checked) before it
replaces an older one.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.config import AXES
from bench.grid import AXIS_DEFAULTS, Grid, claim_rows, claim_selects, load_grid
from bench.methods.search import AXIS_KEYS, value_text
from bench.run.folder import atomic_write_json, atomic_write_text
from bench.search_grid import Entry, TuneSpec, Variant, variant_entry
from bench.tune.score import Sensitivity, TrialResult
from bench.tune.trials import trial_axes

TABLE_COLUMNS = ("entry", "method", "trial", "options", "state", "constraints_broken", "score", "steps",
                 "fid_half_a", "coverage_half_a", "diversity_half_a", "collapsed_half_a", "cond_acc", "rank", "chosen",
                 "seconds", "cells")


def options_text(values: dict[str, Any]) -> str:
    """``lr_g=0.00031, n_dis=2, g_cond=concat``: a trial's drawn values in its space's order."""
    return ", ".join(f"{k}={_text(v)}" for k, v in values.items())


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else value_text(value)


def table_rows(results: list[TrialResult]) -> list[dict[str, Any]]:
    """One dict per trial with :data:`TABLE_COLUMNS` (numbers as numbers, NaN where a trial has none)."""
    rows = []
    for r in results:
        rows.append({"entry": r.trial.entry.name, "method": r.trial.entry.axes["method"], "trial": r.trial.number,
                     "options": json.dumps(r.trial.values), "state": r.state,
                     "constraints_broken": r.violations if math.isfinite(r.violations) else math.nan,
                     "score": r.score if math.isfinite(r.score) else math.nan,
                     "steps": " ".join("-" if s is None else str(s) for s in r.steps),
                     **{c: r.values.get(c, math.nan) for c in ("fid_half_a", "coverage_half_a", "diversity_half_a",
                                                                "collapsed_half_a", "cond_acc")},
                     "rank": r.rank, "chosen": int(r.chosen),
                     "seconds": round(r.seconds, 1) if math.isfinite(r.seconds) else math.nan,
                     "cells": " ".join(r.trial.cells)})
    return rows


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _fmt(value: float, digits: int) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown_table(results: list[TrialResult], spec: TuneSpec) -> str:
    """The tuning table in Markdown: a verdict per trial (chosen ✓, meets the constraints, collapsed on half A)."""
    head = ("| method | trial | options | FID half A↓ | coverage A↑ | diversity A↑ | collapsed A | cond. acc.↑ | "
            "constraints broken | rank |\n|---|--:|---|--:|--:|--:|--:|--:|--:|--:|")
    lines = [f"Objective: {spec.objective.describe()} (protocol {spec.protocol}; each trial at its best evaluation by "
             f"that objective; mean over tuning seeds {', '.join(map(str, spec.seeds))}). ✓ = chosen.", "", head]
    for r in results:
        v = r.values
        state = "" if r.state == "done" else f" ({r.state})"
        lines.append(f"| {r.trial.entry.name} | {r.trial.number}{' ✓' if r.chosen else ''} | "
                     f"{options_text(r.trial.values)}{state} | {_fmt(v.get('fid_half_a'), 1)} | "
                     f"{_fmt(v.get('coverage_half_a'), 3)} | {_fmt(v.get('diversity_half_a'), 2)} | "
                     f"{_fmt(v.get('collapsed_half_a'), 2)} | {_fmt(v.get('cond_acc'), 3)} | "
                     f"{_fmt(r.violations if math.isfinite(r.violations) else math.nan, 1)} | {r.rank} |")
    return "\n".join(lines) + "\n"


SENSITIVITY_COLUMNS = ("entry", "key", "spread", "best", "groups")


def sensitivity_rows(found: list[Sensitivity]) -> list[dict[str, Any]]:
    """One dict per (entry, key): the spread, the group with the best mean rank, every group's numbers."""
    return [{"entry": s.entry, "key": s.key, "spread": round(s.spread, 4), "best": s.best_group(),
             "groups": "; ".join(f"{name}: mean rank {rank:.1f} of {n} trials, {ok} meet the constraints"
                                 for name, rank, n, ok in s.groups)} for s in found]


def write_tables(folder: Path, results: list[TrialResult], found: list[Sensitivity], spec: TuneSpec,
                 record: dict[str, Any]) -> list[Path]:
    """Write tuning.csv, tuning.md, sensitivity.csv and tuning.json into ``folder`` (atomically); their paths."""
    paths = [folder / "tuning.csv", folder / "tuning.md", folder / "sensitivity.csv", folder / "tuning.json"]
    atomic_write_text(paths[0], _csv(table_rows(results), TABLE_COLUMNS))
    atomic_write_text(paths[1], markdown_table(results, spec))
    atomic_write_text(paths[2], _csv(sensitivity_rows(found), SENSITIVITY_COLUMNS))
    atomic_write_json(paths[3], record)
    return paths


# -- the tuned grid file -----------------------------------------------------------------------------------------
def toml_value(value: Any) -> str:
    """A value as TOML: strings, booleans, numbers, lists and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def _multiline(text: str) -> str:
    return '"""' + text.replace("\\", "\\\\").replace('"""', '""\\"') + '"""'


def _cell_lines(axes: dict[str, Any], label: str, paper: dict[str, Any] | None = None) -> list[str]:
    """A ``[[cells]]`` table: every axis of the option table (``bench.config.AXES``) the cell sets away from its
    default, the method options, the label and the paper's numbers."""
    lines = ["[[cells]]"]
    for key in (a for a in AXES if a != "method_options"):
        value = axes.get(key)
        if value is not None and (key in ("dataset", "method") or value != AXIS_DEFAULTS[key]):
            lines.append(f"{key} = {toml_value(value)}")
    if axes.get("method_options"):
        lines.append(f"method_options = {toml_value(dict(sorted(axes['method_options'].items())))}")
    lines.append(f"label = {toml_value(label)}")
    if paper:
        lines.append(f"paper = {toml_value(paper)}")
    return lines


def tuned_claims(search: Grid, found: list[Entry], tuned: dict[int, dict[str, Any]],
                 variants: Sequence[Variant] = ()) -> list[dict[str, Any]]:
    """The search grid's claims with each row table that selects exactly one entry replaced by one that selects its
    tuned cell (the table's own keys, the tuned options and searched axes, and the tuned values of the axes its
    ``[[tune.variants]]`` change, so that a variant, e.g. the tuned ECOGAN with balanced sampling, is not a second
    row of the claim)."""
    varied: dict[int, set[str]] = {}
    for i, variant in enumerate(variants):
        entry = variant_entry(variant, found, f"grid file {search.path}, [tune] variants #{i + 1}")
        varied.setdefault(entry.index, set()).update(variant.set)
    claims = []
    for claim in search.claims:
        claim = json.loads(json.dumps(claim))
        for key, tables in claim_rows(claim):
            new = []
            for table in tables:
                hits = [e for e in found if claim_selects(table, e.axes)]
                if len(hits) != 1:
                    new.append(table)
                    continue
                axes = tuned[hits[0].index]
                row = {k: axes.get(k) for k in table if k not in ("options", "method_options")}
                row.update({k: axes[k] for k in AXIS_KEYS if k in hits[0].dims})
                row.update({k: axes.get(k) for k in sorted(varied.get(hits[0].index, ()))})
                row["options"] = axes["method_options"]
                new.append(row)
            claim[key] = new if isinstance(claim.get(key), list) else new[0]
        claims.append(claim)
    return claims


def tuned_grid_text(search: Grid, spec: TuneSpec, found: list[Entry], results: list[TrialResult],
                    command: str) -> str:
    """The tuned grid file's text (see the module docstring)."""
    chosen = {r.trial.entry.index: r for r in results if r.chosen}
    tuned = {e.index: trial_axes(e, chosen[e.index].trial.values, seed=0) for e in found}
    how = (f"Recipes chosen by `{command}`: each cell of {search.path.name} got {spec.trials} trials drawn by the "
           f"{spec.sampler} sampler (seed {spec.sampler_seed}) from its method's search space (bench list methods), "
           f"each run on tuning seed(s) {', '.join(map(str, spec.seeds))} with the scale's D-update budget, and the "
           f"trial that best meets the objective was chosen: {spec.objective.describe()}, measured on half A of the "
           f"{spec.protocol} protocol's reference at each trial's best evaluation. Each method keeps its paper's "
           f"recipe as a row of its own. Report the tuned rows on other seeds (bench run --seeds 3 runs 0, 1, 2) and "
           f"on half B (the report's held-out table).")
    description = f"{spec.description.strip()}\n{how}" if spec.description else f"{search.description}\n{how}"
    lines = [f"# Written by `{command}` from {search.path.name}; edit the search grid and tune again rather than this",
             "# file. Cells: per method its paper's recipe, then the tuned recipe (the chosen trial's options), then "
             "variants.", f"description = {_multiline(description)}", f"scale = {toml_value(search.scale)}"]
    if search.protocols is not None:
        lines.append(f"protocols = {toml_value(search.protocols)}")
    for name, table in (("settings", search.settings), ("budget", search.budget),
                        ("scale_datasets", search.scale_datasets)):
        if table:
            lines += ["", f"[{name}]", *(f"{_toml_key(k)} = {toml_value(v)}" for k, v in table.items())]
    for entry in found:
        result = chosen[entry.index]
        base = entry.label or entry.name
        shown = ", ".join(f"{c} {_text(round(v, 4))}" for c, v in result.values.items() if not math.isnan(v))
        # a choice that breaks constraints says so, in the file and in the label the report shows
        broken = ((spec.objective.broken(result.values) or ["some, on some tuning seeds"]) if result.violations
                  else [])
        caveat = (f"; no trial met the constraints, this one breaks the fewest: {', '.join(broken)}" if broken else "")
        tag = "best trial, none met the constraints" if broken else "tuned"
        lines += ["", f"# {entry.name}: the paper's recipe (the search grid's cell as written)",
                  *_cell_lines(entry.axes, f"{base} · paper's recipe", search.specs[entry.index].paper),
                  "", f"# {entry.name}: tuned, trial {result.trial.number}/{spec.trials} ({shown}; tuning seeds "
                      f"{', '.join(map(str, spec.seeds))}, half A{caveat})",
                  *_cell_lines(tuned[entry.index], f"{base} · {tag} ({options_text(result.trial.values)})")]
    for i, variant in enumerate(spec.variants):
        entry = variant_entry(variant, found, f"grid file {search.path}, [tune] variants #{i + 1}")
        axes = {**tuned[entry.index], **variant.set}
        if axes == tuned[entry.index]:  # the tuned recipe already has these values: the variant is that cell
            lines += ["", f"# variant of the tuned {entry.name} ({options_text(dict(variant.set))}): the tuned cell "
                          f"itself"]
            continue
        label = variant.label or f"{entry.label or entry.name} · tuned, with {options_text(dict(variant.set))}"
        lines += ["", f"# variant of the tuned {entry.name}: {options_text(dict(variant.set))}",
                  *_cell_lines(axes, label)]
    for claim in tuned_claims(search, found, tuned, spec.variants):
        lines += ["", "[[claims]]", *(f"{_toml_key(k)} = {toml_value(v)}" for k, v in claim.items())]
    return "\n".join(lines) + "\n"


def write_tuned_grid(path: Path, text: str) -> Grid:
    """Write the tuned grid to ``path`` after loading it from a temporary file beside it (every cell resolved, its
    claims checked), so that a grid that would not load never replaces an older file. Returns the loaded grid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    check_path = path.with_name(f".{path.stem}.check.toml")
    atomic_write_text(check_path, text)
    try:
        load_grid(check_path)
    finally:
        check_path.unlink(missing_ok=True)
    atomic_write_text(path, text)
    return load_grid(path)
