"""CIFAR-10 through torchvision, in torchvision's order (the order the paper's first-per-class rule used).

Layout: ``<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` (torchvision's). When any file
is absent, torchvision's download is tried once; with no network that fails and a DataNotFoundError says what
to fetch and where. Present files are loaded by ``torchvision.datasets.CIFAR10``, which checks their md5 sums.
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.datasets.base import ImageSet
from bench.datasets.longtail import Selector
from bench.datasets.sources.common import build_image_set, error_text
from bench.errors import DataNotFoundError

FOLDER = "cifar-10-batches-py"
FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def expected_files(root: Path) -> str:
    return f"{root / FOLDER}/{{data_batch_1..5,test_batch,batches.meta}}"


def how_to_get(root: Path) -> str:
    return f"download {URL} and extract it into {root} (e.g. curl -L {URL} | tar xz -C {root})"


def load(root: Path, split: str, size: int | None = None, channels: int | None = None,
         select: Selector | None = None) -> ImageSet:
    """CIFAR-10 train (50,000) or test (10,000) images, 32x32 RGB natively.

    Raises:
        DataNotFoundError: files absent and the download failed, or files corrupted (md5 mismatch).
    """
    import torchvision  # slow to import (about 2 s); only this source needs it

    root = Path(root)
    if any(not (root / FOLDER / f).is_file() for f in FILES):
        try:
            torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        except Exception as err:  # no network, proxy, disk full, bad archive: all end the same way
            raise DataNotFoundError(f"CIFAR-10 not found at {expected_files(root)} and the download failed "
                                    f"({error_text(err)}); {how_to_get(root)}") from None
    try:
        data = torchvision.datasets.CIFAR10(str(root), train=split == "train", download=False)
    except RuntimeError as err:
        raise DataNotFoundError(f"CIFAR-10 files at {expected_files(root)} are incomplete or corrupted ({err}); "
                                f"delete {root / FOLDER} and {how_to_get(root)}") from None
    images = torch.from_numpy(data.data).permute(0, 3, 1, 2)  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    labels = torch.tensor(data.targets, dtype=torch.long)
    return build_image_set("cifar10", split, images, labels, 10, list(data.classes), size, channels, select)
