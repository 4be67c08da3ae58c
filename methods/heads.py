"""Discriminators shared by the methods: a backbone trunk plus a head, built once here instead of per backbone.

- :class:`ContrastiveDiscriminator` (ECOGAN, 2C, D2D-CE): sum-pooled trunk features → an adversarial logit
  (label independent) and a 512-d L2-normalised embedding, plus L2-normalised class proxies (upstream §4.1
  ``Discriminator_EC``; StudioGAN's ``linear1``/``linear2``/``embedding``, peers §1a).
- :class:`ProductDiscriminator` (EBGAN): flattened trunk features ⊙ LReLU(Linear(Emb(y))) → Linear → logit
  (upstream §4.2).
- :class:`ClassifierDiscriminator` (BAGAN): flattened trunk features → C + 1 logits, the last one "fake"
  (upstream §4.3).

On a spectrally normalised backbone (biggan32) the head layers are spectrally normalised and orthogonally
initialised too, as StudioGAN does; otherwise they keep PyTorch's defaults (Linear default, Embedding N(0, 1)).

:func:`check_real_batch` is the input check every method's ``d_step`` runs, :func:`check_hyper` the value check
of every method's options.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError
from bench.methods.backbones import Trunk
from bench.methods.backbones.biggan32 import snembedding, snlinear

EMBED_DIM = 512


def check_real_batch(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    """ConfigError unless ``x`` is a batch of at least two images and ``y`` holds one label in [0, C) per image.

    The range of the labels is checked on CPU only: on a GPU that check would make every D step wait for the
    device (the loop's labels come from the dataset; a label out of range still fails inside the embedding)."""
    if x.ndim != 4 or y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ConfigError(f"d_step expects images (B, C, H, W) and labels (B,), got {tuple(x.shape)} and "
                          f"{tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex():
        raise ConfigError(f"labels must be an integer tensor, got {y.dtype}")
    if x.shape[0] < 2:
        raise ConfigError(f"a real batch of {x.shape[0]} image(s): d_step needs at least 2 "
                          f"(batch statistics and contrastive pairs); raise batch_size or drop the last batch")
    if y.device.type != "cpu":
        return
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise ConfigError(f"label {int(y[bad][0])} is out of range: labels must lie in [0, {num_classes})")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _pair(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) == 2 and all(_number(b) and 0 <= b < 1 for b in v)


# option name -> (accepts the value?, what is expected); a None value means "resolve by backbone" and is skipped
_OPTION_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    **dict.fromkeys(("lr_g", "lr_d", "adam_eps", "temperature", "pretrain_lr"),
                    (lambda v: _number(v) and v > 0, "a number > 0")),
    **dict.fromkeys(("cond_lambda", "gp_weight", "jitter"), (lambda v: _number(v) and v >= 0, "a number >= 0")),
    **dict.fromkeys(("n_dis", "latent_dim", "pretrain_epochs"),
                    (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")),
    "ema_start": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    "ema_decay": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1) (0 = no EMA)"),
    "margin": (lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]"),
    **dict.fromkeys(("betas", "pretrain_betas"), (_pair, "two numbers in [0, 1), e.g. [0.5, 0.999]")),
    "adv_loss": (lambda v: v in ("bce", "hinge"), "'bce' or 'hinge'"),
    "d_fake_labels": (lambda v: v in ("real", "uniform"), "'real' or 'uniform'"),
    "div": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5, "an integer in 1..5"),
    "pretrained": (lambda v: isinstance(v, bool), "true or false"),
}


def check_hyper(method: str, hp: Any) -> Any:
    """Check the values of a method's Hyper dataclass; returns it with pairs (betas) as tuples.

    A bad value is a ConfigError naming the method, the option and the value; None (= resolve by backbone) passes.
    """
    for f in dataclasses.fields(hp):
        value = getattr(hp, f.name)
        if value is None or f.name not in _OPTION_RULES:
            continue
        ok, expected = _OPTION_RULES[f.name]
        if not ok(value):
            raise ConfigError(f"method {method!r}: option {f.name} = {value!r} is invalid; expected {expected}")
    pairs = {name: tuple(getattr(hp, name)) for name in ("betas", "pretrain_betas")
             if hasattr(hp, name) and getattr(hp, name) is not None}
    return dataclasses.replace(hp, **pairs)


def _linear(d_in: int, d_out: int, sn: bool) -> nn.Module:
    return snlinear(d_in, d_out) if sn else nn.Linear(d_in, d_out)


def _embedding(num: int, dim: int, sn: bool) -> nn.Module:
    return snembedding(num, dim) if sn else nn.Embedding(num, dim)


class ContrastiveDiscriminator(nn.Module):
    """D(x, y) → (adversarial logit (B,), embedding e (B, 512), proxy p_y (B, 512)); e and p have unit norm."""

    def __init__(self, trunk: Trunk, num_classes: int, sn: bool, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.trunk = trunk
        self.adv = _linear(trunk.out_channels, 1, sn)
        self.embed = _linear(trunk.out_channels, embed_dim, sn)
        self.proxies = _embedding(num_classes, embed_dim, sn)

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """The adversarial logit alone, (B,) (what the gradient penalty differentiates)."""
        return self.adv(self.trunk.pooled(x)).squeeze(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.trunk.pooled(x)
        e = F.normalize(self.embed(h), dim=1)
        p = F.normalize(self.proxies(y), dim=1)
        return self.adv(h).squeeze(1), e, p

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C) cosine similarities of each image's embedding to every class proxy (nearest proxy = D's class)."""
        e = F.normalize(self.embed(self.trunk.pooled(x)), dim=1)
        classes = torch.arange(self.proxies.num_embeddings, device=x.device)
        return e @ F.normalize(self.proxies(classes), dim=1).T


class ProductDiscriminator(nn.Module):
    """EBGAN's D(x, y) = Linear(f ⊙ LReLU_0.2(Linear_{512→F}(Emb_{C×512}[y]))) with f the flattened trunk
    features; returns logits (B,)."""

    def __init__(self, trunk: Trunk, num_classes: int, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.trunk = trunk
        self.label_embedding = nn.Embedding(num_classes, embed_dim)
        self.label_linear = nn.Linear(embed_dim, trunk.flat_dim)
        self.out = nn.Linear(trunk.flat_dim, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk.flattened(x), y)

    def head(self, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """D(x, y) from the flattened trunk features f of x, so that one trunk pass can serve several labels."""
        label = F.leaky_relu(self.label_linear(self.label_embedding(y)), 0.2)
        return self.out(features * label).squeeze(1)

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C) logits D(x, c) for every class c at once: out(f ⊙ l_c) = f · (l_c ⊙ w) + b, one matmul."""
        label = F.leaky_relu(self.label_linear(self.label_embedding.weight), 0.2)  # (C, F)
        return self.trunk.flattened(x) @ (label * self.out.weight).T + self.out.bias


class ClassifierDiscriminator(nn.Module):
    """BAGAN's D(x) → (B, C + 1) logits over the C classes and "fake" (the last index)."""

    def __init__(self, trunk: Trunk, num_classes: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.out = nn.Linear(trunk.flat_dim, num_classes + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.trunk.flattened(x))

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C) the class logits alone (the "fake" logit dropped)."""
        return self.forward(x)[:, :-1]
