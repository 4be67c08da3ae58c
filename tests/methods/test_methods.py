"""The five methods through the Method interface: steps, quirks, pretraining, options, state, registry, errors."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import pytest
import torch

from bench.errors import ConfigError
from bench.methods import Method, MethodConfig, get_method, list_methods, register_method
from bench.methods.base import DiscriminatorLoss, GeneratorLoss, OptimizerSettings, losses_to_floats
from bench.methods.heads import ContrastiveDiscriminator
from bench.methods.losses import hinge_d_loss, hinge_g_loss

PAPER = ("bagan", "ebgan", "contragan", "reacgan", "ecogan")
CONTRASTIVE = ("ecogan", "contragan", "reacgan")
C, SIZE, BATCH = 4, 16, 6


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def make(name: str, quirks: str = "paper", backbone: str = "tiny", size: int = SIZE, channels: int = 3,
         classes: int = C, **options) -> Method:
    cfg = MethodConfig(num_classes=classes, image_size=size, channels=channels, backbone=backbone, quirks=quirks,
                       batch_size=BATCH, options=options)
    return get_method(name)(cfg)


def real_batch(size: int = SIZE, channels: int = 3, n: int = BATCH, classes: int = C):
    return torch.rand(n, channels, size, size) * 2 - 1, torch.arange(n) % classes


def loader(size: int = SIZE, channels: int = 3):
    return [real_batch(size, channels) for _ in range(2)]


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(module: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def floats(losses: dict) -> dict[str, float]:
    """A step's losses (floats or detached 0-d tensors) as floats, as the loop reads them."""
    return losses_to_floats([losses])[0]


def finite(losses: dict) -> bool:
    return bool(losses) and all(math.isfinite(v) for v in floats(losses).values())


def check_steps(m: Method, size: int = SIZE) -> None:
    """One d_step changes D only, one g_step changes G only; all losses finite."""
    x, y = real_batch(size, m.config.channels)
    g0, d0 = snapshot(m.G), snapshot(m.D)
    out = m.d_step(x, y)
    assert finite(out) and "loss/d" in out
    assert changed(m.D, d0) and not changed(m.G, g0)
    g1, d1 = snapshot(m.G), snapshot(m.D)
    out = m.g_step()
    assert finite(out) and "loss/g" in out
    assert changed(m.G, g1) and not changed(m.D, d1)
    assert all(p.requires_grad for p in m.D.parameters())  # frozen for the G step only


# -- registry ----------------------------------------------------------------------------------------

def test_the_five_methods_are_registered_in_paper_order_with_docs() -> None:
    assert list_methods()[:5] == list(PAPER)
    for name in PAPER:
        cls = get_method(name)
        assert cls.name == name and cls.paper_row and cls.quirks_doc and cls.__doc__
        assert cls.default_backbone in ("dcgan64", "biggan32")
        assert name in cls.describe()


# -- one step of every method ------------------------------------------------------------------------

@pytest.mark.parametrize("quirks", ["paper", "fixed"])
@pytest.mark.parametrize("name", CONTRASTIVE)
def test_contrastive_steps_on_tiny(name: str, quirks: str) -> None:
    check_steps(make(name, quirks))


@pytest.mark.parametrize("quirks", ["paper", "fixed"])
@pytest.mark.parametrize("pretrained", [True, False])
def test_ebgan_steps(quirks: str, pretrained: bool) -> None:
    m = make("ebgan", quirks, pretrained=pretrained)
    assert m.has_pretrain == pretrained
    out = m.pretrain(loader(), epochs=1)
    assert (("loss/ae" in out) and finite(out)) if pretrained else out == {}
    check_steps(m)


@pytest.mark.parametrize("quirks", ["paper", "fixed"])
def test_bagan_steps_after_one_epoch_of_pretraining(quirks: str) -> None:
    m = make("bagan", quirks, channels=1)
    assert m.has_pretrain
    assert finite(m.pretrain(loader(channels=1), epochs=1))
    check_steps(m)


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_contrastive_steps_on_biggan32_div4(name: str) -> None:
    m = make(name, backbone="biggan32", size=32, div=4)
    assert m.G_ema is not None and m.ema_decay == 0.9999 and m.ema_start == 1000
    check_steps(m, size=32)
    m.update_ema(1)  # before ema_start: a copy of G
    for a, b in zip(m.G_ema.parameters(), m.G.parameters(), strict=True):
        assert torch.equal(a, b)
    images = m.generate(m.sample_z(3), torch.tensor([0, 1, 3]))
    assert images.shape == (3, 3, 32, 32) and images.abs().max() <= 1


