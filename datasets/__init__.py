"""The dataset registry: names users type in grids and on the command line, and the one call that loads them.

``load_dataset(name, split, image_size, channels, data_root, max_per_class)`` reads a source (torchvision's
CIFAR-10 / FashionMNIST, OLTR's Places_LT lists, an image folder, scikit-learn's digits), applies the long-tail
profile to the train split (``bench.datasets.longtail``), keeps the first ``max_per_class`` images of each class
if asked, and returns an :class:`ImageSet` of uint8 images resized bilinearly to ``image_size`` (decoding and
resizing only the images it keeps). ``split="test"`` is always the balanced reference split.

Registered: ``cifar10_lt``, ``cifar10_lt_r100`` (the literature's exponential ρ = 100), ``fashion_mnist_lt``,
``places_lt``, ``digits_lt``, ``cifar10``, and any
``folder:<path>`` (an ImageFolder-style tree, see ``bench.datasets.sources.folder``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.datasets.base import ImageSet
from bench.datasets.longtail import PROFILES, Selector, longtail_counts, select_first_per_class
from bench.datasets.sources import cifar10, digits, fashion_mnist, folder, places_lt
from bench.datasets.sources.common import SPLITS
from bench.errors import BenchError, check
from bench.registry import Registry

__all__ = ["DatasetSpec", "ImageSet", "data_root", "describe_datasets", "get_spec", "list_datasets", "load_dataset",
           "register_dataset"]

# source name -> load(location, split, size, channels, select) -> ImageSet
SOURCES: dict[str, Callable[..., ImageSet]] = {
    "cifar10": cifar10.load,
    "fashion_mnist": fashion_mnist.load,
    "places_lt": places_lt.load,
    "folder": folder.load,
    "digits": digits.load,
}
FOLDER_PREFIX = "folder:"


@dataclass(frozen=True)
class DatasetSpec:
    """What a registered dataset name stands for."""

    name: str  # registered name, e.g. "cifar10_lt"
    source: str  # cifar10 | fashion_mnist | places_lt | folder | digits
    profile: str  # long tail of the train split: ecogan | exponential | none | file (the source's own lists)
    ratio: float | None = None  # exponential profile: n_max / n_min
    num_classes: int | None = None  # None = found when loading (folder:<path>)
    native_channels: int | None = None  # channels when channels=None; None = the first image's (folder:<path>)
    native_size: int | None = None  # stored resolution; None = the first image's (folder:<path>)
    paper_size: int | None = None  # resolution the paper trained at (64 for table 3); None = not in the paper
    description: str = ""  # one line for `bench list datasets`
    download: str = ""  # how to get the data
    reference: str = ""  # the balanced test split
    location: str | None = None  # folder:<path> only: the folder; None = under the data root
    mirror: bool = True  # a mirrored image keeps its class (the judge trains with flips; not digits)


DATASETS: Registry[DatasetSpec] = Registry("dataset", also_known=[f"{FOLDER_PREFIX}<path>"])


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset name (a researcher's own dataset: a new source function in SOURCES, or a new profile)."""
    if not re.fullmatch(r"[a-z0-9_]+", spec.name):
        raise ValueError(f"dataset name {spec.name!r} must be lower-case letters, digits and underscores")
    if spec.name in DATASETS:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    if spec.source not in SOURCES:
        raise ValueError(f"dataset {spec.name!r}: unknown source {spec.source!r}; known: {', '.join(SOURCES)}")
    if spec.profile not in (*PROFILES, "file"):
        raise ValueError(f"dataset {spec.name!r}: unknown profile {spec.profile!r}")
    return DATASETS.add(spec.name, spec)


_CIFAR_GET = ("automatic (torchvision) into <data_root>/cifar-10-batches-py/; offline: extract " + cifar10.URL
              + " there, or an image-folder copy at <data_root>/cifar10/{train,test}/<class>/")
register_dataset(DatasetSpec(
    "cifar10_lt", "cifar10", "ecogan", num_classes=10, native_channels=3, native_size=32, paper_size=64,
    description="CIFAR10_LT of the ECOGAN paper: class 0 whole, class c its first 100c ([5000,100,...,900])",
    download=_CIFAR_GET, reference="CIFAR-10 test, 1,000 per class"))
