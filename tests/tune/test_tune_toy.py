"""bench tune end to end on a toy method whose one option provably collapses at one value and not at the other: the
trials run through the real loop and Evaluator (inline executor, smoke scale, digits_lt), and the tuner must choose
the value that does not collapse, write the tuning table and a tuned grid that loads and names the chosen option."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import toy_methods  # noqa: F401  (registers toy_modes)

from bench.grid import load_grid
from bench.report import render_report
from bench.tune import tune

pytestmark = pytest.mark.slow

TOY_GRID = """
description = "toy search grid"
scale = "smoke"
protocols = ["standard"]

[[cells]]
dataset = "digits_lt"
method = "toy_modes"

[tune]
trials = 2
seeds = [100]

[tune.objective]
minimize = "fid_half_a"
at_most = { collapsed_half_a = 0 }
"""


def test_the_tuner_chooses_the_option_that_does_not_collapse(tmp_path: Path):
    grid = tmp_path / "toy-search.toml"
    grid.write_text(TOY_GRID, encoding="utf-8")
    out = tmp_path / "toy-tuned.toml"
    outcome = tune(str(grid), results_root=tmp_path / "results", executor="inline", out=out)
    assert outcome.exit_code == 0

    rows = list(csv.DictReader((tmp_path / "results" / "toy-search" / "tuning.csv").open()))
    by_modes = {json.loads(r["options"])["modes"]: r for r in rows}
    assert set(by_modes) == {1, 64}, "the two Sobol trials of a two-value choice take both values"
    assert all(r["state"] == "done" for r in rows)
    # the evaluations themselves say which collapses (diversity on half A: one image per class gives 0)
    assert float(by_modes[1]["collapsed_half_a"]) == 1.0 and float(by_modes[1]["diversity_half_a"]) < 0.1
    assert float(by_modes[64]["collapsed_half_a"]) == 0.0 and float(by_modes[64]["diversity_half_a"]) > 0.5
    assert by_modes[64]["chosen"] == "1" and by_modes[1]["chosen"] == "0"
    assert float(by_modes[1]["constraints_broken"]) == 1.0 and float(by_modes[64]["constraints_broken"]) == 0.0
    # what each trial cost, from its run's speed record, and the total in the protocol's record
    assert all(float(r["seconds"]) > 0 for r in rows)
    record = json.loads((tmp_path / "results" / "toy-search" / "tuning.json").read_text())
    assert record["seconds"]["total"] == pytest.approx(sum(float(r["seconds"]) for r in rows), abs=0.2)

    tuned = load_grid(out)
    options = [spec.axes["method_options"] for spec in tuned.specs]
    assert options == [{}, {"modes": 64}], "the paper's recipe (as written), then the chosen one"
    assert "modes64" in tuned.cells()[1].id
    assert (tmp_path / "results" / "toy-search" / "tuning.md").read_text().count("✓ |") == 1

    report = render_report(str(grid), results_root=tmp_path / "results", reports_root=tmp_path / "reports")
    folder = report.parent
    tuning_md = (folder / "tuning-standard-random-cnn.md").read_text()
    (chosen_line,) = [line for line in tuning_md.splitlines() if " ✓ |" in line]
    assert "modes=64" in chosen_line
    assert (folder / "sensitivity-standard-random-cnn.csv").is_file()
    assert (folder / "figures" / "tuning-standard-random-cnn.png").is_file()
    assert "Objective against trials" in report.read_text()
    heldout = list(csv.DictReader((folder / "heldout-standard-random-cnn.csv").open()))
    assert {"coverage_heldout_mean", "collapsed_heldout_mean"} <= set(heldout[0])

    again = tune(str(grid), results_root=tmp_path / "results", executor="inline", out=out)  # finished: nothing runs
    assert again.exit_code == 0 and [r.chosen for r in again.results] == [r.chosen for r in outcome.results]
