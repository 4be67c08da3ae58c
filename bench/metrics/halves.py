"""Health of the fakes against each half of the reference: density, coverage, diversity and the collapse verdict of
all fakes against half A and against half B (``bench.metrics.bootstrap.reference_halves``), the columns
``<metric>_half_a`` and ``<metric>_half_b`` of metrics.csv (:data:`HALF_HEALTH_COLUMNS`, appended after the tail
columns). ``bench tune`` scores a trial on half A only; the report's held-out table shows half B at the step chosen on
half A.

A half holds about half of each class's reference images, so its density and coverage take k = :data:`HALF_NEIGHBOURS`
= ⌈5 / 2⌉ neighbours (the whole reference's take Naeem et al.'s 5): its k-th neighbour then lies about as far as the
whole reference's 2k-th. With k = 5 a half's balls would be wider and its coverage higher, which would let a
generator with a few modes per class pass the collapse rule on a half that it fails on the whole. Measured on a BAGAN
run on digits_lt (cpu scale, standard protocol, step 750): coverage 0.68 on the whole reference; on half A 0.90 with
k = 5, 0.74 with k = 3.
"""

from __future__ import annotations

import math

import torch

from bench.metrics.collapse import is_collapsed
from bench.metrics.coverage import NEIGHBOURS, density_coverage
from bench.metrics.diversity import diversity_ratio

HALF_NEIGHBOURS = math.ceil(NEIGHBOURS / 2)
HALF_HEALTH_METRICS = ("density", "coverage", "diversity", "collapsed")
HALF_HEALTH_COLUMNS = tuple(f"{metric}_half_{half}" for half in ("a", "b") for metric in HALF_HEALTH_METRICS)


def half_health(real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor, fake_labels: torch.Tensor,
                num_classes: int, half: str) -> dict[str, float | int]:
    """density, coverage, diversity (the mean over classes of the intra-class ratio) and the collapse verdict of all
    fakes against one half of the reference (``real``, ``real_labels``: that half's rows), by the same functions and
    rule as the whole reference's columns, keyed ``<metric>_half_<half>``."""
    spread = density_coverage(real, real_labels, fake, fake_labels, num_classes, k=HALF_NEIGHBOURS)
    ratios = diversity_ratio(real, real_labels, fake, fake_labels, num_classes)
    finite = ratios[~ratios.isnan()]
    diversity = float(finite.mean()) if finite.numel() else math.nan
    values = {"density": spread.density, "coverage": spread.coverage, "diversity": diversity,
              "collapsed": int(is_collapsed(diversity, spread.coverage, spread.density))}
    return {f"{k}_half_{half}": v for k, v in values.items()}
