"""Inception Score: the closed-form cases and torch-fidelity's implementation."""

from __future__ import annotations

import math

import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric

from bench.metrics.isc import inception_score


def _one_hot_logits(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).double() * 100.0  # softmax = one-hot to 1e-43


@pytest.mark.parametrize("splits", [1, 10])
def test_is_of_balanced_one_hot_predictions_is_the_number_of_classes(splits):
    num_classes = 7
    labels = torch.arange(70) % num_classes  # each contiguous split of 7 holds every class once
    mean, std = inception_score(_one_hot_logits(labels, num_classes), splits=splits)
    assert mean == pytest.approx(num_classes, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_is_is_one_when_all_predictions_are_the_same_class():
    mean, _ = inception_score(_one_hot_logits(torch.full((40,), 3), 10), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-9)


def test_class_sorted_contiguous_splits_lower_is_versus_shuffled_splits():
    # the paper protocol's quirk: class-sorted splits each hold one class, so IS ~ 1; shuffled splits see all 10
    labels = torch.arange(100) // 10
    logits = _one_hot_logits(labels, 10)
    assert inception_score(logits, 10)[0] == pytest.approx(1.0, abs=1e-9)
    assert inception_score(logits, 10, shuffle_seed=2020)[0] > 4.0


@pytest.mark.parametrize(("n", "shuffle"), [(100, False), (103, False), (97, True)])
def test_is_matches_torch_fidelity(n, shuffle):
    logits = torch.randn(n, 12, generator=torch.Generator().manual_seed(n)) * 3
    ours = inception_score(logits, 10, shuffle_seed=2020 if shuffle else None)
    theirs = isc_features_to_metric(logits, splits=10, shuffle=shuffle, rng_seed=2020)
    assert ours[0] == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert ours[1] == pytest.approx(theirs["inception_score_std"], rel=1e-6, abs=1e-12)


def test_is_with_fewer_samples_than_splits_and_empty():
    mean, _ = inception_score(_one_hot_logits(torch.tensor([0, 1, 2]), 3), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-9)  # 3 splits of one sample each
    assert all(math.isnan(v) for v in inception_score(torch.zeros(0, 3)))
