"""Fixtures for the dataset tests: no network, and builders of tiny on-disk datasets."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from ds_helpers import write_image


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or connect fails at once, as on an offline machine (nothing may download)."""

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in the dataset tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(autouse=True)
def no_bench_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's $BENCH_DATA must not leak into the tests."""
    monkeypatch.delenv("BENCH_DATA", raising=False)


@pytest.fixture
def make_folder_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Build ``<tmp>/<name>/<split>/<class folder>/<i>.png`` trees of constant-colour images.

    ``classes`` maps a class folder name to the number of images; image i of class folder k has the colour
    ``(10 * position_of_k + i, 100, 200)`` so tests can tell which file landed where.
    """

    def make(classes: dict[str, int], splits: Sequence[str] = ("train", "valid"), size: tuple[int, int] = (8, 8),
             name: str = "imgs", suffix: str = ".png") -> Path:
        root = tmp_path / name
        for split in splits:
            for pos, (folder, count) in enumerate(classes.items()):
                (root / split / folder).mkdir(parents=True, exist_ok=True)
                for i in range(count):
                    colour = np.array([10 * pos + i, 100, 200], dtype=np.uint8)
                    write_image(root / split / folder / f"{i}{suffix}", np.broadcast_to(colour, (*size, 3)).copy())
        return root

    return make
