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


# -- an image-folder copy (class-named folders, e.g. a JPEG copy) --------------------------------------------
COPY_COUNTS = [3] + [101] * 9  # the ecogan rule keeps class 0 whole and the first min(100c, n) of class c


def _write_copy(base: Path) -> None:
    """<base>/{train,test}/<class>/<i>.png (unpadded numbers: natural order puts 2 before 10); pixel (0, 0) holds
    the class in R and the image's number in G."""
    from PIL import Image

    for split, counts in (("train", COPY_COUNTS), ("test", [2] * 10)):
        for label, (name, count) in enumerate(zip(NAMES, counts, strict=True)):
            folder = base / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.full((32, 32, 3), 77, dtype=np.uint8)
                pixels[0, 0, :2] = (label, i)
                Image.fromarray(pixels).save(folder / f"{i}.png")


@pytest.fixture(scope="module")
def cifar_copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("copy_root")
    _write_copy(root / "cifar10")
    return root


def test_cifar10_lt_from_an_image_folder_copy_keeps_the_first_images_of_each_class(cifar_copy, offline_download):
    data = load_dataset("cifar10_lt", data_root=cifar_copy)
    assert data.name == "cifar10_lt" and data.class_names == NAMES
    assert data.class_counts == [3] + [min(100 * c, 101) for c in range(1, 10)]
    assert data.images.shape == (sum(data.class_counts), 3, 32, 32)
    assert data.labels.tolist() == data.images[:, 0, 0, 0].tolist()
    numbers = data.images[:, 1, 0, 0]
    assert numbers[data.labels == 1].tolist() == list(range(100))  # natural order: 0, 1, 2, ..., 99 (not 0, 1, 10)
    assert numbers[data.labels == 0].tolist() == [0, 1, 2]
    assert offline_download == []  # a copy is there: no download attempted


def test_cifar10_from_a_copy_given_as_the_data_root_itself(cifar_copy, offline_download):
    root = cifar_copy / "cifar10"  # <root>/{train,test}/<class>/ (how the shared JPEG copy extracts)
    train = load_dataset("cifar10", data_root=root, image_size=16)
    assert train.class_counts == COPY_COUNTS and train.images.shape[1:] == (3, 16, 16)
    test = load_dataset("cifar10_lt", split="test", data_root=root)
    assert test.class_counts == [2] * 10
    assert offline_download == []


def test_an_incomplete_copy_is_not_taken_for_one(tmp_path, offline_download):
    (tmp_path / "train" / "airplane").mkdir(parents=True)  # one class only: not a CIFAR-10 copy
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("cifar10", data_root=tmp_path)
    assert f"{tmp_path}/cifar10/{{train,test}}/<class>/" in str(err.value) and "airplane" in str(err.value)
