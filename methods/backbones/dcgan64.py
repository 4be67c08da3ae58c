"""``dcgan64``: the DCGAN-style nets of the ECOGAN code (upstream spec §4.1), shared by ECOGAN, EBGAN and BAGAN.

Decoder (G without its conditioning), at 64×64::

    z (latent) → Linear → 256×4×4 → LReLU(0.2)
    → ConvT(256→128) BN LReLU → ConvT(128→128) BN LReLU → ConvT(128→64) BN LReLU   (k4 s2 p1 each)
    → ConvT(64→C) → tanh

Trunk (every table-3 discriminator and the autoencoders' encoder), at 64×64::

    Conv(C→64) LReLU → Conv(64→128) LReLU → Conv(128→128) LReLU → Conv(128→256) LReLU   (k4 s2 p1, no norm)
    → (B, 256, 4, 4);  linear0 = Linear(4096 → latent) for the autoencoders

Smaller images (the CPU and smoke scales) drop the middle 128-channel stage(s) so that the trunk still ends
at 4×4 and the decoder still starts there, keeping the first and last widths:

    ====== ============================= ==================================
    size   trunk widths                  decoder widths (then → C)
    ====== ============================= ==================================
    64     64, 128, 128, 256             256, 128, 128, 64
    32     64, 128, 256                  256, 128, 64
    16     64, 256                       256, 64
    ====== ============================= ==================================

Init as upstream: the decoder's Linear (and any Conv2d) weights N(0, 0.02), its transposed convs and all biases
PyTorch's default; the trunk keeps PyTorch's default init everywhere (upstream defines an init it never calls).
BAGAN re-initialises these nets by its own upstream rule (§4.3: Conv2d only, see ``bench.methods.bagan``).

The conditional generator G(z, y) takes the class one of three ways (``g_cond``; see :data:`G_CONDS`):

- ``scale`` (the paper's, upstream §4.1): decoder(z ⊙ E[y]), E = Embedding(C, latent) with default N(0, 1) init.
  With a symmetric z the class lives only in the per-dimension *scale* of G's input, which a decoder learns to
  read slowly (thousands of iterations).
- ``concat``: decoder([z ‖ E[y]]), E = Embedding(C, latent), N(0, 1): the class is an input of its own.
- ``cbn``: decoder(z) whose BatchNorms are class-conditional, BN(affine=False)·γ_y + β_y with γ = 1, β = 0 at
  init (per-class Embedding(C, width)), as in cGANs with projection discriminators and BigGAN.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from bench.config import G_CONDS  # how the class enters G: latent scale | input concatenation | class BN
from bench.methods.backbones import Backbone, Trunk

TRUNK_WIDTHS = {64: (64, 128, 128, 256), 32: (64, 128, 256), 16: (64, 256)}


class ClassBatchNorm(nn.Module):
    """BN(affine=False)·γ_y + β_y with per-class γ (init 1) and β (init 0): class-conditional batch norm."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class Decoder(nn.Module):
    """latent (B, latent_dim) → images (B, C, 4·2^n, 4·2^n) in [-1, 1], for n = len(widths) transposed convs.

    With ``num_classes`` the BatchNorms are :class:`ClassBatchNorm` and ``forward`` takes the labels too.
    """

    def __init__(self, latent_dim: int, widths: tuple[int, ...], channels: int, num_classes: int | None = None) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.linear = nn.Linear(latent_dim, widths[0] * 4 * 4)
        self.act = nn.LeakyReLU(0.2)
        blocks: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            norm = nn.BatchNorm2d(w_out) if num_classes is None else ClassBatchNorm(w_out, num_classes)
            blocks += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), norm, nn.LeakyReLU(0.2)]
        blocks += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.blocks = nn.Sequential(*blocks)
        self.first_width = widths[0]
        for m in self.modules():
            # ConvTranspose2d is not a Conv2d subclass, so the deconvs keep their default init (as upstream)
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.act(self.linear(z)).view(z.shape[0], self.first_width, 4, 4)
        for block in self.blocks:
            h = block(h, y) if isinstance(block, ClassBatchNorm) else block(h)
        return h


