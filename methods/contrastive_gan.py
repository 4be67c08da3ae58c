"""The recipe shared by ECOGAN, ContraGAN (2C) and ReACGAN (D2D-CE): one class, the conditional loss left open.

G(z, y) comes from the backbone (dcgan64/tiny: decoder(z ⊙ E[y]); biggan32: BigGAN with conditional BN).
D = trunk → sum pool → a label-independent adversarial logit and a 512-d L2-normalised embedding e; the class
proxies p are an Embedding(C, 512), L2-normalised (``bench.methods.heads.ContrastiveDiscriminator``).

    L_D = L_adv(D(x), D(G(z, y_gen))) + gp_weight·GP + λ·L_cond(e(x), p(y), y)       (real samples only)
    L_G = L_adv_G(D(G(z, y_g))) + λ·L_cond(e(G(z, y_g)), p(y_g), y_g),  y_g uniform over all C classes

(upstream §5.6; StudioGAN's ``train_D``/``train_G``, peers §1a). The subclass supplies L_cond.

Two recipes, chosen by backbone (the Hyper's defaults are the first; the run's options win over both):

=================  ===================================  ======================================================
option             dcgan64 / tiny (upstream ECOGAN)     biggan32 (StudioGAN, Table 1)
=================  ===================================  ======================================================
lr_g, lr_d         2e-4                                 2e-4 (ReACGAN: 2.828e-4)
betas, adam_eps    (0.5, 0.9), 1e-8                     (0.5, 0.999), 1e-6
adv_loss           bce (non-saturating)                 hinge
gp_weight          10 (GP on the adversarial logit)     0
ema_decay/start    0 (no EMA)                           0.9999 from step 1000
d_fake_labels      real (D-step fakes G(z, y_real))     uniform (D-step fakes G(z, y ~ U), StudioGAN's rule)
latent_dim         128 (tiny: 16)                       80
=================  ===================================  ======================================================

n_dis is 5 in both. ``div`` (biggan32 only) divides the BigGAN widths.

Quirk (``quirks="paper"``, upstream ``training_ECGAN.py``): the D step scores the fakes with freshly drawn labels
rather than the ones they were generated with. D's adversarial logit ignores labels and the conditional loss
uses real samples only, so this touches only unused proxy outputs (and draws from the RNG); it is implemented
here for every backbone anyway so that a label-dependent head would inherit it. ``"fixed"`` scores the fakes with
their own labels. The ECO loss's separate max shifts and the GP's α ~ N(0, 1) are the other two quirks, applied
inside ``eco_loss`` and ``gradient_penalty``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from bench.methods.backbones import Trunk, get_backbone
from bench.methods.base import LossDict, Method, MethodConfig, OptimizerSettings
from bench.methods.heads import ContrastiveDiscriminator
from bench.methods.hyper import BETAS, COUNT, EMA_DECAY, NON_NEGATIVE, POSITIVE, STEP, choice, int_range, option
from bench.methods.losses import bce_d_loss, bce_g_loss, hinge_d_loss, hinge_g_loss
from bench.methods.search import SearchSpace

STUDIOGAN_RECIPE: dict[str, Any] = {
    "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "adam_eps": 1e-6, "adv_loss": "hinge", "gp_weight": 0.0,
    "ema_decay": 0.9999, "ema_start": 1000, "d_fake_labels": "uniform",
}
ADV_LOSSES = {"bce": (bce_d_loss, bce_g_loss), "hinge": (hinge_d_loss, hinge_g_loss)}

QUIRK_GP_ALPHA = ("gradient penalty (dcgan64/tiny only; biggan32 has none): interpolation weight alpha ~ N(0,1), "
                  "extrapolating (fixed: U(0,1))")
QUIRK_FAKE_LABELS = ("D step scores fakes with freshly drawn labels; no effect with the label-free adversarial head "
                     "(fixed: their own labels)")


@dataclass
class ContrastiveHyper:
    """Options of the contrastive recipe. Defaults are the upstream ECOGAN recipe (dcgan64 / tiny); biggan32 takes
    ``STUDIOGAN_RECIPE`` over them (module docstring table); ``latent_dim`` None = the backbone's."""

    lr_g: float = option(2e-4, POSITIVE)  # G Adam learning rate
    lr_d: float = option(2e-4, POSITIVE)  # D Adam learning rate
    betas: tuple[float, float] = option((0.5, 0.9), BETAS)  # Adam betas of G and D
    adam_eps: float = option(1e-8, POSITIVE)  # Adam eps of G and D
    n_dis: int = option(5, COUNT)  # D steps per G step
    adv_loss: str = option("bce", choice("bce", "hinge"))  # bce | hinge
    gp_weight: float = option(10.0, NON_NEGATIVE)  # weight of the gradient penalty (0 = none)
    cond_lambda: float = option(1.0, NON_NEGATIVE)  # λ, weight of the conditional loss in L_D and L_G
    temperature: float = option(1.0, POSITIVE)  # τ of the conditional loss
    ema_decay: float = option(0.0, EMA_DECAY)  # G EMA decay (0 = no EMA)
    ema_start: int = option(0, STEP)  # G step from which the EMA averages (before: copies G)
    d_fake_labels: str = option("real", choice("real", "uniform"))  # labels of the D step's fakes: real | uniform
    latent_dim: int | None = option(None, COUNT)  # z size (None = the backbone's: dcgan64 128, biggan32 80, tiny 16)
    div: int = option(1, int_range(1, 5))  # biggan32 width divisor 1..5 (g/d_conv_dim 96//div, g_shared_dim 128//div)


