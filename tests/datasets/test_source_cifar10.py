"""CIFAR-10 / CIFAR10_LT from a tiny fake tree in torchvision's on-disk format, and the offline errors.

torchvision checks each file's md5 against the real CIFAR-10's; the fake files cannot match, so the tests
replace ``torchvision.datasets.cifar.check_integrity`` (used by both ``_check_integrity`` and ``_load_meta``)
by a file-exists check. The source itself still goes through ``torchvision.datasets.CIFAR10``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision

from bench.datasets import load_dataset
from bench.datasets.sources import cifar10
from bench.errors import DataNotFoundError

BASE_COUNTS = [1000] + [900] * 9  # scaled-down CIFAR-10 train: ecogan counts are [1000, 100, ..., 900]
TEST_PER_CLASS = 10
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _images_encoding_index(n: int, offset: int) -> np.ndarray:
    """(n, 3072) rows in CIFAR's layout (R plane, G plane, B plane); pixel (0, 0) holds the image's index."""
    index = np.arange(offset, offset + n)
    images = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    images[:, 0, 0, 0] = index % 256
    images[:, 1, 0, 0] = index // 256
    images[:, 2] = 77
    return images.reshape(n, 3072)


def _decode_index(images: torch.Tensor) -> list[int]:
    return (images[:, 0, 0, 0].long() + 256 * images[:, 1, 0, 0].long()).tolist()


@pytest.fixture(scope="module")
def fake_cifar(tmp_path_factory) -> tuple[Path, list[int], list[int]]:
    """A data root with cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}; returns the labels."""
    root = tmp_path_factory.mktemp("cifar_root")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    train_labels = rng.permutation(np.repeat(np.arange(10), BASE_COUNTS)).tolist()
    test_labels = rng.permutation(np.repeat(np.arange(10), TEST_PER_CLASS)).tolist()
    data = _images_encoding_index(len(train_labels), 0)
    for b, rows in enumerate(np.array_split(np.arange(len(train_labels)), 5), start=1):
        batch = {"data": data[rows], "labels": [train_labels[i] for i in rows]}
        (folder / f"data_batch_{b}").write_bytes(pickle.dumps(batch))
    test = {"data": _images_encoding_index(len(test_labels), 50000), "labels": test_labels}
    (folder / "test_batch").write_bytes(pickle.dumps(test))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": NAMES}))
    return root, train_labels, test_labels


@pytest.fixture
def skip_md5(monkeypatch):
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


@pytest.fixture
def offline_download(monkeypatch):
    """torchvision's download fails the way it does without network."""
    calls = []

    def fail(self):
        calls.append(self.root)
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", fail)
    return calls


def _first_per_class(labels: list[int], counts: list[int]) -> list[int]:
    seen, kept = [0] * len(counts), []
    for i, y in enumerate(labels):
        if seen[y] < counts[y]:
            kept.append(i)
        seen[y] += 1
    return kept


def test_cifar10_lt_counts_and_first_per_class_order(fake_cifar, skip_md5, offline_download):
    root, train_labels, _ = fake_cifar
    data = load_dataset("cifar10_lt", data_root=str(root))
    assert data.name == "cifar10_lt" and data.split == "train"
    assert data.class_counts == [1000, 100, 200, 300, 400, 500, 600, 700, 800, 900]
    assert data.images.shape == (5500, 3, 32, 32) and data.images.dtype == torch.uint8
    expected = _first_per_class(train_labels, data.class_counts)
    assert _decode_index(data.images) == expected
    assert data.labels.tolist() == [train_labels[i] for i in expected]
    assert data.class_names == NAMES
    assert offline_download == []  # files present: no download attempted


def test_cifar10_resized_gray_and_max_per_class(fake_cifar, skip_md5, offline_download):
    root, train_labels, _ = fake_cifar
    data = load_dataset("cifar10_lt", data_root=root, image_size=16, channels=1, max_per_class=150)
    assert data.images.shape == (1450, 1, 16, 16)
    assert data.class_counts == [150, 100] + [150] * 8
    assert data.labels.tolist() == [train_labels[i] for i in _first_per_class(train_labels, data.class_counts)]
    assert torch.all(data.images[:, :, 4:, 4:] == round(0.114 * 77))  # B plane 77, R = G = 0 away from (0, 0)


def test_cifar10_balanced_and_test_split(fake_cifar, skip_md5, offline_download):
    root, train_labels, test_labels = fake_cifar
    assert load_dataset("cifar10", data_root=root).class_counts == BASE_COUNTS
    test = load_dataset("cifar10_lt", split="test", data_root=root, image_size=64)
    assert test.split == "test" and test.images.shape == (100, 3, 64, 64)
    assert test.class_counts == [TEST_PER_CLASS] * 10  # the profile never touches the test split
    assert test.labels.tolist() == test_labels


def test_absent_and_offline_names_files_and_url(tmp_path, offline_download):
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("cifar10_lt", data_root=tmp_path)
    message = str(err.value)
    assert f"{tmp_path}/cifar-10-batches-py/{{data_batch_1..5,test_batch,batches.meta}}" in message
    assert cifar10.URL in message and "download failed" in message and "URLError" in message
    assert "\n" not in message
    assert offline_download == [str(tmp_path)]


def test_corrupted_files_are_reported(fake_cifar, offline_download):
    root, _, _ = fake_cifar  # real md5 check: the fake files fail it
    with pytest.raises(DataNotFoundError, match="incomplete or corrupted.*delete .*cifar-10-batches-py"):
        load_dataset("cifar10", data_root=root)
    assert offline_download == []
