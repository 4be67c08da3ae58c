"""ACGAN, ProjGAN and IDA-GAN: their losses against loop-form references, one step of each, IDA-GAN's pretraining."""

from __future__ import annotations

import math

import pytest
import torch

from bench.errors import ConfigError
from bench.methods import Method, MethodConfig, get_method, list_methods
from bench.methods.acgan import acgan_d_class_loss, acgan_g_class_loss
from bench.methods.base import losses_to_floats
from bench.methods.idagan import idagan_d_class_loss, idagan_g_class_loss, vae_loss
from bench.methods.projgan import projection_logits

NEW = ("acgan", "projgan", "idagan")
C, SIZE, BATCH = 5, 16, 6


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def make(name: str, quirks: str = "paper", regularizer: str = "none", augment: str = "none", classes: int = C,
         **options) -> Method:
    cfg = MethodConfig(num_classes=classes, image_size=SIZE, channels=3, backbone="tiny", quirks=quirks,
                       regularizer=regularizer, augment=augment, batch_size=BATCH, options=options)
    return get_method(name)(cfg)


def real_batch(n: int = BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rand(n, 3, SIZE, SIZE) * 2 - 1, torch.tensor([0, 1, 3, 0, 1, 3])[:n]  # class 2 and 4 absent


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(module: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def finite(losses: dict) -> bool:
    return bool(losses) and all(math.isfinite(v) for v in losses_to_floats([losses])[0].values())


# -- loop-form references, written from the formulas -------------------------------------------------

def ce_loop(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """mean_i −log(exp(l_i[y_i]) / Σ_c exp(l_i[c])), one sample and one class at a time."""
    total = 0.0
    for i in range(logits.shape[0]):
        denominator = sum(math.exp(float(logits[i, c])) for c in range(logits.shape[1]))
        total += -math.log(math.exp(float(logits[i, labels[i]])) / denominator)
    return total / logits.shape[0]


def test_acgan_class_losses_match_the_loop_form_with_an_absent_class() -> None:
    real, fake = torch.randn(6, C), torch.randn(4, C)
    y_real, y_fake = torch.tensor([0, 1, 3, 0, 1, 3]), torch.tensor([4, 4, 0, 1])  # class 2 never occurs
    expected = ce_loop(real, y_real) + ce_loop(fake, y_fake)
    assert float(acgan_d_class_loss(real, y_real, fake, y_fake)) == pytest.approx(expected, rel=1e-5)
    assert float(acgan_g_class_loss(fake, y_fake)) == pytest.approx(ce_loop(fake, y_fake), rel=1e-5)


def test_idagan_class_losses_match_the_loop_form_and_use_reals_only_in_d() -> None:
    real, fake = torch.randn(6, C), torch.randn(3, C)
    y_real, y_fake = torch.tensor([0, 1, 3, 0, 1, 3]), torch.tensor([4, 2, 2])
    assert float(idagan_d_class_loss(real, y_real)) == pytest.approx(ce_loop(real, y_real), rel=1e-5)
    assert float(idagan_g_class_loss(fake, y_fake)) == pytest.approx(ce_loop(fake, y_fake), rel=1e-5)


def test_projection_logits_match_the_loop_form() -> None:
    psi, phi, embed = torch.randn(4), torch.randn(4, 7), torch.randn(C, 7)
    labels = torch.tensor([0, 3, 3, 1])  # classes 2 and 4 absent
    expected = [float(psi[i]) + sum(float(embed[labels[i], k] * phi[i, k]) for k in range(7)) for i in range(4)]
    torch.testing.assert_close(projection_logits(psi, phi, embed, labels), torch.tensor(expected), rtol=1e-5,
                               atol=1e-5)


def test_projection_class_scores_are_d_of_every_label() -> None:
    m = make("projgan")
    x = real_batch(3)[0]
    scores = m.d_class_scores(x)
    for c in range(C):
        torch.testing.assert_close(scores[:, c], m.D(x, torch.full((3,), c)), rtol=1e-5, atol=1e-5)


def test_vae_loss_matches_the_loop_form() -> None:
    recon, x = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    mu, logvar = torch.randn(3, 5), torch.randn(3, 5)
    rec = sum(float((recon[i] - x[i]).pow(2).sum()) for i in range(3)) / 3
    kl = sum(0.5 * (float(mu[i, d]) ** 2 + math.exp(float(logvar[i, d])) - float(logvar[i, d]) - 1)
             for i in range(3) for d in range(5)) / 3
    total, rec_out, kl_out = vae_loss(recon, x, mu, logvar, beta=0.5)
    assert (float(rec_out), float(kl_out)) == (pytest.approx(rec, rel=1e-5), pytest.approx(kl, rel=1e-5))
    assert float(total) == pytest.approx(rec + 0.5 * kl, rel=1e-5)


def test_the_kl_term_is_zero_at_the_prior() -> None:
    x = torch.randn(2, 1, 4, 4)
    _, _, kl = vae_loss(x, x, torch.zeros(2, 3), torch.zeros(2, 3))
    assert float(kl) == 0.0


# -- one step of each --------------------------------------------------------------------------------

def test_the_three_baselines_are_registered_and_listed() -> None:
    for name in NEW:
        cls = get_method(name)
        assert name in list_methods() and cls.paper_row and cls.__doc__ and name in cls.describe()


@pytest.mark.parametrize(("regularizer", "augment"), [("none", "none"), ("lecam", "diffaug")])
@pytest.mark.parametrize("name", NEW)
def test_one_d_step_and_g_step_change_the_parameters_with_finite_losses(name: str, regularizer: str,
                                                                        augment: str) -> None:
    m = make(name, regularizer=regularizer, augment=augment)
    if m.has_pretrain:
        assert finite(m.pretrain([real_batch(), real_batch()], epochs=1))
    g0, d0 = snapshot(m.G), snapshot(m.D)
    out = m.d_step(*real_batch())
    assert finite(out) and "loss/d" in out and ("loss/d_lecam" in out) == (regularizer == "lecam")
    assert changed(m.D, d0) and not changed(m.G, g0)
    g1, d1 = snapshot(m.G), snapshot(m.D)
    out = m.g_step()
    assert finite(out) and "loss/g" in out
    assert changed(m.G, g1) and not changed(m.D, d1)
    assert all(p.requires_grad for p in m.D.parameters())


def test_acgan_d_loss_is_adv_plus_lambda_class_terms_plus_gp() -> None:
    out = losses_to_floats([make("acgan", cond_lambda=2.0).d_step(*real_batch())])[0]
    assert out["loss/d"] == pytest.approx(out["loss/d_adv"] + 2.0 * out["loss/d_cls"] + 10.0 * out["loss/d_gp"],
                                          rel=1e-5)


def test_projgan_uses_the_hinge_loss_on_every_backbone() -> None:
    assert make("projgan").hp.adv_loss == "hinge"
    m = get_method("projgan")(MethodConfig(num_classes=C, image_size=32, channels=3, backbone="biggan32",
                                           batch_size=4, options={"div": 5}))
    assert (m.hp.adv_loss, m.hp.gp_weight, m.hp.ema_decay) == ("hinge", 0.0, 0.9999)


@pytest.mark.parametrize("name", NEW)
def test_state_dict_round_trip_gives_identical_generate(name: str) -> None:
    m = make(name, regularizer="lecam", augment="diffaug")
    if m.has_pretrain:
        m.pretrain([real_batch()], epochs=1)
    for step in (1, 2):
        m.d_step(*real_batch())
        m.g_step()
        m.update_ema(step)
    torch.manual_seed(123)
    other = make(name, regularizer="lecam", augment="diffaug")
    z, y = torch.randn(4, m.latent_dim), torch.tensor([0, 1, 2, 4])
    other.load_state_dict(m.state_dict())
    assert torch.equal(other.generate(z, y), m.generate(z, y))
    assert torch.equal(other.lecam.anchor_real, m.lecam.anchor_real) and int(other.lecam.updates) == 2


# -- IDA-GAN -----------------------------------------------------------------------------------------

def test_idagan_pretraining_lowers_its_reconstruction_loss() -> None:
    m = make("idagan", pretrain_lr=1e-3)
    data = [real_batch(), real_batch()]
    first = m.pretrain(data, epochs=1)["loss/vae_rec"]
    later = m.pretrain(data, epochs=20)["loss/vae_rec"]
    assert later < 0.8 * first


@pytest.mark.parametrize("latent_codes", ["mean", "sample"])
def test_idagan_latent_sampler_reproduces_the_class_means_of_the_codes(latent_codes: str) -> None:
    m = make("idagan", latent_codes=latent_codes, jitter=1e-3)
    x = torch.rand(30, 3, SIZE, SIZE) * 2 - 1
    y = torch.arange(30) % 3  # classes 3 and 4 absent
    m.pretrain([(x, y)], epochs=2)
    with torch.no_grad():
        mu, _ = m.encode(x)
    eps, labels = torch.randn(20000, m.latent_dim), torch.arange(20000) % C
    z = m.gaussians(eps, labels)
    for c in range(3):
        if latent_codes == "mean":  # the fitted mean is the mean of the posterior means
            torch.testing.assert_close(m.gaussians.mean[c], mu[y == c].mean(0), rtol=1e-4, atol=1e-5)
        spread = z[labels == c].std(0).mean()
        assert (z[labels == c].mean(0) - m.gaussians.mean[c]).abs().max() < 0.1 * spread + 1e-6
    for c in (3, 4):  # no image: N(0, I)
        assert m.gaussians.mean[c].abs().max() == 0 and z[labels == c].std(0).mean() == pytest.approx(1, abs=0.05)


@pytest.mark.parametrize("d_from_encoder", [True, False])
def test_idagan_d_trunk_starts_from_the_encoder_when_asked(d_from_encoder: bool) -> None:
    m = make("idagan", d_from_encoder=d_from_encoder)
    m.pretrain([real_batch()], epochs=1)
    encoder = {k: v for k, v in m.encoder.state_dict().items() if not k.startswith("linear0.")}
    same = all(torch.equal(v, m.D.trunk.state_dict()[k]) for k, v in encoder.items())
    assert same == d_from_encoder


def test_idagan_refuses_a_g_cond_and_a_backbone_without_decoder() -> None:
    with pytest.raises(ConfigError, match="idagan's G takes the class through its latent class Gaussians"):
        get_method("idagan")(MethodConfig(num_classes=C, image_size=SIZE, channels=3, backbone="tiny",
                                          g_cond="concat"))
    with pytest.raises(ConfigError, match="no unconditional decoder|no autoencoder encoder"):
        get_method("idagan")(MethodConfig(num_classes=C, image_size=32, channels=3, backbone="biggan32"))
    with pytest.raises(ConfigError, match="latent_codes"):
        make("idagan", latent_codes="median")
