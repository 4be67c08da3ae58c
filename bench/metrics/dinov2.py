"""DINOv2 ViT-L/14 (Oquab et al. 2023) as an FID feature extractor: the network, its weights file and the
preprocessing of FD-DINOv2 (Stein et al., NeurIPS 2023, "Exposing flaws of generative model evaluation metrics").

The network is defined here, not fetched from a hub: a plain pre-norm vision transformer whose module names
are those of the official ``dinov2_vitl14_pretrain.pth`` state dict (``cls_token``, ``pos_embed``,
``mask_token``, ``patch_embed.proj``, ``blocks.<i>.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1,
mlp.fc2, ls2.gamma}``, ``norm``), so that file loads with ``strict=True``. Per block:
x += γ1 · Attn(LN1(x)), x += γ2 · MLP(LN2(x)) (LayerNorm eps 1e-6, exact GELU, 16 heads of 64 dims, qkv with bias,
LayerScale γ). Tokens: [CLS] + the 14×14 patches of the image, plus the position embedding, which is learnt for
a 37×37 grid (518 px) and resized bicubically to the input's grid the way the official code does it (scale factor
(grid + 0.1) / 37, no antialiasing). The feature is the final LayerNorm's [CLS] token (1,024-d): what the hub
model's ``forward`` returns and what dgm-eval takes.

Preprocessing follows dgm-eval's ``DINOv2Encoder.transform``: a PIL bicubic resize of the whole image to
224×224 (no crop; torch-fidelity 0.4 also resizes without a crop, but bilinearly as TF1 does), then /255 and the
ImageNet mean/std. The resize is done on tensors, separably and with the intermediate rounding of PIL's uint8
passes (width first, then height; antialiased bicubic with a = −0.5, PIL's kernel), which matches PIL up to its
fixed-point rounding (1 grey level in under 2% of the pixels, 2 in a few) on every device; a plain float bicubic
resize differs from PIL by up to 25 levels on noisy images, because PIL clips its overshoots between the passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError

DINOV2_SIZE = 224  # dgm-eval's and torch-fidelity's input size
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POS_EMBED_OFFSET = 0.1  # the official interpolate_offset: scale factor (grid + 0.1) / pretrained grid


@dataclass(frozen=True)
class ViTShape:
    """The sizes of a DINOv2 vision transformer; the official models all use 64-dim heads and MLP ratio 4."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int = 14
    pretrain_size: int = 518  # the position embedding's grid is pretrain_size / patch_size (37 for 518 / 14)

    @property
    def grid(self) -> int:
        return self.pretrain_size // self.patch_size


VIT_L14 = ViTShape("ViT-L/14", embed_dim=1024, depth=24, num_heads=16)


