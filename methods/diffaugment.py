"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020).

The same random, differentiable transforms are applied to every image D sees — reals and fakes, in the D step
and in the G step — so D cannot tell the data from the fakes by the augmentation, and G's gradient flows back
through it. The policy ``color,translation,cutout`` (the paper's for CIFAR-10) applies, in that order, per image:

- ``color``: brightness x + (u − 0.5); saturation (x − x̄_c)·2u + x̄_c with x̄_c the mean over channels;
  contrast (x − x̄)·(u + 0.5) + x̄ with x̄ the mean over channels and pixels; a fresh u ~ U(0, 1) per image and
  transform;
- ``translation``: a shift of t_x, t_y ∈ {−s, …, s} pixels, s = ⌊H/8 + 1/2⌋, the uncovered pixels zero
  (zero padding);
- ``cutout``: a square of side k = ⌊H/2 + 1/2⌋ set to zero, centred at (c_x, c_y) ∈ {0, …, H − (k mod 2)}
  (clipped at the border).

Images are in [-1, 1], so zero is mid-grey, as in the paper's code. The colour transforms can leave [-1, 1]
(brightness ±0.5, saturation up to 2×): DiffAugment does not clamp, and neither does this module, since clamping
would cut G's gradient at the saturated pixels. Translation and cutout only move pixels or zero them.

All randomness comes from one function ``draw(shape) → U(0, 1)`` (B first), so a caller decides where it comes
from (the method base draws through ``Method.draw_rows``, which keeps data-parallel ranks on one stream) and a
test can fix it. Integers are ⌊u·n⌋. Nothing loops over images.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from bench.config import AUGMENTS
from bench.errors import check

Draw = Callable[[tuple[int, ...]], Tensor]
"""``draw(shape)``: a tensor of U(0, 1) values of that shape (first dimension = batch) on the images' device."""

POLICY = "color,translation,cutout"  # the paper's CIFAR-10 policy, what ``augment = "diffaug"`` applies
TRANSLATION_RATIO = 1 / 8  # largest shift, as a share of the image side
CUTOUT_RATIO = 1 / 2  # side of the cut square, as a share of the image side
DESCRIPTIONS = {
    "none": "D sees the images as they are",
    "diffaug": f"DiffAugment (Zhao et al. 2020), policy {POLICY}: translation 1/8 with zero padding, cutout 1/2, "
               f"on every image D sees (reals and fakes, D and G steps)",
}
assert tuple(DESCRIPTIONS) == AUGMENTS


def uniform_draw(device: torch.device | str = "cpu") -> Draw:
    """A ``draw`` from torch's global generator on ``device``."""
    return lambda shape: torch.rand(shape, device=device)


def _randint(draw: Draw, batch: int, low: int, high: int, like: Tensor) -> Tensor:
    """(B,) integers uniform on {low, …, high − 1}, as ⌊u·(high − low)⌋ + low."""
    u = draw((batch,)).to(like.device)
    return (u * (high - low)).floor().long().clamp_(max=high - low - 1) + low


def brightness(x: Tensor, draw: Draw) -> Tensor:
    """x + (u − 0.5), one u ~ U(0, 1) per image."""
    return x + (draw((x.shape[0], 1, 1, 1)).to(x) - 0.5)


def saturation(x: Tensor, draw: Draw) -> Tensor:
    """(x − x̄_c)·2u + x̄_c, x̄_c the per-pixel mean over channels, one u per image."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (draw((x.shape[0], 1, 1, 1)).to(x) * 2) + mean


def contrast(x: Tensor, draw: Draw) -> Tensor:
    """(x − x̄)·(u + 0.5) + x̄, x̄ the per-image mean over channels and pixels, one u per image."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (draw((x.shape[0], 1, 1, 1)).to(x) + 0.5) + mean


def color(x: Tensor, draw: Draw) -> Tensor:
    """Brightness, then saturation, then contrast (each with its own draw)."""
    return contrast(saturation(brightness(x, draw), draw), draw)


def translation(x: Tensor, draw: Draw, ratio: float = TRANSLATION_RATIO) -> Tensor:
    """Shift each image by (t_x, t_y) ∈ {−s..s}², s = ⌊H·ratio + ½⌋ (W for y), filling with zeros:
    out[:, :, i, j] = x[:, :, i + t_x, j + t_y] where that index is inside the image, else 0."""
    b, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = _randint(draw, b, -sx, sx + 1, x)
    ty = _randint(draw, b, -sy, sy + 1, x)
    rows = torch.arange(h, device=x.device)[None, :] + tx[:, None]  # [B, H] source row of each output row
    cols = torch.arange(w, device=x.device)[None, :] + ty[:, None]  # [B, W]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # [B, H, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    picked = x.permute(0, 2, 3, 1)[batch, rows.clamp(0, h - 1)[:, :, None], cols.clamp(0, w - 1)[:, None, :]]
    return (picked * inside[..., None].to(x)).permute(0, 3, 1, 2)  # [B, H, W, C] -> [B, C, H, W]


def cutout(x: Tensor, draw: Draw, ratio: float = CUTOUT_RATIO) -> Tensor:
    """Zero a k_x × k_y square per image, k = ⌊H·ratio + ½⌋, rows [c_x − ⌊k/2⌋, c_x + ⌈k/2⌉) ∩ [0, H) with
    c_x ∈ {0..H − (k mod 2)} (likewise for columns)."""
    b, _, h, w = x.shape
    kx, ky = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cx = _randint(draw, b, 0, h + (1 - kx % 2), x)
    cy = _randint(draw, b, 0, w + (1 - ky % 2), x)
    rows = torch.arange(h, device=x.device)[None, :] - (cx[:, None] - kx // 2)  # [B, H] offset inside the square
    cols = torch.arange(w, device=x.device)[None, :] - (cy[:, None] - ky // 2)
    cut = ((rows >= 0) & (rows < kx))[:, :, None] & ((cols >= 0) & (cols < ky))[:, None, :]  # [B, H, W]
    return x * (~cut)[:, None].to(x)


TRANSFORMS: dict[str, Callable[[Tensor, Draw], Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout,
}


def diff_augment(x: Tensor, policy: str = POLICY, draw: Draw | None = None) -> Tensor:
    """DiffAugment of a batch (B, C, H, W): the comma-separated transforms of ``policy`` in order.

    Args:
        x: images, (B, C, H, W).
        policy: e.g. ``"color,translation,cutout"``; an unknown name is a ConfigError listing the known ones.
        draw: the source of U(0, 1) values (see the module docstring); None = torch's global generator.

    Returns:
        The augmented batch, same shape and dtype, differentiable with respect to ``x``.
    """
    check(x.dim() == 4, f"diff_augment expects images (B, C, H, W), got shape {tuple(x.shape)}")
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        check(name in TRANSFORMS, f"DiffAugment policy {policy!r}: unknown transform {name!r}; "
                                  f"known: {', '.join(TRANSFORMS)}")
    draw = draw or uniform_draw(x.device)
    for name in names:
        x = TRANSFORMS[name](x, draw)
    return x
