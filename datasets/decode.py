"""Decode image files (PNG, JPEG) with PIL into one resized uint8 tensor.

Files are decoded in a thread pool (PIL releases the GIL while decoding) and resized a chunk at a time, so
memory holds one chunk at native size plus the output at the requested size: Places_LT's 62,500 JPEGs at
256 x 256 would need 12 GB at once. Gray images (modes 1, L, LA, I, I;16, F) decode to 1 channel, everything
else to RGB (alpha dropped); the requested channel count is then made by :func:`resize_images`.

High bit depths: 16-bit gray PNGs (modes ``I;16``, ``I;16B``, ``I;16L``, ``I;16N``, and ``I`` holding 0..65535)
are scaled to 8 bits as round(v / 257), which maps 0..65535 onto 0..255 (Pillow's own ``convert("L")`` clips
them, so nearly every pixel would read 255). 16-bit colour PNGs already open as 8-bit RGB(A) in Pillow. An ``I``
image with values outside 0..65535 and a 32-bit float (``F``) image have no agreed 8-bit reading and are refused,
naming the file. So is an image Pillow calls a decompression bomb (more than twice ``Image.MAX_IMAGE_PIXELS``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from bench import progress
from bench.datasets.resize import resize_images
from bench.datasets.sources.common import error_text
from bench.errors import ConfigError, DataNotFoundError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
_SIXTEEN_BIT_MAX = 65535
_CHUNK = 512  # files decoded before each batched resize


def _open(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except FileNotFoundError:
        raise DataNotFoundError(f"image file not found: {path}") from None
    except Image.DecompressionBombError as err:
        raise ConfigError(f"refusing image {path}: {err} (Pillow's limit; shrink the file or remove it)") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ConfigError(f"cannot decode image {path}: {error_text(err)}") from None


def image_info(path: Path) -> tuple[int, int, int]:
    """(channels, height, width) of an image file, read from its header only; channels as decode_image gives."""
    with _open(path) as img:
        return (1 if img.mode in _GRAY_MODES else 3), img.height, img.width


def sixteen_to_eight_bits(values: np.ndarray) -> np.ndarray:
    """uint8 round(v / 257) of integer values in 0..65535: 16-bit intensities on the 8-bit scale (65535 -> 255)."""
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _high_bit_gray(img: Image.Image, path: Path) -> np.ndarray:
    """An ``I;16*`` or ``I`` image as uint8 (H, W), scaled by :func:`sixteen_to_eight_bits`; a ConfigError naming
    the file for an ``I`` image outside 0..65535 or an ``F`` image."""
    if img.mode == "F":
        raise ConfigError(f"cannot decode image {path}: 32-bit float pixels (mode F) have no 8-bit reading; "
                          f"save it as an 8- or 16-bit PNG")
    values = np.asarray(img)  # decodes the whole file
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if low < 0 or high > _SIXTEEN_BIT_MAX:
        raise ConfigError(f"cannot decode image {path}: 32-bit integer pixels (mode {img.mode}) range over "
                          f"{low}..{high}, beyond 16 bits (0..{_SIXTEEN_BIT_MAX}); save it as an 8- or 16-bit PNG")
    return sixteen_to_eight_bits(values)


def decode_image(path: Path) -> torch.Tensor:
    """Decode one file to uint8 (C, H, W), C = 1 for gray images and 3 otherwise (16-bit gray scaled to 8 bits,
    see the module docstring)."""
    with _open(path) as img:
        try:
            if img.mode in _SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
                array = _high_bit_gray(img, path)
            else:  # convert() decodes the whole file
                array = np.asarray(img.convert("L" if img.mode in _GRAY_MODES else "RGB"), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as err:  # truncated or corrupt data
            raise ConfigError(f"cannot decode image {path}: {error_text(err)}") from None
    array = array[:, :, None] if array.ndim == 2 else array
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def decode_image_files(paths: Sequence[Path], size: int, channels: int, workers: int | None = None,
                       what: str = "images") -> torch.Tensor:
    """Decode files and resize them (bilinear, antialias off) to one uint8 tensor, in the order given, with a
    progress bar ``decode <what>`` (:mod:`bench.progress`).

    Args:
        paths: image files; mixed sizes and modes are fine.
        size: output height and width.
        channels: 1 or 3.
        workers: decoding threads (default: up to 8, one per CPU).
        what: what the files are, for the progress bar (``cifar10_lt train``).

    Returns:
        uint8 (len(paths), channels, size, size).

    Raises:
        DataNotFoundError: a file does not exist (the message names it).
        ConfigError: a file cannot be decoded (the message names it).
    """
    out = torch.empty((len(paths), channels, size, size), dtype=torch.uint8)
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            progress.bar(len(paths), f"decode {what}", unit="img", leave=False) as bar:
        for start in range(0, len(paths), _CHUNK):
            decoded = list(pool.map(decode_image, paths[start:start + _CHUNK]))
            out[start:start + len(decoded)] = _resize_by_shape(decoded, size, channels)
            bar.update(len(decoded))
    return out


def _resize_by_shape(images: list[torch.Tensor], size: int, channels: int) -> torch.Tensor:
    """Resize a list of (C, H, W) tensors, batching those of equal shape together (a few groups, not per image)."""
    out = torch.empty((len(images), channels, size, size), dtype=torch.uint8)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(tuple(image.shape), []).append(i)
    for members in groups.values():
        out[members] = resize_images(torch.stack([images[i] for i in members]), size, channels)
    return out
