"""Suite-wide isolation: tests never read or write a developer's caches, results or weights settings."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    """Classifiers and reference features go to a temporary cache; BENCH_* settings of the shell are dropped
    (folders' own conftests and tests set what they need on top of this)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("BENCH_CACHE", str(tmp_path_factory.mktemp("bench_cache")))
    patch.setenv("BENCH_CPU_BF16", "0")  # fp32 at every scale: results and cell ids do not depend on the CPU
    patch.setenv("BENCH_CALIBRATE", "0")  # dry runs estimate from recorded rates only (tests of the estimates set it)
    for name in ("BENCH_RESULTS", "BENCH_DATA", "BENCH_METHODS", "BENCH_INCEPTION_WEIGHTS",
                 "BENCH_TV_INCEPTION_WEIGHTS", "BENCH_DINOV2_WEIGHTS", "BENCH_TRAIN_FN", "BENCH_OFFLINE"):
        patch.delenv(name, raising=False)
    yield
    patch.undo()
