"""Density/coverage, the diversity ratio and the collapse rule against their definitions, computed the slow way."""

from __future__ import annotations

import math

import pytest
import torch

from bench.metrics.collapse import collapsed_classes, is_collapsed, selection_key
from bench.metrics.coverage import density_coverage
from bench.metrics.diversity import diversity_ratio


def naive_density_coverage(real, real_labels, fake, fake_labels, num_classes, k=5):
    """Naeem et al.'s formulas with Python loops: overall, then per class on the class's own rows."""

    def one(r, f):
        radii = torch.stack([torch.cdist(r[i:i + 1], r).flatten().sort().values[k] for i in range(len(r))])
        inside = torch.cdist(r, f) < radii[:, None]
        return float(inside.sum()) / (k * len(f)), float(inside.any(1).double().mean())

    density, coverage = one(real, fake)
    per_class = []
    for c in range(num_classes):
        r, f = real[real_labels == c], fake[fake_labels == c]
        per_class.append(one(r, f) if len(r) > k and len(f) else (math.nan, math.nan))
    return density, coverage, per_class


@pytest.mark.parametrize("block", [7, 1024])
def test_density_and_coverage_match_the_definition_in_any_block_size(block):
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(60, 6, generator=gen), torch.randn(45, 6, generator=gen) * 0.8 + 0.3
    real_labels = torch.arange(60) % 3
    fake_labels = torch.cat([torch.zeros(20), torch.ones(25)]).long()  # class 2 has no fakes: NaN
    out = density_coverage(real, real_labels, fake, fake_labels, 3, block=block)
    density, coverage, per_class = naive_density_coverage(real, real_labels, fake, fake_labels, 3)
    assert out.density == pytest.approx(density) and out.coverage == pytest.approx(coverage)
    for c, (d, cov) in enumerate(per_class):
        assert (math.isnan(d) and math.isnan(out.class_density[c])) or out.class_density[c] == pytest.approx(d)
        assert (math.isnan(cov) and math.isnan(out.class_coverage[c])) or out.class_coverage[c] == pytest.approx(cov)
    assert math.isnan(out.class_coverage[2])


def test_coverage_of_a_set_by_itself_is_one_and_one_point_covers_little():
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(100, 4, generator=gen)
    labels = torch.zeros(100, dtype=torch.long)
    assert density_coverage(real, labels, real, labels, 1).coverage == 1.0
    single = density_coverage(real, labels, real[:1].expand(100, 4), labels, 1)
    assert single.coverage <= 0.1 and single.class_coverage[0] <= 0.1


def test_too_few_real_rows_give_nan():
    out = density_coverage(torch.randn(5, 3), torch.zeros(5, dtype=torch.long), torch.randn(9, 3),
                           torch.zeros(9, dtype=torch.long), 1)
    assert math.isnan(out.coverage) and math.isnan(out.density) and math.isnan(out.class_coverage[0])


def test_diversity_ratio_is_the_rms_pairwise_distance_ratio():
    gen = torch.Generator().manual_seed(2)
    real, fake = torch.randn(40, 5, generator=gen), torch.randn(30, 5, generator=gen) * 0.3
    real_labels, fake_labels = torch.arange(40) % 2, torch.arange(30) % 2

    def rms_pairwise(x):
        d = torch.cdist(x.double(), x.double()).square()
        n = len(x)
        return (d.sum() / (n * (n - 1))).sqrt()

    ratio = diversity_ratio(real, real_labels, fake, fake_labels, 2)
    for c in range(2):
        expected = rms_pairwise(fake[fake_labels == c]) / rms_pairwise(real[real_labels == c])
        assert ratio[c] == pytest.approx(float(expected), rel=1e-9)
    assert 0.2 < float(ratio.mean()) < 0.4  # the fakes were drawn with a third of the spread


def test_diversity_of_one_repeated_image_is_zero_and_undefined_classes_are_nan():
    real = torch.randn(20, 3)
    labels = torch.arange(20) % 2
    fake = real[:1].expand(20, 3)
    ratio = diversity_ratio(real, labels, fake, labels, 3)  # class 2: no rows at all
    assert ratio[0] == 0 and ratio[1] == 0 and math.isnan(ratio[2])


def test_collapse_rule_and_its_per_class_form_agree():
    cases = [  # (diversity, coverage, density) -> collapsed
        ((0.2, 0.9, 1.0), True),  # varies little
        ((0.8, 0.15, 0.6), True),  # a few modes on the data
        ((0.8, 0.15, 0.05), False),  # off the data: unfaithful, not collapsed
        ((1.0, 0.75, 0.6), False),
        ((math.nan, math.nan, math.nan), False),  # no verdict without numbers
        ((math.nan, 0.1, 0.9), True),
    ]
    for (diversity, coverage, density), expected in cases:
        assert is_collapsed(diversity, coverage, density) is expected
    tensors = [torch.tensor([case[0][i] for case in cases], dtype=torch.float64) for i in range(3)]
    assert collapsed_classes(*tensors).tolist() == [expected for _, expected in cases]


def test_selection_prefers_any_healthy_evaluation_to_a_collapsed_one():
    evaluations = [(5.0, True), (9.0, False), (7.0, False)]
    assert min(evaluations, key=lambda e: selection_key(*e)) == (7.0, False)
    assert min([(5.0, True), (6.0, True)], key=lambda e: selection_key(*e)) == (5.0, True)
