"""Tail metrics: how a generator does on the rarest classes, the ones a long-tailed benchmark is about (Caldeira et
al. 2025 report intra-class FID over the rarest 2/5/10/20 % of classes).

Rarest = the k classes with the fewest TRAINING images (ties: the lower class index first), k = max(1,
floor(share · C)) for the shares :data:`RARE_SHARES` (CIFAR10_LT: 1 and 2 classes; Places_LT: 36 and 73). Per share
the mean intra-class FID and the mean intra-class KID over those classes (classes where a value is NaN are left
out; NaN when none is left), written to metrics.csv as ``ifid_rare10``, ``ifid_rare20``, ``ikid_rare10``,
``ikid_rare20``, beside ``fid_head`` / ``fid_tail``.

Intra-class KID (per_class.csv ``kid``, :func:`bench.metrics.kid.class_kid`) is measured for the rarest classes and
wherever a class has fewer real images than FID can use: no more real images than the feature dimension, where the
covariance of FID's Gaussian fit is singular and FID is dominated by its small-sample bias, while KID stays unbiased.
"""

from __future__ import annotations

import math

import torch

RARE_SHARES = (0.10, 0.20)
TAIL_COLUMNS = ("ifid_rare10", "ifid_rare20", "ikid_rare10", "ikid_rare20")


def rarest_classes(train_counts: list[int], share: float) -> torch.Tensor:
    """Bool (C,): the max(1, floor(share · C)) classes with the fewest training images (ties: lower index first)."""
    counts = torch.tensor(train_counts, dtype=torch.int64)
    k = max(1, math.floor(share * counts.numel() + 1e-9))
    order = torch.argsort(counts, stable=True)
    chosen = torch.zeros(counts.numel(), dtype=torch.bool)
    chosen[order[:k]] = True
    return chosen


def kid_classes(train_counts: list[int], real_counts: torch.Tensor, feature_dim: int) -> torch.Tensor:
    """Bool (C,): the classes whose intra-class KID is measured: the rarest max(RARE_SHARES) of the classes, and
    those with at most ``feature_dim`` real images in the evaluation."""
    return rarest_classes(train_counts, max(RARE_SHARES)) | (real_counts.cpu() <= feature_dim)


def tail_summary(class_fid: torch.Tensor, class_kid: torch.Tensor, train_counts: list[int]) -> dict[str, float]:
    """The :data:`TAIL_COLUMNS`: mean intra-class FID and KID over the rarest 10 % and 20 % of the classes."""
    out = {}
    for share in RARE_SHARES:
        rare = rarest_classes(train_counts, share)
        tag = f"rare{round(share * 100)}"
        out[f"ifid_{tag}"] = _finite_mean(class_fid.double().cpu()[rare])
        out[f"ikid_{tag}"] = _finite_mean(class_kid.double().cpu()[rare])
    return {k: out[k] for k in TAIL_COLUMNS}


def _finite_mean(values: torch.Tensor) -> float:
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if finite.numel() else math.nan
