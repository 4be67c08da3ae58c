"""CIFAR-10 from the original release (through torchvision) or from an image-folder copy of it.

Layouts under the data root, tried in this order:

1. ``<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``: the original python release, as
   torchvision downloads it, in its order (the order the paper's first-per-class rule used). Loaded by
   ``torchvision.datasets.CIFAR10``, which checks the files' md5 sums.
2. An image-folder copy: ``<root>/cifar10/{train,test}/<class>/*.png|jpg`` or ``<root>/{train,test}/<class>/...``
   with the ten class names (``airplane`` ... ``truck``, CIFAR-10's label order), e.g. a JPEG copy. A class's images
   are taken in natural file-name order, so the copy's order decides which images the long tail keeps (the first
   100·c of class c for CIFAR10_LT); only the images kept are decoded. A re-encoded copy (JPEG) has pixels close
   to, not equal to, the original's, and so are its FIDs.
3. Neither: torchvision's download is tried once; with no network that fails and a DataNotFoundError says what to
   fetch and where.
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.datasets.base import ImageSet
from bench.datasets.decode import decode_image_files
from bench.datasets.longtail import Selector
from bench.datasets.sources.common import build_image_set, error_text
from bench.datasets.sources.folder import image_files
from bench.errors import DataNotFoundError

FOLDER = "cifar-10-batches-py"
FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
COPY_FOLDER = "cifar10"  # <root>/cifar10/{train,test}/<class>/: an image-folder copy
COPY_SPLITS = {"train": "train", "test": "test"}


def expected_files(root: Path) -> str:
    return f"{root / FOLDER}/{{data_batch_1..5,test_batch,batches.meta}}"


def how_to_get(root: Path) -> str:
    return (f"download {URL} and extract it into {root} (e.g. curl -L {URL} | tar xz -C {root}), or put an "
            f"image-folder copy at {root / COPY_FOLDER}/{{train,test}}/<class>/ (classes {', '.join(CLASSES)})")


def folder_copy(root: Path) -> Path | None:
    """The image-folder copy under ``root`` (``<root>/cifar10/`` or ``<root>`` itself holding ``train/<class>/``
    and ``test/<class>/`` for the ten classes), or None."""
    for base in (root / COPY_FOLDER, root):
        if all((base / split / name).is_dir() for split in COPY_SPLITS.values() for name in CLASSES):
            return base
    return None


def load_folder_copy(base: Path, split: str, size: int | None = None, channels: int | None = None,
                     select: Selector | None = None) -> ImageSet:
    """A split of an image-folder copy of CIFAR-10 (see the module docstring): the selected images only, decoded
    and resized."""
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(CLASSES):
        found = image_files(base / COPY_SPLITS[split] / name)
        files += found
        labels += [label] * len(found)
    label_tensor = torch.tensor(labels, dtype=torch.long)
    if select is not None:
        index = select(label_tensor, len(CLASSES))
        files, label_tensor = [files[i] for i in index.tolist()], label_tensor[index]
    images = decode_image_files(files, size or 32, channels or 3, what=f"cifar10 {split} ({base})")
    return ImageSet(name="cifar10", split=split, images=images, labels=label_tensor, num_classes=len(CLASSES),
                    class_names=list(CLASSES))


def labels(root: Path, split: str) -> tuple[torch.Tensor, int]:
    """A split's labels in the order :func:`load` reads the images, without decoding them (file names of a copy,
    the label lists of the original files); DataNotFoundError when neither layout is on disk."""
    root = Path(root)
    if all((root / FOLDER / f).is_file() for f in FILES):
        import pickle

        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        found: list[int] = []
        for name in names:
            with (root / FOLDER / name).open("rb") as fh:
                found += pickle.load(fh, encoding="latin1")["labels"]
        return torch.tensor(found, dtype=torch.long), len(CLASSES)
    copy = folder_copy(root)
    if copy is None:
        raise DataNotFoundError(f"CIFAR-10 not found at {expected_files(root)}; {how_to_get(root)}")

    counts = [len(image_files(copy / COPY_SPLITS[split] / name)) for name in CLASSES]
    return torch.repeat_interleave(torch.arange(len(CLASSES)), torch.tensor(counts)), len(CLASSES)


def load(root: Path, split: str, size: int | None = None, channels: int | None = None,
         select: Selector | None = None) -> ImageSet:
    """CIFAR-10 train (50,000) or test (10,000) images, 32x32 RGB natively, from the first layout of the module
    docstring that is present.

    Raises:
        DataNotFoundError: no layout present and the download failed, or files corrupted (md5 mismatch).
        ConfigError: a class folder of an image-folder copy without images, or an image that does not decode.
    """
    root = Path(root)
    if any(not (root / FOLDER / f).is_file() for f in FILES) and (copy := folder_copy(root)) is not None:
        return load_folder_copy(copy, split, size, channels, select)
    import torchvision  # slow to import (about 2 s); only this source needs it

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