# What bench tune varies for ECOGAN, 2C and D2D-CE: the shared ranges (bench.methods.search.SHARED, each with its
# source) of the optimiser, the update ratio, the conditional loss's weight and temperature, how the class enters G
# and the training aids.
CONTRASTIVE_SPACE = SearchSpace(shared=("lr_g", "lr_d", "n_dis", "cond_lambda", "temperature", "g_cond",
                                        "regularizer", "augment"))


def shared_recipe(hyper: type, backbone: str) -> dict[str, Any]:
    """The contrastive recipe's values on ``backbone`` (ContrastiveHyper's defaults, biggan32's StudioGAN recipe over
    them, the backbone's latent size) for the options of ``hyper`` whose default is None: how the baselines that
    share these nets (ACGAN, ProjGAN) take the recipe while keeping their own non-None defaults."""
    from bench.methods.backbones import get_backbone

    recipe = {f.name: f.default for f in dataclasses.fields(ContrastiveHyper)}
    recipe |= {**ContrastiveGAN.recipes.get(backbone, {}), "latent_dim": get_backbone(backbone).default_latent_dim}
    return {f.name: recipe[f.name] for f in dataclasses.fields(hyper) if f.default is None and f.name in recipe}


class SharedNetsGAN(Method):
    """The nets and optimisers the contrastive methods share with the baselines ACGAN and ProjGAN, so that on one
    backbone only the conditional loss differs: G(z, y) from the backbone (``g_cond``), D = the subclass's
    :meth:`make_discriminator` on the backbone's trunk, Adam for both from the Hyper, the adversarial loss pair
    (``adv_loss``) and the G EMA. The Hyper must have the options of ``ContrastiveHyper``'s optimiser block (lr_g,
    lr_d, betas, adam_eps, n_dis, adv_loss, gp_weight, latent_dim, div, d_fake_labels)."""

    default_backbone: ClassVar[str] = "dcgan64"

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.arch = get_backbone(self.backbone)
        hp = self.hp
        c, size, classes = config.channels, config.image_size, config.num_classes
        self.latent_dim, self.n_dis = hp.latent_dim, hp.n_dis
        self.g_cond = self.arch.check_g_cond(config.g_cond)
        self.G = self.arch.conditional_generator(hp.latent_dim, classes, c, size, div=hp.div,
                                                 g_cond=self.g_cond).to(self.device)
        trunk = self.arch.trunk(c, size, div=hp.div)
        self.D = self.make_discriminator(trunk, classes, sn=self.arch.spectral_norm).to(self.device)
        self.opt_g = self.adam(self.G.parameters(), OptimizerSettings(hp.lr_g, hp.betas, hp.adam_eps))
        self.opt_d = self.adam(self.D.parameters(), OptimizerSettings(hp.lr_d, hp.betas, hp.adam_eps))
        self.d_loss_fn, self.g_loss_fn = ADV_LOSSES[hp.adv_loss]
        self.setup_ema()

    def make_discriminator(self, trunk: Trunk, num_classes: int, sn: bool) -> nn.Module:
        """The method's D on ``trunk`` (``sn``: the backbone applies spectral norm to its heads)."""
        raise NotImplementedError

    def fakes_for_d(self, real_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G(z, y_gen) without gradient, y_gen) for a D step on a real batch labelled ``real_y``: y_gen is
        ``real_y`` under ``d_fake_labels = "real"``, uniform labels under ``"uniform"``."""
        y_gen = real_y if self.hp.d_fake_labels == "real" else self.sample_labels(real_y.shape[0])
        with self.forward_context(), torch.no_grad():
            return self.G(self.sample_z(real_y.shape[0]), y_gen), y_gen


class ContrastiveGAN(SharedNetsGAN):
    """Base of the three contrastive methods; a subclass sets ``cond_name``, ``Hyper`` and :meth:`cond_loss`."""

    Hyper: ClassVar[type] = ContrastiveHyper
    search_space: ClassVar[SearchSpace] = CONTRASTIVE_SPACE
    cond_name: ClassVar[str] = "cond"
    recipes: ClassVar[dict[str, dict[str, Any]]] = {"biggan32": STUDIOGAN_RECIPE}
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

    def discriminator_step(self, real_x: torch.Tensor, real_y: torch.Tensor) -> LossDict:
        """One D update: adversarial loss on reals and fakes, GP, and λ·L_cond on the reals."""
        fake, y_gen = self.fakes_for_d(real_y)
        with self.forward_context():
            y_score = self.sample_labels(real_x.shape[0]) if self.config.quirks == "paper" else y_gen
            adv_real, e_real, p_real = self.D(real_x, real_y)
            adv_fake, _, _ = self.D(fake, y_score)
            loss_adv = self.d_loss_fn(adv_real, adv_fake)
            loss_cond = self.cond_loss(e_real, p_real, real_y)
            loss_reg, out_reg = self.d_regularizer(adv_real, adv_fake)  # the configured regulariser (base)
            loss = loss_adv + self.hp.cond_lambda * loss_cond + loss_reg
            out = {"loss/d_adv": loss_adv.detach(), f"loss/d_{self.cond_name}": loss_cond.detach(), **out_reg}
            loss = self.add_gradient_penalty(loss, out, self.D.logit, real_x, fake)
        self.optimizer_step(self.opt_d, loss)
        return {"loss/d": loss.detach(), **out}

    def g_step(self) -> LossDict:
        """One G update on ``batch_size`` fakes with labels uniform over all classes."""
        batch = self.config.batch_size
        y = self.sample_labels(batch)
        with self.frozen(self.D):
            with self.forward_context():
                adv, e, p = self.D(self.G(self.sample_z(batch), y), y)
                loss_adv = self.g_loss_fn(adv)
                loss_cond = self.cond_loss(e, p, y)
                loss = loss_adv + self.hp.cond_lambda * loss_cond
            self.optimizer_step(self.opt_g, loss)
        return {"loss/g": loss.detach(), "loss/g_adv": loss_adv.detach(),
                f"loss/g_{self.cond_name}": loss_cond.detach()}
