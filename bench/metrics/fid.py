"""Fréchet distance between feature sets: the overall FID (torch-fidelity's), and a fast exact form for
many small sets (intra-class FID, head/tail FID).

FID(a, b) = ‖μa − μb‖² + Tr Σa + Tr Σb − 2 Tr (Σa Σb)^{1/2}  (Heusel et al. 2017; ecogan-upstream.md §7.1).

For the square-root term, write Σ = RᵀR with any factor R (k × d). The non-zero eigenvalues of Σa Σb are those
of (Ra Rbᵀ)(Ra Rbᵀ)ᵀ, so Tr (Σa Σb)^{1/2} = ‖Ra Rbᵀ‖_* (nuclear norm). With centred features A (n × d),
R = A / sqrt(n − 1) gives an n × n problem, cheap when n ≪ d (a class of 50 images in 2048-d Inception
space); for n > d, R = diag(sqrt λ) Vᵀ from the eigendecomposition of Σ keeps it d × d. All in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric


def fid_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    """Mean and covariance (unbiased, rows = samples) of features (N, F), as float64 numpy arrays.

    Computed in float64 on the features' device (the F x F product is the costly part), returned on the CPU.
    """
    x = features.detach().double()
    mu = x.mean(dim=0)
    xc = x - mu
    sigma = xc.T @ xc / max(x.shape[0] - 1, 1)
    return {"mu": mu.cpu().numpy(), "sigma": sigma.cpu().numpy()}


def fid_from_statistics(stats_1: dict[str, np.ndarray], stats_2: dict[str, np.ndarray]) -> float:
    """FID from two (mu, sigma) dicts by torch-fidelity's ``fid_statistics_to_metric`` (the overall number)."""
    return float(fid_statistics_to_metric(stats_1, stats_2, verbose=False)[KEY_METRIC_FID])


def _factor(centred: torch.Tensor) -> torch.Tensor:
    """R with Σ = RᵀR for centred rows (n, d): the scaled rows when n <= d, else diag(sqrt λ)Vᵀ of Σ."""
    n, d = centred.shape
    if n <= d:
        return centred / math.sqrt(n - 1)
    evals, evecs = torch.linalg.eigh(centred.T @ centred / (n - 1))
    return evals.clamp_min(0).sqrt()[:, None] * evecs.T


def _trace_sqrt_product(centred_1: torch.Tensor, centred_2: torch.Tensor) -> torch.Tensor:
    """Tr (Σ1 Σ2)^{1/2} of two centred float64 feature matrices (the nuclear-norm form)."""
    return torch.linalg.svdvals(_factor(centred_1) @ _factor(centred_2).T).sum()


def frechet_distance(features_1: torch.Tensor, features_2: torch.Tensor) -> float:
    """FID between two feature sets (N1, F) and (N2, F) by the nuclear-norm form; NaN if a set has < 2 rows."""
    if features_1.shape[0] < 2 or features_2.shape[0] < 2:
        return math.nan
    a, b = features_1.double(), features_2.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    a, b = a - mu_a, b - mu_b
    trace_a = a.square().sum() / (a.shape[0] - 1)
    trace_b = b.square().sum() / (b.shape[0] - 1)
    fid = (mu_a - mu_b).square().sum() + trace_a + trace_b - 2 * _trace_sqrt_product(a, b)
    return float(fid)


def _class_moments(features: torch.Tensor, labels: torch.Tensor, num_classes: int):
    """Per-class counts (C,), means (C, F), traces of covariances (C,), and the rows centred by class mean
    sorted by class, split into per-class blocks."""
    x = features.double()
    counts = torch.bincount(labels, minlength=num_classes)
    sums = torch.zeros(num_classes, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, labels, x)
    means = sums / counts.clamp_min(1)[:, None]
    centred = x - means[labels]
    sq = torch.zeros(num_classes, dtype=x.dtype, device=x.device).index_add_(0, labels, centred.square().sum(1))
    traces = sq / (counts - 1).clamp_min(1)
    order = torch.argsort(labels, stable=True)
    blocks = centred[order].split(counts.tolist())
    return counts, means, traces, blocks


def per_class_fid(real_features: torch.Tensor, real_labels: torch.Tensor, fake_features: torch.Tensor,
                  fake_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Intra-class FID: for each class c, FID(real features of c, fake features of c) (StudioGAN's iFID, per class).

    Args:
        real_features, fake_features: (N, F) on one device; real_labels, fake_labels: (N,) int64.
        num_classes: C.

    Returns:
        float64 (C,) on the CPU; NaN for classes with fewer than 2 real or 2 fake samples.
    """
    real_counts, real_means, real_traces, real_blocks = _class_moments(real_features, real_labels, num_classes)
    fake_counts, fake_means, fake_traces, fake_blocks = _class_moments(fake_features, fake_labels, num_classes)
    valid = (real_counts >= 2) & (fake_counts >= 2)
    tr_sqrt = torch.full((num_classes,), math.nan, dtype=torch.float64, device=real_means.device)
    for c in valid.nonzero().flatten().tolist():  # the only per-class work: one small SVD each
        tr_sqrt[c] = _trace_sqrt_product(real_blocks[c], fake_blocks[c])
    fid = (real_means - fake_means).square().sum(1) + real_traces + fake_traces - 2 * tr_sqrt
    return fid.where(valid, torch.full_like(fid, math.nan)).cpu()
