"""Generated images from a method: the labelled class grid (one row per class) and single images.

Latents come from a private, seeded ``torch.Generator``, so a grid uses the same z at every step and
across resumes, and drawing it never moves the global generators the training stream depends on.
"""

from __future__ import annotations

import io
import math

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from bench.datasets.base import float_to_uint8
from bench.methods.base import Method

MAX_GRID_ROWS = 40
GRID_COLUMNS = 8
_PAD = 2  # white pixels between tiles and around the label
MIN_TILE = 48  # small images (16x16 at the cpu scale) are enlarged, nearest-neighbour, to at least this size
_CHUNK = 256  # images per generate() call


def grid_classes(num_classes: int, max_rows: int = MAX_GRID_ROWS) -> torch.Tensor:
    """The classes shown as grid rows: all of them, or ``max_rows`` evenly spaced ones (first and last
    included) when there are more."""
    if num_classes <= max_rows:
        return torch.arange(num_classes)
    return torch.linspace(0, num_classes - 1, max_rows).round().long().unique()


def latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """(n, latent_dim) standard-normal latents from a private generator seeded with ``seed`` (CPU)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=generator)


def generate_uint8(method: Method, labels: torch.Tensor, seed: int) -> torch.Tensor:
    """uint8 images (n, C, H, W) of classes ``labels`` (n,), from fixed latents of seed ``seed``, generated
    in chunks of 256 and returned on the CPU."""
    z = latents(labels.numel(), method.latent_dim, seed)
    chunks = [float_to_uint8(method.generate(zc, yc).float()).cpu()
              for zc, yc in zip(z.split(_CHUNK), labels.split(_CHUNK), strict=True)]
    return torch.cat(chunks)


def tile_scale(image_size: int) -> int:
    """How much a grid enlarges images of ``image_size`` pixels (nearest): to at least :data:`MIN_TILE`."""
    return max(1, math.ceil(MIN_TILE / image_size))


def grid_memory_bytes(rows: int, per_class: int, channels: int, image_size: int) -> int:
    """About the most memory :func:`class_grid` holds at once for a grid of ``rows`` x ``per_class`` images: the
    generated uint8 images, then in :func:`render_grid` about six RGB copies of the enlarged, padded tiles (the
    enlarged images, the padded tiles, the canvas, its contiguous copy, the PIL image and the picture)."""
    n = rows * per_class
    tile = image_size * tile_scale(image_size) + _PAD
    return n * channels * image_size * image_size + 6 * n * 3 * tile * tile


def render_grid(images: torch.Tensor, labels: list[str], scale: int = 1) -> Image.Image:
    """Tile uint8 images (R, K, C, H, W) into an RGB picture of R rows and K columns, row r labelled
    ``labels[r]`` on a white left margin (PIL's default font); ``scale`` enlarges each image (nearest)."""
    if scale > 1:
        images = images.repeat_interleave(scale, dim=3).repeat_interleave(scale, dim=4)
    rows, cols, channels, height, width = images.shape
    assert len(labels) == rows, (len(labels), rows)
    if channels == 1:
        images = images.expand(-1, -1, 3, -1, -1)
    font = ImageFont.load_default()
    text_height = max(font.getbbox(label or "0")[3] for label in labels) if labels else 0
    row_height = max(height, text_height) + _PAD
    # pad each tile to (row_height, width + _PAD), then lay the (R, K) tiles out as one (3, R*h, K*w) picture
    tiles = F.pad(images, (0, _PAD, 0, row_height - height), value=255)
    canvas = tiles.permute(2, 0, 3, 1, 4).reshape(3, rows * row_height, cols * (width + _PAD))
    drawing = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    margin = int(max((drawing.textlength(label, font=font) for label in labels), default=0)) + 2 * _PAD
    picture = Image.new("RGB", (margin + canvas.shape[2] + _PAD, canvas.shape[1] + _PAD), "white")
    picture.paste(Image.fromarray(canvas.permute(1, 2, 0).contiguous().numpy()), (margin + _PAD, _PAD))
    draw = ImageDraw.Draw(picture)
    for r, label in enumerate(labels):
        top = _PAD + r * row_height + (height - text_height) // 2
        draw.text((_PAD, max(top, 0)), label, fill="black", font=font)
    return picture


def class_grid(method: Method, classes: torch.Tensor, class_names: list[str], class_counts: list[int],
               per_class: int = GRID_COLUMNS, seed: int = 0) -> Image.Image:
    """A grid with one row per class of ``classes`` and ``per_class`` samples in each, every row labelled
    with the class name and its training count, e.g. ``"truck (n=50)"``.

    Args:
        method: a trained method (its ``generate`` gives images in [-1, 1]).
        classes: (R,) class indices, one per row.
        class_names, class_counts: per class of the dataset (indexed by class).
        per_class: columns.
        seed: seed of the latents; the same seed and classes give the same z.
    """
    labels = classes.repeat_interleave(per_class)
    images = generate_uint8(method, labels, seed)
    images = images.reshape(len(classes), per_class, *images.shape[1:])
    names = [f"{class_names[c]} (n={class_counts[c]})" for c in classes.tolist()]
    return render_grid(images, names, scale=tile_scale(images.shape[-1]))


def to_pil(image: torch.Tensor) -> Image.Image:
    """One uint8 image (C, H, W) as a PIL image (mode L for one channel, RGB for three)."""
    array = image.permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)


def png_bytes(picture: Image.Image) -> bytes:
    """A PIL image encoded as PNG (to be written atomically)."""
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return buf.getvalue()
