"""``tiny``: the dcgan64 structure at a few thousand parameters, for tests and smoke runs.

Any image size 2^k ≥ 8: the trunk has k−2 Conv(k4 s2 p1) + LReLU stages of widths 8, …, 8, 16 ending at
(B, 16, 4, 4); the decoder mirrors it (Linear → 16×4×4, ConvT stages 16 → 8 → … → C, tanh). Latent size 16.
"""

from __future__ import annotations

from bench.methods.backbones.dcgan64 import ConvBackbone


def tiny_widths(image_size: int) -> tuple[int, ...] | None:
    """Trunk widths for a power-of-two ``image_size`` ≥ 8, else None (unsupported)."""
    if image_size < 8 or image_size & (image_size - 1):
        return None
    stages = image_size.bit_length() - 3  # log2(image_size / 4)
    return (8,) * (stages - 1) + (16,)


BACKBONE = ConvBackbone("tiny", tiny_widths, "powers of two >= 8", default_latent_dim=16,
                        description="a few-thousand-parameter dcgan64 look-alike for tests and smoke runs")
