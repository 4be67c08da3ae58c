"""ProjGAN (Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018), with the hinge loss.

D's logit is an unconditional term plus the projection of the features on a class embedding (Eq. 3):

    D(x, y) = ψ(φ(x)) + ⟨E_D[y], φ(x)⟩

φ = the trunk's sum-pooled features, ψ = a linear layer, E_D = Embedding(C, F) (spectrally normalised on an SN
backbone, as StudioGAN's ``ProjGAN``). The loss is the hinge loss on that label-dependent logit:

    L_D = mean relu(1 − D(x, y)) + mean relu(1 + D(G(z, y_g), y_g)) + gp_weight·GP(D(·, y))
    L_G = −mean D(G(z, y_g), y_g)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from bench.errors import check
from bench.methods.backbones import Trunk
from bench.methods.backbones.biggan32 import snembedding, snlinear
from bench.methods.base import DiscriminatorLoss, GeneratorLoss, register_method
from bench.methods.hyper import BETAS, COUNT, EMA_DECAY, NON_NEGATIVE, POSITIVE, STEP, choice, int_range, option
from bench.methods.search import SearchSpace
from bench.methods.shared_nets import SharedNetsGAN, shared_recipe


def projection_logits(unconditional: Tensor, features: Tensor, class_embeddings: Tensor, labels: Tensor) -> Tensor:
    """D(x_i, y_i) = ψ(φ(x_i)) + ⟨E[y_i], φ(x_i)⟩ (Miyato & Koyama 2018, Eq. 3), vectorised.

    Args:
        unconditional: (B,) ψ(φ(x)).
        features: (B, F) φ(x).
        class_embeddings: (C, F) the rows E[c].
        labels: (B,) integer classes.

    Returns:
        (B,) the logits.
    """
    check(features.dim() == 2 and class_embeddings.dim() == 2 and features.shape[1] == class_embeddings.shape[1],
          f"projection_logits: features (B, F) and class embeddings (C, F) needed, got {tuple(features.shape)} and "
          f"{tuple(class_embeddings.shape)}")
    return unconditional + (class_embeddings[labels] * features).sum(dim=1)


class ProjectionDiscriminator(nn.Module):
    """D(x, y) → (B,) logits ψ(φ(x)) + ⟨E[y], φ(x)⟩ on the sum-pooled trunk features."""

    def __init__(self, trunk: Trunk, num_classes: int, sn: bool) -> None:
        super().__init__()
        self.trunk = trunk
        self.psi = snlinear(trunk.out_channels, 1) if sn else nn.Linear(trunk.out_channels, 1)
        self.embedding = snembedding(num_classes, trunk.out_channels) if sn else nn.Embedding(num_classes,
                                                                                               trunk.out_channels)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.trunk.pooled(x)
        return projection_logits(self.psi(h).squeeze(1), h, self.embedding.weight, y)

    def class_scores(self, x: Tensor) -> Tensor:
        """(B, C) D(x, c) for every class c at once: ψ(φ) + φ E^T (the best-matching label = D's class)."""
        h = self.trunk.pooled(x)
        return self.psi(h) + h @ self.embedding.weight.T


@dataclass
class ProjGANHyper:
    """ProjGAN's options; None = the backbone's recipe value (``bench.methods.shared_nets``' table), but the
    adversarial loss is the hinge loss on every backbone (the paper's)."""

    lr_g: float | None = option(None, POSITIVE)  # G Adam learning rate
    lr_d: float | None = option(None, POSITIVE)  # D Adam learning rate
    betas: tuple[float, float] | None = option(None, BETAS)  # Adam betas of G and D
    adam_eps: float | None = option(None, POSITIVE)  # Adam eps of G and D
    n_dis: int = option(5, COUNT)  # D steps per G step
    adv_loss: str | None = option("hinge", choice("bce", "hinge"))  # bce | hinge
    gp_weight: float | None = option(None, NON_NEGATIVE)  # weight of the gradient penalty on D(·, y) (0 = none)
    ema_decay: float | None = option(None, EMA_DECAY)  # G EMA decay (0 = no EMA)
    ema_start: int | None = option(None, STEP)  # G step from which the EMA averages (before: copies G)
    d_fake_labels: str | None = option(None, choice("real", "uniform"))  # D-step fakes' labels: real | uniform
    latent_dim: int | None = option(None, COUNT)  # z size (None = the backbone's: dcgan64 128, biggan32 80, tiny 16)
    div: int = option(1, int_range(1, 5))  # biggan32 width divisor 1..5


# What bench tune varies for ProjGAN: the shared ranges (bench.methods.search.SHARED) of the optimiser, the update
# ratio, how the class enters G and the training aids (the projection has no weight of its own).
PROJGAN_SPACE = SearchSpace(shared=("lr_g", "lr_d", "n_dis", "g_cond", "regularizer", "augment"))


@register_method("projgan")
class ProjGAN(SharedNetsGAN):
    """ProjGAN (Miyato & Koyama 2018): the projection discriminator with the hinge loss (module docstring). Not a
    row of the ECOGAN tables: the long-tail literature's baseline.

    G(z, y) from the backbone (``g_cond``); the backbone's recipe for everything but the loss (dcgan64: 10·GP on
    D(·, y), Adam 2e-4 β (0.5, 0.9); biggan32: StudioGAN's, no GP, G EMA). Fakes are scored with the labels they
    were generated with.
    """

    paper_row: ClassVar[str] = "baseline: Miyato & Koyama 2018 (long-tail GAN papers' ProjGAN)"
    default_backbone: ClassVar[str] = "biggan32"
    Hyper: ClassVar[type] = ProjGANHyper
    search_space: ClassVar[SearchSpace] = PROJGAN_SPACE
    display_name: ClassVar[str] = "ProjGAN"
    adversarial_loss: ClassVar[str] = "hinge"

    @classmethod
    def backbone_recipe(cls, backbone: str) -> dict[str, Any]:
        """The contrastive methods' recipe on ``backbone`` for every option left at None."""
        return {**super().backbone_recipe(backbone), **shared_recipe(cls.Hyper, backbone)}

    def make_discriminator(self, trunk: Trunk, num_classes: int, sn: bool) -> nn.Module:
        return ProjectionDiscriminator(trunk, num_classes, sn=sn)

    def discriminator_loss(self, real_x: torch.Tensor, real_y: torch.Tensor) -> DiscriminatorLoss:
        """Hinge loss on D(x, y) and D(G(z, y_gen), y_gen) (the base adds the GP on D(·, y))."""
        fake, y_gen = self.fakes_for_d(real_y)
        adv_real, adv_fake = self.D(real_x, real_y), self.D(fake, y_gen)
        loss_adv = self.d_loss_fn(adv_real, adv_fake)
        return DiscriminatorLoss(loss_adv, {"loss/d_adv": loss_adv.detach()}, real_logits=adv_real,
                                 fake_logits=adv_fake, fakes=fake, critic=lambda x: self.D(x, real_y))

    def generator_loss(self, y: torch.Tensor) -> GeneratorLoss:
        """The G-side adversarial loss on D(G(z, y), y)."""
        return GeneratorLoss(self.g_loss_fn(self.D(self.G(self.sample_z(y.shape[0]), y), y)))