def test_dcgan64_steps_at_32() -> None:
    check_steps(make("ecogan", backbone="dcgan64", size=32, channels=1), size=32)


# -- recipes and options -----------------------------------------------------------------------------

def test_contrastive_recipes_resolve_by_backbone() -> None:
    paper = make("ecogan").hp
    assert (paper.lr_g, paper.lr_d, paper.betas, paper.adam_eps) == (2e-4, 2e-4, (0.5, 0.9), 1e-8)
    assert (paper.adv_loss, paper.gp_weight, paper.ema_decay, paper.d_fake_labels) == ("bce", 10.0, 0.0, "real")
    assert paper.n_dis == 5 and paper.latent_dim == 16 and (paper.cond_lambda, paper.temperature) == (1.0, 1.0)
    assert make("ecogan").G_ema is None
    assert make("ecogan", backbone="dcgan64", size=16).latent_dim == 128
    studio = make("contragan", backbone="biggan32", size=32, div=5).hp
    assert (studio.lr_g, studio.betas, studio.adam_eps, studio.adv_loss, studio.gp_weight) == (
        2e-4, (0.5, 0.999), 1e-6, "hinge", 0.0)
    assert (studio.ema_decay, studio.ema_start, studio.d_fake_labels, studio.latent_dim) == (
        0.9999, 1000, "uniform", 80)
    rea = make("reacgan", backbone="biggan32", size=32, div=5).hp
    assert (rea.lr_g, rea.lr_d, rea.cond_lambda, rea.temperature, rea.margin) == (2.828e-4, 2.828e-4, 0.5, 0.5, 0.98)
    assert make("reacgan").hp.lr_g == 2e-4
    m = make("reacgan", backbone="biggan32", size=32, div=5, lr_g=1e-3, betas=[0.0, 0.99], ema_decay=0.0)
    assert m.hp.lr_g == 1e-3 and m.hp.betas == (0.0, 0.99) and m.G_ema is None
    assert m.opt_g.param_groups[0]["lr"] == 1e-3 and m.opt_g.param_groups[0]["betas"] == (0.0, 0.99)
    assert m.opt_d.param_groups[0]["lr"] == 2.828e-4 and m.opt_d.param_groups[0]["eps"] == 1e-6


def test_paper_hyperparameters_of_ebgan_and_bagan() -> None:
    eb = make("ebgan")
    assert (eb.hp.lr_g, eb.hp.betas, eb.n_dis, eb.hp.gp_weight, eb.hp.pretrain_epochs) == (2e-4, (0.5, 0.9), 5, 10, 30)
    ba = make("bagan")
    assert (ba.hp.lr_g, ba.hp.lr_d, ba.hp.betas, ba.n_dis, ba.hp.pretrain_epochs) == (5e-5, 5e-5, (0.5, 0.999), 1, 150)
    assert ba.opt_d.param_groups[0]["lr"] == 5e-5


def test_hinge_option_and_gp_off_on_the_paper_backbone() -> None:
    m = make("ecogan", adv_loss="hinge", gp_weight=0)
    out = floats(m.d_step(*real_batch()))
    assert "loss/d_gp" not in out
    assert out["loss/d"] == pytest.approx(out["loss/d_adv"] + out["loss/d_eco"], rel=1e-5)


def test_d_loss_is_adv_plus_lambda_cond_plus_weighted_gp() -> None:
    m = make("reacgan", gp_weight=3.0)
    out = floats(m.d_step(*real_batch()))
    expected = out["loss/d_adv"] + 0.5 * out["loss/d_d2d"] + 3.0 * out["loss/d_gp"]
    assert out["loss/d"] == pytest.approx(expected, rel=1e-5)


def test_pretrain_epochs_option_and_argument() -> None:
    counting = CountingLoader(loader())
    make("ebgan", pretrain_epochs=3).pretrain(counting)
    assert counting.passes == 3
    counting = CountingLoader(loader())
    make("ebgan", pretrain_epochs=3).pretrain(counting, epochs=1)
    assert counting.passes == 1


class CountingLoader:
    def __init__(self, batches) -> None:
        self.batches, self.passes = batches, 0

    def __iter__(self):
        self.passes += 1
        return iter(self.batches)


# -- quirks and label rules --------------------------------------------------------------------------

def record_labels(module: torch.nn.Module) -> list[torch.Tensor]:
    calls: list[torch.Tensor] = []
    module.register_forward_pre_hook(lambda mod, args: calls.append(args[1].clone()))
    return calls