class Attention(nn.Module):
    """Multi-head self-attention with one qkv projection (bias) and an output projection."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q kᵀ / sqrt(head dim)) v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    """fc1 → GELU (exact) → fc2, hidden width 4 × dim."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class LayerScale(nn.Module):
    """x · γ, one learnt scale per channel."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """A pre-norm transformer block with LayerScale on both residual branches."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """Non-overlapping patch_size × patch_size patches, linearly embedded (a strided convolution)."""

    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoV2(nn.Module):
    """The DINOv2 backbone (no register tokens); ``forward`` maps normalised (N, 3, H, W) images, H and W
    multiples of the patch size, to the final LayerNorm's [CLS] token (N, embed_dim)."""

    def __init__(self, shape: ViTShape = VIT_L14) -> None:
        super().__init__()
        dim = shape.embed_dim
        self.shape = shape
        self.patch_embed = PatchEmbed(shape.patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, shape.grid ** 2 + 1, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # used in training only; part of the file's layout
        self.blocks = nn.ModuleList(Block(dim, shape.num_heads) for _ in range(shape.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def position_embedding(self, rows: int, cols: int) -> torch.Tensor:
        """(1, 1 + rows·cols, dim): the [CLS] position and the patch grid's, resized bicubically from the
        pretrained grid by the scale factor (rows + 0.1) / grid (as the official ``interpolate_pos_encoding``)."""
        grid = self.shape.grid
        if rows == cols == grid:
            return self.pos_embed
        pos = self.pos_embed.float()
        patches = pos[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        scale = ((rows + POS_EMBED_OFFSET) / grid, (cols + POS_EMBED_OFFSET) / grid)
        patches = F.interpolate(patches, scale_factor=scale, mode="bicubic", align_corners=False)
        patches = patches.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)
        return torch.cat([pos[:, :1], patches], dim=1).to(self.pos_embed.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, cols = x.shape[2] // self.shape.patch_size, x.shape[3] // self.shape.patch_size
        tokens = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1)
        tokens = tokens + self.position_embedding(rows, cols)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


def resize_like_pil(images: torch.Tensor, size: int = DINOV2_SIZE) -> torch.Tensor:
    """uint8 (N, C, H, W) → float (N, C, size, size) holding whole grey levels 0..255: PIL's ``Image.resize``
    with BICUBIC, emulated separably (width, round and clip, then height, round and clip)."""
    x = images.float()
    x = F.interpolate(x, size=(x.shape[2], size), mode="bicubic", antialias=True, align_corners=False)
    x = x.round().clamp(0, 255)
    x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return x.round().clamp(0, 255)


def preprocess(images: torch.Tensor, size: int = DINOV2_SIZE) -> torch.Tensor:
    """dgm-eval's DINOv2 input from uint8 (N, 1|3, H, W): RGB (grey repeated), resized to size × size as PIL
    does, /255, minus the ImageNet mean, over its std. Float32 (N, 3, size, size) on the images' device."""
    x = resize_like_pil(images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images, size) / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def expected_layout(shape: ViTShape = VIT_L14) -> dict[str, tuple[int, ...]]:
    """Every parameter name of the backbone with its shape (built on the meta device: no memory)."""
    with torch.device("meta"):
        net = DinoV2(shape)
    return {name: tuple(p.shape) for name, p in net.state_dict().items()}


def load_dinov2(path: Path, shape: ViTShape = VIT_L14, device: torch.device | str = "cpu") -> DinoV2:
    """The backbone with the weights of ``path`` (a state dict in the official layout), in eval mode, frozen.

    Raises:
        ConfigError: the file does not load as a tensors-only state dict, or its keys or shapes are not those of
            ``shape`` (the message names the first key that differs).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"cannot load DINOv2 weights from {path}: {type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}") from err
    if not isinstance(state, dict):
        raise ConfigError(f"cannot load DINOv2 weights from {path}: expected a state dict, got {type(state).__name__}")
    expected = expected_layout(shape)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if missing or unexpected or wrong:
        key = (missing or unexpected or wrong)[0]
        what = ("lacks" if missing else "has the unexpected key" if unexpected else
                f"has {tuple(state[key].shape)} for")
        detail = f" (expected {expected[key]})" if wrong and not (missing or unexpected) else ""
        raise ConfigError(f"cannot load DINOv2 weights from {path}: not a DINOv2 {shape.name} state dict: it {what} "
                          f"{key}{detail}; {len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} "
                          f"mis-shaped keys")
    with torch.device("meta"):
        net = DinoV2(shape)
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True, assign=True)
    return net.eval().requires_grad_(False).to(device)


def random_state_dict(shape: ViTShape = VIT_L14, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the official layout of ``shape`` with seeded random weights (N(0, 0.02²); LayerNorm and
    LayerScale weights 1): a stand-in for the real file in tests and speed checks, whose features mean nothing."""
    gen = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(v, generator=gen) * 0.02 for k, v in expected_layout(shape).items()}
    ones = ("norm.weight", "norm1.weight", "norm2.weight", "gamma")
    return state | {k: torch.ones_like(v) for k, v in state.items() if k.endswith(ones)}
