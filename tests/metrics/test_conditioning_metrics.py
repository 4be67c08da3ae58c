"""The conditioning diagnostics: label sensitivity, D's class view, the judge's ceiling, in the Evaluator's rows."""

from __future__ import annotations

import math

import pytest
import torch

from bench.metrics import Evaluator
from bench.metrics.conditioning import class_mean_accuracy, label_sensitivity

from .helpers import NoiseGenerator, RealImageGenerator, toy_config


class LabelShiftGenerator(NoiseGenerator):
    """Noise from z plus ``strength`` times a per-class pattern: label sensitivity grows with ``strength``."""

    def __init__(self, strength: float, classes: int = 5) -> None:
        super().__init__((1, 16, 16), use_global_rng=False)
        self.strength = strength
        self.patterns = torch.randn(classes, 1, 16, 16, generator=torch.Generator().manual_seed(3))

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return super().generate(z, y) + self.strength * self.patterns[y]


class FirstClassCritic(RealImageGenerator):
    """Real images of the requested classes and a D that calls every image class 0."""

    def d_class_scores(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.zeros(x.shape[0], dtype=torch.long), 5).float()


def test_label_sensitivity_is_zero_for_a_generator_that_ignores_labels_and_grows_with_their_effect():
    assert label_sensitivity(NoiseGenerator((1, 16, 16), use_global_rng=False), 5, seed=0) == 0.0
    weak, strong = (label_sensitivity(LabelShiftGenerator(s), 5, seed=0) for s in (0.1, 1.0))
    assert 0 < weak < strong
    assert math.isnan(label_sensitivity(LabelShiftGenerator(1.0, classes=1), 1, seed=0))


def test_label_sensitivity_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    label_sensitivity(LabelShiftGenerator(1.0), 5, seed=0)
    assert torch.equal(before, torch.random.get_rng_state())


def test_class_mean_accuracy_averages_over_classes_not_samples():
    labels = torch.tensor([0, 0, 0, 0, 1])  # class 0 right 4/4, class 1 wrong: mean over classes 0.5
    scores = torch.nn.functional.one_hot(torch.zeros(5, dtype=torch.long), 2).float()
    assert class_mean_accuracy(scores, labels, 2) == pytest.approx(0.5)
    assert math.isnan(class_mean_accuracy(None, labels, 2))


def test_rows_carry_the_judge_d_accuracy_and_label_sensitivity(toy_sets, shared_cache):
    train, reference = toy_sets
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache)
    result = evaluator.evaluate(FirstClassCritic(reference), 1, "standard")
    row = result.row
    # D calls everything class 0: right on class 0 only, so a class mean of 1/5 on reals and fakes alike
    assert row["d_acc_real"] == pytest.approx(0.2) and row["d_acc_fake"] == pytest.approx(0.2)
    assert [pc["d_acc_fake"] for pc in result.per_class] == [1.0, 0.0, 0.0, 0.0, 0.0]
    # real images of the requested class: the judge agrees with them about as often as with real train images
    assert row["cond_acc"] > 0.9 and 0.5 < row["judge_acc"] <= 1.0
    assert row["label_sens"] > 0
    plain = evaluator.evaluate(NoiseGenerator((1, 16, 16), use_global_rng=False), 1, "standard").row
    assert plain["label_sens"] == 0.0 and math.isnan(plain["d_acc_real"]) and plain["judge_acc"] == row["judge_acc"]