@pytest.mark.parametrize("quirks", ["paper", "fixed"])
def test_contrastive_d_step_labels(quirks: str) -> None:
    m = make("ecogan", quirks, classes=50)
    g_calls, d_calls = record_labels(m.G), record_labels(m.D)
    x, y = real_batch(n=16, classes=50)
    m.d_step(x, y)
    assert torch.equal(g_calls[0], y)  # fakes generated with the real labels
    assert torch.equal(d_calls[0], y)  # reals scored with their labels
    assert torch.equal(d_calls[1], y) == (quirks == "fixed")  # paper: fakes scored with fresh labels


def test_studiogan_recipe_generates_d_step_fakes_with_uniform_labels() -> None:
    m = make("contragan", "fixed", backbone="biggan32", size=32, div=5, classes=50)
    g_calls, d_calls = record_labels(m.G), record_labels(m.D)
    x, y = real_batch(size=32, n=8, classes=50)
    m.d_step(x, y)
    assert not torch.equal(g_calls[0], y) and torch.equal(d_calls[1], g_calls[0])


@pytest.mark.parametrize("quirks", ["paper", "fixed"])
def test_ebgan_d_step_labels(quirks: str) -> None:
    m = make("ebgan", quirks, classes=50, pretrained=False)
    d_calls: list[torch.Tensor] = []  # every D(x, y) passes its labels through the label embedding, in call order
    m.D.label_embedding.register_forward_pre_hook(lambda mod, args: d_calls.append(args[0].clone()))
    x, y = real_batch(n=16, classes=50)
    m.d_step(x, y)
    real, scored_fake, wrong, gp = d_calls
    assert torch.equal(real, y) and torch.equal(gp, y)
    assert torch.equal(scored_fake, y) == (quirks == "fixed")
    assert not torch.equal(wrong, y)


def test_ebgan_head_on_shared_features_equals_d() -> None:
    """The D step scores reals under two labels from one trunk pass; that must equal two D calls."""
    m = make("ebgan", "fixed", classes=50, pretrained=False)
    x, y = real_batch(n=16, classes=50)
    features = m.D.trunk.flattened(x)
    for labels in (y, (y + 1) % 50):
        torch.testing.assert_close(m.D.head(features, labels), m.D(x, labels), rtol=0, atol=0)


def test_ebgan_wrong_labels_differ_from_real_only_when_fixed() -> None:
    y = torch.arange(4).repeat(5000)
    fixed = make("ebgan", "fixed", pretrained=False)._wrong_labels(y)
    assert not (fixed == y).any()
    counts = torch.bincount(fixed[y == 0], minlength=C)  # uniform over classes 1..3
    assert counts[0] == 0 and (counts[1:].float() / counts[1:].sum() - 1 / 3).abs().max() < 0.03
    paper = make("ebgan", "paper", pretrained=False)._wrong_labels(y)
    assert abs((paper == y).float().mean().item() - 1 / C) < 0.02


@pytest.mark.parametrize("name", PAPER)
def test_g_step_labels_cover_all_classes(name: str) -> None:
    """The G-step label rule samples all C classes (the upstream code hard-codes 10)."""
    m = make(name, classes=37, **({"pretrained": False} if name == "ebgan" else {}))
    seen = []
    if name == "bagan":
        m.gaussians.register_forward_pre_hook(lambda mod, args: seen.append(args[1].clone()))
    else:
        seen = record_labels(m.G)
    for _ in range(8):
        m.g_step()
    labels = torch.cat(seen)
    assert labels.max() >= 10 and labels.min() >= 0 and labels.max() < 37


@pytest.mark.parametrize("name", ["ebgan", "bagan"])
def test_autoencoder_methods_ema_starts_from_the_pretrained_g(name: str) -> None:
    m = make(name, ema_decay=0.5)
    assert make(name).G_ema is None
    m.pretrain(loader(), epochs=1)
    for a, b in zip(m.G_ema.parameters(), m.G.parameters(), strict=True):
        assert torch.equal(a, b)
    before = snapshot(m.G_ema)
    m.d_step(*real_batch())
    m.g_step()
    m.update_ema(1)
    for old, ema, g in zip(before, m.G_ema.parameters(), m.G.parameters(), strict=True):
        torch.testing.assert_close(ema, 0.5 * old + 0.5 * g)


# -- EBGAN pretraining -------------------------------------------------------------------------------

