"""Fixtures of the grid tests: a results folder, the stub train function and a small grid file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gridstub import STUB_GRID

HERE = Path(__file__).parent

@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route every training call (in this process and in subprocesses) to ``gridstub.train``."""
    monkeypatch.setenv("BENCH_TRAIN_FN", "gridstub:train")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU lookup (and no torch import) in the scheduler
    for var in ("BENCH_STUB_SLEEP", "BENCH_STUB_FAIL", "BENCH_STUB_RAISE", "BENCH_STUB_CRASH",
                "BENCH_STUB_INTERRUPT_AT", "BENCH_STUB_STEP_SLEEP"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def stub_grid(tmp_path: Path) -> Path:
    path = tmp_path / "stubgrid.toml"
    path.write_text(STUB_GRID, encoding="utf-8")
    return path