register_dataset(DatasetSpec(
    "cifar10_lt_r100", "cifar10", "exponential", ratio=100.0, num_classes=10, native_channels=3, native_size=32,
    description="CIFAR10-LT of the long-tail literature (Cao et al. 2019; gSR, NoisyTwins): exponential, ratio 100 "
                "([5000,2997,...,50])",
    download=_CIFAR_GET, reference="CIFAR-10 test, 1,000 per class"))
register_dataset(DatasetSpec(
    "fashion_mnist_lt", "fashion_mnist", "ecogan", num_classes=10, native_channels=1, native_size=28, paper_size=64,
    description="FashionMNIST_LT of the ECOGAN paper ([6000,100,...,900]), 1 channel as in its Nov-2022 runs",
    download="automatic (torchvision) into <data_root>/FashionMNIST/raw/; offline: gunzip the files of "
             + fashion_mnist.URL + " there",
    reference="FashionMNIST test, 1,000 per class"))
register_dataset(DatasetSpec(
    "places_lt", "places_lt", "file", num_classes=365, native_channels=3, native_size=256, paper_size=64,
    description="Places_LT (OLTR lists): 365 classes, 62,500 train images, 4,980 .. 5 per class",
    download="manual: OLTR's Places_LT_{train,test}.txt into <data_root>/Places_LT/, Places365-Standard 256x256 "
             "images under <data_root>/places365/",
    reference="Places_LT test list, 100 per class"))
register_dataset(DatasetSpec(
    "digits_lt", "digits", "exponential", ratio=10.0, num_classes=10, native_channels=1, native_size=8,
    description="scikit-learn's 8x8 digits, exponential long tail ratio 10 (the CPU demo)", mirror=False,
    download="none (ships with scikit-learn)", reference="the last 50 images of each class (500)"))
register_dataset(DatasetSpec(
    "cifar10", "cifar10", "none", num_classes=10, native_channels=3, native_size=32, paper_size=32,
    description="balanced CIFAR-10 (the paper's table 1 'balanced' column, StudioGAN at 32x32)",
    download=_CIFAR_GET, reference="CIFAR-10 test, 1,000 per class"))


def list_datasets() -> list[str]:
    """The registered names (``folder:<path>`` is accepted too but is not a single name)."""
    return DATASETS.names()


def get_spec(name: str) -> DatasetSpec:
    """The spec of a registered name or of ``folder:<path>``; ConfigError listing the known names otherwise."""
    if isinstance(name, str) and name.startswith(FOLDER_PREFIX):
        path = name[len(FOLDER_PREFIX):]
        check(bool(path.strip()), f"dataset {name!r}: give the folder, as folder:<path>")
        return DatasetSpec(name, "folder", "none", description=f"images in {path}/{{train,valid}}/cls<k>/",
                           download="your own images", reference=f"{path}/valid/ (or val/, test/)", location=path)
    return DATASETS.get(name)


