"""FashionMNIST_LT from a tiny fake tree in torchvision's raw idx format, and the offline error.

torchvision only checks that the four raw files exist (no md5 for unpacked files), so no patching is needed.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from bench.datasets import load_dataset
from bench.datasets.sources import fashion_mnist
from bench.errors import DataNotFoundError

BASE_COUNTS = [700] + [650] * 9  # ecogan counts: [700, 100, 200, ..., 600, 650, 650, 650]


def _write_idx(path: Path, array: np.ndarray) -> None:
    """The MNIST idx format: big-endian magic (0, 0, type 0x08 = ubyte, ndim), the dims, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def fake_fmnist(tmp_path_factory) -> tuple[Path, np.ndarray]:
    root = tmp_path_factory.mktemp("fmnist_root")
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(10), BASE_COUNTS))
    images = np.zeros((labels.size, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(labels.size) % 256  # the index, to check which images were kept
    images[:, 0, 1] = np.arange(labels.size) // 256
    images[:, 2:, 2:] = 40
    _write_idx(raw / "train-images-idx3-ubyte", images)
    _write_idx(raw / "train-labels-idx1-ubyte", labels)
    _write_idx(raw / "t10k-images-idx3-ubyte", images[:30])
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.tile(np.arange(10), 3))
    return root, labels


@pytest.fixture
def offline_download(monkeypatch):
    calls = []

    def fail(self):
        calls.append(self.root)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried http://..., got: URLError")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", fail)
    return calls


def test_fashion_mnist_lt_counts_order_and_one_channel(fake_fmnist, offline_download):
    root, labels = fake_fmnist
    data = load_dataset("fashion_mnist_lt", data_root=root)
    assert data.class_counts == [700, 100, 200, 300, 400, 500, 600, 650, 650, 650]
    assert data.images.shape == (sum(data.class_counts), 1, 28, 28)  # 1 channel: the paper's Nov-2022 runs
    seen, expected = [0] * 10, []
    for i, y in enumerate(labels.tolist()):
        if seen[y] < data.class_counts[y]:
            expected.append(i)
        seen[y] += 1
    index = data.images[:, 0, 0, 0].long() + 256 * data.images[:, 0, 0, 1].long()
    assert index.tolist() == expected
    assert data.class_names[0] == "T-shirt/top"
    assert offline_download == []


def test_fashion_mnist_resized_rgb_and_test_split(fake_fmnist, offline_download):
    root, _ = fake_fmnist
    data = load_dataset("fashion_mnist_lt", data_root=root, image_size=64, channels=3, max_per_class=5)
    assert data.images.shape == (50, 3, 64, 64)
    assert torch.equal(data.images[:, 0], data.images[:, 2])
    test = load_dataset("fashion_mnist_lt", split="test", data_root=root)
    assert test.class_counts == [3] * 10


def test_absent_and_offline_names_files_and_url(tmp_path, offline_download):
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("fashion_mnist_lt", data_root=tmp_path)
    message = str(err.value)
    assert f"{tmp_path}/FashionMNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte" in message
    assert fashion_mnist.URL in message and "download failed" in message and "\n" not in message
    assert offline_download == [str(tmp_path)]


def test_unreadable_files_are_reported(tmp_path, offline_download):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in fashion_mnist.FILES:
        (raw / name).write_bytes(b"\x00\x00\x08\x09garbage")  # ndim 9: torchvision refuses it
    with pytest.raises(DataNotFoundError, match="FashionMNIST not found at .* or unreadable"):
        load_dataset("fashion_mnist_lt", data_root=tmp_path)
    assert offline_download == []  # all four files present: no download attempted
