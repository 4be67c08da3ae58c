"""digits_lt: scikit-learn's digits, the fixed last-50-per-class test split, the exponential long tail."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from bench.datasets import load_dataset


@pytest.fixture(scope="module")
def sk():
    bunch = load_digits()
    return bunch.images, bunch.target


def _split_indices(target: np.ndarray) -> tuple[list[int], list[int]]:
    """Independent reference: walk each class's indices and send the last 50 to test."""
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(target == c).tolist()
        train += idx[:-50]
        test += idx[-50:]
    return sorted(train), sorted(test)


def test_test_split_is_last_50_per_class(sk):
    images, target = sk
    _, test_idx = _split_indices(target)
    test = load_dataset("digits_lt", split="test")
    assert test.images.shape == (500, 1, 8, 8) and test.class_counts == [50] * 10
    assert test.labels.tolist() == target[test_idx].tolist()
    expected = np.floor(images[test_idx] * 255 / 16 + 0.5).astype(np.uint8)  # 0..16 -> 0..255
    assert np.array_equal(test.images[:, 0].numpy(), expected)


def test_train_split_is_exponential_ratio_10_of_the_train_counts(sk):
    _, target = sk
    train_idx, _ = _split_indices(target)
    base = np.bincount(target[train_idx], minlength=10).tolist()
    assert sum(base) == 1297
    n_max = max(base)
    expected_counts = [min(math.floor(n_max * 10 ** (-c / 9) + 1e-9), n) for c, n in enumerate(base)]
    data = load_dataset("digits_lt")
    assert data.class_counts == expected_counts
    assert data.class_counts[0] == base[0] and data.class_counts[-1] == 13  # floor(133 / 10) = 13
    seen, kept = [0] * 10, []
    for i in train_idx:  # first n_c of each class, in scikit-learn order
        y = int(target[i])
        if seen[y] < expected_counts[y]:
            kept.append(i)
        seen[y] += 1
    assert data.labels.tolist() == target[kept].tolist()


@pytest.mark.parametrize("size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_value_range(size, channels):
    data = load_dataset("digits_lt", image_size=size, channels=channels)
    assert data.images.shape == (sum(data.class_counts), channels, size, size)
    assert data.images.dtype == torch.uint8 and data.labels.dtype == torch.int64
    assert int(data.images.min()) == 0 and int(data.images.max()) == 255  # 0 and 16 are both present in digits
    floats = data.float_images(torch.arange(4))
    assert floats.min() >= -1 and floats.max() <= 1
