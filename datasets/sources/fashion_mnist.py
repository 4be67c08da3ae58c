"""FashionMNIST through torchvision, in torchvision's order (the order the paper's first-per-class rule used).

Layout: ``<root>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (torchvision's, unpacked). When
a file is absent, torchvision's download is tried once; with no network that fails and a DataNotFoundError says
what to fetch and where.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import ImageSet
from bench.datasets.longtail import Selector
from bench.datasets.sources.common import build_image_set, error_text
from bench.errors import DataNotFoundError

FOLDER = "FashionMNIST/raw"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def expected_files(root: Path) -> str:
    return f"{root / FOLDER}/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte"


def how_to_get(root: Path) -> str:
    return f"download the four .gz files from {URL} into {root / FOLDER} and gunzip them"


def load(root: Path, split: str, size: int | None = None, channels: int | None = None,
         select: Selector | None = None) -> ImageSet:
    """FashionMNIST train (60,000) or test (10,000) images, 28x28 gray natively.

    Raises:
        DataNotFoundError: files absent and the download failed.
    """
    import torchvision  # slow to import (about 2 s); only this source needs it

    root = Path(root)
    train = split == "train"
    download = any(not (root / FOLDER / f).is_file() for f in FILES)
    try:
        data = torchvision.datasets.FashionMNIST(str(root), train=train, download=download)
    except Exception as err:  # no network, proxy, disk full, bad archive: all end the same way
        what = "and the download failed" if download else "or unreadable"
        raise DataNotFoundError(f"FashionMNIST not found at {expected_files(root)} {what} "
                                f"({error_text(err)}); {how_to_get(root)}") from None
    images = data.data.unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
    return build_image_set("fashion_mnist", split, images, data.targets, 10, list(data.classes), size, channels,
                           select)
