"""Bootstrap intervals of FID and the reference halves: exact against the unweighted formula, and covering a
known FID between Gaussians."""

from __future__ import annotations

import math

import pytest
import torch

from bench.metrics.bootstrap import basic_interval, reference_halves, resampled_fids, stratified_counts
from bench.metrics.fid import frechet_distance, per_class_fid

C = 4
ALL_HEAD_TAIL = torch.stack([torch.ones(C, dtype=torch.bool), torch.arange(C) < 2, torch.arange(C) >= 2])


def _sets(n: int, d: int, seed: int, shift: float = 0.3, scale: float = 1.2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g) * scale + shift


@pytest.mark.parametrize(("n", "d"), [(40, 16), (400, 8)])  # classes below and above the feature count
def test_unit_weights_give_the_plain_fids(n, d):
    real, fake = _sets(n, d, 0)
    real[:, 0] = 0.0  # a dead feature: singular covariances take the eigendecomposition path
    labels = torch.arange(n) % C
    ones = torch.ones(1, n, dtype=torch.float64)
    per_class, pooled = resampled_fids(real, labels, ones, fake, labels, ones, C, ALL_HEAD_TAIL)
    head = labels < 2
    expected = [frechet_distance(real, fake), frechet_distance(real[head], fake[head]),
                frechet_distance(real[~head], fake[~head])]
    assert pooled[0].tolist() == pytest.approx(expected, rel=1e-9)
    assert per_class[0].tolist() == pytest.approx(per_class_fid(real, labels, fake, labels, C).tolist(), rel=1e-6)


def test_integer_weights_equal_the_fid_of_the_repeated_rows():
    real, fake = _sets(60, 6, 1)
    labels = torch.arange(60) % C
    g = torch.Generator().manual_seed(3)
    w_real, w_fake = stratified_counts(labels, 1, g), stratified_counts(labels, 1, g)
    _, pooled = resampled_fids(real, labels, w_real, fake, labels, w_fake, C, ALL_HEAD_TAIL)
    repeated_real = real.repeat_interleave(w_real[0].long(), dim=0)
    repeated_fake = fake.repeat_interleave(w_fake[0].long(), dim=0)
    assert float(pooled[0, 0]) == pytest.approx(frechet_distance(repeated_real, repeated_fake), rel=1e-9)


def test_stratified_counts_keep_every_class_size():
    labels = torch.tensor([2, 0, 0, 1, 2, 2, 0, 1, 2])
    counts = stratified_counts(labels, 50, torch.Generator().manual_seed(0))
    per_class = torch.zeros(50, 3, dtype=torch.float64).index_add_(1, labels, counts)
    assert torch.equal(per_class, torch.bincount(labels).double().expand(50, 3))
    assert (counts.std(0) > 0).all()  # rows really are redrawn


def test_basic_interval_covers_a_known_gaussian_fid_in_at_least_90_percent_of_50_trials():
    # real ~ N(0, I), fake ~ N(m·1, s²I): FID = d·m² + d·(1 − s)² exactly
    n, d, m, s = 200, 16, 0.3, 1.2
    true_fid = d * m**2 + d * (1 - s) ** 2
    labels = torch.arange(n) % C
    ones = torch.ones(1, n, dtype=torch.float64)
    g = torch.Generator().manual_seed(11)
    covered = 0
    for trial in range(50):
        real, fake = _sets(n, d, 100 + trial, shift=m, scale=s)
        _, point = resampled_fids(real, labels, ones, fake, labels, ones, C, ALL_HEAD_TAIL[:1])
        _, replicates = resampled_fids(real, labels, stratified_counts(labels, 100, g), fake, labels,
                                       stratified_counts(labels, 100, g), C, ALL_HEAD_TAIL[:1])
        lo, hi = basic_interval(point[0], replicates)
        covered += int(lo[0] <= true_fid <= hi[0])
    assert covered >= 45  # the interval may sit below the point value: it corrects FID's upward bias


def test_interval_is_nan_where_a_group_has_too_few_rows():
    real, fake = _sets(12, 3, 2)
    labels = torch.tensor([0] * 11 + [1])  # class 1 has one row
    g = torch.Generator().manual_seed(0)
    per_class, _ = resampled_fids(real, labels, stratified_counts(labels, 20, g), fake, labels,
                                  stratified_counts(labels, 20, g), 2, torch.ones(1, 2, dtype=torch.bool))
    point = per_class_fid(real, labels, fake, labels, 2)
    lo, hi = basic_interval(point, per_class)
    assert math.isnan(lo[1]) and math.isnan(hi[1]) and lo[0] < hi[0]


def test_reference_halves_alternate_within_each_class():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    half_a = reference_halves(labels)
    assert half_a.tolist() == [True, False, True, True, False, True, False, True, False]
    shuffled = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    a = reference_halves(labels[shuffled])
    assert torch.bincount(labels[shuffled][a]).tolist() == [2, 1, 2]


def test_groups_of_one_row_per_class_cannot_vary_under_resampling():
    from bench.metrics.bootstrap import resamplable_groups  # issue 21, item 11

    one = torch.arange(C)  # one row of each class
    assert resamplable_groups(one, one, ALL_HEAD_TAIL, C).tolist() == [False, False, False]
    weights = stratified_counts(one, 20, torch.Generator().manual_seed(0))
    assert torch.equal(weights, torch.ones(20, C, dtype=torch.float64))  # every resample is the set itself
    real = torch.tensor([0, 0, 1, 2, 3])  # class 0 has two real rows: the overall and head groups can vary
    assert resamplable_groups(real, one, ALL_HEAD_TAIL, C).tolist() == [True, True, False]
