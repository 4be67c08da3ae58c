"""IDA-GAN (Yang & Zhou, "IDA-GAN: A Novel Imbalanced Data Augmentation GAN", ICPR 2020): BAGAN with a variational
autoencoder and a discriminator whose single (C + 1)-way output is divided into two heads.

The ECOGAN paper's schematic (its Fig. 1 b) and README describe it in one line ("pre-learning through a variational
autoencoder, and dividing the existing one output into two to alleviate the contradiction between G and D");
peers.md §3.3 sketches it from memory, and no public code was read. This file takes the simplest reading of that
description, and makes each choice the description leaves open an option (defaults in brackets):

1. VAE pretraining: encoder = the backbone trunk → flatten → Linear → (μ, log σ²) (log σ² clamped to [−30, 20]),
   z = μ + σ ⊙ ε, decoder = G (the backbone's unconditional decoder), loss per image (:func:`vae_loss`)

       L_VAE = Σ_pixels (G(z) − x)² + β·½ Σ_d (μ_d² + σ_d² − log σ_d² − 1)            [β = 1]

   trained jointly (encoder and decoder) with Adam, as BAGAN's fixed autoencoder [5e-5, β (0.5, 0.999), 150 epochs].
2. Class-conditional latent Gaussians N(μ_c, Σ_c), mean and full covariance of the encoder's codes of class c over
   the training set, as BAGAN fits them (``bench.methods.class_gaussians``); the codes are the posterior
   means μ(x) [``latent_codes = "mean"``] or reparameterised samples z [``"sample"``]. G is the decoder and takes
   z_c = μ_c + L_c ε; a class with no image falls back to N(0, I).
3. D = one trunk with two heads (``bench.methods.heads.AuxClassifierDiscriminator``): a real/fake logit and a C-way
   class head; the trunk initialised from the encoder [``d_from_encoder = true``], as BAGAN does.

       L_D = L_adv(D(x), D(G(z_ĉ))) + λ·CE(cls(x), y)            (the class head learns on real images only)
       L_G = L_adv_G(D(G(z_c))) + λ·CE(cls(G(z_c)), c),           ĉ, c uniform over all C classes

   L_adv the non-saturating BCE [``adv_loss = "bce"``; or hinge], λ = 1, BAGAN's optimiser and 1:1 updates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.errors import check
from bench.methods.backbones import Trunk
from bench.methods.bagan import AUTOENCODER_LR
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
from bench.methods.heads import AuxClassifierDiscriminator
from bench.methods.hyper import BETAS, COUNT, EMA_DECAY, FLAG, NON_NEGATIVE, POSITIVE, STEP, choice, option
from bench.methods.losses import ADVERSARIAL_LOSSES
from bench.methods.search import LogUniform, SearchSpace

LOGVAR_RANGE = (-30.0, 20.0)  # keeps exp(log σ²) finite while the encoder is untrained
LATENT_CODES = ("mean", "sample")


def vae_loss(recon: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta: float = 1.0
             ) -> tuple[Tensor, Tensor, Tensor]:
    r"""The VAE's negative ELBO per image (Kingma & Welling 2014, Gaussian decoder, N(0, I) prior), batch mean:

        rec_i = \sum_{pixels} (\hat{x}_i − x_i)^2,   KL_i = ½ \sum_d (μ_{id}^2 + e^{s_{id}} − s_{id} − 1),   s = log σ²
        L = mean_i rec_i + β · mean_i KL_i

    Args:
        recon: (B, C, H, W) reconstructions; x: (B, C, H, W) the images.
        mu, logvar: (B, d) the encoder's posterior means and log-variances.
        beta: weight of the KL term.

    Returns:
        (L, mean rec, mean KL), scalars.
    """
    check(recon.shape == x.shape, f"vae_loss: recon shape {tuple(recon.shape)} does not match x {tuple(x.shape)}")
    check(mu.shape == logvar.shape and mu.dim() == 2 and mu.shape[0] == x.shape[0],
          f"vae_loss: mu and logvar must be (B, d) for the batch of x, got {tuple(mu.shape)}, {tuple(logvar.shape)}")
    rec = ((recon - x) ** 2).flatten(1).sum(dim=1).mean()
    kl = (0.5 * (mu ** 2 + logvar.exp() - logvar - 1)).sum(dim=1).mean()
    return rec + beta * kl, rec, kl


def idagan_d_class_loss(real_class_logits: Tensor, real_labels: Tensor) -> Tensor:
    """IDA-GAN's class-head term of L_D: mean_i −log softmax(cls(x_i))[y_i], on real images only."""
    check(real_class_logits.dim() == 2, f"idagan_d_class_loss: class logits must be (B, C), got "
                                        f"{tuple(real_class_logits.shape)}")
    return F.cross_entropy(real_class_logits, real_labels)


