"""Inception Score over splits, by torch-fidelity's ``isc_features_to_metric``: IS = exp(E_x KL(p(y|x) ‖ p(y)))
per split, then mean and (population) std over splits (Salimans et al. 2016).

torch-fidelity computes p = softmax of the logits in float64, split s = rows [s·N//S, (s+1)·N//S), and shuffles
with ``numpy.random.RandomState(seed).permutation`` first when asked. This wrapper adds what bench's protocols
need around it: the split order is the protocol's (contiguous in generation order for ``paper``, class-sorted as
the ECOGAN code's ``chunk``; shuffled for ``standard``), fewer samples than splits use one split per sample, and
no samples, or no logits (an extractor such as DINOv2 has no classes), give NaN.
"""

from __future__ import annotations

import math

import torch
from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric


def inception_score(logits: torch.Tensor, splits: int = 10, shuffle_seed: int | None = None) -> tuple[float, float]:
    """IS mean and std of (N, K) logits over ``min(splits, N)`` splits; ``shuffle_seed`` None = keep the order.

    NaN for N = 0 and for an extractor without logits (K = 0, e.g. DINOv2).
    """
    n = logits.shape[0]
    if n == 0 or logits.ndim < 2 or logits.shape[1] == 0:
        return math.nan, math.nan
    out = isc_features_to_metric(logits.detach().cpu(), splits=min(splits, n), shuffle=shuffle_seed is not None,
                                 rng_seed=shuffle_seed if shuffle_seed is not None else 0)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]
