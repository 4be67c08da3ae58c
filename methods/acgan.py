"""ACGAN (Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017).

D has an adversarial logit and an auxiliary C-way classifier on one trunk; both D and G are trained to make the
classifier right on real images and on fakes (the classic conditional baseline of the long-tail GAN papers,
peers.md §4).

    L_D = L_adv(D(x), D(G(z, y_g))) + λ·[CE(cls(x), y) + CE(cls(G(z, y_g)), y_g)] + gp_weight·GP
    L_G = L_adv_G(D(G(z, y_g))) + λ·CE(cls(G(z, y_g)), y_g),   y_g uniform over all C classes (G step)

The D step's fakes take the labels of the backbone's recipe (``d_fake_labels``: the real batch's, or uniform).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.errors import check
from bench.methods.backbones import Trunk
from bench.methods.base import DiscriminatorLoss, GeneratorLoss, register_method
from bench.methods.heads import AuxClassifierDiscriminator
from bench.methods.hyper import BETAS, COUNT, EMA_DECAY, NON_NEGATIVE, POSITIVE, STEP, choice, int_range, option
from bench.methods.search import SearchSpace
from bench.methods.shared_nets import SharedNetsGAN, shared_recipe


def acgan_d_class_loss(real_class_logits: Tensor, real_labels: Tensor, fake_class_logits: Tensor,
                       fake_labels: Tensor) -> Tensor:
    """ACGAN's auxiliary-classifier term of L_D (Odena et al. 2017, Eq. 2, L_C):
    mean_i −log softmax(cls(x_i))[y_i] + mean_j −log softmax(cls(G(z_j)))[y_j].

    Args:
        real_class_logits: (B, C) class logits of real images; real_labels (B,) their classes.
        fake_class_logits: (B', C) class logits of fakes; fake_labels (B',) the classes they were generated for.
    """
    check(real_class_logits.dim() == 2 and fake_class_logits.dim() == 2
          and real_class_logits.shape[1] == fake_class_logits.shape[1],
          f"acgan_d_class_loss: class logits must be (B, C) with one C, got {tuple(real_class_logits.shape)} and "
          f"{tuple(fake_class_logits.shape)}")
    return F.cross_entropy(real_class_logits, real_labels) + F.cross_entropy(fake_class_logits, fake_labels)


def acgan_g_class_loss(fake_class_logits: Tensor, fake_labels: Tensor) -> Tensor:
    """ACGAN's auxiliary-classifier term of L_G: mean_j −log softmax(cls(G(z_j)))[y_j]."""
    check(fake_class_logits.dim() == 2, f"acgan_g_class_loss: class logits must be (B, C), got "
                                        f"{tuple(fake_class_logits.shape)}")
    return F.cross_entropy(fake_class_logits, fake_labels)


@dataclass
class ACGANHyper:
    """ACGAN's options; None = the backbone's recipe value (``bench.methods.shared_nets``' table)."""

    lr_g: float | None = option(None, POSITIVE)  # G Adam learning rate
    lr_d: float | None = option(None, POSITIVE)  # D Adam learning rate
    betas: tuple[float, float] | None = option(None, BETAS)  # Adam betas of G and D
    adam_eps: float | None = option(None, POSITIVE)  # Adam eps of G and D
    n_dis: int = option(5, COUNT)  # D steps per G step
    adv_loss: str | None = option(None, choice("bce", "hinge"))  # bce | hinge
    gp_weight: float | None = option(None, NON_NEGATIVE)  # weight of the gradient penalty (0 = none)
    cond_lambda: float = option(1.0, NON_NEGATIVE)  # λ, weight of the auxiliary-classifier terms in L_D and L_G
    ema_decay: float | None = option(None, EMA_DECAY)  # G EMA decay (0 = no EMA)
    ema_start: int | None = option(None, STEP)  # G step from which the EMA averages (before: copies G)
    d_fake_labels: str | None = option(None, choice("real", "uniform"))  # D-step fakes' labels: real | uniform
    latent_dim: int | None = option(None, COUNT)  # z size (None = the backbone's: dcgan64 128, biggan32 80, tiny 16)
    div: int = option(1, int_range(1, 5))  # biggan32 width divisor 1..5


# What bench tune varies for ACGAN: the shared ranges (bench.methods.search.SHARED) of the optimiser, the update
# ratio, the auxiliary classifier's weight λ, how the class enters G and the training aids.
ACGAN_SPACE = SearchSpace(shared=("lr_g", "lr_d", "n_dis", "cond_lambda", "g_cond", "regularizer", "augment"))


@register_method("acgan")
class ACGAN(SharedNetsGAN):
    """ACGAN (Odena et al. 2017): adversarial logit + auxiliary classifier, CE on reals and fakes in L_D, on fakes
    in L_G (module docstring). Not a row of the ECOGAN tables: the long-tail literature's baseline.

    Nets and recipe as the contrastive methods on the same backbone, so that only the conditional loss differs:
    G(z, y) from the backbone (``g_cond``), D = trunk → sum pool → adversarial logit and C class logits; the
    dcgan64 recipe (BCE + 10·GP, Adam 2e-4 β (0.5, 0.9)) or biggan32's StudioGAN recipe (hinge, no GP, G EMA).
    """

    paper_row: ClassVar[str] = "baseline: Odena et al. 2017 (long-tail GAN papers' ACGAN)"
    default_backbone: ClassVar[str] = "biggan32"
    Hyper: ClassVar[type] = ACGANHyper
    search_space: ClassVar[SearchSpace] = ACGAN_SPACE
    display_name: ClassVar[str] = "ACGAN"

    @classmethod
    def backbone_recipe(cls, backbone: str) -> dict[str, Any]:
        """The contrastive methods' recipe on ``backbone`` for every option left at None."""
        return {**super().backbone_recipe(backbone), **shared_recipe(cls.Hyper, backbone)}

    def make_discriminator(self, trunk: Trunk, num_classes: int, sn: bool) -> nn.Module:
        return AuxClassifierDiscriminator(trunk, num_classes, sn=sn)

    def discriminator_loss(self, real_x: torch.Tensor, real_y: torch.Tensor) -> DiscriminatorLoss:
        """Adversarial loss and λ·(CE on reals + CE on fakes) (the base adds the GP on the logit)."""
        fake, y_gen = self.fakes_for_d(real_y)
        adv_real, cls_real = self.D(real_x)
        adv_fake, cls_fake = self.D(fake)
        loss_adv = self.d_loss_fn(adv_real, adv_fake)
        loss_cls = acgan_d_class_loss(cls_real, real_y, cls_fake, y_gen)
        return DiscriminatorLoss(loss_adv + self.hp.cond_lambda * loss_cls,
                                 {"loss/d_adv": loss_adv.detach(), "loss/d_cls": loss_cls.detach()},
                                 real_logits=adv_real, fake_logits=adv_fake, fakes=fake, critic=self.D.logit)

    def generator_loss(self, y: torch.Tensor) -> GeneratorLoss:
        """Adversarial loss + λ·CE(cls(G(z, y)), y)."""
        adv, cls = self.D(self.G(self.sample_z(y.shape[0]), y))
        loss_adv = self.g_loss_fn(adv)
        loss_cls = acgan_g_class_loss(cls, y)
        return GeneratorLoss(loss_adv + self.hp.cond_lambda * loss_cls,
                             {"loss/g_adv": loss_adv.detach(), "loss/g_cls": loss_cls.detach()})
