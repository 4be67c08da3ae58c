"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls, by torch-fidelity's
``prc_features_to_metric``.

Each set's manifold is the union of balls around its points with radius = distance to the k-th nearest
other point of the same set. Precision = share of fakes inside the real manifold; recall = share of reals
inside the fake manifold. torch-fidelity computes the distance matrices in float32 (``torch.cdist`` on the
features' device, the k-th distances on the CPU), in blocks of ``prc_batch_size`` rows with ``save_cpu_ram``,
which bounds the host memory at paper scale (10,000+ rows per set). This wrapper adds NaN when a set has k or
fewer rows (torch-fidelity would fail on them), and
returns the exact fraction of rows (torch-fidelity's float32 mean is off by up to 1e-7).
"""

from __future__ import annotations

import math

import torch
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

PRC_NEIGHBORHOOD = 3
PRC_BATCH_SIZE = 4096  # rows of a distance block (torch-fidelity's default, 10,000, holds 400 MB blocks)


def precision_recall(fake: torch.Tensor, real: torch.Tensor, k: int = PRC_NEIGHBORHOOD) -> tuple[float, float]:
    """(precision, recall) of fake (N1, F) against real (N2, F); NaN when a set has k or fewer rows."""
    if fake.shape[0] <= k or real.shape[0] <= k:
        return math.nan, math.nan
    out = prc_features_to_metric(fake.float(), real.float(), prc_neighborhood=k, prc_batch_size=PRC_BATCH_SIZE,
                                 save_cpu_ram=True, verbose=False)
    # torch-fidelity averages the 0/1 hits in float32; a share of N rows is a count over N, recovered exactly
    return _share(out[KEY_METRIC_PRECISION], fake.shape[0]), _share(out[KEY_METRIC_RECALL], real.shape[0])


def _share(value: float, n: int) -> float:
    """The fraction count / n nearest to ``value`` (a float32 mean of n indicators)."""
    return round(value * n) / n
