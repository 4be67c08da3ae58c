"""The recipe shared by ECOGAN, ContraGAN (2C) and ReACGAN (D2D-CE): one class, the conditional loss left open.

G(z, y) comes from the backbone (dcgan64/tiny: decoder(z ⊙ E[y]); biggan32: BigGAN with conditional BN).
D = trunk → sum pool → a label-independent adversarial logit and a 512-d L2-normalised embedding e; the class
proxies p are an Embedding(C, 512), L2-normalised (``bench.methods.heads.ContrastiveDiscriminator``).

    L_D = L_adv(D(x), D(G(z, y_gen))) + gp_weight·GP + λ·L_cond(e(x), p(y), y)       (real samples only)
    L_G = L_adv_G(D(G(z, y_g))) + λ·L_cond(e(G(z, y_g)), p(y_g), y_g),  y_g uniform over all C classes

(upstream §5.6; StudioGAN's ``train_D``/``train_G``, peers §1a). The subclass supplies L_cond.

The recipe (optimiser, adversarial loss, GP, EMA, the D step's fake labels) is the one the contrastive methods
share with ACGAN and ProjGAN, per backbone: ``bench.methods.shared_nets`` (its table).

Quirk (``quirks="paper"``, upstream ``training_ECGAN.py``): the D step scores the fakes with freshly drawn labels
rather than the ones they were generated with. D's adversarial logit ignores labels and the conditional loss
uses real samples only, so this touches only unused proxy outputs (and draws from the RNG); it is implemented
here for every backbone anyway so that a label-dependent head would inherit it. ``"fixed"`` scores the fakes with
their own labels. The ECO loss's separate max shifts and the GP's α ~ N(0, 1) are the other two quirks, applied
inside ``eco_loss`` and ``gradient_penalty``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from bench.methods.backbones import Trunk
from bench.methods.base import DiscriminatorLoss, GeneratorLoss
from bench.methods.heads import ContrastiveDiscriminator
from bench.methods.hyper import BETAS, COUNT, EMA_DECAY, NON_NEGATIVE, POSITIVE, STEP, choice, int_range, option
from bench.methods.search import SearchSpace
from bench.methods.shared_nets import BACKBONE_RECIPES, UPSTREAM_RECIPE, SharedNetsGAN

QUIRK_GP_ALPHA = ("gradient penalty (dcgan64/tiny only; biggan32 has none): interpolation weight alpha ~ N(0,1), "
                  "extrapolating (fixed: U(0,1))")
QUIRK_FAKE_LABELS = ("D step scores fakes with freshly drawn labels; no effect with the label-free adversarial head "
                     "(fixed: their own labels)")
R = UPSTREAM_RECIPE


@dataclass
class ContrastiveHyper:
    """Options of the contrastive recipe. Defaults are the upstream ECOGAN recipe (dcgan64 / tiny:
    ``shared_nets.UPSTREAM_RECIPE``); biggan32 takes ``STUDIOGAN_RECIPE`` over them; ``latent_dim`` None = the
    backbone's."""

    lr_g: float = option(R["lr_g"], POSITIVE)  # G Adam learning rate
    lr_d: float = option(R["lr_d"], POSITIVE)  # D Adam learning rate
    betas: tuple[float, float] = option(R["betas"], BETAS)  # Adam betas of G and D
    adam_eps: float = option(R["adam_eps"], POSITIVE)  # Adam eps of G and D
    n_dis: int = option(R["n_dis"], COUNT)  # D steps per G step
    adv_loss: str = option(R["adv_loss"], choice("bce", "hinge"))  # bce | hinge
    gp_weight: float = option(R["gp_weight"], NON_NEGATIVE)  # weight of the gradient penalty (0 = none)
    cond_lambda: float = option(1.0, NON_NEGATIVE)  # λ, weight of the conditional loss in L_D and L_G
    temperature: float = option(1.0, POSITIVE)  # τ of the conditional loss
    ema_decay: float = option(R["ema_decay"], EMA_DECAY)  # G EMA decay (0 = no EMA)
    ema_start: int = option(R["ema_start"], STEP)  # G step from which the EMA averages (before: copies G)
    d_fake_labels: str = option(R["d_fake_labels"], choice("real", "uniform"))  # labels of the D step's fakes
    latent_dim: int | None = option(None, COUNT)  # z size (None = the backbone's: dcgan64 128, biggan32 80, tiny 16)
    div: int = option(1, int_range(1, 5))  # biggan32 width divisor 1..5 (g/d_conv_dim 96//div, g_shared_dim 128//div)


