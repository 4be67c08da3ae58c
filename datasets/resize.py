"""Resize uint8 image batches and convert their channel count, the way the paper's data pipeline does.

The ECOGAN DataModule applies ``transforms.Resize(64)`` to *tensors* (ecogan-upstream.md section 3.1): bilinear,
half-pixel centres (``align_corners=False``) and no antialiasing, also when downsampling Places 256 -> 64. We
compute in float32 and round once, half up, back to uint8. Images are resized to ``size x size`` directly; the
paper's datasets are square, so this equals its shorter-side resize.

Channels: gray -> RGB repeats the plane; RGB -> gray is the ITU-R 601 luma ``(299 R + 587 G + 114 B) / 1000``
(the weights PIL's ``convert("L")`` uses).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LUMA_WEIGHTS = (299.0, 587.0, 114.0)  # ITU-R 601, per mille
_CHUNK = 2048  # images per float batch: bounds the float copy (2048 x 3 x 64 x 64 x 4 B = 100 MB)


def resize_images(images: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """Bilinear resize (antialias off) to ``size x size`` and conversion to ``channels`` channels.

    Args:
        images: uint8 (N, C, H, W) with C in {1, 3}.
        size: output height and width.
        channels: 1 or 3.

    Returns:
        uint8 (N, channels, size, size); ``images`` itself when nothing changes.
    """
    assert images.dtype == torch.uint8 and images.ndim == 4 and images.shape[1] in (1, 3), images.shape
    assert channels in (1, 3) and size >= 1, (channels, size)
    n, c, h, w = images.shape
    if c == channels and (h, w) == (size, size):
        return images
    out = torch.empty((n, channels, size, size), dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        out[start:start + _CHUNK] = _resize_float(images[start:start + _CHUNK].float(), size, channels)
    return out


def _resize_float(x: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """float (n, C, H, W) in [0, 255] -> uint8 (n, channels, size, size), rounded half up once at the end."""
    if x.shape[1] == 3 and channels == 1:
        x = luma(x)  # before resizing: a third of the interpolation work, same result (both are linear)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    return x.add(0.5).floor_().clamp_(0, 255).to(torch.uint8)


def luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of float RGB images (n, 3, H, W) -> (n, 1, H, W), not rounded.

    The weighted sum is formed in integers per mille and divided once, so for integer inputs an exact half
    (e.g. 127.5) stays exact and rounds up, as ``(299 R + 587 G + 114 B + 500) // 1000`` does.
    """
    weights = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True).div_(1000.0)