class ConvTrunk(Trunk):
    """images (B, C, H, W) → (B, widths[-1], H/2^n, W/2^n) through n = len(widths) Conv(k4 s2 p1) + LReLU(0.2)."""

    def __init__(self, channels: int, image_size: int, widths: tuple[int, ...], latent_dim: int | None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for w_in, w_out in zip((channels, *widths[:-1]), widths, strict=True):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1), nn.LeakyReLU(0.2)]
        self.convs = nn.Sequential(*layers)
        self.out_channels = widths[-1]
        self.out_size = image_size >> len(widths)
        self.linear0 = nn.Linear(self.flat_dim, latent_dim) if latent_dim is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


class LabelScaledGenerator(nn.Module):
    """G(z, y) = decoder(z ⊙ E[y]): class conditioning by multiplying the latent with a class embedding.

    Upstream §4.1 step 1 (ECOGAN and EBGAN G). ``embedding`` and ``decoder`` are attributes so that EBGAN can
    load them from its pretrained autoencoder.
    """

    def __init__(self, decoder: Decoder, num_classes: int, latent_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, latent_dim)
        self.decoder = decoder

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.decoder(z * self.embedding(y))


class LabelConcatGenerator(nn.Module):
    """G(z, y) = decoder([z ‖ E[y]]) (``g_cond = "concat"``): the class embedding is an input of its own."""

    def __init__(self, decoder: Decoder, num_classes: int, latent_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, latent_dim)
        self.decoder = decoder

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, self.embedding(y)], dim=1))


class ClassBNGenerator(nn.Module):
    """G(z, y) = decoder(z) with class-conditional BatchNorms (``g_cond = "cbn"``)."""

    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.decoder(z, y)


class ConvBackbone(Backbone):
    """A DCGAN-style backbone defined by its trunk widths per image size (decoder widths are their reverse)."""

    def __init__(self, name: str, widths: Callable[[int], tuple[int, ...] | None], sizes: str,
                 default_latent_dim: int, description: str) -> None:
        self.name = name
        self._widths = widths
        self._sizes = sizes
        self.default_latent_dim = default_latent_dim
        self.description = description
        self.g_conds = G_CONDS
        self.pieces = ("trunk", "generator", "decoder", "encoder")
        self.default_g_cond = "scale"

    def image_sizes(self) -> str:
        return self._sizes

    def supports(self, image_size: int) -> bool:
        return self._widths(image_size) is not None

    def trunk_widths(self, image_size: int) -> tuple[int, ...]:
        widths = self._widths(image_size)
        assert widths is not None, image_size
        return widths

    def trunk(self, channels: int, image_size: int, latent_dim: int | None = None, div: int = 1) -> ConvTrunk:
        self.check(channels, image_size, div)
        return ConvTrunk(channels, image_size, self.trunk_widths(image_size), latent_dim)

    def decoder(self, latent_dim: int, channels: int, image_size: int) -> Decoder:
        self.check(channels, image_size)
        return Decoder(latent_dim, self.trunk_widths(image_size)[::-1], channels)

    def conditional_generator(self, latent_dim: int, num_classes: int, channels: int, image_size: int,
                              div: int = 1, g_cond: str | None = None) -> nn.Module:
        g_cond = self.check_g_cond(g_cond)
        self.check(channels, image_size, div)
        widths = self.trunk_widths(image_size)[::-1]
        if g_cond == "concat":
            return LabelConcatGenerator(Decoder(2 * latent_dim, widths, channels), num_classes, latent_dim)
        if g_cond == "cbn":
            return ClassBNGenerator(Decoder(latent_dim, widths, channels, num_classes))
        return LabelScaledGenerator(self.decoder(latent_dim, channels, image_size), num_classes, latent_dim)


BACKBONE = ConvBackbone(
    "dcgan64", TRUNK_WIDTHS.get, "16, 32, 64", default_latent_dim=128,
    description="ECOGAN's DCGAN nets (64x64; 32 and 16 drop middle stages), no norm in D, BN in G")
