"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls, as torch-fidelity's PRC.

Each set's manifold is the union of balls around its points with radius = distance to the k-th nearest
other point of the same set. Precision = share of fakes inside the real manifold; recall = share of reals
inside the fake manifold. Vectorised in row chunks of the distance matrix on the features' device.
"""

from __future__ import annotations

import math

import torch

PRC_NEIGHBORHOOD = 3
_CHUNK = 4096  # rows of the distance matrix at a time


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of x to its k-th nearest other row (the row itself is the 0-th)."""
    return torch.cat([torch.cdist(chunk, x).topk(k + 1, dim=1, largest=False).values[:, k]
                      for chunk in x.split(_CHUNK)])


def _coverage(query: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    """Share of query rows inside at least one ball (centres[j], radii[j])."""
    inside = torch.cat([(torch.cdist(chunk, centres) <= radii[None, :]).any(dim=1) for chunk in query.split(_CHUNK)])
    return float(inside.double().mean())


def precision_recall(fake: torch.Tensor, real: torch.Tensor, k: int = PRC_NEIGHBORHOOD) -> tuple[float, float]:
    """(precision, recall) of fake (N1, F) against real (N2, F); NaN when a set has k or fewer rows."""
    if fake.shape[0] <= k or real.shape[0] <= k:
        return math.nan, math.nan
    fake, real = fake.float(), real.float()
    precision = _coverage(fake, real, _knn_radii(real, k))
    recall = _coverage(real, fake, _knn_radii(fake, k))
    return precision, recall
