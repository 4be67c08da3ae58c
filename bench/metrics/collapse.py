"""The collapse verdict: does a generator draw too few distinct images, overall and per class?

Rule (applied to one class's numbers, and to the overall numbers of an evaluation):

    collapsed  ⇔  diversity < 0.5
                  or (coverage < 0.4 and density ≥ 0.25)

- ``diversity < 0.5``: the fakes vary less than half as much as the real images (:mod:`bench.metrics.diversity`;
  one image per class gives 0, the class mean 0).
- ``coverage < 0.4 and density ≥ 0.25``: the fakes lie on the data (density) but near fewer than 40 % of the
  real images (:mod:`bench.metrics.coverage`): a few modes drawn again and again — three fixed images per class
  keep a diversity near sqrt(2/3) ≈ 0.8 but cover 0.02–0.30 of a digit class's 50 reference images, where real
  held-out images, noisy or blurred ones included, cover 0.60–0.90. The density condition keeps images that lie
  nowhere near the data (noise, or the wrong class: coverage and density near 0) out of this verdict; they are
  unfaithful, not collapsed, and FID, precision and conditional accuracy say so.

Coverage sees partial collapse only where a class has enough reference images: k fixed images cover about
k·(5 + 1)/n of a class's n real images, so with 50 per class (the digits' reference) up to about three images per
class are caught; at the paper protocol's tail classes (a dozen images) only the diversity condition works, and
classes with 5 or fewer reference images get no coverage at all (NaN).

The overall verdict applies the rule to ``diversity`` (the mean over classes), the overall coverage and density;
``collapsed_classes`` counts the classes whose own numbers meet it. NaN inputs never make a verdict: a class
without enough images is not called collapsed. The thresholds were set on the oracle generators of
``tests/metrics/test_metric_sanity.py`` (real images, one or three images per class, class means, wrong classes,
noise, blurred and noisy real images), which pin that the rule fires for one and three images per class and never
for real images, degraded or not.
"""

from __future__ import annotations

import torch

DIVERSITY_MIN = 0.5
COVERAGE_MIN = 0.4
DENSITY_ON_DATA = 0.25
RULE = (f"collapsed = diversity < {DIVERSITY_MIN} or (coverage < {COVERAGE_MIN} and density >= {DENSITY_ON_DATA})")
SELECTION = "the lowest FID among the evaluations that are not collapsed; the lowest FID when all are collapsed"


def selection_key(fid: float, collapsed: bool) -> tuple[bool, float]:
    """Sort key of an evaluation for the best step (:data:`SELECTION`): a healthy one before any collapsed one,
    then the lower FID. The training loop and the report both choose with it."""
    return (bool(collapsed), fid)


def is_collapsed(diversity: float, coverage: float, density: float) -> bool:
    """The rule on one set of numbers (see the module docstring); False where the numbers are NaN."""
    few_modes = coverage < COVERAGE_MIN and density >= DENSITY_ON_DATA  # NaN compares False
    return bool(diversity < DIVERSITY_MIN or few_modes)


def collapsed_classes(diversity: torch.Tensor, coverage: torch.Tensor, density: torch.Tensor) -> torch.Tensor:
    """The rule per class: bool (C,) from (C,) tensors; False where a class's numbers are NaN."""
    return (diversity < DIVERSITY_MIN) | ((coverage < COVERAGE_MIN) & (density >= DENSITY_ON_DATA))

