"""``biggan32``: StudioGAN-style BigGAN at 32×32 (peers §1b), the nets of the paper's Table 1.

Widths with divisor ``div`` ∈ {1..5}: g_conv_dim = d_conv_dim = 96 // div, g_shared_dim = 128 // div (div 4 →
24, 24, 32: the paper's ``*_div4.yaml``). Spectral norm (eps 1e-6) on every conv, linear and embedding of G and
D except G's shared class embedding, orthogonal init everywhere (biases zero); BatchNorms are plain. The shared
embedding is a plain ``nn.Embedding`` (orthogonal init, no SN) as in StudioGAN's big_resnet (peers §1b); ECOGAN's
own trimmed copy (upstream §4.4, not in the tables) uses an SN embedding there. D's class proxies (heads) keep SN.

G(z, y), z of 80 dims split into 4 chunks of 20, shared(y) = Embedding(C, g_shared_dim)[y] (no SN)::

    chunk 0 → SNLinear → (4·g)×4×4
    3 × GenBlock(4g → 4g): cBN → ReLU → up×2 (nearest) → conv3 → cBN → ReLU → conv3, + up×2 → conv1 shortcut
        each cBN is BN(affine=False, eps 1e-4)·(1 + SNLinear(a)) + SNLinear(a), a = [shared(y) ‖ chunk i]
    self-attention after block 2 (16×16)
    BN(eps 1e-4) → ReLU → conv3 → C channels → tanh

D trunk::

    OptimizedBlock(C → 2d): conv3 → ReLU → conv3 → avgpool, + avgpool → conv1 shortcut         (32 → 16)
    self-attention after block 1
    DiscBlock(2d → 2d, down) → DiscBlock(2d → 2d) → DiscBlock(2d → 2d)  (pre-activation ReLU)  (16 → 8)
    ReLU → (B, 2d, 8, 8); the heads sum-pool it

so the downsampling pattern is [T, T, F, F] counting the optimized block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from bench.errors import ConfigError, check
from bench.methods.backbones import Backbone, Trunk

G_BLOCKS = 3
DIVS = (1, 2, 3, 4, 5)


def sn(module: nn.Module) -> nn.Module:
    """Orthogonal init (bias 0), then spectral norm with StudioGAN's eps 1e-6 (conv, linear or embedding)."""
    nn.init.orthogonal_(module.weight)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)
    return spectral_norm(module, eps=1e-6)


