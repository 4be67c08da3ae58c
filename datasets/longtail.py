"""Long-tail profiles: how many images of each class a long-tailed training split keeps, and which ones.

Profiles (DESIGN.md, "Dataset spec"; ecogan-upstream.md section 3.1):

* ``ecogan``: class 0 is kept whole, class c >= 1 keeps its first ``100 * c`` images (the paper's
  ``make_imb_data.py`` rule: CIFAR10_LT [5000, 100, 200, ..., 900], FashionMNIST_LT [6000, 100, ..., 900]).
* ``exponential``: ``n_c = floor(n_max * ratio ** (-c / (C - 1)))`` clipped to what class c has, the rule of the
  long-tail literature (Cao et al., LDAM: CIFAR-10-LT ratio 100 is [5000, 2997, ..., 83, 50]).
* ``none``: every image is kept.

The images kept are always the *first* ones of each class in the source's order, so a profile is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from bench.errors import ConfigError

PROFILES = ("ecogan", "exponential", "none")

# A source calls this with the labels of its whole split and its number of classes, and keeps only the images at
# the returned indices (so that, e.g., 62,500 Places JPEGs are not decoded to keep 20 per class).
Selector = Callable[[torch.Tensor, int], torch.Tensor]


def longtail_counts(profile: str, base_counts: list[int], ratio: float | None = None) -> list[int]:
    """Number of images to keep per class under a long-tail profile.

    Args:
        profile: ``"ecogan"``, ``"exponential"`` or ``"none"`` (see the module docstring).
        base_counts: images available per class in the balanced source split, in class order.
        ratio: imbalance ratio n_max / n_min of the ``exponential`` profile (must be > 1); ignored otherwise.

    Returns:
        The kept count of each class, never more than ``base_counts``.
    """
    counts = [int(n) for n in base_counts]
    if profile == "none":
        return counts
    if profile == "ecogan":
        return [n if c == 0 else min(100 * c, n) for c, n in enumerate(counts)]
    if profile == "exponential":
        if ratio is None or not ratio > 1:
            raise ConfigError(f"the exponential long-tail profile needs a ratio > 1, got ratio = {ratio!r}")
        if not counts:
            return []
        n_max, last = max(counts), max(len(counts) - 1, 1)
        return [min(_floor_exact(n_max * ratio ** (-c / last)), n) for c, n in enumerate(counts)]
    raise ConfigError(f"unknown long-tail profile {profile!r}; known: {', '.join(PROFILES)}")


def _floor_exact(x: float) -> int:
    """floor(x), except that a product that is an integer in exact arithmetic stays that integer.

    ``5000 * 100 ** -1`` is 50 exactly, but float powers can land a hair below (49.99999999999999), which a
    plain floor would turn into 49.
    """
    nearest = round(x)
    return int(nearest) if abs(x - nearest) <= 1e-9 * max(1.0, abs(x)) else math.floor(x)


def rank_within_class(labels: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Position of each sample among the samples of its own class, in source order (0 = first of its class).

    Args:
        labels: int64 (N,), values in [0, num_classes).
        num_classes: defaults to ``labels.max() + 1``.

    Returns:
        int64 (N,).
    """
    labels = labels.long()
    n = labels.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.long)
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    order = torch.argsort(labels, stable=True)  # groups classes, keeps source order inside each
    class_sizes = torch.bincount(labels, minlength=num_classes)
    class_start = torch.cumsum(class_sizes, 0) - class_sizes
    sorted_rank = torch.arange(n) - class_start[labels[order]]
    rank = torch.empty_like(sorted_rank)
    rank[order] = sorted_rank
    return rank


def select_first_per_class(labels: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Indices of the first ``counts[c]`` samples of each class c, in source order (the paper's rule).

    Args:
        labels: int64 (N,), values in [0, len(counts)).
        counts: how many to keep per class; a class with fewer samples keeps all of them.

    Returns:
        int64 (K,) increasing indices into ``labels``.
    """
    if any(c < 0 for c in counts):
        raise ConfigError(f"per-class counts must be >= 0, got {counts}")
    labels = labels.long()
    if labels.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    assert int(labels.min()) >= 0 and int(labels.max()) < len(counts), "a label has no count"
    keep = rank_within_class(labels, len(counts)) < torch.tensor(counts, dtype=torch.long)[labels]
    return torch.nonzero(keep).squeeze(1)
