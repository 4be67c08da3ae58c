"""What the in-memory sources (cifar10, fashion_mnist, digits) share: select, then resize, then wrap.

Every source has the same signature,
``load(location, split, size=None, channels=None, select=None) -> ImageSet``, where ``location`` is the data
root (or the folder of a ``folder:<path>`` dataset), ``size``/``channels`` None mean the source's native ones,
and ``select`` (a :data:`bench.datasets.longtail.Selector`) picks the images to keep *before* any resizing.
"""

from __future__ import annotations

import torch

from bench.datasets.base import ImageSet
from bench.datasets.longtail import Selector
from bench.datasets.resize import resize_images

SPLITS = ("train", "test")


def error_text(err: BaseException) -> str:
    """An exception as one short line for a user-facing message: its type and the first line of its text."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def build_image_set(name: str, split: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                    class_names: list[str], size: int | None, channels: int | None,
                    select: Selector | None = None) -> ImageSet:
    """Keep the selected images of a native-size split, resize and convert them, and wrap them in an ImageSet.

    Args:
        images: uint8 (N, C, H, W) at native size.
        labels: int64 (N,).
        size, channels: None = native (H, C).
    """
    assert split in SPLITS, split
    labels = labels.long()
    if select is not None:
        index = select(labels, num_classes)
        images, labels = images[index], labels[index]
    size = size or images.shape[-2]
    channels = channels or images.shape[1]
    return ImageSet(name=name, split=split, images=resize_images(images.contiguous(), size, channels),
                    labels=labels.contiguous(), num_classes=num_classes, class_names=list(class_names))
