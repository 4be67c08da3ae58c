"""Conditional accuracy: does a fake of class c look like class c to the reference classifier?"""

from __future__ import annotations

import math

import torch


def conditional_accuracy(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per class c: the share of fakes generated for c that the classifier assigns to c.

    Args:
        logits: (N, C) classifier logits of the fakes; labels: (N,) the classes they were generated for.

    Returns:
        float64 (C,) on the CPU; NaN for classes without fakes.
    """
    labels = labels.to(logits.device)
    correct = (logits.argmax(1) == labels).double()
    hits = torch.zeros(num_classes, dtype=torch.float64, device=logits.device).index_add_(0, labels, correct)
    counts = torch.bincount(labels, minlength=num_classes).double()
    acc = hits / counts.clamp_min(1)
    return acc.where(counts > 0, torch.full_like(acc, math.nan)).cpu()