def snconv(c_in: int, c_out: int, k: int, bias: bool = True) -> nn.Module:
    return sn(nn.Conv2d(c_in, c_out, k, 1, k // 2, bias=bias))


def snlinear(d_in: int, d_out: int, bias: bool = True) -> nn.Module:
    return sn(nn.Linear(d_in, d_out, bias=bias))


def snembedding(num: int, dim: int) -> nn.Module:
    return sn(nn.Embedding(num, dim))


def ortho_embedding(num: int, dim: int) -> nn.Embedding:
    """A plain embedding with orthogonal init and no SN (StudioGAN's G shared embedding)."""
    embedding = nn.Embedding(num, dim)
    nn.init.orthogonal_(embedding.weight)
    return embedding


def widths(div: int) -> tuple[int, int, int]:
    """(g_conv_dim, d_conv_dim, g_shared_dim) for width divisor ``div``."""
    check(div in DIVS, f"option div must be one of {', '.join(map(str, DIVS))}, got {div!r}")
    return 96 // div, 96 // div, 128 // div


class SelfAttention(nn.Module):
    """SAGAN self-attention with 2×2 max-pooled keys/values and a zero-initialised residual gain."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.theta = snconv(ch, ch // 8, 1, bias=False)
        self.phi = snconv(ch, ch // 8, 1, bias=False)
        self.g = snconv(ch, ch // 2, 1, bias=False)
        self.out = snconv(ch // 2, ch, 1, bias=False)
        self.sigma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        theta = self.theta(x).flatten(2)  # [B, c/8, HW]
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # [B, c/8, HW/4]
        attn = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # [B, HW, HW/4]
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # [B, c/2, HW/4]
        o = (g @ attn.transpose(1, 2)).view(b, c // 2, h, w)
        return x + self.sigma * self.out(o)


class ConditionalBatchNorm(nn.Module):
    """BN(affine=False, eps 1e-4) scaled by 1 + SNLinear(a) and shifted by SNLinear(a) (BigGAN's cBN)."""

    def __init__(self, ch: int, affine_dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, eps=1e-4, affine=False)
        self.gain = snlinear(affine_dim, ch, bias=False)
        self.bias = snlinear(affine_dim, ch, bias=False)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(a)[:, :, None, None]
        return self.bn(x) * gain + self.bias(a)[:, :, None, None]


class GenBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, affine_dim: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm(c_in, affine_dim)
        self.conv1 = snconv(c_in, c_out, 3)
        self.bn2 = ConditionalBatchNorm(c_out, affine_dim)
        self.conv2 = snconv(c_out, c_out, 3)
        self.shortcut = snconv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, a)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), a)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class BigGANGenerator(nn.Module):
    """G(z, y) → (B, C, 32, 32) in [-1, 1]; see the module docstring."""

    def __init__(self, latent_dim: int, num_classes: int, channels: int, div: int) -> None:
        super().__init__()
        g_dim, _, shared_dim = widths(div)
        check(latent_dim % (G_BLOCKS + 1) == 0,
              f"biggan32 splits the latent into {G_BLOCKS + 1} chunks: latent_dim must be a multiple of "
              f"{G_BLOCKS + 1}, got {latent_dim}")
        self.chunk = latent_dim // (G_BLOCKS + 1)
        self.ch = 4 * g_dim
        self.shared = ortho_embedding(num_classes, shared_dim)  # no SN, as StudioGAN
        self.linear0 = snlinear(self.chunk, self.ch * 4 * 4)
        self.blocks = nn.ModuleList(GenBlock(self.ch, self.ch, shared_dim + self.chunk) for _ in range(G_BLOCKS))
        self.attn = SelfAttention(self.ch)  # after block 2
        self.bn = nn.BatchNorm2d(self.ch, eps=1e-4)
        self.conv_out = snconv(self.ch, channels, 3)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        chunks = torch.split(z, self.chunk, dim=1)
        shared = self.shared(y)
        h = self.linear0(chunks[0]).view(z.shape[0], self.ch, 4, 4)
        for index, (block, z_i) in enumerate(zip(self.blocks, chunks[1:], strict=True)):
            h = block(h, torch.cat([shared, z_i], dim=1))
            if index == 1:
                h = self.attn(h)
        return torch.tanh(self.conv_out(F.relu(self.bn(h))))


class DiscOptBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = snconv(c_in, c_out, 3)
        self.conv2 = snconv(c_out, c_out, 3)
        self.shortcut = snconv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DiscBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = snconv(c_in, c_out, 3)
        self.conv2 = snconv(c_out, c_out, 3)
        self.shortcut = snconv(c_in, c_out, 1) if downsample or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class BigGANTrunk(Trunk):
    """images (B, C, 32, 32) → ReLU'd features (B, 2·d_conv_dim, 8, 8); see the module docstring."""

    def __init__(self, channels: int, div: int) -> None:
        super().__init__()
        ch = 2 * widths(div)[1]
        self.blocks = nn.Sequential(
            DiscOptBlock(channels, ch), SelfAttention(ch),  # attention after block 1
            DiscBlock(ch, ch, downsample=True),
            DiscBlock(ch, ch, downsample=False),
            DiscBlock(ch, ch, downsample=False),
        )
        self.out_channels = ch
        self.out_size = 8
        self.linear0 = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x))


class BigGAN32(Backbone):
    name = "biggan32"
    spectral_norm = True
    default_latent_dim = 80
    description = "StudioGAN BigGAN at 32x32 (cBN, SN, self-attention), width divisor div 1..5"
    g_conds = ("cbn",)  # BigGAN's own: class-conditional BN from the shared embedding and z chunks
    default_g_cond = "cbn"

    def image_sizes(self) -> str:
        return "32"

    def supports(self, image_size: int) -> bool:
        return image_size == 32

    def check(self, channels: int, image_size: int, div: int = 1) -> None:
        super().check(channels, image_size)
        widths(div)

    def trunk(self, channels: int, image_size: int, latent_dim: int | None = None, div: int = 1) -> BigGANTrunk:
        if latent_dim is not None:
            raise ConfigError("backbone 'biggan32' has no autoencoder encoder (linear0), which this method needs; "
                              "use dcgan64 or tiny")
        self.check(channels, image_size, div)
        return BigGANTrunk(channels, div)

    def conditional_generator(self, latent_dim: int, num_classes: int, channels: int, image_size: int,
                              div: int = 1, g_cond: str | None = None) -> BigGANGenerator:
        self.check_g_cond(g_cond)
        self.check(channels, image_size, div)
        return BigGANGenerator(latent_dim, num_classes, channels, div)


BACKBONE = BigGAN32()
