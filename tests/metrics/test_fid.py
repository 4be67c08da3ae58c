"""FID: the nuclear-norm form against torch-fidelity, per-class FID, statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from bench.metrics.fid import fid_from_statistics, fid_statistics, frechet_distance, per_class_fid


def _tf_fid(a: torch.Tensor, b: torch.Tensor) -> float:
    """torch-fidelity's FID on float64 features (the independent reference)."""
    sa, sb = fid_features_to_statistics(a.double()), fid_features_to_statistics(b.double())
    return fid_statistics_to_metric(sa, sb, verbose=False)["frechet_inception_distance"]


def _features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    mixing = torch.randn(d, d, generator=gen) / math.sqrt(d)  # correlated features
    return (torch.randn(n, d, generator=gen) @ mixing) * scale + shift


@pytest.mark.parametrize(("n1", "n2", "d"), [(200, 150, 16), (12, 20, 64), (40, 9, 32), (70, 30, 48)])
def test_frechet_distance_matches_torch_fidelity(n1, n2, d):
    a, b = _features(n1, d, 0), _features(n2, d, 1, shift=0.3, scale=1.5)
    assert frechet_distance(a, b) == pytest.approx(_tf_fid(a, b), rel=1e-6, abs=1e-9)


def test_fid_of_a_set_against_itself_is_zero_and_grows_with_shift():
    a = _features(30, 64, 0)
    assert abs(frechet_distance(a, a)) < 1e-9
    assert frechet_distance(a, a + 0.5) == pytest.approx(64 * 0.25, rel=1e-9)  # only the mean term moves


def test_fid_statistics_match_torch_fidelity_and_feed_its_metric():
    a, b = _features(50, 8, 0), _features(60, 8, 1, shift=1.0)
    ours, theirs = fid_statistics(a), fid_features_to_statistics(a.double())
    np.testing.assert_allclose(ours["mu"], theirs["mu"], rtol=1e-12)
    np.testing.assert_allclose(ours["sigma"], theirs["sigma"], rtol=1e-10, atol=1e-12)
    assert ours["mu"].dtype == np.float64 and ours["sigma"].dtype == np.float64
    assert fid_from_statistics(fid_statistics(a), fid_statistics(b)) == pytest.approx(_tf_fid(a, b), rel=1e-9)


def test_frechet_distance_is_nan_below_two_samples():
    assert math.isnan(frechet_distance(torch.zeros(1, 4), torch.zeros(5, 4)))
    assert math.isnan(frechet_distance(torch.zeros(5, 4), torch.zeros(0, 4)))


def test_per_class_fid_one_value_per_class_each_equal_to_torch_fidelity():
    d, num_classes = 32, 4
    real_labels = torch.tensor([0] * 30 + [1] * 10 + [2] * 3 + [3] * 1)
    fake_labels = torch.tensor([2] * 5 + [0] * 20 + [1] * 12 + [3] * 6)[torch.randperm(43,
                               generator=torch.Generator().manual_seed(0))]
    real = _features(real_labels.numel(), d, 0) + real_labels[:, None].float()
    fake = _features(fake_labels.numel(), d, 1, scale=1.2) + 1.1 * fake_labels[:, None].float()
    fids = per_class_fid(real, real_labels, fake, fake_labels, num_classes)
    assert fids.shape == (num_classes,) and fids.dtype == torch.float64
    for c in range(3):
        expected = _tf_fid(real[real_labels == c], fake[fake_labels == c])
        assert fids[c].item() == pytest.approx(expected, rel=1e-6)
    assert math.isnan(fids[3])  # one real sample only


def test_per_class_fid_nan_for_a_class_without_fakes_and_large_classes_use_the_d_by_d_path():
    d = 8
    real_labels = torch.tensor([0] * 40 + [1] * 40)
    fake_labels = torch.tensor([0] * 50)
    real, fake = _features(80, d, 0), _features(50, d, 1, shift=0.2)
    fids = per_class_fid(real, real_labels, fake, fake_labels, 2)
    assert fids[0].item() == pytest.approx(_tf_fid(real[:40], fake), rel=1e-6)
    assert math.isnan(fids[1])