# What bench tune varies for ECOGAN, 2C and D2D-CE: the shared ranges (bench.methods.search.SHARED, each with its
# source) of the optimiser, the update ratio, the conditional loss's weight and temperature, how the class enters G
# and the training aids.
CONTRASTIVE_SPACE = SearchSpace(shared=("lr_g", "lr_d", "n_dis", "cond_lambda", "temperature", "g_cond",
                                        "regularizer", "augment"))


class ContrastiveGAN(SharedNetsGAN):
    """Base of the three contrastive methods; a subclass sets ``cond_name``, ``Hyper`` and :meth:`cond_loss`."""

    Hyper: ClassVar[type] = ContrastiveHyper
    search_space: ClassVar[SearchSpace] = CONTRASTIVE_SPACE
    cond_name: ClassVar[str] = "cond"
    recipes: ClassVar[dict[str, dict[str, Any]]] = BACKBONE_RECIPES
    quirks_doc: ClassVar[tuple[str, ...]] = (QUIRK_GP_ALPHA, QUIRK_FAKE_LABELS)

    def make_discriminator(self, trunk: Trunk, num_classes: int, sn: bool) -> nn.Module:
        return ContrastiveDiscriminator(trunk, num_classes, sn=sn)

    @classmethod
    def backbone_recipe(cls, backbone: str) -> dict[str, Any]:
        """The backbone's latent size and, on biggan32, the StudioGAN recipe (``recipes``)."""
        return {**super().backbone_recipe(backbone), **cls.recipes.get(backbone, {})}

    def cond_loss(self, embeds: torch.Tensor, proxies: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The conditional (metric-learning) loss L_cond of the subclass, a scalar."""
        raise NotImplementedError

    def discriminator_loss(self, real_x: torch.Tensor, real_y: torch.Tensor) -> DiscriminatorLoss:
        """Adversarial loss on reals and fakes and λ·L_cond on the reals (the base adds the GP on the logit)."""
        fake, y_gen = self.fakes_for_d(real_y)
        y_score = self.sample_labels(real_x.shape[0]) if self.config.quirks == "paper" else y_gen
        adv_real, e_real, p_real = self.D(real_x, real_y)
        adv_fake, _, _ = self.D(fake, y_score)
        loss_adv = self.d_loss_fn(adv_real, adv_fake)
        loss_cond = self.cond_loss(e_real, p_real, real_y)
        return DiscriminatorLoss(loss_adv + self.hp.cond_lambda * loss_cond,
                                 {"loss/d_adv": loss_adv.detach(), f"loss/d_{self.cond_name}": loss_cond.detach()},
                                 real_logits=adv_real, fake_logits=adv_fake, fakes=fake, critic=self.D.logit)

    def generator_loss(self, y: torch.Tensor) -> GeneratorLoss:
        """The G-side adversarial loss and λ·L_cond on the fakes of labels ``y``."""
        adv, e, p = self.D(self.G(self.sample_z(y.shape[0]), y), y)
        loss_adv = self.g_loss_fn(adv)
        loss_cond = self.cond_loss(e, p, y)
        return GeneratorLoss(loss_adv + self.hp.cond_lambda * loss_cond,
                             {"loss/g_adv": loss_adv.detach(), f"loss/g_{self.cond_name}": loss_cond.detach()})