def test_ebgan_pretraining_loads_the_autoencoder_into_g_and_d() -> None:
    m = make("ebgan")
    d_head_before = {k: v.clone() for k, v in m.D.state_dict().items() if not k.startswith("trunk.")}
    m.pretrain(loader(), epochs=1)
    ae = m.autoencoder
    for k, v in ae.generator.decoder.state_dict().items():  # BN running stats included
        assert torch.equal(v, m.G.decoder.state_dict()[k]), k
    assert torch.equal(ae.generator.embedding.weight, m.G.embedding.weight)
    for k, v in ae.trunk.state_dict().items():
        assert torch.equal(v, m.D.trunk.state_dict()[k]), k
    assert any(k.startswith("linear0.") for k in ae.trunk.state_dict())
    for k, v in d_head_before.items():  # D's label path and output stay at init
        assert torch.equal(v, m.D.state_dict()[k]), k
    assert m.extra_state() == {"pretrained_done": True}


def test_ebgan_autoencoder_reconstructs_through_the_label_embedding() -> None:
    m = make("ebgan")
    data = loader()
    first = m.pretrain(data, epochs=1)["loss/ae"]
    later = m.pretrain(data, epochs=20)["loss/ae"]
    assert later < first


# -- state -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "options"), [
    ("ecogan", {"ema_decay": 0.9, "ema_start": 0}), ("contragan", {}), ("reacgan", {}),
    ("ebgan", {}), ("bagan", {}),
])
def test_state_dict_round_trip_gives_identical_generate(name: str, options: dict) -> None:
    m = make(name, **options)
    if m.has_pretrain:
        m.pretrain(loader(), epochs=1)
    for step in (1, 2):
        m.d_step(*real_batch())
        m.g_step()
        m.update_ema(step)
    state = m.state_dict()
    torch.manual_seed(123)
    other = make(name, **options)
    z, y = torch.randn(5, m.latent_dim), torch.tensor([0, 1, 2, 3, 1])
    assert not torch.equal(other.generate(z, y), m.generate(z, y))
    other.load_state_dict(state)
    assert torch.equal(other.generate(z, y), m.generate(z, y))
    # training continues identically from the restored optimizers
    torch.manual_seed(5)
    a = floats(m.d_step(*real_batch()))
    torch.manual_seed(5)
    b = floats(other.d_step(*real_batch()))
    assert a == b


# -- a method defined outside the package ------------------------------------------------------------

@dataclasses.dataclass
class MiniHyper:
    lr: float = 1e-3  # Adam learning rate of G and D


@register_method("test_projection_hinge")
class ProjectionHingeGAN(Method):
    """A test-only method: tiny backbone, label-free hinge GAN with the shared contrastive D head."""

    paper_row: ClassVar[str] = "none (test)"
    default_backbone: ClassVar[str] = "tiny"
    Hyper: ClassVar[type] = MiniHyper

    def __init__(self, config: MethodConfig, device="cpu") -> None:
        super().__init__(config, device)
        self.latent_dim = self.arch.default_latent_dim
        self.G = self.arch.conditional_generator(self.latent_dim, config.num_classes, config.channels,
                                                 config.image_size, g_cond=config.g_cond)
        self.D = ContrastiveDiscriminator(self.arch.trunk(config.channels, config.image_size), config.num_classes,
                                          sn=False)
        settings = OptimizerSettings(lr=self.hp.lr, betas=(0.0, 0.9))
        self.opt_g, self.opt_d = self.adam(self.G.parameters(), settings), self.adam(self.D.parameters(), settings)

    def discriminator_loss(self, real_x, real_y):
        with torch.no_grad():
            fake = self.G(self.sample_z(real_x.shape[0]), real_y)
        real_logits, fake_logits = self.D.logit(real_x), self.D.logit(fake)
        return DiscriminatorLoss(hinge_d_loss(real_logits, fake_logits), real_logits=real_logits,
                                 fake_logits=fake_logits)

    def generator_loss(self, y):
        return GeneratorLoss(hinge_g_loss(self.D.logit(self.G(self.sample_z(y.shape[0]), y))))


def test_a_method_registered_in_a_test_file_trains_through_the_interface() -> None:
    assert "test_projection_hinge" in list_methods()
    cfg = MethodConfig(num_classes=3, image_size=8, channels=1, batch_size=4, options={"lr": 2e-3})
    m = get_method("test_projection_hinge")(cfg)
    assert m.backbone == "tiny" and m.hp.lr == 2e-3
    g0 = snapshot(m.G)
    for _ in range(3):
        for _ in range(m.n_dis):
            assert finite(m.d_step(torch.rand(4, 1, 8, 8) * 2 - 1, torch.tensor([0, 1, 2, 0])))
        assert finite(m.g_step())
    assert changed(m.G, g0)
    assert m.generate(m.sample_z(2), torch.tensor([0, 2])).shape == (2, 1, 8, 8)
    with pytest.raises(ConfigError, match="has no option 'lr_g'"):
        get_method("test_projection_hinge")(dataclasses.replace(cfg, options={"lr_g": 1.0}))


