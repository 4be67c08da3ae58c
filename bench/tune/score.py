"""Scoring trials: the declared objective on each trial's evaluations, the choice per entry, each option's sensitivity.

Per run (one trial on one seed), every evaluation of the spec's protocol made during training gets the key
(constraints broken, score) of :class:`bench.search_grid.Objective`; the run's value is its best evaluation by that key
(the earliest step among equals): the recipe and its step are chosen together, on half A of the reference. Per trial,
the mean over its seeds of the broken constraints and of the score; a trial whose runs did not all finish ranks last.
Per entry, the trials are ranked by (mean constraints broken, mean score, trial number), and the first is chosen.

Sensitivity of an option (per entry): the trials are split by the option's value (a choice: by value; a range: at
its median, low and high half) and each group's mean rank is taken; the spread is (highest − lowest mean rank) /
(trials − 1), 0 when the option's value does not move the ranking, 1 when it decides it. With 8 trials this is a
coarse, descriptive number, not a test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from bench.methods.search import value_text
from bench.results import grid_dir
from bench.run.folder import RunDir, read_rows, read_status
from bench.search_grid import Objective, TuneSpec
from bench.speed import read_record
from bench.tune.trials import Trial

SHOWN_COLUMNS = ("fid_half_a", "coverage_half_a", "diversity_half_a", "collapsed_half_a", "cond_acc")  # per trial


@dataclass
class TrialResult:
    """A trial's outcome: ``state`` done (every seed finished) | failed | unfinished, the mean over seeds of the
    constraints broken and of the score, the chosen step per seed, and the mean of the shown columns there."""

    trial: Trial
    state: str
    violations: float = math.inf
    score: float = math.inf
    steps: list[int | None] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    rank: int = 0
    chosen: bool = False
    seconds: float = math.nan  # what its runs cost, summed over its seeds (their speed.json; NaN without one)

    @property
    def meets(self) -> bool:
        """Every seed's chosen evaluation meets every constraint."""
        return self.state == "done" and self.violations == 0

    def key(self) -> tuple[float, float, int]:
        return (self.violations, self.score, self.trial.number)


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def best_evaluation(rows: list[dict[str, str]], objective: Objective, protocol: str) -> dict[str, float] | None:
    """The row (columns as numbers, plus ``step``) of a run's evaluations during training under ``protocol`` that the
    objective puts first; None when there is none."""
    scored = []
    for row in rows:
        if row.get("protocol") != protocol or row.get("source") != "train":
            continue
        values = {k: _number(v) for k, v in row.items() if k not in ("protocol", "source", "extractor", "reference",
                                                                      "label_mix")}
        scored.append(((objective.violations(values), objective.score(values), values["step"]), values))
    return min(scored, key=lambda pair: pair[0])[1] if scored else None


def score_trials(trials: list[Trial], spec: TuneSpec, results_root: Path, key: str) -> list[TrialResult]:
    """Each trial's result from its run folders in ``results/<key>/``, ranked and chosen per entry."""
    folder = grid_dir(results_root, key)
    shown = list(dict.fromkeys([*spec.objective.columns(), *SHOWN_COLUMNS]))
    results = []
    for trial in trials:
        best, states = [], []
        for cell in trial.cells:
            run = RunDir(folder / cell)
            status = read_status(run) if run.status.exists() else None
            states.append((status or {}).get("state", "missing"))
            best.append(best_evaluation(read_rows(run.metrics), spec.objective, spec.protocol)
                        if run.metrics.exists() else None)
        state = "done" if all(s == "done" for s in states) else "failed" if "failed" in states else "unfinished"
        result = TrialResult(trial=trial, state=state, steps=[int(b["step"]) if b else None for b in best],
                             seconds=run_seconds([folder / cell for cell in trial.cells]))
        if state == "done" and all(b is not None for b in best):
            result.violations = sum(spec.objective.violations(b) for b in best) / len(best)
            result.score = sum(spec.objective.score(b) for b in best) / len(best)
            result.values = {c: _mean([b.get(c, math.nan) for b in best]) for c in shown}
        results.append(result)
    for entry in dict.fromkeys(r.trial.entry.index for r in results):
        ranked = sorted((r for r in results if r.trial.entry.index == entry), key=TrialResult.key)
        for rank, result in enumerate(ranked, 1):
            result.rank = rank
        if ranked and ranked[0].state == "done":
            ranked[0].chosen = True
    return results


def run_seconds(runs: list[Path]) -> float:
    """The wall-clock seconds the runs took, every phase of their speed records (``bench.speed``: data, judge,
    reference, pretraining, training, evaluation; a resumed run's attempts summed) added; NaN when a run has none."""
    total = 0.0
    for run in runs:
        record = read_record(run)
        phases = (record or {}).get("phases")
        if not isinstance(phases, dict):
            return math.nan
        total += sum(float(v) for v in phases.values() if isinstance(v, int | float))
    return total


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


@dataclass(frozen=True)
class Sensitivity:
    """How much one option's value moved an entry's ranking: the groups (name, mean rank, trials, trials that meet
    the constraints) and the spread of their mean ranks over (trials − 1)."""

    entry: str
    key: str
    groups: tuple[tuple[str, float, int, int], ...]
    spread: float

    def best_group(self) -> str:
        return min(self.groups, key=lambda g: g[1])[0] if self.groups else ""


def sensitivities(results: list[TrialResult]) -> list[Sensitivity]:
    """Per entry and searched key, the :class:`Sensitivity` (module docstring)."""
    out = []
    for entry in dict.fromkeys(r.trial.entry.index for r in results):
        trials = [r for r in results if r.trial.entry.index == entry]
        if len(trials) < 2:
            continue
        first = trials[0].trial.entry
        for key, dim in first.dims.items():
            values = [r.trial.values[key] for r in trials]
            positions = [dim.position(v) for v in values]
            if hasattr(dim, "values"):  # a choice: one group per value drawn
                names = [value_text(v) for v in values]
            else:
                cut = median(positions)
                low = [v for v, p in zip(values, positions, strict=True) if p <= cut]
                names = [f"≤ {max(low):g}" if p <= cut else f"> {max(low):g}" for p in positions]
            groups = []
            for name in dict.fromkeys(names):
                members = [r for r, n in zip(trials, names, strict=True) if n == name]
                groups.append((name, sum(r.rank for r in members) / len(members), len(members),
                               sum(r.meets for r in members)))
            ranks = [g[1] for g in groups]
            spread = (max(ranks) - min(ranks)) / (len(trials) - 1) if len(groups) > 1 else 0.0
            out.append(Sensitivity(entry=first.name, key=key, groups=tuple(groups), spread=spread))
    return out


