"""The nets and recipe shared by the contrastive methods (ECOGAN, 2C, D2D-CE) and the baselines ACGAN and ProjGAN, so
that on one backbone only the conditional loss differs.

G(z, y) comes from the backbone (dcgan64/tiny: decoder(z ⊙ E[y]) or another ``g_cond``; biggan32: BigGAN with
conditional BN); D is the subclass's :meth:`SharedNetsGAN.make_discriminator` on the backbone's trunk; Adam for both
from the Hyper; the adversarial loss pair of ``adv_loss``; the G EMA.

Two recipes, chosen by backbone (a method's Hyper defaults are the first; the run's options win over both):

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
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from bench.methods.backbones import Trunk, get_backbone
from bench.methods.base import Method, MethodConfig, OptimizerSettings
from bench.methods.losses import ADVERSARIAL_LOSSES

UPSTREAM_RECIPE: dict[str, Any] = {
    "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.9), "adam_eps": 1e-8, "n_dis": 5, "adv_loss": "bce",
    "gp_weight": 10.0, "ema_decay": 0.0, "ema_start": 0, "d_fake_labels": "real",
}
"""The upstream ECOGAN recipe (dcgan64 / tiny): the contrastive Hyper's defaults."""
STUDIOGAN_RECIPE: dict[str, Any] = {
    "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "adam_eps": 1e-6, "adv_loss": "hinge", "gp_weight": 0.0,
    "ema_decay": 0.9999, "ema_start": 1000, "d_fake_labels": "uniform",
}
"""StudioGAN's Table-1 recipe, taken on biggan32."""
BACKBONE_RECIPES: dict[str, dict[str, Any]] = {"biggan32": STUDIOGAN_RECIPE}


def shared_recipe(hyper: type, backbone: str, recipes: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The shared recipe's values on ``backbone`` (:data:`UPSTREAM_RECIPE`, the backbone's recipe over it, the
    backbone's latent size) for the options of ``hyper`` whose default is None: how the baselines that share these
    nets (ACGAN, ProjGAN) take the recipe while keeping their own non-None defaults."""
    recipe = {**UPSTREAM_RECIPE, **(recipes or BACKBONE_RECIPES).get(backbone, {}),
              "latent_dim": get_backbone(backbone).default_latent_dim}
    return {f.name: recipe[f.name] for f in dataclasses.fields(hyper) if f.default is None and f.name in recipe}


class SharedNetsGAN(Method):
    """The nets and optimisers of the module docstring; the subclass gives :meth:`make_discriminator` and its losses.
    The Hyper must have the options of the recipe (lr_g, lr_d, betas, adam_eps, n_dis, adv_loss, gp_weight,
    latent_dim, div, d_fake_labels, ema_decay, ema_start)."""

    default_backbone: ClassVar[str] = "dcgan64"

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        hp = self.hp
        c, size, classes = config.channels, config.image_size, config.num_classes
        self.latent_dim = hp.latent_dim
        self.G = self.arch.conditional_generator(hp.latent_dim, classes, c, size, div=hp.div,
                                                 g_cond=config.g_cond).to(self.device)
        trunk = self.arch.trunk(c, size, div=hp.div)
        self.D = self.make_discriminator(trunk, classes, sn=self.arch.spectral_norm).to(self.device)
        self.opt_g = self.adam(self.G.parameters(), OptimizerSettings(hp.lr_g, hp.betas, hp.adam_eps))
        self.opt_d = self.adam(self.D.parameters(), OptimizerSettings(hp.lr_d, hp.betas, hp.adam_eps))
        self.d_loss_fn, self.g_loss_fn = ADVERSARIAL_LOSSES[hp.adv_loss]
        self.setup_ema()

    def make_discriminator(self, trunk: Trunk, num_classes: int, sn: bool) -> nn.Module:
        """The method's D on ``trunk`` (``sn``: the backbone applies spectral norm to its heads)."""
        raise NotImplementedError

    def fakes_for_d(self, real_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G(z, y_gen) without gradient, y_gen) for a D step on a real batch labelled ``real_y``: y_gen is
        ``real_y`` under ``d_fake_labels = "real"``, uniform labels under ``"uniform"``."""
        y_gen = real_y if self.hp.d_fake_labels == "real" else self.sample_labels(real_y.shape[0])
        with torch.no_grad():
            return self.G(self.sample_z(real_y.shape[0]), y_gen), y_gen