# -- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PAPER)
@pytest.mark.parametrize("bad", [-1, C])
def test_out_of_range_labels_are_a_config_error(name: str, bad: int) -> None:
    m = make(name, **({"pretrained": False} if name == "ebgan" else {}))
    x, y = real_batch()
    y[2] = bad
    with pytest.raises(ConfigError, match=rf"label {bad} is out of range: labels must lie in \[0, {C}\)"):
        m.d_step(x, y)


@pytest.mark.parametrize("name", PAPER)
def test_a_batch_of_one_is_a_config_error(name: str) -> None:
    m = make(name, **({"pretrained": False} if name == "ebgan" else {}))
    x, y = real_batch(n=1)
    with pytest.raises(ConfigError, match="a real batch of 1 image"):
        m.d_step(x, y)


def test_float_labels_and_mismatched_batch_are_config_errors() -> None:
    m = make("ecogan")
    x, y = real_batch()
    with pytest.raises(ConfigError, match="labels must be an integer tensor"):
        m.d_step(x, y.float())
    with pytest.raises(ConfigError, match=r"d_step expects images \(B, C, H, W\) and labels \(B,\)"):
        m.d_step(x, y[:3])


def test_unknown_method_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown method 'ecogna' \(did you mean 'ecogan'\?\)"):
        get_method("ecogna")


@pytest.mark.parametrize("name", PAPER)
def test_unknown_quirks(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown quirks 'papers'"):
        make(name, quirks="papers")


@pytest.mark.parametrize("name", PAPER)
def test_unknown_option_key_is_named(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"method '{name}' has no option 'lr_gen'"):
        make(name, lr_gen=1e-4)


@pytest.mark.parametrize("name", PAPER)
def test_unknown_backbone(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown backbone 'resnet'"):
        make(name, backbone="resnet")


@pytest.mark.parametrize(("name", "options", "message"), [
    ("ecogan", {"n_dis": 0}, "option n_dis = 0 is invalid; expected an integer >= 1"),
    ("ecogan", {"adv_loss": "wgan"}, "option adv_loss = 'wgan' is invalid; expected 'bce' or 'hinge'"),
    ("ecogan", {"betas": [0.5]}, r"option betas = \[0.5\] is invalid"),
    ("ecogan", {"lr_g": -1}, "option lr_g = -1 is invalid; expected a number > 0"),
    ("ecogan", {"ema_decay": 1.0}, "option ema_decay = 1.0 is invalid"),
    ("ecogan", {"div": 2}, "div = 2 applies to backbone 'biggan32' only"),
    ("reacgan", {"margin": 1.5}, "option margin = 1.5 is invalid"),
    ("ebgan", {"pretrained": "yes"}, "option pretrained = 'yes' is invalid; expected true or false"),
    ("bagan", {"pretrain_epochs": 2.5}, "option pretrain_epochs = 2.5 is invalid"),
    # the baselines check their options too, the ones left at None (the backbone's recipe) included
    ("acgan", {"n_dis": 0}, "method 'acgan': option n_dis = 0 is invalid; expected an integer >= 1"),
    ("acgan", {"lr_d": -1}, "method 'acgan': option lr_d = -1 is invalid; expected a number > 0"),
    ("projgan", {"adv_loss": "wgan"}, "method 'projgan': option adv_loss = 'wgan' is invalid"),
    ("projgan", {"d_fake_labels": "random"}, "method 'projgan': option d_fake_labels = 'random' is invalid"),
    ("idagan", {"latent_codes": "median"}, "method 'idagan': option latent_codes = 'median' is invalid"),
    ("idagan", {"pretrain_epochs": 0}, "method 'idagan': option pretrain_epochs = 0 is invalid"),
])
def test_bad_option_values(name: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make(name, **options)


@pytest.mark.parametrize("name", ["ebgan", "bagan"])
def test_autoencoder_methods_refuse_biggan32(name: str) -> None:
    with pytest.raises(ConfigError, match="'biggan32' has no (unconditional decoder|autoencoder encoder)"):
        make(name, backbone="biggan32", size=32)


def test_unsupported_image_size_and_ebgan_with_one_class() -> None:
    with pytest.raises(ConfigError, match="backbone 'biggan32' does not support image_size 64"):
        make("reacgan", backbone="biggan32", size=64)
    with pytest.raises(ConfigError, match="ebgan needs at least 2 classes"):
        make("ebgan", classes=1)
