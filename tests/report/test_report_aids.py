"""The training-aid axes end to end: two smoke runs (without and with LeCam + DiffAugment) through the real loop,
``bench gather`` and ``bench report``: the gathered CSV and the report carry them as columns."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from bench.cli import main

pytestmark = pytest.mark.slow

GRID = """description = "aids"
scale = "smoke"
protocols = ["standard"]

[[cells]]
dataset = "digits_lt"
method = "projgan"

[[cells]]
dataset = "digits_lt"
method = "projgan"
regularizer = "lecam"
augment = "diffaug"
"""


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output[-3000:]
    return result.output


def test_aids_reach_config_gathered_csv_and_report_columns(tmp_path) -> None:
    grid, results, reports = tmp_path / "aids.toml", tmp_path / "results", tmp_path / "reports"
    grid.write_text(GRID, encoding="utf-8")
    invoke("run", "--grid", str(grid), "--results-root", str(results), "--workers", "1")
    aided = results / "aids" / "digits_lt-projgan-none-s0-reg_lecam-aug_diffaug"
    config = json.loads((aided / "config.json").read_text())
    assert (config["config"]["regularizer"], config["config"]["augment"]) == ("lecam", "diffaug")
    assert (config["recipe"]["regularizer"], config["recipe"]["augment"]) == ("lecam", "diffaug")
    plain = json.loads((results / "aids" / "digits_lt-projgan-none-s0" / "config.json").read_text())
    assert "regularizer" not in plain["config"] or plain["config"]["regularizer"] == "none"
    assert plain["hash"] != config["hash"]
    losses = (aided / "losses.csv").read_text()
    assert "loss/d_lecam" in losses.splitlines()[0]

    invoke("gather", "--grid", str(grid), "--results-root", str(results))
    with (results / "aids.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["cell"].endswith("aug_diffaug"), r["regularizer"], r["augment"]) for r in rows} == {
        (False, "none", "none"), (True, "lecam", "diffaug")}

    invoke("report", "--grid", "aids", "--results-root", str(results), "--reports-root", str(reports))
    tables = "\n".join(p.read_text() for p in (reports / "aids").rglob("*.md"))
    assert "| Regulariser | Augment |" in tables and "| LeCam | DiffAugment |" in tables
