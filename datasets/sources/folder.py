"""Your own images in class folders (the StudioGAN / ImageFolder layout the ECOGAN data were stored in).

Layout::

    <path>/train/cls0/*.png        class folders named cls<k> or <k>; .png, .jpg, .jpeg (any case)
    <path>/train/cls1/...
    <path>/valid/cls0/...          the test (reference) split: valid/, else val/, else test/

Class folders are sorted by their number k and mapped to labels 0..C-1 (the numbers need not be contiguous);
their names become the class names. The train split's folders define the classes, also when loading the test
split, and every one of them needs a folder in the test split (its per-class FID needs reference images). Files
are taken in natural order (2.png before 10.png). A broken symlink (class folder or image) is an error, never
skipped. Images of any size and mode are accepted and resized; with ``size`` None the first image's height is
used. With ``channels`` None the channel count is decided from every image of both splits (header reads
only): the majority's (gray = 1, anything else = 3; a tie = 3), so that it never depends on which file comes
first; the images of the other kind are converted and a note on stderr says how many.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from pathlib import Path

import torch

from bench import progress
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


def _check_not_dangling(path: Path, what: str) -> None:
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{what} {path} is a broken symlink (to {os.readlink(path)}); fix or remove it")


def class_folders(split_dir: Path) -> list[Path]:
    """The class folders of a split, sorted by their number; ConfigError on a bad or duplicate name or a broken
    symlink."""
    for p in split_dir.iterdir():
        if not p.name.startswith("."):
            _check_not_dangling(p, "class folder")
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
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_SUFFIXES:
            _check_not_dangling(p, "image")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ConfigError(f"class folder {folder} holds no {'/'.join(IMAGE_SUFFIXES)} images")
    return sorted(files, key=lambda p: _natural_key(p.name))


def split_files(path: Path, split: str) -> tuple[list[Path], list[int], list[str]]:
    """A split's image files, their labels and the class names (the train split's folders)."""
    split_dir = split_folder(path, split)
    folders = class_folders(split_dir)
    class_names = [f.name for f in folders]
    if split != "train" and (path / "train").is_dir():
        train_folders = class_folders(path / "train")
        class_names = [f.name for f in train_folders]
        present = {_class_number(f.name) for f in folders}
        for folder in train_folders:
            if _class_number(folder.name) not in present:
                raise ConfigError(f"class {folder.name} of {path / 'train'} has no folder in {split_dir}: every "
                                  f"class needs reference images (add {split_dir / folder.name}/)")
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
    return files, labels, class_names


def dataset_channels(path: Path) -> tuple[int, dict[Path, int]]:
    """The channel count of an image-folder dataset: that of the majority of its images, train and test split
    together (1 = gray, 3 = colour; a tie = 3), read from the files' headers; and each file's own count."""
    per_file: dict[Path, int] = {}
    for split in ("train", "test"):
        try:
            files = split_files(path, split)[0]
        except DataNotFoundError:
            continue  # a dataset without a test split still has its train images
        with progress.bar(len(files), f"read headers {path.name}/{split}", unit="img", leave=False) as bar:
            for start in range(0, len(files), 1024):
                chunk = files[start:start + 1024]
                per_file.update((f, _file_channels(f)) for f in chunk)
                bar.update(len(chunk))
    counts = Counter(per_file.values())
    return (1 if counts[1] > counts[3] else 3), per_file


_CHANNELS_SEEN: dict[tuple[str, int, int], int] = {}  # (file, mtime_ns, size) -> channels: both splits' loads scan


def _file_channels(path: Path) -> int:
    """The channels of an image file (:func:`image_info`), remembered per file version for this process (a run
    loads the train and the test split, and each load reads every header of both)."""
    try:
        stat = path.stat()
    except OSError:
        return image_info(path)[0]  # says what is wrong with the file, in one line
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CHANNELS_SEEN:
        _CHANNELS_SEEN[key] = image_info(path)[0]
    return _CHANNELS_SEEN[key]


def load(path: Path, split: str, size: int | None = None, channels: int | None = None,
         select: Selector | None = None) -> ImageSet:
    """A split of an image-folder dataset (see the module docstring for the layout and the rules).

    Raises:
        DataNotFoundError: the folder or the split's folder is missing.
        ConfigError: no class folders, a bad class-folder name, a broken symlink, an empty class folder, an
            undecodable image, a test-split class that the train split lacks or a train class the test split lacks.
    """
    path = Path(path)
    files, labels, class_names = split_files(path, split)
    label_tensor = torch.tensor(labels, dtype=torch.long)
    if select is not None:
        index = select(label_tensor, len(class_names))
        files, label_tensor = [files[i] for i in index.tolist()], label_tensor[index]
    if size is None:
        size = image_info(files[0])[1] if files else 1
    if channels is None:
        channels, per_file = dataset_channels(path)
        odd = sum(1 for f in files if per_file[f] != channels)
        if odd:
            odd_kind, target, most = ("colour", "gray", "gray") if channels == 1 else ("gray", "RGB", "colour")
            print(f"note: folder:{path}: converted {odd} of the {len(files)} {split} images from {odd_kind} to "
                  f"{target} (most of the dataset is {most}); --set channels=1 or 3 to choose", file=sys.stderr)
    images = decode_image_files(files, size, channels, what=f"{path.name}/{split}")
    return ImageSet(name=f"folder:{path}", split=split, images=images, labels=label_tensor,
                    num_classes=len(class_names), class_names=class_names)