def idagan_g_class_loss(fake_class_logits: Tensor, fake_labels: Tensor) -> Tensor:
    """IDA-GAN's class-head term of L_G: mean_j −log softmax(cls(G(z_c_j)))[c_j]."""
    check(fake_class_logits.dim() == 2, f"idagan_g_class_loss: class logits must be (B, C), got "
                                        f"{tuple(fake_class_logits.shape)}")
    return F.cross_entropy(fake_class_logits, fake_labels)


@dataclass
class IDAGANHyper:
    """IDA-GAN's options (module docstring); optimiser values as BAGAN's."""

    lr_g: float = option(5e-5, POSITIVE)  # G Adam learning rate
    lr_d: float = option(5e-5, POSITIVE)  # D Adam learning rate
    betas: tuple[float, float] = option((0.5, 0.999), BETAS)  # Adam betas of G and D
    n_dis: int = option(1, COUNT)  # D steps per G step
    adv_loss: str = option("bce", choice("bce", "hinge"))  # bce | hinge, on the real/fake head
    gp_weight: float = option(0.0, NON_NEGATIVE)  # weight of a gradient penalty on the real/fake logit (0 = none)
    cond_lambda: float = option(1.0, NON_NEGATIVE)  # λ, weight of the class-head terms in L_D and L_G
    beta: float = option(1.0, NON_NEGATIVE)  # weight of the VAE's KL term
    latent_codes: str = option("mean", choice("mean", "sample"))  # codes the Gaussians fit: mean (μ(x)) | sample (z)
    d_from_encoder: bool = option(True, FLAG)  # initialise D's trunk from the VAE encoder
    latent_dim: int | None = option(None, COUNT)  # code size (None = the backbone's: dcgan64 128, tiny 16)
    ema_decay: float = option(0.0, EMA_DECAY)  # G EMA decay (0 = no EMA)
    ema_start: int = option(0, STEP)  # G step from which the EMA averages (before: copies G)
    pretrain_epochs: int = option(150, COUNT)  # VAE epochs
    pretrain_lr: float = option(5e-5, POSITIVE)  # VAE Adam learning rate
    pretrain_betas: tuple[float, float] = option((0.5, 0.999), BETAS)  # VAE Adam betas
    # first ε, relative to the class's mean variance, added before Cholesky (as BAGAN)
    jitter: float = option(1e-6, NON_NEGATIVE)


# What bench tune varies for IDA-GAN: the shared ranges (bench.methods.search.SHARED) of the optimiser, the update
# ratio, the class head's weight λ and the training aids (not g_cond: the class lives in the latent Gaussians), the
# VAE's KL weight β and its learning rate, which set the class Gaussians.
IDAGAN_SPACE = SearchSpace(
    shared=("lr_g", "lr_d", "n_dis", "cond_lambda", "regularizer", "augment"),
    own={"beta": LogUniform(0.25, 4.0, source="the KL weight of a β-VAE (Higgins et al. 2017); IDA-GAN's VAE, as "
                                              "read here, takes 1; a factor 4 either way"),
         "pretrain_lr": AUTOENCODER_LR})


