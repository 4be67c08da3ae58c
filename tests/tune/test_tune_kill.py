"""A killed ``bench tune`` resumes: ``kill`` (SIGTERM, as a batch system stops a job) stops the scheduler and its worker
cleanly (exit 130, the worker's lock released; the local executor turns SIGTERM into the interrupt Ctrl-C raises, and
tests/grid/test_grid_scheduler.py checks both signals on ``bench run``), and the same command run again finishes the
trials, resuming the stopped one and running the rest once, and writes the tuned grid. Training is the grid tests'
stub (``tests/grid/gridstub.py``, ``BENCH_TRAIN_FN``), so the test is about the protocol, not the numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.grid import load_grid
from bench.tune import draw_trial_grid

GRID_TESTS = Path(__file__).resolve().parents[1] / "grid"
sys.path.insert(0, str(GRID_TESTS))
from gridstub import attempts  # noqa: E402  (the grid tests' stub train function and its attempt count)

SEARCH = """
description = "a search grid for the kill test"
scale = "smoke"
protocols = ["standard"]

[[cells]]
dataset = "digits_lt"
method = "ecogan"

[tune]
trials = 2
seeds = [100]
keys = ["n_dis"]

[tune.objective]
minimize = "fid_half_a"
at_most = { collapsed_half_a = 0 }
"""


@pytest.fixture
def stub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every training call of the tune's workers goes to ``gridstub.train``."""
    monkeypatch.setenv("BENCH_TRAIN_FN", "gridstub:train")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(GRID_TESTS), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    for var in ("BENCH_STUB_SLEEP", "BENCH_STUB_FAIL", "BENCH_STUB_RAISE", "BENCH_STUB_CRASH",
                "BENCH_STUB_INTERRUPT_AT", "BENCH_STUB_STEP_SLEEP"):
        monkeypatch.delenv(var, raising=False)


pytestmark = pytest.mark.slow


def test_a_killed_tune_stops_cleanly_and_the_same_command_resumes_it(stub_env, tmp_path: Path, monkeypatch):
    grid = tmp_path / "killsearch.toml"
    grid.write_text(SEARCH, encoding="utf-8")
    results, tuned = tmp_path / "results", tmp_path / "killsearch-tuned.toml"
    cmd = [sys.executable, "-m", "bench.cli", "tune", "--grid", str(grid), "--results-root", str(results),
           "--out", str(tuned)]
    first, second = _trial_ids(grid)
    folder = results / "killsearch"

    monkeypatch.setenv("BENCH_STUB_SLEEP", "60")  # the first trial hangs until the signal comes
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not (folder / first / "resumed_from").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    lock = folder / ".locks" / f"{first}.lock"
    worker = json.loads(lock.read_text())["pid"]
    proc.send_signal(signal.SIGTERM)  # as kill or a batch system does; Ctrl-C takes the same path from here on
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; run the same command again to resume" in err
    assert not lock.exists() and not tuned.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    assert not (folder / second).exists()  # the second trial never started

    monkeypatch.setenv("BENCH_STUB_SLEEP", "0")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert attempts(folder / first) == 2 and attempts(folder / second) == 1  # resumed, and run once
    assert f"wrote {tuned}" in again.stdout and (folder / "tuning.csv").is_file()
    assert len(load_grid(tuned).cells()) == 2  # the paper's recipe and the tuned one


def _trial_ids(grid: Path) -> list[str]:
    """The trial cells' ids in run order (``bench tune --dry-run`` lists them)."""
    _, _, _, trials_grid, _ = draw_trial_grid(grid)
    return [c.id for c in trials_grid.cells()]
