"""Places_LT (Liu et al. 2019, OLTR): 365 scene classes, 62,500 train / 36,500 test images of Places365-Standard.

Layout under the data root::

    <root>/Places_LT/Places_LT_train.txt     OLTR's published lists, one "<relative path> <label>" per line
    <root>/Places_LT/Places_LT_test.txt
    <root>/places365/<relative path>         the Places365-Standard 256x256 images (train_256 and val_256
                                             archives), at exactly the relative paths the lists give; a leading
                                             "/" in a list path is ignored
    <root>/.cache/places_lt-<split>-<size>-<ch>.pt   written by bench: the decoded, resized split

The lists are the long-tail profile (``file``): the train list is already long-tailed (4,980 .. 5 per class), the
test list is balanced (100 per class). Decoding 62,500 JPEGs takes minutes, so a whole split, once resized, is
cached as a uint8 tensor next to the data, keyed by split, size and channels and checked against the list's
sha256 (delete ``.cache/`` after changing images in place). Class names are the image folders of the train list
(``a/airfield`` -> ``airfield``).
"""

from __future__ import annotations

import hashlib
import io
import sys
import warnings
from pathlib import Path, PurePosixPath

import torch

from bench.atomic import atomic_write_bytes
from bench.datasets.base import ImageSet
from bench.datasets.decode import decode_image_files
from bench.datasets.longtail import Selector
from bench.errors import ConfigError, DataNotFoundError, WriteError

LIST_FOLDER = "Places_LT"
IMAGE_FOLDER = "places365"
NATIVE_SIZE = 256
LISTS_URL = "https://github.com/zhmiao/OpenLongTailRecognition-OLTR"
IMAGES_URL = "http://places2.csail.mit.edu/download.html"


def list_file(root: Path, split: str) -> Path:
    return Path(root) / LIST_FOLDER / f"Places_LT_{split}.txt"


def how_to_get(root: Path) -> str:
    return (f"put OLTR's Places_LT_train.txt and Places_LT_test.txt (linked from {LISTS_URL}) in "
            f"{Path(root) / LIST_FOLDER}/ and the Places365-Standard 256x256 images they name ({IMAGES_URL}) under "
            f"{Path(root) / IMAGE_FOLDER}/")


def read_list(path: Path) -> tuple[list[str], list[int], str]:
    """Parse an OLTR list: (relative paths, labels, sha256 of the file); ConfigError naming file:line if malformed."""
    text = path.read_text()
    paths: list[str] = []
    labels: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or not parts[1].isdigit():
            raise ConfigError(f"{path}:{lineno}: expected '<relative path> <label>', got {line.strip()!r}")
        paths.append(parts[0].strip().lstrip("/"))
        labels.append(int(parts[1]))
    if not paths:
        raise ConfigError(f"{path} lists no images")
    return paths, labels, hashlib.sha256(text.encode()).hexdigest()


def class_names_from_paths(paths: list[str], labels: list[int], num_classes: int) -> list[str]:
    """A name per class: the folder of its first listed image, less the folders all images share and a one-letter
    index folder (``data_256/a/airfield/x.jpg`` -> ``airfield``); ``str(c)`` where that gives nothing."""
    first: dict[int, PurePosixPath] = {}
    for path, label in zip(paths, labels, strict=True):
        first.setdefault(label, PurePosixPath(path).parent)
    parents = [part.parts for part in first.values()]
    shared = 0
    while parents and all(len(p) > shared and p[shared] == parents[0][shared] for p in parents):
        shared += 1
    names = [str(c) for c in range(num_classes)]
    for label, parent in first.items():
        parts = parent.parts[shared:]
        if len(parts) > 1 and len(parts[0]) == 1:
            parts = parts[1:]
        if parts:
            names[label] = "/".join(parts)
    return names


def load(root: Path, split: str, size: int | None = None, channels: int | None = None,
         select: Selector | None = None) -> ImageSet:
    """A Places_LT split, 256x256 RGB natively, from the cache when it is there.

    Raises:
        DataNotFoundError: a list file, the image folder or a listed image is missing.
        ConfigError: a malformed list line or an undecodable image (the message names it).
    """
    root = Path(root)
    needed = [list_file(root, "train"), list_file(root, "test"), root / IMAGE_FOLDER]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise DataNotFoundError(f"Places_LT not found: missing {', '.join(missing)}; {how_to_get(root)}")
    train_paths, train_labels, train_digest = read_list(list_file(root, "train"))
    if split == "train":
        paths, label_list, digest = train_paths, train_labels, train_digest
    else:
        paths, label_list, digest = read_list(list_file(root, split))
    num_classes = max(max(train_labels), max(label_list)) + 1
    class_names = class_names_from_paths(train_paths, train_labels, num_classes)
    labels = torch.tensor(label_list, dtype=torch.long)
    size, channels = size or NATIVE_SIZE, channels or 3

    index = select(labels, num_classes) if select is not None else None
    whole = index is None or index.numel() == labels.numel()  # a selector returns distinct indices
    cache = root / ".cache" / f"places_lt-{split}-{size}-{channels}.pt"
    images = read_cache(cache, digest, (len(paths), channels, size, size))
    if images is None and not whole:  # a subset (smoke runs) and no cache: decode only what is kept, cache nothing
        images = decode_image_files([root / IMAGE_FOLDER / paths[i] for i in index.tolist()], size, channels)
    elif images is None:
        print(f"decoding {len(paths)} Places_LT {split} images to {size}x{size} (cached in {cache})", file=sys.stderr)
        images = decode_image_files([root / IMAGE_FOLDER / p for p in paths], size, channels)
        write_cache(cache, {"images": images, "list_sha256": digest})
    elif not whole:
        images = images[index]
    if not whole:
        labels = labels[index]
    return ImageSet(name="places_lt", split=split, images=images, labels=labels, num_classes=num_classes,
                    class_names=class_names)


def read_cache(path: Path, digest: str, shape: tuple[int, int, int, int]) -> torch.Tensor | None:
    """The cached images if the cache exists, matches the list's sha256 and has the expected shape; else None."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, weights_only=True)
    except Exception as err:  # a truncated or foreign file: rebuild it
        warnings.warn(f"ignoring the unreadable cache {path} ({type(err).__name__}); rebuilding it", stacklevel=2)
        return None
    if not isinstance(payload, dict) or payload.get("list_sha256") != digest:
        return None
    images = payload.get("images")
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or tuple(images.shape) != shape:
        return None
    return images


def write_cache(path: Path, payload: dict) -> None:
    """torch.save through the one atomic writer (``bench.atomic``: temporary file, fsync, ``os.replace``, the
    umask's mode); warn, don't fail, if the data root is read-only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        atomic_write_bytes(path, buffer.getbuffer())
    except (OSError, WriteError) as err:
        warnings.warn(f"could not write the Places_LT cache {path}: {err}", stacklevel=2)
