"""Tail metrics: the rarest classes by training count, intra-class KID (torch-fidelity's estimator, vectorised over
classes) and the means over the rarest 10 % and 20 % of the classes in an evaluation's row."""

from __future__ import annotations

import math

import pytest
import torch

from bench.metrics import Evaluator
from bench.metrics.kid import class_kid, kernel_inception_distance
from bench.metrics.tail import kid_classes, rarest_classes, tail_summary

from .helpers import toy_config
from .test_evaluator import HeadOnlyGenerator

CIFAR10_LT = [5000] + [100 * c for c in range(1, 10)]


def test_the_rarest_classes_by_training_count_at_least_one():
    assert rarest_classes(CIFAR10_LT, 0.10).nonzero().flatten().tolist() == [1]  # 100 images
    assert rarest_classes(CIFAR10_LT, 0.20).nonzero().flatten().tolist() == [1, 2]
    assert rarest_classes([9, 5, 7], 0.10).nonzero().flatten().tolist() == [1]  # 0.3 classes: at least one
    assert rarest_classes([4, 4, 9, 4], 0.5).nonzero().flatten().tolist() == [0, 1]  # ties: lower index first
    assert int(rarest_classes([1] * 365, 0.20).sum()) == 73


def test_kid_is_measured_for_the_rarest_classes_and_where_fid_lacks_images():
    chosen = kid_classes(CIFAR10_LT, torch.tensor([3000, 100, 200, 2100, 2000, 2500, 2600, 2700, 2800, 2900]), 2048)
    assert chosen.nonzero().flatten().tolist() == [1, 2, 4]  # rarest 20 %, and class 4's 2,000 reals <= 2,048


def test_class_kid_is_torch_fidelitys_kid_of_each_class():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(300, 16, generator=gen), torch.randn(260, 16, generator=gen) + 0.3
    real_labels, fake_labels = torch.randint(0, 4, (300,), generator=gen), torch.randint(0, 4, (260,), generator=gen)
    chosen = torch.tensor([True, True, False, True])
    kid = class_kid(real, real_labels, fake, fake_labels, 4, chosen)
    assert math.isnan(kid[2])
    for c in (0, 1, 3):  # one subset of the whole class: the first min(n_real, n_fake) rows of each side
        r, f = real[real_labels == c], fake[fake_labels == c]
        m = min(len(r), len(f))
        assert kid[c] == pytest.approx(kernel_inception_distance(f[:m], r[:m])[0], rel=1e-4, abs=1e-6)
    torch.testing.assert_close(class_kid(real, real_labels, fake, fake_labels, 4, chosen, budget=1), kid,
                               equal_nan=True)  # in chunks of one class
    capped = class_kid(real, real_labels, fake, fake_labels, 4, chosen, max_rows=20)
    r, f = real[real_labels == 0][:20], fake[fake_labels == 0][:20]
    assert capped[0] == pytest.approx(kernel_inception_distance(f, r)[0], rel=1e-4, abs=1e-6)
    few = class_kid(real, real_labels, fake[:2], fake_labels[:2], 4, torch.ones(4, dtype=torch.bool))
    assert torch.isnan(few).sum() >= 2  # classes with fewer than 2 fakes


def test_tail_summary_means_over_the_rarest_classes_leaving_nan_out():
    counts = [50, 10, 20, 40, 30, 60, 70, 80, 90, 100]
    fid = torch.tensor([1.0, 9.0, math.nan, 4, 5, 6, 7, 8, 9, 10], dtype=torch.float64)
    kid = torch.full((10,), math.nan, dtype=torch.float64)
    kid[1], kid[2] = 0.5, 0.25
    out = tail_summary(fid, kid, counts)
    assert out == {"ifid_rare10": 9.0, "ifid_rare20": 9.0, "ikid_rare10": 0.5, "ikid_rare20": 0.375}


def test_an_evaluation_row_carries_the_tail_means_of_its_own_per_class_rows(toy_sets, shared_cache):
    train, reference = toy_sets  # train counts 40, 24, 14, 8, 4: the rarest class is 4, the rarest 20 % too
    tail = torch.tensor([False, False, False, True, True])
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache)
    result = evaluator.evaluate(HeadOnlyGenerator(reference, tail), 1, "standard")
    per_class = {pc["class"]: pc for pc in result.per_class}
    assert result.row["ifid_rare10"] == result.row["ifid_rare20"] == per_class[4]["fid"]
    assert result.row["ikid_rare10"] == per_class[4]["kid"] > 0
    # 30 reals a class <= 128 classifier features: every class gets a KID, and the noise classes score worse
    assert all(math.isfinite(pc["kid"]) for pc in per_class.values())
    assert min(per_class[c]["kid"] for c in (3, 4)) > 10 * max(per_class[c]["kid"] for c in (0, 1, 2))

