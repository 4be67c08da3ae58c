"""Helpers shared by the dataset tests (a uniquely named module, so that it never collides with another
folder's conftest.py on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 (H, W) or (H, W, 3) array as PNG or JPEG (by suffix), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array).astype(np.uint8)).save(path)
    return path
