"""Kernel Inception Distance (Bińkowski et al. 2018) by torch-fidelity's ``kid_features_to_metric``: the unbiased
MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over ``subsets`` random subsets of
``m`` rows of each set (drawn without replacement by ``numpy.random.RandomState(seed)``), mean and population std.

torch-fidelity takes the subset size as ``kid_subset_size`` and asserts that both sets hold at least that many rows,
so this wrapper passes ``m = min(subset_size, N1, N2)``: the per-protocol caps (64 images per evaluation in smoke
runs, 1,000 at the cpu scale) then work unchanged. When m = N1 = N2 every subset is the whole of both sets and the
MMD does not depend on the row order, so one subset is computed instead of 100 identical ones (std 0): at the cpu
scale (1,000 real and 1,000 fake rows of 128 features) that is 0.05 s instead of 1.5 s per evaluation
(``benchmarks/bench_metrics.py``). torch-fidelity computes the kernels and their sums in float32 (numpy), so a
KID agrees with the float64 formula to about 1e-5 relative.
"""

from __future__ import annotations

import math

import torch
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 2020


def kernel_inception_distance(features_1: torch.Tensor, features_2: torch.Tensor, subsets: int = KID_SUBSETS,
                              subset_size: int = KID_SUBSET_SIZE, seed: int = KID_SEED) -> tuple[float, float]:
    """KID mean and std (population) over subsets; NaN when a set has fewer than 2 rows.

    Args:
        features_1, features_2: (N1, F), (N2, F) (torch-fidelity's convention: 1 = generated).
        subsets: number of subsets; subset_size: rows per subset before the min(…, N1, N2) cap; seed: subset RNG.
    """
    n1, n2 = features_1.shape[0], features_2.shape[0]
    m = min(subset_size, n1, n2)
    if m < 2:
        return math.nan, math.nan
    whole_sets = m == n1 == n2
    out = kid_features_to_metric(features_1.detach().float().cpu(), features_2.detach().float().cpu(),
                                 kid_subsets=1 if whole_sets else subsets, kid_subset_size=m, rng_seed=seed,
                                 verbose=False)
    return out[KEY_METRIC_KID_MEAN], 0.0 if whole_sets else out[KEY_METRIC_KID_STD]


def class_kid(real_features: torch.Tensor, real_labels: torch.Tensor, fake_features: torch.Tensor,
              fake_labels: torch.Tensor, num_classes: int, classes: torch.Tensor,
              max_rows: int = KID_SUBSET_SIZE, budget: int = 1 << 25) -> torch.Tensor:
    """Intra-class KID: for each class c in ``classes``, the unbiased MMD² (cubic polynomial kernel) between its real
    and its fake features, on the first m_c = min(n_real_c, n_fake_c, ``max_rows``) rows of each (one subset of the
    whole class when it has at most ``max_rows`` rows: torch-fidelity's estimator with kid_subsets = 1).

    KID is unbiased at any sample size, so it stands in for FID where a class has too few images for FID's
    covariance. Vectorised over classes: each class's rows are padded to the largest m_c and the kernel sums are
    computed as masked batched matrix products, in chunks of classes holding at most ``budget`` kernel entries.

    Args:
        real_features, fake_features: (N, F) on one device; real_labels, fake_labels: (N,) int64.
        num_classes: C.
        classes: bool (C,): the classes to measure.

    Returns:
        float64 (C,) on the CPU; NaN for the other classes and those with fewer than 2 real or fake rows.
    """
    real_counts = torch.bincount(real_labels.cpu(), minlength=num_classes)
    fake_counts = torch.bincount(fake_labels.cpu(), minlength=num_classes)
    rows = torch.minimum(torch.minimum(real_counts, fake_counts), torch.tensor(max_rows))
    measured = (classes.cpu() & (rows >= 2)).nonzero().flatten()
    out = torch.full((num_classes,), math.nan, dtype=torch.float64)
    if measured.numel() == 0:
        return out
    width = int(rows[measured].max())
    padded_real = _padded_by_class(real_features, real_labels, measured, rows, width)
    padded_fake = _padded_by_class(fake_features, fake_labels, measured, rows, width)
    m = rows[measured].to(padded_real.device, torch.float64)
    mask = torch.arange(width, device=padded_real.device)[None, :] < m[:, None]  # (K, width)
    dim = real_features.shape[1]
    step = max(1, budget // (width * width))
    for start in range(0, measured.numel(), step):  # chunks of classes, not one class at a time
        part = slice(start, start + step)
        pair = (mask[part, :, None] & mask[part, None, :]).double()
        within = pair * (1 - torch.eye(width, dtype=torch.float64, device=pair.device))
        k_rr = (_cubic_kernel(padded_real[part], padded_real[part], dim) * within).sum((1, 2))
        k_ff = (_cubic_kernel(padded_fake[part], padded_fake[part], dim) * within).sum((1, 2))
        k_rf = (_cubic_kernel(padded_real[part], padded_fake[part], dim) * pair).sum((1, 2))
        n = m[part]
        mmd = (k_rr + k_ff) / (n * (n - 1)) - 2 * k_rf / (n * n)
        out[measured[part]] = mmd.cpu()
    return out


def _cubic_kernel(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    """(aᵢᵀbⱼ / d + 1)³ for batched rows (K, m, F) × (K, m, F) → (K, m, m) float64; the products in float32 (as
    torch-fidelity computes them), the cube and the sums after it in float64."""
    return (torch.bmm(a, b.transpose(1, 2)).double() / dim + 1) ** 3


def _padded_by_class(features: torch.Tensor, labels: torch.Tensor, classes: torch.Tensor, rows: torch.Tensor,
                     width: int) -> torch.Tensor:
    """(K, width, F) float32: for each of the K ``classes``, its first ``rows[c]`` feature rows (in their order in
    ``features``), zero-padded."""
    labels = labels.to(features.device)
    order = torch.argsort(labels, stable=True)
    sorted_labels = labels[order]
    counts = torch.bincount(labels, minlength=rows.numel())
    starts = torch.cumsum(counts, 0) - counts
    position = torch.arange(labels.numel(), device=features.device) - starts[sorted_labels]
    slot = torch.full((rows.numel(),), -1, dtype=torch.long, device=features.device)
    slot[classes.to(features.device)] = torch.arange(classes.numel(), device=features.device)
    keep = (slot[sorted_labels] >= 0) & (position < rows.to(features.device)[sorted_labels])
    out = torch.zeros(classes.numel(), width, features.shape[1], dtype=torch.float32, device=features.device)
    out[slot[sorted_labels[keep]], position[keep]] = features[order[keep]].float()
    return out
