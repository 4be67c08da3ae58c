"""EBGAN = Enhanced Balancing GAN (Huang & Jafari 2021; BAGAN-GP), not the energy-based GAN."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bench.methods.backbones import Trunk
from bench.methods.base import (
    DiscriminatorLoss,
    GeneratorLoss,
    LossDict,
    Method,
    MethodConfig,
    OptimizerSettings,
    register_method,
)
from bench.methods.heads import ProductDiscriminator
from bench.methods.hyper import BETAS, COUNT, EMA_DECAY, FLAG, NON_NEGATIVE, POSITIVE, STEP, option
from bench.methods.losses import GP_WEIGHT, bce_d_loss, bce_g_loss
from bench.methods.search import Choice, SearchSpace


@dataclass
class EBGANHyper:
    """EBGAN's options (upstream §4.2, §6.1, §6.2)."""

    lr_g: float = option(2e-4, POSITIVE)  # G Adam learning rate
    lr_d: float = option(2e-4, POSITIVE)  # D Adam learning rate
    betas: tuple[float, float] = option((0.5, 0.9), BETAS)  # Adam betas of G and D
    n_dis: int = option(5, COUNT)  # D steps per G step
    gp_weight: float = option(GP_WEIGHT, NON_NEGATIVE)  # weight of the gradient penalty
    latent_dim: int | None = option(None, COUNT)  # z size (None = the backbone's: dcgan64 128, tiny 16)
    ema_decay: float = option(0.0, EMA_DECAY)  # G EMA decay (0 = no EMA, as upstream)
    ema_start: int = option(0, STEP)  # G step from which the EMA averages (before: copies G)
    pretrained: bool = option(True, FLAG)  # pretrain the supervised autoencoder and initialise G and D from it
    pretrain_epochs: int = option(30, COUNT)  # autoencoder epochs
    pretrain_lr: float = option(2e-4, POSITIVE)  # autoencoder Adam learning rate
    pretrain_betas: tuple[float, float] = option((0.5, 0.9), BETAS)  # autoencoder Adam betas


# What bench tune varies for EBGAN: the shared ranges (bench.methods.search.SHARED) of the optimiser, the update
# ratio, how the class enters G and the training aids, and whether it pretrains, which its paper varies.
EBGAN_SPACE = SearchSpace(
    shared=("lr_g", "lr_d", "n_dis", "g_cond", "regularizer", "augment"),
    own={"pretrained": Choice((True, False), source="the ECOGAN paper's Table 3 reports EBGAN with and without its "
                                                    "autoencoder pretraining (Pre-trained TRUE / FALSE)")})