def describe_datasets() -> str:
    """A readable table of the datasets (``bench list datasets``)."""
    rows = [("name", "source", "profile", "classes", "ch", "size", "how to get it")]
    for spec in DATASETS.entries.values():
        profile = f"{spec.profile} {spec.ratio:g}" if spec.ratio is not None else spec.profile
        rows.append((spec.name, spec.source, profile, str(spec.num_classes), str(spec.native_channels),
                     str(spec.native_size), spec.download))
    rows.append((f"{FOLDER_PREFIX}<path>", "folder", "none", "found", "found", "found",
                 "your images: <path>/{train,valid}/cls<k>/*.png (path relative to the working directory)"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
             for row in rows]
    notes = [spec_line(spec) for spec in DATASETS.entries.values()]
    return "\n".join(lines + [""] + notes + ["", "data root: --data-root, else $BENCH_DATA, else ./data"])


def spec_line(spec: DatasetSpec) -> str:
    return f"{spec.name}: {spec.description}; test split = {spec.reference}"


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``explicit``, else ``$BENCH_DATA``, else ``./data``."""
    return _data_root(explicit)


def _data_root(explicit: str | os.PathLike | None) -> Path:
    chosen = explicit if explicit is not None else os.environ.get("BENCH_DATA") or "data"
    return Path(chosen).expanduser()


def load_dataset(name: str, split: str = "train", image_size: int | None = None, channels: int | None = None,
                 data_root: str | os.PathLike | None = None, max_per_class: int | None = None) -> ImageSet:
    """Load a split of a registered dataset, long-tailed and resized.

    Args:
        name: a registered name (``list_datasets()``) or ``folder:<path>``.
        split: ``"train"`` (long-tailed by the dataset's profile) or ``"test"`` (the balanced reference).
        image_size: output height and width (bilinear, antialias off); None = the native size.
        channels: 1 or 3; None = the dataset's native channels.
        data_root: where the data live; None = ``$BENCH_DATA`` or ``./data``. Ignored by ``folder:<path>``
            (the path is relative to the working directory) and ``digits_lt``.
        max_per_class: keep only the first k images of each class, after the profile (smoke runs).

    Returns:
        An ImageSet named ``name``: uint8 (N, channels, image_size, image_size) images and int64 labels.

    Raises:
        ConfigError: unknown name, bad split, size, channels or max_per_class, or bad files (named).
        DataNotFoundError: the data are not on disk and cannot be downloaded (the message says what to get).
    """
    spec = get_spec(name)
    check(split in SPLITS, f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    check(image_size is None or (_is_int(image_size) and image_size >= 1),
          f"image_size must be a positive integer, got {image_size!r}")
    check(channels in (None, 1, 3), f"channels must be 1 or 3, got {channels!r}")
    check(max_per_class is None or (_is_int(max_per_class) and max_per_class >= 1),
          f"max_per_class must be a positive integer, got {max_per_class!r}")
    location = Path(spec.location).expanduser() if spec.location is not None else _data_root(data_root)
    loaded = SOURCES[spec.source](location, split, image_size, channels or spec.native_channels,
                                  _selector(spec, split, max_per_class))
    return dataclasses.replace(loaded, name=spec.name)


def count_images(name: str, split: str = "train", data_root: str | os.PathLike | None = None,
                 max_per_class: int | None = None) -> list[int] | None:
    """The images per class that :func:`load_dataset` would return, found without decoding any image (file lists,
    label files): for ``folder:<path>``, ``digits_lt`` and the CIFAR-10 sets (either layout); None for the other
    sources, or when the data are not on disk (the dry run then estimates without them)."""
    spec = get_spec(name)
    counter = _COUNTERS.get(spec.source)
    if counter is None:
        return None
    location = Path(spec.location).expanduser() if spec.location is not None else _data_root(data_root)
    try:
        labels, num_classes = counter(location, split)
    except (BenchError, OSError):
        return None
    select = _selector(spec, split, max_per_class)
    if select is not None:
        labels = labels[select(labels, num_classes)]
    return torch.bincount(labels, minlength=num_classes).tolist()


def _folder_labels(location: Path, split: str) -> tuple[torch.Tensor, int]:
    _, labels, names = folder.split_files(location, split)
    return torch.tensor(labels, dtype=torch.long), len(names)


def _digits_labels(location: Path, split: str) -> tuple[torch.Tensor, int]:
    return digits.load(location, split, size=1).labels, 10


_COUNTERS: dict[str, Callable[[Path, str], tuple[torch.Tensor, int]]] = {
    "folder": _folder_labels, "digits": _digits_labels, "cifar10": cifar10.labels}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _selector(spec: DatasetSpec, split: str, max_per_class: int | None) -> Selector | None:
    """The images a split keeps: the profile's first n_c per class (train only), then the first max_per_class."""
    shaped = split == "train" and spec.profile in ("ecogan", "exponential")
    if not shaped and max_per_class is None:
        return None

    def select(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
        index = torch.arange(labels.numel())
        if shaped:
            base = torch.bincount(labels, minlength=num_classes).tolist()
            index = select_first_per_class(labels, longtail_counts(spec.profile, base, spec.ratio))
        if max_per_class is not None:
            index = index[select_first_per_class(labels[index], [max_per_class] * num_classes)]
        return index

    return select
