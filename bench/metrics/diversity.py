"""Intra-class diversity ratio: how much the fakes of a class vary, against how much its real images vary.

For class c, with the unbiased covariance Σ of a set's features, the mean squared distance between two distinct
rows is E‖x − x′‖² = 2 Tr Σ. The ratio of root-mean-square pairwise distances of the class-c fakes and the class-c
reals is therefore

    diversity_c = sqrt(Tr Σ_fake,c / Tr Σ_real,c)

1 when the fakes spread like the data, 0 when a class collapses to one image, about 0.8 when it draws from three
fixed images (sqrt(2/3): partial collapse is what coverage sees, :mod:`bench.metrics.coverage`). It is computed in
the evaluation's feature space, exact and vectorised (one pass of per-class sums, no pairwise matrix). A class
with fewer than 2 real or 2 fake rows, or whose reals do not vary, gets NaN.

Summaries: ``diversity`` = the mean of diversity_c over classes, ``diversity_min`` = its minimum (the most
collapsed class).
"""

from __future__ import annotations

import math

import torch


def class_traces(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per class: (row counts (C,) int64, traces of the unbiased covariances (C,) float64), NaN for < 2 rows."""
    x = features.double()
    counts = torch.bincount(labels, minlength=num_classes)
    sums = torch.zeros(num_classes, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, labels, x)
    means = sums / counts.clamp_min(1)[:, None]
    squares = torch.zeros(num_classes, dtype=x.dtype, device=x.device).index_add_(
        0, labels, (x - means[labels]).square().sum(1))
    traces = squares / (counts - 1).clamp_min(1)
    return counts, traces.where(counts >= 2, math.nan)


def diversity_ratio(real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor, fake_labels: torch.Tensor,
                    num_classes: int) -> torch.Tensor:
    """diversity_c = sqrt(Tr Σ_fake,c / Tr Σ_real,c) per class: float64 (C,) on the CPU, NaN where undefined."""
    _, real_traces = class_traces(real, real_labels, num_classes)
    _, fake_traces = class_traces(fake, fake_labels, num_classes)
    ratio = (fake_traces / real_traces).sqrt()
    return ratio.where(real_traces > 0, math.nan).cpu()