class SupervisedAutoencoder(nn.Module):
    """x → LReLU(linear0(trunk(x))) → G(code, y) (upstream ``training_AE.py``, §4.2: G = decoder(code ⊙ E[y]);
    with another ``g_cond`` the class enters the decoder that way instead)."""

    def __init__(self, trunk: Trunk, generator: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.generator = generator

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        code = F.leaky_relu(self.trunk.linear0(self.trunk.flattened(x)), 0.2)
        return self.generator(code, y)


@register_method("ebgan")
class EBGAN(Method):
    """Enhanced BAGAN (upstream §4.2, §5.4, §5.5; peers §3.2): Table 3 "EBGAN", pretrained TRUE and FALSE rows.

    G(z, y) = decoder(z ⊙ Emb(y)); D(x, y) = Linear(flatten(trunk(x)) ⊙ LReLU(Linear_{512→F}(Emb_{C×512}[y]))).

        L_D = BCE(D(x, y), 1) + BCE(D(G(z, y), y_d), 0) + BCE(D(x, y_wrong), 0) + 10·GP(D(·, y))
        L_G = BCE(D(G(z, y_g), y_g), 1),  y_g uniform over all classes

    Adam 2e-4 β (0.5, 0.9) for G and D, 5 D steps per G step, on dcgan64 (or tiny). With ``pretrained`` (the
    default), :meth:`pretrain` first trains the supervised autoencoder trunk → linear0 → LReLU → ⊙ Emb(y) →
    decoder with MSE (Adam 2e-4 β (0.5, 0.9), 30 epochs), then loads G's decoder and embedding and D's trunk
    (linear0 included) from it; D's label path and output layer stay at their init. ``pretrained=False`` starts
    from random weights and has no pretraining stage.
    """

    paper_row: ClassVar[str] = 'Table 3 "EBGAN" (Pre-trained TRUE / FALSE)'
    default_backbone: ClassVar[str] = "dcgan64"
    Hyper: ClassVar[type] = EBGANHyper
    search_space: ClassVar[SearchSpace] = EBGAN_SPACE
    display_name: ClassVar[str] = "EBGAN"
    pretrains: ClassVar[bool] = True
    paper_order: ClassVar[int] = 2
    needs: ClassVar[tuple[str, ...]] = ("encoder",)  # D's trunk carries the autoencoder's linear0
    min_classes: ClassVar[int] = 2  # the wrong-label term needs another class
    quirks_doc: ClassVar[tuple[str, ...]] = (
        "D step scores the fakes (generated with the real labels) with freshly drawn labels y_d "
        "(fixed: the labels they were generated with)",
        "wrong-label term draws y_wrong uniformly, so it may equal the real label (fixed: uniform over the others)",
        "gradient penalty: interpolation weight alpha ~ N(0,1), extrapolating (fixed: U(0,1))",
    )

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        hp = self.hp
        self.latent_dim = hp.latent_dim
        self.G = self._generator().to(self.device)
        self.D = ProductDiscriminator(self._trunk(), config.num_classes).to(self.device)
        self.opt_g = self.adam(self.G.parameters(), OptimizerSettings(hp.lr_g, hp.betas))
        self.opt_d = self.adam(self.D.parameters(), OptimizerSettings(hp.lr_d, hp.betas))
        self.setup_ema()
        self.autoencoder: SupervisedAutoencoder | None = None
        self.pretrained_done = False

    def _generator(self) -> nn.Module:
        c = self.config
        return self.arch.conditional_generator(self.latent_dim, c.num_classes, c.channels, c.image_size,
                                               g_cond=self.config.g_cond)

    def _trunk(self) -> Trunk:
        return self.arch.trunk(self.config.channels, self.config.image_size, latent_dim=self.latent_dim)

    @property
    def has_pretrain(self) -> bool:
        return self.hp.pretrained

    def begin_pretrain(self) -> None:
        """A fresh supervised autoencoder (its own trunk and G) and its Adam."""
        self.autoencoder = SupervisedAutoencoder(self._trunk(), self._generator()).to(self.device)
        self.autoencoder.train()
        self.pretrain_opt = self.adam(self.autoencoder.parameters(),
                                      OptimizerSettings(self.hp.pretrain_lr, self.hp.pretrain_betas))

    def pretrain_modules(self) -> dict[str, nn.Module]:
        return {"autoencoder": self.autoencoder} if self.autoencoder is not None else {}

    def pretrain_step(self, x: torch.Tensor, y: torch.Tensor) -> LossDict:
        """One autoencoder update: MSE(G_ae(LReLU(linear0(trunk(x))), y), x)."""
        assert self.autoencoder is not None and self.pretrain_opt is not None, "begin_pretrain() first"
        with self.forward_context():
            loss = F.mse_loss(self.autoencoder(x, y), x)
        self.optimizer_step(self.pretrain_opt, loss)
        return {"loss/ae": loss.detach()}

    def finish_pretrain(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Copy the autoencoder's decoder and embedding into G and its trunk into D."""
        assert self.autoencoder is not None, "begin_pretrain() first"
        self.G.load_state_dict(self.autoencoder.generator.state_dict())
        self.D.trunk.load_state_dict(self.autoencoder.trunk.state_dict())
        if self.G_ema is not None:
            self.G_ema.load_state_dict(self.G.state_dict())
        self.pretrained_done = True
        self.pretrain_opt = None

    def _wrong_labels(self, real_y: torch.Tensor) -> torch.Tensor:
        classes = self.config.num_classes
        if self.config.quirks == "paper":
            return self.sample_labels(real_y.shape[0])
        offset = self.draw_rows(real_y.shape[0], lambda n: torch.randint(1, classes, (n,), device=self.device))
        # offset: uniform over the other classes
        return (real_y + offset) % classes

    def discriminator_loss(self, real_x: torch.Tensor, real_y: torch.Tensor) -> DiscriminatorLoss:
        """Real / fake / wrong-label BCE terms; the base adds the GP on D(·, real labels)."""
        batch = real_x.shape[0]
        with torch.no_grad():
            fake = self.G(self.sample_z(batch), real_y)
        y_d = self.sample_labels(batch) if self.config.quirks == "paper" else real_y
        y_wrong = self._wrong_labels(real_y)
        real_features = self.D.trunk.flattened(real_x)  # one trunk pass for the real and wrong-label terms
        adv_real, adv_fake = self.D.head(real_features, real_y), self.D(fake, y_d)
        loss_adv = bce_d_loss(adv_real, adv_fake)
        wrong = self.D.head(real_features, y_wrong)
        loss_wrong = F.binary_cross_entropy_with_logits(wrong, torch.zeros_like(wrong))
        return DiscriminatorLoss(loss_adv + loss_wrong, {"loss/d_adv": loss_adv.detach(),
                                                         "loss/d_wrong": loss_wrong.detach()},
                                 real_logits=adv_real, fake_logits=adv_fake, fakes=fake,
                                 critic=lambda x: self.D(x, real_y))

    def generator_loss(self, y: torch.Tensor) -> GeneratorLoss:
        """BCE(D(G(z, y), y), 1)."""
        return GeneratorLoss(bce_g_loss(self.D(self.G(self.sample_z(y.shape[0]), y), y)))

    def extra_state(self) -> dict[str, Any]:
        return {"pretrained_done": self.pretrained_done}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pretrained_done = bool(state.get("pretrained_done", False))
