"""scikit-learn's bundled 8x8 handwritten digits: 1,797 gray images, 10 classes, no download.

Pixel values 0..16 are scaled to 0..255 (rounded half up) at 8x8, then resized like every other source. The split
is fixed so that the demo has a balanced reference: the last 50 images of each class, in scikit-learn's order,
are the test split (500 images); the other 1,297 are the train split.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from bench.datasets.base import ImageSet
from bench.datasets.longtail import Selector, rank_within_class
from bench.datasets.sources.common import build_image_set

TEST_PER_CLASS = 50


def load(root: Path | None, split: str, size: int | None = None, channels: int | None = None,
         select: Selector | None = None) -> ImageSet:
    """The digits train or test split (``root`` is unused: the data ship with scikit-learn)."""
    images, labels = _native()
    class_sizes = torch.bincount(labels, minlength=10)
    in_test = rank_within_class(labels, 10) >= class_sizes[labels] - TEST_PER_CLASS
    keep = in_test if split == "test" else ~in_test
    return build_image_set("digits", split, images[keep], labels[keep], 10, [str(c) for c in range(10)], size,
                           channels, select)


@lru_cache(maxsize=1)
def _native() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 images as uint8 (N, 1, 8, 8) and their labels, parsed once per process (about 0.2 s)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).mul(255.0 / 16.0).add_(0.5).floor_().to(torch.uint8).unsqueeze(1)
    return images, torch.from_numpy(bunch.target).long()
