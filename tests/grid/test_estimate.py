"""``bench run --dry-run`` shows each phase's budget and an estimated time per cell: calibrated once (then from the
rates cache), from a cell's own speed record when it ran before, zero for a finished cell."""

from __future__ import annotations

import json

import pytest
import torch

from bench.estimate import CALIBRATE_ENV, RATES_FILE, format_seconds
from bench.grid import load_grid
from bench.metrics.cache import default_cache_root
from bench.results import grid_dir
from bench.run.folder import RunDir, atomic_write_json, write_status
from bench.scheduler import run_grid
from bench.speed import PHASES


@pytest.fixture
def calibrating(monkeypatch):
    monkeypatch.setenv(CALIBRATE_ENV, "1")


def times_table(out: str) -> dict[str, list[str]]:
    """The rows of the estimated-time table, by cell."""
    table = out.split("estimated time on this machine")[1].splitlines()[2:]
    return {line.split()[0]: line.split()[1:] for line in table if line.strip()}


def test_dry_run_prints_budgets_and_calibrated_times_then_reuses_them(calibrating, tmp_path, capsys):
    summary = run_grid("smoke", results_root=tmp_path, dry_run=True, estimate=True, only="method=ebgan,method=bagan")
    assert summary.exit_code == 0 and not (tmp_path / "smoke").exists()  # nothing written but the rates cache
    out, err = capsys.readouterr()
    assert "phase budgets:" in out and all(phase in out for phase in PHASES)
    assert "1 epoch of 190 images = 190 images, 24 batches" in out  # smoke: digits_lt capped at 20 a class
    assert "20 it = 20 D updates" in out and "4 it = 20 D updates" in out
    rows = times_table(out)
    assert len(rows) == 2 and all(row[-1] == "calibrated" for row in rows.values())
    for row in rows.values():  # decode judge reference pretrain train evaluate total: all known
        assert not any(cell == "?" for cell in row[:-1]), row
    assert "calibrating" in err
    rates = json.loads((torch_cache() / RATES_FILE).read_text())
    assert len(rates) >= 5 and all(entry["seconds"] >= 0 for entry in rates.values())

    run_grid("smoke", results_root=tmp_path, dry_run=True, estimate=True, only="method=ebgan,method=bagan")
    again, err = capsys.readouterr()
    assert "calibrating" not in err  # every rate came from the cache
    assert times_table(again).keys() == rows.keys()


def test_finished_and_partly_run_cells_use_their_records(calibrating, tmp_path, capsys):
    cells = load_grid("smoke").cells()
    done, partial = cells[0], cells[-1]
    root = grid_dir(tmp_path, "smoke")
    write_status(RunDir(root / done.id), "done", done.config.steps, done.config.steps)
    run = RunDir(root / partial.id)
    half = partial.config.steps // 2
    write_status(run, "pending", half, partial.config.steps)
    atomic_write_json(run.speed, {"dtype": "float32", "threads": torch.get_num_threads(),
                                  "phases": {"evaluation": 3.0},
                                  "train": {"iterations": half, "seconds": 40.0 * half, "s_per_iteration": 40.0}})
    run_grid("smoke", results_root=tmp_path, dry_run=True, estimate=True, only=f"id={done.id},id={partial.id}")
    rows = times_table(capsys.readouterr().out)
    assert " ".join(rows[done.id]) == "0 s " * (len(PHASES) + 1) + "done (skipped)"
    assert rows[partial.id][-1] == "recorded"
    train = format_seconds(40.0 * (partial.config.steps - half))  # the recorded rate times the steps left
    assert f" {train} " in " ".join(rows[partial.id])


def test_without_calibration_unknown_rates_show_as_question_marks(tmp_path, capsys):
    run_grid("smoke", results_root=tmp_path, dry_run=True, estimate=True, only="method=ecogan")
    rows = times_table(capsys.readouterr().out)
    (row,) = rows.values()
    assert "?" in row


def torch_cache():
    return default_cache_root()
