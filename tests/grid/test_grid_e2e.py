"""End to end with the real training loop: ``bench run --grid smoke`` with subprocess workers, a second run
that does nothing, the Slurm executor in submitit's local mode giving the same gathered CSV, and a cell
whose dataset is missing failing alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gridstub import attempts

from bench.grid import load_grid
from bench.scheduler import run_grid

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_env(tmp_path_factory):
    """Environment for real runs: one classifier cache for the module, one CPU thread per process (so that
    both executors compute bit-identical numbers), and no stub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_TRAIN_FN", "BENCH_STUB"))}
    env.update(BENCH_CACHE=str(tmp_path_factory.mktemp("cache")), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def bench(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], env=env, capture_output=True, text=True,
                          timeout=900)


def sorted_lines(path: Path) -> tuple[str, list[str]]:
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    return header, sorted(rows)


def test_smoke_grid_end_to_end_local_and_slurm_local(real_env, tmp_path):
    ids = [c.id for c in load_grid("smoke").cells()]
    local, slurm = tmp_path / "local", tmp_path / "slurm"

    first = bench(real_env, "run", "--grid", "smoke", "--results-root", str(local))
    assert first.returncode == 0, first.stderr[-3000:]
    for cell in ids:
        assert attempts(local / "smoke" / cell) == 1
        assert f"{cell}: done" in first.stderr
    assert "5 done" in first.stdout

    second = bench(real_env, "run", "--grid", "smoke", "--results-root", str(local))
    assert second.returncode == 0 and "5 skipped" in second.stdout, second.stdout
    assert all(attempts(local / "smoke" / cell) == 1 for cell in ids)

    third = bench(real_env, "run", "--grid", "smoke", "--executor", "slurm", "--slurm-local",
                  "--array-parallelism", "2", "--results-root", str(slurm))
    assert third.returncode == 0, third.stderr[-3000:]
    assert all(attempts(slurm / "smoke" / cell) == 1 for cell in ids)

    for root in (local, slurm):
        done = bench(real_env, "gather", "--grid", "smoke", "--results-root", str(root))
        assert done.returncode == 0, done.stderr
    header, rows = sorted_lines(local / "smoke.csv")
    assert rows and sorted_lines(slurm / "smoke.csv") == (header, rows)
    assert {r.split(",")[1] for r in rows} == set(ids)

    status = bench(real_env, "status", "--grid", "smoke", "--results-root", str(local))
    assert status.returncode == 0 and "5 done" in status.stdout


def test_missing_dataset_fails_that_cell_only(real_env, tmp_path, monkeypatch, capsys):
    for key, value in real_env.items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith(("BENCH_TRAIN_FN", "BENCH_STUB"))]:
        monkeypatch.delenv(key)
    grid = tmp_path / "mixed.toml"
    grid.write_text('description = "one cell with data, one without"\nscale = "smoke"\n'
                    '[axes]\ndataset = ["places_lt", "digits_lt"]\nmethod = ["ecogan"]\n')
    empty = tmp_path / "data"
    empty.mkdir()
    summary = run_grid(grid, results_root=tmp_path / "results", executor="inline",
                       overrides={"data_root": str(empty)})
    states = {r.cell: r for r in summary.results}
    assert states["digits_lt-ecogan-none-s0"].state == "done"
    missing = states["places_lt-ecogan-none-s0"]
    assert missing.state == "failed" and "Places_LT not found" in missing.error and str(empty) in missing.error
    assert summary.exit_code == 1
    assert "Places_LT not found" in capsys.readouterr().out  # the reason is in the summary table
