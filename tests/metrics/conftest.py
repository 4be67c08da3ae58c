"""Fixtures of the metrics tests: a toy long-tailed dataset and a shared cache root."""

from __future__ import annotations

import pytest

from bench.datasets.base import ImageSet

from .helpers import make_image_set


@pytest.fixture(scope="session")
def toy_sets() -> tuple[ImageSet, ImageSet]:
    """(long-tailed train split, balanced reference split) of 5 classes, 16x16, 1 channel."""
    return make_image_set([40, 24, 14, 8, 4], "train", seed=0), make_image_set([30] * 5, "test", seed=1)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory):
    """A cache root shared by tests that do not test caching (the toy classifier trains once)."""
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No metrics test may download weights: the only download function raises as it would offline."""
    from bench.metrics import weights

    def offline(url, dst, hash_prefix=None):
        raise OSError(f"<urlopen error [Errno -3] Temporary failure in name resolution> ({url})")

    monkeypatch.setattr(weights, "download", offline)


@pytest.fixture(autouse=True)
def one_thread():
    """Run each metrics test on one intra-op thread (restored afterwards): the tensors are tiny, and on a
    2-core machine shared with other jobs two OpenMP threads ran these tests ~8x slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
