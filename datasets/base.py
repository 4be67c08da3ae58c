"""The in-memory image set every source returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ImageSet:
    """Images and labels of one split, held in memory.

    Images are stored as uint8 (N, C, H, W) already resized to the requested size and channel count
    (a quarter of the memory of floats; Places_LT at 64x64 is 770 MB this way). ``float_images`` and
    ``__getitem__`` give them in [-1, 1] as the models expect.

    Attributes:
        name: registered dataset name, e.g. ``"cifar10_lt"``.
        split: ``"train"`` or ``"test"`` (the balanced reference split).
        images: uint8 tensor (N, C, H, W).
        labels: int64 tensor (N,), values in [0, num_classes).
        num_classes: number of classes of the dataset (also those with no image in this split).
        class_names: one readable name per class.
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.images.dtype == torch.uint8 and self.images.ndim == 4, self.images.shape
        assert self.labels.dtype == torch.int64 and self.labels.shape == (self.images.shape[0],)
        if not self.class_names:
            self.class_names = [str(c) for c in range(self.num_classes)]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return uint8_to_float(self.images[index]), int(self.labels[index])

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def class_counts(self) -> list[int]:
        """Number of images of each class, in class order (length ``num_classes``)."""
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def float_images(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """Images (all, or those at ``index``) as float32 in [-1, 1]."""
        images = self.images if index is None else self.images[index]
        return uint8_to_float(images)


def uint8_to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1] (the paper's ToTensor + Normalize(0.5, 0.5))."""
    return images.float().div(127.5).sub(1.0)


def float_to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded and clamped (the paper's quantisation before Inception)."""
    return images.add(1.0).mul(127.5).add(0.5).clamp(0, 255).to(torch.uint8)
