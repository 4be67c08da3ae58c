"""Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models",
ICML), overall and per class, in one blocked pass over the real-to-fake distances.

Every real row i gets a ball B_i whose radius is the distance to its k-th nearest other real row (k = 5, the
paper's choice). With M fakes:

    coverage = (1/N) Σ_i 1[∃ j: fake_j ∈ B_i]          the share of real rows with a fake nearby (diversity)
    density  = (1/(kM)) Σ_j Σ_i 1[fake_j ∈ B_i]       how many real balls a fake lies in, over k (fidelity; ~1
                                                       for fakes distributed like the reals, > 1 where fakes
                                                       crowd dense regions)

Unlike k-NN recall, coverage builds its balls around the reals only, so outlying fakes cannot inflate it, and it
does not saturate at 0 for a generator that covers part of the data (Naeem et al. §3). Per class c the same
formulas use the class-c reals (balls from their k-th nearest class-c neighbour) and the fakes generated for c:
a per-class recall of the class's modes. A class with k or fewer real rows, or without fakes, gets NaN.

Cost: the distances are computed in blocks of ``block`` real rows (``torch.cdist``, float32), so memory stays
at block × max(N, M) floats whatever the sample size; everything is vectorised (no loop over rows or classes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

NEIGHBOURS = 5  # Naeem et al.'s k
BLOCK_ROWS = 1024


@dataclass(frozen=True)
class DensityCoverage:
    """Overall density and coverage and their per-class values ((C,) float64 tensors on the CPU, NaN where
    undefined)."""

    density: float
    coverage: float
    class_density: torch.Tensor
    class_coverage: torch.Tensor


def _kth_neighbour_radii(real: torch.Tensor, real_labels: torch.Tensor, k: int, block: int) -> tuple[torch.Tensor,
                                                                                                    torch.Tensor]:
    """(N,) distance of each real row to its k-th nearest other real row, overall and within its class (inf where
    the class has k or fewer rows)."""
    n = real.shape[0]
    overall, within = torch.empty(n, device=real.device), torch.empty(n, device=real.device)
    for start in range(0, n, block):
        rows = slice(start, start + block)
        d = torch.cdist(real[rows], real)
        # the row itself is at distance 0: the (k+1)-th smallest is the k-th other row
        overall[rows] = d.kthvalue(min(k + 1, n), dim=1).values
        other_class = real_labels[rows, None] != real_labels[None, :]
        within[rows] = d.masked_fill(other_class, math.inf).kthvalue(min(k + 1, n), dim=1).values
    return overall, within


def density_coverage(real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor, fake_labels: torch.Tensor,
                     num_classes: int, k: int = NEIGHBOURS, block: int = BLOCK_ROWS) -> DensityCoverage:
    """Density and coverage of ``fake`` (M, F) against ``real`` (N, F), overall and per class.

    Args:
        real, fake: feature rows on one device; real_labels (N,), fake_labels (M,) int64 on that device.
        num_classes: C.
        k: neighbours that set each real row's ball.
        block: real rows per distance block.

    Returns:
        :class:`DensityCoverage`; NaN overall when a set has k or fewer rows.
    """
    real, fake = real.float(), fake.float()
    n, m = real.shape[0], fake.shape[0]
    nan_classes = torch.full((num_classes,), math.nan, dtype=torch.float64)
    if n <= k or m == 0:
        return DensityCoverage(math.nan, math.nan, nan_classes, nan_classes.clone())
    radius, class_radius = _kth_neighbour_radii(real, real_labels, k, block)
    covered = torch.zeros(n, dtype=torch.bool, device=real.device)
    class_covered = torch.zeros(n, dtype=torch.bool, device=real.device)
    balls = torch.zeros(m, dtype=torch.float64, device=real.device)  # per fake: real balls it lies in
    class_balls = torch.zeros(m, dtype=torch.float64, device=real.device)
    for start in range(0, n, block):
        rows = slice(start, start + block)
        d = torch.cdist(real[rows], fake)  # (block, M)
        inside = d < radius[rows, None]
        same_class = real_labels[rows, None] == fake_labels[None, :]
        inside_class = (d < class_radius[rows, None]) & same_class
        covered[rows] = inside.any(1)
        class_covered[rows] = inside_class.any(1)
        balls += inside.sum(0, dtype=torch.float64)
        class_balls += inside_class.sum(0, dtype=torch.float64)
    real_counts = torch.bincount(real_labels, minlength=num_classes).double()
    fake_counts = torch.bincount(fake_labels, minlength=num_classes).double()
    per_class_covered = torch.zeros(num_classes, dtype=torch.float64, device=real.device).index_add_(
        0, real_labels, class_covered.double())
    per_class_balls = torch.zeros(num_classes, dtype=torch.float64, device=real.device).index_add_(
        0, fake_labels, class_balls)
    defined = (real_counts.to(real.device) > k) & (fake_counts.to(real.device) > 0)
    class_coverage = (per_class_covered / real_counts.to(real.device).clamp_min(1)).where(defined, math.nan)
    class_density = (per_class_balls / (k * fake_counts.to(real.device).clamp_min(1))).where(defined, math.nan)
    return DensityCoverage(density=float(balls.sum() / (k * m)), coverage=float(covered.double().mean()),
                           class_density=class_density.cpu(), class_coverage=class_coverage.cpu())
