"""BAGAN (Mariani et al. 2018): an autoencoder-initialised GAN whose class lives in the latent Gaussian."""

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
from bench.methods.class_gaussians import ClassGaussians, class_code_moments
from bench.methods.heads import ClassifierDiscriminator
from bench.methods.hyper import BETAS, COUNT, EMA_DECAY, NON_NEGATIVE, POSITIVE, STEP, option
from bench.methods.losses import bagan_d_loss, bagan_g_loss
from bench.methods.search import LogUniform, SearchSpace


@dataclass
class BAGANHyper:
    """BAGAN's options (upstream §4.3, §6.3)."""

    lr_g: float = option(5e-5, POSITIVE)  # G Adam learning rate
    lr_d: float = option(5e-5, POSITIVE)  # D Adam learning rate
    betas: tuple[float, float] = option((0.5, 0.999), BETAS)  # Adam betas of G and D
    n_dis: int = option(1, COUNT)  # D steps per G step
    latent_dim: int | None = option(None, COUNT)  # code size (None = the backbone's: dcgan64 128, tiny 16)
    ema_decay: float = option(0.0, EMA_DECAY)  # G EMA decay (0 = no EMA, as upstream)
    ema_start: int = option(0, STEP)  # G step from which the EMA averages (before: copies G)
    pretrain_epochs: int = option(150, COUNT)  # autoencoder epochs
    pretrain_lr: float = option(5e-5, POSITIVE)  # autoencoder Adam learning rate
    pretrain_betas: tuple[float, float] = option((0.5, 0.999), BETAS)  # autoencoder Adam betas
    # first ε, relative to the class's mean variance, added (ε·tr Σ/d·I) before Cholesky
    jitter: float = option(1e-6, NON_NEGATIVE)