@register_method("idagan")
class IDAGAN(Method):
    """IDA-GAN (Yang & Zhou 2020), the ECOGAN paper's Fig. 1 (b): VAE pretraining, class latent Gaussians, D with a
    real/fake head and a class head on one trunk. The reading and its options are in the module docstring."""

    paper_row: ClassVar[str] = "ECOGAN paper Fig. 1 (b) (Yang & Zhou 2020); not in its tables"
    display_name: ClassVar[str] = "IDA-GAN"
    pretrains: ClassVar[bool] = True
    default_backbone: ClassVar[str] = "dcgan64"
    Hyper: ClassVar[type] = IDAGANHyper
    search_space: ClassVar[SearchSpace] = IDAGAN_SPACE
    class_input: ClassVar[str] = "latent"  # its class Gaussians: g_cond does not apply
    needs: ClassVar[tuple[str, ...]] = ("decoder", "encoder")

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)  # the Hyper's rules have checked latent_codes, d_from_encoder and beta
        hp = self.hp
        self.latent_dim = hp.latent_dim or self.arch.default_latent_dim
        c = config
        self.G = self.arch.decoder(self.latent_dim, c.channels, c.image_size).to(self.device)
        # linear0 gives (μ, log σ²) side by side
        self.encoder: Trunk = self.arch.trunk(c.channels, c.image_size, latent_dim=2 * self.latent_dim).to(self.device)
        self.D = AuxClassifierDiscriminator(self.arch.trunk(c.channels, c.image_size), c.num_classes,
                                            sn=self.arch.spectral_norm).to(self.device)
        self.gaussians = ClassGaussians(c.num_classes, self.latent_dim).to(self.device)
        self.opt_g = self.adam(self.G.parameters(), OptimizerSettings(hp.lr_g, hp.betas))
        self.opt_d = self.adam(self.D.parameters(), OptimizerSettings(hp.lr_d, hp.betas))
        self.d_loss_fn, self.g_loss_fn = ADVERSARIAL_LOSSES[hp.adv_loss]
        self.setup_ema()
        self.pretrained_done = False

    @property
    def has_pretrain(self) -> bool:
        return True

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²), each (B, latent_dim), of images x."""
        mu, logvar = self.encoder.linear0(self.encoder.flattened(x)).chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def begin_pretrain(self) -> None:
        """The VAE's Adam over G (its decoder) and the encoder."""
        self.pretrain_opt = self.adam([*self.G.parameters(), *self.encoder.parameters()],
                                      OptimizerSettings(self.hp.pretrain_lr, self.hp.pretrain_betas))
        self.G.train()

    def pretrain_modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder}

    def pretrain_step(self, x: Tensor, y: Tensor) -> LossDict:
        """One VAE update (reparameterised code, ``vae_loss``): ``loss/vae`` and its parts ``loss/vae_rec``,
        ``loss/vae_kl``, per image of the batch."""
        assert self.pretrain_opt is not None, "begin_pretrain() first"
        with self.forward_context():
            mu, logvar = self.encode(x)
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
            loss, rec, kl = vae_loss(self.G(z), x, mu, logvar, self.hp.beta)
        self.optimizer_step(self.pretrain_opt, loss)
        return {"loss/vae": loss.detach(), "loss/vae_rec": rec.detach(), "loss/vae_kl": kl.detach()}

    def finish_pretrain(self, loader: Iterable[tuple[Tensor, Tensor]]) -> None:
        """Fit the class Gaussians on one more pass of ``loader`` and (``d_from_encoder``) initialise D's trunk
        from the encoder."""
        with torch.no_grad():
            moments = class_code_moments(((self._code(x), y) for x, y in loader), self.config.num_classes,
                                         self.latent_dim)
        self.gaussians.fit(*moments, jitter=self.hp.jitter)
        if self.hp.d_from_encoder:
            self.D.trunk.load_state_dict({k: v for k, v in self.encoder.state_dict().items()
                                          if not k.startswith("linear0.")})
        if self.G_ema is not None:
            self.G_ema.load_state_dict(self.G.state_dict())
        self.pretrained_done = True
        self.pretrain_opt = None

    def _code(self, x: Tensor) -> Tensor:
        mu, logvar = self.encode(x)
        return mu if self.hp.latent_codes == "mean" else mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def _forward_g(self, generator: nn.Module, z: Tensor, y: Tensor) -> Tensor:
        return generator(self.gaussians(z, y))

    def _fakes(self, n: int) -> tuple[Tensor, Tensor]:
        y = self.sample_labels(n)
        return self._forward_g(self.G, self.sample_z(n), y), y

    def discriminator_loss(self, real_x: Tensor, real_y: Tensor) -> DiscriminatorLoss:
        """Adversarial loss on reals and fakes of uniform classes and λ·CE of the class head on reals (the base adds
        the GP when weighted)."""
        with torch.no_grad():
            fake, _ = self._fakes(real_x.shape[0])
        adv_real, cls_real = self.D(real_x)
        adv_fake, _ = self.D(fake)
        loss_adv = self.d_loss_fn(adv_real, adv_fake)
        loss_cls = idagan_d_class_loss(cls_real, real_y)
        return DiscriminatorLoss(loss_adv + self.hp.cond_lambda * loss_cls,
                                 {"loss/d_adv": loss_adv.detach(), "loss/d_cls": loss_cls.detach()},
                                 real_logits=adv_real, fake_logits=adv_fake, fakes=fake, critic=self.D.logit)

    def generator_loss(self, y: Tensor) -> GeneratorLoss:
        """Adversarial loss + λ·CE(cls(G(z_y)), y)."""
        adv, cls = self.D(self._forward_g(self.G, self.sample_z(y.shape[0]), y))
        loss_adv = self.g_loss_fn(adv)
        loss_cls = idagan_g_class_loss(cls, y)
        return GeneratorLoss(loss_adv + self.hp.cond_lambda * loss_cls,
                             {"loss/g_adv": loss_adv.detach(), "loss/g_cls": loss_cls.detach()})

    def extra_state(self) -> dict[str, Any]:
        return {"gaussians": self.gaussians.state_dict(), "pretrained_done": self.pretrained_done}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "gaussians" in state:
            self.gaussians.load_state_dict(state["gaussians"])
        self.pretrained_done = bool(state.get("pretrained_done", False))
