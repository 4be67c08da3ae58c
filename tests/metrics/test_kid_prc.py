"""KID, precision/recall and conditional accuracy against torch-fidelity and closed-form cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import calculate_precision_recall_full

from bench.metrics.accuracy import conditional_accuracy
from bench.metrics.kid import kernel_inception_distance
from bench.metrics.prc import precision_recall


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def test_kid_matches_torch_fidelity():
    fake, real = _features(60, 16, 0, shift=0.5), _features(50, 16, 1)
    ours = kernel_inception_distance(fake, real, subsets=7, subset_size=30, seed=11)
    theirs = kid_features_to_metric(fake, real, kid_subsets=7, kid_subset_size=30, rng_seed=11, verbose=False)
    assert ours[0] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert ours[1] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-4)


def test_kid_caps_the_subset_size_at_the_smaller_set_and_is_nan_below_two():
    fake, real = _features(40, 8, 0, shift=1.0), _features(25, 8, 1)
    ours = kernel_inception_distance(fake, real, subsets=5, subset_size=1000, seed=3)
    theirs = kid_features_to_metric(fake, real, kid_subsets=5, kid_subset_size=25, rng_seed=3, verbose=False)
    assert ours[0] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert ours[0] > 0
    assert all(math.isnan(v) for v in kernel_inception_distance(fake[:1], real))


def test_precision_recall_match_torch_fidelity():
    fake, real = _features(70, 6, 0, shift=0.7), _features(90, 6, 1)
    precision, recall = precision_recall(fake, real, k=3)
    theirs = calculate_precision_recall_full(fake, real, neighborhood=3)
    assert (precision, recall) == pytest.approx(theirs, abs=1e-6)  # theirs: float32 means
    assert 0 < precision < 1 and 0 < recall < 1


def test_precision_recall_of_a_set_against_itself_is_one_and_nan_when_tiny():
    x = _features(30, 4, 0)
    assert precision_recall(x, x) == (1.0, 1.0)
    assert all(math.isnan(v) for v in precision_recall(x[:3], x))


def test_conditional_accuracy_per_class_with_nan_for_classes_without_fakes():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 1, 0, 1, 0, 2])
    logits = torch.nn.functional.one_hot(predicted, 4).float()
    acc = conditional_accuracy(logits, labels, 4)
    assert acc[:3].tolist() == [0.75, 0.5, 1.0]
    assert math.isnan(acc[3])


def test_kid_when_every_subset_is_both_whole_sets():
    fake, real = _features(30, 8, 0, shift=0.5), _features(30, 8, 1)
    ours = kernel_inception_distance(fake, real, subsets=4, subset_size=1000)
    theirs = kid_features_to_metric(fake, real, kid_subsets=4, kid_subset_size=30, rng_seed=2020, verbose=False)
    assert ours[0] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert ours[1] == 0.0 and theirs["kernel_inception_distance_std"] < 1e-6


def _mmd2_unbiased_float64(x: torch.Tensor, y: torch.Tensor) -> float:
    """The formula: mean of k over off-diagonal pairs within each set, minus twice the mean across, in float64."""
    x, y = x.double(), y.double()
    d, m = x.shape[1], x.shape[0]

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    within = (k(x, x).sum() - k(x, x).diagonal().sum() + k(y, y).sum() - k(y, y).diagonal().sum()) / (m * (m - 1))
    return float(within - 2 * k(x, y).mean())


def test_kid_of_whole_sets_matches_the_float64_formula_to_float32_rounding():
    # torch-fidelity sums its float32 kernels in float32: the formula in float64 agrees to ~1e-5 relative
    fake, real = _features(80, 24, 0, shift=0.3), _features(80, 24, 1)
    mean, std = kernel_inception_distance(fake, real)
    assert mean == pytest.approx(_mmd2_unbiased_float64(fake, real), rel=1e-5)
    assert std == 0.0


def test_precision_recall_are_exact_fractions_of_the_rows():
    fake, real = _features(70, 6, 0, shift=0.7), _features(90, 6, 1)
    precision, recall = precision_recall(fake, real)
    assert precision * 70 == pytest.approx(round(precision * 70), abs=1e-9)
    assert recall * 90 == pytest.approx(round(recall * 90), abs=1e-9)
    assert 0 < precision < 1 and 0 < recall < 1