def upstream_bagan_init(module: nn.Module) -> None:
    """BAGAN's init (upstream §4.3, ``models/base.py``): every ``Conv2d`` weight N(0, 0.02), everything else at
    PyTorch's default.

    The shared decoder gives its Linear ECOGAN's N(0, 0.02) (§4.1), so Linear layers are reset to the default here;
    ``ConvTranspose2d`` is not a ``Conv2d`` and keeps its default, as do all biases and BatchNorms.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.Linear):
            m.reset_parameters()


AUTOENCODER_LR = LogUniform(5e-5, 1e-3, source="the autoencoder's Adam rate: 5e-5 in BAGAN's code (Mariani et al. "
                                               "2018), 2e-4 in EBGAN's and this demo's hand-picked BAGAN; the range "
                                               "of the GAN's own rates (bench.methods.search.SHARED lr_g)")
# What bench tune varies for BAGAN: the shared ranges (bench.methods.search.SHARED) of the optimiser, the update ratio
# and DiffAugment (not LeCam: its D has no real/fake logit; not g_cond: its class lives in the latent Gaussians), and
# the autoencoder's learning rate, which sets the class Gaussians its GAN starts from.
BAGAN_SPACE = SearchSpace(shared=("lr_g", "lr_d", "n_dis", "augment"), own={"pretrain_lr": AUTOENCODER_LR})


@register_method("bagan")
class BAGAN(Method):
    """BAGAN (upstream §4.3, peers §3.1): Table 3 "BAGAN" (always pretrained).

    1. Autoencoder: encoder = trunk → flatten → linear0 (no activation), decoder = G; MSE, Adam 5e-5
       β (0.5, 0.999), 150 epochs (:meth:`pretrain_step`, one batch; the loop runs the epochs).
    2. Class Gaussians: per-class mean μ_c and full covariance Σ_c of the codes of the whole training set (one
       pass of the loader), Cholesky factors of Σ_c + εI with increasing ε where needed. A class with one image
       has Σ_c = 0 (its samples are μ_c plus jitter noise); a class with no image falls back to N(0, I).
    3. GAN: G(ε, y) = decoder(μ_y + L_y ε) with ε ~ N(0, I) (``generate(z, y)`` takes ε = z); D = trunk →
       flatten → Linear(F → C + 1), the last logit "fake", trunk initialised from the encoder.

           L_D = CE(D(x), y) + CE(D(G(ε, ŷ)), C),   L_G = CE(D(G(ε, ŷ')), ŷ'),   ŷ, ŷ' uniform over all C

       1:1 updates, Adam 5e-5 β (0.5, 0.999). The upstream samples ŷ over 10 classes (hard-coded); here all C.

    Init as upstream BAGAN, not ECOGAN (:func:`upstream_bagan_init`): the encoder's and D's convs N(0, 0.02), the
    decoder and the linear layers at PyTorch's default. With quirks "paper" the encoder is never trained, so this
    random init alone sets the class Gaussians and D's initial trunk.
    """

    paper_row: ClassVar[str] = 'Table 3 "BAGAN"'
    default_backbone: ClassVar[str] = "dcgan64"
    Hyper: ClassVar[type] = BAGANHyper
    search_space: ClassVar[SearchSpace] = BAGAN_SPACE
    adversarial_loss: ClassVar[str] = "cross-entropy over C classes + fake"
    display_name: ClassVar[str] = "BAGAN"
    pretrains: ClassVar[bool] = True
    paper_order: ClassVar[int] = 1
    d_has_adversarial_logit: ClassVar[bool] = False  # the "fake" class is one of C + 1 softmax outputs
    class_input: ClassVar[str] = "latent"  # its class Gaussians: g_cond does not apply
    needs: ClassVar[tuple[str, ...]] = ("decoder", "encoder")
    quirks_doc: ClassVar[tuple[str, ...]] = (
        "autoencoder optimiser holds the decoder only (duplicated 'params' key): the encoder, hence the class "
        "Gaussians and D's init, stay at random init (fixed: encoder and decoder trained)",
    )

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        hp = self.hp
        self.latent_dim = hp.latent_dim
        c = config
        self.G = self.arch.decoder(self.latent_dim, c.channels, c.image_size).to(self.device)
        self.encoder: Trunk = self.arch.trunk(c.channels, c.image_size, latent_dim=self.latent_dim).to(self.device)
        self.D = ClassifierDiscriminator(self.arch.trunk(c.channels, c.image_size), c.num_classes).to(self.device)
        for net in (self.G, self.encoder, self.D):
            upstream_bagan_init(net)
        self.gaussians = ClassGaussians(c.num_classes, self.latent_dim).to(self.device)
        self.opt_g = self.adam(self.G.parameters(), OptimizerSettings(hp.lr_g, hp.betas))
        self.opt_d = self.adam(self.D.parameters(), OptimizerSettings(hp.lr_d, hp.betas))
        self.setup_ema()
        self.pretrained_done = False

    @property
    def has_pretrain(self) -> bool:
        return True

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.linear0(self.encoder.flattened(x))

    def begin_pretrain(self) -> None:
        """The autoencoder's Adam over the decoder (= G) and, with quirks "fixed", the encoder (the paper's code
        hands its optimiser the decoder only)."""
        train_encoder = self.config.quirks == "fixed"
        params = [*self.G.parameters(), *(self.encoder.parameters() if train_encoder else ())]
        self.pretrain_opt = self.adam(params, OptimizerSettings(self.hp.pretrain_lr, self.hp.pretrain_betas))
        self.G.train()

    def pretrain_modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder}

    def pretrain_step(self, x: torch.Tensor, y: torch.Tensor) -> LossDict:
        """One autoencoder update: MSE(G(encoder(x)), x)."""
        assert self.pretrain_opt is not None, "begin_pretrain() first"
        with self.forward_context():
            with torch.set_grad_enabled(self.config.quirks == "fixed"):  # paper: the encoder is never optimised
                code = self._encode(x)
            loss = F.mse_loss(self.G(code), x)
        self.optimizer_step(self.pretrain_opt, loss)
        return {"loss/ae": loss.detach()}

    def finish_pretrain(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Fit the class Gaussians on one more pass of ``loader`` and initialise D's trunk from the encoder."""
        with torch.no_grad():
            moments = class_code_moments(((self._encode(x), y) for x, y in loader), self.config.num_classes,
                                         self.latent_dim)
        self.gaussians.fit(*moments, jitter=self.hp.jitter)
        self.D.trunk.load_state_dict({k: v for k, v in self.encoder.state_dict().items()
                                      if not k.startswith("linear0.")})
        if self.G_ema is not None:
            self.G_ema.load_state_dict(self.G.state_dict())
        self.pretrained_done = True
        self.pretrain_opt = None

    def _forward_g(self, generator: nn.Module, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return generator(self.gaussians(z, y))

    def _fakes(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.sample_labels(n)
        return self._forward_g(self.G, self.sample_z(n), y), y

    def discriminator_loss(self, real_x: torch.Tensor, real_y: torch.Tensor) -> DiscriminatorLoss:
        """(C+1)-way CE: reals to their class, fakes of uniform classes to "fake"."""
        with torch.no_grad():
            fake, _ = self._fakes(real_x.shape[0])
        return DiscriminatorLoss(bagan_d_loss(self.D(real_x), real_y, self.D(fake)))

    def generator_loss(self, y: torch.Tensor) -> GeneratorLoss:
        """Fakes of classes ``y`` pushed towards their class."""
        return GeneratorLoss(bagan_g_loss(self.D(self._forward_g(self.G, self.sample_z(y.shape[0]), y)), y))

    def extra_state(self) -> dict[str, Any]:
        return {"gaussians": self.gaussians.state_dict(), "pretrained_done": self.pretrained_done}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "gaussians" in state:
            self.gaussians.load_state_dict(state["gaussians"])
        self.pretrained_done = bool(state.get("pretrained_done", False))
