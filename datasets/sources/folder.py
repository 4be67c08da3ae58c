"""Your own images in class folders (the StudioGAN / ImageFolder layout the ECOGAN data were stored in).

Layout::

    <path>/train/cls0/*.png        class folders named cls<k> or <k>; .png, .jpg, .jpeg (any case)
    <path>/train/cls1/...
    <path>/valid/cls0/...          the test (reference) split: valid/, else val/, else test/

Class folders are sorted by their number k and mapped to labels 0..C-1 (the numbers need not be contiguous);
their names become the class names. The train split's folders define the classes, also when loading the test
split. Files are taken in natural order (2.png before 10.png). Images of any size and mode are accepted and
resized; with ``size`` / ``channels`` None, the first image's height and channel count are used.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from bench.datasets.base import ImageSet
from bench.datasets.decode import IMAGE_SUFFIXES, decode_image_files, image_info
from bench.datasets.longtail import Selector
from bench.errors import ConfigError, DataNotFoundError

TEST_FOLDERS = ("valid", "val", "test")
_CLASS_NAME = re.compile(r"(?:cls)?(\d+)")


def layout(path: Path) -> str:
    return f"{path}/{{train,valid}}/cls<k>/*.png"


def split_folder(path: Path, split: str) -> Path:
    """The folder holding a split's class folders; DataNotFoundError naming the expected layout if absent."""
    if not path.is_dir():
        raise DataNotFoundError(f"dataset folder not found: {path} (expected the layout {layout(path)})")
    candidates = ("train",) if split == "train" else TEST_FOLDERS
    for name in candidates:
        if (path / name).is_dir():
            return path / name
    wanted = " or ".join(f"{path / name}/" for name in candidates)
    raise DataNotFoundError(f"no {split} split in {path}: expected {wanted} (layout {layout(path)})")


def class_folders(split_dir: Path) -> list[Path]:
    """The class folders of a split, sorted by their number; ConfigError on a bad or duplicate name."""
    folders = [p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        raise ConfigError(f"no class folders (cls<k>/ or <k>/) in {split_dir}")
    numbers: dict[int, Path] = {}
    for folder in folders:
        match = _CLASS_NAME.fullmatch(folder.name)
        if match is None:
            raise ConfigError(f"class folder {folder} is not named cls<k> or <k> (k a class number)")
        k = int(match.group(1))
        if k in numbers:
            raise ConfigError(f"class folders {numbers[k]} and {folder} both name class {k}")
        numbers[k] = folder
    return [numbers[k] for k in sorted(numbers)]


def _class_number(name: str) -> int:
    return int(_CLASS_NAME.fullmatch(name).group(1))


def _natural_key(name: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def image_files(folder: Path) -> list[Path]:
    """Image files of a class folder in natural order; ConfigError if there are none."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ConfigError(f"class folder {folder} holds no {'/'.join(IMAGE_SUFFIXES)} images")
    return sorted(files, key=lambda p: _natural_key(p.name))


def load(path: Path, split: str, size: int | None = None, channels: int | None = None,
         select: Selector | None = None) -> ImageSet:
    """A split of an image-folder dataset (see the module docstring for the layout and the rules).

    Raises:
        DataNotFoundError: the folder or the split's folder is missing.
        ConfigError: no class folders, a bad class-folder name, an empty class folder, an undecodable image, or
            a test-split class that the train split lacks.
    """
    path = Path(path)
    folders = class_folders(split_folder(path, split))
    class_names = [f.name for f in folders]
    if split != "train" and (path / "train").is_dir():
        class_names = [f.name for f in class_folders(path / "train")]
    label_of = {_class_number(name): c for c, name in enumerate(class_names)}
    files: list[Path] = []
    labels: list[int] = []
    for folder in folders:
        number = _class_number(folder.name)
        if number not in label_of:
            raise ConfigError(f"class folder {folder} has no counterpart in {path / 'train'}")
        found = image_files(folder)
        files += found
        labels += [label_of[number]] * len(found)
    label_tensor = torch.tensor(labels, dtype=torch.long)
    if select is not None:
        index = select(label_tensor, len(class_names))
        files, label_tensor = [files[i] for i in index.tolist()], label_tensor[index]
    if size is None or channels is None:
        first_channels, first_height, _ = image_info(files[0]) if files else (3, 1, 1)
        size, channels = size or first_height, channels or first_channels
    images = decode_image_files(files, size, channels)
    return ImageSet(name=f"folder:{path}", split=split, images=images, labels=label_tensor,
                    num_classes=len(class_names), class_names=class_names)
