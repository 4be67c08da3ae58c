"""Batches over a whole image set for the pretraining stages (one pass = one epoch): every image once per pass,
reshuffled each pass from a private generator, so that pretraining never draws from the training RNG."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from bench.datasets.base import uint8_to_float
from bench.run.phases import batch_sizes


class ShuffledBatches:
    """Re-iterable batches of (x in [-1, 1], y) over a whole image set, reshuffled each pass from a private
    generator seeded with ``seed``.

    One pass (= one pretraining epoch) yields every image exactly once, since BAGAN fits its class Gaussians on
    the codes of the whole training set: batches of ``batch_size`` (capped at the set size), the last one holding
    the remainder, except that a remainder of exactly one image joins the previous batch (BatchNorm in train mode
    needs two samples), so no batch holds a single image unless ``batch_size`` or the set is 1.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int,
                 transform: Any = None) -> None:
        self.images, self.labels, self.transform = images, labels, transform
        self.batch_size = max(1, min(batch_size, len(labels)))
        self.generator = torch.Generator().manual_seed(seed)

    def sizes(self) -> list[int]:
        """The batch sizes of one pass, in order (:func:`bench.run.phases.batch_sizes`); they sum to the set size."""
        return batch_sizes(len(self.labels), self.batch_size)

    def __len__(self) -> int:
        return len(self.sizes())

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.labels), generator=self.generator).to(self.labels.device)
        for index in order.split(self.sizes()):
            x = uint8_to_float(self.images[index])
            yield (self.transform(x) if self.transform else x), self.labels[index]
