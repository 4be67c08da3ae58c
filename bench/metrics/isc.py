"""Inception Score over splits: IS = exp(E_x KL(p(y|x) ‖ p(y))) per split, then mean and std over splits.

Follows Salimans et al. 2016 as torch-fidelity's ``isc_features_to_metric`` computes it (split s holds rows
[s·N//S, (s+1)·N//S), p = softmax of the logits in float64, std over splits = population std). The split order
is the protocol's: contiguous in generation order (``paper``: class-sorted, as the ECOGAN code's ``chunk``), or
after a fixed-seed shuffle (``standard``; ``numpy.random.RandomState(seed).permutation``, as torch-fidelity).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def inception_score(logits: torch.Tensor, splits: int = 10, shuffle_seed: int | None = None) -> tuple[float, float]:
    """IS mean and std of (N, K) logits over ``min(splits, N)`` splits; ``shuffle_seed`` None = keep the order.

    Vectorised over samples and splits (one scatter-add for the split marginals). NaN for N = 0.
    """
    n = logits.shape[0]
    if n == 0:
        return math.nan, math.nan
    x = logits.double()
    if shuffle_seed is not None:
        x = x[torch.from_numpy(np.random.RandomState(shuffle_seed).permutation(n)).to(x.device)]
    splits = min(splits, n)
    bounds = torch.arange(1, splits + 1, device=x.device) * n // splits
    split_of = torch.searchsorted(bounds, torch.arange(n, device=x.device), right=True)  # (N,)
    p, log_p = x.softmax(1), x.log_softmax(1)
    sizes = torch.bincount(split_of, minlength=splits).double()
    marginal = torch.zeros(splits, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, split_of, p)
    marginal = marginal / sizes[:, None]
    kl = (p * (log_p - marginal.log()[split_of])).sum(1)  # (N,)
    scores = (torch.zeros(splits, dtype=x.dtype, device=x.device).index_add_(0, split_of, kl) / sizes).exp()
    return float(scores.mean()), float(scores.std(unbiased=False))
