"""Discriminators shared by the methods: a backbone trunk plus a head, built once here instead of per backbone.

- :class:`ContrastiveDiscriminator` (ECOGAN, 2C, D2D-CE): sum-pooled trunk features → an adversarial logit
  (label independent) and a 512-d L2-normalised embedding, plus L2-normalised class proxies (upstream §4.1
  ``Discriminator_EC``; StudioGAN's ``linear1``/``linear2``/``embedding``, peers §1a).
- :class:`ProductDiscriminator` (EBGAN): flattened trunk features ⊙ LReLU(Linear(Emb(y))) → Linear → logit
  (upstream §4.2).
- :class:`ClassifierDiscriminator` (BAGAN): flattened trunk features → C + 1 logits, the last one "fake"
  (upstream §4.3).
- :class:`AuxClassifierDiscriminator` (ACGAN, IDA-GAN): sum-pooled trunk features → an adversarial logit and C
  class logits (Odena et al. 2017; IDA-GAN's "one output divided into two").

On a spectrally normalised backbone (biggan32) the head layers are spectrally normalised and orthogonally
initialised too, as StudioGAN does; otherwise they keep PyTorch's defaults (Linear default, Embedding N(0, 1)).

``check_real_batch`` (the D step's input check, now ``bench.methods.base``) and ``check_hyper`` stay importable
from here for method files written against the older API.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.methods import hyper as hyper_options
from bench.methods.backbones import Trunk
from bench.methods.backbones.biggan32 import snembedding, snlinear
from bench.methods.base import check_real_batch

EMBED_DIM = 512
__all__ = ["AuxClassifierDiscriminator", "ClassifierDiscriminator", "ContrastiveDiscriminator", "ProductDiscriminator",
           "check_hyper", "check_real_batch"]


def check_hyper(method: str, hp: Any) -> Any:
    """Compatibility name: the value check of a method's Hyper, now read from the rules on its fields
    (``bench.methods.hyper.check``); ``Method.resolve_hyper`` already applies it."""
    return hyper_options.check(method, hp)


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


class AuxClassifierDiscriminator(nn.Module):
    """D(x) → (adversarial logit (B,), class logits (B, C)): two linear heads on the sum-pooled trunk features
    (spectrally normalised on an SN backbone). ACGAN's D; IDA-GAN's "one output divided into two"."""

    def __init__(self, trunk: Trunk, num_classes: int, sn: bool) -> None:
        super().__init__()
        self.trunk = trunk
        self.adv = _linear(trunk.out_channels, 1, sn)
        self.cls = _linear(trunk.out_channels, num_classes, sn)

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """The adversarial logit alone, (B,) (what the gradient penalty differentiates)."""
        return self.adv(self.trunk.pooled(x)).squeeze(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk.pooled(x)
        return self.adv(h).squeeze(1), self.cls(h)

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C) the class head's logits."""
        return self.cls(self.trunk.pooled(x))
